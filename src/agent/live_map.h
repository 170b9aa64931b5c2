/* The live map: address of every tracked live block -> (site id, requested
 * size, birth period). Sharded by address hash so threads rarely share a
 * lock; 16 bytes per entry in open-addressing tables kept between 13/32 and
 * 13/16 full, so about 26 bytes per live block on average (DESIGN.md budget:
 * 32). No headers are added to user blocks. */
#ifndef LK_LIVE_MAP_H
#define LK_LIVE_MAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct lk_live_info {
    uint32_t site;   /* site id */
    uint32_t period; /* birth period (kept up to 2^24 - 1: live_map.c) */
    uint64_t size;   /* requested size in bytes */
};

/* Maps the shards; with use_filter (sampled mode, where few blocks are in
 * the map) also the counting filter behind lk_live_map_maybe(). 0 or
 * -ENOMEM. */
int lk_live_map_init(int use_filter);

/* The counting filter of sampled mode (live_map.c), inline for the free
 * path: NULL in full tracking. One byte per 4 KiB page, the page number
 * taken modulo 2^16 (pages 256 MiB apart share a byte): frees of
 * neighbouring blocks read the same cache line, and a heap of a few hundred
 * MiB keeps its part of the filter in L1. With a hash of the address
 * instead, the load missed L1 on nearly every free and was 70% of the
 * interposed free's time on perl (perf annotate), 3% of the program's. */
#define LK_FILTER_BITS 16
extern _Atomic unsigned char *lk_live_map_filter;

static inline size_t
lk_live_map_filter_slot(uint64_t a)
{
    return (size_t)((a >> 8) & ((1u << LK_FILTER_BITS) - 1)); /* a = addr >> 4 */
}

/* 0 when addr is certainly not in the map (one load, no lock), 1 when it may
 * be. Always 1 without the filter. */
static inline int
lk_live_map_maybe(uintptr_t addr)
{
    _Atomic unsigned char *f = lk_live_map_filter;
    if (!f)
        return 1;
    return atomic_load_explicit(&f[lk_live_map_filter_slot(addr >> 4)], memory_order_relaxed) != 0;
}

/* Records a block. 0; 1 when the address was already tracked (its free was
 * missed) and *replaced holds the old entry, which the caller must account
 * as freed; -EINVAL when the address cannot be tracked (not 16-byte aligned
 * or above 2^48: the caller passes it through untracked); -ENOMEM when a
 * shard cannot grow. Costs a hash, a lock, a probe. */
int lk_live_map_insert(uintptr_t addr, uint64_t size, uint32_t site, uint32_t period,
                       struct lk_live_info *replaced);

/* Starts loading the table slot where addr will go, so that the cache miss
 * of a large live set overlaps the stack walk that precedes the insert. A
 * hint only: no lock, nothing read. */
void lk_live_map_prefetch(uintptr_t addr);

/* Removes a block: 1 with *out filled, 0 when the address is not tracked. */
int lk_live_map_remove(uintptr_t addr, struct lk_live_info *out);

/* Tracked blocks (takes every shard lock in turn: for tests), and bytes
 * the map itself uses. */
size_t lk_live_map_count(void);
/* The same, for a caller that holds every shard lock (lk_live_map_lock_all). */
size_t lk_live_map_count_locked(void);
size_t lk_live_map_bytes(void);

/* Calls fn for every live block, holding one shard lock at a time. A shard
 * whose lock stays held (by a thread stopped in a signal handler while the
 * final snapshot is written) is skipped: returns the number skipped. */
int lk_live_map_foreach(void (*fn)(uintptr_t addr, const struct lk_live_info *info, void *ctx),
                        void *ctx);

void lk_live_map_lock_all(void);
/* lk_live_map_lock_all, unless a lock stays held through `tries` yields (a
 * thread stopped for good inside the agent, or this very thread interrupted
 * in it): then releases what it took and returns 0. 1 when all are held. */
int lk_live_map_try_lock_all(int tries);
void lk_live_map_unlock_all(void);
void lk_live_map_reset_locks(void);

#endif
