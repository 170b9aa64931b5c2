/* Thread-local buffers without a destructor: each of 4 worker threads
 * allocates a scratch buffer in thread_scratch() and keeps it only in a
 * __thread pointer; no pthread key destructor frees it, so when the thread
 * ends the buffer is lost (4 blocks). The main thread's own scratch stays
 * reachable through its live TLS (1 block). Prints what the workers did. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char *scratch;

static char *
thread_scratch(void)
{
    if (!scratch) {
        scratch = malloc(256);
        memset(scratch, 0, 256);
    }
    return scratch;
}

static void *
worker(void *arg)
{
    char *s = thread_scratch();
    snprintf(s, 256, "worker %ld", (long)(size_t)arg);
    return (void *)(size_t)strlen(s);
}

int
main(void)
{
    pthread_t t[4];
    size_t total = 0;
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (size_t)r;
    }
    snprintf(thread_scratch(), 256, "main");
    printf("4 workers wrote %zu bytes\n", total);
    return 0;
}
