/* No leak: heavy allocate/free churn over a stable live set, and a lookup
 * table that fills in the first second and then only replaces entries.
 * Runs for argv[1] seconds (default 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TABLE 2000

static char *table[TABLE];

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
table_put(unsigned key)
{
    unsigned slot = key % TABLE;
    free(table[slot]);
    table[slot] = malloc(200 + key % 300);
    memset(table[slot], 1, 200);
}

static unsigned
churn(unsigned n)
{
    char *bufs[50];
    unsigned sum = 0;
    for (int i = 0; i < 50; i++) {
        bufs[i] = malloc(64 + (n + (unsigned)i) % 4000);
        bufs[i][0] = (char)i;
    }
    for (int i = 0; i < 50; i++) {
        sum += (unsigned char)bufs[i][0];
        free(bufs[i]);
    }
    return sum;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 6;
    double start = now(), end = start + secs;
    unsigned n = 0, sum = 0;
    while (now() < end && n < 100000000) {
        for (int i = 0; i < 200; i++, n++) {
            sum += churn(n);
            table_put(now() - start < 1.0 ? n : n % TABLE);
        }
        usleep(10000);
    }
    for (int i = 0; i < TABLE; i++)
        free(table[i]);
    printf("churned %u rounds (%u)\n", n, sum % 7);
    return 0;
}
