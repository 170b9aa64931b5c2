/* Unit tests of base/crc32.c, the checksum that frames every record: the
 * standard check value, the empty input, incremental use, and agreement
 * with a bit-at-a-time reference of the reflected IEEE polynomial 0xEDB88320
 * on random buffers of every length up to 1 KiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32.h"

static uint32_t
reference_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void
test_check_value(void **state)
{
    (void)state;
    assert_int_equal(lk_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(lk_crc32(0, "", 0), 0);
    assert_int_equal(lk_crc32(0, "a", 1), 0xE8B7BE43u);
    assert_int_equal(lk_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
}

static void
test_incremental(void **state)
{
    (void)state;
    const char *s = "123456789";
    for (size_t split = 0; split <= 9; split++) {
        uint32_t c = lk_crc32(0, s, split);
        c = lk_crc32(c, s + split, 9 - split);
        assert_int_equal(c, 0xCBF43926u);
    }
}

static void
test_against_reference(void **state)
{
    (void)state;
    static uint8_t buf[1024];
    uint32_t x = 2463534242u; /* xorshift32, fixed seed */
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    for (size_t n = 0; n <= sizeof buf; n++)
        assert_int_equal(lk_crc32(0, buf, n), reference_crc32(buf, n));
    /* Unaligned starts too: table implementations sometimes go word-wise. */
    for (size_t off = 1; off < 8; off++)
        assert_int_equal(lk_crc32(0, buf + off, 100), reference_crc32(buf + off, 100));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
