/* Every operating-system call the agent makes goes through here: one place to
 * audit for "can this allocate or deadlock", and one seam for fault injection
 * (LEAKSCOPE_FAULT_WRITE=N makes the Nth write fail with ENOSPC). Nothing in
 * this file calls malloc. */
#ifndef LK_SYS_H
#define LK_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Anonymous private read-write mapping, zero-filled; NULL on failure. Every
 * such mapping is entered in the registry of the agent's own memory (below)
 * until lk_sys_munmap, so a reachability scan never takes it for a root. */
void *lk_sys_mmap(size_t len);

/* Faults in [p, p + len) for writing in one system call instead of a page
 * fault per page (MADV_POPULATE_WRITE, Linux 5.14; on older kernels
 * nothing, and the pages fault in on first use as before). */
void lk_sys_populate(void *p, size_t len);
void lk_sys_munmap(void *p, size_t len);

/* The registry of the agent's own mappings: at most LK_SYS_OWN_MAX live at
 * once (beyond that a mapping is simply not registered: the scan may then
 * read agent tables, which hold no heap pointers, only packed addresses and
 * return addresses). Lock-free; copies the registered ranges into out[] and
 * returns how many. */
#define LK_SYS_OWN_MAX 4096
struct lk_sys_range {
    uintptr_t lo, hi; /* [lo, hi) */
};
size_t lk_sys_own_ranges(struct lk_sys_range *out, size_t max);

/* A raw system call: no glibc wrapper, no errno, no TLS access, so it is safe
 * in the scan's tracer (which shares the caller's TLS) and in the scanner (a
 * copy whose glibc locks may be held forever). Returns the result or -errno. */
static inline long
lk_sys_call6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* clone(2) onto a new stack: the child runs fn(arg) on stack_top (16-byte
 * aligned down) and exits with its return value (exit, not exit_group). No
 * glibc: no atfork handlers, no TLS set-up, no pid cache touched. With
 * CLONE_SETTLS in flags the child's thread pointer (%fs base) is tls, else
 * the caller's. Returns the child's id in the parent, or -errno. */
long lk_sys_clone_on(unsigned long flags, void *stack_top, int (*fn)(void *), void *arg, void *tls);

/* Installs handler for sig with the kernel's rt_sigaction (SA_RESTORER with a
 * trampoline of our own): for the scanner, whose copied glibc must not be
 * entered. 0 or -errno. */
int lk_sys_raw_sigaction(int sig, void (*handler)(int), unsigned long flags);

/* Anonymous read-write mapping (MAP_SHARED when shared), not registered; NULL
 * on failure, errno untouched. lk_sys_unmap undoes it. */
void *lk_sys_map_anon(size_t len, int shared);
void lk_sys_unmap(void *p, size_t len);

/* The kernel's mmap/munmap/mremap without glibc's wrappers (which the agent
 * interposes), for the interposers: MAP_FAILED / -1 with errno set on
 * failure, so only on the program's threads. */
void *lk_sys_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int lk_sys_raw_munmap(void *addr, size_t len);
void *lk_sys_raw_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr);

/* The calls below make raw system calls only (sys.c): they never write errno
 * or any other TLS, so the agent's task may make them. */

/* Creates path with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0600: a file
 * that exists or a planted symlink is refused. fd, or -errno. */
int lk_sys_create(const char *path);
/* Opens path read-only; fd or -errno. */
int lk_sys_open_read(const char *path);
/* Writes all of p, retrying on EINTR and short writes; 0 or -errno. */
int lk_sys_write_all(int fd, const void *p, size_t n);
/* Reads up to cap-1 bytes of a (proc) file into buf and NUL-terminates it;
 * bytes read or -errno. */
ssize_t lk_sys_read_file(const char *path, char *buf, size_t cap);
ssize_t lk_sys_read(int fd, void *buf, size_t n);
void lk_sys_close(int fd);
int lk_sys_rename(const char *from, const char *to);
int lk_sys_fdatasync(int fd);
int lk_sys_unlink(const char *path); /* 0 or -errno */
/* Identity of an open file, to notice that the program closed our fd and
 * reused the number for a file of its own; *nlink 0 means it was deleted. */
int lk_sys_fd_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *nlink);
/* Moves fd to a number >= 100 (close-on-exec) so the host's low fds keep
 * their usual numbers; returns the new fd, or fd itself on failure. */
int lk_sys_fd_high(int fd);

uint64_t lk_sys_now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t lk_sys_realtime_ns(void); /* CLOCK_REALTIME */
int lk_sys_getpid(void);
int lk_sys_getppid(void);
int lk_sys_process_alive(int pid);
ssize_t lk_sys_readlink(const char *path, char *buf, size_t cap); /* NUL-terminated */
long lk_sys_page_size(void);

/* One line on stderr, "leakscope[pid]: msg\n", unless quiet; never allocates. */
void lk_sys_log(const char *msg);
void lk_sys_set_quiet(int quiet);

#endif
