/* The process level of the verdict: RSS split into parts from the proc
 * fields of every snapshot (live heap, allocator free and overhead from
 * mallinfo2, anonymous memory outside malloc from smaps_rollup, tracked
 * mmaps, file-backed pages), one bounded Theil–Sen fit per part, the
 * allocator-retention rule, advice, and the time to the memory limit.
 * Pure function of the model; CLI only (it allocates through the fits).
 * docs/VERDICTS.md, "Process level", states and justifies the rules. */
#include "procsplit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

const char *
lk_proc_verdict_name(enum lk_proc_verdict v)
{
    switch (v) {
    case LK_PROC_UNDECIDED:
        return "UNKNOWN";
    case LK_PROC_NOT_GROWING:
        return "NOT_GROWING";
    case LK_PROC_RETENTION:
        return "ALLOCATOR_RETENTION";
    case LK_PROC_HEAP:
        return "HEAP_GROWTH";
    case LK_PROC_ALLOCATOR:
        return "ALLOCATOR_GROWTH";
    case LK_PROC_OUTSIDE:
        return "OUTSIDE_MALLOC_GROWTH";
    case LK_PROC_MMAP:
        return "MMAP_GROWTH";
    case LK_PROC_FILE:
        return "FILE_GROWTH";
    }
    return "UNKNOWN";
}

const char *
lk_split_part_name(enum lk_split_part p)
{
    static const char *const names[LK_SPLIT_NPARTS] = {
        "RSS",          "tracked heap", "allocator free", "allocator overhead", "outside malloc",
        "tracked mmap", "file-backed",
    };
    return (unsigned)p < LK_SPLIT_NPARTS ? names[p] : "?";
}

static uint64_t
sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* Value of part p at snapshot s. */
static uint64_t
part_value(const struct lk_model_snap *s, enum lk_split_part p, int smaps)
{
    const uint64_t *f = s->proc;
    uint64_t footprint = f[LK_PROC_MI_ARENA] + f[LK_PROC_MI_HBLKHD];
    switch (p) {
    case LK_SPLIT_RSS:
        return f[LK_PROC_RSS];
    case LK_SPLIT_HEAP:
        return f[LK_PROC_HEAP_LIVE];
    case LK_SPLIT_MALLOC_FREE:
        return f[LK_PROC_MI_FORD];
    case LK_SPLIT_MALLOC_OVERHEAD:
        return sub0(footprint, f[LK_PROC_MI_FORD] + f[LK_PROC_HEAP_LIVE]);
    case LK_SPLIT_OUTSIDE:
        /* Anonymous resident memory that neither malloc's footprint nor a
         * tracked mapping explains: other allocators, untracked mmaps,
         * thread stacks; not the agent's own tables, which it reports
         * since format 1.2. Without smaps (format 1.0) RSS stands in,
         * file pages included. The footprint is virtual, so the
         * difference is clamped at 0. */
        return sub0(smaps ? f[LK_PROC_ANON] : f[LK_PROC_RSS],
                    footprint + f[LK_PROC_MMAP_LIVE] + f[LK_PROC_AGENT]);
    case LK_SPLIT_MMAP:
        return f[LK_PROC_MMAP_LIVE];
    case LK_SPLIT_FILE:
        return f[LK_PROC_RSS_FILE];
    default:
        return 0;
    }
}

uint64_t
lk_procsplit_value(const struct lk_model *m, const struct lk_procsplit *sp, size_t snap,
                   enum lk_split_part p)
{
    return snap < m->nsnaps ? part_value(&m->snaps[snap], p, sp->has_smaps) : 0;
}

static int
fit_part(const struct lk_model *m, enum lk_split_part p, int smaps, struct lk_split_series *out)
{
    size_t idx[LK_TREND_MAX_POINTS];
    double x[LK_TREND_MAX_POINTS], y[LK_TREND_MAX_POINTS];
    size_t n = m->nsnaps;
    out->start = part_value(&m->snaps[0], p, smaps);
    out->end = part_value(&m->snaps[n - 1], p, smaps);
    out->peak = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = part_value(&m->snaps[i], p, smaps);
        if (v > out->peak)
            out->peak = v;
    }
    size_t k = n ? lk_model_pick(m, 0, n, LK_TREND_MAX_POINTS, idx) : 0;
    for (size_t i = 0; i < k; i++) {
        x[i] = lk_model_time_s(m, idx[i]);
        y[i] = (double)part_value(&m->snaps[idx[i]], p, smaps);
    }
    return lk_trend_fit(x, y, k, &out->t);
}

/* RSS over the last third of the run's time. */
static int
tail_fit(const struct lk_model *m, struct lk_trend *out)
{
    size_t idx[LK_TREND_MAX_POINTS];
    double x[LK_TREND_MAX_POINTS], y[LK_TREND_MAX_POINTS];
    size_t n = m->nsnaps, k = 0;
    if (n)
        k = lk_model_pick(m, lk_model_tail_start(m, n), n, LK_TREND_MAX_POINTS, idx);
    for (size_t i = 0; i < k; i++) {
        x[i] = lk_model_time_s(m, idx[i]);
        y[i] = (double)m->snaps[idx[i]].proc[LK_PROC_RSS];
    }
    return lk_trend_fit(x, y, k, out);
}

static void
advise(struct lk_procsplit *o, const char *a)
{
    if (o->nadvice < LK_SPLIT_MAX_ADVICE)
        o->advice[o->nadvice++] = a;
}

/* Allocator retention: the live heap rose and fell back by a material
 * amount, RSS rose too and kept at least half of its rise, what it kept is
 * comparable to what the heap gave back, and (when mallinfo2 was
 * recorded) the allocator's free bytes grew by a quarter of the drop. */
static int
is_retention(const struct lk_procsplit *o)
{
    const struct lk_split_series *rss = &o->part[LK_SPLIT_RSS], *heap = &o->part[LK_SPLIT_HEAP];
    const struct lk_split_series *fr = &o->part[LK_SPLIT_MALLOC_FREE];
    double heap_rise = (double)heap->peak - (double)heap->start;
    double drop = (double)heap->peak - (double)heap->end;
    double rss_rise = (double)rss->peak - (double)rss->start;
    double kept = (double)rss->end - (double)rss->start;
    double mat = (double)o->material;
    if (drop < mat || drop < LK_SPLIT_RETAIN_DROP_FRAC * heap_rise)
        return 0;
    if (rss_rise < mat || kept < LK_SPLIT_RETAIN_KEPT_FRAC * rss_rise ||
        kept < LK_SPLIT_RETAIN_KEPT_FRAC * drop)
        return 0;
    if (o->has_mallinfo && (double)fr->end - (double)fr->start < LK_SPLIT_RETAIN_FREE_FRAC * drop)
        return 0;
    return 1;
}

int
lk_procsplit_analyze(const struct lk_model *m, uint64_t material, struct lk_procsplit *o)
{
    memset(o, 0, sizeof *o);
    o->time_to_limit_s = -1;
    o->verdict = LK_PROC_UNDECIDED;
    o->why = "not enough snapshots yet";
    size_t n = m->nsnaps;
    if (!n)
        return 0;
    const struct lk_model_snap *first = &m->snaps[0], *last = &m->snaps[n - 1];
    o->has_smaps = last->nproc > LK_PROC_ANON && last->proc[LK_PROC_ANON] > 0;
    o->tracks_mmap = (m->info.flags & LK_INFO_TRACKS_MMAP) != 0;
    for (size_t i = 0; i < n && !o->has_mallinfo; i++)
        o->has_mallinfo =
            m->snaps[i].proc[LK_PROC_MI_ARENA] + m->snaps[i].proc[LK_PROC_MI_HBLKHD] > 0;
    for (int p = 0; p < LK_SPLIT_NPARTS; p++) {
        if (fit_part(m, (enum lk_split_part)p, o->has_smaps, &o->part[p]) < 0)
            return -ENOMEM;
        o->part[p].recorded = 1;
    }
    o->part[LK_SPLIT_MALLOC_FREE].recorded = o->has_mallinfo;
    o->part[LK_SPLIT_MALLOC_OVERHEAD].recorded = o->has_mallinfo;
    o->part[LK_SPLIT_OUTSIDE].recorded = o->has_mallinfo;
    o->part[LK_SPLIT_MMAP].recorded = o->tracks_mmap || last->proc[LK_PROC_MMAP_COUNT] > 0;
    o->part[LK_SPLIT_FILE].recorded = o->has_smaps;

    const struct lk_split_series *rss = &o->part[LK_SPLIT_RSS];
    double mat = (double)material;
    if (mat < LK_SPLIT_MATERIAL_MIN)
        mat = LK_SPLIT_MATERIAL_MIN;
    if (mat < LK_SPLIT_MATERIAL_FRAC * (double)rss->peak)
        mat = LK_SPLIT_MATERIAL_FRAC * (double)rss->peak;
    o->material = (uint64_t)mat;
    o->heap_drop = sub0(o->part[LK_SPLIT_HEAP].peak, o->part[LK_SPLIT_HEAP].end);
    o->rss_kept = sub0(rss->end, rss->start);
    o->free_held = last->proc[LK_PROC_MI_FORD];
    o->releasable = last->proc[LK_PROC_MI_KEEP];
    o->threads = last->nproc > LK_PROC_THREADS ? last->proc[LK_PROC_THREADS] : 0;
    (void)first;

    /* RSS grows when, as for a site, its trend is significant, its growth
     * material and the last third still grows at a quarter of the whole
     * run's pace (a step, such as libraries paged in at start-up or a
     * spike, is not growth). */
    struct lk_trend tail;
    if (tail_fit(m, &tail) < 0)
        return -ENOMEM;
    o->rss_tail_rate = tail.slope;
    int rss_grows = rss->t.p < LK_VERDICT_P_MAX && rss->t.slope_lo > 0 &&
                    (double)rss->end - (double)rss->start >= mat && tail.slope > 0 &&
                    tail.slope > LK_VERDICT_TAIL_FRAC * rss->t.slope;

    /* Time to limit, at the RSS rate when RSS grows. */
    o->rss_rate = rss_grows ? rss->t.slope : 0;
    if (o->has_smaps && last->proc[LK_PROC_CG_LIMIT]) {
        o->limit_kind = LK_LIMIT_CGROUP;
        o->limit = last->proc[LK_PROC_CG_LIMIT];
        o->usage = last->proc[LK_PROC_CG_USAGE] ? last->proc[LK_PROC_CG_USAGE] : rss->end;
    } else if (o->has_smaps && last->proc[LK_PROC_MEM_TOTAL]) {
        o->limit_kind = LK_LIMIT_PHYSICAL;
        o->limit = last->proc[LK_PROC_MEM_TOTAL];
        o->usage = rss->end;
    }
    if (o->limit_kind != LK_LIMIT_NONE && o->rss_rate > 0)
        o->time_to_limit_s = (double)sub0(o->limit, o->usage) / o->rss_rate;

    if (n < LK_VERDICT_MIN_SNAPS)
        return 0;

    if (is_retention(o)) {
        o->verdict = LK_PROC_RETENTION;
        o->why = "RSS stayed up after the live heap fell: the allocator keeps the freed memory "
                 "(not a leak)";
        if (o->has_mallinfo && o->releasable < o->free_held / 2)
            advise(o, "most of the free memory lies below a block still in use near the top of "
                      "the heap (a pinned top, or fragmentation), so free() cannot trim it: "
                      "malloc_trim(0) after the spike returns free pages from inside the heap "
                      "too");
        else
            advise(o, "call malloc_trim(0) after a spike to give the free memory back");
        advise(o, "let free() trim sooner: mallopt(M_TRIM_THRESHOLD, N) or "
                  "GLIBC_TUNABLES=glibc.malloc.trim_threshold=N; serve large buffers from their "
                  "own mappings, returned at free(): mallopt(M_MMAP_THRESHOLD, N) or "
                  "glibc.malloc.mmap_threshold=N");
        if (o->threads > LK_SPLIT_MANY_THREADS)
            advise(o, "many threads each get a malloc arena that fragments on its own: "
                      "MALLOC_ARENA_MAX=2 (or glibc.malloc.arena_max) bounds them");
        advise(o, "or use an allocator that returns free memory over time (jemalloc, mimalloc, "
                  "tcmalloc)");
        return 0;
    }
    if (!rss_grows) {
        o->verdict = LK_PROC_NOT_GROWING;
        o->why = "RSS does not grow materially";
        return 0;
    }
    /* RSS grows: the part that grew most explains it. */
    static const struct {
        enum lk_split_part part;
        enum lk_proc_verdict v;
        const char *why;
    } cand[] = {
        {LK_SPLIT_HEAP, LK_PROC_HEAP, "RSS grows with the tracked live heap: see the sites above"},
        {LK_SPLIT_MALLOC_FREE, LK_PROC_ALLOCATOR,
         "RSS grows in free memory the allocator keeps (fragmentation), not in live blocks"},
        {LK_SPLIT_MALLOC_OVERHEAD, LK_PROC_ALLOCATOR,
         "RSS grows in allocator overhead or in blocks allocated before tracking began"},
        {LK_SPLIT_OUTSIDE, LK_PROC_OUTSIDE,
         "RSS grows outside malloc: another allocator, untracked mappings or thread stacks"},
        {LK_SPLIT_MMAP, LK_PROC_MMAP,
         "RSS grows in anonymous mappings the program makes: see the mmap sites above"},
        {LK_SPLIT_FILE, LK_PROC_FILE, "RSS grows in file-backed pages (mapped files, shmem)"},
    };
    double best = 0;
    o->verdict = LK_PROC_HEAP;
    o->why = cand[0].why;
    /* The tracked heap wins when it explains a large share of the growth:
     * the sites then say where it goes, and the rest (allocator overhead,
     * pages of code touched for the first time) grows along with it. */
    const struct lk_split_series *hp = &o->part[LK_SPLIT_HEAP];
    double rg = (double)rss->end - (double)rss->start;
    if ((double)hp->end - (double)hp->start >= LK_SPLIT_HEAP_SHARE * rg)
        return 0;
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        const struct lk_split_series *s = &o->part[cand[i].part];
        double g = (double)s->end - (double)s->start;
        if (!s->recorded || g <= best)
            continue;
        best = g;
        o->verdict = cand[i].v;
        o->why = cand[i].why;
    }
    if (o->verdict == LK_PROC_ALLOCATOR) {
        advise(o, "malloc_trim(0) shows how much of it can be returned; "
                  "MALLOC_ARENA_MAX=2 bounds per-thread arenas; another allocator (jemalloc, "
                  "mimalloc) fragments less");
    } else if (o->verdict == LK_PROC_OUTSIDE && !o->tracks_mmap) {
        advise(o, "this recording did not track mmap: a newer agent attributes anonymous "
                  "mappings to call stacks");
    }
    return 0;
}
