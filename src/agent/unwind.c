/* Stack walking. On x86-64 a frame's canonical frame address (CFA) is its
 * stack pointer at the call plus a size that, at a given return address, is
 * fixed for almost all code (it changes only after alloca or a variable-
 * length array, where the CFA is rbp-based). So the walker keeps a table
 * return address -> frame size, and steps with one lookup and one load per
 * frame: sp' = sp + size(pc), pc' = *(sp' - 8). A return address not in the
 * table sends the whole walk to libunwind (unw_init_local/unw_step), whose
 * frames then fill the table; a size that libunwind later contradicts is
 * marked variable and always walked by libunwind. Loads stay inside the
 * thread's stack. The table is read without a lock (entries are only added;
 * a grown table is published whole) and written under a small lock; it never
 * calls malloc. libunwind may allocate on first use in a thread: callers
 * hold the agent's re-entrancy guard. */
#include "unwind.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "lock.h"
#include "record/format.h"
#include "sys.h"

#define SIZE_VARIABLE INT32_MIN   /* frame size differs between calls: walk with libunwind */
#define SIZE_OUTERMOST (INT32_MIN + 1) /* libunwind stops here: the walk ends */
#define MAX_FRAME (1 << 24)       /* larger "frames" are taken as not learnable */

struct pc_entry {
    _Atomic uintptr_t pc; /* 0 = empty */
    atomic_int size;      /* bytes from sp at the call to the CFA, or SIZE_* */
};

struct pc_table {
    size_t mask;
    struct pc_entry e[];
};

static uintptr_t self_lo, self_hi;
static _Atomic(struct pc_table *) table;
static struct lk_lock table_lock = LK_LOCK_INIT;
static size_t table_used;
static atomic_uint_least64_t n_fast, n_slow;
__thread uintptr_t lk_unwind_stack_lo __attribute__((tls_model("initial-exec")));
__thread uintptr_t lk_unwind_stack_hi __attribute__((tls_model("initial-exec")));
#define stack_lo lk_unwind_stack_lo
#define stack_hi lk_unwind_stack_hi

static inline size_t
slot_of(uintptr_t pc, size_t mask)
{
    return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 40) & mask;
}

static struct pc_table *
table_new(size_t cap)
{
    struct pc_table *t = lk_sys_mmap(sizeof *t + cap * sizeof t->e[0]);
    if (t)
        t->mask = cap - 1;
    return t;
}

int
lk_unwind_init(uintptr_t lo, uintptr_t hi)
{
    self_lo = lo;
    self_hi = hi;
    if (!atomic_load(&table)) {
        struct pc_table *t = table_new(1u << 14);
        if (!t)
            return -ENOMEM;
        atomic_store_explicit(&table, t, memory_order_release);
    }
    return 0;
}

/* Frame size at pc, or 0 when pc is not in the table. */
static inline int
lookup(const struct pc_table *t, uintptr_t pc)
{
    for (size_t i = slot_of(pc, t->mask);; i = (i + 1) & t->mask) {
        uintptr_t p = atomic_load_explicit(&t->e[i].pc, memory_order_acquire);
        if (p == pc)
            return atomic_load_explicit(&t->e[i].size, memory_order_relaxed);
        if (!p)
            return 0;
    }
}

static void
put_locked(struct pc_table *t, uintptr_t pc, int size)
{
    size_t i = slot_of(pc, t->mask);
    for (;; i = (i + 1) & t->mask) {
        uintptr_t p = atomic_load_explicit(&t->e[i].pc, memory_order_relaxed);
        if (p == pc) {
            int old = atomic_load_explicit(&t->e[i].size, memory_order_relaxed);
            if (old != size && old != SIZE_VARIABLE)
                atomic_store_explicit(&t->e[i].size, SIZE_VARIABLE, memory_order_relaxed);
            return;
        }
        if (!p)
            break;
    }
    atomic_store_explicit(&t->e[i].size, size, memory_order_relaxed);
    atomic_store_explicit(&t->e[i].pc, pc, memory_order_release);
    table_used++;
}

/* Does the table step from pc by itself (a fixed size, or the end)? */
static int
known(uintptr_t pc)
{
    struct pc_table *t = atomic_load_explicit(&table, memory_order_acquire);
    int size = t ? lookup(t, pc) : 0;
    return size > 0 || size == SIZE_OUTERMOST;
}

/* Records what libunwind found. A table more than half full is replaced by
 * one twice its size; the old one stays mapped for readers still in it. A
 * size the table already holds takes no lock. */
static void
learn(uintptr_t pc, int size)
{
    if (!pc)
        return;
    struct pc_table *cur = atomic_load_explicit(&table, memory_order_acquire);
    if (cur) {
        int had = lookup(cur, pc);
        if (had == size || had == SIZE_VARIABLE)
            return;
    }
    lk_lock(&table_lock);
    struct pc_table *t = atomic_load_explicit(&table, memory_order_relaxed);
    if (t && (table_used + 1) * 2 > t->mask + 1) {
        struct pc_table *n = table_new((t->mask + 1) * 2);
        if (n) {
            table_used = 0;
            for (size_t i = 0; i <= t->mask; i++) {
                uintptr_t p = atomic_load_explicit(&t->e[i].pc, memory_order_relaxed);
                if (p)
                    put_locked(n, p, atomic_load_explicit(&t->e[i].size, memory_order_relaxed));
            }
            atomic_store_explicit(&table, n, memory_order_release);
            t = n;
        }
    }
    if (t && (table_used + 1) * 10 < (t->mask + 1) * 9)
        put_locked(t, pc, size);
    lk_unlock(&table_lock);
}

/* The thread's stack bounds, found once per thread (pthread_getattr_np may
 * allocate and read /proc/self/maps for the main thread: we hold the guard). */
static int
bounds(void)
{
    if (stack_hi)
        return 1;
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return 0;
    int ok = pthread_attr_getstack(&a, &addr, &size) == 0;
    pthread_attr_destroy(&a);
    if (!ok)
        return 0;
    stack_lo = (uintptr_t)addr;
    stack_hi = (uintptr_t)addr + size;
    return 1;
}

/* libunwind from here: frames from the one whose stack pointer is sp0 (the
 * caller of the interposed function) outwards; teaches the table. With
 * stop non-zero (the stack pointer of the frame the table could not step
 * from), returns as soon as it has stepped past that frame and reached one
 * the table knows, with *resume set: the caller goes on from the last frame
 * with the table. libunwind cannot start in the middle of a stack (it needs
 * the registers there), so this saves the steps outwards of the frames it
 * had to learn: on cc1 compiling a 2,600-line file, 130k libunwind steps
 * (each with its signal-mask system calls) for 5,500 walks before. */
static size_t
slow_walk(uintptr_t sp0, uintptr_t *pcs, uintptr_t *sps, size_t max, int *complete,
          uintptr_t stop, int *resume)
{
    unw_context_t uc;
    unw_cursor_t c;
    size_t n = 0;
    unw_word_t ip, sp;
    uintptr_t prev_pc = 0, prev_sp = 0;
    atomic_fetch_add_explicit(&n_slow, 1, memory_order_relaxed);
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return 0;
    for (int guard = 0; guard < 4 * LK_MAX_FRAMES; guard++) {
        if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || unw_get_reg(&c, UNW_REG_SP, &sp) < 0)
            break;
        if (prev_pc) {
            uint64_t d = (uint64_t)sp - prev_sp;
            learn(prev_pc, sp > prev_sp && d < MAX_FRAME ? (int)d : SIZE_VARIABLE);
        }
        prev_pc = (uintptr_t)ip;
        prev_sp = (uintptr_t)sp;
        if ((uintptr_t)sp >= sp0 && n < max && ip) {
            if (n > 0 || ((uintptr_t)ip < self_lo || (uintptr_t)ip >= self_hi)) {
                pcs[n] = (uintptr_t)ip;
                sps[n] = (uintptr_t)sp;
                n++;
                if (stop && (uintptr_t)sp > stop && known((uintptr_t)ip)) {
                    *resume = 1;
                    return n;
                }
            }
        } else if (n >= max) {
            return n; /* the table learns only what was needed */
        }
        int r = unw_step(&c);
        if (r <= 0) {
            learn(prev_pc, SIZE_OUTERMOST);
            *complete = n < max;
            break;
        }
    }
    return n;
}

/* A statistics counter, owned by no thread: a relaxed load and store, not
 * an atomic addition (a locked instruction per allocation); concurrent walks
 * may lose a count. */
static inline void
count_fast(void)
{
    atomic_store_explicit(&n_fast, atomic_load_explicit(&n_fast, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Do prev's frames from j outwards still hold their return addresses? */
static inline int
suffix_intact(const struct lk_unwind_prev *prev, size_t j)
{
    return lk_unwind_slots_hold(prev->pcs, prev->sps, j + 1, prev->n);
}

size_t
lk_unwind_walk(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, uintptr_t *sps, size_t max,
               const struct lk_unwind_prev *prev, int *same, int *complete)
{
    struct pc_table *t = atomic_load_explicit(&table, memory_order_acquire);
    size_t n = 0, j = 0;
    uintptr_t stop = 0; /* the frame the table could not step from, for slow_walk */
    int resume = 0;
    *same = 0;
    *complete = 0;
    if (max > LK_MAX_FRAMES)
        max = LK_MAX_FRAMES;
    if (!max)
        return 0;
    if (!t || !bounds() || sp < stack_lo || sp >= stack_hi)
        goto slow;
    for (;;) {
        if (prev) {
            while (j < prev->n && prev->sps[j] < sp)
                j++;
            if (j < prev->n && prev->sps[j] == sp && prev->pcs[j] == pc &&
                (prev->complete || n >= j) && suffix_intact(prev, j)) {
                size_t k = prev->n - j;
                if (n == 0 && j == 0) { /* the very same stack: the caller keeps prev */
                    *same = 1;
                    *complete = prev->complete;
                    count_fast();
                    return prev->n;
                }
                if (n + k > max)
                    k = max - n;
                for (size_t i = 0; i < k; i++) {
                    pcs[n + i] = prev->pcs[j + i];
                    sps[n + i] = prev->sps[j + i];
                }
                *complete = prev->complete && n + (prev->n - j) <= max;
                n += k;
                break;
            }
        }
        pcs[n] = pc;
        sps[n] = sp;
        if (++n == max)
            break;
        int size = lookup(t, pc);
        if (size == SIZE_OUTERMOST) {
            *complete = 1;
            break;
        }
        if (size <= 0) { /* unknown or variable */
            stop = sp;
            goto slow;
        }
        sp += (uintptr_t)size;
        if (sp > stack_hi - 8 || (sp & 7))
            goto slow;
        pc = *(const uintptr_t *)(sp - 8);
        if (!pc) {
            *complete = 1;
            break;
        }
        continue;
slow:
        /* libunwind from the top, as far as needed; then the table again
         * from the frame where it stopped */
        resume = 0;
        n = slow_walk(n ? sps[0] : sp, pcs, sps, max, complete, stop, &resume);
        if (!resume)
            return n;
        stop = 0;
        n--;
        pc = pcs[n];
        sp = sps[n];
        t = atomic_load_explicit(&table, memory_order_acquire);
    }
    count_fast();
    return n;
}

void
lk_unwind_reset_locks(void)
{
    lk_lock_reset(&table_lock);
}

size_t
lk_unwind_bytes(void)
{
    struct pc_table *t = atomic_load_explicit(&table, memory_order_relaxed);
    return t ? (t->mask + 1) * sizeof t->e[0] : 0;
}

void
lk_unwind_stats(uint64_t *fast, uint64_t *slow)
{
    *fast = atomic_load_explicit(&n_fast, memory_order_relaxed);
    *slow = atomic_load_explicit(&n_slow, memory_order_relaxed);
}
