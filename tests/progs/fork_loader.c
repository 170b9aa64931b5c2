/* A thread of the program is inside dl_iterate_phdr (a slow callback) when
 * the main thread forks; each child allocates and exits. glibc does not
 * reset the loader's lock in a fork child, so a child that calls
 * dl_iterate_phdr hangs for good: the agent must not, not even at exit
 * (an agent that refreshed its module list in every child's exit handler
 * hung all of them). A child still alive after 2 s dies of SIGALRM and is
 * counted as hung. Prints the count. Usage: fork_loader CHILDREN */
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int
slow(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info, (void)size, (void)data;
    usleep(2000);
    return 0;
}

static void *
walker(void *arg)
{
    for (;;)
        dl_iterate_phdr(slow, NULL);
    return arg;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5, hung = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, walker, NULL) != 0)
        return 2;
    usleep(50000);
    for (int k = 0; k < n; k++) {
        pid_t p = fork();
        if (p == 0) {
            alarm(2);
            char *q = malloc(100);
            q[0] = 0;
            free(q);
            exit(0);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p)
            return 3;
        hung += WIFSIGNALED(st);
    }
    printf("%d of %d children hung\n", hung, n);
    fflush(stdout);
    _exit(0);
}
