/* A workload whose live memory per site is known exactly, for checking that
 * sampled estimates converge to it: keep_small keeps 20000 blocks of 512 B,
 * keep_big 200 of 64 KiB, keep_tiny 200000 of 24 B, and churn allocates and
 * frees 1,000,000 blocks of 100 B (live 0). Prints the truth, then waits a
 * little so that a snapshot sees the final state before exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void **keep(size_t n, size_t size, void **list)
{
    for (size_t i = 0; i < n; i++) {
        void **p = malloc(size);
        memset(p, 0, size < 64 ? size : 64);
        p[0] = list;
        list = p;
    }
    return list;
}

static void **
keep_small(void **l)
{
    return keep(20000, 512, l);
}

static void **
keep_big(void **l)
{
    return keep(200, 65536, l);
}

static void **
keep_tiny(void **l)
{
    return keep(200000, 24, l);
}

static unsigned
churn(void)
{
    unsigned s = 0;
    for (int i = 0; i < 1000000; i++) {
        char *volatile p = malloc(100);
        p[0] = (char)i;
        s += (unsigned char)p[0];
        free(p);
    }
    return s;
}

int
main(void)
{
    void **l = NULL;
    for (int round = 0; round < 4; round++) { /* interleave the sites */
        l = keep_small(l);
        l = keep_big(l);
        l = keep_tiny(l);
        churn();
    }
    printf("truth keep_small %d keep_big %d keep_tiny %d churn 0 (%p)\n", 4 * 20000 * 512,
           4 * 200 * 65536, 4 * 200000 * 24, (void *)l);
    fflush(stdout);
    usleep(300000);
    return 0;
}
