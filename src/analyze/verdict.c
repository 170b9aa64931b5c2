/* The verdict engine: per site, a Theil–Sen slope of live bytes with Sen's
 * interval, the Mann–Kendall test, the slope over the last third of the run
 * and the survival of early cohorts (with a confidence bound) decide
 * between LEAK, GROWING, BOUNDED, TEMPORARY and STABLE (docs/VERDICTS.md);
 * the same rules on up to LK_VERDICT_PREFIXES prefixes of the run say how
 * early each verdict was reached. Only sites whose growth is material are
 * fitted, so a recording with thousands of sites costs a pass over its
 * change lists per prefix plus a few bounded fits. Pure function of the
 * model; allocates its result and transient arrays. */
#include "verdict.h"

#include "reach.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *
lk_verdict_name(enum lk_verdict v)
{
    switch (v) {
    case LK_VERDICT_LEAK:
        return "LEAK";
    case LK_VERDICT_GROWING:
        return "GROWING";
    case LK_VERDICT_BOUNDED:
        return "BOUNDED";
    case LK_VERDICT_STABLE:
        return "STABLE";
    case LK_VERDICT_TEMPORARY:
        return "TEMPORARY";
    case LK_VERDICT_UNKNOWN:
        return "UNKNOWN";
    }
    return "UNKNOWN";
}

int
lk_verdict_interesting(enum lk_verdict v)
{
    return v == LK_VERDICT_LEAK || v == LK_VERDICT_GROWING || v == LK_VERDICT_BOUNDED;
}

/* Scratch shared by the fits of one analysis. */
struct scratch {
    size_t idx[LK_TREND_MAX_POINTS];
    uint64_t v[LK_TREND_MAX_POINTS];
    double x[LK_TREND_MAX_POINTS];
    double y[LK_TREND_MAX_POINTS];
    size_t max_points; /* points per fit: LK_TREND_MAX_POINTS, fewer on prefixes */
};

/* Points per fit when re-judging prefixes for the time to verdict: 24
 * prefixes of every material site at 300 points (44,850 pairwise slopes each)
 * made `report` on 3,000 busy sites over 6 hours take 48 s; at 100 points
 * (4,950 slopes) the prefixes cost about a ninth. The final verdict keeps
 * LK_TREND_MAX_POINTS. */
#define LK_PREFIX_POINTS 100

/* Fits the site's field over snapshots [from, to). */
static int
fit_site(const struct lk_model *m, const struct lk_model_site *s, size_t from, size_t to,
         struct scratch *w, struct lk_trend *out)
{
    size_t n = lk_model_pick(m, from, to, w->max_points, w->idx);
    lk_model_values(s, LK_SITE_LIVE_BYTES, w->idx, n, w->v);
    for (size_t i = 0; i < n; i++) {
        w->x[i] = lk_model_time_s(m, w->idx[i]);
        w->y[i] = (double)w->v[i];
    }
    return lk_trend_fit(w->x, w->y, n, out);
}

static int
fit_proc(const struct lk_model *m, unsigned field, struct scratch *w, struct lk_trend *out)
{
    size_t n = m->nsnaps ? lk_model_pick(m, 0, m->nsnaps, LK_TREND_MAX_POINTS, w->idx) : 0;
    for (size_t i = 0; i < n; i++) {
        w->x[i] = lk_model_time_s(m, w->idx[i]);
        w->y[i] = (double)m->snaps[w->idx[i]].proc[field];
    }
    return lk_trend_fit(w->x, w->y, n, out);
}

/* Live blocks of the cohort buckets that end by period q (or, with
 * starts, that start by it), from c. */
static void
early_sum(const struct lk_model_cohorts *c, uint64_t q, int starts, uint64_t *born, uint64_t *live)
{
    *born = *live = 0;
    for (unsigned k = 0; k < c->n; k++) {
        int early = starts ? lk_cohort_start(k) <= q : lk_cohort_start(k + 1) - 1 <= q;
        if (!early)
            continue;
        *born += c->born[k];
        *live += c->live_count[k] < c->born[k] ? c->live_count[k] : c->born[k];
    }
}

/* Survival of the early cohorts: of the blocks born in the first quarter of
 * the prefix's periods that were still live at its middle, the part still
 * live at its end. By the middle, blocks that were merely in flight at
 * birth (a request being served, a connection still open) have had a
 * quarter of the run to die, so what is left is what the site keeps; a
 * leak's kept blocks never die afterwards (survival 1), a cache's or a
 * queue's old entries go (survival < 1). The one-sided 99% Wilson upper
 * bound of that proportion is kept too. Falls back to buckets that start
 * in the first quarter, then to live_count / allocs. docs/VERDICTS.md. */
static void
survival(const struct lk_model *m, const struct lk_model_site *s, size_t n,
         struct lk_site_verdict *v)
{
    struct lk_model_cohorts now, mid;
    uint64_t last = m->snaps[n - 1].period, q = last / 4;
    size_t lo = 0, hi = n - 1; /* the first snapshot at or after period last / 2 */
    while (lo < hi) {
        size_t k = lo + (hi - lo) / 2;
        if (m->snaps[k].period < last / 2)
            lo = k + 1;
        else
            hi = k;
    }
    lk_model_cohorts(s, n - 1, &now);
    lk_model_cohorts(s, lo, &mid);
    uint64_t born = 0, live = 0, born_mid = 0, live_mid = 0;
    for (int starts = 0; starts < 2 && !born; starts++) {
        early_sum(&now, q, starts, &born, &live);
        early_sum(&mid, q, starts, &born_mid, &live_mid);
    }
    v->early_born = born;
    v->early_live = live;
    v->early_live_mid = live_mid;
    if (born) {
        v->survival_early = (double)live / (double)born;
        v->survival_from_cohorts = 1;
        if (!live_mid) {
            v->survival = v->survival_hi = 0;
            return;
        }
        double x = (double)(live < live_mid ? live : live_mid), nn = (double)live_mid;
        double p = x / nn, z = LK_VERDICT_Z99, z2 = z * z;
        double up =
            (p + z2 / (2 * nn) + z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn))) / (1 + z2 / nn);
        v->survival = p;
        v->survival_hi = up < 1 ? up : 1;
    } else if (v->allocs) {
        uint64_t lc = v->live_count_end < v->allocs ? v->live_count_end : v->allocs;
        v->survival = v->survival_hi = v->survival_early = (double)lc / (double)v->allocs;
    } else {
        v->survival = v->survival_hi = v->survival_early = -1;
    }
}

/* Whether the early allocations are kept: their survival since the middle
 * could be 1 (its upper bound reaches LK_VERDICT_SURVIVAL_LEAK) and is not
 * far below (point estimate at least LK_VERDICT_SURVIVAL_MIN). Without
 * cohorts, the estimate alone must reach the bar. */
static int
early_kept(const struct lk_site_verdict *v)
{
    if (!v->survival_from_cohorts)
        return v->survival >= LK_VERDICT_SURVIVAL_LEAK;
    return v->early_live_mid > 0 && v->survival >= LK_VERDICT_SURVIVAL_MIN &&
           v->survival_hi >= LK_VERDICT_SURVIVAL_LEAK;
}

/* Judges site i over the prefix of n snapshots. */
static int
judge(const struct lk_model *m, size_t i, size_t n, uint64_t material, struct scratch *w,
      struct lk_site_verdict *v)
{
    const struct lk_model_site *s = &m->sites[i];
    size_t last = n ? n - 1 : 0;
    double dur = n ? lk_model_time_s(m, last) - lk_model_time_s(m, 0) : 0;
    memset(v, 0, sizeof *v);
    v->site = i;
    v->id = s->id;
    v->verdict_time_s = -1;
    v->live_bytes_start = n ? lk_model_value(s, LK_SITE_LIVE_BYTES, 0) : 0;
    v->live_bytes_end = n ? lk_model_value(s, LK_SITE_LIVE_BYTES, last) : 0;
    v->live_count_start = n ? lk_model_value(s, LK_SITE_LIVE_COUNT, 0) : 0;
    v->live_count_end = n ? lk_model_value(s, LK_SITE_LIVE_COUNT, last) : 0;
    v->allocs = n ? lk_model_value(s, LK_SITE_ALLOCS, last) : 0;
    v->frees = n ? lk_model_value(s, LK_SITE_FREES, last) : 0;
    v->alloc_bytes = n ? lk_model_value(s, LK_SITE_ALLOC_BYTES, last) : 0;
    if (n == m->nsnaps) {
        v->peak_live_bytes = s->peak_live_bytes;
    } else {
        for (size_t c = 0; c < s->nchanges && s->changes[c].snap < n; c++)
            if (s->changes[c].f[LK_SITE_LIVE_BYTES] > v->peak_live_bytes)
                v->peak_live_bytes = s->changes[c].f[LK_SITE_LIVE_BYTES];
    }
    double growth = (double)v->live_bytes_end - (double)v->live_bytes_start;
    v->rate = v->rate_lo = v->rate_hi = dur > 0 ? growth / dur : 0;
    if (n)
        survival(m, s, n, v);

    if (n < LK_VERDICT_MIN_SNAPS) {
        v->verdict = LK_VERDICT_UNKNOWN;
        v->why = "not enough data yet";
        return 0;
    }
    /* The agent writes a site only when its live bytes moved by the larger
     * of 1 KiB and 1/64 of themselves (docs/FORMAT.md, 1.2): its series is a
     * staircase of such steps, and a single step of noise reads as a
     * perfectly significant trend (all pairs across it rise, the rest tie).
     * Growth counts only above LK_VERDICT_QUANTA such steps: measured, a
     * churning pool of 3,000 random-sized objects (1.5 MB, +-1% noise)
     * otherwise came out BOUNDED from one 23 KB step. */
    uint64_t quantum = v->peak_live_bytes / 64 > 1024 ? v->peak_live_bytes / 64 : 1024;
    if (material < LK_VERDICT_QUANTA * quantum)
        material = LK_VERDICT_QUANTA * quantum;
    if (growth >= (double)material && dur > 0) {
        if (fit_site(m, s, 0, n, w, &v->trend) < 0)
            return -ENOMEM;
        struct lk_trend tail;
        size_t from = lk_model_tail_start(m, n);
        if (fit_site(m, s, from, n, w, &tail) < 0)
            return -ENOMEM;
        v->fitted = 1;
        v->rate = v->trend.slope;
        v->rate_lo = v->trend.slope_lo;
        v->rate_hi = v->trend.slope_hi;
        v->tail_rate = tail.slope;
        if (m->info.sample_bytes) {
            /* A sampled site's live bytes are a Poisson estimate with
             * variance about S * live: widen both intervals by the noise
             * of the difference of the end points over the span. */
            double sb = (double)m->info.sample_bytes;
            double lv = (double)v->live_bytes_start + (double)v->live_bytes_end + sb;
            double h = LK_TREND_Z95 * sqrt(sb * lv);
            double tdur = lk_model_time_s(m, last) - lk_model_time_s(m, from);
            v->rate_lo -= h / dur;
            v->rate_hi += h / dur;
            v->trend.slope_lo = v->rate_lo;
            v->trend.slope_hi = v->rate_hi;
            tail.slope_lo -= tdur > 0 ? h / tdur : tail.slope_lo;
        }
        /* Growth counts when the whole run's trend is significant and its
         * slope bounded away from 0, or when the last third alone is (a
         * leak that started late). It is still going on when the last
         * third's slope is a material part of the whole run's and the last
         * third has a rising trend of its own (p < LK_VERDICT_TAIL_P): an
         * early step followed by noise does not pass for growth. */
        double tail_growth =
            (double)v->live_bytes_end - (double)lk_model_value(s, LK_SITE_LIVE_BYTES, from);
        int sig_whole = v->trend.p < LK_VERDICT_P_MAX && v->trend.slope_lo > 0;
        int sig_tail =
            tail.p < LK_VERDICT_P_MAX && tail.slope_lo > 0 && tail_growth >= (double)material;
        /* A last third of fewer than LK_VERDICT_TAIL_MIN_POINTS snapshots
         * cannot reach p < LK_VERDICT_TAIL_P even when perfectly monotone
         * (4 points: p >= 0.089): there its slope alone decides, or a short
         * run's steady leak would pass for one that stopped. */
        int tail_testable = n - from >= LK_VERDICT_TAIL_MIN_POINTS;
        int still = tail.slope > 0 && tail.slope > LK_VERDICT_TAIL_FRAC * v->trend.slope &&
                    (!tail_testable || (tail.s > 0 && tail.p < LK_VERDICT_TAIL_P));
        if ((sig_whole || sig_tail) && still) {
            int late = !sig_whole;
            v->late = late;
            if (late) {
                /* The whole run's slope understates a late leak: report the
                 * last third's fit, which is the one that decided. */
                v->trend = tail;
                v->rate = tail.slope;
                v->rate_lo = tail.slope_lo;
                v->rate_hi = tail.slope_hi;
            }
            /* Early cohorts predate a late leak and say nothing about it;
             * then only a site that freed nothing in the last third is
             * known to leak. */
            uint64_t tail_frees = v->frees - lk_model_value(s, LK_SITE_FREES, from);
            int kept = late ? tail_frees == 0 : early_kept(v);
            if (kept) {
                v->verdict = LK_VERDICT_LEAK;
                v->why = late ? "live bytes started growing late in the run and early "
                                "allocations are not freed"
                              : "live bytes keep growing and early allocations are not freed";
            } else {
                v->verdict = LK_VERDICT_GROWING;
                v->why = late ? "live bytes started growing late in the run; allocations are "
                                "freed too"
                              : "live bytes keep growing although old allocations are freed too";
            }
            return 0;
        }
        if (v->trend.p < LK_VERDICT_P_MAX && v->trend.s > 0) {
            if ((double)v->live_bytes_end <=
                LK_VERDICT_TEMP_END_FRAC * (double)v->peak_live_bytes) {
                v->verdict = LK_VERDICT_TEMPORARY;
                v->why = "a material peak, mostly freed by the end";
            } else {
                v->verdict = LK_VERDICT_BOUNDED;
                v->why = "live bytes grew, then stopped growing in the last third of the run";
            }
            return 0;
        }
        v->verdict = LK_VERDICT_STABLE;
        v->why = "growth is not a significant trend";
        return 0;
    }
    if (v->peak_live_bytes >= material &&
        (double)v->live_bytes_end <= LK_VERDICT_TEMP_END_FRAC * (double)v->peak_live_bytes) {
        v->verdict = LK_VERDICT_TEMPORARY;
        v->why = "a material peak, mostly freed by the end";
        return 0;
    }
    v->verdict = LK_VERDICT_STABLE;
    v->why = "no material growth";
    return 0;
}

/* Growth is material above 64 KiB or 1% of the peak heap of the first n
 * snapshots, whichever is smaller, but never below the floor; a sampled
 * recording also needs LK_VERDICT_SAMPLE_MATERIAL sampling intervals.
 * Without a heap total, the sum of the sites' peaks stands in for it. */
static uint64_t
material_of(const struct lk_model *m, size_t n)
{
    double peak_heap = 0;
    for (size_t i = 0; i < n; i++)
        if ((double)m->snaps[i].proc[LK_PROC_HEAP_LIVE] > peak_heap)
            peak_heap = (double)m->snaps[i].proc[LK_PROC_HEAP_LIVE];
    if (peak_heap == 0)
        for (size_t i = 0; i < m->nsites; i++)
            peak_heap += (double)m->sites[i].peak_live_bytes;
    double mat = LK_VERDICT_MATERIAL_FRAC * peak_heap;
    if (mat > LK_VERDICT_MATERIAL_BYTES)
        mat = LK_VERDICT_MATERIAL_BYTES;
    if (mat < LK_VERDICT_MATERIAL_FLOOR)
        mat = LK_VERDICT_MATERIAL_FLOOR;
    double ms = LK_VERDICT_SAMPLE_MATERIAL * (double)m->info.sample_bytes;
    return (uint64_t)(mat > ms ? mat : ms);
}

static enum lk_verdict
run_verdict(size_t n, const size_t *counts)
{
    if (n < LK_VERDICT_MIN_SNAPS)
        return LK_VERDICT_UNKNOWN;
    if (counts[LK_VERDICT_LEAK])
        return LK_VERDICT_LEAK;
    if (counts[LK_VERDICT_GROWING])
        return LK_VERDICT_GROWING;
    if (counts[LK_VERDICT_BOUNDED])
        return LK_VERDICT_BOUNDED;
    return LK_VERDICT_STABLE;
}

/* Judges every site over the first n snapshots into v[] (by model index);
 * the run's verdict into *run. */
static int
judge_prefix(const struct lk_model *m, size_t n, struct scratch *w, struct lk_site_verdict *v,
             enum lk_verdict *run)
{
    size_t counts[LK_VERDICT_UNKNOWN + 1] = {0};
    uint64_t material = material_of(m, n);
    for (size_t i = 0; i < m->nsites; i++) {
        if (judge(m, i, n, material, w, &v[i]) < 0)
            return -ENOMEM;
        counts[v[i].verdict]++;
    }
    *run = run_verdict(n, counts);
    return 0;
}

/* Time to verdict: re-judges the run on prefixes p_0 < ... < p_{K-1} = n,
 * evenly spaced from LK_VERDICT_MIN_SNAPS snapshots, latest first, and
 * keeps for the run and for each site the shortest prefix from which on
 * every checked prefix agreed with the final verdict. sites[] is by model
 * index here (before ranking). */
static int
time_to_verdict(const struct lk_model *m, struct scratch *w, struct lk_analysis *out)
{
    size_t n = m->nsnaps, ns = m->nsites;
    if (n < LK_VERDICT_MIN_SNAPS) {
        out->verdict_time_s = -1;
        return 0;
    }
    size_t k = n - LK_VERDICT_MIN_SNAPS + 1;
    if (k > LK_VERDICT_PREFIXES)
        k = LK_VERDICT_PREFIXES;
    struct lk_site_verdict *tmp = calloc(ns ? ns : 1, sizeof *tmp);
    size_t *from = malloc((ns ? ns : 1) * sizeof *from);
    if (!tmp || !from) {
        free(tmp);
        free(from);
        return -ENOMEM;
    }
    size_t run_from = n, tracked = ns;
    int run_tracked = 1;
    unsigned char *open = malloc(ns ? ns : 1);
    if (!open) {
        free(tmp);
        free(from);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ns; i++) {
        from[i] = n;
        open[i] = 1;
    }
    out->nprefixes = 1;
    w->max_points = LK_PREFIX_POINTS;
    for (size_t j = k - 1; j-- > 0 && (run_tracked || tracked);) {
        size_t p = LK_VERDICT_MIN_SNAPS + j * (n - LK_VERDICT_MIN_SNAPS) / (k - 1);
        enum lk_verdict rv;
        if (judge_prefix(m, p, w, tmp, &rv) < 0) {
            free(tmp);
            free(from);
            free(open);
            return -ENOMEM;
        }
        out->nprefixes++;
        if (run_tracked && rv == out->verdict)
            run_from = p;
        else
            run_tracked = 0;
        for (size_t i = 0; i < ns; i++) {
            if (!open[i])
                continue;
            if (tmp[i].verdict == out->sites[i].verdict) {
                from[i] = p;
            } else {
                open[i] = 0;
                tracked--;
            }
        }
    }
    for (size_t i = 0; i < ns; i++) {
        out->sites[i].verdict_snaps = from[i];
        out->sites[i].verdict_time_s = lk_model_time_s(m, from[i] - 1);
    }
    free(open);
    out->verdict_snaps = run_from;
    out->verdict_time_s = lk_model_time_s(m, run_from - 1);
    free(tmp);
    free(from);
    return 0;
}

static int
rank_of(enum lk_verdict v)
{
    switch (v) {
    case LK_VERDICT_LEAK:
    case LK_VERDICT_GROWING:
        return 0;
    case LK_VERDICT_BOUNDED:
        return 1;
    case LK_VERDICT_TEMPORARY:
        return 2;
    default:
        return 3;
    }
}

static int
cmp_verdict(const void *pa, const void *pb)
{
    const struct lk_site_verdict *a = pa, *b = pb;
    int ra = rank_of(a->verdict), rb = rank_of(b->verdict);
    if (ra != rb)
        return ra - rb;
    if (a->rate != b->rate)
        return a->rate < b->rate ? 1 : -1;
    if (a->live_bytes_end != b->live_bytes_end)
        return a->live_bytes_end < b->live_bytes_end ? 1 : -1;
    return (a->id > b->id) - (a->id < b->id);
}

int
lk_verdict_analyze(const struct lk_model *m, struct lk_analysis *out)
{
    memset(out, 0, sizeof *out);
    out->verdict_time_s = -1;
    struct scratch *w = malloc(sizeof *w);
    out->sites = calloc(m->nsites ? m->nsites : 1, sizeof *out->sites);
    if (!w || !out->sites)
        goto nomem;
    out->nsites = m->nsites;

    /* Process level. */
    struct lk_proc_summary *p = &out->proc;
    size_t n = m->nsnaps;
    p->nsnaps = n;
    if (n) {
        p->duration_s = lk_model_time_s(m, n - 1) - lk_model_time_s(m, 0);
        p->rss_start = m->snaps[0].proc[LK_PROC_RSS];
        p->rss_end = m->snaps[n - 1].proc[LK_PROC_RSS];
        p->heap_start = m->snaps[0].proc[LK_PROC_HEAP_LIVE];
        p->heap_end = m->snaps[n - 1].proc[LK_PROC_HEAP_LIVE];
        p->allocs = m->snaps[n - 1].proc[LK_PROC_ALLOCS];
        p->frees = m->snaps[n - 1].proc[LK_PROC_FREES];
        for (size_t i = 0; i < n; i++) {
            if (m->snaps[i].proc[LK_PROC_RSS] > p->rss_peak)
                p->rss_peak = m->snaps[i].proc[LK_PROC_RSS];
            if (m->snaps[i].proc[LK_PROC_HEAP_LIVE] > p->heap_peak)
                p->heap_peak = m->snaps[i].proc[LK_PROC_HEAP_LIVE];
        }
        if (fit_proc(m, LK_PROC_RSS, w, &p->rss) < 0 ||
            fit_proc(m, LK_PROC_HEAP_LIVE, w, &p->heap) < 0)
            goto nomem;
    }
    out->material_bytes = material_of(m, n);
    if (m->info.sample_bytes)
        out->sampling_sd_bytes = sqrt((double)m->info.sample_bytes * (double)out->material_bytes);

    /* Sites, by model index first (time_to_verdict compares by index),
     * then ranked. */
    w->max_points = LK_TREND_MAX_POINTS;
    if (n && judge_prefix(m, n, w, out->sites, &out->verdict) < 0)
        goto nomem;
    if (!n)
        out->verdict = LK_VERDICT_UNKNOWN;
    for (size_t i = 0; i < m->nsites; i++) {
        struct lk_site_verdict *v = &out->sites[i];
        out->counts[v->verdict]++;
        if (v->verdict == LK_VERDICT_LEAK)
            out->leak_rate += v->rate;
        if (v->verdict == LK_VERDICT_GROWING)
            out->growing_rate += v->rate;
    }
    if (time_to_verdict(m, w, out) < 0)
        goto nomem;
    lk_reach_apply(m, out); /* sites are still by model index */
    qsort(out->sites, out->nsites, sizeof *out->sites, cmp_verdict);

    /* RSS that grows significantly and materially while the tracked heap
     * accounts for less than half of it: memory outside malloc, or kept by
     * the allocator. */
    if (n >= LK_VERDICT_MIN_SNAPS) {
        double rss_growth = (double)p->rss_end - (double)p->rss_start;
        double heap_growth = (double)p->heap_end - (double)p->heap_start;
        p->rss_outside_heap = p->rss.p < LK_VERDICT_P_MAX && p->rss.slope_lo > 0 &&
                              rss_growth >= (double)out->material_bytes &&
                              rss_growth - heap_growth >= 0.5 * rss_growth;
    }
    if (n && lk_procsplit_analyze(m, out->material_bytes, &p->split) < 0)
        goto nomem;
    free(w);
    return 0;
nomem:
    free(w);
    lk_verdict_free(out);
    return -ENOMEM;
}

void
lk_verdict_free(struct lk_analysis *a)
{
    free(a->sites);
    a->sites = NULL;
    a->nsites = 0;
}
