/* Formatting into a caller's buffer without malloc or stdio, for the agent's
 * log lines and file names. Output is truncated, never overflowed, and the
 * buffer is always NUL-terminated. */
#ifndef LK_FMT_H
#define LK_FMT_H

#include <stddef.h>
#include <stdint.h>

struct lk_fmt {
    char *buf;  /* caller's storage */
    size_t cap; /* bytes in buf, at least 1 */
    size_t len; /* characters written so far, len < cap */
};

void lk_fmt_init(struct lk_fmt *f, char *buf, size_t cap);
void lk_fmt_str(struct lk_fmt *f, const char *s);
void lk_fmt_mem(struct lk_fmt *f, const char *s, size_t n);
void lk_fmt_u64(struct lk_fmt *f, uint64_t v);
void lk_fmt_i64(struct lk_fmt *f, int64_t v);
void lk_fmt_hex(struct lk_fmt *f, uint64_t v);

#endif
