/* `leakscope check`: a CI gate. Runs a workload under the agent (launch.c),
 * optionally stopping it with SIGTERM after --duration seconds, analyses the
 * recording like `report` does, and turns the verdict into an exit status:
 * 0 when no LEAK or GROWING site grows faster than --max-growth, 1 when one
 * does (the report, suspects and stacks first, is printed on stdout), 2 when
 * it could not decide (too few snapshots, no recording, a failed workload
 * with nothing found) or could not run. --junit writes the same outcome as
 * a JUnit XML file for CI test reporters. Single-threaded; allocates. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../render/text.h"
#include "../symbolize/symbolize.h"
#include "cli.h"
#include "launch.h"
#include "record/format.h"

/* Short CI workloads last seconds, and a verdict needs LK_VERDICT_MIN_SNAPS
 * snapshots: at 250 ms a 2 s run already has them. The recording's size does
 * not matter for a run this short. */
#define DEFAULT_PERIOD_MS 250
#define DEFAULT_STATUS_S 10
#define JUNIT_FRAMES 8 /* frames per stack in a JUnit failure */

struct check_opts {
    struct lk_launch_opts l;
    double max_growth; /* bytes/s a LEAK or GROWING site may grow; 0 = none */
    const char *max_growth_arg;
    const char *junit; /* --junit FILE, or NULL */
};

enum check_outcome {
    CHECK_PASS = 0,      /* exit 0 */
    CHECK_FAIL = 1,      /* exit 1 */
    CHECK_UNDECIDED = 2, /* exit 2 */
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: leakscope check [options] -- CMD [ARGS...]\n"
            "\n"
            "Runs CMD under the leakscope agent, judges its recording, and exits\n"
            "  0  no allocation site is a LEAK or GROWING faster than --max-growth\n"
            "  1  one is: the report with the suspects and their stacks is on stdout\n"
            "  2  no decision: too few snapshots, no recording, CMD failed or could not run\n"
            "\n"
            "  --max-growth RATE    tolerated growth per site, e.g. 10KiB/s, 1MB/h, 500/min\n"
            "                       (B, KB=1000, KiB=K=1024, MB, MiB, GB, GiB; /s /min /h /d;\n"
            "                       default 0: any LEAK or GROWING site fails)\n"
            "  --duration S         stop CMD with SIGTERM after S seconds (a server), SIGKILL\n"
            "                       %d s later, and judge what was recorded\n"
            "  --period MS          snapshot period (default %d; a verdict needs %d snapshots)\n"
            "  --depth N            stack frames per allocation site (1-%d, default 32)\n"
            "  --sample SIZE        track a Poisson sample, one per SIZE bytes on average\n"
            "                       (e.g. 512K; weighted back up, docs/SAMPLING.md)\n"
            "  --junit FILE         also write the outcome as JUnit XML\n"
            "  -o, --output FILE    keep the recording in FILE (default: a temporary file,\n"
            "                       removed afterwards)\n"
            "  -f, --force          replace FILE if it exists\n"
            "  --status-every S     seconds between status lines on stderr (default "
            "%d)\n" LK_LAUNCH_SCAN_HELP "  -q, --quiet          no status lines\n",
            LK_LAUNCH_GRACE_S, DEFAULT_PERIOD_MS, LK_VERDICT_MIN_SNAPS, LK_MAX_FRAMES,
            DEFAULT_STATUS_S);
}

/* ---- options ---------------------------------------------------------- */

/* "10KiB/s", "1MB/h", "2.5 MiB/min", "4096" (bytes per second) into bytes
 * per second. 0, or -1 when s is not a rate. */
static int
parse_rate(const char *s, double *bps)
{
    static const struct {
        const char *name;
        double mult;
    } size_units[] = {
        {"", 1},       {"B", 1},          {"K", 1024},         {"k", 1024},    {"KiB", 1024},
        {"kiB", 1024}, {"KB", 1e3},       {"kB", 1e3},         {"M", 1048576}, {"MiB", 1048576},
        {"MB", 1e6},   {"G", 1073741824}, {"GiB", 1073741824}, {"GB", 1e9},
    };
    static const struct {
        const char *name;
        double secs;
    } time_units[] = {
        {"s", 1},    {"sec", 1},     {"m", 60},    {"min", 60},
        {"h", 3600}, {"hour", 3600}, {"d", 86400}, {"day", 86400},
    };
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    const char *slash = strchr(end, '/');
    size_t ulen = slash ? (size_t)(slash - end) : strlen(end);
    double mult = -1, secs = 1;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++)
        if (strlen(size_units[i].name) == ulen && !strncmp(end, size_units[i].name, ulen))
            mult = size_units[i].mult;
    if (mult < 0)
        return -1;
    if (slash) {
        secs = -1;
        for (size_t i = 0; i < sizeof time_units / sizeof time_units[0]; i++)
            if (!strcmp(slash + 1, time_units[i].name))
                secs = time_units[i].secs;
        if (secs < 0)
            return -1;
    }
    *bps = v * mult / secs;
    return 0;
}

/* 0, 1 for --help, or 2 after printing why. */
static int
parse_args(int argc, char **argv, struct check_opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->l.period_ms = DEFAULT_PERIOD_MS;
    o->l.status_s = DEFAULT_STATUS_S;
    o->l.quiet = 1; /* no "recording to" line: the recording is usually temporary */
    int quiet = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break; /* the command starts here; "--" is optional */
        int r = lk_launch_parse_opt("check", argc, argv, &i, &o->l);
        if (r == 2)
            return 2;
        if (r == 1)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if ((v = lk_cli_opt_value(argc, argv, &i, NULL, "--junit", &missing))) {
            if (!*v) {
                lk_cli_error("check: --junit needs a file name");
                return 2;
            }
            o->junit = v;
        } else if ((v = lk_cli_opt_value(argc, argv, &i, NULL, "--max-growth", &missing))) {
            if (parse_rate(v, &o->max_growth) < 0) {
                lk_cli_error("check: --max-growth %s: expected a rate such as 10KiB/s, 1MB/h "
                             "or 4096 (bytes per second)",
                             v);
                return 2;
            }
            o->max_growth_arg = v;
        } else if ((v = lk_cli_opt_value(argc, argv, &i, NULL, "--duration", &missing))) {
            if (lk_cli_parse_uint(v, 1, 30 * 86400, &o->l.duration_s) < 0) {
                lk_cli_error("check: --duration %s: expected whole seconds, at least 1", v);
                return 2;
            }
        } else if (missing) {
            lk_cli_error("check: %s needs a value", a);
            return 2;
        } else {
            lk_cli_error("check: unknown option '%s' (try 'leakscope check --help')", a);
            return 2;
        }
    }
    if (i >= argc) {
        lk_cli_error("check: no command given (usage: leakscope check [options] -- CMD "
                     "[ARGS...])");
        return 2;
    }
    if (quiet)
        o->l.status_s = 0;
    o->l.cmd = argv + i;
    return 0;
}

/* ---- JUnit XML -------------------------------------------------------- */

/* Writes s with XML's five special characters escaped and the control
 * characters XML 1.0 forbids dropped. */
static void
xml_put(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            if (c >= 0x20 || c == '\n' || c == '\t')
                fputc(c, f);
        }
    }
}

/* One suspect as the gate sees it. */
struct suspect {
    const struct lk_site_verdict *v;
    int over;          /* grows faster than --max-growth: fails the check */
    char where[512];   /* "func (file:line)" of the first frame shown, or "site N" */
    char detail[4096]; /* evidence and frames, one per line */
};

static void
describe(struct suspect *s, const struct lk_model *m, struct lk_symbolizer *sym)
{
    const struct lk_site_verdict *v = s->v;
    char rate[32], lo[32], hi[32], tail[32], a[32], b[32];
    struct lk_sym_frame fr[JUNIT_FRAMES];
    size_t total = 0, n = lk_symbolize_stack(sym, &m->sites[v->site], 1, fr, JUNIT_FRAMES, &total);
    lk_render_bytes(rate, sizeof rate, fabs(v->rate));
    lk_render_bytes(lo, sizeof lo, fabs(v->rate_lo));
    lk_render_bytes(hi, sizeof hi, fabs(v->rate_hi));
    lk_render_bytes(tail, sizeof tail, fabs(v->tail_rate));
    lk_render_bytes(a, sizeof a, (double)v->live_bytes_start);
    lk_render_bytes(b, sizeof b, (double)v->live_bytes_end);
    if (n && fr[0].function && fr[0].file)
        snprintf(s->where, sizeof s->where, "%s (%s:%u)", fr[0].function, fr[0].file, fr[0].line);
    else if (n && fr[0].function)
        snprintf(s->where, sizeof s->where, "%s", fr[0].function);
    else
        snprintf(s->where, sizeof s->where, "site %llu", (unsigned long long)v->id);

    size_t len = 0, cap = sizeof s->detail;
    int k = snprintf(s->detail, cap,
                     "%s site %llu: %c%s/s (95%% CI %c%s/s .. %c%s/s), last third %c%s/s\n"
                     "live %s -> %s (%llu -> %llu blocks); %llu allocs, %llu frees",
                     lk_verdict_name(v->verdict), (unsigned long long)v->id,
                     v->rate < 0 ? '-' : '+', rate, v->rate_lo < 0 ? '-' : '+', lo,
                     v->rate_hi < 0 ? '-' : '+', hi, v->tail_rate < 0 ? '-' : '+', tail, a, b,
                     (unsigned long long)v->live_count_start, (unsigned long long)v->live_count_end,
                     (unsigned long long)v->allocs, (unsigned long long)v->frees);
    if (k > 0)
        len = (size_t)k < cap ? (size_t)k : cap - 1;
    if (v->survival >= 0 && len < cap) {
        k = snprintf(s->detail + len, cap - len, "; survival %.0f%%", v->survival * 100);
        if (k > 0)
            len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    if (v->why && len < cap) {
        k = snprintf(s->detail + len, cap - len, "\n%s", v->why);
        if (k > 0)
            len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    for (size_t i = 0; i < n && len < cap; i++) {
        const struct lk_sym_frame *f = &fr[i];
        const char *mod = f->module ? strrchr(f->module, '/') : NULL;
        mod = mod ? mod + 1 : f->module;
        if (f->function && f->file)
            k = snprintf(s->detail + len, cap - len, "\n    %s  %s:%u  [%s]%s", f->function,
                         f->file, f->line, mod ? mod : "?", f->inlined ? " (inlined)" : "");
        else if (f->function)
            k = snprintf(s->detail + len, cap - len, "\n    %s  [%s]", f->function,
                         mod ? mod : "?");
        else
            k = snprintf(s->detail + len, cap - len, "\n    %s+0x%llx", mod ? mod : "?",
                         (unsigned long long)f->offset);
        if (k > 0)
            len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    if (total > n && len < cap)
        snprintf(s->detail + len, cap - len, "\n    ... %zu more frames", total - n);
}

/* The command line, space-separated, for names and properties. */
static void
command_line(char *buf, size_t cap, char **cmd)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; cmd[i] && len + 1 < cap; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", cmd[i]);
        if (k < 0)
            break;
        len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
}

/* Writes the JUnit file: one testsuite; one testcase per suspect (failing
 * when over the threshold), one passing testcase when there is none, or one
 * testcase with an <error> when no decision was reached (undecided != NULL).
 * 0, or 2 after saying why. */
static int
write_junit(const struct check_opts *o, const char *cmdline, double secs, const struct suspect *sus,
            size_t nsus, const char *summary, const char *undecided)
{
    FILE *f = fopen(o->junit, "w");
    if (!f) {
        lk_cli_error("%s: cannot write the JUnit file: %s", o->junit, lk_cli_why(errno));
        return 2;
    }
    size_t failures = 0;
    for (size_t i = 0; i < nsus; i++)
        failures += (size_t)sus[i].over;
    size_t tests = nsus ? nsus : 1;
    char stamp[32], host[256];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime_r(&now, &tm));
    if (gethostname(host, sizeof host) < 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    const char *base = strrchr(o->l.cmd[0], '/');
    base = base ? base + 1 : o->l.cmd[0];

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"leakscope check\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"%d\" time=\"%.3f\">\n",
            tests, failures, undecided ? 1 : 0, secs);
    fprintf(f, "  <testsuite name=\"leakscope check: ");
    xml_put(f, cmdline);
    fprintf(f,
            "\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\" skipped=\"0\" time=\"%.3f\" "
            "timestamp=\"%s\" hostname=\"",
            tests, failures, undecided ? 1 : 0, secs, stamp);
    xml_put(f, host);
    fprintf(f, "\">\n    <properties>\n      <property name=\"command\" value=\"");
    xml_put(f, cmdline);
    fprintf(f, "\"/>\n      <property name=\"max-growth\" value=\"");
    xml_put(f, o->max_growth_arg ? o->max_growth_arg : "0");
    fprintf(f, "\"/>\n      <property name=\"verdict\" value=\"");
    xml_put(f, summary);
    fprintf(f, "\"/>\n    </properties>\n");

    if (undecided) {
        fprintf(f, "    <testcase classname=\"leakscope.check.");
        xml_put(f, base);
        fprintf(f,
                "\" name=\"leak check\" time=\"%.3f\">\n      <error type=\"UNDECIDED\" "
                "message=\"",
                secs);
        xml_put(f, undecided);
        fprintf(f, "\">");
        xml_put(f, undecided);
        fprintf(f, "</error>\n    </testcase>\n");
    } else if (!nsus) {
        fprintf(f, "    <testcase classname=\"leakscope.check.");
        xml_put(f, base);
        fprintf(f,
                "\" name=\"no leaking or unboundedly growing allocation site\" "
                "time=\"%.3f\">\n      <system-out>",
                secs);
        xml_put(f, summary);
        fprintf(f, "</system-out>\n    </testcase>\n");
    }
    for (size_t i = 0; i < nsus; i++) {
        const struct suspect *s = &sus[i];
        char rate[32], msg[768];
        lk_render_bytes(rate, sizeof rate, fabs(s->v->rate));
        snprintf(msg, sizeof msg, "%s %c%s/s at %s", lk_verdict_name(s->v->verdict),
                 s->v->rate < 0 ? '-' : '+', rate, s->where);
        fprintf(f, "    <testcase classname=\"leakscope.check.");
        xml_put(f, base);
        fprintf(f, "\" name=\"allocations at ");
        xml_put(f, s->where);
        fprintf(f, "\" time=\"%.3f\">\n", secs);
        if (s->over) {
            fprintf(f, "      <failure type=\"%s\" message=\"", lk_verdict_name(s->v->verdict));
            xml_put(f, msg);
            fprintf(f, "\">");
            xml_put(f, s->detail);
            fprintf(f, "</failure>\n");
        } else {
            fprintf(f, "      <system-out>below --max-growth: ");
            xml_put(f, s->detail);
            fprintf(f, "</system-out>\n");
        }
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (fclose(f) != 0) {
        lk_cli_error("%s: cannot write the JUnit file: %s", o->junit, lk_cli_why(errno));
        return 2;
    }
    return 0;
}

/* ---- the check -------------------------------------------------------- */

/* Judges the recording at path. Prints the report and the outcome on stdout,
 * writes the JUnit file, and returns the exit status. */
static int
judge(const struct check_opts *o, const struct lk_launch_result *res, const char *path, double secs)
{
    struct lk_model m;
    struct lk_analysis a;
    struct lk_symbolizer *sym = NULL;
    struct suspect *sus = NULL;
    size_t nsus = 0, nover = 0;
    char undecided[512] = "", summary[512] = "", cmdline[1024];
    int status = CHECK_UNDECIDED;
    memset(&a, 0, sizeof a);
    command_line(cmdline, sizeof cmdline, o->l.cmd);

    if (lk_model_load(&m, path) < 0) {
        snprintf(undecided, sizeof undecided, "%s", m.errmsg);
        goto decide;
    }
    if (m.nsnaps == 0) {
        snprintf(undecided, sizeof undecided,
                 "%.300s: the recording holds no snapshot (the workload ended before the "
                 "agent's first period)",
                 path);
        goto decide;
    }
    if (lk_verdict_analyze(&m, &a) < 0) {
        snprintf(undecided, sizeof undecided, "%.300s: out of memory while analysing", path);
        goto decide;
    }
    sym = lk_symbolize_open(&m);
    if (!sym) {
        snprintf(undecided, sizeof undecided, "%.300s: out of memory while symbolizing", path);
        goto decide;
    }
    lk_render_summary(summary, sizeof summary, &m, &a);
    fflush(stderr);
    struct lk_render_opts ro = {0, 0, 0, o->l.content != NULL};
    if (lk_render_text(stdout, &m, &a, sym, &ro) < 0) {
        snprintf(undecided, sizeof undecided, "cannot write the report: %s", lk_cli_why(EIO));
        goto decide;
    }
    if (a.verdict == LK_VERDICT_UNKNOWN) {
        snprintf(undecided, sizeof undecided,
                 "not enough data: %zu snapshots over %.1f s, a verdict needs %d; run the "
                 "workload longer (--duration) or snapshot more often (--period)",
                 m.nsnaps, a.proc.duration_s, LK_VERDICT_MIN_SNAPS);
        goto decide;
    }
    sus = calloc(a.nsites ? a.nsites : 1, sizeof *sus);
    if (!sus) {
        snprintf(undecided, sizeof undecided, "out of memory");
        goto decide;
    }
    for (size_t i = 0; i < a.nsites; i++) {
        const struct lk_site_verdict *v = &a.sites[i];
        if (v->verdict != LK_VERDICT_LEAK && v->verdict != LK_VERDICT_GROWING)
            continue;
        struct suspect *s = &sus[nsus++];
        s->v = v;
        /* Blocks nothing points to are a leak at any rate (docs/VERDICTS.md). */
        s->over = v->rate > o->max_growth || (v->reach.lost && v->reach.decisive);
        nover += (size_t)s->over;
        describe(s, &m, sym);
    }
    if (nover) {
        status = CHECK_FAIL;
    } else if (!res->stopped && res->code != 0) {
        snprintf(undecided, sizeof undecided,
                 "%s exited with status %d, so its run proves nothing about leaks", o->l.cmd[0],
                 res->code);
    } else {
        status = CHECK_PASS;
    }

decide:
    printf("\n");
    if (status == CHECK_FAIL) {
        char lim[32];
        lk_render_bytes(lim, sizeof lim, o->max_growth);
        printf("leakscope check: FAIL: %zu allocation site%s grow%s faster than %s/s:\n", nover,
               nover == 1 ? "" : "s", nover == 1 ? "s" : "", o->max_growth > 0 ? lim : "0 B");
        for (size_t i = 0; i < nsus; i++) {
            char rate[32];
            if (!sus[i].over)
                continue;
            lk_render_bytes(rate, sizeof rate, fabs(sus[i].v->rate));
            if (sus[i].v->reach.lost && sus[i].v->reach.decisive) {
                lk_render_bytes(rate, sizeof rate, (double)sus[i].v->reach.lost_bytes);
                printf("  %-7s lost %llu blocks (%s) nothing points to  %s\n",
                       lk_verdict_name(sus[i].v->verdict),
                       (unsigned long long)sus[i].v->reach.lost_count, rate, sus[i].where);
                continue;
            }
            printf("  %-7s %c%s/s  %s\n", lk_verdict_name(sus[i].v->verdict),
                   sus[i].v->rate < 0 ? '-' : '+', rate, sus[i].where);
        }
    } else if (status == CHECK_PASS) {
        printf("leakscope check: PASS: no allocation site leaks or grows without bound%s%s\n",
               nsus ? " faster than " : "", nsus ? o->max_growth_arg : "");
    } else {
        printf("leakscope check: UNDECIDED: %s\n", undecided);
    }
    fflush(stdout);
    if (o->junit && write_junit(o, cmdline, secs, sus, nsus, summary[0] ? summary : undecided,
                                status == CHECK_UNDECIDED ? undecided : NULL))
        status = CHECK_UNDECIDED;
    free(sus);
    lk_symbolize_close(sym);
    lk_verdict_free(&a);
    lk_model_free(&m);
    return status;
}

int
lk_cmd_check(int argc, char **argv)
{
    struct check_opts o;
    struct lk_launch_result res;
    char tmpdir[PATH_MAX] = "", tmpfile[PATH_MAX];
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;

    /* Without -o the recording goes to a private temporary directory. */
    if (!o.l.out) {
        const char *t = getenv("TMPDIR");
        const char *base = strrchr(o.l.cmd[0], '/');
        base = base ? base + 1 : o.l.cmd[0];
        if (!t || !*t)
            t = "/tmp";
        snprintf(tmpdir, sizeof tmpdir, "%s/leakscope-check.XXXXXX", t);
        if (!mkdtemp(tmpdir)) {
            lk_cli_error("%s: cannot create a temporary directory for the recording: %s", tmpdir,
                         lk_cli_why(errno));
            return 2;
        }
        int n = snprintf(tmpfile, sizeof tmpfile, "%s/%.64s.lsr", tmpdir, base);
        if (n < 0 || (size_t)n >= sizeof tmpfile) {
            lk_cli_error("%s: the temporary directory's name is too long (set TMPDIR)", tmpdir);
            rmdir(tmpdir);
            return 2;
        }
        o.l.out = tmpfile;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = lk_launch(&o.l, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc) {
        rc = 2;
        goto fail;
    }
    if (res.stopped)
        lk_cli_error("stopped %s with SIGTERM after %u s as asked; judging what was recorded",
                     o.l.cmd[0], o.l.duration_s);
    else if (WIFSIGNALED(res.status))
        lk_cli_error("%s was killed by signal %d (%s)", o.l.cmd[0], WTERMSIG(res.status),
                     strsignal(WTERMSIG(res.status)));
    else if (res.code != 0)
        lk_cli_error("%s exited with status %d", o.l.cmd[0], res.code);

    struct stat st;
    if (lstat(res.out_abs, &st) < 0) {
        lk_cli_error("the agent never created %s, so there is nothing to judge: %s may be "
                     "statically linked, have exec'd another program, have failed to start, "
                     "or have ended before the agent started",
                     res.out, o.l.cmd[0]);
        goto fail;
    }
    rc = judge(&o, &res, res.out, secs);
    if (!tmpdir[0])
        lk_cli_error("recording kept in %s", res.out);
    goto out;
fail:
    rc = 2;
    if (o.junit) {
        char cmdline[1024], msg[1200];
        command_line(cmdline, sizeof cmdline, o.l.cmd);
        snprintf(msg, sizeof msg, "could not run or record '%s' (the job log says why)", cmdline);
        write_junit(&o, cmdline, secs, NULL, 0, msg, msg);
    }
out:
    if (tmpdir[0]) {
        unlink(tmpfile);
        rmdir(tmpdir);
    }
    return rc;
}
