/* A first, heuristic verdict per allocation site and for the process, from
 * a loaded recording. The rules and thresholds are in docs/VERDICTS.md; the
 * full verdict engine (RSS decomposition, time to limit) is later work, so
 * every result carries its evidence for the reader to judge. */
#ifndef LK_VERDICT_H
#define LK_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "trend.h"

enum lk_verdict {
    LK_VERDICT_LEAK,      /* live bytes grow and still grow; objects are not freed */
    LK_VERDICT_GROWING,   /* live bytes grow and still grow, with turnover */
    LK_VERDICT_BOUNDED,   /* live bytes grew, then stopped */
    LK_VERDICT_STABLE,    /* no material trend */
    LK_VERDICT_TEMPORARY, /* a material peak, mostly freed by the end */
    LK_VERDICT_UNKNOWN,   /* too few snapshots to judge */
};

/* Thresholds of the heuristic (docs/VERDICTS.md says why). */
#define LK_VERDICT_MIN_SNAPS 8          /* snapshots needed for any verdict */
#define LK_VERDICT_P_MAX 0.01           /* Mann–Kendall p below this: a trend */
#define LK_VERDICT_MATERIAL_BYTES 65536 /* growth of this many bytes is material... */
#define LK_VERDICT_MATERIAL_FRAC 0.01   /* ...as is growth of this part of the peak heap */
#define LK_VERDICT_MATERIAL_FLOOR 4096  /* but never less than this */
#define LK_VERDICT_TAIL_FRAC 0.25       /* last third's slope / whole slope: still growing */
#define LK_VERDICT_SURVIVAL_LEAK 0.9    /* survival of early cohorts for LEAK */
#define LK_VERDICT_TEMP_END_FRAC 0.1    /* end live <= this part of the peak: TEMPORARY */

struct lk_site_verdict {
    size_t site; /* index into model->sites */
    uint64_t id; /* site id */
    enum lk_verdict verdict;
    int fitted;                                /* trend fields below were computed */
    struct lk_trend trend;                     /* live bytes over seconds, whole run */
    double rate;                               /* Sen's slope, bytes/s (0 when not fitted) */
    double rate_lo, rate_hi;                   /* its 95% interval, bytes/s */
    double tail_rate;                          /* Sen's slope over the last third, bytes/s */
    uint64_t live_bytes_start, live_bytes_end; /* at the first and last snapshot */
    uint64_t live_count_start, live_count_end;
    uint64_t peak_live_bytes;
    uint64_t allocs, frees, alloc_bytes; /* since start, at the last snapshot */
    double survival;                     /* retention of first-half cohorts relative to later ones,
                                            in [0, 1]; < 0 unknown (docs/VERDICTS.md) */
    double survival_early;               /* live/born of the first-half cohorts */
    int survival_from_cohorts;           /* 0: both estimated as live_count / allocs */
    const char *why;                     /* a short static phrase: the rule that decided */
};

struct lk_proc_summary {
    double duration_s; /* first to last snapshot */
    size_t nsnaps;
    uint64_t rss_start, rss_end; /* bytes */
    uint64_t rss_peak;
    struct lk_trend rss;           /* RSS over seconds: slope in bytes/s */
    uint64_t heap_start, heap_end; /* tracked live heap, bytes */
    uint64_t heap_peak;
    struct lk_trend heap;   /* tracked live heap over seconds */
    uint64_t allocs, frees; /* tracked, at the last snapshot */
    int rss_outside_heap;   /* RSS grows materially while the tracked heap does not */
};

struct lk_analysis {
    enum lk_verdict verdict;               /* the worst site verdict in LEAK, GROWING order, else
                                              BOUNDED/STABLE, UNKNOWN with too few snapshots */
    size_t counts[LK_VERDICT_UNKNOWN + 1]; /* sites per verdict */
    double leak_rate;                      /* sum of rates of LEAK sites, bytes/s */
    double growing_rate;                   /* sum of rates of GROWING sites, bytes/s */
    uint64_t material_bytes;               /* the materiality threshold this run used */
    struct lk_proc_summary proc;
    size_t nsites;
    struct lk_site_verdict *sites; /* ranked: LEAK and GROWING first, then by rate
                                      and growth, descending */
};

/* Judges every site of m. 0, or -ENOMEM. Cost: O(changes) per site plus a
 * bounded Theil–Sen fit for the few sites whose growth is material. */
int lk_verdict_analyze(const struct lk_model *m, struct lk_analysis *out);

void lk_verdict_free(struct lk_analysis *a);

/* "LEAK", "GROWING", ... */
const char *lk_verdict_name(enum lk_verdict v);

/* Whether a site with this verdict belongs among the suspects a report
 * shows by default. */
int lk_verdict_interesting(enum lk_verdict v);

#endif
