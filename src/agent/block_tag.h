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

/* Tags the block p of `size` requested bytes, which glibc allocated with
 * LK_TAG_BYTES more (p's usable size is at least size + LK_TAG_BYTES).
 * 0; 1 when p's bit was already set (a free the agent missed: the old tag
 * is lost, so nothing is returned to account); -EINVAL when the block cannot
 * be tagged (its slack does not fit the tag, the address is odd, no memory
 * for the bitmap): the caller puts it in the live map instead. */
int lk_block_tag_put(void *p, uint64_t size, uint32_t site, uint32_t period);

/* Untags p: 1 with *out filled when p was tagged, 0 when it was not (the
 * caller then tries the live map), -1 when p was tagged but its tag was
 * overwritten (by the program writing past its block): untagged, *out
 * unknown. One load when p was never tagged. */
int lk_block_tag_take(void *p, struct lk_live_info *out);

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
