/* Replays a recorded allocation stream (bench/micro/alloc_trace.c) against
 * the agent's live map alone: for each event the agent's own sequence, a
 * prefetch then an insert, or a removal. Prints ns per event (best of N
 * runs), the peak of live blocks, the map's bytes per live block at the end
 * of the first run, and removals that found nothing (must be 0: every
 * traced free follows its block's allocation). Under cachegrind it gives
 * the map's exact instruction and cache-miss counts for a real program's
 * address pattern (docs/UNWIND.md section 7). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/live_map.h"

static double
now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_map_replay TRACE [RUNS]\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 8) {
        fprintf(stderr, "bench_map_replay: cannot read %s\n", argv[1]);
        return 2;
    }
    size_t n = (size_t)st.st_size / 8;
    const uint64_t *ev = mmap(NULL, n * 8, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (ev == MAP_FAILED || lk_live_map_init(0) < 0) {
        fprintf(stderr, "bench_map_replay: out of memory\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 1;
    if (runs < 1)
        runs = 1;
    double best = 1e30;
    size_t peak = 0, missed = 0, bytes = 0;
    for (int r = 0; r < runs; r++) {
        size_t live = 0;
        missed = 0;
        double t = now();
        for (size_t i = 0; i < n; i++) {
            uintptr_t a = (uintptr_t)(ev[i] & ((1ull << 48) - 1));
            struct lk_live_info li;
            if (ev[i] >> 62 == 1) {
                lk_live_map_prefetch(a);
                if (lk_live_map_insert(a, (ev[i] >> 48) & 16383, 1, 0, &li) == 0 && ++live > peak)
                    peak = live;
            } else if (lk_live_map_remove(a, &li)) {
                live--;
            } else {
                missed++;
            }
        }
        t = now() - t;
        if (t < best)
            best = t;
        if (r == 0)
            bytes = lk_live_map_bytes();
        if (r + 1 < runs) /* empty the map for the next run */
            for (size_t i = 0; i < n; i++) {
                struct lk_live_info li;
                lk_live_map_remove((uintptr_t)(ev[i] & ((1ull << 48) - 1)), &li);
            }
    }
    printf("%zu events, %.1f ns/event (best of %d), peak %zu live blocks, map %.1f bytes per "
           "live block at the end of the first run, %zu removals found nothing\n",
           n, best * 1e9 / (double)n, runs, peak, peak ? (double)bytes / (double)peak : 0.0,
           missed);
    return missed ? 1 : 0;
}
