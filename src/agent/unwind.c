/* Stack walking. On x86-64 a frame's canonical frame address (CFA) is, at
 * a given return address, either its stack pointer at the call plus a fixed
 * size (almost all compiled code) or its rbp plus a fixed offset (a frame
 * after alloca or a variable-length array, a JIT's frame-pointer frames).
 * So the walker keeps a table return address -> rule (the size, the rbp
 * offset, and where the frame saved its caller's rbp), follows rbp from
 * frame to frame, and steps with one lookup and a load or two per frame:
 * sp' = CFA, pc' = *(CFA - 8). A return address not in the table sends the
 * walk to libunwind (unw_init_local/unw_step) as far as needed, whose
 * frames then fill the table; a size that libunwind later contradicts
 * leaves the rbp rule, and a frame with neither is always walked by
 * libunwind. Loads stay inside the thread's stack. The table is read
 * without a lock (entries are only added, a rule is one word; a grown table
 * is published whole) and written under a small lock; it never calls
 * malloc. libunwind may allocate on first use in a thread: callers hold the
 * agent's re-entrancy guard. docs/UNWIND.md, sections 1 and 12. */
#include "unwind.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <ucontext.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "lock.h"
#include "modules.h"
#include "record/format.h"
#include "sys.h"

#define SIZE_VARIABLE INT32_MIN   /* frame size differs between calls */
#define SIZE_OUTERMOST (INT32_MIN + 1) /* libunwind stops here: the walk ends */
#define SIZE_NOINFO (INT32_MIN + 2)    /* no unwind information: frame pointers only */
#define MAX_FRAME (1 << 24)       /* larger "frames" are taken as not learnable */
#define SAVE_UNKNOWN 0xffffu      /* where the caller's rbp is cannot be told */
#define OFF_MAX 0xfff0u           /* largest rbp offset or save offset kept */

/* A frame's rule at a return address, one word so that a reader sees its
 * fields together: bits 0-31 the size (CFA - sp when it was the same each
 * time, > 0; SIZE_VARIABLE; SIZE_OUTERMOST; 0 = no entry), bits 32-47 the
 * rbp offset (CFA - rbp when that was the same each time, else 0), bits
 * 48-63 the save (CFA - the address where the frame saved its caller's rbp;
 * 0 when the frame leaves rbp alone; SAVE_UNKNOWN). */
static inline uint64_t
rule_make(int size, unsigned rbp_off, unsigned save)
{
    return (uint64_t)(uint32_t)size | (uint64_t)rbp_off << 32 | (uint64_t)save << 48;
}

static inline int
rule_size(uint64_t w)
{
    return (int)(int32_t)(uint32_t)w;
}

static inline unsigned
rule_rbp_off(uint64_t w)
{
    return (unsigned)(w >> 32) & 0xffffu;
}

static inline unsigned
rule_save(uint64_t w)
{
    return (unsigned)(w >> 48);
}

/* What two observations of one return address agree on. */
static inline uint64_t
rule_merge(uint64_t a, uint64_t b)
{
    if (rule_size(a) == SIZE_NOINFO || rule_size(b) == SIZE_NOINFO)
        return rule_size(a) == SIZE_NOINFO ? a : b; /* no unwind information: nothing else to learn */
    return rule_make(rule_size(a) == rule_size(b) ? rule_size(a) : SIZE_VARIABLE,
                     rule_rbp_off(a) == rule_rbp_off(b) ? rule_rbp_off(a) : 0,
                     rule_save(a) == rule_save(b) ? rule_save(a) : SAVE_UNKNOWN);
}

struct pc_entry {
    _Atomic uintptr_t pc;        /* 0 = empty */
    _Atomic uint64_t rule;       /* rule_make() */
};

struct pc_table {
    size_t mask;
    struct pc_entry e[];
};

static uintptr_t self_lo, self_hi;
static _Atomic(struct pc_table *) table;
static struct lk_lock table_lock = LK_LOCK_INIT;
static size_t table_used;
static atomic_uint_least64_t n_fast, n_slow;
static int check_on;                            /* lk_unwind_set_check */
static atomic_uint_least64_t n_checked, n_differed;
static struct {
    size_t frame;
    uintptr_t got, want;
} first_diff; /* written by the walk that counted the first difference */
__thread uintptr_t lk_unwind_stack_lo __attribute__((tls_model("initial-exec")));
__thread uintptr_t lk_unwind_stack_hi __attribute__((tls_model("initial-exec")));
__thread int lk_unwind_signals_held __attribute__((tls_model("initial-exec")));
__thread sigset_t lk_unwind_saved_mask __attribute__((tls_model("initial-exec")));
#define stack_lo lk_unwind_stack_lo
#define stack_hi lk_unwind_stack_hi

/* Before any libunwind call: every signal blocked, once per walk (unwind.h,
 * lk_unwind_signals_held). */
static void
hold_signals(void)
{
    if (lk_unwind_signals_held)
        return;
    sigset_t all;
    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &lk_unwind_saved_mask) == 0)
        lk_unwind_signals_held = 1;
}

/* At the end of a walk: the thread's mask as it was. */
static inline void
release_signals(void)
{
    if (__builtin_expect(lk_unwind_signals_held, 0)) {
        lk_unwind_signals_held = 0;
        pthread_sigmask(SIG_SETMASK, &lk_unwind_saved_mask, NULL);
    }
}

static inline size_t
slot_of(uintptr_t pc, size_t mask)
{
    return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 40) & mask;
}

static struct pc_table *
table_new(size_t cap)
{
    struct pc_table *t = lk_sys_mmap(sizeof *t + cap * sizeof t->e[0]);
    if (t)
        t->mask = cap - 1;
    return t;
}

int
lk_unwind_init(uintptr_t lo, uintptr_t hi)
{
    self_lo = lo;
    self_hi = hi;
    if (!atomic_load(&table)) {
        struct pc_table *t = table_new(1u << 14);
        if (!t)
            return -ENOMEM;
        atomic_store_explicit(&table, t, memory_order_release);
    }
    return 0;
}

/* The rule at pc, or 0 when pc is not in the table. */
static inline uint64_t
lookup(const struct pc_table *t, uintptr_t pc)
{
    for (size_t i = slot_of(pc, t->mask);; i = (i + 1) & t->mask) {
        uintptr_t p = atomic_load_explicit(&t->e[i].pc, memory_order_acquire);
        if (p == pc)
            return atomic_load_explicit(&t->e[i].rule, memory_order_relaxed);
        if (!p)
            return 0;
    }
}

static void
put_locked(struct pc_table *t, uintptr_t pc, uint64_t rule)
{
    size_t i = slot_of(pc, t->mask);
    for (;; i = (i + 1) & t->mask) {
        uintptr_t p = atomic_load_explicit(&t->e[i].pc, memory_order_relaxed);
        if (p == pc) {
            uint64_t old = atomic_load_explicit(&t->e[i].rule, memory_order_relaxed);
            atomic_store_explicit(&t->e[i].rule, rule_merge(old, rule), memory_order_relaxed);
            return;
        }
        if (!p)
            break;
    }
    atomic_store_explicit(&t->e[i].rule, rule, memory_order_relaxed);
    atomic_store_explicit(&t->e[i].pc, pc, memory_order_release);
    table_used++;
}

/* The rule at pc in the current table, 0 when none. */
static uint64_t
lookup_now(uintptr_t pc)
{
    struct pc_table *t = atomic_load_explicit(&table, memory_order_acquire);
    return t ? lookup(t, pc) : 0;
}

/* Can the walker step from pc by itself, given rbp there? */
static int
known(uintptr_t pc)
{
    uint64_t w = lookup_now(pc);
    return rule_size(w) > 0 || rule_size(w) == SIZE_OUTERMOST || rule_rbp_off(w);
}

/* Records what libunwind found. A table more than half full is replaced by
 * one twice its size; the old one stays mapped for readers still in it. A
 * rule the table already holds takes no lock. */
static void
learn(uintptr_t pc, uint64_t rule)
{
    if (!pc)
        return;
    struct pc_table *cur = atomic_load_explicit(&table, memory_order_acquire);
    if (cur) {
        uint64_t had = lookup(cur, pc);
        if (had && rule_merge(had, rule) == had)
            return;
    }
    lk_lock(&table_lock);
    struct pc_table *t = atomic_load_explicit(&table, memory_order_relaxed);
    if (t && (table_used + 1) * 2 > t->mask + 1) {
        struct pc_table *n = table_new((t->mask + 1) * 2);
        if (n) {
            table_used = 0;
            for (size_t i = 0; i <= t->mask; i++) {
                uintptr_t p = atomic_load_explicit(&t->e[i].pc, memory_order_relaxed);
                if (p)
                    put_locked(n, p, atomic_load_explicit(&t->e[i].rule, memory_order_relaxed));
            }
            atomic_store_explicit(&table, n, memory_order_release);
            t = n;
        }
    }
    if (t && (table_used + 1) * 10 < (t->mask + 1) * 9)
        put_locked(t, pc, rule);
    lk_unlock(&table_lock);
}

/* The thread's stack bounds, found once per thread (pthread_getattr_np may
 * allocate and read /proc/self/maps for the main thread: we hold the guard). */
static int
bounds(void)
{
    if (stack_hi)
        return 1;
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return 0;
    int ok = pthread_attr_getstack(&a, &addr, &size) == 0;
    pthread_attr_destroy(&a);
    if (!ok)
        return 0;
    stack_lo = (uintptr_t)addr;
    stack_hi = (uintptr_t)addr + size;
    return 1;
}

/* What one libunwind step from frame (sp, rbp, rbp's location) to its
 * caller (sp1, rbp1, loc1) says about the frame's return address. */
static uint64_t
observe(uintptr_t sp, uintptr_t rbp, const unw_save_loc_t *loc, uintptr_t ip1, uintptr_t sp1,
        uintptr_t rbp1, const unw_save_loc_t *loc1)
{
    uint64_t d = (uint64_t)sp1 - sp;
    int size = sp1 > sp && d < MAX_FRAME ? (int)d : SIZE_VARIABLE;
    unsigned rbp_off = rbp < sp1 && rbp >= sp && sp1 - rbp <= OFF_MAX ? (unsigned)(sp1 - rbp) : 0;
    if (size == SIZE_VARIABLE || *(const uintptr_t *)(sp1 - 8) != ip1) {
        /* the caller's return address is not just below the CFA (libunwind
         * guessing through code without unwind information): no rule */
        size = SIZE_VARIABLE;
        rbp_off = 0;
    }
    unsigned save = SAVE_UNKNOWN;
    if (loc1->type == UNW_SLT_MEMORY && loc1->u.addr >= sp && loc1->u.addr < sp1 &&
        sp1 - loc1->u.addr <= OFF_MAX && *(const uintptr_t *)loc1->u.addr == rbp1)
        save = (unsigned)(sp1 - loc1->u.addr); /* the frame saved its caller's rbp there */
    else if (loc1->type == loc->type && loc1->u.addr == loc->u.addr && rbp1 == rbp)
        save = 0; /* left alone: the caller's rbp is the frame's */
    return rule_make(size, rbp_off, save);
}

/* The rule of a frame the walker never steps through by itself: libunwind
 * walks it every time. */
#define RULE_LIBUNWIND rule_make(SIZE_VARIABLE, 0, SAVE_UNKNOWN)

/* Is pc the kernel's signal return trampoline (glibc's and musl's
 * __restore_rt: mov $15, %rax; syscall)? Its frame is the saved context,
 * whose distance from the interrupted frame varies: no size. libunwind's
 * unw_is_signal_frame only knows after a step. pc lies in a loaded
 * module's code; the bytes are read one by one and the first that differs
 * ends the reading, so nothing past the code is read. */
static int
is_sigreturn(uintptr_t pc)
{
    static const unsigned char code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    const volatile unsigned char *p = (const volatile unsigned char *)pc;
    for (size_t i = 0; i < sizeof code; i++)
        if (p[i] != code[i])
            return 0;
    return 1;
}

static int
no_unwind_info(uintptr_t pc)
{
    unw_proc_info_t pi;
    atomic_fetch_add_explicit(&n_slow, 1, memory_order_relaxed);
    hold_signals();
    return unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)(pc - 1), &pi, NULL) ==
           -UNW_ENOINFO;
}

/* Code without unwind information (a JIT's, V8's builtins embedded in the
 * node binary): libunwind guesses there, and what it guessed for node's
 * builtins was wrong (the same return address over and over, 16 bytes
 * apart), and the walks through them taught the table wrong sizes for the
 * return addresses it made up, so every walk through them went to
 * libunwind again (node 6.5x slower under full tracking). Such code keeps
 * frame pointers: CFA = rbp + 16, the caller's rbp saved at CFA - 16.
 * When the return address pc has no unwind information, the table learns
 * that rule for it (once per address) and this returns 1. The look-up is
 * for pc - 1, the call (a call may be a function's last instruction). */
static int
learn_if_no_unwind_info(uintptr_t pc)
{
    if (!no_unwind_info(pc))
        return 0;
    if (lk_modules_covers(pc, NULL, NULL) && is_sigreturn(pc)) {
        learn(pc, RULE_LIBUNWIND); /* a signal trampoline whose unwind information the
                                      look-up of pc - 1 missed */
        return 0;
    }
    learn(pc, rule_make(SIZE_NOINFO, 16, 16));
    return 1;
}

/* One libunwind step from the frame (pc, sp, rbp) alone, without walking
 * to it from the top: a context with those three registers (the others
 * are this function's, and matter only to the rare frame whose CFA rule
 * uses them). libunwind looks a local context's instruction pointer up as
 * a return address (pc - 1). 0 when libunwind cannot step. */
static int
step_from(uintptr_t pc, uintptr_t sp, uintptr_t rbp, unw_save_loc_t *loc, uintptr_t *ip1,
          uintptr_t *sp1, uintptr_t *rbp1, unw_save_loc_t *loc1)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t ip, s, r;
    hold_signals();
    if (unw_getcontext(&uc) != 0)
        return 0;
    atomic_fetch_add_explicit(&n_slow, 1, memory_order_relaxed);
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc.uc_mcontext.gregs[REG_RBP] = (greg_t)rbp;
    if (unw_init_local(&c, &uc) != 0 || unw_get_save_loc(&c, UNW_X86_64_RBP, loc) < 0 ||
        unw_step(&c) <= 0 || unw_get_reg(&c, UNW_REG_IP, &ip) < 0 ||
        unw_get_reg(&c, UNW_REG_SP, &s) < 0 || unw_get_reg(&c, UNW_X86_64_RBP, &r) < 0 ||
        unw_get_save_loc(&c, UNW_X86_64_RBP, loc1) < 0)
        return 0;
    if (s <= sp || s > stack_hi)
        return 0;
    *ip1 = (uintptr_t)ip;
    *sp1 = (uintptr_t)s;
    *rbp1 = (uintptr_t)r;
    return 1;
}

/* Teaches the table pc's rule from libunwind steps from that frame alone
 * and returns 1 when they give a usable one (a size: an rbp rule needs two
 * sizes). A walk from the top cannot get past code without unwind
 * information (libunwind's guess there was wrong for node), and costs a
 * step per frame below; this costs two.
 *
 * rbp is the frame's rbp as the walk tracked it. In the thread's stack it
 * is passed as it is: a rule that reads through rbp reads the stack. A
 * frame whose rule reads through rbp (a frame-pointer frame) has its rbp in
 * its own frame, so an rbp outside the stack (optimized code using rbp as
 * a plain register, as all of cc1 does) means a rule that does not read it
 * -- unless the tracking went wrong. Then libunwind gets a made-up value in
 * the stack instead (sp), so that nothing reads through a stray pointer.
 * Before, such frames were walked by libunwind from the top: cc1 compiling
 * agent.c made 4,356 such walks of 10.5 steps each.
 *
 * The second step is with rbp 8 bytes higher, which tells what the CFA
 * rule is: the same CFA (the rule reads rsp only: a size), a CFA 8 bytes
 * higher (rbp + K: the size and the rbp offset), or anything else -- a
 * DWARF expression through rbp, as in a frame that realigns its stack
 * ("DRAP": CFA = *(rbp - 8)), whose size and rbp offset both change with
 * the caller's alignment, so that one observation's rule was wrong for the
 * next call and never contradicted. Such a frame, and a signal frame (its
 * CFA comes from the saved context), gets RULE_LIBUNWIND. */
static int
learn_from_frame(uintptr_t pc, uintptr_t sp, uintptr_t rbp)
{
    unw_save_loc_t loc, loc1, l, l1;
    uintptr_t ip1, sp1, rbp1, i2, s2, r2;
    int in_stack = rbp >= sp && rbp < stack_hi;
    uintptr_t r0 = in_stack ? rbp : sp;
    if (is_sigreturn(pc)) {
        learn(pc, RULE_LIBUNWIND);
        return 0;
    }
    if (!step_from(pc, sp, r0, &loc, &ip1, &sp1, &rbp1, &loc1))
        return 0;
    uint64_t rule = observe(sp, r0, &loc, ip1, sp1, rbp1, &loc1);
    if (!step_from(pc, sp, r0 + 8, &l, &i2, &s2, &r2, &l1))
        return 0;
    if (s2 == sp1 && i2 == ip1) {
        rule = rule_make(rule_size(rule), 0, rule_save(rule)); /* rsp only */
    } else if (!in_stack || s2 != sp1 + 8) {
        if (in_stack)
            learn(pc, RULE_LIBUNWIND); /* an expression through rbp */
        return 0; /* (rbp outside the stack but the rule reads it: tracking went wrong) */
    }
    if (rule_size(rule) <= 0)
        return 0;
    learn(pc, rule);
    return 1;
}

/* libunwind from here: frames from the one whose stack pointer is sp0 (the
 * caller of the interposed function) outwards; teaches the table. With
 * stop non-zero (the stack pointer of the frame the table could not step
 * from), returns as soon as it has stepped past that frame and reached one
 * the table knows, with *resume set and that frame's rbp in *rbp_out: the
 * caller goes on from the last frame with the table. libunwind cannot
 * start in the middle of a stack (it needs the registers there), so this
 * saves the steps outwards of the frames it had to learn: on cc1 compiling
 * a 2,600-line file, 130k libunwind steps (each with its signal-mask system
 * calls) for 5,500 walks before. */
static size_t
slow_walk(uintptr_t sp0, uintptr_t *pcs, uintptr_t *sps, size_t max, int *complete,
          uintptr_t stop, int *resume, uintptr_t *rbp_out, int teach, size_t *trusted)
{
    unw_context_t uc;
    unw_cursor_t c;
    size_t n = 0;
    unw_word_t ip, sp, rbp;
    unw_save_loc_t loc, prev_loc = {0};
    uintptr_t prev_pc = 0, prev_sp = 0, prev_rbp = 0;
    int trust = 1; /* no frame without unwind information passed yet */
    hold_signals();
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return 0;
    for (int guard = 0; guard < 4 * LK_MAX_FRAMES; guard++) {
        if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || unw_get_reg(&c, UNW_REG_SP, &sp) < 0)
            break;
        if (unw_get_reg(&c, UNW_X86_64_RBP, &rbp) < 0 ||
            unw_get_save_loc(&c, UNW_X86_64_RBP, &loc) < 0)
            loc.type = UNW_SLT_REG; /* then nothing is learned about rbp */
        if (prev_pc && trust && teach) {
            /* a return address the table knows takes this observation in
             * (a size seen to vary becomes SIZE_VARIABLE); a new one is
             * learned as the walker learns it, which tells the kinds of
             * CFA rule apart */
            if (lookup_now(prev_pc))
                learn(prev_pc, observe(prev_sp, prev_rbp, &prev_loc, (uintptr_t)ip,
                                       (uintptr_t)sp, (uintptr_t)rbp, &loc));
            else
                learn_from_frame(prev_pc, prev_sp, prev_rbp);
        }
        prev_pc = (uintptr_t)ip;
        prev_sp = (uintptr_t)sp;
        prev_rbp = (uintptr_t)rbp;
        prev_loc = loc;
        int mine = 0; /* this frame is pcs[n - 1] */
        if ((uintptr_t)sp >= sp0 && n < max && ip) {
            if (n > 0 || ((uintptr_t)ip < self_lo || (uintptr_t)ip >= self_hi)) {
                pcs[n] = (uintptr_t)ip;
                sps[n] = (uintptr_t)sp;
                n++;
                mine = 1;
                if (stop && (uintptr_t)sp > stop && trust && loc.type != UNW_SLT_REG &&
                    known((uintptr_t)ip)) {
                    *resume = 1;
                    *rbp_out = (uintptr_t)rbp;
                    return n;
                }
            }
        } else if (n >= max) {
            return n; /* the table learns only what was needed */
        }
        uint64_t w = trust ? lookup_now((uintptr_t)ip) : 0;
        if (trust && (w ? rule_size(w) == SIZE_NOINFO
                        : teach ? learn_if_no_unwind_info((uintptr_t)ip)
                                : no_unwind_info((uintptr_t)ip))) {
            /* what libunwind finds from here is a guess: learn nothing more,
             * and go on with the frame pointers when the table can */
            trust = 0;
            if (trusted)
                *trusted = n;
            if (mine && stop && (uintptr_t)sp >= stop && loc.type != UNW_SLT_REG) {
                *resume = 1;
                *rbp_out = (uintptr_t)rbp;
                return n;
            }
        }
        atomic_fetch_add_explicit(&n_slow, 1, memory_order_relaxed);
        int r = unw_step(&c);
        if (r <= 0) {
            if (trust && teach)
                learn(prev_pc, rule_make(SIZE_OUTERMOST, 0, SAVE_UNKNOWN));
            *complete = n < max;
            break;
        }
    }
    return n;
}

/* A statistics counter, owned by no thread: a relaxed load and store, not
 * an atomic addition (a locked instruction per allocation); concurrent walks
 * may lose a count. */
static inline void
count_fast(void)
{
    atomic_store_explicit(&n_fast, atomic_load_explicit(&n_fast, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Do prev's frames from j outwards still hold their return addresses? */
static inline int
suffix_intact(const struct lk_unwind_prev *prev, size_t j)
{
    return lk_unwind_slots_hold(prev->pcs, prev->sps, j + 1, prev->n);
}

static size_t
walk(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, uintptr_t *sps, size_t max,
     const struct lk_unwind_prev *prev, int *same, int *complete)
{
    struct pc_table *t = atomic_load_explicit(&table, memory_order_acquire);
    size_t n = 0, j = 0;
    uintptr_t stop = 0; /* the frame the table could not step from, for slow_walk */
    uintptr_t rbp = 0;  /* rbp in the current frame, when rbp_ok */
    int resume = 0, rbp_ok = 0, slow_walks = 0;
    *same = 0;
    *complete = 0;
    if (max > LK_MAX_FRAMES)
        max = LK_MAX_FRAMES;
    if (!max)
        return 0;
    if (!t || !bounds() || sp < stack_lo || sp >= stack_hi)
        goto slow;
    /* the interposed function saved its caller's rbp first (interpose.c is
     * built with frame pointers): just below its CFA */
    rbp = *(const uintptr_t *)(sp - 16);
    rbp_ok = 1;
    for (;;) {
        if (prev) {
            while (j < prev->n && prev->sps[j] < sp)
                j++;
            if (j < prev->n && prev->sps[j] == sp && prev->pcs[j] == pc &&
                (prev->complete || n >= j) && suffix_intact(prev, j)) {
                size_t k = prev->n - j;
                if (n == 0 && j == 0) { /* the very same stack: the caller keeps prev */
                    *same = 1;
                    *complete = prev->complete;
                    count_fast();
                    return prev->n;
                }
                if (n + k > max)
                    k = max - n;
                for (size_t i = 0; i < k; i++) {
                    pcs[n + i] = prev->pcs[j + i];
                    sps[n + i] = prev->sps[j + i];
                }
                *complete = prev->complete && n + (prev->n - j) <= max;
                n += k;
                break;
            }
        }
        pcs[n] = pc;
        sps[n] = sp;
        if (++n == max)
            break;
        uint64_t w = lookup(t, pc);
        int rbp_in = rbp_ok && rbp >= sp && rbp < stack_hi; /* rbp may be this frame's base */
        if (__builtin_expect(!w, 0) &&
            (learn_if_no_unwind_info(pc) || (rbp_ok && learn_from_frame(pc, sp, rbp)))) {
            t = atomic_load_explicit(&table, memory_order_acquire);
            w = lookup(t, pc);
        }
        int size = rule_size(w);
        unsigned off = rule_rbp_off(w);
        if (size > 0 && off && rbp_in && sp + (uintptr_t)size != rbp + off) {
            /* Both rules were seen once and now disagree: the size was an
             * alloca frame's (its next call is larger) or the rbp offset a
             * coincidence. One more look from libunwind settles which. */
            if (!learn_from_frame(pc, sp, rbp)) {
                stop = sp;
                goto slow;
            }
            t = atomic_load_explicit(&table, memory_order_acquire);
            w = lookup(t, pc);
            size = rule_size(w);
            off = rule_rbp_off(w);
            if (size > 0 && off && sp + (uintptr_t)size != rbp + off) {
                stop = sp;
                goto slow;
            }
        }
        uintptr_t cfa;
        if (size > 0) {
            cfa = sp + (uintptr_t)size;
        } else if (size == SIZE_OUTERMOST) {
            *complete = 1;
            break;
        } else if (size < 0 && off && rbp_in) {
            cfa = rbp + off;
        } else { /* unknown, or variable without a usable rbp */
            stop = sp;
            goto slow;
        }
        if (cfa <= sp || cfa > stack_hi - 8 || (cfa & 7))
            goto slow;
        unsigned save = rule_save(w);
        if (save == SAVE_UNKNOWN || save > cfa - sp)
            rbp_ok = 0;
        else if (save)
            rbp = *(const uintptr_t *)(cfa - save);
        sp = cfa;
        pc = *(const uintptr_t *)(sp - 8);
        if (!pc) {
            *complete = 1;
            break;
        }
        continue;
slow:
        /* libunwind from the top, as far as needed; then the table again
         * from the frame where it stopped */
        resume = 0;
        if (++slow_walks > 3)
            stop = 0; /* bounded: no more going back to the table */
        n = slow_walk(n ? sps[0] : sp, pcs, sps, max, complete, stop, &resume, &rbp, 1, NULL);
        if (!resume)
            return n;
        stop = 0;
        rbp_ok = 1;
        n--;
        pc = pcs[n];
        sp = sps[n];
        t = atomic_load_explicit(&table, memory_order_acquire);
    }
    count_fast();
    return n;
}

/* The check (lk_unwind_set_check): libunwind walks the same stack from the
 * top, teaching the table nothing, and the return addresses are compared up
 * to where libunwind passed code without unwind information (from there on
 * it guesses, and the frame pointers the walker follows are better). */
void
lk_unwind_check_walk(uintptr_t sp, const uintptr_t *pcs, size_t n, size_t max)
{
    uintptr_t ref[LK_MAX_FRAMES], ref_sps[LK_MAX_FRAMES], rbp;
    int complete = 0, resume = 0;
    size_t trusted = SIZE_MAX;
    if (max > LK_MAX_FRAMES)
        max = LK_MAX_FRAMES;
    size_t m = slow_walk(sp, ref, ref_sps, max, &complete, 0, &resume, &rbp, 0, &trusted);
    size_t k = m < trusted ? m : trusted;
    size_t i = 0;
    while (i < k && i < n && ref[i] == pcs[i])
        i++;
    int differs = i < k || (trusted == SIZE_MAX && m != n);
    release_signals();
    if (!k && trusted != SIZE_MAX)
        return; /* libunwind guessed from the first frame on: nothing to compare */
    atomic_fetch_add_explicit(&n_checked, 1, memory_order_relaxed);
    if (differs && atomic_fetch_add_explicit(&n_differed, 1, memory_order_relaxed) == 0) {
        first_diff.frame = i;
        first_diff.got = i < n ? pcs[i] : 0;
        first_diff.want = i < m ? ref[i] : 0;
    }
}

size_t
lk_unwind_walk(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, uintptr_t *sps, size_t max,
               const struct lk_unwind_prev *prev, int *same, int *complete)
{
    size_t n = walk(pc, sp, pcs, sps, max, prev, same, complete);
    if (__builtin_expect(check_on, 0) && !*same && n)
        lk_unwind_check_walk(sps[0], pcs, n, max);
    release_signals();
    return n;
}

void
lk_unwind_set_check(int on)
{
    check_on = on;
}

int
lk_unwind_checking(void)
{
    return check_on;
}

int
lk_unwind_is_outermost(uintptr_t pc)
{
    return rule_size(lookup_now(pc)) == SIZE_OUTERMOST;
}

void
lk_unwind_check_stats(struct lk_unwind_check *out)
{
    out->checked = atomic_load_explicit(&n_checked, memory_order_relaxed);
    out->differed = atomic_load_explicit(&n_differed, memory_order_relaxed);
    out->frame = first_diff.frame;
    out->got = first_diff.got;
    out->want = first_diff.want;
}

void
lk_unwind_reset_locks(void)
{
    lk_lock_reset(&table_lock);
}

size_t
lk_unwind_bytes(void)
{
    struct pc_table *t = atomic_load_explicit(&table, memory_order_relaxed);
    return t ? (t->mask + 1) * sizeof t->e[0] : 0;
}

void
lk_unwind_stats(uint64_t *fast, uint64_t *slow)
{
    *fast = atomic_load_explicit(&n_fast, memory_order_relaxed);
    *slow = atomic_load_explicit(&n_slow, memory_order_relaxed);
}
