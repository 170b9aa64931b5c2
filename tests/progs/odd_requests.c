/* Odd and extreme requests to the malloc family, printed so that a run
 * under the agent can be compared line by line with a plain run: the same
 * results, the same errno values, alignments honoured, usable sizes at
 * least what was asked. Nothing printed depends on addresses. */
#include <errno.h>
/* The huge sizes are the point: tell GCC they are meant. */
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
show(const char *what, void *p, int err)
{
    printf("%-40s %s errno=%s\n", what, p ? "ptr " : "NULL",
           err == 0 ? "0" : err == ENOMEM ? "ENOMEM" : err == EINVAL ? "EINVAL" : "other");
}

#define TRY(expr)                                                                              \
    do {                                                                                       \
        errno = 0;                                                                             \
        void *p_ = (expr);                                                                     \
        show(#expr, p_, errno);                                                                \
        free(p_);                                                                              \
    } while (0)

static void
aligned(const char *what, void *p, size_t align, size_t n)
{
    int ok = p && ((uintptr_t)p % align) == 0 && malloc_usable_size(p) >= n;
    printf("%-40s %s\n", what, ok ? "aligned, usable >= size" : p ? "MISALIGNED OR SHORT" : "NULL");
    if (p)
        memset(p, 0xab, n);
    free(p);
}

int
main(void)
{
    long page = sysconf(_SC_PAGESIZE);
    void *p;
    errno = 0;
    p = malloc(0);
    printf("malloc(0) %s\n", p ? "ptr" : "NULL");
    free(p);
    TRY(realloc(NULL, 100));
    p = malloc(10);
    errno = 0;
    void *q = realloc(p, 0); /* glibc: frees p, returns NULL */
    show("realloc(p, 0)", q, errno);
    free(q);
    TRY(malloc(SIZE_MAX));
    TRY(malloc(SIZE_MAX / 2));
    TRY(malloc((size_t)1 << 47)); /* more than the address space allows */
    TRY(calloc(SIZE_MAX / 2, 3));
    TRY(calloc((size_t)1 << 40, (size_t)1 << 30));
    TRY(reallocarray(NULL, SIZE_MAX / 2, 3));
    TRY(memalign(64, SIZE_MAX - 100));
    TRY(aligned_alloc(4096, SIZE_MAX / 2));
    TRY(valloc(SIZE_MAX / 2));
    TRY(pvalloc(SIZE_MAX - 4096));
    p = malloc(100);
    errno = 0;
    q = realloc(p, SIZE_MAX / 2);
    show("realloc(p, SIZE_MAX / 2)", q, errno);
    printf("old block still usable after failed realloc: %s\n",
           q == NULL && malloc_usable_size(p) >= 100 ? "yes" : "no");
    free(q ? q : p);

    size_t aligns[] = {8, 16, 64, 4096, 65536, (size_t)1 << 20, (size_t)1 << 24};
    for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
        char what[64];
        void *r = NULL;
        int rc = posix_memalign(&r, aligns[i], 1000);
        snprintf(what, sizeof what, "posix_memalign(%zu, 1000) rc=%d", aligns[i], rc);
        aligned(what, rc ? NULL : r, aligns[i], 1000);
        snprintf(what, sizeof what, "memalign(%zu, 3000)", aligns[i]);
        aligned(what, memalign(aligns[i], 3000), aligns[i], 3000);
        snprintf(what, sizeof what, "aligned_alloc(%zu, %zu)", aligns[i], aligns[i] * 2);
        aligned(what, aligned_alloc(aligns[i], aligns[i] * 2), aligns[i], aligns[i] * 2);
    }
    size_t bad[] = {0, 3, 12, 24, 100, 4097};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *r = (void *)0x1;
        int saved = errno = 1234;
        int rc = posix_memalign(&r, bad[i], 64);
        printf("posix_memalign(%zu, 64) rc=%s out %s errno %s\n", bad[i],
               rc == EINVAL ? "EINVAL" : rc == 0 ? "0" : "other",
               r == (void *)0x1 ? "untouched" : "written", errno == saved ? "kept" : "changed");
        if (rc == 0)
            free(r);
    }
    {
        void *r = (void *)0x1;
        int rc = posix_memalign(&r, 4096, SIZE_MAX / 2);
        printf("posix_memalign(4096, huge) rc=%s out %s\n", rc == ENOMEM ? "ENOMEM" : "other",
               r == (void *)0x1 ? "untouched" : "written");
    }
    aligned("valloc(5000)", valloc(5000), (size_t)page, 5000);
    p = pvalloc(1);
    printf("pvalloc(1) page-aligned %s, usable >= page %s\n",
           p && (uintptr_t)p % (uintptr_t)page == 0 ? "yes" : "no",
           p && malloc_usable_size(p) >= (size_t)page ? "yes" : "no");
    free(p);

    /* malloc_usable_size on tracked blocks of every size class. */
    int bad_usable = 0;
    for (size_t n = 1; n < (1u << 22); n = n * 3 + 1) {
        char *b = malloc(n);
        if (malloc_usable_size(b) < n)
            bad_usable++;
        memset(b, 1, malloc_usable_size(b)); /* all of it is ours to use */
        b = realloc(b, n / 2 + 1);
        if (malloc_usable_size(b) < n / 2 + 1)
            bad_usable++;
        free(b);
    }
    printf("malloc_usable_size short on %d blocks\n", bad_usable);
    printf("malloc_usable_size(NULL) = %zu\n", malloc_usable_size(NULL));

    /* errno is not disturbed by successful calls. */
    errno = 4321;
    free(malloc(50));
    free(calloc(2, 50));
    free(realloc(NULL, 50));
    printf("errno after successful calls: %s\n", errno == 4321 ? "kept" : "changed");

    /* Many mallocs of 0 and realloc chains down to 0. */
    int nulls = 0;
    for (int i = 0; i < 10000; i++) {
        char *z = malloc(0);
        z = realloc(z, (size_t)(i % 50));
        if (!z)
            nulls++;
        free(z);
    }
    printf("realloc(malloc(0), 0..49) gave NULL %d times\n", nulls);
    return 0;
}
