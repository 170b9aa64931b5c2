/* The pause a reachability scan costs the program (docs/SCAN.md, "Measured
 * pause"). Allocates a live set -- `big`: about 1 GiB in 64 KiB blocks, or
 * `small`: 10 million 32-byte blocks held by one pointer array -- then asks
 * the agent for a scan (leakscope_scan_now) while a ticker thread reads the
 * clock in a loop: the longest gap between two of its reads is the stall
 * the program saw. Prints that gap and the call's duration; the recording's
 * SCAN record (leakscope dump) has pause_ns and scan_ns.
 *
 *   LD_PRELOAD=build/release/libleakscope.so LEAKSCOPE_SCAN_AT_EXIT=0 \
 *       LEAKSCOPE_OUT=/tmp/big.lsr build/release/bench/bench_scan_pause big */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int leakscope_scan_now(void) __attribute__((weak));

static atomic_int stop;
static atomic_uint_least64_t max_gap;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *
ticker(void *arg)
{
    (void)arg;
    uint64_t last = now_ns(), gap = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t t = now_ns();
        if (t - last > gap)
            gap = t - last;
        last = t;
    }
    atomic_store(&max_gap, gap);
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "big";
    size_t n, size;
    if (!strcmp(mode, "small")) {
        n = argc > 2 ? (size_t)atol(argv[2]) : 10000000;
        size = 32;
    } else {
        n = argc > 2 ? (size_t)atol(argv[2]) : 16384; /* 16384 x 64 KiB = 1 GiB */
        size = 65536;
    }
    void **keep = malloc(n * sizeof *keep);
    if (!keep)
        return 1;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        keep[i] = malloc(size);
        if (!keep[i])
            return 1;
        memset(keep[i], (int)(i & 0x7f) | 1, size); /* data, not pointers */
    }
    uint64_t t1 = now_ns();
    if (!leakscope_scan_now) {
        printf("%s: %zu blocks of %zu B allocated in %.2f s; the agent is not loaded\n", mode, n,
               size, (double)(t1 - t0) / 1e9);
        return 0;
    }
    pthread_t t;
    pthread_create(&t, NULL, ticker, NULL);
    struct timespec d = {0, 200 * 1000000};
    nanosleep(&d, NULL);
    uint64_t s0 = now_ns();
    int r = leakscope_scan_now();
    uint64_t s1 = now_ns();
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("%s: %zu blocks of %zu B (%.0f MiB live); scan_now %s in %.3f s; "
           "longest stall seen by a running thread %.3f ms\n",
           mode, n, size, (double)(n * size) / 1048576.0, r == 0 ? "ok" : "FAILED",
           (double)(s1 - s0) / 1e9, (double)atomic_load(&max_gap) / 1e6);
    return r == 0 ? 0 : 1;
}
