/* Starting a command under the agent, shared by `run` and `check`: refuse
 * what would leave the recording silently empty, preload the agent, forward
 * signals, print the live status line, optionally stop the command after a
 * given time, and wait for it. What to do with the recording afterwards is
 * the caller's business. Also the small option-parsing helpers the two
 * verbs share. */
#ifndef LK_LAUNCH_H
#define LK_LAUNCH_H

#include <limits.h>

struct lk_launch_opts {
    const char *out;        /* recording path; NULL = leakscope.<cmd>.<our pid>.lsr */
    int force;              /* replace an existing file at out */
    unsigned period_ms;     /* LEAKSCOPE_PERIOD_MS */
    unsigned depth;         /* LEAKSCOPE_DEPTH, 0 = the agent's default */
    const char *sample;     /* LEAKSCOPE_SAMPLE, checked by lk_cli_check_size; NULL = inherit */
    unsigned status_s;      /* seconds between status lines, 0 = none */
    int quiet;              /* no "recording to" line */
    unsigned duration_s;    /* > 0: SIGTERM the command after this many seconds, then
                               SIGKILL LK_LAUNCH_GRACE_S later if it is still there */
    char **cmd;             /* argv of the command, NULL-terminated */
    const char *scan_every; /* LEAKSCOPE_SCAN_EVERY (periods between scans, 0 = off); NULL =
                               inherit */
    const char *content;    /* LEAKSCOPE_SCAN_CONTENT (bytes per sample, 1-256); NULL = inherit */
    int no_exit_scan;       /* LEAKSCOPE_SCAN_AT_EXIT=0 */
};

#define LK_LAUNCH_GRACE_S 10

struct lk_launch_result {
    char out[PATH_MAX];     /* the recording, as named to the user */
    char out_abs[PATH_MAX]; /* the recording, absolute, as given to the agent */
    int status;             /* the command's wait status */
    int code;               /* its exit status, 128+N when killed by signal N */
    int stopped;            /* 1: we sent SIGTERM because duration_s passed */
    int killed;             /* 1: it outlived the grace period and got SIGKILL */
};

/* Checks the command and the output path, runs the command with the agent
 * preloaded and waits for it. 0 with *res filled when it ran (whatever its
 * status; the recording may still be missing when the program never loaded
 * the agent); 2 after one sentence on stderr when it was refused or could
 * not be started. Blocks the forwarded signals while the command runs and
 * restores them before returning. */
int lk_launch(const struct lk_launch_opts *o, struct lk_launch_result *res);

/* Value of an option given as "--name VALUE" or "--name=VALUE" (or "-oVALUE"
 * for a one-letter shrt); NULL when argv[*i] is not this option, with
 * *missing set when it is but its value is absent. Advances *i past a
 * separate value. */
const char *lk_cli_opt_value(int argc, char **argv, int *i, const char *shrt, const char *lng,
                             int *missing);

/* A decimal unsigned in [min, max] into *out; 0, or -1 when s is not one. */
int lk_cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *out);
/* The options run and check share: -f/--force, -o/--output, --period,
 * --sample, --depth, --status-every, and the reachability scan's
 * --scan-every N, --content[=BYTES], --no-exit-scan, at argv[*i] (advanced past a separate
 * value). 1 when it took one, 0 when argv[*i] is none of them, 2 after
 * printing "VERB: what was wrong". */
int lk_launch_parse_opt(const char *verb, int argc, char **argv, int *i, struct lk_launch_opts *o);

#define LK_LAUNCH_CONTENT_DEFAULT "64" /* bytes per sample for a bare --content */

/* Help lines for the scan options, shared by run's and check's usage. */
#define LK_LAUNCH_SCAN_HELP                                                                  \
    "  --scan-every N       reachability scan every N periods (0 = off, the default)\n"      \
    "  --no-exit-scan       no reachability scan at exit (on by default in full tracking)\n" \
    "  --content[=BYTES]    scans keep the first BYTES (default " LK_LAUNCH_CONTENT_DEFAULT  \
    ", max 256) of a few\n"                                                                  \
    "                       blocks per site, redacted, and the report shows them: the\n"     \
    "                       recording then holds the program's data\n"

/* A size as the agent reads LEAKSCOPE_SAMPLE: digits with an optional K, M
 * or G (and "iB" or "B"). 0 when well-formed. */
int lk_cli_check_size(const char *s);

/* strerror(err) with a lower-case first letter, to end a sentence with.
 * Returns a static buffer. */
const char *lk_cli_why(int err);

#endif
