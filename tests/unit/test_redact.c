/* Unit tests of base/redact.c, the redaction of content samples of a
 * reachability scan: each rule on a planted secret (the secret's bytes are
 * zero and flagged, the text around it is kept), ordinary text and pointers
 * left alone, the mask's exact size, and no read or write past the buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/redact.h"

static uint8_t buf[512];
static uint8_t mask[64 + 1];

/* Redacts s; returns it with redacted bytes shown as '*'. */
static const char *
run(const char *s, size_t *nred)
{
    static char out[512];
    size_t n = strlen(s);
    memcpy(buf, s, n);
    mask[(n + 7) / 8] = 0xa5; /* canary right after the mask */
    size_t r = lk_redact(buf, n, mask);
    assert_int_equal(mask[(n + 7) / 8], 0xa5);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int red = (mask[i / 8] >> (i % 8)) & 1;
        if (red) {
            assert_int_equal(buf[i], 0);
            count++;
        } else {
            assert_int_equal(buf[i], (uint8_t)s[i]);
        }
        out[i] = red ? '*' : s[i];
    }
    out[n] = 0;
    assert_int_equal(r, count);
    if (nred)
        *nred = r;
    return out;
}

static void
test_password(void **state)
{
    (void)state;
    assert_string_equal(run("user=bob&password=hunter2&next=1", NULL),
                        "user=bob&password=*******&next=1");
    assert_string_equal(run("{\"passwd\": \"s3cr\"}", NULL), "{\"passwd\": \"****\"}");
    assert_string_equal(run("DB_SECRET_KEY=abc def", NULL), "DB_SECRET_KEY=*** def");
    assert_string_equal(run("api_key: zz9;", NULL), "api_key: ***;");
    assert_string_equal(run("apikey=Q", NULL), "apikey=*");
    assert_string_equal(run("token=t1 x", NULL), "token=** x");
}

static void
test_headers(void **state)
{
    (void)state;
    assert_string_equal(run("GET / HTTP/1.1\r\nAuthorization: Basic Ym9iOmh1bnRlcjI=\r\nHost: a\r\n",
                            NULL),
                        "GET / HTTP/1.1\r\nAuthorization:***********************\r\nHost: a\r\n");
    assert_string_equal(run("Set-Cookie: sid=1; Path=/\nX: y", NULL),
                        "Set-Cookie:**************\nX: y");
    assert_string_equal(run("auth bearer abc.def ok", NULL), "auth bearer ******* ok");
}

static void
test_pem(void **state)
{
    (void)state;
    assert_string_equal(run("k:\n-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\nafter",
                            NULL),
                        "k:\n**********************************************************\nafter");
    /* cut off by the end of the sample: the rest is redacted */
    assert_string_equal(run("x -----BEGIN RSA\nAAAA", NULL), "x *******************");
}

static void
test_tokens(void **state)
{
    (void)state;
    size_t n;
    /* a 40-character random token */
    assert_string_equal(run("id 9fQ2xL7vK0pZ3mW8rT1yB6nH4cJ5dG2sA7eU0iO1 end", NULL),
                        "id **************************************** end");
    /* long words of one class, or of low entropy, stay */
    run("the_quick_brown_fox_jumps_over_the_lazy_dog", &n);
    assert_int_equal(n, 0);
    run("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1111111111", &n);
    assert_int_equal(n, 0);
    /* short mixed runs stay */
    run("abc123XYZ hello World42", &n);
    assert_int_equal(n, 0);
}

static void
test_plain(void **state)
{
    (void)state;
    size_t n;
    run("hello, world: a plain sentence without secrets.", &n);
    assert_int_equal(n, 0);
    run("", &n);
    assert_int_equal(n, 0);
    /* binary: pointers and small integers */
    uint8_t bin[32] = {0x10, 0x42, 0x55, 0x55, 0x55, 0x55, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
    memcpy(buf, bin, sizeof bin);
    assert_int_equal(lk_redact(buf, sizeof bin, mask), 0);
    assert_memory_equal(buf, bin, sizeof bin);
    /* a key at the very end, with nothing after the separator */
    run("password=", &n);
    assert_int_equal(n, 0);
    run("password", &n);
    assert_int_equal(n, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password), cmocka_unit_test(test_headers),
        cmocka_unit_test(test_pem),      cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
