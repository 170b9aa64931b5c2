/* Forks: a child that keeps running and allocating without exec, a child
 * that execs `true` via posix_spawn, and a vfork+exec child. Prints the
 * children's statuses; the parent leaks in parent_work, the forked child in
 * child_work. argv[1]: seconds the forked child runs (default 1.5). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
void *parent_list, *child_list;

static void
parent_work(int n)
{
    for (int i = 0; i < n; i++) {
        void **p = malloc(256);
        p[0] = parent_list;
        parent_list = p;
    }
}

static void
child_work(double secs)
{
    struct timespec ts = {0, 20000000};
    for (int i = 0; i < (int)(secs * 50); i++) {
        for (int k = 0; k < 20; k++) {
            void **p = malloc(512);
            p[0] = child_list;
            child_list = p;
            free(malloc(100));
        }
        nanosleep(&ts, NULL);
    }
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.5;
    int st;
    parent_work(100);
    pid_t pid = fork();
    if (pid == 0) {
        child_work(secs);
        exit(5); /* exit, not _exit: the child's recording gets its END */
    }
    waitpid(pid, &st, 0);
    printf("fork child exited %d\n", WEXITSTATUS(st));

    char *args[] = {"true", NULL};
    if (posix_spawnp(&pid, "true", NULL, NULL, args, environ) == 0) {
        waitpid(pid, &st, 0);
        printf("spawned child exited %d\n", WEXITSTATUS(st));
    }
    pid = vfork();
    if (pid == 0) {
        execlp("sh", "sh", "-c", "exit 4", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    printf("vfork child exited %d\n", WEXITSTATUS(st));
    parent_work(100);
    return 0;
}
