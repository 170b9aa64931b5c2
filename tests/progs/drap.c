/* Frames whose CFA the compiler writes as a DWARF expression through rbp
 * (stack realignment with a variable-length array: "DRAP"), reached at
 * different stack alignments, allocating: their sizes and rbp offsets both
 * change with the alignment of the caller's stack, so one observation's
 * rule is wrong for the next call. Under LEAKSCOPE_CHECK_UNWIND=1 every
 * walk must equal libunwind's. (From a review of the walker.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *keep[256]; /* not static: the allocations must happen */
int nk;

__attribute__((noinline)) static void
use(char *a, char *b)
{
    keep[nk++ % 256] = malloc(16);
    __asm__ volatile("" ::"r"(a), "r"(b) : "memory");
}

__attribute__((noinline)) static void
drap(int n)
{
    char vla[n];
    _Alignas(64) char buf[64];
    memset(vla, 1, (size_t)n);
    buf[0] = 1;
    use(vla, buf);
}

__attribute__((noinline)) static void
pad(int k, int n)
{
    char *p = __builtin_alloca((size_t)k);
    p[0] = 0;
    __asm__ volatile("" ::"r"(p) : "memory");
    drap(n);
}

int
main(void)
{
    for (int i = 0; i < 32; i++)
        pad(8 + 16 * i, 24);
    size_t live = 0;
    for (int i = 0; i < nk && i < 256; i++)
        live += keep[i] != NULL;
    printf("%d allocations, %zu live\n", nk, live);
    return 0;
}
