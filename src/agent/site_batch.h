/* Per-thread batches of site counter deltas. An allocation or free adds to
 * its thread's batch with plain stores instead of locked additions to the
 * shared site (on this project's Xeon VM those `lock add`s were the largest
 * part of what full tracking still cost on perl: docs/UNWIND.md, section 9);
 * the agent's task collects every batch into the sites before it reads
 * them, so snapshots see exact counts, idle and exited threads' included.
 * The hand-over is an asymmetric Dekker protocol: the owner marks itself
 * busy and checks a steal flag with compiler barriers only; the collector
 * raises the flag and issues membarrier(2), which makes every running
 * thread's pending stores visible, so that either it sees the owner busy
 * (and waits the few instructions out) or the owner sees the flag (and adds
 * to the site with atomics while the collection runs). Without membarrier
 * (an old kernel, seccomp) every thread adds to the sites directly. */
#ifndef LK_SITE_BATCH_H
#define LK_SITE_BATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "site_table.h"

/* Registers membarrier and the thread-exit key. 0, or -errno: batching off. */
int lk_site_batch_init(void);

#define LK_BATCH_SLOTS 64

/* Fields are atomics for the language's sake only: the owner reads and
 * writes them while it is busy, the collector while it is not (relaxed
 * loads and stores, plain moves on x86). */
struct lk_batch_slot {
    struct lk_site *_Atomic site; /* NULL: empty */
    _Atomic uint32_t k;           /* birth cohort */
    _Atomic uint32_t cls;         /* the size class `hist` counts */
    _Atomic uint64_t born, born_bytes, died, died_bytes, hist;
};

struct lk_batch {
    _Atomic int busy;          /* the owner is inside lk_site_batch_alloc/free */
    _Atomic int state;         /* OWNED, EXITED (thread gone, slots to collect), FREE */
    struct lk_batch *next;     /* all batches, newest first (never unlinked) */
    struct lk_batch *next_free; /* the free list (under site_batch.c's free_lock) */
    struct lk_batch_slot slot[LK_BATCH_SLOTS];
    /* A slot's deltas on their way to their site (site_batch.c, evict()):
     * added one eviction later, their counters' lines prefetched. */
    struct lk_batch_slot pending;
};

/* This thread's batch: NULL before its first use, (struct lk_batch *)1
 * when the thread adds to the sites directly. */
extern __thread struct lk_batch *lk_site_batch_mine __attribute__((tls_model("initial-exec")));
/* Set while a collection runs: owners add to the sites directly. */
extern _Atomic int lk_site_batch_steal;

/* Everything but the commonest case below: no batch yet, a collection
 * running, a slot keyed to another site, cohort or size class. */
void lk_site_batch_alloc_slow(struct lk_site *s, uint64_t size, uint32_t period, uint64_t blocks,
                              uint64_t bytes);
void lk_site_batch_free_slow(struct lk_site *s, uint32_t period, uint64_t blocks, uint64_t bytes);

#define LK_BATCH_LD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define LK_BATCH_ADD(x, v) atomic_store_explicit(&(x), LK_BATCH_LD(x) + (v), memory_order_relaxed)

/* The owner marks itself busy (compiler barrier only: the collector's
 * membarrier is the other half) and then checks the steal flag. NULL when
 * the deltas must take the slow path. */
static inline __attribute__((always_inline)) struct lk_batch *
lk_site_batch_enter(void)
{
    struct lk_batch *b = lk_site_batch_mine;
    if (__builtin_expect((uintptr_t)b <= 1, 0))
        return NULL;
    atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    if (__builtin_expect(atomic_load_explicit(&lk_site_batch_steal, memory_order_acquire), 0)) {
        atomic_store_explicit(&b->busy, 0, memory_order_release);
        return NULL;
    }
    return b;
}

static inline __attribute__((always_inline)) void
lk_site_batch_leave(struct lk_batch *b)
{
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&b->busy, 0, memory_order_release);
}

static inline __attribute__((always_inline)) struct lk_batch_slot *
lk_site_batch_slot(struct lk_batch *b, const struct lk_site *s, unsigned k)
{
    return &b->slot[(s->id * 7u + k) & (LK_BATCH_SLOTS - 1)];
}

/* lk_site_on_alloc_w through this thread's batch. Inline: every tracked
 * allocation; the common case (the slot holds this site, cohort and size
 * class) is three plain additions. */
static inline __attribute__((always_inline)) void
lk_site_batch_alloc(struct lk_site *s, uint64_t size, uint32_t period, uint64_t blocks,
                    uint64_t bytes)
{
    struct lk_batch *b = lk_site_batch_enter();
    if (__builtin_expect(b != NULL, 1)) {
        unsigned k = lk_cohort_of(period), cls = lk_size_class(size);
        struct lk_batch_slot *sl = lk_site_batch_slot(b, s, k);
        if (__builtin_expect(LK_BATCH_LD(sl->site) == s && LK_BATCH_LD(sl->k) == k &&
                                 LK_BATCH_LD(sl->cls) == cls,
                             1)) {
            LK_BATCH_ADD(sl->born, blocks);
            LK_BATCH_ADD(sl->born_bytes, bytes);
            LK_BATCH_ADD(sl->hist, blocks);
            lk_site_batch_leave(b);
            return;
        }
        lk_site_batch_leave(b);
    }
    lk_site_batch_alloc_slow(s, size, period, blocks, bytes);
}

/* lk_site_on_free_w through this thread's batch. Inline: every tracked
 * free. */
static inline __attribute__((always_inline)) void
lk_site_batch_free(struct lk_site *s, uint32_t period, uint64_t blocks, uint64_t bytes)
{
    struct lk_batch *b = lk_site_batch_enter();
    if (__builtin_expect(b != NULL, 1)) {
        unsigned k = lk_cohort_of(period);
        struct lk_batch_slot *sl = lk_site_batch_slot(b, s, k);
        if (__builtin_expect(LK_BATCH_LD(sl->site) == s && LK_BATCH_LD(sl->k) == k, 1)) {
            LK_BATCH_ADD(sl->died, blocks);
            LK_BATCH_ADD(sl->died_bytes, bytes);
            lk_site_batch_leave(b);
            return;
        }
        lk_site_batch_leave(b);
    }
    lk_site_batch_free_slow(s, period, blocks, bytes);
}

/* Adds every batch's pending deltas to the sites and empties the batches.
 * Snapshot thread only (one collector at a time); waits at most ~10 ms for
 * a thread caught inside its batch, whose deltas then wait for the next
 * collection. */
void lk_site_batch_collect(void);

/* In a fork child (only the forking thread runs): takes every batch in,
 * owners or not, and registers membarrier for the new process. */
void lk_site_batch_after_fork(void);

#endif
