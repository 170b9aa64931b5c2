/* Internal interface between interpose.c (the exported allocation functions)
 * and the agent's core (agent.c). */
#ifndef LK_AGENT_H
#define LK_AGENT_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "block_tag.h"
#include "live_map.h"

enum lk_agent_state {
    LK_STATE_OFF = 0,     /* not started, disabled or dormant: pass everything through */
    LK_STATE_ON = 1,      /* tracking and recording */
    LK_STATE_STOPPED = 2, /* final snapshot written (exit, signal, fork child): pass through */
};

/* Re-entrancy guard: set while the agent runs on this thread, so allocations
 * made by the agent, libunwind or a signal handler that interrupts us pass
 * straight through. initial-exec TLS: no allocation on first access. */
extern __thread int lk_guard __attribute__((tls_model("initial-exec")));
/* lk_guard value while start-up checks that malloc reaches the agent: the
 * interposed malloc then sets lk_probe_hit instead of tracking. */
#define LK_GUARD_PROBE 0x70
extern __thread int lk_probe_hit __attribute__((tls_model("initial-exec")));
extern atomic_int lk_state;

/* Sampled mode (LEAKSCOPE_SAMPLE): the mean sampling interval in bytes, 0 in
 * full tracking; and this thread's countdown to its next sample point. */
extern uint64_t lk_sample_mean;
extern __thread int64_t lk_sample_left __attribute__((tls_model("initial-exec")));

/* In sampled mode, most allocations stop here: the countdown is still
 * positive. 1 when the allocation must go to lk_agent_on_alloc(), which
 * decides for good. Always 1 in full tracking. */
static inline int
lk_agent_sample(size_t n)
{
    if (!lk_sample_mean)
        return 1;
    lk_sample_left -= (int64_t)n;
    return lk_sample_left <= 0;
}

/* True when an allocation on this thread should be tracked. */
static inline int
lk_agent_tracking(void)
{
    return atomic_load_explicit(&lk_state, memory_order_relaxed) == LK_STATE_ON && !lk_guard;
}

/* Full tracking keeps a heap block of fewer than LK_TAG_MAX bytes in a tag
 * at the end of the block (block_tag.h): the bytes the interposer adds to
 * the request for it. Deterministic in n (lk_sample_mean is set before
 * tracking starts), so lk_agent_on_alloc() knows the room is there. */
static inline size_t
lk_agent_pad(size_t n)
{
    return !lk_sample_mean && n < LK_TAG_MAX ? LK_TAG_BYTES : 0;
}

/* The room to add to a request of n bytes made now (0 when not tracking). */
static inline size_t
lk_agent_room(size_t n)
{
    return lk_agent_tracking() ? lk_agent_pad(n) : 0;
}

/* Record a new block / the free of a block. Callers check lk_agent_tracking()
 * first. pc and sp locate the program's innermost frame (LK_CALLER in
 * interpose.c): the return address into the caller of the interposed
 * function, and the caller's stack pointer after the call. Preserve errno. */
void lk_agent_on_alloc(void *p, size_t size, uintptr_t pc, uintptr_t sp);
/* malloc(n) and calloc(n, size) with the record, in one frame with the
 * tracking path: for the exported functions once their sampled-mode fast
 * path did not apply (and realloc(NULL, n), mallocx). pc and sp as above. */
void *lk_agent_malloc(size_t n, uintptr_t pc, uintptr_t sp);
void *lk_agent_calloc(size_t n, size_t size, uintptr_t pc, uintptr_t sp);
void lk_agent_on_free(void *p);
/* An anonymous mapping made / unmapped by the program (sites of kind
 * LK_KIND_MMAP; lengths are rounded up to pages). */
void lk_agent_on_map(void *p, size_t len, uintptr_t pc, uintptr_t sp);
void lk_agent_on_unmap(void *p, size_t len);
/* realloc: take a block out of the map before the real realloc, and put it
 * back when the real realloc fails. */
int lk_agent_untrack(void *p, struct lk_live_info *out);
void lk_agent_retrack(void *p, const struct lk_live_info *info);

/* glibc's malloc_usable_size, whatever else defines the symbol. */
size_t lk_agent_usable_size(void *p);
/* What the program may use of p: glibc's usable size less a tag's room. */
size_t lk_agent_program_usable(void *p);

/* The public API (include/leakscope.h), exported by interpose.c. */
int lk_agent_active(void);
int lk_agent_snapshot_now(void);
int lk_agent_scan_now(void);

/* Signals whose default action the agent replaced with a handler that writes
 * the final snapshot first. interpose.c shows the program SIG_DFL for these
 * and gives the signal back when the program installs a handler. */
int lk_agent_signal_owned(int sig);
void lk_agent_signal_release(int sig);
/* The program sets SIG_DFL for sig: when it is one whose default the agent
 * replaces (SIGTERM, SIGINT, SIGHUP) and tracking is on, installs the agent's
 * handler instead (old gets the previous disposition) and returns 0 --
 * Python, for one, restores SIG_DFL and kills itself with SIGINT after an
 * uncaught KeyboardInterrupt. Otherwise -1: the caller sets SIG_DFL. */
int lk_agent_signal_take_default(int sig, struct sigaction *old);
/* The real sigaction, for interpose.c. */
int lk_agent_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
