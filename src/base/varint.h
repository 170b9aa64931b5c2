/* LEB128 varints, as the recording stores every integer (docs/FORMAT.md).
 * Unsigned values use 7 bits per byte, low bits first, high bit set on all
 * but the last byte; signed values are zigzag-mapped first. At most 10 bytes
 * for a 64-bit value. Inline and pure. */
#ifndef LK_VARINT_H
#define LK_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define LK_VARINT_MAX 10

/* Writes v at p (which has room for LK_VARINT_MAX bytes); returns bytes used. */
static inline size_t
lk_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from [*pp, end). Returns 0 and advances *pp, or -1 when the
 * input ends inside the varint or it is longer than 10 bytes or overflows. */
static inline int
lk_varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        if (shift == 63 && (b & 0x7e))
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t
lk_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t
lk_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
