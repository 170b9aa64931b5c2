/* Hashes for the agent's tables: a pointer mixer for the live map and a
 * word-array hash for stacks. Inline, pure, no state. */
#ifndef LK_HASH_H
#define LK_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Final mixer of MurmurHash3 (fmix64): every input bit affects every output
 * bit, so addresses that differ only in high or low bits spread evenly. */
static inline uint64_t
lk_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Hash of n machine words (a stack of return addresses). Never returns 0, so
 * callers may use 0 as "empty slot". */
static inline uint64_t
lk_hash_words(const uintptr_t *w, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    for (size_t i = 0; i < n; i++)
        h = lk_hash_u64(h ^ (uint64_t)w[i]) + 0x9e3779b97f4a7c15ull * (i + 1);
    return h ? h : 1;
}

#endif
