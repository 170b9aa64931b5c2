/* The agent's task (task.h): a raw clone with CLONE_THREAD, its stack an
 * mmap of our own, its thread pointer a thread area of our own, its
 * wake-ups a futex word. Everything here makes raw system calls only. */
#include "task.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sys.h"

#define TASK_STACK (256 * 1024)
#define GUARD 4096
#define FUTEX_WAKE_PRIVATE_ 129        /* FUTEX_WAKE | FUTEX_PRIVATE_FLAG */
#define FUTEX_WAIT_BITSET_PRIVATE_ 137 /* FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG */
#define MAX_GROUPS 1024

static char *stack; /* kept for good: a fork child's task reuses it */
static char *area;  /* the task's thread area, kept likewise */
static size_t area_below; /* bytes of it below the thread pointer */
static _Atomic int task_tid;
static _Atomic uint32_t wake_word;
static uint32_t wake_seen; /* the task's */

struct start {
    int (*fn)(void *);
    void *arg;
};
static struct start start;

static int
task_main(void *a)
{
    const struct start *s = a;
    atomic_store(&task_tid, (int)lk_sys_call6(SYS_gettid, 0, 0, 0, 0, 0, 0));
    return s->fn(s->arg);
}

/* ---- the thread area -------------------------------------------------------
 *
 * On x86_64 a thread's %fs base points at glibc's thread descriptor, whose
 * first words are the tcbhead (tcb, dtv, self, ..., stack_guard at 0x28,
 * pointer_guard at 0x30); initial-exec TLS (errno, the agent's re-entrancy
 * guard, the program's own __thread variables) lies below it. Had the task
 * kept the starting thread's %fs, a TLS write of its own would have been
 * that thread's, and in a fork child started from a thread that later exits
 * (its descriptor is in its stack mapping, which glibc may unmap or hand to
 * a new thread) every TLS access would have read freed memory. So the task
 * gets a zeroed area of its own: the static TLS size below the thread
 * pointer (the loader's figure, at least 1 MiB of address space: untouched
 * pages cost no memory), 64 KiB above it for the descriptor, and the header
 * words that compiled code reads (the stack protector's canary, the pointer
 * guard) copied from the starting thread. Glibc's descriptor fields past the
 * header read as zero. */
#define AREA_ABOVE (64 * 1024)
#define AREA_MIN_BELOW (1024 * 1024)

static size_t
static_tls_size(void)
{
    /* ld.so's GLIBC_PRIVATE accessor (the sanitizers use it the same way);
     * looked up on the program's thread, at start-up */
    void (*get)(size_t *, size_t *) =
        (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
    size_t size = 0, align = 0;
    if (get)
        get(&size, &align);
    return size;
}

static uintptr_t
thread_area(void)
{
    uintptr_t tp, header[7];
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    if (!area) {
        size_t below = static_tls_size() + 4096;
        below = below < AREA_MIN_BELOW ? AREA_MIN_BELOW : (below + 4095) & ~(size_t)4095;
        area = lk_sys_mmap(below + AREA_ABOVE);
        if (!area)
            return 0;
        area_below = below;
    }
    __builtin_memcpy(header, (const void *)tp, sizeof header);
    uintptr_t *h = (uintptr_t *)(area + area_below);
    __builtin_memset(h, 0, AREA_ABOVE); /* a fork child's task: a clean descriptor */
    h[0] = (uintptr_t)h; /* tcb */
    h[1] = header[1];    /* dtv: the starting thread's, for nothing the task should use */
    h[2] = (uintptr_t)h; /* self */
    h[5] = header[5];    /* stack_guard */
    h[6] = header[6];    /* pointer_guard */
    return (uintptr_t)h;
}

int
lk_task_start(int (*fn)(void *), void *arg)
{
    if (!stack) {
        /* A guard page below, against overflow; none above: the mapping
         * above a PROT_NONE page looks like a thread's stack to the scan
         * (scan_mark.c), and the main thread's static TLS was there. The
         * kernel may merge the stack with the mapping above it; the scan
         * takes the stack itself out as the agent's memory. */
        stack = lk_sys_mmap(GUARD + TASK_STACK);
        if (!stack)
            return -ENOMEM;
        lk_sys_call6(SYS_mprotect, (long)stack, GUARD, PROT_NONE, 0, 0, 0);
    }
    uintptr_t tp = thread_area();
    if (!tp)
        return -ENOMEM;
    start.fn = fn;
    start.arg = arg;
    atomic_store(&task_tid, 0);
    /* The task inherits the signal mask: all blocked (SIGSETXID and glibc's
     * other internal signals too: glibc never sends it one), so a handler of
     * the program never runs on it and a process-directed signal goes to
     * the program's threads. */
    uint64_t all = ~0ull, old = 0;
    lk_sys_call6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
    long tid = lk_sys_clone_on(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                   CLONE_SYSVSEM | CLONE_SETTLS,
                               stack + GUARD + TASK_STACK, task_main, &start, (void *)tp);
    lk_sys_call6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
    if (tid < 0)
        return (int)tid;
    int zero = 0;
    atomic_compare_exchange_strong(&task_tid, &zero, (int)tid);
    return 0;
}

int
lk_task_is_self(void)
{
    int t = atomic_load(&task_tid);
    return t && t == (int)lk_sys_call6(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

void
lk_task_wake(void)
{
    atomic_fetch_add(&wake_word, 1);
    lk_sys_call6(SYS_futex, (long)&wake_word, FUTEX_WAKE_PRIVATE_, 1, 0, 0, 0);
}

void
lk_task_wait_until(uint64_t deadline_ns)
{
    uint32_t w = atomic_load(&wake_word);
    if (w == wake_seen) {
        struct {
            long sec, nsec;
        } ts = {(long)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull)};
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline; it
         * returns at once when the word moved since it was read */
        lk_sys_call6(SYS_futex, (long)&wake_word, FUTEX_WAIT_BITSET_PRIVATE_, (long)w, (long)&ts, 0,
                     (long)0xffffffffu);
        w = atomic_load(&wake_word);
    }
    wake_seen = w;
}

/* ---- credentials ---------------------------------------------------------- */

/* The n numbers after "Key:" at the start of a line of text; how many. */
static int
numbers(const char *text, const char *key, long *out, int max, int *complete)
{
    size_t klen = 0;
    while (key[klen])
        klen++;
    for (const char *p = text; *p;) {
        size_t i = 0;
        while (i < klen && p[i] == key[i])
            i++;
        if (i == klen) {
            int n = 0;
            p += klen;
            for (;;) {
                while (*p == ' ' || *p == '\t')
                    p++;
                if (*p < '0' || *p > '9')
                    break;
                long v = 0;
                while (*p >= '0' && *p <= '9')
                    v = v * 10 + (*p++ - '0');
                if (n == max)
                    return -1;
                out[n++] = v;
            }
            *complete = *p == '\n';
            return n;
        }
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
    return -1;
}

static int
same(const long *a, const unsigned *b, int n)
{
    for (int i = 0; i < n; i++)
        if ((unsigned)a[i] != b[i])
            return 0;
    return 1;
}

void
lk_task_follow_creds(void)
{
    char buf[8192];
    long uid[4], gid[4], groups[MAX_GROUPS];
    unsigned my_uid[3], my_gid[3], my_groups[MAX_GROUPS], want_groups[MAX_GROUPS];
    int complete = 0;
    /* /proc/self is the thread group's leader: the program's main thread */
    if (lk_sys_read_file("/proc/self/status", buf, sizeof buf) <= 0 ||
        numbers(buf, "Uid:", uid, 4, &complete) != 4 || numbers(buf, "Gid:", gid, 4, &complete) != 4)
        return;
    int ng = numbers(buf, "Groups:", groups, MAX_GROUPS, &complete);
    if (lk_sys_call6(SYS_getresuid, (long)&my_uid[0], (long)&my_uid[1], (long)&my_uid[2], 0, 0,
                     0) < 0 ||
        lk_sys_call6(SYS_getresgid, (long)&my_gid[0], (long)&my_gid[1], (long)&my_gid[2], 0, 0,
                     0) < 0)
        return;
    long my_ng = lk_sys_call6(SYS_getgroups, MAX_GROUPS, (long)my_groups, 0, 0, 0, 0);
    int groups_ok = ng >= 0 && complete && my_ng >= 0;
    int uid_same = same(uid, my_uid, 3), gid_same = same(gid, my_gid, 3);
    int groups_same = !groups_ok || (ng == my_ng && same(groups, my_groups, ng));
    if (uid_same && gid_same && groups_same)
        return;
    for (int i = 0; groups_ok && i < ng; i++)
        want_groups[i] = (unsigned)groups[i];
    /* Dropping root, groups and group ids must change first, while the
     * task may still change them; gaining, the user id must. Both orders
     * are tried: a step that is refused in one succeeds in the other. */
    for (int round = 0; round < 2; round++) {
        int uid_first = round == 1;
        if (uid_first && !uid_same)
            uid_same = lk_sys_call6(SYS_setresuid, uid[0], uid[1], uid[2], 0, 0, 0) == 0;
        if (!groups_same)
            groups_same = lk_sys_call6(SYS_setgroups, ng, (long)want_groups, 0, 0, 0, 0) == 0;
        if (!gid_same)
            gid_same = lk_sys_call6(SYS_setresgid, gid[0], gid[1], gid[2], 0, 0, 0) == 0;
        if (!uid_first && !uid_same)
            uid_same = lk_sys_call6(SYS_setresuid, uid[0], uid[1], uid[2], 0, 0, 0) == 0;
    }
    lk_sys_call6(SYS_setfsgid, gid[3], 0, 0, 0, 0, 0);
    lk_sys_call6(SYS_setfsuid, uid[3], 0, 0, 0, 0, 0);
}
