/* `leakscope diff A B`: two recordings of the same program compared site
 * by site. Sites are aligned by their symbolized stacks — the function and
 * source file names of the first N folded frames, never addresses or line
 * numbers, which change between builds — and sites of one recording with
 * the same key are merged. The summary names what a fix did: a LEAK that
 * is gone, a site that now grows, one that still leaks. Text, JSON or a
 * small static HTML page. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../render/folded.h"
#include "../render/html.h"
#include "../render/json.h"
#include "../render/text.h"
#include "../symbolize/symbolize.h"
#include "cli.h"

#define DIFF_FRAMES 5 /* default frames in a site's key */
#define DIFF_ROWS 25  /* rows of the site table beyond the problems */

struct dsite {
    char *key;      /* "fn@file;fn@file;..." innermost first */
    char *function; /* first frame's name */
    char *where;    /* first frame's file:line in this recording, or "" */
    enum lk_verdict verdict;
    double rate; /* bytes/s, summed over merged sites */
    uint64_t live_end;
    size_t nmerged;
};

struct side {
    const char *path;
    struct lk_model m;
    struct lk_analysis a;
    struct lk_symbolizer *sym;
    struct dsite *s;
    size_t n;
};

/* Severity order for merging: the worst verdict wins. */
static int
severity(enum lk_verdict v)
{
    switch (v) {
    case LK_VERDICT_LEAK:
        return 5;
    case LK_VERDICT_GROWING:
        return 4;
    case LK_VERDICT_BOUNDED:
        return 3;
    case LK_VERDICT_TEMPORARY:
        return 2;
    case LK_VERDICT_STABLE:
        return 1;
    default:
        return 0;
    }
}

static int
problem(enum lk_verdict v)
{
    return v == LK_VERDICT_LEAK || v == LK_VERDICT_GROWING;
}

static const char *
base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p;
}

static int
by_key(const void *x, const void *y)
{
    return strcmp(((const struct dsite *)x)->key, ((const struct dsite *)y)->key);
}

/* The sites of one recording, keyed and merged. 0 or -ENOMEM. */
static int
collect(struct side *sd, size_t depth)
{
    struct lk_sym_frame *fr = calloc(depth, sizeof *fr);
    sd->s = calloc(sd->a.nsites ? sd->a.nsites : 1, sizeof *sd->s);
    if (!fr || !sd->s) {
        free(fr);
        return -ENOMEM;
    }
    for (size_t i = 0; i < sd->a.nsites; i++) {
        const struct lk_site_verdict *v = &sd->a.sites[i];
        const struct lk_model_site *s = &sd->m.sites[v->site];
        size_t n = s->has_stack ? lk_symbolize_stack(sd->sym, s, 1, fr, depth, NULL) : 0;
        char key[4096], name[512], where[600] = "";
        size_t len = 0;
        key[0] = 0;
        for (size_t k = 0; k < n && len < sizeof key - 1; k++) {
            /* Function and file names only: lines and offsets move between builds. */
            if (fr[k].function)
                snprintf(name, sizeof name, "%s@%s", fr[k].function,
                         fr[k].file ? base_name(fr[k].file) : "");
            else
                snprintf(name, sizeof name, "[%s]", fr[k].module ? base_name(fr[k].module) : "?");
            int w = snprintf(key + len, sizeof key - len, "%s%s", k ? ";" : "", name);
            len += w > 0 ? (size_t)w : 0;
        }
        if (!n)
            snprintf(key, sizeof key, "[no stack]");
        if (n && fr[0].file)
            snprintf(where, sizeof where, "%s:%u", fr[0].file, fr[0].line);
        struct dsite *d = &sd->s[sd->n++];
        d->key = strdup(key);
        d->function = strdup(n ? lk_folded_frame_name(name, sizeof name, &fr[0]) : "?");
        d->where = strdup(where);
        if (!d->key || !d->function || !d->where) {
            free(fr);
            return -ENOMEM;
        }
        d->verdict = v->verdict;
        d->rate =
            v->fitted ? v->rate
            : sd->a.proc.duration_s > 0
                ? ((double)v->live_bytes_end - (double)v->live_bytes_start) / sd->a.proc.duration_s
                : 0;
        d->live_end = v->live_bytes_end;
        d->nmerged = 1;
    }
    free(fr);
    qsort(sd->s, sd->n, sizeof *sd->s, by_key);
    size_t o = 0;
    for (size_t i = 0; i < sd->n; i++) {
        if (o && !strcmp(sd->s[o - 1].key, sd->s[i].key)) {
            struct dsite *d = &sd->s[o - 1];
            if (severity(sd->s[i].verdict) > severity(d->verdict))
                d->verdict = sd->s[i].verdict;
            d->rate += sd->s[i].rate;
            d->live_end += sd->s[i].live_end;
            d->nmerged++;
            free(sd->s[i].key);
            free(sd->s[i].function);
            free(sd->s[i].where);
        } else {
            sd->s[o++] = sd->s[i];
        }
    }
    sd->n = o;
    return 0;
}

struct row {
    const struct dsite *a, *b; /* either may be NULL */
    int kind;                  /* 3 gone, 2 new problem, 1 still, 0 other */
    double weight;             /* for ordering */
};

static int
by_row(const void *x, const void *y)
{
    const struct row *p = x, *q = y;
    if (p->kind != q->kind)
        return q->kind - p->kind;
    return p->weight < q->weight ? 1 : p->weight > q->weight ? -1 : 0;
}

static char *
rate_s(char *buf, size_t cap, double r)
{
    char b[32];
    snprintf(buf, cap, "%s%s/s", r > 0 ? "+" : "", lk_render_bytes(b, sizeof b, r));
    return buf;
}

/* The summary sentence of a row, or "" for rows that changed nothing
 * worth saying. */
static void
sentence(char *buf, size_t cap, const struct row *r)
{
    char r1[48], r2[48];
    const struct dsite *a = r->a, *b = r->b;
    const struct dsite *any = b ? b : a;
    buf[0] = 0;
    if (r->kind == 3)
        snprintf(buf, cap, "the %s at %s() is gone: %s -> %s", lk_verdict_name(a->verdict),
                 a->function, rate_s(r1, sizeof r1, a->rate),
                 b ? lk_verdict_name(b->verdict) : "the site is not in B");
    else if (r->kind == 2)
        snprintf(buf, cap, "%s() now grows %s (%s; %s%s)", any->function,
                 rate_s(r1, sizeof r1, b->rate), lk_verdict_name(b->verdict),
                 a ? "was " : "a new site", a ? lk_verdict_name(a->verdict) : "");
    else if (r->kind == 1)
        snprintf(buf, cap, "still %s at %s(): %s -> %s", lk_verdict_name(b->verdict), any->function,
                 rate_s(r1, sizeof r1, a->rate), rate_s(r2, sizeof r2, b->rate));
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: leakscope diff [--html] [--json] [--frames N] [-o OUT] A B\n"
            "\n"
            "Compares two recordings of the same program (before and after a fix, two\n"
            "releases): sites are aligned by the function and file names of their first\n"
            "N folded frames (default %d), so addresses and line numbers may differ.\n"
            "Prints what is gone, what now grows and what still leaks, then the sites.\n"
            "\n"
            "  --html       a static HTML page instead of text\n"
            "  --json       JSON instead of text (docs/HTML.md, \"diff JSON\")\n"
            "  --frames N   frames in a site's key (default %d)\n"
            "  -o OUT       output file (default stdout)\n",
            DIFF_FRAMES, DIFF_FRAMES);
}

static void
json_side(FILE *out, const struct dsite *d)
{
    if (!d) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"verdict\":\"%s\",\"rate_bytes_per_s\":", lk_verdict_name(d->verdict));
    if (isfinite(d->rate))
        fprintf(out, "%.17g", d->rate);
    else
        fputs("null", out);
    fprintf(out,
            ",\"live_bytes_end\":%llu,\"sites\":%zu,\"where\":", (unsigned long long)d->live_end,
            d->nmerged);
    lk_json_string(out, d->where, strlen(d->where));
    fputc('}', out);
}

static void
rec_json(FILE *out, const struct side *sd)
{
    char line[512];
    lk_render_summary(line, sizeof line, &sd->m, &sd->a);
    fputs("{\"file\":", out);
    lk_json_string(out, sd->path, strlen(sd->path));
    fprintf(out, ",\"verdict\":\"%s\",\"summary\":", lk_verdict_name(sd->a.verdict));
    lk_json_string(out, line, strlen(line));
    fputs(",\"rss_rate_bytes_per_s\":", out);
    fprintf(out, "%.17g", isfinite(sd->a.proc.rss.slope) ? sd->a.proc.rss.slope : 0.0);
    fputc('}', out);
}

static void
html_badge(FILE *out, const struct dsite *d)
{
    if (!d) {
        fputs("<td>-</td><td></td>", out);
        return;
    }
    char r[48];
    fprintf(out, "<td><span class=\"badge %s\">%s</span></td><td>%s</td>",
            lk_verdict_name(d->verdict), lk_verdict_name(d->verdict), rate_s(r, sizeof r, d->rate));
}

int
lk_cmd_diff(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL}, *outpath = NULL;
    int html = 0, json = 0;
    long depth = DIFF_FRAMES;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--html")) {
            html = 1;
        } else if (!strcmp(arg, "--json")) {
            json = 1;
        } else if (!strcmp(arg, "-o") || !strcmp(arg, "--frames")) {
            if (i + 1 >= argc) {
                lk_cli_error("diff: %s needs an argument", arg);
                return 2;
            }
            if (arg[1] == 'o') {
                outpath = argv[++i];
            } else {
                char *end;
                depth = strtol(argv[++i], &end, 10);
                if (*end || depth < 1 || depth > 64) {
                    lk_cli_error("diff: --frames needs a number from 1 to 64");
                    return 2;
                }
            }
        } else if (arg[0] == '-' && arg[1]) {
            lk_cli_error("diff: unknown option '%s' (try 'leakscope diff --help')", arg);
            return 2;
        } else if (files[1]) {
            lk_cli_error("diff: two recordings, not more");
            return 2;
        } else {
            files[files[0] ? 1 : 0] = arg;
        }
    }
    if (!files[1]) {
        lk_cli_error("diff: two recordings are needed (usage: leakscope diff A B)");
        return 2;
    }
    if (html && json) {
        lk_cli_error("diff: --html or --json, not both");
        return 2;
    }
    struct side sd[2];
    memset(sd, 0, sizeof sd);
    int status = 2, loaded = 0;
    struct row *rows = NULL;
    size_t nrows = 0;
    for (; loaded < 2; loaded++) {
        sd[loaded].path = files[loaded];
        if (lk_cli_load(files[loaded], &sd[loaded].m, &sd[loaded].a, &sd[loaded].sym)) {
            loaded++;
            goto out;
        }
        if (collect(&sd[loaded], (size_t)depth) < 0) {
            lk_cli_error("diff: out of memory");
            loaded++;
            goto out;
        }
    }
    rows = calloc(sd[0].n + sd[1].n + 1, sizeof *rows);
    if (!rows)
        goto out;
    for (size_t i = 0, j = 0; i < sd[0].n || j < sd[1].n;) {
        int c = i >= sd[0].n ? 1 : j >= sd[1].n ? -1 : strcmp(sd[0].s[i].key, sd[1].s[j].key);
        struct row *r = &rows[nrows++];
        r->a = c <= 0 ? &sd[0].s[i++] : NULL;
        r->b = c >= 0 ? &sd[1].s[j++] : NULL;
        int pa = r->a && problem(r->a->verdict), pb = r->b && problem(r->b->verdict);
        r->kind = pa && !pb ? 3 : !pa && pb ? 2 : pa && pb ? 1 : 0;
        double ra = r->a ? fabs(r->a->rate) : 0, rb = r->b ? fabs(r->b->rate) : 0;
        r->weight = ra > rb ? ra : rb;
    }
    qsort(rows, nrows, sizeof *rows, by_row);

    FILE *out = lk_cli_open_out("diff", outpath);
    if (!out)
        goto out;
    char line[600], r1[48], r2[48], sa[512], sb[512];
    lk_render_summary(sa, sizeof sa, &sd[0].m, &sd[0].a);
    lk_render_summary(sb, sizeof sb, &sd[1].m, &sd[1].a);
    size_t nsent = 0;
    for (size_t i = 0; i < nrows && rows[i].kind; i++)
        nsent++;
    if (json) {
        fputs("{\"schema\":1,\"a\":", out);
        rec_json(out, &sd[0]);
        fputs(",\"b\":", out);
        rec_json(out, &sd[1]);
        fputs(",\"summary\":[", out);
        for (size_t i = 0; i < nsent; i++) {
            sentence(line, sizeof line, &rows[i]);
            fputs(i ? "," : "", out);
            lk_json_string(out, line, strlen(line));
        }
        fputs("],\"sites\":[", out);
        for (size_t i = 0; i < nrows; i++) {
            static const char *const kinds[] = {"other", "still", "new", "gone"};
            const struct dsite *any = rows[i].b ? rows[i].b : rows[i].a;
            fputs(i ? ",\n" : "\n", out);
            fputs("{\"key\":", out);
            lk_json_string(out, any->key, strlen(any->key));
            fputs(",\"function\":", out);
            lk_json_string(out, any->function, strlen(any->function));
            fprintf(out, ",\"change\":\"%s\",\"a\":", kinds[rows[i].kind]);
            json_side(out, rows[i].a);
            fputs(",\"b\":", out);
            json_side(out, rows[i].b);
            fputc('}', out);
        }
        fputs("]}\n", out);
    } else if (html) {
        fprintf(out,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>leakscope diff</title><style>%s</style></head><body><div id=\"app\">"
                "<h1>leakscope diff</h1>",
                lk_html_css);
        for (int k = 0; k < 2; k++) {
            fprintf(out, "<p class=\"verdict %s\"><b>%s</b> ", lk_verdict_name(sd[k].a.verdict),
                    k ? "B" : "A");
            lk_html_text(out, sd[k].path, strlen(sd[k].path));
            fputs(": ", out);
            lk_html_text(out, k ? sb : sa, strlen(k ? sb : sa));
            fputs("</p>", out);
        }
        fputs("<div class=\"card\"><h2>What changed</h2><ul id=\"summary\">", out);
        for (size_t i = 0; i < nsent; i++) {
            sentence(line, sizeof line, &rows[i]);
            fputs("<li>", out);
            lk_html_text(out, line, strlen(line));
            fputs("</li>", out);
        }
        if (!nsent)
            fputs("<li>No site leaks or grows in either recording.</li>", out);
        fputs("</ul></div><div class=\"card\"><h2>Sites</h2><table><tr><th>function</th>"
              "<th>A</th><th>rate A</th><th>B</th><th>rate B</th><th>where (B, else A)</th></tr>",
              out);
        for (size_t i = 0; i < nrows && (i < nsent + DIFF_ROWS); i++) {
            const struct dsite *any = rows[i].b ? rows[i].b : rows[i].a;
            fputs("<tr><td class=\"mono\">", out);
            lk_html_text(out, any->function, strlen(any->function));
            fputs("</td>", out);
            html_badge(out, rows[i].a);
            html_badge(out, rows[i].b);
            fputs("<td class=\"mono\">", out);
            lk_html_text(out, any->where, strlen(any->where));
            fputs("</td></tr>", out);
        }
        fputs("</table></div></div></body></html>\n", out);
    } else {
        fprintf(out, "A %s: %s\nB %s: %s\n\n", files[0], sa, files[1], sb);
        if (!nsent)
            fprintf(out, "No site leaks or grows in either recording.\n");
        for (size_t i = 0; i < nsent; i++) {
            sentence(line, sizeof line, &rows[i]);
            fprintf(out, "%s\n", line);
        }
        fprintf(out, "RSS: %s -> %s\n\n", rate_s(r1, sizeof r1, sd[0].a.proc.rss.slope),
                rate_s(r2, sizeof r2, sd[1].a.proc.rss.slope));
        fprintf(out, "%-9s %-12s  %-9s %-12s  %s\n", "A", "rate A", "B", "rate B",
                "function  (where in B, else A)");
        for (size_t i = 0; i < nrows && i < nsent + DIFF_ROWS; i++) {
            const struct dsite *a = rows[i].a, *b = rows[i].b, *any = b ? b : a;
            fprintf(out, "%-9s %-12s  %-9s %-12s  %s  %s\n", a ? lk_verdict_name(a->verdict) : "-",
                    a ? rate_s(r1, sizeof r1, a->rate) : "", b ? lk_verdict_name(b->verdict) : "-",
                    b ? rate_s(r2, sizeof r2, b->rate) : "", any->function, any->where);
        }
        if (nrows > nsent + DIFF_ROWS)
            fprintf(out, "(%zu more sites)\n", nrows - nsent - DIFF_ROWS);
    }
    status = lk_cli_close_out("diff", outpath, out);
out:
    free(rows);
    for (int k = 0; k < loaded; k++) {
        for (size_t i = 0; i < sd[k].n; i++) {
            free(sd[k].s[i].key);
            free(sd[k].s[i].function);
            free(sd[k].s[i].where);
        }
        free(sd[k].s);
        lk_cli_unload(&sd[k].m, &sd[k].a, sd[k].sym);
    }
    return status;
}
