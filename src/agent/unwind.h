/* Stack capture for allocation sites: a fast frame walker driven by a table
 * of frame sizes per return address, learned from libunwind on first sight
 * (docs/UNWIND.md). */
#ifndef LK_UNWIND_H
#define LK_UNWIND_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Notes the agent's own address range (its frames are cut from stacks) and
 * maps the first frame-size table. 0 or -ENOMEM. */
int lk_unwind_init(uintptr_t self_lo, uintptr_t self_hi);

/* The previous stack walked on this thread, to reuse its outer frames. */
struct lk_unwind_prev {
    const uintptr_t *pcs, *sps;
    size_t n;
    int complete; /* the walk reached the outermost frame (not cut at max) */
};

/* Walks the stack of the program from its innermost frame: pc is the return
 * address into the caller of the interposed function, sp that caller's stack
 * pointer once the call returns (the interposed function's CFA), and sp - 16
 * holds the caller's rbp (the interposed function pushed it first: built
 * with frame pointers). Fills pcs[]/sps[] (frame i's return address and
 * stack pointer), at most max. Uses the table of frame rules and falls back
 * to libunwind when a return address is new, when a frame has neither a
 * fixed size nor a usable rbp rule, or when sp leaves the thread's stack (a
 * signal stack); libunwind's answers teach the table. A return address
 * without unwind information (JIT code) is walked by frame pointers.
 * When prev is given and a frame matches one of prev's (same stack pointer
 * and return address) and every outer frame of prev still holds its return
 * address in its slot, the outer frames are copied instead of walked; when
 * the stack is prev itself, *same is set and nothing is copied (pcs/sps are
 * left unwritten: prev holds the frames). *complete tells whether the
 * walk reached the outermost frame. Must run under the re-entrancy guard
 * with no agent lock held. Returns the number of frames. */
size_t lk_unwind_walk(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, uintptr_t *sps, size_t max,
                      const struct lk_unwind_prev *prev, int *same, int *complete);

/* The thread's stack bounds (0 until its first walk), for the inline test
 * below. */
extern __thread uintptr_t lk_unwind_stack_lo __attribute__((tls_model("initial-exec")));
extern __thread uintptr_t lk_unwind_stack_hi __attribute__((tls_model("initial-exec")));

/* Do frames from..n-1 of a stack walked earlier on this thread still hold
 * their return addresses in their slots (at sps[k] - 8)? One load per frame.
 * The stack pointers lie in this thread's stack (the walk checked them),
 * which stays mapped while the thread lives: the loads need no bounds. This
 * is the cost of a cached stack at depth 32, so the loop is branch-free over
 * groups of four (differences ORed together): 5 instructions per frame
 * instead of 7 (cachegrind, bench_hook_cost at depth 32). Only the first
 * group answers at once: stacks that share their innermost frame (gcc's
 * cc1 allocates everything through one function) mostly differ just above
 * it, and cc1's cache look-ups spent 47M instructions comparing the other
 * 27 frames of stacks already known to differ (docs/UNWIND.md, section 19). */
static inline __attribute__((always_inline)) int
lk_unwind_slots_hold(const uintptr_t *pcs, const uintptr_t *sps, size_t from, size_t n)
{
    size_t k = from;
    uintptr_t diff = 0;
    if (k + 4 <= n) {
        diff = (*(const uintptr_t *)(sps[k] - 8) ^ pcs[k]) |
               (*(const uintptr_t *)(sps[k + 1] - 8) ^ pcs[k + 1]) |
               (*(const uintptr_t *)(sps[k + 2] - 8) ^ pcs[k + 2]) |
               (*(const uintptr_t *)(sps[k + 3] - 8) ^ pcs[k + 3]);
        if (diff)
            return 0;
        k += 4;
    }
    for (; k + 4 <= n; k += 4) {
        diff |= *(const uintptr_t *)(sps[k] - 8) ^ pcs[k];
        diff |= *(const uintptr_t *)(sps[k + 1] - 8) ^ pcs[k + 1];
        diff |= *(const uintptr_t *)(sps[k + 2] - 8) ^ pcs[k + 2];
        diff |= *(const uintptr_t *)(sps[k + 3] - 8) ^ pcs[k + 3];
    }
    for (; k < n; k++)
        diff |= *(const uintptr_t *)(sps[k] - 8) ^ pcs[k];
    return diff == 0;
}

/* A check of the walker (LEAKSCOPE_CHECK_UNWIND=1): every walk that is
 * not a copy of the previous one is compared with libunwind's walk of the
 * same stack from the top. Slow: a diagnostic, and what the tests run real
 * programs with. Set before the first walk. */
void lk_unwind_set_check(int on);
int lk_unwind_checking(void);

/* Does every walk end at return address pc (the table's rule for it says
 * libunwind found no caller there)? */
int lk_unwind_is_outermost(uintptr_t pc);

struct lk_unwind_check {
    uint64_t checked;  /* walks compared */
    uint64_t differed; /* of those, walks whose return addresses differed */
    size_t frame;      /* the first such walk: the first frame that differed, */
    uintptr_t got, want; /* the walker's return address there and libunwind's (0: none) */
};
void lk_unwind_check_stats(struct lk_unwind_check *out);

/* The check of one walk: pcs[0..n-1] walked from the frame whose stack
 * pointer is sp (at most max frames), compared with libunwind's walk from
 * the top of the calling thread's stack; counted in the stats above. */
void lk_unwind_check_walk(uintptr_t sp, const uintptr_t *pcs, size_t n, size_t max);

/* libunwind blocks every signal and sets the mask back around each look-up
 * of unwind information and each access to its cache: two system calls
 * each time, ~270 ns apiece on this VM (cc1: 104k of them). A walk that
 * needs libunwind blocks the signals once instead, and while it holds them
 * (this flag, set only with every signal blocked) the agent's sigprocmask
 * (interpose.c) leaves the mask alone for libunwind's calls on this thread;
 * lk_unwind_saved_mask is the thread's mask from before. */
extern __thread int lk_unwind_signals_held __attribute__((tls_model("initial-exec")));
extern __thread sigset_t lk_unwind_saved_mask __attribute__((tls_model("initial-exec")));

/* Fork child: the forking thread may have held the table lock. */
void lk_unwind_reset_locks(void);

/* Bytes of the current frame-size table. */
size_t lk_unwind_bytes(void);

/* Counters for the benchmark and tests: walks, and libunwind's work for
 * them (its steps and its look-ups of a return address's unwind
 * information, each with two signal-mask system calls). */
void lk_unwind_stats(uint64_t *fast, uint64_t *slow);

#endif
