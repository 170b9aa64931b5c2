/* The only file that exports symbols: the malloc family, forwarded to
 * glibc's __libc_* entry points (no dlsym bootstrap); mmap, munmap and
 * mremap, forwarded to the kernel (anonymous mappings are a second
 * allocator with sites of their own); and sigaction/signal,
 * so that a program asking for the disposition of a signal whose default the
 * agent replaced still sees SIG_DFL. Each allocation function calls the real
 * allocator first and records the block after; each free records first and
 * frees after, so an address is never in the map while another thread may
 * be handed the same block. Also leakscope_active() and
 * leakscope_snapshot_now(), the API of include/leakscope.h. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "agent.h"
#include "sys.h"
#include "unwind.h"
#define LEAKSCOPE_BUILDING_AGENT
#include "leakscope.h"

#define LK_EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* The program's innermost frame, for the stack walk: the return address
 * into the caller, and the caller's stack pointer after the call (this
 * function's CFA). Only valid in the exported function itself: internal
 * calls pass it on, so that no frame of the agent is ever taken for the
 * caller's. */
#define LK_CALLER_PC ((uintptr_t)__builtin_return_address(0))
#define LK_CALLER_SP ((uintptr_t)__builtin_dwarf_cfa())

/* Sampled mode, the commonest case: the countdown to the next sample point
 * stays positive, so the block is not sampled. Decided before the real
 * allocation (it depends on the size only), which then is a tail call: 14
 * instructions in all, no frame. 1 when it applied and the countdown was
 * charged. The caller's pc and sp are taken only on the slow path; they
 * are its CFA and return address whether or not the fast path set a frame
 * (shrink-wrapping puts the frame on the slow path only). */
static inline int
sample_skips(size_t n)
{
    if (!lk_sample_mean)
        return 0;
    int64_t left = lk_sample_left - (int64_t)n;
    if (__builtin_expect(left <= 0, 0) || !lk_agent_tracking())
        return 0;
    lk_sample_left = left;
    return 1;
}

LK_EXPORT void *
malloc(size_t n)
{
    if (sample_skips(n))
        return __libc_malloc(n);
    return lk_agent_malloc(n, LK_CALLER_PC, LK_CALLER_SP);
}

LK_EXPORT void
free(void *p)
{
    /* Sampled mode: a block certainly not in the map (the filter's byte for
     * its page is 0, as for nearly every block) is only freed. NULL reads
     * page 0's byte and goes on to the check below. */
    if (lk_live_map_filter && !lk_live_map_maybe((uintptr_t)p)) {
        __libc_free(p);
        return;
    }
    if (p && lk_agent_tracking())
        lk_agent_on_free(p);
    __libc_free(p);
}

LK_EXPORT void *
calloc(size_t n, size_t size)
{
    size_t total;
    if (!__builtin_mul_overflow(n, size, &total) && sample_skips(total))
        return __libc_calloc(n, size);
    return lk_agent_calloc(n, size, LK_CALLER_PC, LK_CALLER_SP);
}

static inline void *
do_realloc(void *old, size_t n, uintptr_t pc, uintptr_t sp)
{
    struct lk_live_info li;
    if (!lk_agent_tracking())
        return __libc_realloc(old, n);
    if (!old)
        return lk_agent_malloc(n, pc, sp);
    int found = (!lk_sample_mean || lk_live_map_maybe((uintptr_t)old)) && lk_agent_untrack(old, &li);
    /* realloc(p, 0) frees p: no room added then */
    void *p = __libc_realloc(old, n ? n + lk_agent_room(n) : 0);
    if (p && lk_agent_sample(n))
        lk_agent_on_alloc(p, n, pc, sp);
    else if (found && n != 0)
        lk_agent_retrack(old, &li); /* failed: the old block is still live */
    return p;
}

LK_EXPORT void *
realloc(void *old, size_t n)
{
    return do_realloc(old, n, LK_CALLER_PC, LK_CALLER_SP);
}

LK_EXPORT void *
reallocarray(void *old, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return do_realloc(old, total, LK_CALLER_PC, LK_CALLER_SP);
}

static inline void *
do_memalign(size_t align, size_t n, uintptr_t pc, uintptr_t sp)
{
    void *p = __libc_memalign(align, n + lk_agent_room(n));
    if (p && lk_agent_tracking() && lk_agent_sample(n))
        lk_agent_on_alloc(p, n, pc, sp);
    return p;
}

LK_EXPORT void *
memalign(size_t align, size_t n)
{
    return do_memalign(align, n, LK_CALLER_PC, LK_CALLER_SP);
}

LK_EXPORT void *
aligned_alloc(size_t align, size_t n)
{
    return do_memalign(align, n, LK_CALLER_PC, LK_CALLER_SP); /* glibc 2.36: memalign */
}

LK_EXPORT int
posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0)
        return EINVAL;
    int saved = errno;
    void *p = __libc_memalign(align, n + lk_agent_room(n));
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    if (lk_agent_tracking() && lk_agent_sample(n))
        lk_agent_on_alloc(p, n, LK_CALLER_PC, LK_CALLER_SP);
    errno = saved;
    return 0;
}

LK_EXPORT void *
valloc(size_t n)
{
    void *p = __libc_valloc(n + lk_agent_room(n));
    if (p && lk_agent_tracking() && lk_agent_sample(n))
        lk_agent_on_alloc(p, n, LK_CALLER_PC, LK_CALLER_SP);
    return p;
}

LK_EXPORT void *
pvalloc(size_t n)
{
    void *p = __libc_pvalloc(n + lk_agent_room(n));
    if (p && lk_agent_tracking() && lk_agent_sample(n))
        lk_agent_on_alloc(p, n, LK_CALLER_PC, LK_CALLER_SP);
    return p;
}

/* malloc_usable_size must be glibc's, as every block the program gets is
 * glibc's: a program linked with jemalloc (Debian's redis-server) would
 * otherwise hand glibc blocks to jemalloc's and crash. A tagged block's
 * tag is not the program's to use. */
LK_EXPORT size_t
malloc_usable_size(void *p)
{
    return lk_agent_program_usable(p);
}

/* jemalloc's non-standard API on blocks that now come from glibc, for
 * programs linked with jemalloc: the agent takes over malloc and free from
 * it, so these must follow. Flags: MALLOCX_LG_ALIGN in the low 6 bits,
 * MALLOCX_ZERO = 0x40; arena and tcache flags have no meaning here. */
LK_EXPORT void *
mallocx(size_t n, int flags)
{
    uintptr_t pc = LK_CALLER_PC, sp = LK_CALLER_SP;
    size_t align = (flags & 63) ? (size_t)1 << (flags & 63) : 0;
    void *p = align > 16 ? do_memalign(align, n, pc, sp) : lk_agent_malloc(n, pc, sp);
    if (p && (flags & 0x40))
        memset(p, 0, n);
    return p;
}

LK_EXPORT void *
rallocx(void *old, size_t n, int flags)
{
    uintptr_t pc = LK_CALLER_PC, sp = LK_CALLER_SP;
    size_t align = (flags & 63) ? (size_t)1 << (flags & 63) : 0;
    if (align <= 16)
        return do_realloc(old, n, pc, sp);
    void *p = do_memalign(align, n, pc, sp);
    if (p && old) {
        size_t have = lk_agent_program_usable(old);
        memcpy(p, old, have < n ? have : n);
        free(old);
    }
    return p;
}

LK_EXPORT size_t
xallocx(void *p, size_t n, size_t extra, int flags)
{
    (void)n;
    (void)extra;
    (void)flags;
    return lk_agent_program_usable(p); /* never resized in place: the size it has */
}

LK_EXPORT size_t
sallocx(const void *p, int flags)
{
    (void)flags;
    return lk_agent_program_usable((void *)p);
}

LK_EXPORT void
dallocx(void *p, int flags)
{
    (void)flags;
    free(p);
}

LK_EXPORT void
sdallocx(void *p, size_t n, int flags)
{
    (void)n;
    (void)flags;
    free(p);
}

/* Anonymous mappings the program makes itself; glibc's malloc maps through
 * its private __mmap, so its chunks never pass here. */
static inline void *
do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, uintptr_t pc,
        uintptr_t sp)
{
    void *p = lk_sys_raw_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && (flags & MAP_ANONYMOUS) && lk_agent_tracking())
        lk_agent_on_map(p, len, pc, sp);
    return p;
}

LK_EXPORT void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_mmap(addr, len, prot, flags, fd, off, LK_CALLER_PC, LK_CALLER_SP);
}

LK_EXPORT void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_mmap(addr, len, prot, flags, fd, off, LK_CALLER_PC, LK_CALLER_SP);
}

LK_EXPORT int
munmap(void *addr, size_t len)
{
    if (lk_agent_tracking())
        lk_agent_on_unmap(addr, len); /* before: the range may be mapped again at once */
    return lk_sys_raw_munmap(addr, len);
}

LK_EXPORT void *
mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
    struct lk_live_info li;
    void *want = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        want = va_arg(ap, void *);
        va_end(ap);
    }
    if (!lk_agent_tracking())
        return lk_sys_raw_mremap(old, oldlen, newlen, flags, want);
    int found = lk_agent_untrack(old, &li);
    void *p = lk_sys_raw_mremap(old, oldlen, newlen, flags, want);
    if (p != MAP_FAILED && found)
        lk_agent_on_map(p, newlen, LK_CALLER_PC, LK_CALLER_SP);
    else if (found)
        lk_agent_retrack(old, &li);
    return p;
}

LK_EXPORT int
leakscope_active(void)
{
    return lk_agent_active();
}

LK_EXPORT int
leakscope_snapshot_now(void)
{
    return lk_agent_snapshot_now();
}

/* Asks for a reachability scan and waits until its SCAN record is written:
 * 0, or -1 when no scan was made (not tracking, sampled mode, scan failed). */
LK_EXPORT int
leakscope_scan_now(void)
{
    return lk_agent_scan_now();
}

LK_EXPORT int
sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!lk_agent_signal_owned(sig)) {
        if (act && act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO) &&
            lk_agent_signal_take_default(sig, old) == 0)
            return 0;
        return lk_agent_real_sigaction(sig, act, old);
    }
    if (old) {
        memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
    }
    if (!act || (act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO)))
        return 0; /* SIG_DFL again: the agent's handler stays, acting as SIG_DFL */
    lk_agent_signal_release(sig); /* the program takes the signal over */
    return lk_agent_real_sigaction(sig, act, NULL);
}

/* glibc's sigprocmask is pthread_sigmask with errno: so is this one, except
 * for libunwind's calls while a walk of the agent holds every signal
 * blocked (unwind.h, lk_unwind_signals_held), which leave the mask alone:
 * the walk sets it back when it is done. No signal handler can run on the
 * thread meanwhile, so the program's own calls never see the flag set. */
LK_EXPORT int
sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    if (__builtin_expect(lk_unwind_signals_held, 0)) {
        if (old)
            *old = lk_unwind_saved_mask;
        return 0;
    }
    int e = pthread_sigmask(how, set, old);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

LK_EXPORT sighandler_t
signal(int sig, sighandler_t handler)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART; /* glibc's signal(): BSD semantics, as in its signal.c */
    sigemptyset(&sa.sa_mask);
    if (sig > 0 && sig < NSIG)
        sigaddset(&sa.sa_mask, sig);
    if (sigaction(sig, &sa, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}
