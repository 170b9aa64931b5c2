/* The first verdict heuristic: per site, a Theil–Sen slope of live bytes
 * with Sen's interval, the Mann–Kendall test, the slope over the last third
 * of the run and the survival of early cohorts decide between LEAK,
 * GROWING, BOUNDED, TEMPORARY and STABLE (docs/VERDICTS.md). Only sites
 * whose growth is material are fitted, so a recording with thousands of
 * sites costs a pass over its change lists plus a few bounded fits. Pure
 * function of the model; allocates its result and transient arrays. */
#include "verdict.h"

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
};

/* Fits the site's field over snapshots [from, to). */
static int
fit_site(const struct lk_model *m, const struct lk_model_site *s, size_t from, size_t to,
         struct scratch *w, struct lk_trend *out)
{
    size_t n = lk_trend_pick(to - from, LK_TREND_MAX_POINTS, w->idx);
    for (size_t i = 0; i < n; i++)
        w->idx[i] += from;
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
    size_t n = lk_trend_pick(m->nsnaps, LK_TREND_MAX_POINTS, w->idx);
    for (size_t i = 0; i < n; i++) {
        w->x[i] = lk_model_time_s(m, w->idx[i]);
        w->y[i] = (double)m->snaps[w->idx[i]].proc[field];
    }
    return lk_trend_fit(w->x, w->y, n, out);
}

/* Survival of the cohorts born in the first half of the run (periods up to
 * half of the last one), relative to the survival of the later cohorts:
 * (live/born early) / (live/born late), capped at 1. Blocks freed within
 * their own period (churn) lower every cohort's survival alike, so the
 * ratio discounts them; what it measures is decay with age, which a leak's
 * cohorts do not show and a cache's do. Falls back to buckets that start
 * in the first half, then to live_count / allocs. */
static void
survival(const struct lk_model *m, const struct lk_model_site *s, struct lk_site_verdict *v)
{
    uint64_t last = m->nsnaps ? m->snaps[m->nsnaps - 1].period : 0, half = last / 2;
    uint64_t born_e = 0, live_e = 0, born_l = 0, live_l = 0;
    for (int pass = 0; pass < 2 && !born_e; pass++) {
        born_l = live_l = 0;
        for (unsigned k = 0; k < s->ncohorts; k++) {
            int early = pass == 0 ? lk_cohort_start(k + 1) - 1 <= half : lk_cohort_start(k) <= half;
            uint64_t lc =
                s->cohort_live_count[k] < s->born[k] ? s->cohort_live_count[k] : s->born[k];
            if (early) {
                born_e += s->born[k];
                live_e += lc;
            } else {
                born_l += s->born[k];
                live_l += lc;
            }
        }
    }
    if (born_e) {
        double se = (double)live_e / (double)born_e;
        v->survival_early = se;
        if (born_l && live_l) {
            double r = se / ((double)live_l / (double)born_l);
            v->survival = r < 1 ? r : 1;
        } else {
            v->survival = born_l ? (se > 0 ? 1 : 0) : se;
        }
        v->survival_from_cohorts = 1;
    } else if (v->allocs) {
        uint64_t lc = v->live_count_end < v->allocs ? v->live_count_end : v->allocs;
        v->survival = v->survival_early = (double)lc / (double)v->allocs;
    } else {
        v->survival = v->survival_early = -1;
    }
}

static int
judge(const struct lk_model *m, size_t i, uint64_t material, struct scratch *w,
      struct lk_site_verdict *v)
{
    const struct lk_model_site *s = &m->sites[i];
    size_t n = m->nsnaps, last = n ? n - 1 : 0;
    double dur = n ? lk_model_time_s(m, last) - lk_model_time_s(m, 0) : 0;
    memset(v, 0, sizeof *v);
    v->site = i;
    v->id = s->id;
    v->live_bytes_start = n ? lk_model_value(s, LK_SITE_LIVE_BYTES, 0) : 0;
    v->live_bytes_end = n ? lk_model_value(s, LK_SITE_LIVE_BYTES, last) : 0;
    v->live_count_start = n ? lk_model_value(s, LK_SITE_LIVE_COUNT, 0) : 0;
    v->live_count_end = n ? lk_model_value(s, LK_SITE_LIVE_COUNT, last) : 0;
    v->allocs = n ? lk_model_value(s, LK_SITE_ALLOCS, last) : 0;
    v->frees = n ? lk_model_value(s, LK_SITE_FREES, last) : 0;
    v->alloc_bytes = n ? lk_model_value(s, LK_SITE_ALLOC_BYTES, last) : 0;
    v->peak_live_bytes = s->peak_live_bytes;
    double growth = (double)v->live_bytes_end - (double)v->live_bytes_start;
    v->rate = v->rate_lo = v->rate_hi = dur > 0 ? growth / dur : 0;
    survival(m, s, v);

    if (n < LK_VERDICT_MIN_SNAPS) {
        v->verdict = LK_VERDICT_UNKNOWN;
        v->why = "not enough snapshots";
        return 0;
    }
    if (growth >= (double)material && dur > 0) {
        if (fit_site(m, s, 0, n, w, &v->trend) < 0)
            return -ENOMEM;
        struct lk_trend tail;
        size_t from = 2 * n / 3;
        if (fit_site(m, s, from, n, w, &tail) < 0)
            return -ENOMEM;
        v->fitted = 1;
        v->rate = v->trend.slope;
        v->rate_lo = v->trend.slope_lo;
        v->rate_hi = v->trend.slope_hi;
        v->tail_rate = tail.slope;
        /* Growth counts when the whole run's trend is significant and its
         * slope bounded away from 0, or when the last third alone is (a
         * leak that started late). It is still going on when the last
         * third's slope is a material part of the whole run's. */
        double tail_growth =
            (double)v->live_bytes_end - (double)lk_model_value(s, LK_SITE_LIVE_BYTES, from);
        int sig_whole = v->trend.p < LK_VERDICT_P_MAX && v->trend.slope_lo > 0;
        int sig_tail =
            tail.p < LK_VERDICT_P_MAX && tail.slope_lo > 0 && tail_growth >= (double)material;
        int still = tail.slope > 0 && tail.slope > LK_VERDICT_TAIL_FRAC * v->trend.slope;
        if ((sig_whole || sig_tail) && still) {
            int late = !sig_whole;
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
            int kept = late ? tail_frees == 0 : v->survival >= LK_VERDICT_SURVIVAL_LEAK;
            if (kept) {
                v->verdict = LK_VERDICT_LEAK;
                v->why = late ? "live bytes started growing late in the run and early "
                                "allocations are not freed"
                              : "live bytes keep growing and early allocations are not freed";
            } else {
                v->verdict = LK_VERDICT_GROWING;
                v->why = late ? "live bytes started growing late in the run; allocations are "
                                "freed too"
                              : "live bytes keep growing although allocations are freed too";
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

    /* Growth is material above 64 KiB or 1% of the peak heap, whichever is
     * smaller, but never below the floor. Without a heap total, the sum of
     * the sites' peaks stands in for it. */
    double peak_heap = (double)p->heap_peak;
    if (peak_heap == 0)
        for (size_t i = 0; i < m->nsites; i++)
            peak_heap += (double)m->sites[i].peak_live_bytes;
    double mat = LK_VERDICT_MATERIAL_FRAC * peak_heap;
    if (mat > LK_VERDICT_MATERIAL_BYTES)
        mat = LK_VERDICT_MATERIAL_BYTES;
    if (mat < LK_VERDICT_MATERIAL_FLOOR)
        mat = LK_VERDICT_MATERIAL_FLOOR;
    out->material_bytes = (uint64_t)mat;

    for (size_t i = 0; i < m->nsites; i++) {
        struct lk_site_verdict *v = &out->sites[i];
        if (judge(m, i, out->material_bytes, w, v) < 0)
            goto nomem;
        out->counts[v->verdict]++;
        if (v->verdict == LK_VERDICT_LEAK)
            out->leak_rate += v->rate;
        if (v->verdict == LK_VERDICT_GROWING)
            out->growing_rate += v->rate;
    }
    qsort(out->sites, out->nsites, sizeof *out->sites, cmp_verdict);

    if (n < LK_VERDICT_MIN_SNAPS)
        out->verdict = LK_VERDICT_UNKNOWN;
    else if (out->counts[LK_VERDICT_LEAK])
        out->verdict = LK_VERDICT_LEAK;
    else if (out->counts[LK_VERDICT_GROWING])
        out->verdict = LK_VERDICT_GROWING;
    else if (out->counts[LK_VERDICT_BOUNDED])
        out->verdict = LK_VERDICT_BOUNDED;
    else
        out->verdict = LK_VERDICT_STABLE;

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
