/* Per-thread batches of site counter deltas (site_batch.h). Between the
 * allocation hooks (agent.c) and the site counters (site_table.h): each
 * thread owns a batch of 64 slots, each keyed by (site, birth cohort) and
 * holding the born/died counts and bytes, and one size class's allocation
 * count, not yet added to the site. A slot taken by another key is added to
 * its site first (locked additions, rare). Batches come from the arena and
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

#define SLOTS 64
#define MEMBARRIER_PRIVATE_EXPEDITED (1 << 3)
#define MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

/* Fields are atomics for the language's sake only: the owner reads and
 * writes them while it is busy, the collector while it is not (relaxed
 * loads and stores, plain moves on x86). */
struct slot {
    struct lk_site *_Atomic site; /* NULL: empty */
    _Atomic uint32_t k;           /* birth cohort */
    _Atomic uint32_t cls;         /* the size class `hist` counts */
    _Atomic uint64_t born, born_bytes, died, died_bytes, hist;
};

enum { OWNED, EXITED, FREE }; /* batch states */

struct batch {
    _Atomic int busy;        /* the owner is inside lk_site_batch_alloc/free */
    _Atomic int state;       /* OWNED, EXITED (thread gone, slots to collect), FREE */
    struct batch *next;      /* all batches, newest first (never unlinked) */
    struct batch *next_free; /* the free list (under free_lock) */
    struct slot slot[SLOTS];
};

#define NO_BATCH ((struct batch *)1) /* this thread adds to the sites directly */

static struct batch *_Atomic all;
static struct batch *free_list;
static struct lk_lock free_lock = LK_LOCK_INIT;
static _Atomic int steal;   /* a collection runs: owners add to the sites */
static _Atomic int enabled; /* membarrier works */
static pthread_key_t key;
static __thread struct batch *mine __attribute__((tls_model("initial-exec")));

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define ST(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define ADD(x, v) ST(x, LD(x) + (v))

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
    mine = NO_BATCH;
    atomic_store_explicit(&((struct batch *)b)->state, EXITED, memory_order_release);
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

__attribute__((noinline, cold)) static struct batch *
adopt(void)
{
    struct batch *b = NULL;
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
    mine = b ? b : NO_BATCH;
    return b;
}

/* Adds a slot's deltas to its site and empties it (the key stays). */
static void
flush_slot(struct slot *sl)
{
    struct lk_site *s = LD(sl->site);
    if (!s)
        return;
    struct lk_cohort_ctr *c = &s->c[LD(sl->k)];
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
        atomic_fetch_add_explicit(&s->hist[LD(sl->cls)], v, memory_order_relaxed);
    ST(sl->born, 0);
    ST(sl->born_bytes, 0);
    ST(sl->died, 0);
    ST(sl->died_bytes, 0);
    ST(sl->hist, 0);
}

/* The batch to add to, marked busy; NULL when the deltas must go to the
 * site directly (no batch, or a collection runs). */
static inline struct batch *
enter(void)
{
    struct batch *b = mine;
    if (__builtin_expect((uintptr_t)b <= 1, 0) && (b == NO_BATCH || !(b = adopt())))
        return NULL;
    atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* the collector's membarrier is the other half */
    if (__builtin_expect(atomic_load_explicit(&steal, memory_order_acquire), 0)) {
        atomic_store_explicit(&b->busy, 0, memory_order_release);
        return NULL;
    }
    return b;
}

static inline void
leave(struct batch *b)
{
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&b->busy, 0, memory_order_release);
}

static inline struct slot *
slot_for(struct batch *b, struct lk_site *s, unsigned k)
{
    struct slot *sl = &b->slot[(s->id * 7u + k) & (SLOTS - 1)];
    if (__builtin_expect(LD(sl->site) != s || LD(sl->k) != k, 0)) {
        flush_slot(sl);
        ST(sl->site, s);
        ST(sl->k, k);
    }
    return sl;
}

void
lk_site_batch_alloc(struct lk_site *s, uint64_t size, uint32_t period, uint64_t blocks,
                    uint64_t bytes)
{
    struct batch *b = enter();
    if (!b) {
        lk_site_on_alloc_w(s, size, period, blocks, bytes);
        return;
    }
    struct slot *sl = slot_for(b, s, lk_cohort_of(period));
    ADD(sl->born, blocks);
    ADD(sl->born_bytes, bytes);
    unsigned cls = lk_size_class(size);
    if (__builtin_expect(LD(sl->cls) != cls, 0)) {
        uint64_t h = LD(sl->hist);
        if (h)
            atomic_fetch_add_explicit(&s->hist[LD(sl->cls)], h, memory_order_relaxed);
        ST(sl->hist, 0);
        ST(sl->cls, cls);
    }
    ADD(sl->hist, blocks);
    leave(b);
}

void
lk_site_batch_free(struct lk_site *s, uint32_t period, uint64_t blocks, uint64_t bytes)
{
    struct batch *b = enter();
    if (!b) {
        lk_site_on_free_w(s, period, blocks, bytes);
        return;
    }
    struct slot *sl = slot_for(b, s, lk_cohort_of(period));
    ADD(sl->died, blocks);
    ADD(sl->died_bytes, bytes);
    leave(b);
}

static void
take_in(struct batch *b)
{
    for (int i = 0; i < SLOTS; i++)
        flush_slot(&b->slot[i]);
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
    atomic_store(&steal, 1);
    if (membarrier(MEMBARRIER_PRIVATE_EXPEDITED) < 0) {
        /* cannot tell busy owners from idle ones: owners stay on the sites */
        atomic_store(&enabled, 0);
        return;
    }
    for (struct batch *b = atomic_load(&all); b; b = b->next) {
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
    atomic_store_explicit(&steal, 0, memory_order_release);
}

void
lk_site_batch_after_fork(void)
{
    lk_lock_reset(&free_lock);
    if (!atomic_load(&enabled))
        return;
    /* Only this thread runs, and not inside its batch: every owner but it
     * is gone. */
    for (struct batch *b = atomic_load(&all); b; b = b->next) {
        if (b != mine && atomic_load(&b->state) == OWNED)
            atomic_store(&b->state, EXITED);
        atomic_store(&b->busy, 0);
        if (atomic_load(&b->state) != FREE)
            take_in(b);
    }
    if (membarrier(MEMBARRIER_REGISTER_PRIVATE_EXPEDITED) < 0) {
        atomic_store(&enabled, 0);
        mine = NO_BATCH;
    }
}
