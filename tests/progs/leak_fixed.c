/* The fixed build of leak_simple.c, for `leakscope diff` (tests/e2e/test_diff.sh):
 * the same program with the access-log copy released once 64 newer ones
 * exist. The #line directive gives its debug info the file name of the
 * original, as a rebuild of the same source after the fix would have. */
#line 1 "leak_simple.c"
/* A request loop that leaks one copy of each request in leak_request() while
 * everything else it allocates is freed: parse buffers churn, a small
 * bounded table of recent requests is reused. Runs for argv[1] seconds
 * (default 6) and prints how many requests it handled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct request {
    char method[8];
    char path[120];
    char *body;
    size_t body_len;
};

static struct request *recent[64];
static void *leaked_list; /* stays NULL: the copies are no longer chained */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct request *
parse_request(unsigned n)
{
    struct request *r = calloc(1, sizeof *r);
    snprintf(r->method, sizeof r->method, "GET");
    snprintf(r->path, sizeof r->path, "/item/%u", n);
    r->body_len = 256 + n % 512;
    r->body = malloc(r->body_len);
    memset(r->body, 'x', r->body_len);
    return r;
}

static void
free_request(struct request *r)
{
    free(r->body);
    free(r);
}

/* The fix: the access log keeps the 64 latest copies. */
static void *access_log[64];
static unsigned access_next;

static void
leak_request(const struct request *r)
{
    void **copy = malloc(sizeof(void *) + 512);
    copy[0] = leaked_list;
    memcpy(copy + 1, r->path, sizeof r->path);
    free(access_log[access_next % 64]);
    access_log[access_next++ % 64] = copy;
}

static void
remember_recent(struct request *r, unsigned n)
{
    struct request **slot = &recent[n % 64];
    if (*slot)
        free_request(*slot);
    *slot = r;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 6;
    double end = now() + secs;
    unsigned n = 0;
    while (now() < end && n < 10000000) {
        for (int i = 0; i < 100; i++, n++) {
            struct request *r = parse_request(n);
            char *scratch = malloc(2048);
            snprintf(scratch, 2048, "%s %s", r->method, r->path);
            free(scratch);
            if (n % 10 == 0)
                leak_request(r);
            remember_recent(r, n);
        }
        usleep(10000);
    }
    printf("handled %u requests\n", n);
    return 0;
}
