/* Threads under the agent: W workers allocate and free in a tight loop and
 * hand blocks to each other through a shared ring (so most frees happen on
 * another thread than the allocation), while the main thread keeps starting
 * short-lived threads that allocate, free some, and exit while the workers
 * run. Exactly KEEP_PER_THREAD blocks of KEEP_SIZE bytes per worker and per
 * short-lived thread are kept forever in keep_block(), so the recording's
 * final live bytes for that site are known. Output is deterministic.
 * argv[1]: rounds per worker (default 20000), argv[2]: workers (default 8),
 * argv[3]: short-lived threads (default 64). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_PER_THREAD 10
#define KEEP_SIZE 96
#define RING 1024

static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static void *ring[RING];
static unsigned ring_head;
static void *_Atomic kept; /* chain of kept blocks, reachable */
static atomic_ulong allocated, freed_here, freed_elsewhere;
static int rounds = 20000;

struct blk {
    pthread_t owner;
    size_t n;
};

static void
keep_block(void)
{
    void **p = malloc(KEEP_SIZE);
    p[0] = atomic_load(&kept);
    while (!atomic_compare_exchange_weak(&kept, (void **)&p[0], (void *)p))
        ;
}

/* Swaps b into the ring and frees whatever it displaced (allocated by any
 * thread). */
static void
pass_on(struct blk *b)
{
    pthread_mutex_lock(&ring_mu);
    struct blk *old = ring[ring_head % RING];
    ring[ring_head++ % RING] = b;
    pthread_mutex_unlock(&ring_mu);
    if (old) {
        if (pthread_equal(old->owner, pthread_self()))
            atomic_fetch_add(&freed_here, 1);
        else
            atomic_fetch_add(&freed_elsewhere, 1);
        free(old);
    }
}

static void *
worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < KEEP_PER_THREAD; i++)
        keep_block();
    for (int i = 0; i < rounds; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = sizeof(struct blk) + (seed >> 16) % 2000;
        struct blk *b = malloc(n);
        b->owner = pthread_self();
        b->n = n;
        atomic_fetch_add(&allocated, 1);
        if (seed & 0x100) {
            pass_on(b);
        } else {
            b = realloc(b, n * 2);
            char *c = calloc(4, 33);
            free(c);
            free(b);
            atomic_fetch_add(&freed_here, 1);
        }
    }
    return NULL;
}

static void *
short_lived(void *arg)
{
    (void)arg;
    for (int i = 0; i < KEEP_PER_THREAD; i++)
        keep_block();
    for (int i = 0; i < 200; i++)
        free(malloc((size_t)(i * 7 + 1)));
    return NULL; /* exits while the workers allocate */
}

int
main(int argc, char **argv)
{
    int nworkers = 8, nshort = 64;
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (argc > 2)
        nworkers = atoi(argv[2]);
    if (argc > 3)
        nshort = atoi(argv[3]);
    pthread_t *w = calloc((size_t)nworkers, sizeof *w);
    for (int i = 0; i < nworkers; i++)
        pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < nshort; i++) {
        pthread_t t;
        pthread_create(&t, NULL, short_lived, NULL);
        if (i % 2)
            pthread_join(t, NULL);
        else
            pthread_detach(t); /* may still run when main moves on */
    }
    for (int i = 0; i < nworkers; i++)
        pthread_join(w[i], NULL);
    /* Detached threads finish their ten keep_block calls quickly; wait. */
    for (;;) {
        unsigned long n = 0;
        for (void **p = atomic_load(&kept); p; p = p[0])
            n++;
        if (n == (unsigned long)(nworkers + nshort) * KEEP_PER_THREAD)
            break;
    }
    pthread_mutex_lock(&ring_mu);
    for (int i = 0; i < RING; i++) {
        free(ring[i]);
        ring[i] = NULL;
    }
    pthread_mutex_unlock(&ring_mu);
    free(w);
    printf("workers %d, short-lived threads %d, allocations %lu\n", nworkers, nshort,
           atomic_load(&allocated));
    printf("kept %d blocks of %d bytes in keep_block\n", (nworkers + nshort) * KEEP_PER_THREAD,
           KEEP_SIZE);
    return 0;
}
