/* A small program for linking with another allocator (jemalloc, tcmalloc)
 * or statically; test_allocators.sh compiles it itself (it is not in the
 * CMake glob, which builds only tests/progs/*.c). It allocates through the
 * standard API, asks malloc_usable_size, keeps a few blocks in keep() and
 * prints a deterministic line. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *kept[100];               /* global: the compiler must keep the stores */
volatile unsigned long sink; /* and every block is touched through this */

__attribute__((noinline)) static void
keep(int i)
{
    kept[i] = malloc(1000);
    memset(kept[i], 1, 1000);
}

int
main(void)
{
    int short_usable = 0;
    for (int round = 0; round < 2000; round++) {
        char *p = malloc((size_t)(round % 700 + 1));
        if (malloc_usable_size(p) < (size_t)(round % 700 + 1))
            short_usable++;
        p = realloc(p, (size_t)(round % 3000 + 1));
        char *a = aligned_alloc(64, 128);
        char *c = calloc(10, 10);
        a[0] = 1;
        p[0] = 2;
        sink += (unsigned long)a[0] + (unsigned long)c[5] + (unsigned long)p[0];
        free(a);
        free(c);
        free(p);
        if (round % 20 == 0)
            keep(round / 20);
    }
    printf("kept 100 blocks, %d short usable sizes\n", short_usable);
    return 0;
}
