/* Allocates and frees steadily for argv[1] seconds (default 1), keeping one
 * block in ten, and prints one line that does not depend on timing: the
 * program for tests that need a host whose output is known in advance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *kept;

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    struct timespec t0, t, pause = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0;; i++) {
        void **p = malloc(64 + i % 1000);
        memset(p, 0, 64);
        if (i % 10 == 0) {
            p[0] = kept;
            kept = p;
        } else {
            free(p);
        }
        if (i % 100 == 0) {
            nanosleep(&pause, NULL);
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= secs)
                break;
        }
    }
    printf("steady: done\n");
    return 0;
}
