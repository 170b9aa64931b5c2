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

/* Four stacks: perl's interpreter loop allocates from a handful of places in
 * turn, so with one cached stack almost every allocation walked, hashed and
 * probed the site table (802k walks for 802k allocations, cachegrind, perl
 * building 25k hashes 8 times); with four, nearly none did and the agent's
 * added instructions halved (docs/UNWIND.md, section 6). Two were worse than
 * one (a hit on the other buffer left a worse "previous" for the next walk),
 * eight no better than four. */
#define LK_STACK_CACHE_WAYS 4

/* A cached stack: return addresses and stack pointers, innermost first. */
struct lk_cached_stack {
    uintptr_t pcs[LK_CACHE_DEPTH];
    uintptr_t sps[LK_CACHE_DEPTH];
    uint32_t n;
    uint8_t complete;
    uint8_t kind;
    struct lk_site *site; /* site of exactly these frames and kind, or NULL */
};

/* A thread's cache (initial-exec TLS, 4 KiB). The keys are the innermost
 * frame of each stack that may be looked up: set only when the stack has a
 * site and its innermost stack pointer lies in the thread's stack (the
 * outer frames' slots are then loaded without a bounds check). */
struct lk_stack_cache {
    uintptr_t pc0[LK_STACK_CACHE_WAYS]; /* buf[i].pcs[0], or 0: no key */
    uintptr_t sp0[LK_STACK_CACHE_WAYS]; /* buf[i].sps[0] */
    unsigned cur;    /* buf[cur] holds the stack of the previous allocation */
    unsigned victim; /* the buffer the next walk writes (moved off cur first) */
    struct lk_cached_stack buf[LK_STACK_CACHE_WAYS];
};

extern __thread struct lk_stack_cache lk_stack_cache_tc __attribute__((tls_model("initial-exec")));

/* The site of the stack whose innermost frame returns to pc with stack
 * pointer sp, when it is in the cache (an earlier allocation on this thread
 * had exactly this stack and kind); else NULL. A compare per way and one
 * load per outer frame, no call: inline, on every allocation. Leaves errno
 * alone. */
static inline __attribute__((always_inline)) struct lk_site *
lk_stack_cache_find(uintptr_t pc, uintptr_t sp, enum lk_kind kind)
{
    struct lk_stack_cache *c = &lk_stack_cache_tc;
    for (unsigned i = 0; i < LK_STACK_CACHE_WAYS; i++) {
        if (c->pc0[i] != pc || c->sp0[i] != sp)
            continue;
        const struct lk_cached_stack *t = &c->buf[i];
        if (t->kind == kind && lk_unwind_slots_hold(t->pcs, t->sps, 1, t->n)) {
            c->cur = i;
            return t->site;
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

#endif
