/* `leakscope run`: starts a command with the agent preloaded (launch.c
 * does the checks, the signal forwarding and the status line), and reports
 * on its recording when it ends. A command it refuses gets one sentence and
 * exit 2; otherwise we exit with the command's status. Everything of ours
 * goes to stderr: the child's stdout is never touched. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"
#include "launch.h"
#include "record/format.h"
#include "record/reader.h"

#define DEFAULT_PERIOD_MS 1000
#define DEFAULT_STATUS_S 5

struct run_opts {
    struct lk_launch_opts l; /* -o, --force, --period, --depth, --status-every, -q, CMD */
    int no_report, json;
};

/* ---- options ---------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: leakscope run [options] -- CMD [ARGS...]\n"
            "\n"
            "Runs CMD with the leakscope agent preloaded, shows a live status line,\n"
            "and prints a report on stderr when CMD ends. Exits with CMD's status.\n"
            "\n"
            "  -o, --output FILE    recording path (default leakscope.<cmd>.<pid>.lsr)\n"
            "  -f, --force          replace FILE if it exists\n"
            "  --period MS          snapshot period in milliseconds (default %d, min 10)\n"
            "  --depth N            stack frames per allocation site (1-%d, default 32)\n"
            "  --sample SIZE        track a Poisson sample, one per SIZE bytes on average\n"
            "                       (e.g. 512K; weighted back up, docs/SAMPLING.md)\n"
            "  --status-every S     seconds between status lines (default %d, 0 = none)\n"
            LK_LAUNCH_SCAN_HELP
            "  -q, --quiet          no status line\n"
            "  --no-report          record only; do not report at the end\n"
            "  --json               report as JSON\n",
            DEFAULT_PERIOD_MS, LK_MAX_FRAMES, DEFAULT_STATUS_S);
}

/* 0, 1 for --help, or 2 after printing why. */
static int
parse_args(int argc, char **argv, struct run_opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->l.period_ms = DEFAULT_PERIOD_MS;
    o->l.status_s = DEFAULT_STATUS_S;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break; /* the command starts here; "--" is optional */
        int r = lk_launch_parse_opt("run", argc, argv, &i, &o->l);
        if (r == 2)
            return 2;
        if (r == 1)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->l.quiet = 1;
        } else if (!strcmp(a, "--no-report")) {
            o->no_report = 1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else {
            lk_cli_error("run: unknown option '%s' (try 'leakscope run --help')", a);
            return 2;
        }
    }
    if (i >= argc) {
        lk_cli_error("run: no command given (usage: leakscope run [options] -- CMD [ARGS...])");
        return 2;
    }
    if (o->l.quiet)
        o->l.status_s = 0;
    o->l.cmd = argv + i;
    return 0;
}

/* A recording of a shell (`run -- sh -c 'prog; other'`) describes the shell,
 * not the programs it started, which were not followed: say so, once. */
static void
shell_hint(const char *path, const char *shown)
{
    static const char *const shells[] = {"sh", "dash", "bash", "zsh", "ksh", "busybox"};
    uint8_t *data;
    size_t len;
    struct lk_reader r;
    struct lk_record rec;
    struct lk_info in;
    if (lk_cli_read_file(path, &data, &len) < 0)
        return;
    if (lk_reader_open(&r, path, data, len) == 0 && lk_reader_next(&r, &rec) == 1 &&
        rec.type == LK_REC_INFO && lk_info_decode(rec.payload, rec.len, &in) == 0) {
        size_t b = in.exe.n;
        while (b > 0 && in.exe.p[b - 1] != '/')
            b--;
        for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
            if (in.exe.n - b == strlen(shells[i]) &&
                !memcmp(in.exe.p + b, shells[i], in.exe.n - b))
                lk_cli_error("%s records the shell %.*s; the programs it started were not "
                             "tracked: run the program itself, or set LEAKSCOPE_FOLLOW_EXEC=1 "
                             "to record each of them to %s.PID",
                             shown, (int)in.exe.n, (const char *)in.exe.p, shown);
    }
    free(data);
}

int
lk_cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct lk_launch_result res;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (lk_launch(&o.l, &res))
        return 2;
    int status = res.status, code = res.code;
    const char *out = res.out;

    struct stat st;
    const char *disabled = getenv("LEAKSCOPE_DISABLE");
    if (lstat(res.out_abs, &st) < 0 && disabled && !strcmp(disabled, "1")) {
        lk_cli_error("the agent never created %s because LEAKSCOPE_DISABLE=1 is set", out);
        return code;
    }
    if (lstat(res.out_abs, &st) < 0) {
        lk_cli_error("the agent never created %s, so there is nothing to report: %s may be "
                     "statically linked, have exec'd another program, or have ended before "
                     "the agent started",
                     out, o.l.cmd[0]);
        return code;
    }
    if (!o.no_report) {
        struct lk_report_opts ro;
        memset(&ro, 0, sizeof ro);
        ro.json = o.json;
        ro.content = o.l.content != NULL;
        fflush(stderr);
        lk_cli_report_file(out, &ro, stderr);
    }
    shell_hint(res.out_abs, out);
    if (WIFSIGNALED(status))
        lk_cli_error("%s was killed by signal %d (%s); recording kept in %s", o.l.cmd[0],
                     WTERMSIG(status), strsignal(WTERMSIG(status)), out);
    else
        lk_cli_error("recording kept in %s", out);
    return code;
}
