/* `leakscope export`: a recording in the ecosystem's formats. pprof
 * (gzipped profile.proto) for go tool pprof, speedscope, Pyroscope and
 * Parca; folded stacks for flamegraph.pl and inferno; JSON for scripts (the
 * report's document with every site, plus the time series of the HTML
 * page under "series"). Mapping of fields: docs/HTML.md, "Exports". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../render/folded.h"
#include "../render/html.h"
#include "../render/json.h"
#include "../render/pprof.h"
#include "../symbolize/symbolize.h"
#include "cli.h"

static void
usage(FILE *out)
{
    fprintf(out, "usage: leakscope export --format pprof|folded|json [options] [-o OUT] FILE\n"
                 "\n"
                 "  --format pprof    gzipped profile.proto: inuse_space, inuse_objects,\n"
                 "                    alloc_space, alloc_objects at the last snapshot\n"
                 "  --format folded   'outer;...;inner VALUE' lines (flamegraph.pl, inferno)\n"
                 "  --format json     the report's JSON with every site, plus \"series\"\n"
                 "  --growth          pprof: growth_space/growth_objects (last minus first\n"
                 "                    snapshot) instead; folded: growth in bytes\n"
                 "  --value V         folded: live (bytes, default), count, growth, alloc\n"
                 "  --content         json: include the scans' content samples (user data!)\n"
                 "  -o OUT            output file (default stdout; pprof refuses a terminal)\n");
}

/* The report JSON with every site, and the HTML page's data appended as
 * the member "series" (a new member: schema 1 allows it). */
static int
export_json(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
            struct lk_symbolizer *sym, int content)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return -ENOMEM;
    struct lk_render_opts ro = {0, 16, 1, content};
    int rc = lk_render_json(mem, m, a, sym, &ro);
    if (fclose(mem) != 0 && !rc)
        rc = -ENOMEM;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    /* The document ends with "}\n": reopen it. */
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    if (!len || buf[len - 1] != '}') {
        free(buf);
        return -EIO;
    }
    fwrite(buf, 1, len - 1, out);
    free(buf);
    fputs(",\"series\":", out);
    rc = lk_render_html_data(out, m, a, sym, content);
    fputs("}\n", out);
    return rc;
}

int
lk_cmd_export(int argc, char **argv)
{
    const char *file = NULL, *outpath = NULL, *format = NULL, *value = NULL;
    int growth = 0, content = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--growth")) {
            growth = 1;
        } else if (!strcmp(arg, "--content")) {
            content = 1;
        } else if (!strcmp(arg, "-o") || !strcmp(arg, "--format") || !strcmp(arg, "--value")) {
            if (i + 1 >= argc) {
                lk_cli_error("export: %s needs an argument", arg);
                return 2;
            }
            const char **dst = arg[1] == 'o' ? &outpath : arg[2] == 'f' ? &format : &value;
            *dst = argv[++i];
        } else if (!strncmp(arg, "--format=", 9)) {
            format = arg + 9;
        } else if (!strncmp(arg, "--value=", 8)) {
            value = arg + 8;
        } else if (arg[0] == '-' && arg[1]) {
            lk_cli_error("export: unknown option '%s' (try 'leakscope export --help')", arg);
            return 2;
        } else if (file) {
            lk_cli_error("export: one recording at a time ('%s' and '%s')", file, arg);
            return 2;
        } else {
            file = arg;
        }
    }
    if (!format ||
        (strcmp(format, "pprof") && strcmp(format, "folded") && strcmp(format, "json"))) {
        lk_cli_error("export: --format must be pprof, folded or json");
        return 2;
    }
    enum lk_folded_value fv = growth ? LK_FOLDED_GROWTH : LK_FOLDED_LIVE_BYTES;
    if (value) {
        if (!strcmp(value, "live"))
            fv = LK_FOLDED_LIVE_BYTES;
        else if (!strcmp(value, "count"))
            fv = LK_FOLDED_LIVE_COUNT;
        else if (!strcmp(value, "growth"))
            fv = LK_FOLDED_GROWTH;
        else if (!strcmp(value, "alloc"))
            fv = LK_FOLDED_ALLOC_BYTES;
        else {
            lk_cli_error("export: --value must be live, count, growth or alloc");
            return 2;
        }
    }
    if (!file) {
        lk_cli_error("export: no recording given (usage: leakscope export --format F FILE)");
        return 2;
    }
    if (!strcmp(format, "pprof") && (!outpath || !strcmp(outpath, "-")) && isatty(1)) {
        lk_cli_error("export: pprof is binary; give -o FILE or redirect stdout");
        return 2;
    }
    struct lk_model m;
    struct lk_analysis a;
    struct lk_symbolizer *sym;
    int status = lk_cli_load(file, &m, &a, &sym);
    if (status == 0) {
        FILE *out = lk_cli_open_out("export", outpath);
        if (!out) {
            status = 2;
        } else {
            int rc =
                !strcmp(format, "pprof")
                    ? lk_render_pprof(out, &m, &a, sym, growth ? LK_PPROF_GROWTH : LK_PPROF_HEAP)
                : !strcmp(format, "folded") ? lk_render_folded(out, &m, sym, fv)
                                            : export_json(out, &m, &a, sym, content);
            status = lk_cli_close_out("export", outpath, out);
            if (rc == -ENOMEM) {
                lk_cli_error("export: out of memory");
                status = 2;
            }
        }
    }
    lk_cli_unload(&m, &a, sym);
    return status;
}
