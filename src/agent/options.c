/* Parses the agent's environment variables by hand (no strtol locale, no
 * malloc), at start-up before any thread of ours exists. */
#include "options.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/fmt.h"
#include "sys.h"

static int
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static void
expand_out(char *dst, size_t cap, const char *src)
{
    struct lk_fmt f;
    lk_fmt_init(&f, dst, cap);
    for (; *src; src++) {
        if (src[0] == '%' && src[1] == 'p') {
            lk_fmt_u64(&f, (uint64_t)lk_sys_getpid());
            src++;
        } else {
            lk_fmt_mem(&f, src, 1);
        }
    }
}

/* "524288", "512K", "512KiB", "1M", "1G" -> bytes. */
static int
parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;
    if (!*p)
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > (1ull << 40))
            return -1;
    }
    if (p == s)
        return -1;
    if (*p == 'k' || *p == 'K')
        mul = 1ull << 10;
    else if (*p == 'm' || *p == 'M')
        mul = 1ull << 20;
    else if (*p == 'g' || *p == 'G')
        mul = 1ull << 30;
    if (mul != 1)
        p++;
    if (*p == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B')
        p++;
    if (*p)
        return -1;
    *out = v * mul;
    return 0;
}

/* LEAKSCOPE_THIN: "off" or "0", or WINDOW[,EVERY] with WINDOW a duration
 * ("300", "300s", "5m", "1h"; seconds without a suffix) and EVERY a size as
 * parse_size() reads it. */
static int
parse_thin(const char *s, uint64_t *window_ms, uint64_t *every)
{
    uint64_t v = 0, mul = 1000, ev = *every;
    const char *p = s;
    if (!strcmp(s, "off") || !strcmp(s, "0")) {
        *window_ms = 0;
        return 0;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > 1000000000ull)
            return -1;
    }
    if (p == s || v == 0)
        return -1;
    if (*p == 'm')
        mul = 60000;
    else if (*p == 'h')
        mul = 3600000;
    if (*p == 's' || *p == 'm' || *p == 'h')
        p++;
    if (*p == ',') {
        char size[32];
        size_t n = strlen(p + 1);
        if (n == 0 || n >= sizeof size)
            return -1;
        memcpy(size, p + 1, n + 1);
        if (parse_size(size, &ev) < 0 || ev < 4096)
            return -1;
    } else if (*p) {
        return -1;
    }
    *window_ms = v * mul;
    *every = ev;
    return 0;
}

/* "USR2", "SIGUSR2" or a number -> a signal the agent may take for scans:
 * not one it owns already, nor one whose default is to stop, nor KILL/STOP
 * or the synchronous faults. */
static int
parse_signal(const char *s, uint64_t *out)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PWR", SIGPWR}, {"WINCH", SIGWINCH},
                 {"URG", SIGURG},   {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}};
    uint64_t v = 0;
    if (!strncmp(s, "SIG", 3))
        s += 3;
    if (parse_uint(s, 64, &v) < 0) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(s, names[i].name))
                v = (uint64_t)names[i].sig;
    }
    if (v == 0 || v >= NSIG || v == SIGKILL || v == SIGSTOP || v == SIGSEGV || v == SIGBUS ||
        v == SIGILL || v == SIGFPE || v == SIGTERM || v == SIGINT || v == SIGHUP ||
        v == SIGCHLD || v == SIGTSTP || v == SIGTTIN || v == SIGTTOU || v == SIGCONT)
        return -1;
    *out = v;
    return 0;
}

void
lk_options_load(struct lk_options *o, const char **bad)
{
    const char *e;
    uint64_t v;
    memset(o, 0, sizeof *o);
    o->period_ms = 1000;
    o->depth = 32;
    o->catch_signals = 1;
    o->track_mmap = 1;
    o->thin_window_ms = 5 * 60 * 1000;
    o->thin_every = 64 << 10;
    *bad = NULL;

    if ((e = getenv("LEAKSCOPE_OUT")) && *e)
        expand_out(o->out, sizeof o->out, e);
    if ((e = getenv("LEAKSCOPE_PERIOD_MS"))) {
        if (parse_uint(e, 86400000, &v) == 0 && v >= 10)
            o->period_ms = (uint32_t)v;
        else
            *bad = "LEAKSCOPE_PERIOD_MS";
    } else if ((e = getenv("LEAKSCOPE_PERIOD"))) {
        if (parse_uint(e, 86400, &v) == 0 && v >= 1)
            o->period_ms = (uint32_t)(v * 1000);
        else
            *bad = "LEAKSCOPE_PERIOD";
    }
    if ((e = getenv("LEAKSCOPE_DEPTH"))) {
        if (parse_uint(e, 256, &v) == 0 && v >= 1)
            o->depth = (uint32_t)v;
        else
            *bad = "LEAKSCOPE_DEPTH";
    }
    if ((e = getenv("LEAKSCOPE_QUIET")) && *e && strcmp(e, "0") != 0) {
        o->quiet = 1;
        o->silent = strcmp(e, "2") == 0;
    }
    if ((e = getenv("LEAKSCOPE_FORK"))) {
        if (!strcmp(e, "follow"))
            o->fork_mode = LK_FORK_FOLLOW;
        else if (strcmp(e, "stop") != 0)
            *bad = "LEAKSCOPE_FORK";
    }
    if ((e = getenv("LEAKSCOPE_FOLLOW_EXEC")) && !strcmp(e, "1"))
        o->follow_exec = 1;
    if ((e = getenv("LEAKSCOPE_SIGNALS")) && !strcmp(e, "0"))
        o->catch_signals = 0;
    if ((e = getenv("LEAKSCOPE_MMAP")) && !strcmp(e, "0"))
        o->track_mmap = 0;
    if ((e = getenv("LEAKSCOPE_CHECK_UNWIND")) && !strcmp(e, "1"))
        o->check_unwind = 1;
    if ((e = getenv("LEAKSCOPE_SAMPLE"))) {
        if (parse_size(e, &v) == 0)
            o->sample_bytes = v;
        else
            *bad = "LEAKSCOPE_SAMPLE";
    }
    if ((e = getenv("LEAKSCOPE_THIN")) && parse_thin(e, &o->thin_window_ms, &o->thin_every) < 0)
        *bad = "LEAKSCOPE_THIN";
    o->scan_at_exit = o->sample_bytes == 0;
    o->scan_interior = 1;
    if ((e = getenv("LEAKSCOPE_SCAN_EVERY"))) {
        if (parse_uint(e, 1u << 30, &v) == 0)
            o->scan_every = (uint32_t)v;
        else
            *bad = "LEAKSCOPE_SCAN_EVERY";
    }
    if ((e = getenv("LEAKSCOPE_SCAN_AT_EXIT"))) {
        if (!strcmp(e, "0") || !strcmp(e, "1"))
            o->scan_at_exit = *e == '1';
        else
            *bad = "LEAKSCOPE_SCAN_AT_EXIT";
    }
    if ((e = getenv("LEAKSCOPE_SCAN_SIGNAL")) && *e) {
        if (parse_signal(e, &v) == 0)
            o->scan_signal = (int)v;
        else
            *bad = "LEAKSCOPE_SCAN_SIGNAL";
    }
    if ((e = getenv("LEAKSCOPE_SCAN_INTERIOR"))) {
        if (!strcmp(e, "0") || !strcmp(e, "1"))
            o->scan_interior = *e == '1';
        else
            *bad = "LEAKSCOPE_SCAN_INTERIOR";
    }
    if ((e = getenv("LEAKSCOPE_SCAN_CONTENT"))) {
        if (parse_uint(e, 256, &v) == 0)
            o->scan_content = (uint32_t)v;
        else
            *bad = "LEAKSCOPE_SCAN_CONTENT";
    }
    if ((e = getenv("LEAKSCOPE_DISABLE")) && !strcmp(e, "1"))
        o->disabled = 1;
}
