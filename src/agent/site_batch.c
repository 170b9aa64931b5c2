/* Per-thread batches of site counter deltas (site_batch.h). Between the
 * allocation hooks (agent.c) and the site counters (site_table.h): each
 * thread owns a batch of 64 slots, each keyed by (site, birth cohort) and
 * holding the born/died counts and bytes, and one size class's allocation
 * count, not yet added to the site. A slot taken by another key passes its
 * deltas on to the batch's pending slot, added to their site at the next
 * such eviction (locked additions; rare, except in a program with many
 * sites, which is why they wait for their prefetched lines). Batches come from the arena and
 * are never unmapped: a list of all of them for the collector, a free list
 * of exited threads' batches for new threads (lock rank LK_RANK_BATCH). The
 * hot path takes no lock and makes no system call; it never allocates. */
#include "site_batch.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "arena.h"
#include "lock.h"
#include "sys.h"

#define SLOTS LK_BATCH_SLOTS
#define MEMBARRIER_PRIVATE_EXPEDITED (1 << 3)
#define MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

enum { OWNED, EXITED, FREE }; /* batch states */

#define NO_BATCH ((struct lk_batch *)1) /* this thread adds to the sites directly */

static struct lk_batch *_Atomic all;
static struct lk_batch *free_list;
static struct lk_lock free_lock = LK_LOCK_INIT;
_Atomic int lk_site_batch_steal; /* a collection runs: owners add to the sites */
static _Atomic int enabled; /* membarrier works */
static pthread_key_t key;
__thread struct lk_batch *lk_site_batch_mine __attribute__((tls_model("initial-exec")));

#define LD(x) LK_BATCH_LD(x)
#define ST(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

static long
membarrier(int cmd)
{
    return lk_sys_call6(SYS_membarrier, cmd, 0, 0, 0, 0, 0);
}

/* Thread exit (the key's destructor): later allocations of this thread (in
 * other keys' destructors) add to the sites directly; the collector takes
 * the batch in and frees it. */
static void
on_thread_exit(void *b)
{
    lk_site_batch_mine = NO_BATCH;
    atomic_store_explicit(&((struct lk_batch *)b)->state, EXITED, memory_order_release);
}

int
lk_site_batch_init(void)
{
    if (membarrier(MEMBARRIER_REGISTER_PRIVATE_EXPEDITED) < 0)
        return -ENOSYS;
    int e = pthread_key_create(&key, on_thread_exit);
    if (e)
        return -e;
    atomic_store(&enabled, 1);
    return 0;
}

__attribute__((noinline, cold)) static struct lk_batch *
adopt(void)
{
    struct lk_batch *b = NULL;
    int saved = errno; /* pthread_setspecific may allocate, and fail */
    if (atomic_load(&enabled)) {
        lk_lock(&free_lock);
        b = free_list;
        if (b)
            free_list = b->next_free;
        lk_unlock(&free_lock);
        if (!b && (b = lk_arena_alloc(sizeof *b))) {
            b->next = atomic_load(&all);
            while (!atomic_compare_exchange_weak(&all, &b->next, b))
                ;
        }
        if (b) {
            atomic_store(&b->state, OWNED);
            if (pthread_setspecific(key, b) != 0) {
                /* no exit hook: give it back to the collector at once */
                atomic_store(&b->state, EXITED);
                b = NULL;
            }
        }
    }
    lk_site_batch_mine = b ? b : NO_BATCH;
    errno = saved;
    return b;
}

/* Adds a slot's deltas to its site and empties it (the key stays). */
static void
flush_slot(struct lk_batch_slot *sl)
{
    struct lk_site *s = LD(sl->site);
    if (!s)
        return;
    struct lk_site_ctr *ctr = lk_site_ctr(s);
    struct lk_cohort_ctr *c = &ctr->c[LD(sl->k)];
    uint64_t v;
    if ((v = LD(sl->born)))
        atomic_fetch_add_explicit(&c->born, v, memory_order_relaxed);
    if ((v = LD(sl->born_bytes)))
        atomic_fetch_add_explicit(&c->born_bytes, v, memory_order_relaxed);
    if ((v = LD(sl->died)))
        atomic_fetch_add_explicit(&c->died, v, memory_order_relaxed);
    if ((v = LD(sl->died_bytes)))
        atomic_fetch_add_explicit(&c->died_bytes, v, memory_order_relaxed);
    if ((v = LD(sl->hist)))
        atomic_fetch_add_explicit(&ctr->hist[LD(sl->cls)], v, memory_order_relaxed);
    ST(sl->born, 0);
    ST(sl->born_bytes, 0);
    ST(sl->died, 0);
    ST(sl->died_bytes, 0);
    ST(sl->hist, 0);
}

/* The batch to add to, marked busy, adopting one on the thread's first
 * use; NULL when the deltas must go to the site directly (no batch, or a
 * collection runs). */
static struct lk_batch *
enter(void)
{
    if (!lk_site_batch_mine && !adopt())
        return NULL;
    return lk_site_batch_enter();
}

/* Empties a slot (its key stays): its deltas move to the batch's pending
 * slot, and what was pending goes to its site. The site's counter lines are
 * prefetched when the deltas move, and written at the next eviction, so the
 * cache misses of a flush overlap the program's work in between instead of
 * stalling on locked additions to cold lines. gcc's cc1, whose 15,700 sites
 * take turns in 64 slots, flushed at most allocations: docs/UNWIND.md,
 * section 19. */
static void
evict(struct lk_batch *b, struct lk_batch_slot *sl)
{
    struct lk_batch_slot *p = &b->pending;
    flush_slot(p);
    struct lk_site *s = LD(sl->site);
    uint64_t born = LD(sl->born), born_bytes = LD(sl->born_bytes), died = LD(sl->died),
             died_bytes = LD(sl->died_bytes), hist = LD(sl->hist);
    if (!s || !(born | born_bytes | died | died_bytes | hist))
        return;
    unsigned k = LD(sl->k), cls = LD(sl->cls);
    struct lk_site_ctr *ctr = lk_site_ctr(s);
    __builtin_prefetch(&ctr->c[k], 1);
    if (hist)
        __builtin_prefetch(&ctr->hist[cls], 1);
    ST(p->k, k);
    ST(p->cls, cls);
    ST(p->born, born);
    ST(p->born_bytes, born_bytes);
    ST(p->died, died);
    ST(p->died_bytes, died_bytes);
    ST(p->hist, hist);
    ST(p->site, s);
    ST(sl->born, 0);
    ST(sl->born_bytes, 0);
    ST(sl->died, 0);
    ST(sl->died_bytes, 0);
    ST(sl->hist, 0);
}

/* The slot of (s, k), taken over from its previous key (evicted). */
static struct lk_batch_slot *
slot_for(struct lk_batch *b, struct lk_site *s, unsigned k)
{
    struct lk_batch_slot *sl = lk_site_batch_slot(b, s, k);
    if (LD(sl->site) != s || LD(sl->k) != k) {
        evict(b, sl);
        ST(sl->site, s);
        ST(sl->k, k);
    }
    return sl;
}

void
lk_site_batch_alloc_slow(struct lk_site *s, uint64_t size, uint32_t period, uint64_t blocks,
                         uint64_t bytes)
{
    struct lk_batch *b = enter();
    if (!b) {
        lk_site_on_alloc_w(s, size, period, blocks, bytes);
        return;
    }
    struct lk_batch_slot *sl = slot_for(b, s, lk_cohort_of(period));
    LK_BATCH_ADD(sl->born, blocks);
    LK_BATCH_ADD(sl->born_bytes, bytes);
    unsigned cls = lk_size_class(size);
    if (LD(sl->cls) != cls) {
        /* the slot counts one size class: the other's count goes to the
         * site (not through evict(): a site of many sizes, a program's
         * request buffers, changes class at most allocations) */
        uint64_t h = LD(sl->hist);
        if (h)
            atomic_fetch_add_explicit(&lk_site_ctr(s)->hist[LD(sl->cls)], h,
                                      memory_order_relaxed);
        ST(sl->hist, 0);
        ST(sl->cls, cls);
    }
    LK_BATCH_ADD(sl->hist, blocks);
    lk_site_batch_leave(b);
}

void
lk_site_batch_free_slow(struct lk_site *s, uint32_t period, uint64_t blocks, uint64_t bytes)
{
    struct lk_batch *b = enter();
    if (!b) {
        lk_site_on_free_w(s, period, blocks, bytes);
        return;
    }
    struct lk_batch_slot *sl = slot_for(b, s, lk_cohort_of(period));
    LK_BATCH_ADD(sl->died, blocks);
    LK_BATCH_ADD(sl->died_bytes, bytes);
    lk_site_batch_leave(b);
}

static void
take_in(struct lk_batch *b)
{
    for (int i = 0; i < SLOTS; i++)
        flush_slot(&b->slot[i]);
    flush_slot(&b->pending);
    if (atomic_load_explicit(&b->state, memory_order_acquire) == EXITED) {
        atomic_store(&b->state, FREE);
        lk_lock(&free_lock);
        b->next_free = free_list;
        free_list = b;
        lk_unlock(&free_lock);
    }
}

void
lk_site_batch_collect(void)
{
    if (!atomic_load(&enabled))
        return;
    atomic_store(&lk_site_batch_steal, 1);
    if (membarrier(MEMBARRIER_PRIVATE_EXPEDITED) < 0) {
        /* cannot tell busy owners from idle ones: owners stay on the sites */
        atomic_store(&enabled, 0);
        return;
    }
    for (struct lk_batch *b = atomic_load(&all); b; b = b->next) {
        if (atomic_load(&b->state) == FREE)
            continue;
        /* An owner seen busy is inside a few instructions, unless it was
         * preempted there or stopped by a signal: wait ~10 ms at most, then
         * leave its deltas to the next collection. */
        uint64_t until = 0;
        while (atomic_load_explicit(&b->busy, memory_order_acquire)) {
            uint64_t now = lk_sys_now_ns();
            if (!until)
                until = now + 10000000ull;
            else if (now > until)
                break;
            sched_yield();
        }
        if (!atomic_load_explicit(&b->busy, memory_order_acquire))
            take_in(b);
    }
    atomic_store_explicit(&lk_site_batch_steal, 0, memory_order_release);
}

void
lk_site_batch_after_fork(void)
{
    lk_lock_reset(&free_lock);
    if (!atomic_load(&enabled))
        return;
    /* Only this thread runs, and not inside its batch: every owner but it
     * is gone. */
    for (struct lk_batch *b = atomic_load(&all); b; b = b->next) {
        if (b != lk_site_batch_mine && atomic_load(&b->state) == OWNED)
            atomic_store(&b->state, EXITED);
        atomic_store(&b->busy, 0);
        if (atomic_load(&b->state) != FREE)
            take_in(b);
    }
    if (membarrier(MEMBARRIER_REGISTER_PRIVATE_EXPEDITED) < 0) {
        atomic_store(&enabled, 0);
        lk_site_batch_mine = NO_BATCH;
    }
}
