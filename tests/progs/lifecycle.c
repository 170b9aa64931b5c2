/* Ways a process ends or misbehaves, each chosen by argv[1], for checking
 * that the agent changes nothing about them (status, output, glibc's own
 * diagnostics) and leaves a readable recording:
 *   exit-thread   a thread calls exit(7) while two others allocate
 *   _exit         _exit(9) after allocating for a while (no exit handlers)
 *   abort         abort() after allocating for a while
 *   double-free   frees a block twice (glibc aborts)
 *   foreign-free  frees a pointer malloc never returned (glibc aborts)
 *   interior-free frees a pointer into the middle of a block (glibc aborts)
 *   signal-malloc a signal handler that calls malloc and free, hit tens of
 *                 thousands of times while the interrupted thread allocates
 *                 (undefined behaviour that real programs commit); argv[2]
 *                 is the number of signals (default 20000)
 * "Allocating for a while" is argv[2] milliseconds (default 300). */
/* Freeing what malloc did not return is the point here. */
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *_Atomic chain;
static atomic_int stop;
static atomic_long handled;

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
churn_once(unsigned i)
{
    void **p = malloc(32 + i % 200);
    if (i % 8 == 0) {
        p[0] = atomic_load(&chain);
        atomic_store(&chain, p); /* not thread-safe on purpose: only a chain to keep */
    } else {
        free(p);
    }
}

static void
churn_for(double ms)
{
    double end = now_ms() + ms;
    for (unsigned i = 0; now_ms() < end; i++)
        churn_once(i);
}

static void *
allocator_thread(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++)
        free(malloc(16 + i % 512));
    return NULL;
}

/* The allocator thread of signal-malloc: sizes glibc keeps in the tcache. */
static void *
small_allocator_thread(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++)
        free(malloc(16 + i % 4 * 16));
    return NULL;
}

static void *
exiting_thread(void *arg)
{
    churn_for(*(double *)arg);
    printf("exit(7) from a thread\n");
    exit(7);
}

/* malloc and free of one small size: after the first call glibc serves
 * them from the thread's tcache without taking a lock, so a plain run does
 * not deadlock in glibc itself; whatever the agent adds must not either. */
static void
on_signal(int sig)
{
    (void)sig;
    char *p = malloc(100);
    if (p)
        memset(p, 1, 100);
    free(p);
    atomic_fetch_add(&handled, 1);
}

struct shooter {
    pthread_t target;
    long shots;
};

static void *
shooter_main(void *arg)
{
    struct shooter *s = arg;
    for (long i = 0; i < s->shots; i++) {
        pthread_kill(s->target, SIGUSR1);
        if (i % 64 == 0)
            sched_yield();
    }
    atomic_store(&stop, 1);
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    double ms = argc > 2 ? atof(argv[2]) : 300;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "exit-thread")) {
        pthread_t t[3];
        pthread_create(&t[0], NULL, allocator_thread, NULL);
        pthread_create(&t[1], NULL, allocator_thread, NULL);
        pthread_create(&t[2], NULL, exiting_thread, &ms);
        for (unsigned i = 0;; i++)
            churn_once(i);
    } else if (!strcmp(mode, "_exit")) {
        churn_for(ms);
        printf("_exit(9)\n");
        _exit(9);
    } else if (!strcmp(mode, "abort")) {
        churn_for(ms);
        printf("abort()\n");
        abort();
    } else if (!strcmp(mode, "double-free")) {
        /* volatile: a malloc/free pair the compiler can see through is removed */
        char *volatile p = malloc(40); /* first of its size: the tcache checks it */
        strcpy(p, "twice");
        free(p);
        printf("freeing twice\n");
        free(p);
        printf("survived a double free\n");
    } else if (!strcmp(mode, "foreign-free")) {
        churn_for(ms);
        /* Not from malloc: a zeroed static array, so glibc reads a size of
         * 0 in the would-be chunk header and says so the same way each run. */
        static _Alignas(16) char fake[64];
        char *volatile p = fake + 16;
        printf("freeing a pointer malloc never returned\n");
        free(p);
        printf("survived\n");
    } else if (!strcmp(mode, "interior-free")) {
        churn_for(ms);
        char *p = calloc(1, 64); /* zeroed: the fake header glibc reads says size 0 */
        printf("freeing the middle of a block\n");
        free(p + 16);
        printf("survived\n");
    } else if (!strcmp(mode, "signal-malloc")) {
        long shots = argc > 2 ? atol(argv[2]) : 20000;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        struct shooter s = {pthread_self(), shots};
        pthread_t t, a;
        pthread_create(&a, NULL, small_allocator_thread, NULL);
        pthread_create(&t, NULL, shooter_main, &s);
        for (unsigned i = 0; !atomic_load(&stop); i++) {
            void *p = malloc(24 + i % 3 * 8); /* tcache sizes: no glibc lock */
            void *q = malloc(56);
            free(p);
            free(q);
        }
        pthread_join(t, NULL);
        pthread_join(a, NULL);
        printf("signal handler ran: %s\n", atomic_load(&handled) > 0 ? "yes" : "no");
    } else {
        fprintf(stderr, "usage: lifecycle MODE [MS]\n");
        return 2;
    }
    return 0;
}
