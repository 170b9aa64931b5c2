/* The unit tests' grow callback for struct lk_writer: the buffer lives on
 * the heap (realloc) and doubles from 16 bytes, so even small records go
 * through growth. The agent grows with mmap instead (snapshot.c). */
#ifndef LK_TEST_WRITER_HEAP_H
#define LK_TEST_WRITER_HEAP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "record/writer.h"

static inline int
lk_test_grow(struct lk_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 16;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p)
        return -ENOMEM;
    w->buf = p;
    w->cap = cap;
    return 0;
}

#endif
