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
#include "text.h"

/* ---- escaping -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid;
 * *cp gets the code point. */
static size_t
utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t min, c;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, min = 0x80, c = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, min = 0x800, c = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

void
lk_html_json_string(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        uint32_t cp;
        if (ch == '"' || ch == '\\') {
            fputc('\\', out);
            fputc(ch, out);
            i++;
        } else if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == '&') {
            fprintf(out, "\\u%04x", ch);
            i++;
        } else {
            size_t k = utf8_seq(p + i, n - i, &cp);
            if (k == 0)
                fputs("\\ufffd", out), k = 1;
            else if (cp == 0x2028 || cp == 0x2029)
                fprintf(out, "\\u%04x", (unsigned)cp);
            else
                fwrite(p + i, 1, k, out);
            i += k;
        }
    }
    fputc('"', out);
}

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
jstr(FILE *out, const char *s)
{
    if (s)
        lk_html_json_string(out, s, strlen(s));
    else
        fputs("null", out);
}

static void
jnum(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.6g", v);
    else
        fputs("null", out);
}

static void
ju64(FILE *out, uint64_t v)
{
    fprintf(out, "%llu", (unsigned long long)v);
}

static void
jkey(FILE *out, int *first, const char *k)
{
    fprintf(out, "%s\"%s\":", *first ? "" : ",", k);
    *first = 0;
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
    jnum(out, t->slope);
    fputc(',', out);
    jnum(out, t->slope_lo);
    fputc(',', out);
    jnum(out, t->slope_hi);
    fputc(',', out);
    jnum(out, t->p);
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
    jnum(out, n->rate);
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
};

static void
meta(struct ctx *c)
{
    FILE *out = c->out;
    const struct lk_model *m = c->m;
    int f = 1;
    char ver[32];
    fputc('{', out);
    jkey(out, &f, "file");
    jstr(out, m->name);
    jkey(out, &f, "format_version");
    snprintf(ver, sizeof ver, "%u.%u", m->major, m->minor);
    jstr(out, ver);
    jkey(out, &f, "leakscope_version");
    jstr(out, LK_VERSION);
    jkey(out, &f, "exe");
    lk_html_json_string(out, (const char *)m->info.exe.p, m->info.exe.n);
    jkey(out, &f, "cmdline");
    fputc('[', out);
    for (size_t i = 0, start = 0, k = 0; i < m->info.cmdline.n; i++)
        if (m->info.cmdline.p[i] == 0) {
            fputs(k++ ? "," : "", out);
            lk_html_json_string(out, (const char *)m->info.cmdline.p + start, i - start);
            start = i + 1;
        }
    fputc(']', out);
    jkey(out, &f, "pid");
    ju64(out, m->info.pid);
    jkey(out, &f, "ppid");
    ju64(out, m->info.ppid);
    jkey(out, &f, "arch");
    lk_html_json_string(out, (const char *)m->info.arch.p, m->info.arch.n);
    jkey(out, &f, "agent_version");
    lk_html_json_string(out, (const char *)m->info.agent_version.p, m->info.agent_version.n);
    jkey(out, &f, "start_realtime_ns");
    ju64(out, m->info.start_realtime_ns);
    jkey(out, &f, "period_ms");
    ju64(out, m->info.period_ms);
    jkey(out, &f, "depth");
    ju64(out, m->info.depth);
    jkey(out, &f, "sample_bytes");
    ju64(out, m->info.sample_bytes);
    jkey(out, &f, "page_size");
    ju64(out, m->info.page_size);
    jkey(out, &f, "flags");
    fprintf(out, "{\"not_interposed\":%s,\"fork_child\":%s,\"tracks_mmap\":%s,\"watch\":%s}",
            m->info.flags & LK_INFO_NOT_INTERPOSED ? "true" : "false",
            m->info.flags & LK_INFO_FORK_CHILD ? "true" : "false",
            m->info.flags & LK_INFO_TRACKS_MMAP ? "true" : "false",
            lk_watch_is_watch(m) ? "true" : "false");
    jkey(out, &f, "snapshots");
    ju64(out, m->nsnaps);
    jkey(out, &f, "duration_s");
    jnum(out, c->a->proc.duration_s);
    jkey(out, &f, "sites");
    ju64(out, m->nsites);
    jkey(out, &f, "torn");
    fputs(m->torn ? "true" : "false", out);
    jkey(out, &f, "end");
    if (m->has_end) {
        static const char *const why[] = {"exit", "signal", "exec", "agent"};
        fputs("{\"reason\":", out);
        jstr(out, m->end.reason < 4 ? why[m->end.reason] : "unknown");
        fprintf(out, ",\"code\":%llu,\"time_s\":", (unsigned long long)m->end.code);
        jnum(out, (double)m->end.time_ns / 1e9);
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
    jkey(out, &f, "verdict");
    jstr(out, lk_verdict_name(a->verdict));
    jkey(out, &f, "summary");
    lk_render_summary(line, sizeof line, c->m, a);
    jstr(out, line);
    jkey(out, &f, "verdict_time_s");
    jnum(out, a->verdict != LK_VERDICT_UNKNOWN ? a->verdict_time_s : NAN);
    jkey(out, &f, "verdict_snapshots");
    ju64(out, a->verdict_snaps);
    jkey(out, &f, "leak_rate");
    jnum(out, a->leak_rate);
    jkey(out, &f, "growing_rate");
    jnum(out, a->growing_rate);
    jkey(out, &f, "material_bytes");
    ju64(out, a->material_bytes);
    jkey(out, &f, "counts");
    fputc('{', out);
    for (int v = 0; v <= LK_VERDICT_UNKNOWN; v++)
        fprintf(out, "%s\"%s\":%zu", v ? "," : "", lk_verdict_name((enum lk_verdict)v),
                a->counts[v]);
    fputc('}', out);
    jkey(out, &f, "process");
    fputc('{', out);
    int g = 1;
    jkey(out, &g, "verdict");
    jstr(out, lk_proc_verdict_name(sp->verdict));
    jkey(out, &g, "why");
    jstr(out, sp->why);
    jkey(out, &g, "advice");
    fputc('[', out);
    for (size_t i = 0; i < sp->nadvice; i++) {
        fputs(i ? "," : "", out);
        jstr(out, sp->advice[i]);
    }
    fputc(']', out);
    jkey(out, &g, "rss");
    fprintf(out, "{\"start\":%llu,\"end\":%llu,\"peak\":%llu,\"trend\":",
            (unsigned long long)a->proc.rss_start, (unsigned long long)a->proc.rss_end,
            (unsigned long long)a->proc.rss_peak);
    jtrend(out, &a->proc.rss);
    fputc('}', out);
    jkey(out, &g, "heap");
    fprintf(out, "{\"start\":%llu,\"end\":%llu,\"peak\":%llu,\"trend\":",
            (unsigned long long)a->proc.heap_start, (unsigned long long)a->proc.heap_end,
            (unsigned long long)a->proc.heap_peak);
    jtrend(out, &a->proc.heap);
    fputc('}', out);
    jkey(out, &g, "allocs");
    ju64(out, a->proc.allocs);
    jkey(out, &g, "frees");
    ju64(out, a->proc.frees);
    jkey(out, &g, "threads");
    ju64(out, sp->threads);
    jkey(out, &g, "limit");
    fputs("{\"kind\":", out);
    jstr(out, sp->limit_kind == LK_LIMIT_CGROUP     ? "cgroup"
              : sp->limit_kind == LK_LIMIT_PHYSICAL ? "physical"
                                                    : NULL);
    fprintf(out, ",\"limit\":%llu,\"usage\":%llu,\"rate\":", (unsigned long long)sp->limit,
            (unsigned long long)sp->usage);
    jnum(out, sp->rss_rate);
    fputs(",\"seconds\":", out);
    jnum(out, sp->time_to_limit_s >= 0 ? sp->time_to_limit_s : NAN);
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
        jstr(out, lk_split_part_name((enum lk_split_part)p));
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
    jstr(out, lk_folded_frame_name(name, sizeof name, f));
    fputc(',', out);
    jstr(out, f->file);
    fprintf(out, ",%u,", f->line);
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;
    jstr(out, mod ? mod + 1 : f->module);
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
    jkey(out, &f, "id");
    ju64(out, v->id);
    jkey(out, &f, "color");
    fprintf(out, "%d", color);
    jkey(out, &f, "verdict");
    jstr(out, lk_verdict_name(v->verdict));
    jkey(out, &f, "why");
    jstr(out, v->why);
    jkey(out, &f, "kind");
    jstr(out, s->kind == LK_KIND_MMAP ? "anonymous mmap" : "heap");
    jkey(out, &f, "fitted");
    fputs(v->fitted ? "true" : "false", out);
    jkey(out, &f, "rate");
    jnum(out, v->rate);
    jkey(out, &f, "ci");
    fputc('[', out);
    jnum(out, v->fitted ? v->rate_lo : NAN);
    fputc(',', out);
    jnum(out, v->fitted ? v->rate_hi : NAN);
    fputc(']', out);
    jkey(out, &f, "p");
    jnum(out, v->fitted ? v->trend.p : NAN);
    jkey(out, &f, "tail");
    jnum(out, v->fitted ? v->tail_rate : NAN);
    jkey(out, &f, "vt");
    jnum(out, v->verdict_time_s >= 0 && v->verdict != LK_VERDICT_UNKNOWN ? v->verdict_time_s : NAN);
    fprintf(out,
            ",\"live\":[%llu,%llu],\"blocks\":[%llu,%llu],\"peak\":%llu,\"allocs\":%llu,"
            "\"frees\":%llu,\"alloc_bytes\":%llu",
            (unsigned long long)v->live_bytes_start, (unsigned long long)v->live_bytes_end,
            (unsigned long long)v->live_count_start, (unsigned long long)v->live_count_end,
            (unsigned long long)v->peak_live_bytes, (unsigned long long)v->allocs,
            (unsigned long long)v->frees, (unsigned long long)v->alloc_bytes);
    jkey(out, &f, "survival");
    jnum(out, v->survival >= 0 ? v->survival : NAN);
    jkey(out, &f, "survival_hi");
    jnum(out, v->survival >= 0 ? v->survival_hi : NAN);
    jkey(out, &f, "survival_early");
    jnum(out, v->survival_early >= 0 ? v->survival_early : NAN);
    fprintf(out, ",\"early\":[%llu,%llu,%llu],\"from_cohorts\":%s",
            (unsigned long long)v->early_born, (unsigned long long)v->early_live_mid,
            (unsigned long long)v->early_live, v->survival_from_cohorts ? "true" : "false");
    size_t total = 0, n = 0;
    if (s->has_stack)
        n = lk_symbolize_stack(c->sym, s, 1, c->fr, LK_HTML_FRAMES, &total);
    jkey(out, &f, "frames_total");
    ju64(out, total);
    jkey(out, &f, "frames");
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "," : "", out);
        frame_json(out, &c->fr[i]);
    }
    fputc(']', out);
    /* Cohorts at the end: per bucket, its time span, born, live. */
    struct lk_model_cohorts co;
    jkey(out, &f, "cohorts");
    fputc('[', out);
    if (m->nsnaps && lk_model_cohorts(s, m->nsnaps - 1, &co)) {
        double per = (double)m->info.period_ms / 1000.0;
        for (size_t k = 0; k < co.n; k++) {
            double t0 = (double)lk_cohort_start((unsigned)k) * per;
            double t1 = (double)lk_cohort_start((unsigned)k + 1) * per;
            fprintf(out, "%s[", k ? "," : "");
            jnum(out, t0);
            fputc(',', out);
            jnum(out, t1);
            fprintf(out, ",%llu,%llu,%llu]", (unsigned long long)co.born[k],
                    (unsigned long long)co.live_count[k], (unsigned long long)co.live_bytes[k]);
        }
    }
    fputc(']', out);
    jkey(out, &f, "series");
    lk_model_values(s, LK_SITE_LIVE_BYTES, c->idx, c->npts, c->buf);
    jseries(out, c->buf, c->npts);
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
        jstr(out, mod->path[0] ? mod->path : "[vdso]");
        fputc(',', out);
        jstr(out, bid);
        fputc(',', out);
        jstr(out, base);
        fputc(',', out);
        jnum(out, mod->gone_ns == UINT64_MAX ? NAN : (double)mod->gone_ns / 1e9);
        fputc(']', out);
    }
    fputs("],\"notes\":[", out);
    for (size_t i = 0; i < c->m->nnotes; i++) {
        fprintf(out, "%s[%u,", i ? "," : "", c->m->notes[i].level);
        jnum(out, (double)c->m->notes[i].time_ns / 1e9);
        fputc(',', out);
        jstr(out, c->m->notes[i].text);
        fputc(']', out);
    }
    fputs("],\"warnings\":[", out);
    char wb[256];
    const char *w;
    size_t k = 0;
    for (size_t i = 0; (w = lk_render_recording_warning(c->m, i, wb, sizeof wb)); i++, k++) {
        fputs(k ? "," : "", out);
        jstr(out, w);
    }
    for (size_t i = 0; c->sym && (w = lk_symbolize_warning(c->sym, i)); i++, k++) {
        fputs(k ? "," : "", out);
        jstr(out, w);
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
    jstr(out, w.summary);
    fprintf(out, ",\"growing\":%s,\"grows_most\":", w.growing ? "true" : "false");
    jstr(out, w.grows_most >= 0 ? lk_map_kind_name((enum lk_map_kind)w.grows_most) : NULL);
    fputs(",\"share\":", out);
    jnum(out, w.share);
    fputs(",\"kinds\":[", out);
    if (lk_watch_maps(m, maps))
        for (int k = 0; k < LK_MAP_NKINDS; k++) {
            for (size_t i = 0; i < c->npts; i++)
                c->buf[i] = maps[c->idx[i] * LK_MAP_NKINDS + (size_t)k];
            fprintf(out, "%s{\"name\":", k ? "," : "");
            jstr(out, lk_map_kind_name((enum lk_map_kind)k));
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
                    struct lk_symbolizer *sym)
{
    struct ctx c;
    int rc = -ENOMEM;
    memset(&c, 0, sizeof c);
    c.out = out;
    c.m = m;
    c.a = a;
    c.sym = sym;
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
        jstr(out, c.lab.s[i]);
    }
    fputc(']', out);
    modules(&c);
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
               struct lk_symbolizer *sym)
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
    int rc = lk_render_html_data(out, m, a, sym);
    if (rc < 0)
        return rc;
    fprintf(out, "</script>\n<script>%s</script>\n</body></html>\n", lk_html_js);
    fflush(out);
    return ferror(out) ? -EIO : 0;
}
