/* Reachability scan test: a long-running program for the scan triggers.
 * It keeps a global list that grows (reachable growth: nothing unreachable),
 * drops one block holding planted secrets (unreachable, for content
 * samples), counts SIGCHLD (a handler of its own: our tasks must never raise
 * it), and at the end checks that wait() finds no child (ECHILD): no task of
 * the agent is visible. Usage: scan_grow MS [now] -- runs about MS
 * milliseconds; "now" calls leakscope_scan_now() half-way. Prints one line;
 * exit 0, or 3 when a SIGCHLD arrived or a child was visible. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int leakscope_scan_now(void) __attribute__((weak));

struct item {
    struct item *next;
    char data[88];
};

struct item *cache; /* grows for ever: reachable */
static volatile sig_atomic_t sigchld;

static void
on_chld(int sig)
{
    (void)sig;
    sigchld++;
}

static struct item *
cache_add(void)
{
    struct item *it = malloc(sizeof *it);
    memset(it, 0, sizeof *it);
    it->next = cache;
    cache = it;
    return it;
}

static void *volatile sink; /* keeps the compiler from removing the block */

static void
secret_block(void)
{
    char *s = malloc(160);
    memset(s, 0, 160);
    strcpy(s, "user=bob password=hunter2 key 9fQ2xL7vK0pZ3mW8rT1yB6nH4cJ5dG2sA7eU0iO1 end");
    sink = s;
    sink = NULL; /* dropped: unreachable */
}

static void
scrub_stack(void)
{
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

int
main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1000;
    int now = argc > 2 && !strcmp(argv[2], "now");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    secret_block();
    scrub_stack();
    struct timespec ts = {0, 20 * 1000000};
    long steps = ms / 20;
    for (long i = 0; i < steps; i++) {
        cache_add();
        nanosleep(&ts, NULL);
        if (now && i == steps / 2 && leakscope_scan_now && leakscope_scan_now() != 0)
            printf("scan_now failed\n");
    }
    int w = wait(NULL);
    int werr = errno;
    printf("scan_grow done: sigchld=%d wait=%s\n", (int)sigchld,
           w < 0 && werr == ECHILD ? "ECHILD" : "CHILD");
    return sigchld || !(w < 0 && werr == ECHILD) ? 3 : 0;
}
