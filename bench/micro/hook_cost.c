/* Cost of one malloc+free pair as the host sees it, at a chosen stack depth
 * and thread count: run it plainly and under the agent and compare ns/op
 * (bench/micro/run.sh does both). Results are kept from being optimised
 * away by a checksum that is printed.
 * usage: hook_cost [pairs=2000000] [depth=16] [threads=1] [size=64] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long pairs = 2000000;
static int depth = 16, nthreads = 1;
static size_t size = 64;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static uintptr_t
leaf(long n)
{
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++) {
        char *volatile p = malloc(size);
        p[0] = (char)i;
        sum += (uintptr_t)p[0];
        free(p);
    }
    return sum;
}

__attribute__((noinline)) static uintptr_t
descend(int d, long n)
{
    uintptr_t r = d <= 1 ? leaf(n) : descend(d - 1, n);
    __asm__ volatile("" ::: "memory"); /* no tail call: every level is a frame */
    return r;
}

static void *
worker(void *arg)
{
    (void)arg;
    return (void *)descend(depth, pairs / nthreads);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        pairs = atol(argv[1]);
    if (argc > 2)
        depth = atoi(argv[2]);
    if (argc > 3)
        nthreads = atoi(argv[3]);
    if (argc > 4)
        size = (size_t)atol(argv[4]);
    pthread_t th[64];
    uintptr_t sum = 0;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 1;
    descend(depth, 1000); /* warm up: first-touch costs are not what we measure */
    double t0 = now();
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < nthreads; i++) {
        void *r;
        pthread_join(th[i], &r);
        sum += (uintptr_t)r;
    }
    double t1 = now();
    printf("%.1f ns per malloc+free pair (depth %d, %d thread(s), %ld pairs, checksum %lu)\n",
           (t1 - t0) * 1e9 / (double)pairs * nthreads, depth, nthreads, pairs,
           (unsigned long)(sum & 0xff));
    return 0;
}
