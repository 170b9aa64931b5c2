/* Secret redaction for content samples (redact.h). Rules are applied one
 * after the other over the whole buffer, each marking bytes in the mask;
 * marked bytes are zeroed at the end, so one rule never hides a match from
 * another. Pure: no allocation, no state. */
#include "redact.h"

#include <math.h>
#include <string.h>

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Does buf[i, n) start with the lower-case word w, case-insensitively? */
static int
at(const uint8_t *buf, size_t n, size_t i, const char *w)
{
    size_t k = strlen(w);
    if (i + k > n)
        return 0;
    for (size_t j = 0; j < k; j++)
        if (lower(buf[i + j]) != w[j])
            return 0;
    return 1;
}

static void
mark(uint8_t *mask, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        mask[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int
is_token(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=' || c == '_' || c == '-';
}

static int
ends_value(int c)
{
    return c == 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\'' ||
           c == '&' || c == ';' || c == ',' || c == '}' || c == '<';
}

static size_t
line_end(const uint8_t *buf, size_t n, size_t i)
{
    while (i < n && buf[i] != '\n' && buf[i] != '\r' && buf[i] != 0)
        i++;
    return i;
}

/* key[=:]value: after the key, up to 3 quote/space bytes, one '=' or ':',
 * then spaces and quotes, then the value. */
static void
key_values(const uint8_t *buf, size_t n, uint8_t *mask)
{
    static const char *const keys[] = {"password", "passwd", "secret", "token", "api_key",
                                       "apikey", "api-key"};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (!at(buf, n, i, keys[k]))
                continue;
            size_t j = i + strlen(keys[k]);
            while (j < n && j < i + strlen(keys[k]) + 12 && is_token(buf[j]) && buf[j] != '=')
                j++; /* password_hash=, secret_key: */
            for (int q = 0; q < 3 && j < n && (buf[j] == '"' || buf[j] == '\'' || buf[j] == ' ');
                 q++)
                j++;
            if (j >= n || (buf[j] != '=' && buf[j] != ':'))
                continue;
            j++;
            while (j < n && (buf[j] == ' ' || buf[j] == '"' || buf[j] == '\''))
                j++;
            size_t v = j;
            while (j < n && !ends_value(buf[j]))
                j++;
            mark(mask, v, j);
        }
}

static void
headers(const uint8_t *buf, size_t n, uint8_t *mask)
{
    static const char *const hdrs[] = {"authorization:", "cookie:"};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof hdrs / sizeof hdrs[0]; k++)
            if (at(buf, n, i, hdrs[k])) {
                size_t v = i + strlen(hdrs[k]);
                mark(mask, v, line_end(buf, n, v));
            }
        if (at(buf, n, i, "bearer ")) {
            size_t v = i + 7, j = v;
            while (j < n && !ends_value(buf[j]))
                j++;
            mark(mask, v, j);
        }
    }
}

static void
pem(const uint8_t *buf, size_t n, uint8_t *mask)
{
    for (size_t i = 0; i < n; i++) {
        if (!at(buf, n, i, "-----begin"))
            continue;
        size_t j = line_end(buf, n, i), end = n;
        for (; j < n; j++)
            if (at(buf, n, j, "-----end")) {
                end = line_end(buf, n, j);
                break;
            }
        mark(mask, i, end);
        i = end;
    }
}

static int
secret_run(const uint8_t *p, size_t len)
{
    unsigned cnt[256] = {0};
    int lo = 0, up = 0, dig = 0;
    for (size_t i = 0; i < len; i++) {
        cnt[p[i]]++;
        lo |= p[i] >= 'a' && p[i] <= 'z';
        up |= p[i] >= 'A' && p[i] <= 'Z';
        dig |= p[i] >= '0' && p[i] <= '9';
    }
    if (lo + up + dig < 2)
        return 0;
    double h = 0;
    for (int c = 0; c < 256; c++)
        if (cnt[c]) {
            double q = (double)cnt[c] / (double)len;
            h -= q * log2(q);
        }
    return h >= 3.0;
}

static void
tokens(const uint8_t *buf, size_t n, uint8_t *mask)
{
    size_t i = 0;
    while (i < n) {
        if (!is_token(buf[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && is_token(buf[j]))
            j++;
        if (j - i >= LK_REDACT_TOKEN_MIN && secret_run(buf + i, j - i))
            mark(mask, i, j);
        i = j;
    }
}

size_t
lk_redact(uint8_t *buf, size_t n, uint8_t *mask)
{
    size_t red = 0;
    memset(mask, 0, (n + 7) / 8);
    key_values(buf, n, mask);
    headers(buf, n, mask);
    pem(buf, n, mask);
    tokens(buf, n, mask);
    for (size_t i = 0; i < n; i++)
        if (mask[i / 8] & (1u << (i % 8))) {
            buf[i] = 0;
            red++;
        }
    return red;
}
