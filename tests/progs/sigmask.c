/* sigprocmask under the agent, which interposes it (libunwind's calls
 * during the agent's walks leave the mask alone while the walk holds every
 * signal blocked): the program's own calls behave as glibc's -- blocking,
 * pending, unblocking, querying, EINVAL -- and after allocations from many
 * new call sites (each a walk that asks libunwind, with SIGALRM firing every
 * 200 us meanwhile) the mask is what it was and the alarms were delivered.
 * Prints only what a plain run prints too. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static volatile sig_atomic_t usr1, alarms;

static void
on_usr1(int sig)
{
    (void)sig;
    usr1++;
}

static void
on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* 64 functions, each its own call site of malloc: each first call is a walk
 * through a return address the agent has not seen. */
#define SITE(n)                                                                                \
    __attribute__((noinline)) static void *site##n(size_t k)                                   \
    {                                                                                          \
        void *p = malloc(16 + k + n);                                                          \
        __asm__ volatile("" ::: "memory");                                                     \
        return p;                                                                              \
    }
#define SITES8(a) SITE(a##0) SITE(a##1) SITE(a##2) SITE(a##3) SITE(a##4) SITE(a##5) SITE(a##6) SITE(a##7)
SITES8(1) SITES8(2) SITES8(3) SITES8(4) SITES8(5) SITES8(6) SITES8(7) SITES8(8)
#define REF8(a) site##a##0, site##a##1, site##a##2, site##a##3, site##a##4, site##a##5, site##a##6, site##a##7
static void *(*const sites[])(size_t) = {REF8(1), REF8(2), REF8(3), REF8(4),
                                         REF8(5), REF8(6), REF8(7), REF8(8)};

/* A recursion so that the same sites are reached through several depths. */
__attribute__((noinline)) static void
descend(int d, int round)
{
    if (d > 0) {
        descend(d - 1, round);
        __asm__ volatile("" ::: "memory");
        return;
    }
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++)
        free(sites[i]((size_t)round));
}

static int
same_mask(const sigset_t *a, const sigset_t *b)
{
    for (int s = 1; s < 32; s++)
        if (sigismember(a, s) != sigismember(b, s))
            return 0;
    return 1;
}

int
main(void)
{
    sigset_t start, cur, one, pend;
    signal(SIGUSR1, on_usr1);
    sigprocmask(SIG_SETMASK, NULL, &start);

    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int r = sigprocmask(SIG_BLOCK, &one, &cur);
    printf("block: %d, SIGUSR1 was blocked: %d\n", r, sigismember(&cur, SIGUSR1));
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("SIGUSR1 now blocked: %d\n", sigismember(&cur, SIGUSR1));
    raise(SIGUSR1);
    sigpending(&pend);
    printf("pending: %d, handled: %d\n", sigismember(&pend, SIGUSR1), (int)usr1);
    void *p = malloc(100); /* a walk while SIGUSR1 is pending and blocked */
    free(p);
    r = sigprocmask(SIG_UNBLOCK, &one, NULL);
    printf("unblock: %d, handled: %d\n", r, (int)usr1);
    errno = 0;
    r = sigprocmask(12345, &one, NULL);
    printf("bad how: %d, EINVAL: %d\n", r, errno == EINVAL);

    signal(SIGALRM, on_alarm);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (int round = 0; round < 200 || alarms < 3; round++) {
        descend(round % 6, round);
        if (round > 100000)
            break;
    }
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    printf("alarms delivered while allocating: %s\n", alarms >= 3 ? "yes" : "no");
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("mask as at the start: %s\n", same_mask(&start, &cur) ? "yes" : "no");
    return 0;
}
