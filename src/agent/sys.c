/* The agent's system calls, raw (see below), plus a fault-injection counter
 * for writes that tests use to check that a failing disk never reaches the
 * host. Async-signal-safe except lk_sys_log's repeat counter, which is a
 * relaxed atomic. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/fmt.h"

static int quiet;
static _Atomic long write_count;
static long fault_write_at = -1; /* read once from the environment */

/* The registry of the agent's own mappings (sys.h). A slot is claimed by a
 * CAS on lo and published by storing hi; released by clearing hi, then lo.
 * A reader may see a slot half-written: it ignores slots with hi <= lo. */
static _Atomic uintptr_t own_lo[LK_SYS_OWN_MAX], own_hi[LK_SYS_OWN_MAX];

static void
own_add(uintptr_t lo, size_t len)
{
    for (size_t i = 0; i < LK_SYS_OWN_MAX; i++) {
        uintptr_t z = 0;
        if (atomic_load_explicit(&own_lo[i], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&own_lo[i], &z, lo)) {
            atomic_store(&own_hi[i], lo + len);
            return;
        }
    }
}

static void
own_remove(uintptr_t lo)
{
    for (size_t i = 0; i < LK_SYS_OWN_MAX; i++)
        if (atomic_load_explicit(&own_lo[i], memory_order_relaxed) == lo) {
            atomic_store(&own_hi[i], 0);
            atomic_store(&own_lo[i], 0);
            return;
        }
}

size_t
lk_sys_own_ranges(struct lk_sys_range *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < LK_SYS_OWN_MAX && n < max; i++) {
        uintptr_t lo = atomic_load(&own_lo[i]), hi = atomic_load(&own_hi[i]);
        if (lo && hi > lo) {
            out[n].lo = lo;
            out[n].hi = hi;
            n++;
        }
    }
    return n;
}

void *
lk_sys_mmap(size_t len)
{
    void *p = lk_sys_map_anon(len, 0);
    if (!p)
        return NULL;
    own_add((uintptr_t)p, len);
    return p;
}

void
lk_sys_populate(void *p, size_t len)
{
    lk_sys_call6(SYS_madvise, (long)p, (long)len, MADV_POPULATE_WRITE, 0, 0, 0);
}

void
lk_sys_munmap(void *p, size_t len)
{
    if (p) {
        own_remove((uintptr_t)p);
        lk_sys_unmap(p, len);
    }
}

/* lk_sys_clone_on(flags, stack_top, fn, arg, tls): rdi, rsi, rdx, rcx, r8.
 * fn and arg are put on the new stack before the call, so the child, which
 * returns from the syscall on that stack, can pop them; the parent returns
 * normally. tls stays in r8, clone's fifth argument. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl lk_sys_clone_on\n"
        ".hidden lk_sys_clone_on\n"
        ".type lk_sys_clone_on,@function\n"
        "lk_sys_clone_on:\n"
        "    and $-16, %rsi\n"
        "    sub $16, %rsi\n"
        "    mov %rdx, 0(%rsi)\n"
        "    mov %rcx, 8(%rsi)\n"
        "    mov $56, %eax\n" /* SYS_clone(flags, newsp, ptid, ctid, tls) */
        "    xor %edx, %edx\n"
        "    xor %r10d, %r10d\n"
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 1f\n"
        "    xor %ebp, %ebp\n"
        "    pop %rax\n"
        "    pop %rdi\n"
        "    call *%rax\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n" /* SYS_exit */
        "    syscall\n"
        "    hlt\n"
        "1:  ret\n"
        ".size lk_sys_clone_on, .-lk_sys_clone_on\n"
        ".p2align 4\n"
        ".type lk_sys_sigreturn,@function\n"
        "lk_sys_sigreturn:\n"
        "    mov $15, %eax\n" /* SYS_rt_sigreturn */
        "    syscall\n"
        "    hlt\n"
        ".size lk_sys_sigreturn, .-lk_sys_sigreturn\n");

void lk_sys_sigreturn(void) __asm__("lk_sys_sigreturn");

int
lk_sys_raw_sigaction(int sig, void (*handler)(int), unsigned long flags)
{
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } ksa = {handler, flags | 0x04000000ul /* SA_RESTORER */, lk_sys_sigreturn, 0};
    return (int)lk_sys_call6(SYS_rt_sigaction, sig, (long)&ksa, 0, 8, 0, 0);
}

/* Every call below is a raw system call (lk_sys_call6): no glibc wrapper,
 * so none writes errno or touches the thread's TLS, and none is a
 * cancellation point. The agent's own task (task.c) is a clone that glibc
 * does not know, with a blank thread descriptor of its own: glibc's
 * wrappers read that descriptor (cancellation state), and the hooks,
 * which also make these calls, must leave the program's errno alone. The
 * functions that the interposers call for the program
 * (lk_sys_raw_mmap and friends) set errno on failure, as the program
 * expects; they run on the program's threads only. */
#define SC(nr, a, b, c) lk_sys_call6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define AT_FDCWD_ (-100)

static long
as_errno(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

void *
lk_sys_map_anon(size_t len, int shared)
{
    long r = lk_sys_call6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
                          (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    return r < 0 && r > -4096 ? NULL : (void *)r;
}

void
lk_sys_unmap(void *p, size_t len)
{
    SC(SYS_munmap, p, len, 0);
}

#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer builds of the agent's tables (make tsan) link no
 * interposer: glibc's wrappers are safe there, and TSan must see mappings
 * come and go, or a reused address looks like memory shared without
 * synchronization. */
void *
lk_sys_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

int
lk_sys_raw_munmap(void *addr, size_t len)
{
    return munmap(addr, len);
}
#else
void *
lk_sys_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long r = as_errno(lk_sys_call6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off));
    return r == -1 ? MAP_FAILED : (void *)r;
}

int
lk_sys_raw_munmap(void *addr, size_t len)
{
    return (int)as_errno(SC(SYS_munmap, addr, len, 0));
}
#endif

void *
lk_sys_raw_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr)
{
    long r = as_errno(lk_sys_call6(SYS_mremap, (long)old, (long)oldlen, (long)newlen, flags,
                                   (long)new_addr, 0));
    return r == -1 ? MAP_FAILED : (void *)r;
}

int
lk_sys_create(const char *path)
{
    return (int)lk_sys_call6(SYS_openat, AT_FDCWD_, (long)path,
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600, 0, 0);
}

int
lk_sys_open_read(const char *path)
{
    return (int)lk_sys_call6(SYS_openat, AT_FDCWD_, (long)path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0,
                             0, 0);
}

int
lk_sys_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    if (fault_write_at == -1) { /* first called at start-up, from the constructor */
        const char *e = getenv("LEAKSCOPE_FAULT_WRITE");
        fault_write_at = e ? atol(e) : 0;
    }
    long k = atomic_fetch_add_explicit(&write_count, 1, memory_order_relaxed) + 1;
    if (fault_write_at > 0 && k >= fault_write_at)
        return -ENOSPC;
    while (n) {
        long w = SC(SYS_write, fd, c, n);
        if (w < 0) {
            if (w == -EINTR)
                continue;
            return (int)w;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t
lk_sys_read(int fd, void *buf, size_t n)
{
    long r;
    do
        r = SC(SYS_read, fd, buf, n);
    while (r == -EINTR);
    return r;
}

ssize_t
lk_sys_read_file(const char *path, char *buf, size_t cap)
{
    long fd = lk_sys_call6(SYS_openat, AT_FDCWD_, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return fd;
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = lk_sys_read((int)fd, buf + got, cap - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    SC(SYS_close, fd, 0, 0);
    buf[got] = '\0';
    return (ssize_t)got;
}

void
lk_sys_close(int fd)
{
    if (fd >= 0)
        SC(SYS_close, fd, 0, 0);
}

int
lk_sys_rename(const char *from, const char *to)
{
    return (int)SC(SYS_rename, from, to, 0);
}

int
lk_sys_fdatasync(int fd)
{
    return (int)SC(SYS_fdatasync, fd, 0, 0);
}

int
lk_sys_unlink(const char *path)
{
    return (int)SC(SYS_unlink, path, 0, 0);
}

int
lk_sys_fd_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *nlink)
{
    struct stat st; /* the kernel's struct stat on x86_64 is glibc's */
    long r = SC(SYS_fstat, fd, &st, 0);
    if (r < 0)
        return (int)r;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *nlink = (uint64_t)st.st_nlink;
    return 0;
}

int
lk_sys_fd_high(int fd)
{
    long hi = SC(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 100);
    if (hi < 0)
        return fd;
    SC(SYS_close, fd, 0, 0);
    return (int)hi;
}

/* clock_gettime is glibc's vDSO call: it writes errno only on failure, which
 * CLOCK_MONOTONIC and CLOCK_REALTIME never see. */
uint64_t
lk_sys_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
lk_sys_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
lk_sys_getpid(void)
{
    return (int)SC(SYS_getpid, 0, 0, 0);
}

int
lk_sys_getppid(void)
{
    return (int)SC(SYS_getppid, 0, 0, 0);
}

int
lk_sys_process_alive(int pid)
{
    long r = pid > 0 ? SC(SYS_kill, pid, 0, 0) : -ESRCH;
    return pid > 0 && (r == 0 || r == -EPERM);
}

ssize_t
lk_sys_readlink(const char *path, char *buf, size_t cap)
{
    long n = SC(SYS_readlink, path, buf, cap - 1);
    if (n < 0) {
        buf[0] = '\0';
        return n;
    }
    buf[n] = '\0';
    return n;
}

/* glibc's sysconf(_SC_PAGESIZE) reads the loader's copy of the auxiliary
 * vector: no TLS. */
long
lk_sys_page_size(void)
{
    return sysconf(_SC_PAGESIZE);
}

void
lk_sys_set_quiet(int q)
{
    quiet = q;
}

void
lk_sys_log(const char *msg)
{
    static _Atomic int lines;
    char buf[512];
    struct lk_fmt f;
    if (quiet || atomic_fetch_add_explicit(&lines, 1, memory_order_relaxed) >= 20)
        return;
    lk_fmt_init(&f, buf, sizeof buf - 1);
    lk_fmt_str(&f, "leakscope[");
    lk_fmt_u64(&f, (uint64_t)lk_sys_getpid());
    lk_fmt_str(&f, "]: ");
    lk_fmt_str(&f, msg);
    buf[f.len++] = '\n';
    SC(SYS_write, 2, buf, f.len);
}
