/* Unit tests of the verdict heuristic (src/analyze/verdict.c) on synthetic
 * recordings: one site per recording whose live bytes follow a known
 * shape, with cohorts saying whether early allocations survive. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/model.h"
#include "analyze/verdict.h"
#include "record/writer.h"
#include "writer_heap.h"

#define BLOCK 1024 /* bytes per synthetic allocation */

/* Live blocks of the site at snapshot i of n. */
typedef uint64_t (*shape_fn)(uint64_t i, uint64_t n);

/* Writes n snapshots, one per second, of site 1 (and a small constant site
 * 2). Each period allocates `churn` extra blocks that die the same period,
 * plus whatever the shape adds; with `keep_early` the blocks alive are the
 * oldest ones (a leak), otherwise the newest (turnover: old ones freed). */
static void
load(struct lk_model *m, shape_fn shape, uint64_t n, uint64_t churn, int keep_early)
{
    struct lk_writer w;
    lk_writer_init(&w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(&w);
    struct lk_info info;
    memset(&info, 0, sizeof info);
    info.period_ms = 1000;
    assert_int_equal(lk_write_info(&w, &info), 0);
    struct lk_frame fr = {0, 0x1000};
    assert_int_equal(lk_write_stack(&w, 1, LK_KIND_HEAP, &fr, 1), 0);
    uint64_t allocs = 0, born_at[512], alive[512];
    assert_true(n <= 512);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t live = shape(i, n), cur = 0;
        alive[i] = 0;
        for (uint64_t p = 0; p < i; p++)
            cur += alive[p];
        /* free: half of the live set under turnover (oldest first), and
         * whatever the shape drops (oldest first under turnover, newest
         * first for a leak, whose early blocks are never freed) */
        uint64_t drop = keep_early ? 0 : cur / 2;
        if (cur - drop > live)
            drop = cur - live;
        for (uint64_t q = 0; q < i && drop; q++) {
            uint64_t p = keep_early ? i - 1 - q : q;
            uint64_t d = alive[p] < drop ? alive[p] : drop;
            alive[p] -= d;
            cur -= d;
            drop -= d;
        }
        alive[i] = live > cur ? live - cur : 0;
        born_at[i] = alive[i] + churn; /* churn blocks die in the period they are born */
        allocs += born_at[i];
        uint64_t born[LK_COHORTS] = {0}, lc[LK_COHORTS] = {0}, lb[LK_COHORTS] = {0};
        for (uint64_t p = 0; p <= i; p++) {
            born[lk_cohort_of(p)] += born_at[p];
            lc[lk_cohort_of(p)] += alive[p];
            lb[lk_cohort_of(p)] += alive[p] * BLOCK;
        }
        uint64_t proc[LK_PROC_NFIELDS] = {0};
        proc[LK_PROC_HEAP_LIVE] = live * BLOCK + 100000;
        proc[LK_PROC_RSS] = 4 * 1000 * 1000 + live * BLOCK;
        lk_write_snapshot_begin(&w, i, i * 1000000000ull, i, proc, LK_PROC_NFIELDS, NULL, NULL, 0);
        uint64_t f[LK_SITE_NFIELDS] = {live * BLOCK, live, allocs, allocs - live, allocs * BLOCK};
        lk_write_snapshot_site(&w, 1, f, born, lc, lb, LK_COHORTS, NULL, 0);
        uint64_t f2[LK_SITE_NFIELDS] = {100000, 100, 100, 0, 100000};
        lk_write_snapshot_site(&w, 2, f2, NULL, NULL, NULL, 0, NULL, 0);
        assert_int_equal(lk_write_snapshot_end(&w), 0);
    }
    int rc = lk_model_load_mem(m, "synthetic.lsr", w.buf, w.len);
    if (rc < 0)
        fail_msg("load: %s", m->errmsg);
    free(w.buf);
}

static const struct lk_site_verdict *
verdict_of(const struct lk_analysis *a, uint64_t id)
{
    for (size_t i = 0; i < a->nsites; i++)
        if (a->sites[i].id == id)
            return &a->sites[i];
    fail_msg("site %llu not in the analysis", (unsigned long long)id);
    return NULL;
}

static void
expect(shape_fn shape, uint64_t n, uint64_t churn, int keep_early, enum lk_verdict want,
       enum lk_verdict want_overall)
{
    struct lk_model m;
    struct lk_analysis a;
    load(&m, shape, n, churn, keep_early);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    const struct lk_site_verdict *v = verdict_of(&a, 1);
    if (v->verdict != want || a.verdict != want_overall)
        fail_msg("site verdict %s (want %s), overall %s (want %s): rate %g [%g, %g] p %g "
                 "tail %g survival %g why '%s'",
                 lk_verdict_name(v->verdict), lk_verdict_name(want), lk_verdict_name(a.verdict),
                 lk_verdict_name(want_overall), v->rate, v->rate_lo, v->rate_hi, v->trend.p,
                 v->tail_rate, v->survival, v->why);
    assert_int_equal(verdict_of(&a, 2)->verdict,
                     n < LK_VERDICT_MIN_SNAPS ? LK_VERDICT_UNKNOWN : LK_VERDICT_STABLE);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static uint64_t
linear(uint64_t i, uint64_t n)
{
    (void)n;
    return 32 * i;
}

static uint64_t
sawtooth(uint64_t i, uint64_t n)
{
    (void)n;
    return 200 * (i % 10);
}

static uint64_t
plateau(uint64_t i, uint64_t n)
{
    return 40 * (i < n / 3 ? i : n / 3);
}

static uint64_t
spike(uint64_t i, uint64_t n)
{
    uint64_t mid = n / 2;
    return i + 10 > mid && i < mid + 10 ? 500 : 2;
}

static uint64_t
late(uint64_t i, uint64_t n)
{
    return i < 2 * n / 3 ? 10 : 10 + 64 * (i - 2 * n / 3);
}

static void
test_linear_leak(void **state)
{
    (void)state;
    expect(linear, 120, 5, 1, LK_VERDICT_LEAK, LK_VERDICT_LEAK);
    expect(linear, 120, 0, 1, LK_VERDICT_LEAK, LK_VERDICT_LEAK);
    expect(linear, 300, 200, 1, LK_VERDICT_LEAK, LK_VERDICT_LEAK); /* mostly churn */
    struct lk_model m;
    struct lk_analysis a;
    load(&m, linear, 120, 5, 1);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    const struct lk_site_verdict *v = &a.sites[0]; /* ranked first */
    assert_int_equal(v->id, 1);
    assert_true(v->fitted);
    assert_true(v->rate > 32 * BLOCK * 0.99 && v->rate < 32 * BLOCK * 1.01);
    assert_true(v->rate_lo <= v->rate && v->rate <= v->rate_hi);
    assert_true(v->survival >= 0.99);
    assert_true(v->survival_early < 0.9); /* churn: 32 of 37 blocks a period survive */
    assert_true(v->survival_from_cohorts);
    assert_int_equal(v->live_bytes_start, 0);
    assert_int_equal(v->live_bytes_end, 32 * 119 * BLOCK);
    assert_true(a.leak_rate == v->rate);
    assert_int_equal(a.counts[LK_VERDICT_LEAK], 1);
    assert_true(a.proc.heap.slope > 32 * BLOCK * 0.99);
    assert_false(a.proc.rss_outside_heap);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_sawtooth_is_stable(void **state)
{
    (void)state;
    expect(sawtooth, 200, 50, 0, LK_VERDICT_STABLE, LK_VERDICT_STABLE);
    /* ending at a tooth's top does not make it a leak */
    expect(sawtooth, 199, 50, 0, LK_VERDICT_STABLE, LK_VERDICT_STABLE);
}

static void
test_plateau_is_bounded(void **state)
{
    (void)state;
    expect(plateau, 90, 5, 1, LK_VERDICT_BOUNDED, LK_VERDICT_BOUNDED);
}

static void
test_turnover_is_growing(void **state)
{
    (void)state;
    expect(linear, 120, 5, 0, LK_VERDICT_GROWING, LK_VERDICT_GROWING);
}

static void
test_spike_is_temporary(void **state)
{
    (void)state;
    expect(spike, 100, 5, 0, LK_VERDICT_TEMPORARY, LK_VERDICT_STABLE);
}

static void
test_late_leak(void **state)
{
    (void)state;
    /* a leak that starts in the last third and frees nothing there */
    expect(late, 150, 0, 1, LK_VERDICT_LEAK, LK_VERDICT_LEAK);
    /* with churn too: its early blocks (the ten live from the start) are
     * still kept, so the cohorts say LEAK */
    expect(late, 150, 5, 1, LK_VERDICT_LEAK, LK_VERDICT_LEAK);
}

static void
test_too_few_snapshots(void **state)
{
    (void)state;
    expect(linear, LK_VERDICT_MIN_SNAPS - 1, 5, 1, LK_VERDICT_UNKNOWN, LK_VERDICT_UNKNOWN);
}

/* A site simulated period by period: born[p] blocks were born in period p
 * and alive[p] of them are still live. */
struct simsite {
    uint64_t id, block, allocs;
    uint64_t born[512], alive[512];
};

static void
emit(struct lk_writer *w, const struct simsite *s, uint64_t i)
{
    uint64_t born[LK_COHORTS] = {0}, lc[LK_COHORTS] = {0}, lb[LK_COHORTS] = {0}, live = 0;
    for (uint64_t p = 0; p <= i; p++) {
        born[lk_cohort_of(p)] += s->born[p];
        lc[lk_cohort_of(p)] += s->alive[p];
        lb[lk_cohort_of(p)] += s->alive[p] * s->block;
        live += s->alive[p];
    }
    uint64_t f[LK_SITE_NFIELDS] = {live * s->block, live, s->allocs, s->allocs - live,
                                   s->allocs * s->block};
    lk_write_snapshot_site(w, s->id, f, born, lc, lb, LK_COHORTS, NULL, 0);
}

static void
begin(struct lk_writer *w, uint64_t sample_bytes)
{
    lk_writer_init(w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(w);
    struct lk_info info;
    memset(&info, 0, sizeof info);
    info.period_ms = 1000;
    info.sample_bytes = sample_bytes;
    assert_int_equal(lk_write_info(w, &info), 0);
    struct lk_frame fr = {0, 0x1000};
    assert_int_equal(lk_write_stack(w, 1, LK_KIND_HEAP, &fr, 1), 0);
    fr.offset = 0x2000;
    assert_int_equal(lk_write_stack(w, 2, LK_KIND_MMAP, &fr, 1), 0);
}

static void
finish_load(struct lk_model *m, struct lk_writer *w)
{
    int rc = lk_model_load_mem(m, "synthetic.lsr", w->buf, w->len);
    if (rc < 0)
        fail_msg("load: %s", m->errmsg);
    free(w->buf);
}

/* Issue 3's hard case: a 1 KiB/s leak (site 1) under a site whose live
 * memory swings between 5 and 35 MiB every 30 s (site 2, fully turned
 * over each period): the leak is called within a few minutes, the swing is
 * not called anything that grows. */
static void
test_small_leak_under_oscillation(void **state)
{
    (void)state;
    static struct simsite leak, osc;
    struct lk_writer w;
    uint64_t n = 300;
    memset(&leak, 0, sizeof leak);
    memset(&osc, 0, sizeof osc);
    leak.id = 1, leak.block = 1024;
    osc.id = 2, osc.block = 65536;
    begin(&w, 0);
    for (uint64_t i = 0; i < n; i++) {
        leak.born[i] = leak.alive[i] = 1;
        leak.allocs++;
        for (uint64_t p = 0; p < i; p++)
            osc.alive[p] = 0;
        uint64_t mib = 20 + (uint64_t)(15 * sin(2 * 3.14159265 * (double)i / 30));
        osc.born[i] = osc.alive[i] = mib * 16;
        osc.allocs += osc.born[i];
        uint64_t proc[LK_PROC_NFIELDS] = {0};
        proc[LK_PROC_HEAP_LIVE] = mib << 20;
        proc[LK_PROC_RSS] = 40ull << 20;
        lk_write_snapshot_begin(&w, i, i * 1000000000ull, i, proc, LK_PROC_NFIELDS, NULL, NULL, 0);
        emit(&w, &leak, i);
        emit(&w, &osc, i);
        assert_int_equal(lk_write_snapshot_end(&w), 0);
    }
    struct lk_model m;
    struct lk_analysis a;
    finish_load(&m, &w);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    const struct lk_site_verdict *v = verdict_of(&a, 1), *o = verdict_of(&a, 2);
    if (v->verdict != LK_VERDICT_LEAK || v->verdict_time_s > 180 || v->verdict_time_s < 0)
        fail_msg("leak: %s after %g s (want LEAK within 180 s), rate %g p %g survival %g",
                 lk_verdict_name(v->verdict), v->verdict_time_s, v->rate, v->trend.p, v->survival);
    assert_true(v->rate > 1000 && v->rate < 1050);
    assert_int_equal(a.sites[0].id, 1);
    assert_true(o->verdict != LK_VERDICT_LEAK && o->verdict != LK_VERDICT_GROWING);
    assert_int_equal(a.verdict, LK_VERDICT_LEAK);
    assert_true(a.verdict_time_s == v->verdict_time_s);
    assert_true(a.nprefixes >= 2 && a.nprefixes <= LK_VERDICT_PREFIXES);
    print_message("1 KiB/s leak under a 5..35 MiB swing: LEAK after %.0f s\n", v->verdict_time_s);
    /* the mmap site keeps its kind for the report */
    assert_int_equal(m.sites[o->site].kind, LK_KIND_MMAP);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

/* A leak among objects that live a while before they are freed (open
 * connections): each period 100 blocks are born, 10 are never freed and
 * 90 live for 5 periods. The in-flight ones must not make it GROWING. */
static void
test_leak_with_in_flight_objects(void **state)
{
    (void)state;
    static struct simsite s;
    struct lk_writer w;
    uint64_t n = 80;
    memset(&s, 0, sizeof s);
    s.id = 1, s.block = 2048;
    begin(&w, 0);
    for (uint64_t i = 0; i < n; i++) {
        s.born[i] = 100;
        s.alive[i] = 100;
        s.allocs += 100;
        if (i >= 5)
            s.alive[i - 5] = 10;
        uint64_t proc[LK_PROC_NFIELDS] = {0};
        lk_write_snapshot_begin(&w, i, i * 1000000000ull, i, proc, LK_PROC_NFIELDS, NULL, NULL, 0);
        emit(&w, &s, i);
        assert_int_equal(lk_write_snapshot_end(&w), 0);
    }
    struct lk_model m;
    struct lk_analysis a;
    finish_load(&m, &w);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    const struct lk_site_verdict *v = verdict_of(&a, 1);
    if (v->verdict != LK_VERDICT_LEAK)
        fail_msg("%s, survival %g (bound %g, %llu -> %llu)", lk_verdict_name(v->verdict),
                 v->survival, v->survival_hi, (unsigned long long)v->early_live_mid,
                 (unsigned long long)v->early_live);
    assert_true(v->survival >= 0.99);
    assert_true(v->survival_early < 0.2); /* 10 of 100 per period are kept */
    assert_true(v->verdict_time_s >= 0 && v->verdict_time_s <= 30);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

/* Time to verdict: a leak is called early and stays called; a structure
 * that fills for a third of the run is BOUNDED only after it stopped. */
static void
test_time_to_verdict(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    load(&m, linear, 120, 5, 1);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    assert_int_equal(a.verdict, LK_VERDICT_LEAK);
    if (a.verdict_time_s < 0 || a.verdict_time_s > 20)
        fail_msg("linear leak: time to verdict %g s", a.verdict_time_s);
    assert_true(a.verdict_snaps >= LK_VERDICT_MIN_SNAPS && a.verdict_snaps <= 21);
    lk_verdict_free(&a);
    lk_model_free(&m);

    load(&m, plateau, 90, 5, 1);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    assert_int_equal(a.verdict, LK_VERDICT_BOUNDED);
    if (a.verdict_time_s < 30 || a.verdict_time_s > 89)
        fail_msg("plateau from 30 s: BOUNDED after %g s", a.verdict_time_s);
    lk_verdict_free(&a);
    lk_model_free(&m);

    load(&m, linear, LK_VERDICT_MIN_SNAPS - 1, 5, 1);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    assert_int_equal(a.verdict, LK_VERDICT_UNKNOWN);
    assert_true(a.verdict_time_s < 0);
    assert_string_equal(a.sites[0].why, "not enough data yet");
    lk_verdict_free(&a);
    lk_model_free(&m);
}

/* Sampled recordings: growth must exceed a couple of sampling intervals
 * and the interval of the rate widens. */
static void
test_sampled(void **state)
{
    (void)state;
    static struct simsite s;
    struct lk_analysis a[2];
    struct lk_model m[2];
    for (int k = 0; k < 2; k++) {
        struct lk_writer w;
        memset(&s, 0, sizeof s);
        s.id = 1, s.block = 4096;
        begin(&w, k ? 65536 : 0);
        for (uint64_t i = 0; i < 60; i++) {
            s.born[i] = s.alive[i] = 8;
            s.allocs += 8;
            uint64_t proc[LK_PROC_NFIELDS] = {0};
            lk_write_snapshot_begin(&w, i, i * 1000000000ull, i, proc, LK_PROC_NFIELDS, NULL, NULL,
                                    0);
            emit(&w, &s, i);
            assert_int_equal(lk_write_snapshot_end(&w), 0);
        }
        finish_load(&m[k], &w);
        assert_int_equal(lk_verdict_analyze(&m[k], &a[k]), 0);
        assert_int_equal(a[k].verdict, LK_VERDICT_LEAK);
    }
    assert_true(a[1].material_bytes >= 2 * 65536);
    assert_true(a[1].sites[0].rate_lo < a[0].sites[0].rate_lo);
    assert_true(a[1].sites[0].rate_hi > a[0].sites[0].rate_hi);
    assert_true(a[1].sampling_sd_bytes > 0);
    for (int k = 0; k < 2; k++) {
        lk_verdict_free(&a[k]);
        lk_model_free(&m[k]);
    }
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(lk_verdict_name(LK_VERDICT_LEAK), "LEAK");
    assert_string_equal(lk_verdict_name(LK_VERDICT_GROWING), "GROWING");
    assert_string_equal(lk_verdict_name(LK_VERDICT_BOUNDED), "BOUNDED");
    assert_string_equal(lk_verdict_name(LK_VERDICT_STABLE), "STABLE");
    assert_string_equal(lk_verdict_name(LK_VERDICT_TEMPORARY), "TEMPORARY");
    assert_true(lk_verdict_interesting(LK_VERDICT_LEAK));
    assert_false(lk_verdict_interesting(LK_VERDICT_STABLE));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_leak),
        cmocka_unit_test(test_sawtooth_is_stable),
        cmocka_unit_test(test_plateau_is_bounded),
        cmocka_unit_test(test_turnover_is_growing),
        cmocka_unit_test(test_spike_is_temporary),
        cmocka_unit_test(test_late_leak),
        cmocka_unit_test(test_too_few_snapshots),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_small_leak_under_oscillation),
        cmocka_unit_test(test_leak_with_in_flight_objects),
        cmocka_unit_test(test_time_to_verdict),
        cmocka_unit_test(test_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
