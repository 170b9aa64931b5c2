/* Theil–Sen slope, Sen's confidence interval and the Mann–Kendall test
 * (docs/VERDICTS.md derives them). Pure functions of their inputs; they
 * allocate a transient pairwise-slope array, so they belong to the CLI.
 * Inputs longer than LK_TREND_MAX_POINTS are subsampled evenly in time,
 * keeping a fit at about 45,000 pairs whatever the length of the recording. */
#include "trend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

size_t
lk_trend_pick(size_t n, size_t max, size_t *idx)
{
    if (max < 2)
        max = 2;
    if (n <= max) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        return n;
    }
    for (size_t j = 0; j < max; j++)
        idx[j] = (size_t)(((double)j * (double)(n - 1)) / (double)(max - 1) + 0.5);
    idx[max - 1] = n - 1;
    return max;
}

double
lk_trend_pvalue(double z)
{
    return erfc(fabs(z) / sqrt(2.0));
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest (0-based) of v[0..n), by quickselect (Hoare partition,
 * middle pivot): v is permuted so that v[k] holds it, smaller values before
 * it and larger after. Expected O(n), against O(n log n) for sorting the
 * 44,850 pairwise slopes of a fit: sorting them took 80% of `report` on a
 * recording of 3,000 sites over 6 hours. */
static double
select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (r > l) { /* Wirth's FIND: pivot v[k], partition, keep the side holding k */
        double x = v[kk];
        ptrdiff_t i = l, j = r;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        } while (i <= j);
        if (j < kk)
            l = i;
        if (kk < i)
            r = j;
    }
    return v[k];
}

/* v[k+1] of the sorted order once select_kth(v, n, k) has run: the smallest
 * value after position k. */
static double
next_after(const double *v, size_t n, size_t k)
{
    double m = v[k + 1];
    for (size_t i = k + 2; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

static double
median_select(double *v, size_t n)
{
    if (!n)
        return 0;
    double a = select_kth(v, n, (n - 1) / 2);
    return n % 2 ? a : (a + next_after(v, n, (n - 1) / 2)) / 2;
}

/* The k-th smallest (1-based, fractional k interpolated, clamped) of
 * v[0..n), which is permuted. */
static double
order_stat(double *v, size_t n, double k)
{
    if (k <= 1)
        return select_kth(v, n, 0);
    if (k >= (double)n)
        return select_kth(v, n, n - 1);
    size_t i = (size_t)floor(k);
    double f = k - (double)i;
    double a = select_kth(v, n, i - 1);
    return f > 0 ? a + f * (next_after(v, n, i - 1) - a) : a;
}

size_t
lk_trend_first_at(double (*x)(const void *ctx, size_t i), const void *ctx, size_t from, size_t to,
                  double t)
{
    size_t lo = from, hi = to - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x(ctx, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t
lk_trend_pick_x(double (*x)(const void *ctx, size_t i), const void *ctx, size_t from, size_t to,
                size_t max, size_t *idx)
{
    size_t n = to - from;
    if (n <= max) {
        for (size_t i = 0; i < n; i++)
            idx[i] = from + i;
        return n;
    }
    double t0 = x(ctx, from), span = x(ctx, to - 1) - t0;
    size_t k = 0;
    for (size_t j = 0; j < max; j++) {
        size_t i = j == max - 1
                       ? to - 1
                       : lk_trend_first_at(x, ctx, from, to, t0 + span * (double)j / (double)(max - 1));
        if (!k || i > idx[k - 1])
            idx[k++] = i;
    }
    return k;
}

static double
array_x(const void *ctx, size_t i)
{
    return ((const double *)ctx)[i];
}

/* lk_trend_pick by time rather than by index when x increases: a thinned
 * recording keeps every snapshot of the last few minutes and few of the
 * hours before; picking by index would give those minutes most of the
 * points and the fit would follow them, not the run. On evenly spaced x both
 * picks are the same. Falls back to lk_trend_pick when x is not in
 * increasing order or spans nothing. */
static size_t
pick_by_time(const double *x, size_t n, size_t max, size_t *idx)
{
    if (n <= max)
        return lk_trend_pick(n, max, idx);
    for (size_t i = 1; i < n; i++)
        if (!(x[i] >= x[i - 1]))
            return lk_trend_pick(n, max, idx);
    if (!(x[n - 1] - x[0] > 0))
        return lk_trend_pick(n, max, idx);
    return lk_trend_pick_x(array_x, x, 0, n, max, idx);
}

int
lk_trend_fit(const double *x, const double *y, size_t n, struct lk_trend *out)
{
    size_t pick[LK_TREND_MAX_POINTS];
    double px[LK_TREND_MAX_POINTS], py[LK_TREND_MAX_POINTS];
    size_t m = pick_by_time(x, n, LK_TREND_MAX_POINTS, pick);
    for (size_t i = 0; i < m; i++) {
        px[i] = x[pick[i]];
        py[i] = y[pick[i]];
    }
    *out = (struct lk_trend){.n = m, .p = 1.0};
    if (m < 2) {
        out->intercept = m ? py[0] : 0;
        return 0;
    }

    size_t npairs = m * (m - 1) / 2;
    double *slopes = malloc(npairs * sizeof *slopes);
    double *tmp = malloc(m * sizeof *tmp);
    if (!slopes || !tmp) {
        free(slopes);
        free(tmp);
        return -ENOMEM;
    }

    /* Pairwise slopes over distinct x and the Mann–Kendall S in one pass:
     * S counts, over pairs ordered by x, rises minus falls of y. */
    size_t ns = 0;
    double s = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++) {
            double dx = px[j] - px[i], dy = py[j] - py[i];
            if (dx == 0)
                continue;
            slopes[ns++] = dy / dx;
            double sg = (dy > 0) - (dy < 0);
            s += dx > 0 ? sg : -sg;
        }

    /* Var(S) = [n(n-1)(2n+5) - sum over tie groups t(t-1)(2t+5)] / 18. */
    for (size_t i = 0; i < m; i++)
        tmp[i] = py[i];
    qsort(tmp, m, sizeof *tmp, cmp_double);
    double dn = (double)m;
    double var = dn * (dn - 1) * (2 * dn + 5);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && tmp[j] == tmp[i])
            j++;
        double t = (double)(j - i);
        var -= t * (t - 1) * (2 * t + 5);
        i = j;
    }
    var /= 18.0;
    out->s = s;
    out->var_s = var;
    if (var > 0) {
        out->z = s > 0 ? (s - 1) / sqrt(var) : s < 0 ? (s + 1) / sqrt(var) : 0;
        out->p = lk_trend_pvalue(out->z);
    }

    if (ns) {
        out->slope = median_select(slopes, ns);
        /* Sen's interval: with C = z * sqrt(Var S), the bounds are the
         * (N - C)/2-th and ((N + C)/2 + 1)-th of the N ordered slopes. */
        double c = LK_TREND_Z95 * sqrt(var > 0 ? var : 0);
        double dns = (double)ns;
        out->slope_lo = order_stat(slopes, ns, (dns - c) / 2);
        out->slope_hi = order_stat(slopes, ns, (dns + c) / 2 + 1);
    }
    for (size_t i = 0; i < m; i++)
        tmp[i] = py[i] - out->slope * px[i];
    out->intercept = median_select(tmp, m);
    free(slopes);
    free(tmp);
    return 0;
}
