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
#include <stdlib.h>
#include <string.h>

#include "analyze/model.h"
#include "analyze/verdict.h"
#include "record/writer.h"

static int
grow(struct lk_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p)
        return -ENOMEM;
    w->buf = p;
    w->cap = cap;
    return 0;
}

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
    lk_writer_init(&w, NULL, 0, grow, NULL);
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
    /* with churn its early cohorts cannot tell it from a cache: GROWING
     * (docs/VERDICTS.md, known limits) */
    expect(late, 150, 5, 1, LK_VERDICT_GROWING, LK_VERDICT_GROWING);
}

static void
test_too_few_snapshots(void **state)
{
    (void)state;
    expect(linear, LK_VERDICT_MIN_SNAPS - 1, 5, 1, LK_VERDICT_UNKNOWN, LK_VERDICT_UNKNOWN);
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
        cmocka_unit_test(test_linear_leak),        cmocka_unit_test(test_sawtooth_is_stable),
        cmocka_unit_test(test_plateau_is_bounded), cmocka_unit_test(test_turnover_is_growing),
        cmocka_unit_test(test_spike_is_temporary), cmocka_unit_test(test_late_leak),
        cmocka_unit_test(test_too_few_snapshots),  cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
