/* Every operating-system call the agent makes goes through here: one place to
 * audit for "can this allocate or deadlock", and one seam for fault injection
 * (LEAKSCOPE_FAULT_WRITE=N makes the Nth write fail with ENOSPC). Nothing in
 * this file calls malloc. */
#ifndef LK_SYS_H
#define LK_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Anonymous private read-write mapping, zero-filled; NULL on failure. */
void *lk_sys_mmap(size_t len);
void lk_sys_munmap(void *p, size_t len);

/* The kernel's mmap/munmap/mremap without glibc's wrappers (which the agent
 * interposes); MAP_FAILED / -1 with errno set on failure. */
void *lk_sys_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int lk_sys_raw_munmap(void *addr, size_t len);
void *lk_sys_raw_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr);

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
