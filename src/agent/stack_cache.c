/* Per-thread cache of the previous stack and its site. Two buffers per
 * thread in initial-exec TLS (2 x 2 x 64 words): the walk writes into one
 * while reading the other as "previous", then they swap, so nothing is
 * copied. A stack equal to the previous one of the same kind reuses its
 * site; anything else is interned. No allocation, no lock of its own. */
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

struct tcache {
    struct tstack buf[2];
    unsigned cur; /* buf[cur] holds the previous stack */
};

static __thread struct tcache tc __attribute__((tls_model("initial-exec")));

struct lk_site *
lk_stack_cache_site(uintptr_t pc, uintptr_t sp, enum lk_kind kind, unsigned depth)
{
    int same, complete;
    if (depth > LK_CACHE_DEPTH) {
        uintptr_t pcs[LK_MAX_FRAMES], sps[LK_MAX_FRAMES];
        size_t n = lk_unwind_walk(pc, sp, pcs, sps, depth, NULL, &same, &complete);
        return lk_site_intern(pcs, n, kind);
    }
    struct tstack *prev = &tc.buf[tc.cur], *next = &tc.buf[tc.cur ^ 1];
    struct lk_unwind_prev p = {prev->pcs, prev->sps, prev->n, prev->complete};
    size_t n = lk_unwind_walk(pc, sp, next->pcs, next->sps, depth, prev->n ? &p : NULL, &same,
                              &complete);
    if (same) {
        if (prev->kind == kind && prev->site)
            return prev->site; /* identical stack: prev stays the cache as it is */
        prev->kind = (uint8_t)kind; /* the same frames for another kind: re-intern */
        prev->site = lk_site_intern(prev->pcs, n, kind);
        return prev->site;
    }
    next->n = (uint32_t)n;
    next->complete = (uint8_t)complete;
    next->kind = (uint8_t)kind;
    next->site = lk_site_intern(next->pcs, n, kind);
    tc.cur ^= 1;
    return next->site;
}
