/* Per-thread cache of the last few stacks and their sites, in initial-exec
 * TLS (8 x 2 x 64 words, 8 KiB per thread). A stack equal to a cached one of
 * the same kind reuses its site; else, when it is the stack of the site that
 * followed the previous allocation's site last time (a guess), that site;
 * anything else is walked -- reusing the outer frames of the previous
 * allocation's stack -- into a buffer of the four searched last, which then
 * moves up among the four searched first, and interned, so nothing is
 * copied. No allocation, no lock of its own. */
#include "stack_cache.h"

#include "unwind.h"

__thread struct lk_stack_cache lk_stack_cache_tc __attribute__((tls_model("initial-exec")));

#define NSTACKS LK_STACK_CACHE_WAYS

static atomic_uint_least64_t n_guessed; /* walks a guess made unnecessary */

/* Is the thread's stack, from its frame (pc, sp) outwards, the stack of
 * site g: g's frames, at the stack pointers that g's frame sizes give from
 * sp? Then t holds it. The test is a cached stack's (each outer frame's
 * slot holds its return address, lk_unwind_slots_hold) with the stack
 * pointers computed, all of them in the thread's stack (the sizes are
 * positive: the outermost is the highest) before a slot is read. Nothing
 * is written to t unless the guess holds: t is the walk's buffer, which a
 * walk that finds the previous stack again leaves as it was, key and all
 * (a review found a failed guess's first frame left in a buffer still keyed
 * by its old stack, and later allocations given the wrong site).
 * docs/UNWIND.md, section 19. */
static int
take_guess(const struct lk_site *g, uintptr_t pc, uintptr_t sp, enum lk_kind kind,
           unsigned depth, struct lk_cached_stack *t)
{
    size_t n = g->depth;
    if (!(g->flags & LK_SITE_SIZES) || g->kind != kind || !n || n > depth ||
        g->frames[0] != pc || sp < lk_unwind_stack_lo || sp + g->span >= lk_unwind_stack_hi)
        return 0;
    /* a stack shorter than the depth ends where walks end: still so? (a
     * later libunwind step past that frame makes its rule variable) */
    if (n < depth && !lk_unwind_is_outermost(g->frames[n - 1]))
        return 0;
    const uint16_t *sizes = lk_site_sizes(g);
    uintptr_t s = sp;
    for (size_t k = 1; k < n; k++) {
        s += sizes[k - 1];
        if (*(const uintptr_t *)(s - 8) != g->frames[k])
            return 0;
    }
    for (size_t k = 0; k < n; k++) {
        t->pcs[k] = g->frames[k];
        t->sps[k] = sp;
        sp += k + 1 < n ? sizes[k] : 0;
    }
    t->n = (uint32_t)n;
    t->complete = (g->flags & LK_SITE_COMPLETE) != 0;
    t->kind = (uint8_t)kind;
    t->site = (struct lk_site *)g;
    return 1;
}

/* After a walk or a guess that gave site s: prefetches the site that
 * followed s last time, the next walk's guess, whose frames and sizes (up to
 * depth) are then loaded by the time the thread allocates again; a guess is
 * taken right after the cache misses, with no walk to hide the misses
 * behind. Not after a cache hit: perl, which hits nearly always, took 3,180M
 * instead of 3,108M instructions with it there (docs/UNWIND.md, section
 * 19). */
static void
prefetch_guess(const struct lk_site *s, unsigned depth)
{
    const char *g = (const char *)atomic_load_explicit(&s->next, memory_order_relaxed);
    if (g) {
        size_t end = sizeof(struct lk_site) + depth * (sizeof(uintptr_t) + sizeof(uint16_t));
        for (size_t off = 0; off < end; off += 64)
            __builtin_prefetch(g + off);
    }
}

uint64_t
lk_stack_cache_guessed(void)
{
    return atomic_load_explicit(&n_guessed, memory_order_relaxed);
}

static void
set_key(struct lk_stack_cache *c, unsigned i)
{
    const struct lk_cached_stack *t = &c->buf[i];
    int key = t->site && t->n && t->sps[0] >= lk_unwind_stack_lo && t->sps[0] < lk_unwind_stack_hi;
    c->pc0[i] = key ? t->pcs[0] : 0;
    c->sp0[i] = key ? t->sps[0] : 0;
}

struct lk_site *
lk_stack_cache_walk(uintptr_t pc, uintptr_t sp, enum lk_kind kind, unsigned depth)
{
    int same, complete;
    struct lk_stack_cache *c = &lk_stack_cache_tc;
    if (depth > LK_CACHE_DEPTH) {
        uintptr_t pcs[LK_MAX_FRAMES], sps[LK_MAX_FRAMES];
        size_t n = lk_unwind_walk(pc, sp, pcs, sps, depth, NULL, &same, &complete);
        return lk_site_intern(pcs, n, kind);
    }
    /* the walk writes a far buffer (round robin, never the previous
     * stack's, which it reads), which then takes a near position */
    unsigned nfar = NSTACKS - LK_STACK_CACHE_NEAR, k = c->next_far % nfar;
    if (lk_stack_cache_at(c, LK_STACK_CACHE_NEAR + k) == c->cur)
        k = (k + 1) % nfar;
    c->next_far = (uint8_t)((k + 1) % nfar);
    unsigned far = LK_STACK_CACHE_NEAR + k, v = lk_stack_cache_at(c, far);
    struct lk_cached_stack *prev = &c->buf[c->cur], *next = &c->buf[v];
    struct lk_unwind_prev p = {prev->pcs, prev->sps, prev->n, prev->complete};
    /* the site that followed the previous allocation's last time: when
     * the stack is its stack, no walk; else it is compared after the walk
     * (lk_site_intern_guess) */
    const struct lk_site *guess =
        prev->site ? atomic_load_explicit(&prev->site->next, memory_order_acquire) : NULL;
    if (guess && take_guess(guess, pc, sp, kind, depth, next)) {
        atomic_store_explicit(&n_guessed, atomic_load_explicit(&n_guessed, memory_order_relaxed) + 1,
                              memory_order_relaxed); /* a count for the check's note: races lose some */
        if (lk_unwind_checking())
            lk_unwind_check_walk(sp, next->pcs, next->n, depth);
        set_key(c, v);
        c->follow[c->cur] = (uint8_t)v;
        c->cur = v;
        lk_stack_cache_promote(c, far);
        prefetch_guess(next->site, depth);
        return next->site;
    }
    size_t n = lk_unwind_walk(pc, sp, next->pcs, next->sps, depth, prev->n ? &p : NULL, &same,
                              &complete);
    if (same) {
        if (prev->kind == kind && prev->site)
            return prev->site; /* identical stack: prev stays the cache as it is */
        prev->kind = (uint8_t)kind; /* the same frames for another kind: re-intern */
        prev->site = lk_site_intern(prev->pcs, n, kind);
        set_key(c, c->cur);
        return prev->site;
    }
    next->n = (uint32_t)n;
    next->complete = (uint8_t)complete;
    next->kind = (uint8_t)kind;
    /* a new site keeps its frame sizes for guesses only when every stack
     * with its frames would be walked to its end: one cut at the depth, or
     * one whose last frame the table knows as the outermost (a walk that
     * libunwind ended on an error, or in code without unwind information,
     * may go further another time) */
    int sized = n && (n == depth || (complete && lk_unwind_is_outermost(next->pcs[n - 1])));
    next->site =
        lk_site_intern_guess(next->pcs, sized ? next->sps : NULL, n, complete, kind, guess);
    if (prev->site && next->site && next->site != guess)
        atomic_store_explicit(&prev->site->next, next->site, memory_order_release);
    set_key(c, v);
    c->follow[c->cur] = (uint8_t)v;
    c->cur = v;
    lk_stack_cache_promote(c, far);
    if (next->site)
        prefetch_guess(next->site, depth);
    return next->site;
}
