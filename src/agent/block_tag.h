/* Block tags: in full tracking, a heap block of fewer than LK_TAG_MAX bytes
 * carries its site, birth period and size in an 8-byte tag at the end of
 * its usable space (the interposers ask glibc for LK_TAG_BYTES more), and a
 * start map with one byte per 16 bytes of address space says which
 * addresses start a tagged block. A free then reads the block's own memory (its chunk
 * header and its last bytes, next to what glibc's free touches anyway)
 * instead of probing a hash table that misses the cache on large live sets:
 * docs/UNWIND.md, section 8. Larger blocks, mappings and sampled mode use
 * the live map (live_map.h). No locks and no locked instructions: each
 * block start has a byte of its own, set and cleared with plain stores;
 * memory from lk_sys_mmap only. */
#ifndef LK_BLOCK_TAG_H
#define LK_BLOCK_TAG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "live_map.h"

#define LK_TAG_BYTES 8
/* Requests below this many bytes are tagged: the start map costs a byte per
 * 16 bytes of the address range it covers, so a heap of tagged blocks costs
 * at most 32 bytes of it per block, DESIGN.md's budget for agent memory per
 * live block (the tag itself adds 8 bytes to the block's request). */
#define LK_TAG_MAX 512

/* Maps the bitmap's directory. 0 or -ENOMEM (then nothing is tagged). */
int lk_block_tag_init(void);
/* 1 once lk_block_tag_init succeeded. */
int lk_block_tag_ready(void);

/* The tag: site (20 bits) | birth period (24) << 20 | slack (12) << 44 |
 * check (8) << 56, where slack is usable - LK_TAG_BYTES - requested size and
 * the check is a hash of the block's address and the other 56 bits, so that
 * a program writing past its block is noticed (255 times in 256). */
#define LK_TAG_SITE_MASK ((1u << 20) - 1)
#define LK_TAG_PERIOD_MAX ((1u << 24) - 1)
#define LK_TAG_SLACK_MAX ((1u << 12) - 1)
/* Largest usable size of a tagged block: LK_TAG_MAX - 1 requested bytes, the
 * tag and the largest slack. A chunk header above it is not a tagged block. */
#define LK_TAG_USABLE_MAX ((size_t)LK_TAG_MAX - 1 + LK_TAG_BYTES + LK_TAG_SLACK_MAX)
#define LK_TAG_LEAF_SHIFT 30 /* a leaf of the start map covers 1 GiB */
/* Addresses that cannot start a tagged block: unaligned, or above 2^48. */
#define LK_TAG_BAD_ADDR (~(((uintptr_t)1 << 48) - 1) | 15)

/* The start map's directory (NULL until lk_block_tag_init), a leaf per GiB
 * of address space, a byte per 16 bytes; for the inline paths below. */
extern _Atomic(_Atomic uint8_t *) *lk_block_tag_dir;

/* Maps and publishes the leaf for a, or returns the one another thread
 * published first; NULL when out of memory. */
_Atomic uint8_t *lk_block_tag_leaf_make(uintptr_t a);

static inline uint64_t
lk_block_tag_check(uintptr_t a, uint64_t low)
{
    return (((a >> 4) ^ low) * 0x9e3779b97f4a7c15ull) >> 56;
}

/* glibc's usable size of the in-use block whose chunk header is `header`
 * (malloc_usable_size without its checks): the chunk's size minus its
 * header, and minus the next chunk's size word unless the chunk is
 * mmapped. */
static inline __attribute__((always_inline)) size_t
lk_block_tag_chunk_usable(uint64_t header)
{
    uint64_t sz = header & ~7ull;
    return (size_t)((header & 2) ? sz - 16 : sz - 8);
}

/* The start map's leaf for address a (NULL: nothing there was tagged), and
 * a's byte's index in it. */
static inline __attribute__((always_inline)) _Atomic uint8_t *
lk_block_tag_leaf(_Atomic(_Atomic uint8_t *) *dir, uintptr_t a)
{
    return atomic_load_explicit(&dir[a >> LK_TAG_LEAF_SHIFT], memory_order_acquire);
}

static inline __attribute__((always_inline)) size_t
lk_block_tag_slot(uintptr_t a)
{
    return (size_t)((a & (((uintptr_t)1 << LK_TAG_LEAF_SHIFT) - 1)) >> 4);
}

/* The chunk header in front of the block at a. The address is laundered
 * through an empty asm: inlined next to a malloc() call, the compiler would
 * otherwise take the read for one outside the block's object. */
static inline uint64_t
lk_block_tag_header(uintptr_t a)
{
    __asm__("" : "+r"(a));
    return ((const uint64_t *)a)[-1];
}

/* Tags the block p of `size` requested bytes (size < LK_TAG_MAX, site <=
 * LK_TAG_SITE_MASK), which glibc allocated with LK_TAG_BYTES more (p's
 * usable size is at least size + LK_TAG_BYTES). 0; -EINVAL (-22) when the
 * block cannot be tagged (its slack does not fit the tag, the address is
 * odd, no memory for the start map): the caller puts it in the live map
 * instead. A start byte left set by a free the agent missed is overwritten:
 * the old tag is lost, so nothing is returned to account. Inline: it runs
 * on every small allocation in full tracking. */
static inline __attribute__((always_inline)) int
lk_block_tag_put(void *p, uint64_t size, uint32_t site, uint32_t period)
{
    uintptr_t a = (uintptr_t)p;
    _Atomic(_Atomic uint8_t *) *dir = lk_block_tag_dir;
    if (__builtin_expect(!dir || (a & LK_TAG_BAD_ADDR), 0))
        return -22;
    size_t usable = lk_block_tag_chunk_usable(lk_block_tag_header(a));
    /* no room for the tag (the difference wraps) or more slack than the tag
     * holds; with size < LK_TAG_MAX this also keeps usable <= USABLE_MAX */
    uint64_t slack = usable - LK_TAG_BYTES - size;
    if (__builtin_expect(slack > LK_TAG_SLACK_MAX, 0))
        return -22;
    _Atomic uint8_t *l = lk_block_tag_leaf(dir, a);
    if (__builtin_expect(!l, 0) && !(l = lk_block_tag_leaf_make(a)))
        return -22;
    uint64_t low = site |
                   (uint64_t)(period < LK_TAG_PERIOD_MAX ? period : LK_TAG_PERIOD_MAX) << 20 |
                   slack << 44;
    *(uint64_t *)((char *)p + usable - LK_TAG_BYTES) = low | lk_block_tag_check(a, low) << 56;
    /* A byte of its own per block start: a plain store, no locked
     * instruction (which on this project's Xeon waits for the tag's store,
     * often a cache miss, to drain: 67% of this function's time as a bit
     * set with lock bts). */
    atomic_store_explicit(&l[lk_block_tag_slot(a)], 1, memory_order_release);
    return 0;
}

/* The tag of the tagged block a whose chunk header is `header` and tag
 * `tag`: 1 with *out, 0 when they do not check. */
static inline __attribute__((always_inline)) int
lk_block_tag_decode(uintptr_t a, uint64_t header, uint64_t tag, struct lk_live_info *out)
{
    size_t usable = lk_block_tag_chunk_usable(header);
    uint64_t low = tag & ((1ull << 56) - 1);
    uint64_t slack = low >> 44;
    if (usable < LK_TAG_BYTES || usable > LK_TAG_USABLE_MAX || usable - LK_TAG_BYTES < slack ||
        tag >> 56 != lk_block_tag_check(a, low))
        return 0;
    out->site = (uint32_t)(low & LK_TAG_SITE_MASK);
    out->period = (uint32_t)((low >> 20) & LK_TAG_PERIOD_MAX);
    out->size = usable - LK_TAG_BYTES - slack;
    return 1;
}

/* Reads the tag of the block at a from the block itself: 1 with *out, 0
 * when the header or the tag do not check. Only for a block that cannot be
 * freed and unmapped meanwhile (the caller is freeing it, or the world is
 * stopped). */
static inline __attribute__((always_inline)) int
lk_block_tag_read(uintptr_t a, struct lk_live_info *out)
{
    uint64_t header = lk_block_tag_header(a);
    size_t usable = lk_block_tag_chunk_usable(header);
    if (usable < LK_TAG_BYTES || usable > LK_TAG_USABLE_MAX)
        return 0; /* not a tagged block's header: the tag's address means nothing */
    return lk_block_tag_decode(a, header, *(const uint64_t *)(a + usable - LK_TAG_BYTES), out);
}

/* Untags p: 1 with *out filled when p was tagged, 0 when it was not (the
 * caller then tries the live map), -1 when p was tagged but its tag was
 * overwritten (by the program writing past its block): untagged, *out
 * unknown. Three loads when p was never tagged. Inline: every free. */
static inline __attribute__((always_inline)) int
lk_block_tag_take(void *p, struct lk_live_info *out)
{
    uintptr_t a = (uintptr_t)p;
    _Atomic(_Atomic uint8_t *) *dir = lk_block_tag_dir;
    if (!dir || (a & LK_TAG_BAD_ADDR))
        return 0;
    _Atomic uint8_t *l = lk_block_tag_leaf(dir, a);
    if (!l)
        return 0;
    _Atomic uint8_t *sb = &l[lk_block_tag_slot(a)];
    if (!atomic_load_explicit(sb, memory_order_acquire))
        return 0;
    /* Only the thread freeing the block clears its byte (two frees of one
     * block at once would be the program's double free). p is a live glibc
     * block (the program is freeing it): its header and its last bytes are
     * readable. */
    atomic_store_explicit(sb, 0, memory_order_relaxed);
    return lk_block_tag_read(a, out) ? 1 : -1;
}

/* 1 when p starts a tagged block (one load, no side effect). */
int lk_block_tag_has(const void *p);

/* Usable size the program may use of p: glibc's usable size minus the tag
 * when p is tagged (its start byte is set and its tag checks). For
 * malloc_usable_size, while tracking is on. */
size_t lk_block_tag_usable(const void *p, size_t glibc_usable);

/* Calls fn for every tagged block. Reads the blocks themselves, so only
 * for a world where no thread frees: the scanner's stopped copy, tests.
 * Returns the number of tagged blocks whose tag did not check (skipped). */
size_t lk_block_tag_foreach(void (*fn)(uintptr_t addr, const struct lk_live_info *info, void *ctx),
                            void *ctx);

/* The same while other threads allocate and free: blocks are read with
 * process_vm_readv, so a block freed and unmapped meanwhile is skipped
 * instead of faulting; a block freed meanwhile may still be reported
 * (its tag checked). For the agent's task's live size classes. */
size_t lk_block_tag_foreach_live(void (*fn)(uintptr_t addr, const struct lk_live_info *info,
                                            void *ctx),
                                 void *ctx);

/* 1 when no block is tagged (reads the resident part of the start map). */
int lk_block_tag_empty(void);

/* Resident bytes of the start map (mincore). */
size_t lk_block_tag_bytes(void);

#endif
