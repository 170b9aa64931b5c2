/* The HTML page: a short server-rendered head (the verdict, readable
 * without scripts), the data as one JSON document in a
 * <script type="application/json"> element, and the embedded renderer
 * (html_assets.c) that draws every chart as SVG. The data is bounded
 * whatever the recording's length: time series are subsampled to
 * LK_HTML_POINTS points, LK_HTML_SITES sites are drawn individually, and
 * flame-graph nodes below 1/LK_HTML_FLAME_MIN of the total are merged into
 * their parent. CLI only: allocates, stdio. */
#include "html.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/trend.h"
#include "../watch/watch.h"
#include "folded.h"
#include "json.h"
#include "text.h"

/* ---- escaping -------------------------------------------------------- */

void
lk_html_text(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            if (ch >= 0x20 && ch != 0x7f)
                fputc(ch, out);
        }
    }
}

static void
jseries(FILE *out, const uint64_t *v, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
    fputc(']', out);
}

static void
jtrend(FILE *out, const struct lk_trend *t)
{
    fputc('[', out);
    lk_json_num(out, t->slope, 6);
    fputc(',', out);
    lk_json_num(out, t->slope_lo, 6);
    fputc(',', out);
    lk_json_num(out, t->slope_hi, 6);
    fputc(',', out);
    lk_json_num(out, t->p, 6);
    fputc(']', out);
}

/* ---- flame trees ----------------------------------------------------- */

struct fnode {
    uint32_t name;  /* index into the label table */
    uint32_t child; /* first child + 1, 0 = none */
    uint32_t next;  /* next sibling + 1 */
    int color;      /* drawn-site colour index of the site ending here, -1 */
    uint64_t bytes; /* value of the sites below */
    uint64_t count; /* live blocks below (growth: added blocks) */
    double rate;    /* sum of the rates of the sites below, bytes/s */
};

struct labels {
    char **s;
    size_t n, cap;
    uint64_t *hkey; /* open addressing: hash -> index + 1 */
    uint32_t *hval;
    size_t hcap;
};

static uint64_t
hstr(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* Index of label s, added when new; -1 on ENOMEM. */
static long
label_id(struct labels *l, const char *s)
{
    if ((l->n + 1) * 2 > l->hcap) {
        size_t cap = l->hcap ? l->hcap * 2 : 1024;
        uint64_t *k = calloc(cap, sizeof *k);
        uint32_t *v = calloc(cap, sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return -1;
        }
        for (size_t i = 0; i < l->hcap; i++)
            if (l->hval[i]) {
                size_t j = l->hkey[i] & (cap - 1);
                while (v[j])
                    j = (j + 1) & (cap - 1);
                k[j] = l->hkey[i];
                v[j] = l->hval[i];
            }
        free(l->hkey);
        free(l->hval);
        l->hkey = k;
        l->hval = v;
        l->hcap = cap;
    }
    uint64_t h = hstr(s);
    size_t i = h & (l->hcap - 1);
    for (; l->hval[i]; i = (i + 1) & (l->hcap - 1))
        if (l->hkey[i] == h && !strcmp(l->s[l->hval[i] - 1], s))
            return (long)l->hval[i] - 1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **p = realloc(l->s, cap * sizeof *p);
        if (!p)
            return -1;
        l->s = p;
        l->cap = cap;
    }
    if (!(l->s[l->n] = strdup(s)))
        return -1;
    l->hkey[i] = h;
    l->hval[i] = (uint32_t)++l->n;
    return (long)l->n - 1;
}

static void
labels_free(struct labels *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->hkey);
    free(l->hval);
}

struct tree {
    struct fnode *n;
    size_t len, cap;
};

static long
tree_add(struct tree *t, uint32_t name)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct fnode *p = realloc(t->n, cap * sizeof *p);
        if (!p)
            return -1;
        t->n = p;
        t->cap = cap;
    }
    memset(&t->n[t->len], 0, sizeof t->n[0]);
    t->n[t->len].name = name;
    t->n[t->len].color = -1;
    return (long)t->len++;
}

/* The child of node `at` named `name`, created when missing. A linear scan
 * of the siblings: fan-out is small in allocation trees (measured: at most
 * a few dozen children under main() in CPython). */
static long
tree_child(struct tree *t, size_t at, uint32_t name)
{
    for (uint32_t c = t->n[at].child; c; c = t->n[c - 1].next)
        if (t->n[c - 1].name == name)
            return (long)c - 1;
    long k = tree_add(t, name);
    if (k < 0)
        return -1;
    t->n[k].next = t->n[at].child;
    t->n[at].child = (uint32_t)k + 1;
    return k;
}

/* Writes node i and the children that are at least `min` bytes wide, as
 * [label, bytes, count, rate, color, [children]]. */
static void
tree_json(FILE *out, const struct tree *t, size_t i, uint64_t min, int depth)
{
    const struct fnode *n = &t->n[i];
    fprintf(out, "[%u,%llu,%llu,", n->name, (unsigned long long)n->bytes,
            (unsigned long long)n->count);
    lk_json_num(out, n->rate, 6);
    fprintf(out, ",%d,[", n->color);
    int first = 1;
    if (depth < LK_FOLDED_MAX_FRAMES)
        for (uint32_t c = n->child; c; c = t->n[c - 1].next)
            if (t->n[c - 1].bytes >= min && t->n[c - 1].bytes > 0) {
                if (!first)
                    fputc(',', out);
                first = 0;
                tree_json(out, t, c - 1, min, depth + 1);
            }
    fputs("]]", out);
}

/* ---- the data document ----------------------------------------------- */

struct ctx {
    FILE *out;
    const struct lk_model *m;
    const struct lk_analysis *a;
    struct lk_symbolizer *sym;
    size_t *idx; /* subsampled snapshot indexes */
    size_t npts;
    uint64_t *buf;                        /* npts values */
    const struct lk_site_verdict **drawn; /* the sites drawn individually */
    size_t ndrawn;
    int *color_of; /* per model site: colour index or -1 */
    struct lk_sym_frame *fr;
    struct labels lab;
    int content; /* show the scans' content samples */
};

static void
meta(struct ctx *c)
{
    FILE *out = c->out;
    const struct lk_model *m = c->m;
    int f = 1;
    char ver[32];
    fputc('{', out);
    lk_json_key(out, &f, "file");
    lk_json_str(out, m->name);
    lk_json_key(out, &f, "format_version");
    snprintf(ver, sizeof ver, "%u.%u", m->major, m->minor);
    lk_json_str(out, ver);
    lk_json_key(out, &f, "leakscope_version");
    lk_json_str(out, LK_VERSION);
    lk_json_key(out, &f, "exe");
    lk_json_string(out, (const char *)m->info.exe.p, m->info.exe.n);
    lk_json_key(out, &f, "cmdline");
    lk_json_cmdline(out, m);
    lk_json_key(out, &f, "pid");
    lk_json_u64(out, m->info.pid);
    lk_json_key(out, &f, "ppid");
    lk_json_u64(out, m->info.ppid);
    lk_json_settings(out, &f, m);
    lk_json_key(out, &f, "page_size");
    lk_json_u64(out, m->info.page_size);
    lk_json_key(out, &f, "flags");
    fprintf(out, "{\"not_interposed\":%s,\"fork_child\":%s,\"tracks_mmap\":%s,\"watch\":%s}",
            m->info.flags & LK_INFO_NOT_INTERPOSED ? "true" : "false",
            m->info.flags & LK_INFO_FORK_CHILD ? "true" : "false",
            m->info.flags & LK_INFO_TRACKS_MMAP ? "true" : "false",
            lk_watch_is_watch(m) ? "true" : "false");
    lk_json_key(out, &f, "snapshots");
    lk_json_u64(out, m->nsnaps);
    lk_json_key(out, &f, "duration_s");
    lk_json_num(out, c->a->proc.duration_s, 6);
    lk_json_key(out, &f, "sites");
    lk_json_u64(out, m->nsites);
    lk_json_key(out, &f, "torn");
    fputs(m->torn ? "true" : "false", out);
    lk_json_key(out, &f, "end");
    if (m->has_end) {
        static const char *const why[] = {"exit", "signal", "exec", "agent"};
        fputs("{\"reason\":", out);
        lk_json_str(out, m->end.reason < 4 ? why[m->end.reason] : "unknown");
        fprintf(out, ",\"code\":%llu,\"time_s\":", (unsigned long long)m->end.code);
        lk_json_num(out, (double)m->end.time_ns / 1e9, 6);
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    fputc('}', out);
}

static void
verdict(struct ctx *c)
{
    FILE *out = c->out;
    const struct lk_analysis *a = c->a;
    const struct lk_procsplit *sp = &a->proc.split;
    char line[512];
    int f = 1;
    fputc('{', out);
    lk_json_key(out, &f, "verdict");
    lk_json_str(out, lk_verdict_name(a->verdict));
    lk_json_key(out, &f, "summary");
    lk_render_summary(line, sizeof line, c->m, a);
    lk_json_str(out, line);
    lk_json_key(out, &f, "verdict_time_s");
    lk_json_num(out, a->verdict != LK_VERDICT_UNKNOWN ? a->verdict_time_s : NAN, 6);
    lk_json_key(out, &f, "verdict_snapshots");
    lk_json_u64(out, a->verdict_snaps);
    lk_json_key(out, &f, "leak_rate");
    lk_json_num(out, a->leak_rate, 6);
    lk_json_key(out, &f, "growing_rate");
    lk_json_num(out, a->growing_rate, 6);
    lk_json_key(out, &f, "material_bytes");
    lk_json_u64(out, a->material_bytes);
    lk_json_key(out, &f, "counts");
    fputc('{', out);
    for (int v = 0; v <= LK_VERDICT_UNKNOWN; v++)
        fprintf(out, "%s\"%s\":%zu", v ? "," : "", lk_verdict_name((enum lk_verdict)v),
                a->counts[v]);
    fputc('}', out);
    lk_json_key(out, &f, "process");
    fputc('{', out);
    int g = 1;
    lk_json_key(out, &g, "verdict");
    lk_json_str(out, lk_proc_verdict_name(sp->verdict));
    lk_json_key(out, &g, "why");
    lk_json_str(out, sp->why);
    lk_json_key(out, &g, "advice");
    fputc('[', out);
    for (size_t i = 0; i < sp->nadvice; i++) {
        fputs(i ? "," : "", out);
        lk_json_str(out, sp->advice[i]);
    }
    fputc(']', out);
    lk_json_key(out, &g, "rss");
    fprintf(out, "{\"start\":%llu,\"end\":%llu,\"peak\":%llu,\"trend\":",
            (unsigned long long)a->proc.rss_start, (unsigned long long)a->proc.rss_end,
            (unsigned long long)a->proc.rss_peak);
    jtrend(out, &a->proc.rss);
    fputc('}', out);
    lk_json_key(out, &g, "heap");
    fprintf(out, "{\"start\":%llu,\"end\":%llu,\"peak\":%llu,\"trend\":",
            (unsigned long long)a->proc.heap_start, (unsigned long long)a->proc.heap_end,
            (unsigned long long)a->proc.heap_peak);
    jtrend(out, &a->proc.heap);
    fputc('}', out);
    lk_json_key(out, &g, "allocs");
    lk_json_u64(out, a->proc.allocs);
    lk_json_key(out, &g, "frees");
    lk_json_u64(out, a->proc.frees);
    lk_json_key(out, &g, "threads");
    lk_json_u64(out, sp->threads);
    lk_json_key(out, &g, "limit");
    fputs("{\"kind\":", out);
    lk_json_str(out, sp->limit_kind == LK_LIMIT_CGROUP     ? "cgroup"
              : sp->limit_kind == LK_LIMIT_PHYSICAL ? "physical"
                                                    : NULL);
    fprintf(out, ",\"limit\":%llu,\"usage\":%llu,\"rate\":", (unsigned long long)sp->limit,
            (unsigned long long)sp->usage);
    lk_json_num(out, sp->rss_rate, 6);
    fputs(",\"seconds\":", out);
    lk_json_num(out, sp->time_to_limit_s >= 0 ? sp->time_to_limit_s : NAN, 6);
    fputs("}}}", out);
}

/* Time axis and process memory, subsampled. */
static void
memory(struct ctx *c)
{
    static const char *const key[LK_SPLIT_NPARTS] = {
        "rss",          "heap",       "allocator_free", "allocator_overhead", "outside_malloc",
        "tracked_mmap", "file_backed"};
    FILE *out = c->out;
    const struct lk_procsplit *sp = &c->a->proc.split;
    fputs(",\"t\":[", out);
    for (size_t i = 0; i < c->npts; i++) {
        fputs(i ? "," : "", out);
        fprintf(out, "%.3f", lk_model_time_s(c->m, c->idx[i]));
    }
    fputs("],\"mem\":[", out);
    int first = 1;
    for (int p = 0; p < LK_SPLIT_NPARTS; p++) {
        if (!sp->part[p].recorded)
            continue;
        for (size_t i = 0; i < c->npts; i++)
            c->buf[i] = lk_procsplit_value(c->m, sp, c->idx[i], (enum lk_split_part)p);
        fprintf(out, "%s{\"key\":\"%s\",\"name\":", first ? "" : ",", key[p]);
        first = 0;
        lk_json_str(out, lk_split_part_name((enum lk_split_part)p));
        fputs(",\"trend\":", out);
        jtrend(out, &sp->part[p].t);
        fputs(",\"v\":", out);
        jseries(out, c->buf, c->npts);
        fputc('}', out);
    }
    fputc(']', out);
    /* Live size classes: those that ever held a block, by class. */
    fputs(",\"classes\":[", out);
    first = 1;
    for (unsigned k = 0; k < LK_SIZE_CLASSES; k++) {
        int any = 0;
        for (size_t i = 0; i < c->npts && !any; i++)
            any = c->m->snaps[c->idx[i]].class_count[k] != 0;
        if (!any)
            continue;
        fprintf(out, "%s{\"c\":%u,\"count\":", first ? "" : ",", k);
        first = 0;
        for (size_t i = 0; i < c->npts; i++)
            c->buf[i] = c->m->snaps[c->idx[i]].class_count[k];
        jseries(out, c->buf, c->npts);
        fputs(",\"bytes\":", out);
        for (size_t i = 0; i < c->npts; i++)
            c->buf[i] = c->m->snaps[c->idx[i]].class_bytes[k];
        jseries(out, c->buf, c->npts);
        fputc('}', out);
    }
    fputc(']', out);
}

/* Picks the sites drawn individually: the suspects first (the ranking's
 * interesting ones), then the largest at the end. */
static int
pick_sites(struct ctx *c)
{
    const struct lk_analysis *a = c->a;
    c->drawn = calloc(LK_HTML_SITES, sizeof *c->drawn);
    c->color_of = malloc((c->m->nsites ? c->m->nsites : 1) * sizeof *c->color_of);
    if (!c->drawn || !c->color_of)
        return -ENOMEM;
    for (size_t i = 0; i < c->m->nsites; i++)
        c->color_of[i] = -1;
    for (size_t i = 0; i < a->nsites && c->ndrawn < LK_HTML_SITES; i++)
        if (lk_verdict_interesting(a->sites[i].verdict))
            c->drawn[c->ndrawn++] = &a->sites[i];
    while (c->ndrawn < LK_HTML_SITES) {
        const struct lk_site_verdict *best = NULL;
        for (size_t i = 0; i < a->nsites; i++) {
            const struct lk_site_verdict *v = &a->sites[i];
            if (c->color_of[v->site] >= 0 || lk_verdict_interesting(v->verdict))
                continue;
            uint64_t size =
                v->peak_live_bytes > v->live_bytes_end ? v->peak_live_bytes : v->live_bytes_end;
            uint64_t bsize = !best                                          ? 0
                             : best->peak_live_bytes > best->live_bytes_end ? best->peak_live_bytes
                                                                            : best->live_bytes_end;
            if (size > 0 && (!best || size > bsize))
                best = v;
        }
        if (!best)
            break;
        c->color_of[best->site] = (int)c->ndrawn; /* marks it taken */
        c->drawn[c->ndrawn++] = best;
    }
    for (size_t i = 0; i < c->ndrawn; i++)
        c->color_of[c->drawn[i]->site] = (int)i;
    return 0;
}

static void
frame_json(FILE *out, const struct lk_sym_frame *f)
{
    char name[512];
    fputc('[', out);
    lk_json_str(out, lk_folded_frame_name(name, sizeof name, f));
    fputc(',', out);
    lk_json_str(out, f->file);
    fprintf(out, ",%u,", f->line);
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;
    lk_json_str(out, mod ? mod + 1 : f->module);
    fprintf(out, ",%d]", f->inlined);
}

static void
site_json(struct ctx *c, const struct lk_site_verdict *v, int color)
{
    FILE *out = c->out;
    const struct lk_model *m = c->m;
    const struct lk_model_site *s = &m->sites[v->site];
    int f = 1;
    fputc('{', out);
    lk_json_key(out, &f, "id");
    lk_json_u64(out, v->id);
    lk_json_key(out, &f, "color");
    fprintf(out, "%d", color);
    lk_json_key(out, &f, "verdict");
    lk_json_str(out, lk_verdict_name(v->verdict));
    lk_json_key(out, &f, "why");
    lk_json_str(out, v->why);
    lk_json_key(out, &f, "kind");
    lk_json_str(out, s->kind == LK_KIND_MMAP ? "anonymous mmap" : "heap");
    lk_json_key(out, &f, "fitted");
    fputs(v->fitted ? "true" : "false", out);
    lk_json_key(out, &f, "rate");
    lk_json_num(out, v->rate, 6);
    lk_json_key(out, &f, "ci");
    fputc('[', out);
    lk_json_num(out, v->fitted ? v->rate_lo : NAN, 6);
    fputc(',', out);
    lk_json_num(out, v->fitted ? v->rate_hi : NAN, 6);
    fputc(']', out);
    lk_json_key(out, &f, "p");
    lk_json_num(out, v->fitted ? v->trend.p : NAN, 6);
    lk_json_key(out, &f, "tail");
    lk_json_num(out, v->fitted ? v->tail_rate : NAN, 6);
    lk_json_key(out, &f, "vt");
    lk_json_num(out, v->verdict_time_s >= 0 && v->verdict != LK_VERDICT_UNKNOWN ? v->verdict_time_s : NAN, 6);
    fprintf(out,
            ",\"live\":[%llu,%llu],\"blocks\":[%llu,%llu],\"peak\":%llu,\"allocs\":%llu,"
            "\"frees\":%llu,\"alloc_bytes\":%llu",
            (unsigned long long)v->live_bytes_start, (unsigned long long)v->live_bytes_end,
            (unsigned long long)v->live_count_start, (unsigned long long)v->live_count_end,
            (unsigned long long)v->peak_live_bytes, (unsigned long long)v->allocs,
            (unsigned long long)v->frees, (unsigned long long)v->alloc_bytes);
    lk_json_key(out, &f, "survival");
    lk_json_num(out, v->survival >= 0 ? v->survival : NAN, 6);
    lk_json_key(out, &f, "survival_hi");
    lk_json_num(out, v->survival >= 0 ? v->survival_hi : NAN, 6);
    lk_json_key(out, &f, "survival_early");
    lk_json_num(out, v->survival_early >= 0 ? v->survival_early : NAN, 6);
    fprintf(out, ",\"early\":[%llu,%llu,%llu],\"from_cohorts\":%s",
            (unsigned long long)v->early_born, (unsigned long long)v->early_live_mid,
            (unsigned long long)v->early_live, v->survival_from_cohorts ? "true" : "false");
    size_t total = 0, n = 0;
    if (s->has_stack)
        n = lk_symbolize_stack(c->sym, s, 1, c->fr, LK_HTML_FRAMES, &total);
    lk_json_key(out, &f, "frames_total");
    lk_json_u64(out, total);
    lk_json_key(out, &f, "frames");
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "," : "", out);
        frame_json(out, &c->fr[i]);
    }
    fputc(']', out);
    /* Cohorts at the end: per bucket, its time span, born, live. */
    struct lk_model_cohorts co;
    lk_json_key(out, &f, "cohorts");
    fputc('[', out);
    if (m->nsnaps && lk_model_cohorts(s, m->nsnaps - 1, &co)) {
        double per = (double)m->info.period_ms / 1000.0;
        for (size_t k = 0; k < co.n; k++) {
            double t0 = (double)lk_cohort_start((unsigned)k) * per;
            double t1 = (double)lk_cohort_start((unsigned)k + 1) * per;
            fprintf(out, "%s[", k ? "," : "");
            lk_json_num(out, t0, 6);
            fputc(',', out);
            lk_json_num(out, t1, 6);
            fprintf(out, ",%llu,%llu,%llu]", (unsigned long long)co.born[k],
                    (unsigned long long)co.live_count[k], (unsigned long long)co.live_bytes[k]);
        }
    }
    fputc(']', out);
    lk_json_key(out, &f, "series");
    lk_model_values(s, LK_SITE_LIVE_BYTES, c->idx, c->npts, c->buf);
    jseries(out, c->buf, c->npts);
    if (v->reach.scanned && v->reach.scan < m->nscans) {
        lk_json_key(out, &f, "scan");
        lk_json_site_scan(out, m, v, c->sym, c->content);
    }
    fputc('}', out);
}

static int
sites(struct ctx *c)
{
    FILE *out = c->out;
    if (pick_sites(c) < 0)
        return -ENOMEM;
    fputs(",\"sites\":[", out);
    for (size_t i = 0; i < c->ndrawn; i++) {
        fputs(i ? ",\n" : "\n", out);
        site_json(c, c->drawn[i], (int)i);
    }
    fputs("],\"others\":", out);
    uint64_t *sum = calloc(c->npts ? c->npts : 1, sizeof *sum);
    if (!sum)
        return -ENOMEM;
    size_t nothers = 0;
    for (size_t i = 0; i < c->m->nsites; i++) {
        if (c->color_of[i] >= 0)
            continue;
        nothers++;
        lk_model_values(&c->m->sites[i], LK_SITE_LIVE_BYTES, c->idx, c->npts, c->buf);
        for (size_t k = 0; k < c->npts; k++)
            sum[k] += c->buf[k];
    }
    fprintf(out, "{\"n\":%zu,\"series\":", nothers);
    jseries(out, sum, c->npts);
    fputc('}', out);
    free(sum);
    return 0;
}

/* The icicle tree of live bytes at the end (growth = 0) or of growth
 * since the first snapshot (growth = 1). Labels are "function\tfile:line
 * [module]" so that two lines of one function stay apart. */
static int
flame(struct ctx *c, int growth)
{
    const struct lk_model *m = c->m;
    struct tree t = {0};
    size_t last = m->nsnaps - 1;
    int rc = -ENOMEM;
    double *rate = calloc(m->nsites ? m->nsites : 1, sizeof *rate);
    long root_label = label_id(&c->lab, "all\t");
    if (!rate || root_label < 0 || tree_add(&t, (uint32_t)root_label) < 0)
        goto out;
    for (size_t i = 0; i < c->a->nsites; i++)
        if (c->a->sites[i].site < m->nsites) {
            const struct lk_site_verdict *v = &c->a->sites[i];
            rate[v->site] = v->fitted ? v->rate
                            : c->a->proc.duration_s > 0
                                ? ((double)v->live_bytes_end - (double)v->live_bytes_start) /
                                      c->a->proc.duration_s
                                : 0;
        }
    for (size_t si = 0; si < m->nsites; si++) {
        const struct lk_model_site *s = &m->sites[si];
        int64_t bytes = (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, last);
        int64_t count = (int64_t)lk_model_value(s, LK_SITE_LIVE_COUNT, last);
        if (growth) {
            bytes -= (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, 0);
            count -= (int64_t)lk_model_value(s, LK_SITE_LIVE_COUNT, 0);
        }
        if (bytes <= 0)
            continue;
        if (count < 0)
            count = 0;
        size_t nf =
            s->has_stack ? lk_symbolize_stack(c->sym, s, 1, c->fr, LK_FOLDED_MAX_FRAMES, NULL) : 0;
        size_t at = 0;
        t.n[0].bytes += (uint64_t)bytes;
        t.n[0].count += (uint64_t)count;
        t.n[0].rate += rate[si];
        for (size_t k = nf; k-- > 0;) {
            const struct lk_sym_frame *f = &c->fr[k];
            char name[512], label[1200];
            const char *mod = f->module ? strrchr(f->module, '/') : NULL;
            mod = mod ? mod + 1 : f->module;
            lk_folded_frame_name(name, sizeof name, f);
            if (f->file)
                snprintf(label, sizeof label, "%s\t%s:%u [%s]%s", name, f->file, f->line,
                         mod ? mod : "?", f->inlined ? " (inlined)" : "");
            else
                snprintf(label, sizeof label, "%s\t[%s]", name, mod ? mod : "?");
            long id = label_id(&c->lab, label);
            long ch = id < 0 ? -1 : tree_child(&t, at, (uint32_t)id);
            if (ch < 0)
                goto out;
            at = (size_t)ch;
            t.n[at].bytes += (uint64_t)bytes;
            t.n[at].count += (uint64_t)count;
            t.n[at].rate += rate[si];
        }
        if (at && c->color_of[si] >= 0)
            t.n[at].color = c->color_of[si];
    }
    uint64_t min = t.n[0].bytes / LK_HTML_FLAME_MIN;
    fprintf(c->out, ",\"%s\":", growth ? "flame_growth" : "flame_live");
    tree_json(c->out, &t, 0, min ? min : 1, 0);
    rc = 0;
out:
    free(t.n);
    free(rate);
    return rc;
}

static void
modules(struct ctx *c)
{
    FILE *out = c->out;
    fputs(",\"modules\":[", out);
    for (size_t i = 0; i < c->m->nmodules; i++) {
        const struct lk_model_module *mod = &c->m->modules[i];
        char bid[129] = "", base[32];
        for (size_t k = 0; mod->build_id && k < mod->build_id_len && k < 64; k++)
            snprintf(bid + 2 * k, 3, "%02x", mod->build_id[k]);
        snprintf(base, sizeof base, "0x%llx", (unsigned long long)mod->base);
        fprintf(out, "%s[", i ? "," : "");
        lk_json_str(out, mod->path[0] ? mod->path : "[vdso]");
        fputc(',', out);
        lk_json_str(out, bid);
        fputc(',', out);
        lk_json_str(out, base);
        fputc(',', out);
        lk_json_num(out, mod->gone_ns == UINT64_MAX ? NAN : (double)mod->gone_ns / 1e9, 6);
        fputc(']', out);
    }
    fputs("],\"notes\":[", out);
    for (size_t i = 0; i < c->m->nnotes; i++) {
        fprintf(out, "%s[%u,", i ? "," : "", c->m->notes[i].level);
        lk_json_num(out, (double)c->m->notes[i].time_ns / 1e9, 6);
        fputc(',', out);
        lk_json_str(out, c->m->notes[i].text);
        fputc(']', out);
    }
    fputs("],\"warnings\":[", out);
    char wb[256];
    const char *w;
    size_t k = 0;
    for (size_t i = 0; (w = lk_render_recording_warning(c->m, i, wb, sizeof wb)); i++, k++) {
        fputs(k ? "," : "", out);
        lk_json_str(out, w);
    }
    for (size_t i = 0; c->sym && (w = lk_symbolize_warning(c->sym, i)); i++, k++) {
        fputs(k ? "," : "", out);
        lk_json_str(out, w);
    }
    fputc(']', out);
}

/* A watch recording's mapping kinds and verdict. */
static int
watch_part(struct ctx *c)
{
    const struct lk_model *m = c->m;
    struct lk_watch_verdict w;
    uint64_t *maps = calloc(m->nsnaps * LK_MAP_NKINDS + 1, sizeof *maps);
    if (!maps || lk_watch_analyze(m, c->a, &w) < 0) {
        free(maps);
        return -ENOMEM;
    }
    FILE *out = c->out;
    fputs(",\"watch\":{\"summary\":", out);
    lk_json_str(out, w.summary);
    fprintf(out, ",\"growing\":%s,\"grows_most\":", w.growing ? "true" : "false");
    lk_json_str(out, w.grows_most >= 0 ? lk_map_kind_name((enum lk_map_kind)w.grows_most) : NULL);
    fputs(",\"share\":", out);
    lk_json_num(out, w.share, 6);
    fputs(",\"kinds\":[", out);
    if (lk_watch_maps(m, maps))
        for (int k = 0; k < LK_MAP_NKINDS; k++) {
            for (size_t i = 0; i < c->npts; i++)
                c->buf[i] = maps[c->idx[i] * LK_MAP_NKINDS + (size_t)k];
            fprintf(out, "%s{\"name\":", k ? "," : "");
            lk_json_str(out, lk_map_kind_name((enum lk_map_kind)k));
            fputs(",\"trend\":", out);
            jtrend(out, &w.kind[k].t);
            fputs(",\"v\":", out);
            jseries(out, c->buf, c->npts);
            fputc('}', out);
        }
    fputs("]}", out);
    free(maps);
    return 0;
}

int
lk_render_html_data(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                    struct lk_symbolizer *sym, int content)
{
    struct ctx c;
    int rc = -ENOMEM;
    memset(&c, 0, sizeof c);
    c.out = out;
    c.m = m;
    c.a = a;
    c.sym = sym;
    c.content = content;
    size_t n = m->nsnaps ? m->nsnaps : 1;
    c.idx = calloc(n < LK_HTML_POINTS ? n : LK_HTML_POINTS, sizeof *c.idx);
    c.buf = calloc(n < LK_HTML_POINTS ? n : LK_HTML_POINTS, sizeof *c.buf);
    c.fr = calloc(LK_FOLDED_MAX_FRAMES, sizeof *c.fr);
    if (!c.idx || !c.buf || !c.fr)
        goto out;
    c.npts = m->nsnaps ? lk_trend_pick(m->nsnaps, LK_HTML_POINTS, c.idx) : 0;

    fputs("{\"v\":1,\"meta\":", out);
    meta(&c);
    fputs(",\"verdict\":", out);
    verdict(&c);
    memory(&c);
    if (sites(&c) < 0)
        goto out;
    if (m->nsnaps && (flame(&c, 0) < 0 || flame(&c, 1) < 0))
        goto out;
    fputs(",\"labels\":[", out);
    for (size_t i = 0; i < c.lab.n; i++) {
        fputs(i ? "," : "", out);
        lk_json_str(out, c.lab.s[i]);
    }
    fputc(']', out);
    modules(&c);
    fputs(",\"scans\":", out);
    lk_json_scans(out, m);
    fprintf(out, ",\"content\":{\"recorded\":%zu,\"shown\":%s}", m->nsamples,
            content && m->nsamples ? "true" : "false");
    if (lk_watch_is_watch(m) && watch_part(&c) < 0)
        goto out;
    fputs("}", out);
    fflush(out);
    rc = ferror(out) ? -EIO : 0;
out:
    free(c.idx);
    free(c.buf);
    free(c.fr);
    free(c.drawn);
    free(c.color_of);
    labels_free(&c.lab);
    return rc;
}

int
lk_render_html(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
               struct lk_symbolizer *sym, int content)
{
    char line[512];
    lk_render_summary(line, sizeof line, m, a);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
          "<title>leakscope: ",
          out);
    const char *exe = (const char *)m->info.exe.p;
    size_t exelen = m->info.exe.n;
    const char *slash = exe ? memrchr(exe, '/', exelen) : NULL;
    if (slash) {
        exelen -= (size_t)(slash + 1 - exe);
        exe = slash + 1;
    }
    lk_html_text(out, exe ? exe : "", exe ? exelen : 0);
    fputs(" ", out);
    lk_html_text(out, lk_verdict_name(a->verdict), strlen(lk_verdict_name(a->verdict)));
    fprintf(out, "</title>\n<style>%s</style></head>\n<body>\n", lk_html_css);
    /* The verdict without scripts; the renderer replaces #app's content. */
    fputs("<div id=\"app\"><h1 class=\"verdict\">", out);
    lk_html_text(out, line, strlen(line));
    fputs("</h1><p>This page draws its charts with JavaScript.</p></div>\n"
          "<div id=\"tip\" class=\"tip\" hidden></div>\n"
          "<script id=\"lk-data\" type=\"application/json\">",
          out);
    int rc = lk_render_html_data(out, m, a, sym, content);
    if (rc < 0)
        return rc;
    fprintf(out, "</script>\n<script>%s</script>\n</body></html>\n", lk_html_js);
    fflush(out);
    return ferror(out) ? -EIO : 0;
}
