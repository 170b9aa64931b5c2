/* A steady server's allocation pattern with many sites: 16 handlers, each
 * reached through 24 different call depths (384 distinct stacks, all within
 * the agent's default 32 frames), each
 * keeping a ring of 8 live blocks that it keeps replacing. Live memory per
 * site is stable; the allocation rate is high. Runs argv[1] seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 8
static void *ring[16][24][RING];
static unsigned turn[16][24];

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define HANDLER(i)                                                                           \
    static void handler_##i(int depth)                                                       \
    {                                                                                        \
        unsigned k = turn[i][depth]++ % RING;                                                \
        free(ring[i][depth][k]);                                                             \
        ring[i][depth][k] = malloc(64 + 16 * (size_t)(i));                                   \
        memset(ring[i][depth][k], i, 16);                                                    \
    }
HANDLER(0) HANDLER(1) HANDLER(2) HANDLER(3) HANDLER(4) HANDLER(5) HANDLER(6) HANDLER(7)
HANDLER(8) HANDLER(9) HANDLER(10) HANDLER(11) HANDLER(12) HANDLER(13) HANDLER(14) HANDLER(15)

static void (*const handlers[16])(int) = {
    handler_0, handler_1, handler_2,  handler_3,  handler_4,  handler_5,  handler_6,  handler_7,
    handler_8, handler_9, handler_10, handler_11, handler_12, handler_13, handler_14, handler_15,
};

static int
descend(int h, int depth, int at)
{
    if (at < depth)
        return descend(h, depth, at + 1) + 1;
    handlers[h](depth);
    return 0;
}

int
main(int argc, char **argv)
{
    double end = now() + (argc > 1 ? atof(argv[1]) : 5);
    unsigned long rounds = 0;
    while (now() < end && rounds < 100000000ul) {
        for (int h = 0; h < 16; h++)
            for (int d = 0; d < 24; d++)
                descend(h, d, 0);
        rounds++;
    }
    printf("%s\n", rounds > 0 ? "ran" : "did not run");
    return 0;
}
