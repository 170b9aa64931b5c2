/* Append-only formatting for code that may not call snprintf (the agent:
 * glibc's printf family can allocate). Each call appends what fits. */
#include "fmt.h"

void
lk_fmt_init(struct lk_fmt *f, char *buf, size_t cap)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    if (cap)
        buf[0] = '\0';
}

void
lk_fmt_mem(struct lk_fmt *f, const char *s, size_t n)
{
    if (!f->cap)
        return;
    while (n-- && f->len + 1 < f->cap)
        f->buf[f->len++] = *s++;
    f->buf[f->len] = '\0';
}

void
lk_fmt_str(struct lk_fmt *f, const char *s)
{
    size_t n = 0;
    if (!s)
        s = "(null)";
    while (s[n])
        n++;
    lk_fmt_mem(f, s, n);
}

void
lk_fmt_u64(struct lk_fmt *f, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    lk_fmt_mem(f, tmp + i, sizeof tmp - i);
}

void
lk_fmt_i64(struct lk_fmt *f, int64_t v)
{
    if (v < 0) {
        lk_fmt_mem(f, "-", 1);
        lk_fmt_u64(f, (uint64_t)0 - (uint64_t)v);
    } else {
        lk_fmt_u64(f, (uint64_t)v);
    }
}

void
lk_fmt_hex(struct lk_fmt *f, uint64_t v)
{
    char tmp[18];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    lk_fmt_mem(f, tmp + i, sizeof tmp - i);
}
