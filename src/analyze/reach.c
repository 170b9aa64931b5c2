/* Reachability scans in the verdicts (reach.h): after the trend rules have
 * judged every site, the scans' per-site states overrule them where they
 * are direct evidence. A block no root and no reachable block points to
 * can never be freed by the program (it has no pointer to pass to free),
 * so a decisive scan that finds one makes its site a LEAK even when the
 * site's live bytes are flat: one lost struct per aborted connection never
 * makes a trend. Pure; allocates nothing. */
#include "reach.h"

#include <string.h>

/* Decisive: every thread's registers, not cut short, and made while the
 * program ran. The exit scan is not: it runs after main returned, when
 * main's locals are gone (its frame is reused by exit's own calls), so
 * everything a program kept only in main's locals reads as lost then — as
 * valgrind and LeakSanitizer report it, "definitely lost". Its lost blocks
 * are evidence, a verdict only when the trend agrees (below). */
int
lk_reach_decisive(const struct lk_model_scan *sc)
{
    return (sc->flags & LK_SCAN_REGISTERS) && !(sc->flags & LK_SCAN_PARTIAL) &&
           sc->trigger != LK_SCAN_AT_EXIT;
}

uint64_t
lk_reach_lost_count(const struct lk_model_reach *r)
{
    return r->count[LK_BLOCK_UNREACHABLE] + r->count[LK_BLOCK_INDIRECT];
}

uint64_t
lk_reach_lost_bytes(const struct lk_model_reach *r)
{
    return r->bytes[LK_BLOCK_UNREACHABLE] + r->bytes[LK_BLOCK_INDIRECT];
}

const char *
lk_reach_trigger_name(uint64_t trigger)
{
    switch (trigger) {
    case LK_SCAN_BY_REQUEST:
        return "request";
    case LK_SCAN_BY_SIGNAL:
        return "signal";
    case LK_SCAN_BY_PERIOD:
        return "period";
    case LK_SCAN_AT_EXIT:
        return "exit";
    default:
        return "unknown";
    }
}

const char *
lk_reach_state_name(unsigned state)
{
    static const char *const name[LK_NSTATES] = {"unreachable", "indirect", "reachable"};
    return state < LK_NSTATES ? name[state] : "?";
}

/* Snapshots taken at or before t_ns, at least 1 (for "snapshot k of n"). */
static size_t
snaps_by(const struct lk_model *m, uint64_t t_ns)
{
    size_t k = 0;
    while (k < m->nsnaps && m->snaps[k].time_ns <= t_ns)
        k++;
    return k ? k : 1;
}

/* Site i's evidence from the scans into v->reach; may change v->verdict. */
static void
judge_site(const struct lk_model *m, const struct lk_model_site *s, struct lk_site_verdict *v)
{
    struct lk_site_reach *r = &v->reach;
    struct lk_model_reach at;
    memset(r, 0, sizeof *r);
    r->scanned = 1;
    r->trend_verdict = v->verdict;
    r->scan = m->nscans - 1;
    lk_model_reach_at(s, r->scan, &r->at);

    /* The latest decisive scan decides: a block lost then stays lost (the
     * program holds no pointer to free it with), and a later decisive scan
     * that finds none means the earlier "lost" ones were held in a way the
     * scan could not see (a pointer kept in a shifted or xor-ed form). */
    size_t last = m->nscans, first = m->nscans;
    for (size_t k = m->nscans; k-- > 0;)
        if (lk_reach_decisive(&m->scans[k])) {
            if (last == m->nscans)
                last = k;
            first = k;
        }
    if (last < m->nscans) {
        lk_model_reach_at(s, last, &at);
        if (lk_reach_lost_count(&at)) {
            r->lost = r->decisive = 1;
            r->lost_scan = last;
            r->lost_count = lk_reach_lost_count(&at);
            r->lost_bytes = lk_reach_lost_bytes(&at);
            /* Since when: the earliest decisive scan from which on every
             * decisive scan found lost blocks of the site. */
            size_t since = last;
            for (size_t k = last; k-- > 0;) {
                if (!lk_reach_decisive(&m->scans[k]))
                    continue;
                struct lk_model_reach e;
                lk_model_reach_at(s, k, &e);
                if (!lk_reach_lost_count(&e))
                    break;
                since = k;
            }
            for (size_t k = since; k <= last; k++)
                r->nlost_scans += lk_reach_decisive(&m->scans[k]);
            if (first < last && m->scans[last].time_ns > m->scans[first].time_ns) {
                struct lk_model_reach f;
                lk_model_reach_at(s, first, &f);
                r->lost_rate = ((double)r->lost_bytes - (double)lk_reach_lost_bytes(&f)) /
                               ((double)(m->scans[last].time_ns - m->scans[first].time_ns) / 1e9);
            }
            if (v->verdict != LK_VERDICT_LEAK) {
                v->verdict = LK_VERDICT_LEAK;
                v->verdict_time_s = (double)m->scans[since].time_ns / 1e9;
                v->verdict_snaps = snaps_by(m, m->scans[since].time_ns);
            }
            v->why = "a reachability scan found blocks of this site that nothing points to";
            return;
        }
    }

    /* A scan without every thread's registers (ptrace refused) or cut
     * short may call a block lost whose only pointer sat in a register or
     * in memory not scanned yet, and the exit scan one held by main's
     * locals: evidence to show, a verdict only when the trend already says
     * the site grows. */
    if (!lk_reach_decisive(&m->scans[r->scan]) && lk_reach_lost_count(&r->at)) {
        r->evidence = 1;
        r->lost_scan = r->scan;
        r->lost_count = lk_reach_lost_count(&r->at);
        r->lost_bytes = lk_reach_lost_bytes(&r->at);
        if (v->verdict == LK_VERDICT_GROWING || v->verdict == LK_VERDICT_LEAK) {
            r->lost = 1;
            if (v->verdict == LK_VERDICT_GROWING) {
                v->verdict = LK_VERDICT_LEAK;
                v->why = m->scans[r->scan].trigger == LK_SCAN_AT_EXIT
                             ? "live bytes kept growing and the exit scan found blocks of this "
                               "site that nothing points to"
                             : "live bytes keep growing and a scan (without every thread's "
                               "registers) found blocks of this site that nothing points to";
            }
        }
        return;
    }

    /* Growth with every block reachable: something holds them. Counts of
     * a partial scan are lower bounds, and reachable blocks it found are
     * reachable, so it may say so too. */
    if ((v->verdict == LK_VERDICT_GROWING || v->verdict == LK_VERDICT_LEAK) &&
        !lk_reach_lost_count(&r->at) && r->at.count[LK_BLOCK_REACHABLE])
        r->held = 1;
}

void
lk_reach_apply(const struct lk_model *m, struct lk_analysis *a)
{
    if (!m->nscans || !m->nsnaps)
        return; /* without snapshots no site was judged: nothing to add to */
    enum lk_verdict before = a->verdict;
    memset(a->counts, 0, sizeof a->counts);
    a->leak_rate = a->growing_rate = 0;
    double lost_since = -1;
    size_t lost_snaps = 0;
    for (size_t i = 0; i < a->nsites; i++) {
        struct lk_site_verdict *v = &a->sites[i];
        judge_site(m, &m->sites[v->site], v);
        a->counts[v->verdict]++;
        if (v->verdict == LK_VERDICT_LEAK)
            a->leak_rate += v->rate;
        if (v->verdict == LK_VERDICT_GROWING)
            a->growing_rate += v->rate;
        if (v->reach.lost && v->reach.decisive) {
            a->lost_sites++;
            a->lost_count += v->reach.lost_count;
            a->lost_bytes += v->reach.lost_bytes;
            a->lost_rate += v->reach.lost_rate;
            a->lost_trend_rate += v->rate;
            if (lost_since < 0 || v->verdict_time_s < lost_since) {
                lost_since = v->verdict_time_s;
                lost_snaps = v->verdict_snaps;
            }
        }
        a->evidence_sites += v->reach.evidence;
        a->held_sites += v->reach.held;
    }
    /* Lost blocks make the run a LEAK even before the trend rules have
     * enough snapshots to say anything. */
    if (a->counts[LK_VERDICT_LEAK])
        a->verdict = LK_VERDICT_LEAK;
    if (a->verdict == LK_VERDICT_LEAK && before != LK_VERDICT_LEAK && lost_since >= 0) {
        a->verdict_time_s = lost_since;
        a->verdict_snaps = lost_snaps;
        a->verdict_by_scan = 1;
    }
}
