/* Per-thread cache of the last few stacks and their sites, in initial-exec
 * TLS (4 x 2 x 64 words, 4 KiB per thread). A stack equal to a cached one of
 * the same kind reuses its site; anything else is walked -- reusing the outer
 * frames of the previous allocation's stack -- into the least recently
 * written buffer and interned, so nothing is copied. No allocation, no lock
 * of its own. */
#include "stack_cache.h"

#include "unwind.h"

struct tstack {
    uintptr_t pcs[LK_CACHE_DEPTH];
    uintptr_t sps[LK_CACHE_DEPTH];
    uint32_t n;
    uint8_t complete;
    uint8_t kind;
    struct lk_site *site; /* site of exactly these frames and kind, or NULL */
};

/* Four stacks: perl's interpreter loop allocates from a handful of places in
 * turn, so with one cached stack almost every allocation walked, hashed and
 * probed the site table (802k walks for 802k allocations, cachegrind, perl
 * building 25k hashes 8 times); with four, nearly none did and the agent's
 * added instructions halved (docs/UNWIND.md, section 6). Two were worse than one (a hit on the
 * other buffer left a worse "previous" for the next walk), eight no better
 * than four. */
#define NSTACKS 4

struct tcache {
    uintptr_t pc0[NSTACKS]; /* buf[i].pcs[0] when buf[i] has a site, else 0 */
    uintptr_t sp0[NSTACKS]; /* buf[i].sps[0] */
    unsigned cur;           /* buf[cur] holds the stack of the previous allocation */
    unsigned victim;        /* the buffer the next walk writes (moved off cur first) */
    struct tstack buf[NSTACKS];
};

static __thread struct tcache tc __attribute__((tls_model("initial-exec")));

static void
set_key(unsigned i)
{
    const struct tstack *t = &tc.buf[i];
    tc.pc0[i] = t->site && t->n ? t->pcs[0] : 0;
    tc.sp0[i] = t->site && t->n ? t->sps[0] : 0;
}

/* Everything but a stack in the cache: walk (reusing the previous stack's
 * outer frames) and intern. Out of line so that the hit path below needs no
 * stack frame. */
__attribute__((noinline)) static struct lk_site *
walk(uintptr_t pc, uintptr_t sp, enum lk_kind kind, unsigned depth)
{
    int same, complete;
    if (depth > LK_CACHE_DEPTH) {
        uintptr_t pcs[LK_MAX_FRAMES], sps[LK_MAX_FRAMES];
        size_t n = lk_unwind_walk(pc, sp, pcs, sps, depth, NULL, &same, &complete);
        return lk_site_intern(pcs, n, kind);
    }
    if (tc.victim == tc.cur) /* a hit made the victim the previous stack */
        tc.victim = (tc.victim + 1) % NSTACKS;
    struct tstack *prev = &tc.buf[tc.cur], *next = &tc.buf[tc.victim];
    struct lk_unwind_prev p = {prev->pcs, prev->sps, prev->n, prev->complete};
    size_t n = lk_unwind_walk(pc, sp, next->pcs, next->sps, depth, prev->n ? &p : NULL, &same,
                              &complete);
    if (same) {
        if (prev->kind == kind && prev->site)
            return prev->site; /* identical stack: prev stays the cache as it is */
        prev->kind = (uint8_t)kind; /* the same frames for another kind: re-intern */
        prev->site = lk_site_intern(prev->pcs, n, kind);
        set_key(tc.cur);
        return prev->site;
    }
    next->n = (uint32_t)n;
    next->complete = (uint8_t)complete;
    next->kind = (uint8_t)kind;
    next->site = lk_site_intern(next->pcs, n, kind);
    set_key(tc.victim);
    tc.cur = tc.victim;
    tc.victim = (tc.victim + 1) % NSTACKS; /* round robin, skipping the new cur */
    if (tc.victim == tc.cur)
        tc.victim = (tc.victim + 1) % NSTACKS;
    return next->site;
}

struct lk_site *
lk_stack_cache_site(uintptr_t pc, uintptr_t sp, enum lk_kind kind, unsigned depth)
{
    /* A stack in the cache (depth <= LK_CACHE_DEPTH, as the cache is empty
     * otherwise): its innermost frame first, from the compact keys. */
    for (unsigned i = 0; i < NSTACKS; i++) {
        if (tc.pc0[i] != pc || tc.sp0[i] != sp)
            continue;
        const struct tstack *t = &tc.buf[i];
        if (t->kind == kind && lk_unwind_same(t->pcs, t->sps, t->n, pc, sp)) {
            tc.cur = i;
            return t->site;
        }
    }
    return walk(pc, sp, kind, depth);
}
