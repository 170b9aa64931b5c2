/* The agent's settings, from LEAKSCOPE_* environment variables (documented
 * in README.md, "Agent settings"). */
#ifndef LK_OPTIONS_H
#define LK_OPTIONS_H

#include <stdint.h>

#define LK_PATH_MAX 4096

enum lk_fork_mode { LK_FORK_STOP = 0, LK_FORK_FOLLOW = 1 };

struct lk_options {
    char out[LK_PATH_MAX]; /* LEAKSCOPE_OUT, "%p" expanded to the pid; "" = default name */
    uint32_t period_ms;    /* LEAKSCOPE_PERIOD_MS (or LEAKSCOPE_PERIOD in s), default 1000 */
    uint32_t depth;        /* LEAKSCOPE_DEPTH, frames per stack, default 32, max 256 */
    int quiet;             /* LEAKSCOPE_QUIET=1: no opening line, errors only */
    int silent;            /* LEAKSCOPE_QUIET=2: nothing at all on stderr */
    int fork_mode;         /* LEAKSCOPE_FORK=stop|follow, default stop */
    int follow_exec;       /* LEAKSCOPE_FOLLOW_EXEC=1: exec'd children record too */
    int catch_signals;     /* LEAKSCOPE_SIGNALS=0 disables the final snapshot on SIGTERM/SIGINT/SIGHUP */
    int disabled;          /* LEAKSCOPE_DISABLE=1 */
    int track_mmap;        /* LEAKSCOPE_MMAP=0 disables tracking anonymous mmap */
    int check_unwind;      /* LEAKSCOPE_CHECK_UNWIND=1: every walk compared with libunwind's */
    uint64_t sample_bytes; /* LEAKSCOPE_SAMPLE: mean sampling interval in bytes (K, M, G
                              suffixes), 0 = track every allocation */
    uint64_t thin_window_ms; /* LEAKSCOPE_THIN=WINDOW[,EVERY]: snapshots younger than WINDOW
                                stay, older ones are thinned (snapshot.c); 0 = never thin
                                (LEAKSCOPE_THIN=off); default 5 minutes */
    uint64_t thin_every;     /* EVERY: bytes the file grows by between two thinnings, at
                                least; default 64 KiB */
    uint32_t scan_every;   /* LEAKSCOPE_SCAN_EVERY: a reachability scan every N periods, 0 = off */
    int scan_at_exit;      /* LEAKSCOPE_SCAN_AT_EXIT=1|0: a scan before the final snapshot;
                              default on in full tracking, off when sampling */
    int scan_signal;       /* LEAKSCOPE_SCAN_SIGNAL=USR2|SIGUSR2|N: a scan on that signal, 0 = none */
    int scan_interior;     /* LEAKSCOPE_SCAN_INTERIOR=0: only pointers to a block's start keep it */
    uint32_t scan_content; /* LEAKSCOPE_SCAN_CONTENT=N: first N bytes (max 256) of a few blocks
                              per site, redacted; 0 = none (default) */
};

/* Reads the environment (getenv only: no allocation). Unknown or malformed
 * values fall back to defaults and are reported in *bad (a variable name). */
void lk_options_load(struct lk_options *o, const char **bad);

#endif
