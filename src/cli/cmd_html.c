/* `leakscope html`: the recording as one self-contained HTML page
 * (render/html.c), and the load / output helpers that html, export and
 * diff share: load, analyse and symbolize a recording with report's
 * messages; open and close an output file with one sentence on failure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../render/html.h"
#include "../symbolize/symbolize.h"
#include "cli.h"

int
lk_cli_load(const char *path, struct lk_model *m, struct lk_analysis *a, struct lk_symbolizer **sym)
{
    memset(a, 0, sizeof *a);
    *sym = NULL;
    if (lk_model_load(m, path) < 0) {
        lk_cli_error("%s", m->errmsg);
        return 2;
    }
    if (m->nsnaps == 0) {
        lk_cli_error("%s: the recording holds no snapshot yet (the agent writes one every "
                     "period and at exit)%s",
                     path, m->torn ? "; its last record is torn" : "");
        return 2;
    }
    if (lk_verdict_analyze(m, a) < 0) {
        lk_cli_error("%s: out of memory while analysing", path);
        return 2;
    }
    *sym = lk_symbolize_open(m);
    if (!*sym) {
        lk_cli_error("%s: out of memory while symbolizing", path);
        return 2;
    }
    return 0;
}

void
lk_cli_unload(struct lk_model *m, struct lk_analysis *a, struct lk_symbolizer *sym)
{
    lk_symbolize_close(sym);
    lk_verdict_free(a);
    lk_model_free(m);
}

FILE *
lk_cli_open_out(const char *verb, const char *path)
{
    if (!path || !strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "we");
    if (!f)
        lk_cli_error("%s: cannot create %s: %s", verb, path, strerror(errno));
    return f;
}

int
lk_cli_close_out(const char *verb, const char *path, FILE *f)
{
    int bad = fflush(f) != 0 || ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    if (bad) {
        lk_cli_error("%s: cannot write %s: %s", verb, path && f != stdout ? path : "the output",
                     strerror(errno ? errno : EIO));
        return 2;
    }
    return 0;
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: leakscope html [-o OUT.html] FILE\n"
                 "\n"
                 "Writes one self-contained HTML page for a recording: the verdict with its\n"
                 "evidence, memory over time, the top sites' live bytes, cohort survival,\n"
                 "live size classes, icicle graphs of live memory and of growth (search,\n"
                 "zoom), modules and settings. No network access is needed to open it.\n"
                 "\n"
                 "  -o OUT.html   where to write it (default: FILE with .html instead of .lsr;\n"
                 "                '-' for stdout)\n"
                 "  --content     include the scans' content samples (the program's memory,\n"
                 "                redacted by the agent: the page can hold user data)\n");
}

int
lk_cmd_html(int argc, char **argv)
{
    const char *file = NULL, *outpath = NULL;
    int content = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--content")) {
            content = 1;
        } else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc) {
                lk_cli_error("html: %s needs a file name", argv[i]);
                return 2;
            }
            outpath = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            lk_cli_error("html: unknown option '%s' (try 'leakscope html --help')", argv[i]);
            return 2;
        } else if (file) {
            lk_cli_error("html: one recording at a time ('%s' and '%s')", file, argv[i]);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        lk_cli_error("html: no recording given (usage: leakscope html [-o OUT.html] FILE)");
        return 2;
    }
    char *derived = NULL;
    if (!outpath) {
        size_t n = strlen(file);
        derived = malloc(n + 6);
        if (!derived)
            return 2;
        memcpy(derived, file, n + 1);
        if (n > 4 && !strcmp(derived + n - 4, ".lsr"))
            derived[n - 4] = 0;
        strcat(derived, ".html");
        outpath = derived;
    }
    struct lk_model m;
    struct lk_analysis a;
    struct lk_symbolizer *sym;
    int status = lk_cli_load(file, &m, &a, &sym);
    if (status == 0) {
        FILE *out = lk_cli_open_out("html", outpath);
        if (!out) {
            status = 2;
        } else {
            int rc = lk_render_html(out, &m, &a, sym, content);
            status = lk_cli_close_out("html", outpath, out);
            if (rc == -ENOMEM) {
                lk_cli_error("html: out of memory");
                status = 2;
            }
            if (status == 0 && out != stdout)
                fprintf(stderr, "leakscope: wrote %s\n", outpath);
        }
    }
    lk_cli_unload(&m, &a, sym);
    free(derived);
    return status;
}
