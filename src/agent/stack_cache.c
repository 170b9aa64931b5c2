/* Per-thread cache of the last few stacks and their sites, in initial-exec
 * TLS (8 x 2 x 64 words, 8 KiB per thread). A stack equal to a cached one of
 * the same kind reuses its site; anything else is walked -- reusing the outer
 * frames of the previous allocation's stack -- into a buffer of the four
 * searched last, which then moves up among the four searched first, and
 * interned, so nothing is copied. No allocation, no lock of its own. */
#include "stack_cache.h"

#include "unwind.h"

__thread struct lk_stack_cache lk_stack_cache_tc __attribute__((tls_model("initial-exec")));

#define NSTACKS LK_STACK_CACHE_WAYS

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
    /* the site that followed the previous allocation's last time: its
     * lines load while the walk runs (lk_site_intern_guess) */
    const struct lk_site *guess =
        prev->site ? atomic_load_explicit(&prev->site->next, memory_order_relaxed) : NULL;
    if (guess) {
        __builtin_prefetch(guess);
        __builtin_prefetch((const char *)guess + 64);
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
    next->site = lk_site_intern_guess(next->pcs, n, kind, guess);
    if (prev->site && next->site && next->site != guess)
        atomic_store_explicit(&prev->site->next, next->site, memory_order_relaxed);
    set_key(c, v);
    c->cur = v;
    lk_stack_cache_promote(c, far);
    return next->site;
}
