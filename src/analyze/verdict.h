/* The verdict per allocation site and for the run, from a loaded
 * recording: a robust trend of live bytes, the survival of early cohorts,
 * whether growth goes on at the end, and how early in the run the verdict
 * was reached. The process level (RSS split, retention, time to limit) is
 * procsplit.h. Rules and thresholds are in docs/VERDICTS.md; every result
 * carries its evidence for the reader to judge. */
#ifndef LK_VERDICT_H
#define LK_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "procsplit.h"
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
#define LK_VERDICT_TAIL_P 0.05          /* and the last third's own Mann–Kendall p below this */
#define LK_VERDICT_QUANTA 4              /* a site's growth must exceed this many of the
                                           agent's write steps (1 KiB or 1/64 of it) */
#define LK_VERDICT_TAIL_MIN_POINTS 6    /* ... when the last third has this many snapshots
                                           (6 monotone points give p = 0.0085) */
#define LK_VERDICT_SURVIVAL_LEAK 0.9    /* survival of early cohorts for LEAK (upper bound) */
#define LK_VERDICT_SURVIVAL_MIN 0.5     /* and its point estimate at least this */
#define LK_VERDICT_Z99 2.326347874      /* one-sided 99% normal quantile for that bound */
#define LK_VERDICT_TEMP_END_FRAC 0.1    /* end live <= this part of the peak: TEMPORARY */
#define LK_VERDICT_PREFIXES 24          /* prefixes re-judged for the time to verdict */
#define LK_VERDICT_SAMPLE_MATERIAL 2    /* sampled: growth below this many intervals is noise */

/* What the reachability scans say of a site (src/analyze/reach.c,
 * docs/VERDICTS.md "Reachability scans"). All zero without scans. */
struct lk_site_reach {
    int scanned;                /* the recording holds at least one scan */
    size_t scan;                /* the latest scan (index into model->scans) */
    struct lk_model_reach at;   /* the site's state in it; zeros when it was not listed */
    enum lk_verdict trend_verdict; /* the verdict of the trend rules alone */
    int lost;                   /* LEAK because a decisive scan found blocks nothing points to
                                   (or a non-decisive one did and the trend grows) */
    int decisive;               /* lost was decided by a scan with registers, not partial */
    int evidence;               /* lost blocks seen only in a non-decisive scan */
    size_t lost_scan;           /* the scan whose counts lost_* are */
    uint64_t lost_count;        /* unreachable + indirect blocks in it */
    uint64_t lost_bytes;        /* and their bytes */
    double lost_rate;           /* bytes/s of lost bytes between the first and the last decisive
                                   scan; 0 with fewer than two */
    int nlost_scans;            /* decisive scans that found the site's blocks lost */
    int held;                   /* grows by trend while the latest scan finds every block of it
                                   reachable: held by something */
};

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
    double survival;                     /* of the early cohorts' blocks live at the middle of
                                            the run, the part live at its end, in [0, 1];
                                            < 0 unknown (docs/VERDICTS.md) */
    double survival_hi;                  /* its one-sided 99% upper bound */
    double survival_early;               /* live/born of the early cohorts at the end */
    uint64_t early_born;                 /* blocks born in the first quarter's cohorts */
    uint64_t early_live_mid;             /* of them, live at the middle of the run */
    uint64_t early_live;                 /* and live at its end */
    int survival_from_cohorts;           /* 0: both estimated as live_count / allocs */
    int late;                            /* decided on the last third alone (a late leak) */
    const char *why;                     /* a short static phrase: the rule that decided */
    /* Time to verdict: the shortest checked prefix of the run from which on
     * this verdict held at every checked prefix up to the whole run. */
    double verdict_time_s; /* its last snapshot's time since start; < 0 unknown */
    size_t verdict_snaps;  /* snapshots in that prefix */
    struct lk_site_reach reach; /* reachability scans' evidence */
};

struct lk_proc_summary {
    double duration_s; /* first to last snapshot */
    size_t nsnaps;
    uint64_t rss_start, rss_end; /* bytes */
    uint64_t rss_peak;
    struct lk_trend rss;           /* RSS over seconds: slope in bytes/s */
    uint64_t heap_start, heap_end; /* tracked live heap, bytes */
    uint64_t heap_peak;
    struct lk_trend heap;      /* tracked live heap over seconds */
    uint64_t allocs, frees;    /* tracked, at the last snapshot */
    int rss_outside_heap;      /* RSS grows materially while the tracked heap does not */
    struct lk_procsplit split; /* RSS split, process verdict, time to limit */
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
    double verdict_time_s;         /* time to the run's verdict (see lk_site_verdict); < 0
                                      when UNKNOWN */
    size_t verdict_snaps;
    size_t nprefixes;         /* prefixes judged to find those times */
    double sampling_sd_bytes; /* sampled recordings: per-site noise of live bytes at the
                                 material threshold, bytes; 0 unsampled */
    /* Reachability scans (zero without them): */
    size_t lost_sites;        /* sites LEAK because of lost blocks */
    uint64_t lost_count;      /* their lost blocks (unreachable + indirect), summed */
    uint64_t lost_bytes;      /* and bytes */
    double lost_rate;         /* sum of their lost_rate, bytes/s */
    double lost_trend_rate;   /* sum of their trend rates (part of leak_rate), bytes/s */
    int verdict_by_scan;      /* the run's verdict and its time come from a scan's lost blocks */
    size_t evidence_sites;    /* sites with lost blocks seen only by non-decisive scans */
    size_t held_sites;        /* growing sites whose blocks are all reachable */
};

/* Judges every site of m, then the same on up to LK_VERDICT_PREFIXES
 * prefixes of the run to find how early each verdict was reached, and
 * splits process memory. 0, or -ENOMEM. Cost: per prefix, O(log changes)
 * per site plus two bounded Theil–Sen fits for each site whose growth is
 * material. */
int lk_verdict_analyze(const struct lk_model *m, struct lk_analysis *out);

void lk_verdict_free(struct lk_analysis *a);

/* "LEAK", "GROWING", ... */
const char *lk_verdict_name(enum lk_verdict v);

/* Whether a site with this verdict belongs among the suspects a report
 * shows by default. */
int lk_verdict_interesting(enum lk_verdict v);

#endif
