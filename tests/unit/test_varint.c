/* Unit tests of base/varint.h: the LEB128 and zigzag encodings every integer
 * of a recording uses. Round trips at the edges (0, 127/128, 2^63,
 * UINT64_MAX), exact byte images that docs/FORMAT.md quotes, and rejection of
 * inputs a hostile file can hold: cut-off varints and varints longer than
 * ten bytes or wider than 64 bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/varint.h"

/* Encodes v, checks the length, decodes it back from exactly those bytes. */
static void
round_trip(uint64_t v, size_t want_len)
{
    uint8_t buf[LK_VARINT_MAX + 4];
    memset(buf, 0xAA, sizeof buf);
    size_t n = lk_varint_put(buf, v);
    assert_int_equal(n, want_len);
    assert_true(n <= LK_VARINT_MAX);
    assert_int_equal(buf[n], 0xAA); /* wrote nothing past its length */

    const uint8_t *p = buf;
    uint64_t got = 12345;
    assert_int_equal(lk_varint_get(&p, buf + n, &got), 0);
    assert_int_equal(got, v);
    assert_ptr_equal(p, buf + n);
}

static void
test_round_trip_edges(void **state)
{
    (void)state;
    round_trip(0, 1);
    round_trip(1, 1);
    round_trip(127, 1);
    round_trip(128, 2);
    round_trip(255, 2);
    round_trip(16383, 2);
    round_trip(16384, 3);
    round_trip(UINT32_MAX, 5);
    round_trip((1ull << 56) - 1, 8);
    round_trip(1ull << 56, 9);
    round_trip((1ull << 63) - 1, 9);
    round_trip(1ull << 63, 10);
    round_trip(UINT64_MAX, 10);
}

static void
test_exact_bytes(void **state)
{
    (void)state;
    uint8_t buf[LK_VARINT_MAX];
    assert_int_equal(lk_varint_put(buf, 0), 1);
    assert_int_equal(buf[0], 0x00);
    assert_int_equal(lk_varint_put(buf, 128), 2);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(buf[1], 0x01);
    assert_int_equal(lk_varint_put(buf, 300), 2);
    assert_int_equal(buf[0], 0xAC);
    assert_int_equal(buf[1], 0x02);
    assert_int_equal(lk_varint_put(buf, UINT64_MAX), 10);
    for (int i = 0; i < 9; i++)
        assert_int_equal(buf[i], 0xFF);
    assert_int_equal(buf[9], 0x01);
}

static void
test_round_trip_random(void **state)
{
    (void)state;
    uint64_t x = 0x243F6A8885A308D3ull; /* xorshift64, fixed seed: reproducible */
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t v = x >> (x & 63); /* all magnitudes, not just huge values */
        uint8_t buf[LK_VARINT_MAX];
        size_t n = lk_varint_put(buf, v);
        const uint8_t *p = buf;
        uint64_t got = 0;
        assert_int_equal(lk_varint_get(&p, buf + n, &got), 0);
        assert_int_equal(got, v);
        assert_ptr_equal(p, buf + n);
        int64_t s = (int64_t)x;
        assert_int_equal(lk_unzigzag(lk_zigzag(s)), s);
    }
}

static void
test_zigzag(void **state)
{
    (void)state;
    assert_int_equal(lk_zigzag(0), 0);
    assert_int_equal(lk_zigzag(-1), 1);
    assert_int_equal(lk_zigzag(1), 2);
    assert_int_equal(lk_zigzag(-2), 3);
    assert_int_equal(lk_zigzag(2), 4);
    assert_int_equal(lk_zigzag(-64), 127); /* small negatives stay one byte */
    assert_int_equal(lk_zigzag(INT64_MAX), UINT64_MAX - 1);
    assert_int_equal(lk_zigzag(INT64_MIN), UINT64_MAX);

    const int64_t vals[] = {0,   1,         -1,        63,        -64,       64,
                            -65, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[LK_VARINT_MAX];
        size_t n = lk_varint_put(buf, lk_zigzag(vals[i]));
        const uint8_t *p = buf;
        uint64_t got = 0;
        assert_int_equal(lk_varint_get(&p, buf + n, &got), 0);
        assert_int_equal(lk_unzigzag(got), vals[i]);
    }
}

static void
test_truncated_rejected(void **state)
{
    (void)state;
    uint8_t buf[LK_VARINT_MAX];
    size_t n = lk_varint_put(buf, UINT64_MAX);
    for (size_t cut = 0; cut < n; cut++) {
        const uint8_t *p = buf;
        uint64_t got = 7;
        assert_int_equal(lk_varint_get(&p, buf + cut, &got), -1);
        assert_ptr_equal(p, buf); /* cursor untouched on failure */
        assert_int_equal(got, 7); /* output untouched on failure */
    }
    n = lk_varint_put(buf, 300);
    const uint8_t *p = buf;
    uint64_t got = 0;
    assert_int_equal(lk_varint_get(&p, buf + 1, &got), -1);
}

static void
test_overlong_rejected(void **state)
{
    (void)state;
    uint8_t buf[16];
    const uint8_t *p;
    uint64_t got = 0;

    /* Eleven bytes: continuation on all of the first ten. */
    memset(buf, 0x80, sizeof buf);
    buf[10] = 0x00;
    p = buf;
    assert_int_equal(lk_varint_get(&p, buf + 11, &got), -1);
    p = buf;
    assert_int_equal(lk_varint_get(&p, buf + sizeof buf, &got), -1);

    /* Ten bytes whose last one carries bits beyond 2^63: 65+ bit value. */
    memset(buf, 0xFF, 9);
    buf[9] = 0x02;
    p = buf;
    assert_int_equal(lk_varint_get(&p, buf + 10, &got), -1);
    buf[9] = 0x7F;
    p = buf;
    assert_int_equal(lk_varint_get(&p, buf + 10, &got), -1);

    /* Ten bytes whose last one is 0x01: exactly UINT64_MAX, accepted. */
    buf[9] = 0x01;
    p = buf;
    assert_int_equal(lk_varint_get(&p, buf + 10, &got), 0);
    assert_int_equal(got, UINT64_MAX);

    /* The tenth byte with its continuation bit set runs past 70 bits. */
    buf[9] = 0x81;
    buf[10] = 0x00;
    p = buf;
    assert_int_equal(lk_varint_get(&p, buf + 11, &got), -1);
}

static void
test_empty_rejected(void **state)
{
    (void)state;
    uint8_t b = 0;
    const uint8_t *p = &b;
    uint64_t got = 0;
    assert_int_equal(lk_varint_get(&p, &b, &got), -1);
}

static void
test_sequence(void **state)
{
    (void)state;
    /* Several varints back to back decode in order and stop at the end. */
    const uint64_t vals[] = {0, 127, 128, 1ull << 63, UINT64_MAX, 5};
    uint8_t buf[sizeof vals / sizeof vals[0] * LK_VARINT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        n += lk_varint_put(buf + n, vals[i]);
    assert_int_equal(n, 1 + 1 + 2 + 10 + 10 + 1);
    const uint8_t *p = buf;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint64_t got = 0;
        assert_int_equal(lk_varint_get(&p, buf + n, &got), 0);
        assert_int_equal(got, vals[i]);
    }
    uint64_t got = 0;
    assert_int_equal(lk_varint_get(&p, buf + n, &got), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_edges),   cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_round_trip_random),  cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_truncated_rejected), cmocka_unit_test(test_overlong_rejected),
        cmocka_unit_test(test_empty_rejected),     cmocka_unit_test(test_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
