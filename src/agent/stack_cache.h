/* The site of the current allocation, through a per-thread cache of the
 * last few stacks: consecutive allocations from the same code share their
 * outer frames (and often all of them), which are then verified with one
 * load per frame instead of walked, and an identical stack reuses the site
 * without hashing. docs/UNWIND.md has the design and its measured effect. */
#ifndef LK_STACK_CACHE_H
#define LK_STACK_CACHE_H

#include <stdint.h>

#include "record/format.h"
#include "site_table.h"
#include "unwind.h"

#define LK_CACHE_DEPTH 64 /* deeper settings walk without the cache */

/* Eight stacks, four of them searched first. perl's interpreter loop
 * allocates from a handful of places in turn, so with one cached stack
 * almost every allocation walked, hashed and probed the site table (802k
 * walks for 802k allocations, cachegrind, perl building 25k hashes 8
 * times); with four, nearly none did and the agent's added instructions
 * halved (docs/UNWIND.md, section 6). Python with every object through
 * malloc cycles through more than four: 461k walks for 483k allocations
 * with four, 52k with eight. Eight searched in turn made the benchmark's
 * perl, which hits four nearly always, slower (1.27x -> 1.39x); with the
 * four most recently used searched first it is not (section 18). */
#define LK_STACK_CACHE_WAYS 8
#define LK_STACK_CACHE_NEAR 4 /* searched first */

/* A cached stack: return addresses and stack pointers, innermost first. */
struct lk_cached_stack {
    uintptr_t pcs[LK_CACHE_DEPTH];
    uintptr_t sps[LK_CACHE_DEPTH];
    uint32_t n;
    uint8_t complete;
    uint8_t kind;
    struct lk_site *site; /* site of exactly these frames and kind, or NULL */
};

/* A thread's cache (initial-exec TLS, 8.4 KiB). The keys are the innermost
 * frame of each stack that may be looked up: set only when the stack has a
 * site and its innermost stack pointer lies in the thread's stack (the
 * outer frames' slots are then loaded without a bounds check). */
struct lk_stack_cache {
    uintptr_t pc0[LK_STACK_CACHE_WAYS]; /* buf[i].pcs[0], or 0: no key */
    uintptr_t sp0[LK_STACK_CACHE_WAYS]; /* buf[i].sps[0] */
    unsigned cur;    /* buf[cur] holds the stack of the previous allocation */
    /* The search order: position k holds buffer ord[k] ^ k (zeroed TLS is
     * the identity). Positions 0..NEAR-1 are searched first; a hit further
     * on, or a new stack, takes a near position (round robin: next_near),
     * whose buffer goes back to the far one (next_far for a new stack). */
    uint8_t ord[LK_STACK_CACHE_WAYS];
    /* follow[i]: the buffer whose stack came right after buffer i's last
     * time, tried before the search. A program that allocates from a few
     * places in a fixed order (perl: a hash's body, its array, its
     * entries, a string) then finds its stack at the first compare. */
    uint8_t follow[LK_STACK_CACHE_WAYS];
    uint8_t next_near, next_far;
    struct lk_cached_stack buf[LK_STACK_CACHE_WAYS];
};

static inline __attribute__((always_inline)) unsigned
lk_stack_cache_at(const struct lk_stack_cache *c, unsigned k)
{
    return c->ord[k] ^ k;
}

/* Puts buffer at position far into near position next_near, and what was
 * there into far. */
static inline void
lk_stack_cache_promote(struct lk_stack_cache *c, unsigned far)
{
    unsigned near = c->next_near, a = lk_stack_cache_at(c, near), b = lk_stack_cache_at(c, far);
    c->ord[near] = (uint8_t)(b ^ near);
    c->ord[far] = (uint8_t)(a ^ far);
    c->next_near = (uint8_t)((near + 1) % LK_STACK_CACHE_NEAR);
}

extern __thread struct lk_stack_cache lk_stack_cache_tc __attribute__((tls_model("initial-exec")));

/* Buffer i's site when it holds the stack at pc, sp of that kind, else
 * NULL (a keyed buffer always has a site). */
static inline __attribute__((always_inline)) struct lk_site *
lk_stack_cache_way(const struct lk_stack_cache *c, unsigned i, uintptr_t pc, uintptr_t sp,
                   enum lk_kind kind)
{
    if (c->pc0[i] != pc || c->sp0[i] != sp)
        return NULL;
    const struct lk_cached_stack *t = &c->buf[i];
    return t->kind == kind && lk_unwind_slots_hold(t->pcs, t->sps, 1, t->n) ? t->site : NULL;
}

/* The site of the stack whose innermost frame returns to pc with stack
 * pointer sp, when it is in the cache (an earlier allocation on this thread
 * had exactly this stack and kind); else NULL. The buffer that followed
 * the previous one last time first, then a compare per way; one load per
 * outer frame, no call: inline, on every allocation. Leaves errno alone. */
static inline __attribute__((always_inline)) struct lk_site *
lk_stack_cache_find(uintptr_t pc, uintptr_t sp, enum lk_kind kind)
{
    struct lk_stack_cache *c = &lk_stack_cache_tc;
    unsigned i = c->follow[c->cur];
    struct lk_site *s = lk_stack_cache_way(c, i, pc, sp, kind);
    if (__builtin_expect(s != NULL, 1)) {
        c->cur = i;
        return s;
    }
    for (unsigned k = 0; k < LK_STACK_CACHE_WAYS; k++) {
        i = lk_stack_cache_at(c, k);
        if ((s = lk_stack_cache_way(c, i, pc, sp, kind))) {
            c->follow[c->cur] = (uint8_t)i;
            c->cur = i;
            if (__builtin_expect(k >= LK_STACK_CACHE_NEAR, 0))
                lk_stack_cache_promote(c, k);
            return s;
        }
    }
    return NULL;
}

/* The cache missed: the site of that stack (at most depth frames), walked
 * -- reusing the previous stack's outer frames -- and interned, and the
 * cache updated. NULL when the site table is full. Under the re-entrancy
 * guard, no agent lock held. May call libunwind and the site table's
 * allocator: changes errno. */
struct lk_site *lk_stack_cache_walk(uintptr_t pc, uintptr_t sp, enum lk_kind kind,
                                    unsigned depth);

/* Walks that a guess made unnecessary (docs/UNWIND.md, section 19), all
 * threads: a diagnostic, some increments may be lost to races. */
uint64_t lk_stack_cache_guessed(void);

#endif
