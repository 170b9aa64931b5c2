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
 * callers may use 0 as "empty slot". Each word is offset by its position and
 * multiplied by an odd constant; the products are summed (independent
 * multiplications pipeline, unlike a chain of mixes: 32 words cost about 10 ns
 * instead of 60, measured on sqlite3 under the agent) and the sum is mixed
 * once. Not for adversarial input: stacks are not chosen by an attacker. */
static inline uint64_t
lk_hash_words(const uintptr_t *w, size_t n)
{
    uint64_t a = (uint64_t)n, b = 0;
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        a += ((uint64_t)w[i] + 0x9e3779b97f4a7c15ull * (i + 1)) * 0xff51afd7ed558ccdull;
        b += ((uint64_t)w[i + 1] + 0xc2b2ae3d27d4eb4full * (i + 2)) * 0xc4ceb9fe1a85ec53ull;
    }
    if (i < n)
        a += ((uint64_t)w[i] + 0x9e3779b97f4a7c15ull * (i + 1)) * 0xff51afd7ed558ccdull;
    uint64_t h = lk_hash_u64(a ^ (b << 1 | b >> 63));
    return h ? h : 1;
}

#endif
