/* Control: a load spike of many small allocations, all freed but the one
 * allocated last, which sits at the top of the heap and pins it, so glibc
 * cannot trim the freed memory below it and RSS stays high while the live
 * heap falls back (the nhproxy story's high-water mark). Not a leak:
 * allocator retention. Steady request churn before and after; the spike
 * comes at a quarter of the run. Runs argv[1] seconds (default 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPIKE_BLOCKS 300000

static void *pinned; /* the spike's last block, kept for the whole run */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
serve_requests(unsigned *seed, char **live, int nlive)
{
    for (int i = 0; i < 50; i++) {
        char *buf = malloc(64 + rand_r(seed) % 1984);
        buf[0] = 1;
        int k = (int)(rand_r(seed) % (unsigned)nlive);
        free(live[k]);
        live[k] = malloc(200);
        free(buf);
    }
}

static void **
spike_fill(unsigned *seed)
{
    void **blocks = malloc(SPIKE_BLOCKS * sizeof *blocks);
    for (int i = 0; i < SPIKE_BLOCKS; i++) {
        blocks[i] = malloc(48 + rand_r(seed) % 64);
        memset(blocks[i], 's', 48);
    }
    return blocks;
}

/* Frees the spike but its last block, which stays pinned. */
static void
spike_free(void **blocks)
{
    for (int i = 0; i < SPIKE_BLOCKS - 1; i++)
        free(blocks[i]);
    pinned = blocks[SPIKE_BLOCKS - 1];
    free(blocks);
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    double start = now(), end = start + secs;
    unsigned seed = 3;
    char *live[256];
    for (int i = 0; i < 256; i++)
        live[i] = malloc(200);
    int spiked = 0;
    while (now() < end) {
        serve_requests(&seed, live, 256);
        if (!spiked && now() >= start + secs / 4) {
            void **blocks = spike_fill(&seed);
            usleep(500000);
            spike_free(blocks);
            spiked = 1;
        }
        usleep(10000);
    }
    printf("control_spike: spike of %d blocks freed but the last (%s)\n", SPIKE_BLOCKS,
           pinned ? "kept" : "none");
    return 0;
}
