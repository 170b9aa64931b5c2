/* The main thread of a single-threaded program ends with pthread_exit():
 * glibc then sees its last thread go and exits the process with status 0,
 * running the atexit handlers. An agent thread that glibc counted kept such
 * a process alive for ever (session 5's agent: it hung, and a SIGTERM could
 * not even be delivered, every live thread blocking it). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void
bye(void)
{
    printf("atexit ran\n");
}

int
main(void)
{
    char *p = malloc(100);
    atexit(bye);
    printf("main thread leaves (%s)\n", p ? "allocated" : "no memory");
    fflush(stdout);
    pthread_exit(NULL);
}
