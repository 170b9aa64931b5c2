/* `leakscope report`: the whole read -> symbolize -> analyse -> render
 * flow for one recording, also entered by `run` at the end of a run
 * through lk_cli_report_file(). A file that cannot be used gets one
 * sentence on stderr and exit status 2, never a partial report; a torn
 * last record only adds a warning to the report. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../render/json.h"
#include "../render/text.h"
#include "../symbolize/symbolize.h"
#include "../watch/watch.h"
#include "cli.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: leakscope report [--json] [--top N] [--frames N] [--all] [--content] FILE\n"
            "\n"
            "Prints the verdict of a recording, its suspect allocation sites ranked by\n"
            "growth with their stacks, and the process's memory.\n"
            "\n"
            "  --json       one JSON document instead of text (docs/JSON.md)\n"
            "  --top N      show N sites (default %d)\n"
            "  --frames N   show N frames per stack (default %d)\n"
            "  --all        show every site, whatever its verdict\n"
            "  --content    show the content samples of reachability scans (the program's\n"
            "               memory, redacted by the agent: it can hold user data)\n",
            LK_RENDER_TOP, LK_RENDER_FRAMES);
}

/* A positive count from an option's argument; -1 when it is not one. */
static int
count_arg(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 1000000)
        return -1;
    return (int)v;
}

int
lk_cli_report_file(const char *path, const struct lk_report_opts *opts, FILE *out)
{
    struct lk_model m;
    struct lk_analysis a;
    struct lk_symbolizer *sym = NULL;
    int status = 2;
    memset(&a, 0, sizeof a);

    if (lk_model_load(&m, path) < 0) {
        lk_cli_error("%s", m.errmsg);
        goto out;
    }
    if (m.nsnaps == 0) {
        lk_cli_error("%s: the recording holds no snapshot yet (the agent writes one every "
                     "period and at exit)%s",
                     path, m.torn ? "; its last record is torn" : "");
        goto out;
    }
    if (lk_verdict_analyze(&m, &a) < 0) {
        lk_cli_error("%s: out of memory while analysing", path);
        goto out;
    }
    sym = lk_symbolize_open(&m);
    if (!sym) {
        lk_cli_error("%s: out of memory while symbolizing", path);
        goto out;
    }
    struct lk_render_opts ro = {0, 0, 0, 0};
    if (opts) {
        ro.top = opts->top;
        ro.frames = opts->frames;
        ro.all = opts->all;
        ro.content = opts->content;
    }
    int rc;
    if (lk_watch_is_watch(&m)) { /* no sites: the process-level watch verdict */
        struct lk_watch_verdict w;
        if (lk_watch_analyze(&m, &a, &w) < 0) {
            lk_cli_error("%s: out of memory while analysing", path);
            goto out;
        }
        rc = opts && opts->json ? lk_watch_render_json(out, &m, &a, &w)
                                : lk_watch_render_text(out, &m, &a, &w);
    } else {
        rc = opts && opts->json ? lk_render_json(out, &m, &a, sym, &ro)
                                : lk_render_text(out, &m, &a, sym, &ro);
    }
    if (rc < 0) {
        lk_cli_error("%s: cannot write the report: %s", path, strerror(-rc));
        goto out;
    }
    status = 0;
out:
    lk_symbolize_close(sym);
    lk_verdict_free(&a);
    lk_model_free(&m);
    return status;
}

int
lk_cmd_report(int argc, char **argv)
{
    struct lk_report_opts o = {0, 0, 0, 0, 0};
    const char *file = NULL;
    int dashdash = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!dashdash && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
            usage(stdout);
            return 0;
        } else if (!dashdash && !strcmp(arg, "--json")) {
            o.json = 1;
        } else if (!dashdash && !strcmp(arg, "--all")) {
            o.all = 1;
        } else if (!dashdash && !strcmp(arg, "--content")) {
            o.content = 1;
        } else if (!dashdash && (!strcmp(arg, "--top") || !strcmp(arg, "--frames"))) {
            if (i + 1 >= argc || count_arg(argv[i + 1]) < 0) {
                lk_cli_error("report: %s needs a positive number", arg);
                return 2;
            }
            int v = count_arg(argv[++i]);
            if (!strcmp(arg, "--top"))
                o.top = v;
            else
                o.frames = v;
        } else if (!dashdash && (!strncmp(arg, "--top=", 6) || !strncmp(arg, "--frames=", 9))) {
            int top = arg[2] == 't';
            int v = count_arg(arg + (top ? 6 : 9));
            if (v < 0) {
                lk_cli_error("report: %.*s needs a positive number", top ? 5 : 8, arg);
                return 2;
            }
            if (top)
                o.top = v;
            else
                o.frames = v;
        } else if (!dashdash && !strcmp(arg, "--")) {
            dashdash = 1;
        } else if (!dashdash && arg[0] == '-' && arg[1]) {
            lk_cli_error("report: unknown option '%s' (try 'leakscope report --help')", arg);
            return 2;
        } else if (file) {
            lk_cli_error("report: one recording at a time ('%s' and '%s')", file, arg);
            return 2;
        } else {
            file = arg;
        }
    }
    if (!file) {
        lk_cli_error("report: no recording given (usage: leakscope report [--json] [--top N] "
                     "[--frames N] [--all] FILE)");
        return 2;
    }
    return lk_cli_report_file(file, &o, stdout);
}
