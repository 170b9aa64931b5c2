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

struct lk_site {
    uint64_t hash;     /* lk_hash_words(frames, depth) ^ kind */
    uint32_t id;       /* 1..LK_MAX_SITES, index in the id table */
    uint16_t depth;    /* frames[] entries */
    uint8_t kind;      /* lk_kind */
    uint8_t written;   /* STACK record written (snapshot thread only) */
    atomic_int_least64_t live_bytes;  /* sum of requested sizes of live blocks */
    atomic_int_least64_t live_count;  /* live blocks */
    atomic_uint_least64_t allocs;     /* allocations since start */
    atomic_uint_least64_t frees;      /* frees of this site's blocks since start */
    atomic_uint_least64_t alloc_bytes; /* bytes allocated since start */
    atomic_uint_least64_t born[LK_COHORTS];        /* allocations born in cohort k */
    atomic_int_least64_t cohort_count[LK_COHORTS]; /* of those, still live */
    atomic_int_least64_t cohort_bytes[LK_COHORTS]; /* their live bytes */
    atomic_uint_least64_t hist[LK_SIZE_CLASSES];   /* allocations per size class */
    uint64_t last_allocs, last_frees; /* as last written (snapshot thread only) */
    uintptr_t frames[];               /* return addresses, innermost first */
};

/* Maps the id table and the first hash table; 0 or -ENOMEM. */
int lk_site_table_init(void);

/* The site of this stack, created on first sight. Lock-free when the stack
 * is known (a hash probe and a compare); takes the sites lock and allocates
 * from the arena when new. NULL when the table is full or memory is out. */
struct lk_site *lk_site_intern(const uintptr_t *frames, size_t n, enum lk_kind kind);

/* Site by id, NULL for an unknown id. */
struct lk_site *lk_site_get(uint32_t id);
/* Ids 1..lk_site_count() are valid. */
uint32_t lk_site_count(void);

/* Accounting; lock-free (relaxed atomics). */
void lk_site_on_alloc(struct lk_site *s, uint64_t size, uint32_t period);
void lk_site_on_free(struct lk_site *s, uint64_t size, uint32_t period);
/* A live block (a mapping unmapped in part) lost bytes but lives on. */
void lk_site_on_shrink(struct lk_site *s, uint64_t bytes, uint32_t period);

/* Live blocks and bytes per size class, over all heap sites (mappings of
 * kind LK_KIND_MMAP are not counted). */
void lk_site_classes(uint64_t count[LK_SIZE_CLASSES], uint64_t bytes[LK_SIZE_CLASSES]);

void lk_site_table_lock_all(void);
void lk_site_table_unlock_all(void);
void lk_site_table_reset_locks(void);

#endif
