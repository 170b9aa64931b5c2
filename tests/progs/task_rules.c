/* What the agent's own task (src/agent/task.h) must leave as it was, printed
 * so that test_task.sh can compare the output with and without the agent:
 *
 *   single   glibc still sees one thread (__libc_single_threaded) after many
 *            snapshot periods of allocation;
 *   errno    the main thread's errno is never written by the task;
 *   creds    after the program drops root with setgroups/setgid/setuid,
 *            every task of the process has the new ids (glibc changes the
 *            threads it knows; the task follows by itself within a period);
 *   fork     a child forked from a second thread, whose forking thread then
 *            exits (its stack unmapped at once with a stack cache of 0),
 *            goes on allocating for several periods and exits with status 7;
 *   threads  a pthread started later makes the program multi-threaded as
 *            usual.
 *
 * Usage: task_rules MILLISECONDS DIAG_FILE. Each phase allocates for
 * MILLISECONDS. DIAG_FILE receives what differs by design (the number of
 * tasks, the child's pid), for the test to check on the agent's run. */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long ms;
static FILE *diag;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Allocates and frees for ms milliseconds; keeps a few blocks. Returns 0
 * when errno moved meanwhile. */
static int
churn(unsigned seed)
{
    void *keep[256] = {0};
    errno = 4242;
    int errno_ok = 1;
    double end = now() + ms / 1000.0;
    unsigned x = seed;
    while (now() < end) {
        for (int i = 0; i < 1000; i++) {
            x = x * 1103515245u + 12345u;
            unsigned k = (x >> 8) & 255;
            free(keep[k]);
            keep[k] = malloc(16 + ((x >> 16) & 1023));
        }
        if (errno != 4242)
            errno_ok = 0;
    }
    for (int k = 0; k < 256; k++)
        free(keep[k]);
    return errno_ok;
}

/* Do all tasks of this process have uid/gid `id` and no supplementary
 * groups? */
static int
all_tasks_have(long id, int *ntasks)
{
    DIR *d = opendir("/proc/self/task");
    int ok = d != NULL;
    struct dirent *e;
    *ntasks = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the task exited meanwhile */
        (*ntasks)++;
        while (fgets(line, sizeof line, f)) {
            long a, b, c, dd;
            if ((!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4)) &&
                sscanf(line + 4, "%ld %ld %ld %ld", &a, &b, &c, &dd) == 4 &&
                (a != id || b != id || c != id || dd != id))
                ok = 0;
            if (!strncmp(line, "Groups:", 7) && strspn(line + 7, " \t\n") != strlen(line + 7))
                ok = 0;
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return ok;
}

static void *
child_worker(void *arg)
{
    (void)arg;
    churn(3);
    exit(7);
}

static void *
forking_thread(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: this thread is its only one; it hands over to a new
         * thread and exits, taking its stack (and glibc's descriptor) along */
        pthread_t t;
        if (pthread_create(&t, NULL, child_worker, NULL) != 0)
            _exit(90);
        pthread_exit(NULL);
    }
    return (void *)(long)pid;
}

static void *
idle_thread(void *arg)
{
    return arg;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: task_rules MILLISECONDS DIAG_FILE\n");
        return 2;
    }
    ms = atol(argv[1]);
    diag = fopen(argv[2], "w");
    if (!diag)
        return 2;
    setvbuf(diag, NULL, _IONBF, 0);
    int ntasks;

    int errno_ok = churn(1);
    all_tasks_have(getuid(), &ntasks);
    fprintf(diag, "tasks %d\n", ntasks);
    printf("single %d\n", __libc_single_threaded ? 1 : 0);
    printf("errno %s\n", errno_ok ? "kept" : "changed");
    fflush(stdout);

    if (getuid() == 0) {
        int dropped = setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0;
        churn(2); /* a few periods: the task follows at its next one */
        int same = all_tasks_have(65534, &ntasks);
        printf("creds %s\n", !dropped ? "not dropped" : same ? "every task" : "some task kept root");
        fprintf(diag, "tasks after setuid %d\n", ntasks);
    } else {
        printf("creds not root\n");
    }
    fflush(stdout);

    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, forking_thread, NULL) != 0 || pthread_join(t, &ret) != 0)
        return 3;
    pid_t child = (pid_t)(long)ret;
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child)
        return 4;
    fprintf(diag, "child %d\n", (int)child);
    printf("fork child %s %d\n", WIFEXITED(status) ? "exit" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));

    pthread_create(&t, NULL, idle_thread, NULL);
    pthread_join(t, NULL);
    printf("threads single %d\n", __libc_single_threaded ? 1 : 0);
    churn(4);
    fclose(diag);
    return 0;
}
