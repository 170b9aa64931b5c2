/* The agent's lock: a test-and-test-and-set spinlock that yields after a
 * short spin. Held only for a few table operations, never across a call into
 * the host or libc's allocator, so a holder is always about to release it.
 * No allocation; safe to reset in a fork child (only the forking thread
 * exists there, and the atfork prepare handler took every lock first).
 *
 * Lock order (outer first), never taken in another order:
 *   LK_RANK_RECORDER (agent.c) < LK_RANK_SITES (site_table.c)
 *   < LK_RANK_SHARD (live_map.c, one at a time) < LK_RANK_BATCH (site_batch.c's
 *   free list) < LK_RANK_ARENA (arena.c). */
#ifndef LK_LOCK_H
#define LK_LOCK_H

#include <sched.h>
#include <stdatomic.h>

enum lk_lock_rank { LK_RANK_RECORDER, LK_RANK_SITES, LK_RANK_SHARD, LK_RANK_BATCH, LK_RANK_ARENA };

struct lk_lock {
    atomic_int held;
};

#define LK_LOCK_INIT {0}

/* The contended case, out of line: inlined, its call to sched_yield() made
 * every function that takes a lock save and restore six registers on every
 * call (cachegrind: 14 instructions per lock, bench_hook_cost). */
__attribute__((noinline, cold, unused)) static void
lk_lock_wait(struct lk_lock *l)
{
    for (;;) {
        for (int spins = 0; atomic_load_explicit(&l->held, memory_order_relaxed); spins++) {
            if (spins >= 64) {
                sched_yield();
                spins = 0;
            } else {
                __builtin_ia32_pause();
            }
        }
        if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
            return;
    }
}

static inline void
lk_lock(struct lk_lock *l)
{
    if (__builtin_expect(!atomic_exchange_explicit(&l->held, 1, memory_order_acquire), 1))
        return;
    lk_lock_wait(l);
}

/* Takes the lock unless it stays held through `tries` yields: 1 when taken.
 * For the agent's task, whose holder may be a thread stopped in a signal
 * handler for good. */
static inline int
lk_lock_try(struct lk_lock *l, int tries)
{
    for (int t = 0; t < tries; t++) {
        if (!atomic_load_explicit(&l->held, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
            return 1;
        sched_yield();
    }
    return 0;
}

static inline void
lk_unlock(struct lk_lock *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

static inline void
lk_lock_reset(struct lk_lock *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_relaxed);
}

#endif
