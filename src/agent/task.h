/* The agent's own task: the thread that writes snapshots and runs scans,
 * made with a raw clone(2) so that glibc never learns of it (docs/UNWIND.md,
 * section 10). A program with one thread of its own then stays
 * single-threaded for glibc, whose malloc skips its arena locks and locked
 * instructions (SINGLE_THREAD_P); a pthread of the agent's cost perl 10%.
 *
 * The price is the rule for everything the task runs: raw system calls only
 * (sys.h), no allocation, and no glibc function that takes a glibc lock or
 * reads the thread descriptor (the task has a thread area of its own, task.c,
 * in which glibc's descriptor is blank: a glibc wrapper's errno lands there,
 * harmlessly, but a recursive lock's owner or the pid cache would be wrong).
 * What the task may not do is done on the program's threads, in the hooks:
 * the module list (dl_iterate_phdr) and, while the program has one thread,
 * mallinfo2. tests/agent/test_task.sh checks what the program sees. */
#ifndef LK_TASK_H
#define LK_TASK_H

#include <stdint.h>

/* Starts fn(arg) on the task, with every signal blocked; its stack is
 * reused by a fork child's task. 0, or -errno (then no task runs). */
int lk_task_start(int (*fn)(void *), void *arg);

/* Is the caller the task? */
int lk_task_is_self(void);

/* Wakes the task from lk_task_wait_until; async-signal-safe. */
void lk_task_wake(void);

/* On the task: returns at deadline_ns (CLOCK_MONOTONIC) or once woken,
 * whichever comes first; a wake-up before the call makes it return at once. */
void lk_task_wait_until(uint64_t deadline_ns);

/* On the task: takes the program's user and group ids and supplementary
 * groups when they changed (a server dropping root with setuid): glibc
 * changes every thread it knows of, and it does not know the task. */
void lk_task_follow_creds(void);

#endif
