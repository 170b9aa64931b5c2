/* The agent's system calls. Thin wrappers over glibc's syscall stubs (none of
 * which allocate), plus a fault-injection counter for writes that tests use
 * to check that a failing disk never reaches the host. Async-signal-safe
 * except lk_sys_log's repeat counter, which is a relaxed atomic. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h> /* rename(2) only: no stream is used */
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

void *
lk_sys_mmap(size_t len)
{
    void *p = lk_sys_raw_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void
lk_sys_munmap(void *p, size_t len)
{
    if (p)
        lk_sys_raw_munmap(p, len);
}

/* Raw system calls: the agent interposes mmap/munmap/mremap, and glibc's
 * own entry points for them are private, so both the interposers and the
 * agent's own mappings go to the kernel directly. */
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
    long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    return r == -1 ? MAP_FAILED : (void *)r;
}

int
lk_sys_raw_munmap(void *addr, size_t len)
{
    return (int)syscall(SYS_munmap, addr, len);
}
#endif

void *
lk_sys_raw_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr)
{
    long r = syscall(SYS_mremap, old, oldlen, newlen, flags, new_addr);
    return r == -1 ? MAP_FAILED : (void *)r;
}

int
lk_sys_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

int
lk_sys_open_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
}

int
lk_sys_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    if (fault_write_at == -1) {
        const char *e = getenv("LEAKSCOPE_FAULT_WRITE");
        fault_write_at = e ? atol(e) : 0;
    }
    long k = atomic_fetch_add_explicit(&write_count, 1, memory_order_relaxed) + 1;
    if (fault_write_at > 0 && k >= fault_write_at)
        return -ENOSPC;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t
lk_sys_read(int fd, void *buf, size_t n)
{
    ssize_t r;
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

ssize_t
lk_sys_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = lk_sys_read(fd, buf + got, cap - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

void
lk_sys_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int
lk_sys_rename(const char *from, const char *to)
{
    return rename(from, to) < 0 ? -errno : 0;
}

int
lk_sys_unlink(const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

int
lk_sys_fd_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *nlink)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *nlink = (uint64_t)st.st_nlink;
    return 0;
}

int
lk_sys_fd_high(int fd)
{
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (hi < 0)
        return fd;
    close(fd);
    return hi;
}

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
    return (int)getpid();
}

int
lk_sys_getppid(void)
{
    return (int)getppid();
}

int
lk_sys_process_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

ssize_t
lk_sys_readlink(const char *path, char *buf, size_t cap)
{
    ssize_t n = readlink(path, buf, cap - 1);
    if (n < 0) {
        buf[0] = '\0';
        return -errno;
    }
    buf[n] = '\0';
    return n;
}

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
    int saved = errno;
    lk_fmt_init(&f, buf, sizeof buf - 1);
    lk_fmt_str(&f, "leakscope[");
    lk_fmt_u64(&f, (uint64_t)getpid());
    lk_fmt_str(&f, "]: ");
    lk_fmt_str(&f, msg);
    buf[f.len++] = '\n';
    ssize_t w = write(2, buf, f.len);
    (void)w;
    errno = saved;
}
