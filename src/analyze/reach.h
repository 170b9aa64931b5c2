/* Reachability scans in the verdicts: a site whose blocks a scan found
 * unreachable (nothing points to them) is a leak whatever its trend; a
 * site that grows while every block of it is reachable is held by
 * something, and the scan names what. Rules in docs/VERDICTS.md
 * ("Reachability scans"). Pure function of the model and the trend
 * verdicts; lk_verdict_analyze() calls it, nothing else needs to. */
#ifndef LK_REACH_H
#define LK_REACH_H

#include "model.h"
#include "verdict.h"

/* Whether a scan's lost blocks decide a verdict on their own: every
 * thread's registers were roots (LK_SCAN_REGISTERS) and it was not cut
 * short (LK_SCAN_PARTIAL). */
int lk_reach_decisive(const struct lk_model_scan *sc);

/* Lost blocks (unreachable + indirect) and their bytes in r. */
uint64_t lk_reach_lost_count(const struct lk_model_reach *r);
uint64_t lk_reach_lost_bytes(const struct lk_model_reach *r);

/* Applies the scans to a->sites[] (still by model index, before ranking):
 * fills each site's reach evidence, turns sites with lost blocks into LEAK,
 * marks growing sites that are held, then recounts the verdicts, the
 * rates, the run's verdict and its time. Does nothing without scans, so a
 * recording without SCAN records is judged exactly as before. O(sites x
 * log scans per site + decisive scans per lost site). */
void lk_reach_apply(const struct lk_model *m, struct lk_analysis *a);

/* "request", "signal", "period", "exit", "unknown". */
const char *lk_reach_trigger_name(uint64_t trigger);

/* "unreachable", "indirect", "reachable", "?". */
const char *lk_reach_state_name(unsigned state);

#endif
