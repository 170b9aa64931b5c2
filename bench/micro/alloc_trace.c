/* A preload that records a program's stream of malloc-family addresses for
 * bench_map_replay: one 64-bit word per event, (op << 62) | (min(size,
 * 16383) << 48) | address, op 1 = a block appears (malloc, calloc, the
 * result of realloc), 2 = it goes (free, the argument of realloc). Written
 * to $LK_TRACE_OUT (default alloc.trace) in 64 KiB writes. Not part of the
 * agent: a measuring tool, single-threaded programs only (the buffer is not
 * locked).
 *
 *   LD_PRELOAD=build/release/bench/libbench_alloc_trace.so LK_TRACE_OUT=perl.trace perl ...
 *   build/release/bench/bench_map_replay perl.trace 5 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static int fd = -1;
static uint64_t buf[8192];
static int nbuf;

static void
flush(void)
{
    if (fd < 0) {
        const char *path = getenv("LK_TRACE_OUT");
        fd = open(path && *path ? path : "alloc.trace", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
    }
    if (fd >= 0 && nbuf && write(fd, buf, (size_t)nbuf * sizeof buf[0]) < 0)
        fd = -2; /* stop trying */
    nbuf = 0;
}

static void
event(uint64_t op, const void *p, size_t n)
{
    buf[nbuf++] = (op << 62) | ((uint64_t)(n < 16383 ? n : 16383) << 48) |
                  ((uint64_t)(uintptr_t)p & ((1ull << 48) - 1));
    if (nbuf == (int)(sizeof buf / sizeof buf[0]))
        flush();
}

__attribute__((destructor)) static void
fini(void)
{
    flush();
}

void *
malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (p)
        event(1, p, n);
    return p;
}

void *
calloc(size_t a, size_t b)
{
    void *p = __libc_calloc(a, b);
    if (p)
        event(1, p, a * b);
    return p;
}

void
free(void *p)
{
    if (p)
        event(2, p, 0);
    __libc_free(p);
}

void *
realloc(void *old, size_t n)
{
    if (old)
        event(2, old, 0);
    void *p = __libc_realloc(old, n);
    if (p)
        event(1, p, n);
    return p;
}
