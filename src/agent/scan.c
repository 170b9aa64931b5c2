/* The scan's stop-the-world (docs/SCAN.md). The caller (the agent's task, or
 * the exiting thread) takes the live map's locks and clones a tracer task
 * that shares its memory but is not a thread of the program; the tracer
 * PTRACE_SEIZEs and interrupts every other thread, reads their registers,
 * forks the scanner (scan_mark.c) as its own child, detaches, and wakes the
 * caller, which releases the locks: the program's pause is the stop plus the
 * copy of its page tables. A program exiting with one thread is scanned in
 * place: the tracer runs the scanner itself, nothing stopped or copied. The
 * tracer and scanner use raw system calls only (the tracer runs on the
 * caller's TLS; the scanner's copy of glibc may hold locks forever);
 * children are cloned with exit_signal 0 and waited with __WALL, so the
 * program never sees a SIGCHLD, a zombie or a child of ours. Every failure
 * degrades to no scan, or a scan without registers. */
#include "scan.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "base/fmt.h"
#include "block_tag.h"
#include "live_map.h"
#include "scan_int.h"
#include "site_table.h"
#include "sys.h"

#define TRACER_STACK (256 * 1024)
#define PTRACE_SEIZE_ 0x4206
#define PTRACE_INTERRUPT_ 0x4207
#define PTRACE_GETREGSET_ 0x4204
#define PTRACE_DETACH_ 17
#define PTRACE_EVENT_STOP_ 128
#define NT_PRSTATUS_ 1
#define WALL_ 0x40000000
#define WNOHANG_ 1
#define FUTEX_WAIT_ 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
#define FUTEX_WAKE_ 129
#define PR_SET_PTRACER_ 0x59616d61
/* Longest wait for all threads to stop: a thread in an uninterruptible
 * sleep (vfork's parent, a disk wait) would otherwise stretch the pause;
 * past it the scan goes on without registers. */
#define STOP_WAIT_NS 500000000ull

static _Atomic int agent_tid;
static _Atomic uintptr_t agent_sp;
static uint32_t tcb_size;

void
lk_scan_set_tcb_size(uint32_t size)
{
    tcb_size = size;
}

void
lk_scan_set_agent_thread(void)
{
    int local;
    atomic_store(&agent_tid, (int)lk_sys_call6(SYS_gettid, 0, 0, 0, 0, 0, 0));
    atomic_store(&agent_sp, (uintptr_t)&local);
}

static long
sc(long nr, long a, long b, long c, long d)
{
    return lk_sys_call6(nr, a, b, c, d, 0, 0);
}

static void
sleep_ns(long ns)
{
    struct {
        long s, ns;
    } ts = {0, ns};
    sc(SYS_nanosleep, (long)&ts, 0, 0, 0);
}

static void
futex_wait(_Atomic int *f, int val, long ns)
{
    struct {
        long s, ns;
    } ts = {ns / 1000000000l, ns % 1000000000l};
    sc(SYS_futex, (long)f, FUTEX_WAIT_, val, (long)&ts);
}

static void
futex_wake(_Atomic int *f)
{
    sc(SYS_futex, (long)f, FUTEX_WAKE_, 1, 0);
}

/* ---- the tracer --------------------------------------------------------- */

/* "/proc/PID/task" or "/proc/PID/task/TID/stat" into buf, without stdio. */
static void
proc_path(char *buf, size_t cap, int pid, int tid)
{
    struct lk_fmt f;
    lk_fmt_init(&f, buf, cap);
    lk_fmt_str(&f, "/proc/");
    lk_fmt_u64(&f, (uint64_t)pid);
    lk_fmt_str(&f, "/task");
    if (tid) {
        lk_fmt_str(&f, "/");
        lk_fmt_u64(&f, (uint64_t)tid);
        lk_fmt_str(&f, "/stat");
    }
}

/* A thread that cannot be seized because it is exiting (a zombie leader
 * after pthread_exit in main) is no sign that ptrace is refused. */
static int
exiting(int pid, int tid)
{
    char path[96], buf[256];
    proc_path(path, sizeof path, pid, tid);
    int fd = (int)sc(SYS_open, (long)path, 0 /* O_RDONLY */, 0, 0);
    if (fd < 0)
        return 1;
    long n = sc(SYS_read, fd, (long)buf, sizeof buf - 1, 0);
    sc(SYS_close, fd, 0, 0, 0);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    for (long i = n - 1; i > 0; i--)
        if (buf[i] == ')') /* comm may hold anything: the state follows the last ')' */
            return i + 2 < n && (buf[i + 2] == 'Z' || buf[i + 2] == 'X');
    return 0;
}

static int
known(const struct lk_scan_result *r, int tid)
{
    for (int i = 0; i < r->nthreads; i++)
        if (r->thr[i].tid == tid)
            return 1;
    return 0;
}

/* One pass over /proc/PID/task: seizes and interrupts the threads not seen
 * yet. Returns how many were new, or -1 when ptrace is refused. */
static int
seize_new(struct lk_scan_result *r)
{
    static char dents[4096]; /* the tracer's alone: the caller waits meanwhile */
    char path[64];
    int added = 0;
    proc_path(path, sizeof path, r->pid, 0);
    int fd = (int)sc(SYS_open, (long)path, 0x10000 /* O_DIRECTORY */, 0, 0);
    if (fd < 0)
        return 0;
    for (;;) {
        long n = sc(SYS_getdents64, fd, (long)dents, sizeof dents, 0);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            unsigned short reclen = *(unsigned short *)(dents + off + 16);
            const char *name = dents + off + 19;
            off += reclen;
            int tid = 0;
            for (; *name >= '0' && *name <= '9'; name++)
                tid = tid * 10 + (*name - '0');
            if (!tid || *name || tid == r->caller_tid || known(r, tid))
                continue;
            if (r->nthreads >= LK_SCAN_MAX_THREADS) {
                r->refused = 1; /* cannot hold them all: no registers rather than some */
                goto out;
            }
            struct lk_scan_thread *t = &r->thr[r->nthreads];
            memset(t, 0, sizeof *t);
            t->tid = tid;
            long e = sc(SYS_ptrace, PTRACE_SEIZE_, tid, 0, 0);
            if (e == 0) {
                t->seized = 1;
                sc(SYS_ptrace, PTRACE_INTERRUPT_, tid, 0, 0);
                r->nthreads++;
                added++;
            } else if (e == -ESRCH || exiting(r->pid, tid)) {
                r->nthreads++; /* gone or going: remember it, do not retry */
            } else {
                r->refused = 1;
                goto out;
            }
        }
    }
out:
    sc(SYS_close, fd, 0, 0, 0);
    return r->refused ? -1 : added;
}

/* Waits for each seized thread's stop and reads its registers. */
static void
collect(struct lk_scan_result *r)
{
    r->regs_ok = !r->refused;
    uint64_t until = lk_scan_now_ns() + STOP_WAIT_NS;
    for (int i = 0; i < r->nthreads; i++) {
        struct lk_scan_thread *t = &r->thr[i];
        if (!t->seized)
            continue;
        int st = 0;
        long w;
        int spins = 0;
        while ((w = sc(SYS_wait4, t->tid, (long)&st, WALL_ | WNOHANG_, 0)) == 0 &&
               lk_scan_now_ns() < until) {
            if (++spins < 100)
                sc(SYS_sched_yield, 0, 0, 0, 0);
            else
                sleep_ns(20000);
        }
        if (w != t->tid) {
            if (w == 0)
                r->regs_ok = 0; /* did not stop in time (uninterruptible sleep?) */
            else
                t->seized = 0;  /* gone */
            continue;
        }
        if ((st & 0xff) != 0x7f) { /* exited, not stopped */
            t->seized = 0;
            continue;
        }
        t->stopped = 1;
        int sig = (st >> 8) & 0xff;
        if ((st >> 16) != PTRACE_EVENT_STOP_)
            t->sig = sig; /* a signal-delivery-stop: hand the signal back at detach */
        struct {
            void *base;
            size_t len;
        } iov = {t->regs, sizeof t->regs};
        if (sc(SYS_ptrace, PTRACE_GETREGSET_, t->tid, NT_PRSTATUS_, (long)&iov) == 0)
            t->have_regs = 1;
        else
            r->regs_ok = 0;
    }
}

static void
detach_all(struct lk_scan_result *r)
{
    for (int i = 0; i < r->nthreads; i++) {
        struct lk_scan_thread *t = &r->thr[i];
        if (t->seized && t->stopped)
            sc(SYS_ptrace, PTRACE_DETACH_, t->tid, 0, t->sig);
        /* seized but never stopped: detached by the kernel when we exit */
    }
}

static int
tracer_main(void *arg)
{
    struct lk_scan_result *r = arg;
    long child = -1;
    for (int i = 0; i < 100 && !atomic_load(&r->go); i++)
        futex_wait(&r->go, 0, 100000000l);
    if (!atomic_load(&r->go))
        goto wake;
    r->t_stop = lk_scan_now_ns();
    if (r->in_place) {
        /* Nothing to stop: the caller waits, the agent's task writes none
         * of what the scan reads (its own ranges are no roots). The tracer,
         * a process of its own sharing the memory, scans and exits. */
        r->t_resume = r->t_stop;
        r->regs_ok = 1;
        atomic_store(&r->resumed, 1);
        futex_wake(&r->resumed);
        lk_scan_mark_main(r);
    }
    for (int round = 0; round < 64; round++) /* until no new thread appears */
        if (seize_new(r) <= 0)
            break;
    collect(r);
    if (r->refused) /* some threads may run: no consistent registers */
        r->regs_ok = 0;
    /* The copy: exit_signal 0, its parent is this tracer. */
    child = sc(SYS_clone, 0, 0, 0, 0);
    if (child == 0)
        lk_scan_mark_main(r);
    detach_all(r);
    r->t_resume = lk_scan_now_ns();
wake:
    atomic_store(&r->resumed, 1);
    futex_wake(&r->resumed);
    if (child > 0) {
        int st;
        while (sc(SYS_wait4, child, (long)&st, WALL_, 0) == -EINTR)
            ;
    }
    return 0;
}

/* ---- the caller --------------------------------------------------------- */

/* Whether every task of the process is the caller or the agent's task: a
 * program exiting with one thread (it cannot start another meanwhile: its
 * only thread is here, with every signal blocked). */
static int
alone(const struct lk_scan_result *r)
{
    char path[64], dents[1024];
    int others = 0, seen = 0;
    proc_path(path, sizeof path, r->pid, 0);
    int fd = (int)sc(SYS_open, (long)path, 0x10000 /* O_DIRECTORY */, 0, 0);
    if (fd < 0)
        return 0;
    for (;;) {
        long n = sc(SYS_getdents64, fd, (long)dents, sizeof dents, 0);
        if (n <= 0) {
            others |= n < 0;
            break;
        }
        for (long off = 0; off < n;) {
            unsigned short reclen = *(unsigned short *)(dents + off + 16);
            const char *name = dents + off + 19;
            off += reclen;
            int tid = 0;
            for (; *name >= '0' && *name <= '9'; name++)
                tid = tid * 10 + (*name - '0');
            if (!tid || *name)
                continue; /* "." and ".." */
            seen++;
            others |= tid != r->caller_tid && tid != r->agent_tid;
        }
    }
    sc(SYS_close, fd, 0, 0, 0);
    return seen && !others;
}

static int
yama_scope(void)
{
    char buf[16];
    if (lk_sys_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) <= 0)
        return -1;
    return buf[0] - '0';
}

struct lk_scan_result *
lk_scan_run(const struct lk_scan_params *p, const char **note)
{
    int local;
    *note = NULL;
    uint32_t max_sites = lk_site_count() + 4096;
    if (max_sites > (1u << 20))
        max_sites = 1u << 20;
    size_t len = offsetof(struct lk_scan_result, sites) +
                 (size_t)max_sites * sizeof(struct lk_scan_site_res);
    len = (len + 4095) & ~(size_t)4095;
    void *m = lk_sys_map_anon(len, 1);
    if (!m)
        return NULL;
    struct lk_scan_result *r = m;
    r->map_len = len;
    r->pid = lk_sys_getpid();
    r->caller_tid = (int)sc(SYS_gettid, 0, 0, 0, 0);
    r->agent_tid = atomic_load(&agent_tid);
    r->agent_sp = atomic_load(&agent_sp);
    r->tcb_size = tcb_size;
    r->caller_sp = p->caller_is_agent ? 0 : (uintptr_t)&local;
    r->interior = p->interior;
    r->content = p->content > LK_SCAN_CONTENT ? LK_SCAN_CONTENT : p->content;
    r->max_sites = max_sites;
    char *stack = lk_sys_mmap(TRACER_STACK);
    if (!stack) {
        lk_sys_unmap(m, len);
        return NULL;
    }
    /* The tracer inherits the signal mask: all blocked, so no handler of
     * the program ever runs on it. */
    uint64_t all = ~0ull, old = 0;
    sc(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8);
    int yama = yama_scope();
    uint64_t t0 = lk_sys_now_ns();
    long tracer = -1;
    /* A program that exits with one thread is scanned in place: the copy
     * of a large process (its page tables) was most of the pause, and a
     * short one paid ~0.5 ms for the tracer's stop and the copy. */
    r->in_place = !p->caller_is_agent && alone(r);
    int locked = lk_live_map_try_lock_all(2000);
    int empty = locked && lk_live_map_count_locked() == 0 && lk_block_tag_empty();
    if (empty) {
        /* Nothing tracked (a program that freed everything before exit):
         * nothing can be lost, and copying the process would only cost. */
        lk_live_map_unlock_all();
        r->t_stop = r->t_resume = lk_scan_now_ns();
        r->scanned = 1;
        r->flags = LK_SCAN_REGISTERS | (r->interior ? LK_SCAN_INTERIOR : 0);
    } else if (locked) {
        /* In place, nothing else takes the locks while the scanner walks
         * the map (the scanner takes each shard's in turn, as the copy's),
         * and the pause is this: no thread of the program is stopped. */
        if (r->in_place) {
            lk_live_map_unlock_all();
            r->pause_ns = lk_sys_now_ns() - t0;
        }
        /* Not CLONE_FILES: the tracer's descriptors (a /proc directory) must
         * not take a number the program is about to get from open(). */
        tracer = lk_sys_clone_on(CLONE_VM | CLONE_FS | CLONE_UNTRACED, stack + TRACER_STACK,
                                 tracer_main, r, NULL);
        if (tracer > 0) {
            if (yama == 1 && !r->in_place)
                sc(SYS_prctl, PR_SET_PTRACER_, tracer, 0, 0);
            atomic_store(&r->go, 1);
            futex_wake(&r->go);
            /* The pause: bounded; a tracer that hangs is killed, which
             * detaches whatever it stopped. */
            for (int i = 0; i < 300 && !atomic_load(&r->resumed); i++)
                futex_wait(&r->resumed, 0, 100000000l);
            if (!atomic_load(&r->resumed))
                sc(SYS_kill, tracer, SIGKILL, 0, 0);
        }
        if (!r->in_place)
            lk_live_map_unlock_all();
    }
    if (!r->in_place || empty)
        r->pause_ns = lk_sys_now_ns() - t0;
    if (tracer > 0) {
        if (yama == 1 && !r->in_place)
            sc(SYS_prctl, PR_SET_PTRACER_, 0, 0, 0);
        int st;
        while (sc(SYS_wait4, tracer, (long)&st, WALL_, 0) == -EINTR)
            ;
    }
    sc(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
    lk_sys_munmap(stack, TRACER_STACK);
    if (empty)
        return r;
    if (tracer <= 0 || !r->scanned) {
        lk_sys_unmap(m, len);
        return NULL;
    }
    if (r->refused)
        *note = "reachability scan without registers: ptrace was refused (the process is "
                "traced already, by a debugger or strace, or Yama or seccomp forbid it); "
                "other threads ran during the copy and their whole stacks were roots";
    return r;
}

void
lk_scan_release(struct lk_scan_result *r)
{
    if (r)
        lk_sys_unmap(r, r->map_len);
}

void
lk_scan_encode(struct lk_writer *w, const struct lk_scan_result *r, uint64_t seq,
               uint64_t start_ns, uint64_t period, enum lk_scan_trigger trigger)
{
    struct lk_scan head = {
        .seq = seq,
        .time_ns = r->t_stop > start_ns ? r->t_stop - start_ns : 0,
        .period = period,
        .trigger = trigger,
        .flags = r->flags,
        .pause_ns = r->pause_ns,
        .scan_ns = r->scan_ns,
        .threads = r->threads,
        .root_bytes = r->root_bytes,
        .heap_bytes = r->heap_bytes,
        .blocks = r->blocks,
    };
    lk_write_scan_begin(w, &head);
    for (uint32_t i = 0; i < r->nsites; i++) {
        const struct lk_scan_site_res *s = &r->sites[i];
        struct lk_scan_site e;
        memset(&e, 0, sizeof e);
        e.site = s->site;
        for (int k = 0; k < LK_NSTATES; k++) {
            e.count[k] = s->count[k];
            e.bytes[k] = s->bytes[k];
        }
        e.nret = s->nret;
        for (uint32_t k = 0; k < s->nret; k++) {
            e.ret_kind[k] = s->ret_kind[k];
            e.ret_id[k] = s->ret_id[k];
            e.ret_count[k] = s->ret_count[k];
        }
        lk_write_scan_site(w, &e);
    }
    lk_write_scan_sites_end(w);
    for (uint32_t i = 0; i < r->nsamples; i++) {
        const struct lk_scan_sample_res *s = &r->samples[i];
        struct lk_scan_sample e = {
            .site = s->site, .state = s->state, .size = s->size, .period = s->period,
            .content = {s->content, s->len}, .redacted = {s->mask, (s->len + 7) / 8},
        };
        lk_write_scan_sample(w, &e);
    }
    lk_write_scan_end(w);
}
