/* Unit tests of the Theil–Sen slope, Sen's interval and the Mann–Kendall
 * test (src/analyze/trend.c) against values computed by hand. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdlib.h>

#include "analyze/trend.h"

static void
near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("got %.10g, want %.10g (tolerance %g)", got, want, tol);
}

static void
test_linear_exact(void **state)
{
    (void)state;
    double x[50], y[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i * 0.5;
        y[i] = 100 + 3.0 * x[i];
    }
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, 50, &t), 0);
    assert_int_equal(t.n, 50);
    near(t.slope, 3.0, 1e-12);
    near(t.slope_lo, 3.0, 1e-12);
    near(t.slope_hi, 3.0, 1e-12);
    near(t.intercept, 100, 1e-9);
    near(t.s, 50 * 49 / 2, 0); /* every pair rises */
    near(t.var_s, 50.0 * 49 * 105 / 18, 1e-9);
    assert_true(t.p < 1e-12);
}

/* S = 10 for five rising points, Var S = 5*4*15/18, z = (S-1)/sqrt(Var). */
static void
test_mann_kendall_by_hand(void **state)
{
    (void)state;
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {1, 2, 3, 4, 5};
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, 5, &t), 0);
    near(t.s, 10, 0);
    near(t.var_s, 5.0 * 4 * 15 / 18, 1e-12);
    near(t.z, 9 / sqrt(5.0 * 4 * 15 / 18), 1e-12);
    near(t.p, 0.027486, 1e-5);

    /* y = 3 1 4 1 5: pairs rise 6 times and fall 3 times (S = 3); the tie
     * group of two 1s removes 2*1*9 from the variance numerator. */
    double y2[5] = {3, 1, 4, 1, 5};
    assert_int_equal(lk_trend_fit(x, y2, 5, &t), 0);
    near(t.s, 3, 0);
    near(t.var_s, (5.0 * 4 * 15 - 2 * 1 * 9) / 18, 1e-12);
    near(t.z, 2 / sqrt((5.0 * 4 * 15 - 18) / 18), 1e-12);
}

static void
test_constant_and_falling(void **state)
{
    (void)state;
    double x[20], y[20];
    for (int i = 0; i < 20; i++) {
        x[i] = i;
        y[i] = 7;
    }
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, 20, &t), 0);
    near(t.slope, 0, 0);
    near(t.s, 0, 0);
    near(t.p, 1, 0);
    for (int i = 0; i < 20; i++)
        y[i] = 1000 - 4.0 * i;
    assert_int_equal(lk_trend_fit(x, y, 20, &t), 0);
    near(t.slope, -4, 1e-12);
    assert_true(t.s < 0 && t.z < 0 && t.p < 1e-6);
}

/* A few wild outliers move a least-squares fit but not Sen's slope. */
static void
test_robust_to_outliers(void **state)
{
    (void)state;
    double x[100], y[100];
    for (int i = 0; i < 100; i++) {
        x[i] = i;
        y[i] = 2.0 * i;
    }
    y[10] = 1e9;
    y[50] = -1e9;
    y[90] = 5e8;
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, 100, &t), 0);
    near(t.slope, 2.0, 1e-9);
    assert_true(t.slope_lo <= 2.0 && t.slope_hi >= 2.0);
}

/* Noise from a fixed LCG: the interval holds the true slope and is not
 * degenerate; a pure-noise series shows no trend. */
static void
test_noise(void **state)
{
    (void)state;
    enum { N = 200 };
    double x[N], y[N], z[N];
    uint64_t r = 12345;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        double noise = (double)(r >> 11) / 9007199254740992.0 - 0.5; /* [-0.5, 0.5) */
        x[i] = i;
        y[i] = 0.05 * i + 10 * noise;
        z[i] = 10 * noise;
    }
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, N, &t), 0);
    assert_true(t.slope_lo < 0.05 && 0.05 < t.slope_hi);
    assert_true(t.slope_lo < t.slope_hi);
    assert_true(t.p < 0.01);
    assert_int_equal(lk_trend_fit(x, z, N, &t), 0);
    assert_true(t.p > 0.01);
    assert_true(t.slope_lo < 0 && t.slope_hi > 0);
}

static void
test_subsample(void **state)
{
    (void)state;
    enum { N = 100000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[i] = 5.0 * i + (i % 2 ? 1 : -1);
    }
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, N, &t), 0);
    assert_int_equal(t.n, LK_TREND_MAX_POINTS);
    near(t.slope, 5.0, 1e-3);
    assert_true(t.p < 1e-12);
    free(x);
    free(y);

    size_t idx[LK_TREND_MAX_POINTS];
    size_t n = lk_trend_pick(1000, 300, idx);
    assert_int_equal(n, 300);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[299], 999);
    for (size_t i = 1; i < n; i++)
        assert_true(idx[i] > idx[i - 1]);
    assert_int_equal(lk_trend_pick(7, 300, idx), 7);
    assert_int_equal(idx[6], 6);
}

/* A thinned recording: 200 snapshots over the first 10,000 s (growing at 2
 * per second), then every second of the last 1,000 s (flat). The fit must
 * weigh the run by time, not by snapshot count: picked by index, 250 of its
 * 300 points would come from the flat minutes and the slope would be 0. */
static void
test_thinned_by_time(void **state)
{
    (void)state;
    static double x[1200], y[1200];
    for (int i = 0; i < 200; i++) {
        x[i] = 50.0 * i;
        y[i] = 2 * x[i];
    }
    for (int i = 0; i < 1000; i++) {
        x[200 + i] = 10000.0 + i;
        y[200 + i] = 20000;
    }
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, 1200, &t), 0);
    assert_true(t.n <= LK_TREND_MAX_POINTS);
    assert_true(t.slope > 1.5);
    /* out of order: by index, as before (no crash, a fit) */
    double tmp = x[0];
    x[0] = x[1199];
    x[1199] = tmp;
    assert_int_equal(lk_trend_fit(x, y, 1200, &t), 0);
    assert_int_equal(t.n, LK_TREND_MAX_POINTS);
}

static void
test_degenerate(void **state)
{
    (void)state;
    double x[3] = {1, 1, 1}, y[3] = {1, 2, 3};
    struct lk_trend t;
    assert_int_equal(lk_trend_fit(x, y, 0, &t), 0);
    assert_int_equal(t.n, 0);
    near(t.p, 1, 0);
    assert_int_equal(lk_trend_fit(x, y, 1, &t), 0);
    near(t.slope, 0, 0);
    /* equal x everywhere: no pair is compared */
    assert_int_equal(lk_trend_fit(x, y, 3, &t), 0);
    near(t.slope, 0, 0);
    near(t.s, 0, 0);
    near(lk_trend_pvalue(1.959963984540054), 0.05, 1e-9);
}

static int
cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reference model: the fit's slope and Sen interval computed by sorting all
 * pairwise slopes, against lk_trend_fit's selection-based ones, on random
 * series of every size up to the subsampling limit (ties included). */
static void
test_selection_matches_sorting(void **state)
{
    (void)state;
    static double x[300], y[300], sl[300 * 299 / 2];
    unsigned seed = 12345;
    for (size_t n = 2; n <= 300; n += (n < 20 ? 1 : 37)) {
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            x[i] = (double)i;
            y[i] = (double)((seed >> 16) % 50) + 0.5 * (double)i; /* many ties */
        }
        struct lk_trend t;
        assert_int_equal(lk_trend_fit(x, y, n, &t), 0);
        size_t ns = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                sl[ns++] = (y[j] - y[i]) / (x[j] - x[i]);
        qsort(sl, ns, sizeof *sl, cmp_dbl);
        double med = ns % 2 ? sl[ns / 2] : (sl[ns / 2 - 1] + sl[ns / 2]) / 2;
        assert_true(fabs(t.slope - med) < 1e-9);
        double c = 1.959963984540054 * sqrt(t.var_s > 0 ? t.var_s : 0), dn = (double)ns;
        double ks[2] = {(dn - c) / 2, (dn + c) / 2 + 1}, want[2];
        for (int b = 0; b < 2; b++) {
            double k = ks[b];
            if (k <= 1)
                want[b] = sl[0];
            else if (k >= dn)
                want[b] = sl[ns - 1];
            else {
                size_t i = (size_t)floor(k);
                want[b] = sl[i - 1] + (k - (double)i) * (sl[i] - sl[i - 1]);
            }
        }
        assert_true(fabs(t.slope_lo - want[0]) < 1e-9);
        assert_true(fabs(t.slope_hi - want[1]) < 1e-9);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_exact),
        cmocka_unit_test(test_mann_kendall_by_hand),
        cmocka_unit_test(test_constant_and_falling),
        cmocka_unit_test(test_robust_to_outliers),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_subsample),
        cmocka_unit_test(test_thinned_by_time),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_selection_matches_sorting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
