/* Robust trend of a series y(x): the Theil–Sen slope (median of pairwise
 * slopes) with Sen's confidence interval, and the Mann–Kendall trend test.
 * Derivations and caveats in docs/VERDICTS.md. */
#ifndef LK_TREND_H
#define LK_TREND_H

#include <stddef.h>

/* Points a fit uses at most; longer series are subsampled evenly, which
 * bounds a fit at LK_TREND_MAX_POINTS^2 / 2 pairs. */
#define LK_TREND_MAX_POINTS 300

/* Two-sided 95% normal quantile used for the slope's interval. */
#define LK_TREND_Z95 1.959963984540054

struct lk_trend {
    size_t n;        /* points used */
    double slope;    /* Sen's slope, y units per x unit; 0 when n < 2 */
    double slope_lo; /* 95% confidence interval of the slope */
    double slope_hi;
    double intercept; /* median of y - slope * x */
    double s;         /* Mann–Kendall S: concordant minus discordant pairs */
    double var_s;     /* variance of S under no trend, corrected for ties */
    double z;         /* continuity-corrected normal score of S */
    double p;         /* two-sided p-value of "no monotonic trend"; 1 when n < 3 */
};

/* Fits y over x (n points, any order of x; pairs with equal x are not
 * compared). n may exceed LK_TREND_MAX_POINTS: the fit then uses points
 * evenly spaced in x when x increases (a thinned recording's sparse past
 * counts as much as its dense last minutes), else evenly spaced by index,
 * including the first and last. 0, or -ENOMEM. Allocates
 * O(min(n, max)^2) bytes transiently; costs O(m^2 log m) for m points. */
int lk_trend_fit(const double *x, const double *y, size_t n, struct lk_trend *out);

/* Fills idx[] with min(n, max) indexes into [0, n), increasing, evenly
 * spaced, including 0 and n-1; returns how many. */
size_t lk_trend_pick(size_t n, size_t max, size_t *idx);

/* Points given by x(ctx, i), which must not decrease over [from, to): the
 * first index in [from, to) whose x is at least t, or to - 1. from < to.
 * O(log(to - from)). */
size_t lk_trend_first_at(double (*x)(const void *ctx, size_t i), const void *ctx, size_t from,
                         size_t to, double t);

/* Up to max indexes into [from, to), increasing, evenly spaced in x (each
 * the first at or after its target, lk_trend_first_at), including from and
 * to - 1; returns how many (fewer than max where points are sparse). All of
 * them when to - from <= max. max >= 2. */
size_t lk_trend_pick_x(double (*x)(const void *ctx, size_t i), const void *ctx, size_t from,
                       size_t to, size_t max, size_t *idx);

/* Two-sided p-value of a standard normal score z. */
double lk_trend_pvalue(double z);

#endif
