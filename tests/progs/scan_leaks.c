/* Reachability scan test: known unreachable, indirect and reachable blocks
 * at the moment of a scan (leakscope_scan_now when the agent is there, and
 * at exit). Each kind comes from its own function, so each is its own site:
 *   lost_struct    1 block of 48 B dropped on an error path   -> 1 unreachable
 *   lost_list      a 5-node list whose head pointer is dropped -> 1 unreachable + 4 indirect
 *   lost_cycle     3 blocks in a cycle, dropped                -> 1 unreachable + 2 indirect
 *   kept_list      a global list of 7 nodes                    -> 7 reachable (module)
 *   reg_hold       a block only a blocked thread holds (local / callee-saved register)
 *   tls_lost       __thread buffers of 4 exited threads        -> 4 unreachable
 * With "now", it asks for a scan while the holder runs; with "live" it exits
 * with the holder still blocked (the exit scan then stops it, not in place).
 * Prints one line and exits 0 whatever the agent does. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The agent's API (include/leakscope.h), weak: the program runs without it. */
int leakscope_scan_now(void) __attribute__((weak));

struct node {
    struct node *next;
    char pad[56];
};

struct node *kept_head;
static int pipefd[2];

static int
parse_config(const char *s)
{
    char *cfg = malloc(48); /* lost_struct */
    strcpy(cfg, s);
    if (cfg[0] != 'x')
        return -1; /* error path: cfg is dropped */
    free(cfg);
    return 0;
}

static struct node *
list_node(struct node *next)
{
    struct node *n = malloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->next = next;
    return n;
}

static void
lost_list(void)
{
    struct node *h = NULL;
    for (int i = 0; i < 5; i++)
        h = list_node(h);
    h = NULL; /* dropped */
}

static struct node *
cycle_node(void)
{
    struct node *n = malloc(sizeof *n);
    memset(n, 0, sizeof *n);
    return n;
}

static void
lost_cycle(void)
{
    struct node *a = cycle_node(), *b = cycle_node(), *c = cycle_node();
    a->next = b;
    b->next = c;
    c->next = a;
}

static struct node *
kept_node(struct node *next)
{
    struct node *n = malloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->next = next;
    return n;
}

static void *
reg_alloc(void)
{
    void *p = malloc(200);
    memset(p, 0x5a, 200);
    return p;
}

/* Holds its block in a local only, and blocks in read() until main writes. */
static void *
holder(void *arg)
{
    (void)arg;
    void *volatile p = reg_alloc();
    char c;
    while (read(pipefd[0], &c, 1) < 0)
        ;
    free(p);
    return NULL;
}

static __thread char *tls_buf;

static char *
tls_alloc(void)
{
    return malloc(96);
}

static void *
tls_user(void *arg)
{
    (void)arg;
    tls_buf = tls_alloc();
    tls_buf[0] = 1;
    return NULL;
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
    int live = argc > 1 && !strcmp(argv[1], "live");
    parse_config("bad");
    lost_list();
    lost_cycle();
    for (int i = 0; i < 7; i++)
        kept_head = kept_node(kept_head);
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        pthread_create(&t, NULL, tls_user, NULL);
        pthread_join(t, NULL);
    }
    if (pipe(pipefd) < 0)
        return 1;
    pthread_t h;
    pthread_create(&h, NULL, holder, NULL);
    usleep(100000);
    scrub_stack();
    if (live) {
        printf("scan_leaks done\n");
        exit(0);
    }
    if (argc > 1 && leakscope_scan_now)
        leakscope_scan_now();
    if (write(pipefd[1], "x", 1) != 1)
        return 1;
    pthread_join(h, NULL);
    scrub_stack();
    printf("scan_leaks done\n");
    return 0;
}
