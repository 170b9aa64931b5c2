/* Control: heavy steady churn with a stable live set. A pool of 3000
 * objects of random sizes, each request replacing a few at random and
 * allocating and freeing temporary buffers; the live set is filled before
 * the first snapshot and its size only fluctuates. Not a leak: STABLE.
 * Runs argv[1] seconds (default 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL 3000

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
object_new(unsigned *seed)
{
    size_t len = 32 + rand_r(seed) % 992;
    char *p = malloc(len);
    p[0] = (char)len;
    return p;
}

static unsigned
handle_request(unsigned *seed, char **pool)
{
    char *a = malloc(128 + rand_r(seed) % 4096);
    char *b = malloc(64 + rand_r(seed) % 512);
    a[0] = b[0] = 1;
    for (int i = 0; i < 4; i++) {
        unsigned k = rand_r(seed) % POOL;
        free(pool[k]);
        pool[k] = object_new(seed);
    }
    unsigned v = (unsigned char)a[0] + (unsigned char)b[0];
    free(b);
    free(a);
    return v;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    double end = now() + secs;
    unsigned seed = 21, sum = 0;
    unsigned long requests = 0;
    static char *pool[POOL];
    for (int i = 0; i < POOL; i++)
        pool[i] = object_new(&seed);
    while (now() < end) {
        for (int i = 0; i < 400; i++, requests++)
            sum += handle_request(&seed, pool);
        usleep(10000);
    }
    printf("control_churn: %lu requests (%u)\n", requests, sum % 10);
    return 0;
}
