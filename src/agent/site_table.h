/* Allocation sites: each distinct call stack is interned once and gets a
 * small id (1, 2, ...) that the live map stores per block. Per site the agent
 * keeps live bytes and count, cumulative allocations, frees and bytes, a size
 * histogram and cohorts by birth period (format.h: lk_cohort_of). */
#ifndef LK_SITE_TABLE_H
#define LK_SITE_TABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "record/format.h"

#define LK_MAX_SITES ((1u << 20) - 1) /* ids fit the live map's 20-bit field */

/* Counters are only ever added to, by relaxed atomics: an allocation adds
 * to born/born_bytes of its cohort and to hist, a free to died/died_bytes of
 * the block's cohort. Everything else (live bytes and count, allocations,
 * frees) is derived by lk_site_read(), so the allocation path costs three
 * atomic additions and the free path two. */
/* One birth cohort's counters, kept on one cache line (sites are 64-byte
 * aligned): an allocation adds to born and born_bytes, a free to died and
 * died_bytes of the same cohort, so a malloc+free pair writes this line and
 * hist's, not four lines of four arrays; with threads allocating from one
 * site, fewer lines move between cores. */
struct lk_cohort_ctr {
    atomic_uint_least64_t born;       /* allocations born in the cohort */
    atomic_uint_least64_t born_bytes; /* their requested bytes */
    atomic_uint_least64_t died;       /* of those, freed */
    atomic_uint_least64_t died_bytes; /* bytes freed (and unmapped in part) */
} __attribute__((aligned(32)));

/* A site's counters. They sit in memory just before the site itself (a
 * fixed offset: no load to find them), so that the site's hash, depth and
 * frames share the site's first cache lines: an intern that finds its
 * stack compares the frames on the line the hash was read from, where they
 * used to follow ~1 KiB of counters (cc1: 181k cache misses in that
 * memcmp, cachegrind). 64-byte aligned, a multiple of 64 bytes long. */
struct lk_site_ctr {
    struct lk_cohort_ctr c[LK_COHORTS];          /* by birth cohort */
    atomic_uint_least64_t hist[LK_SIZE_CLASSES]; /* allocations per size class */
    uint64_t last_allocs, last_frees, last_died_bytes; /* as last written (the agent's task) */
    uint64_t last_live_bytes, last_live_count;
} __attribute__((aligned(64)));

struct lk_site {
    uint64_t hash;     /* lk_hash_words(frames, depth) ^ kind */
    uint32_t id;       /* 1..LK_MAX_SITES, index in the id table */
    uint16_t depth;    /* frames[] entries */
    uint8_t kind;      /* lk_kind */
    uint8_t written;   /* STACK record written (the agent's task only) */
    /* The site a walk found next after an allocation from this one, the
     * last time they differed (any thread): a guess for the next walk
     * (stack_cache.c). */
    struct lk_site *_Atomic next;
    uint8_t flags;      /* LK_SITE_SIZES, LK_SITE_COMPLETE */
    uint32_t span;      /* with LK_SITE_SIZES: the sizes' sum, sps[depth - 1] - sps[0] */
    uintptr_t frames[]; /* return addresses, innermost first */
    /* then, with LK_SITE_SIZES, depth - 1 frame sizes (lk_site_sizes) */
};

enum {
    LK_SITE_SIZES = 1,    /* the frame sizes of the walk that made it are kept */
    LK_SITE_COMPLETE = 2, /* that walk reached the outermost frame */
};

/* With LK_SITE_SIZES: sizes[k] = sps[k + 1] - sps[k] of the walk that made
 * the site (each below 64 KiB), so that the stack pointers of a stack with
 * these frames follow from the innermost one. */
static inline const uint16_t *
lk_site_sizes(const struct lk_site *s)
{
    return (const uint16_t *)(s->frames + s->depth);
}

/* The counters of a site. */
static inline __attribute__((always_inline)) struct lk_site_ctr *
lk_site_ctr(const struct lk_site *s)
{
    return (struct lk_site_ctr *)((uintptr_t)s - sizeof(struct lk_site_ctr));
}

/* A consistent-enough reading of a site's counters (each counter is read
 * once; a concurrent allocation may show in one and not yet in another). */
struct lk_site_stats {
    uint64_t f[LK_SITE_NFIELDS];      /* LK_SITE_* fields */
    uint64_t born[LK_COHORTS];        /* allocations born in cohort k */
    uint64_t live_count[LK_COHORTS];  /* of those, live */
    uint64_t live_bytes[LK_COHORTS];
    uint64_t died_bytes;              /* total bytes freed */
    uint64_t hist[LK_SIZE_CLASSES];
};

/* Maps the id table and the first hash table; 0 or -ENOMEM. */
int lk_site_table_init(void);

/* The site of this stack, created on first sight. Lock-free when the stack
 * is known (a hash probe and a compare); takes the sites lock and allocates
 * from the arena when new. NULL when the table is full or memory is out. */
struct lk_site *lk_site_intern(const uintptr_t *frames, size_t n, enum lk_kind kind);

/* lk_site_intern with a guess: when `guess` (NULL: none) has exactly
 * these frames and kind, it is the site, and the table is not probed (the
 * probe's two dependent cache misses, a slot and then the site it names).
 * sps (NULL: none) are the frames' stack pointers, whose differences a new
 * site keeps when all are below 64 KiB (LK_SITE_SIZES); complete: the walk
 * reached the outermost frame. docs/UNWIND.md, section 19. */
struct lk_site *lk_site_intern_guess(const uintptr_t *frames, const uintptr_t *sps, size_t n,
                                     int complete, enum lk_kind kind,
                                     const struct lk_site *guess);

/* Sites by id (LK_MAX_SITES + 1 entries, NULL where no site has the id
 * yet; a site is published here before its id is counted). */
extern _Atomic(struct lk_site *) *lk_site_by_id;

/* Site by id, NULL for an unknown id. Inline: every tracked free. */
static inline __attribute__((always_inline)) struct lk_site *
lk_site_get(uint32_t id)
{
    _Atomic(struct lk_site *) *t = lk_site_by_id;
    if (id > LK_MAX_SITES || !t)
        return NULL;
    return atomic_load_explicit(&t[id], memory_order_acquire);
}
/* Ids 1..lk_site_count() are valid. */
uint32_t lk_site_count(void);

/* Reads a site's cohort counters below `cohorts` and derives the rest; the
 * cohorts from there on read as zero, and hist is left alone. A snapshot
 * passes lk_site_cohorts(period): with 15,700 sites at the exit of gcc's
 * cc1, reading all 24 cohorts and the histogram twice per site was 24M
 * instructions and 500k cache misses (cachegrind), for counters that a
 * short run has in its first cohort or two. */
void lk_site_read(const struct lk_site *s, unsigned cohorts, struct lk_site_stats *out);

/* Reads a site's size histogram into out->hist. */
void lk_site_read_hist(const struct lk_site *s, struct lk_site_stats *out);

/* The cohorts that can have counts while the current period is at most
 * `period` + 1 (a hook may read the period the agent's task is just
 * advancing to): LK_COHORTS for a run of 2^23 periods. */
static inline unsigned
lk_site_cohorts(uint32_t period)
{
    return lk_cohort_of((uint64_t)period + 1) + 1;
}

/* Accounting; lock-free (relaxed atomics), inline: they run on every
 * allocation and free. A sampled block of size bytes standing for `blocks`
 * blocks and `bytes` bytes (docs/SAMPLING.md), or one block of size bytes: */
static inline void
lk_site_on_alloc_w(struct lk_site *s, uint64_t size, uint32_t period, uint64_t blocks,
                   uint64_t bytes)
{
    unsigned k = lk_cohort_of(period);
    struct lk_site_ctr *c = lk_site_ctr(s);
    atomic_fetch_add_explicit(&c->c[k].born, blocks, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->c[k].born_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->hist[lk_size_class(size)], blocks, memory_order_relaxed);
}

static inline void
lk_site_on_free_w(struct lk_site *s, uint32_t period, uint64_t blocks, uint64_t bytes)
{
    unsigned k = lk_cohort_of(period);
    struct lk_site_ctr *c = lk_site_ctr(s);
    atomic_fetch_add_explicit(&c->c[k].died, blocks, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->c[k].died_bytes, bytes, memory_order_relaxed);
}

static inline void
lk_site_on_alloc(struct lk_site *s, uint64_t size, uint32_t period)
{
    lk_site_on_alloc_w(s, size, period, 1, size);
}

static inline void
lk_site_on_free(struct lk_site *s, uint64_t size, uint32_t period)
{
    lk_site_on_free_w(s, period, 1, size);
}

/* A live block (a mapping unmapped in part) lost bytes but lives on. */
static inline void
lk_site_on_shrink(struct lk_site *s, uint64_t bytes, uint32_t period)
{
    atomic_fetch_add_explicit(&lk_site_ctr(s)->c[lk_cohort_of(period)].died_bytes, bytes,
                              memory_order_relaxed);
}

/* Kind of a site by id without touching the site (a bit per id). */
int lk_site_is_mmap(uint32_t id);

void lk_site_table_lock_all(void);
void lk_site_table_unlock_all(void);
void lk_site_table_reset_locks(void);

#endif
