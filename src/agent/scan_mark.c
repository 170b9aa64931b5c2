/* The scanner (docs/SCAN.md): runs in a copy of the process made while its
 * threads were stopped, single-threaded, and never calls into glibc (its
 * copied locks may be held forever) -- raw system calls, memory from raw
 * mmap. It sorts the copied live map's blocks, reads /proc/self/maps to find
 * the roots (module writable segments, thread stacks from their stack
 * pointers, registers, other anonymous memory that holds no tracked block
 * and is not the agent's), marks what they reach, classifies the rest as
 * unreachable or indirect like valgrind, and writes per-site results and
 * redacted content samples into the shared buffer. A fault while reading
 * (a mapping the copy lacks) skips the rest of that range and marks the
 * scan PARTIAL. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "base/redact.h"
#include "block_tag.h"
#include "live_map.h"
#include "modules.h"
#include "scan.h"
#include "scan_int.h"
#include "sys.h"

#define RED_ZONE 128
#define MAPS_CAP (64u << 20)
#define MAX_MAPS 65536
#define MAX_EXCL (LK_SYS_OWN_MAX + 16)

struct blk {
    uintptr_t start;
    uint32_t size;   /* requested size (4 GiB - 1 for larger blocks) */
    uint32_t site;   /* site id | state << 24 */
    uint32_t period; /* birth period */
    uint32_t ret;    /* retainer: kind << 28 | id */
};

#define ST_NONE 0u
#define ST_REACHABLE 1u
#define ST_INDIRECT 2u
#define ST_LEADER 3u /* unreachable: the start of a flood of lost blocks */
#define SITE_OF(b) ((b)->site & 0xffffffu)
#define STATE_OF(b) ((b)->site >> 24)
#define SET_STATE(b, s) ((b)->site = SITE_OF(b) | (uint32_t)(s) << 24)
#define RET(kind, id) ((uint32_t)(kind) << 28 | ((uint32_t)(id) & 0xfffffffu))

struct map {
    uintptr_t lo, hi;
    char r, w, p;
    int anon;        /* no file behind it */
    int stacklike;   /* an anonymous mapping right above a PROT_NONE one (a thread stack) */
    const char *name;
};

struct acc {
    uint64_t count[LK_NSTATES], bytes[LK_NSTATES];
    uint32_t mg_key[LK_SCAN_RETAINERS];
    uint64_t mg_cnt[LK_SCAN_RETAINERS];     /* Misra-Gries counters (approximate) */
    uint64_t exact[LK_SCAN_RETAINERS];      /* exact counts of the kept keys, second pass */
    uint32_t cand[LK_SCAN_SAMPLES_PER_SITE]; /* block index + 1, 0 = none */
};

static struct lk_scan_result *R;
static struct blk *B;
static uintptr_t *S; /* B[i].start, for the binary search */
static size_t N;
static uintptr_t heap_lo, heap_hi;
static uint32_t *stk;
/* volatile: a fault longjmps out of a scanning loop, and a push the loop
 * kept in a register would be lost with a block marked but never scanned */
static volatile size_t nstk;
static struct map *maps;
static size_t nmaps;
static struct lk_sys_range excl[MAX_EXCL];
static size_t nexcl;
static int partial;
static void *jb[5];
/* What get_mem mapped: a scan in place shares the program's memory, and
 * gives it back before it exits (the final snapshot's RSS follows). */
static struct {
    void *p;
    size_t len;
} mem[8];
static size_t nmem;

static void *
get_mem(size_t len)
{
    long p = lk_sys_call6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p < 0 && p > -4096)
        return NULL;
    if (nmem < sizeof mem / sizeof mem[0]) {
        mem[nmem].p = (void *)p;
        mem[nmem++].len = len;
    }
    return (void *)p;
}

__attribute__((noreturn)) static void
leave(void)
{
    for (size_t i = 0; R->in_place && i < nmem; i++)
        lk_sys_call6(SYS_munmap, (long)mem[i].p, (long)mem[i].len, 0, 0, 0, 0);
    for (;;)
        lk_sys_call6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

static void
on_fault(int sig)
{
    (void)sig;
    partial = 1;
    __builtin_longjmp(jb, 1);
}

/* ---- blocks --------------------------------------------------------------- */

static void
count_cb(uintptr_t addr, const struct lk_live_info *li, void *ctx)
{
    (void)addr;
    (void)li;
    (*(size_t *)ctx)++;
}

static void
fill_cb(uintptr_t addr, const struct lk_live_info *li, void *ctx)
{
    size_t *n = ctx;
    if (*n >= N)
        return;
    struct blk *b = &B[(*n)++];
    b->start = addr;
    b->size = li->size > 0xffffffffu ? 0xffffffffu : (uint32_t)li->size;
    b->site = li->site & 0xffffffu;
    b->period = li->period;
    b->ret = 0;
}

static void
swap(struct blk *a, struct blk *b)
{
    struct blk t = *a;
    *a = *b;
    *b = t;
}

/* Iterative quicksort by start (median of three, insertion sort for short
 * ranges, the larger side deferred so the stack stays logarithmic). */
static void
sort_blocks(struct blk *a, size_t n)
{
    size_t lo_st[64], hi_st[64];
    int sp = 0;
    lo_st[sp] = 0;
    hi_st[sp++] = n;
    while (sp) {
        size_t lo = lo_st[--sp], hi = hi_st[sp];
        while (hi - lo > 16) {
            size_t mid = lo + (hi - lo) / 2;
            if (a[mid].start < a[lo].start)
                swap(&a[mid], &a[lo]);
            if (a[hi - 1].start < a[lo].start)
                swap(&a[hi - 1], &a[lo]);
            if (a[hi - 1].start < a[mid].start)
                swap(&a[hi - 1], &a[mid]);
            uintptr_t piv = a[mid].start;
            size_t i = lo, j = hi - 1;
            for (;;) {
                while (a[i].start < piv)
                    i++;
                while (a[j].start > piv)
                    j--;
                if (i >= j)
                    break;
                swap(&a[i], &a[j]);
                i++;
                j--;
            }
            /* [lo, j] <= piv <= [j + 1, hi) */
            size_t split = j + 1;
            if (split - lo < hi - split) {
                if (sp < 64) {
                    lo_st[sp] = split;
                    hi_st[sp++] = hi;
                }
                hi = split;
            } else {
                if (sp < 64) {
                    lo_st[sp] = lo;
                    hi_st[sp++] = split;
                }
                lo = split;
            }
        }
        for (size_t i = lo + 1; i < hi; i++)
            for (size_t k = i; k > lo && a[k].start < a[k - 1].start; k--)
                swap(&a[k], &a[k - 1]);
    }
}

/* Index of the block that w points to, or -1: the last block starting at
 * or below w, if w is its start (or, with interior pointers, inside it).
 * The binary search is remembered per 4 KiB page of w: the next w that
 * falls between the same two block starts (a pointer into the same large
 * block, or the same gap) is answered with two loads. cc1 at exit: 650k of
 * 2.35M heap words point into its GC's mapped chunks, and the scan took
 * 26 ms, most of it in the search. */
#define FIND_CACHE 4096
static uint32_t find_cache[FIND_CACHE]; /* last block start <= a word of the page, + 1 */

static inline long
find(uintptr_t w)
{
    if (w < heap_lo || w >= heap_hi)
        return -1;
    uint32_t *c = &find_cache[(w >> 12) & (FIND_CACHE - 1)];
    size_t lo;
    if (*c && S[*c - 1] <= w && (*c == N || S[*c] > w)) {
        lo = *c;
    } else {
        size_t hi = N;
        lo = 0;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (S[mid] <= w)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!lo)
            return -1;
        *c = (uint32_t)lo;
    }
    const struct blk *b = &B[lo - 1];
    if (w == b->start)
        return (long)(lo - 1);
    if (R->interior && w - b->start < b->size)
        return (long)(lo - 1);
    return -1;
}

/* ---- scanning ------------------------------------------------------------- */

#define SCAN_AHEAD 2048 /* bytes a scan prefetches ahead of its reads */

/* Marks, from the words of [lo, hi), every unmarked block as reachable with
 * retainer ret and pushes it. Faults end the range. */
static void
scan_root(uintptr_t lo, uintptr_t hi, uint32_t ret)
{
    lo = (lo + 7) & ~(uintptr_t)7;
    if (hi <= lo)
        return;
    uintptr_t p = lo; /* not needed after a fault: the rest of the range is skipped */
    if (__builtin_setjmp(jb))
        return;
    for (; p + 8 <= hi; p += 8) {
        /* the hardware's prefetch stops at each 4 KiB page: cc1plus's exit
         * scan of 88 MB, 72-77 ms, took 63 ms with this (docs/UNWIND.md,
         * section 19) */
        if (!(p & 63))
            __builtin_prefetch((const char *)p + SCAN_AHEAD);
        long i = find(*(const uintptr_t *)p);
        if (i >= 0 && STATE_OF(&B[i]) == ST_NONE) {
            SET_STATE(&B[i], ST_REACHABLE);
            B[i].ret = ret;
            stk[nstk++] = (uint32_t)i;
        }
    }
}

/* The readable part of [lo, hi) according to the copy's maps, in pieces. */
static void
for_readable(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t, uintptr_t, uint32_t, void *),
             uint32_t ret, void *ctx)
{
    size_t a = 0, b = nmaps;
    while (a < b) { /* first map with hi > lo */
        size_t m = (a + b) / 2;
        if (maps[m].hi <= lo)
            a = m + 1;
        else
            b = m;
    }
    for (size_t k = a; k < nmaps && maps[k].lo < hi; k++) {
        if (maps[k].r != 'r')
            continue;
        uintptr_t x = maps[k].lo > lo ? maps[k].lo : lo, y = maps[k].hi < hi ? maps[k].hi : hi;
        if (x < y)
            fn(x, y, ret, ctx);
    }
}

static void
scan_piece(uintptr_t lo, uintptr_t hi, uint32_t ret, void *ctx)
{
    (void)ctx;
    R->heap_bytes += hi - lo;
    scan_root(lo, hi, ret);
}

/* Drains the mark stack: each popped block's words mark further blocks. */
static void
drain(void)
{
    while (nstk) {
        struct blk *b = &B[stk[--nstk]];
        for_readable(b->start, b->start + b->size, scan_piece, RET(LK_RET_SITE, SITE_OF(b)), NULL);
    }
}

/* Phase two, for the blocks no root reached: words of lost blocks mark
 * further unmarked blocks INDIRECT (pushed) and earlier leaders INDIRECT
 * (not rescanned: their flood is done). */
static uint32_t flood_leader;

static void
flood_piece(uintptr_t lo, uintptr_t hi, uint32_t ret, void *ctx)
{
    (void)ctx;
    lo = (lo + 7) & ~(uintptr_t)7;
    R->heap_bytes += hi > lo ? hi - lo : 0;
    uintptr_t p = lo; /* not needed after a fault: the rest of the range is skipped */
    if (__builtin_setjmp(jb))
        return;
    for (; p + 8 <= hi; p += 8) {
        if (!(p & 63))
            __builtin_prefetch((const char *)p + SCAN_AHEAD);
        long i = find(*(const uintptr_t *)p);
        if (i < 0 || (uint32_t)i == flood_leader)
            continue;
        unsigned s = STATE_OF(&B[i]);
        if (s == ST_NONE) {
            SET_STATE(&B[i], ST_INDIRECT);
            B[i].ret = ret;
            stk[nstk++] = (uint32_t)i;
        } else if (s == ST_LEADER) {
            SET_STATE(&B[i], ST_INDIRECT);
            B[i].ret = ret;
        }
    }
}

static void
classify_lost(void)
{
    for (size_t i = 0; i < N; i++) {
        if (STATE_OF(&B[i]) != ST_NONE)
            continue;
        SET_STATE(&B[i], ST_LEADER);
        flood_leader = (uint32_t)i;
        stk[nstk++] = (uint32_t)i;
        while (nstk) {
            struct blk *b = &B[stk[--nstk]];
            for_readable(b->start, b->start + b->size, flood_piece, RET(LK_RET_SITE, SITE_OF(b)),
                         NULL);
        }
    }
}

/* ---- roots ---------------------------------------------------------------- */

static uintptr_t
hex(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

static int
read_maps(void)
{
    char *buf = get_mem(MAPS_CAP);
    maps = get_mem(MAX_MAPS * sizeof *maps);
    if (!buf || !maps)
        return -1;
    /* the maps text and the array are in the maps themselves: no roots (the
     * array, 2.6 MB of zero pages, was 97% of ld's root bytes at exit, and
     * reading it faulted in a page per 4 KiB) */
    excl[nexcl].lo = (uintptr_t)buf;
    excl[nexcl++].hi = (uintptr_t)buf + MAPS_CAP;
    excl[nexcl].lo = (uintptr_t)maps;
    excl[nexcl++].hi = (uintptr_t)maps + MAX_MAPS * sizeof *maps;
    int fd = (int)lk_sys_call6(SYS_open, (long)"/proc/self/maps", 0, 0, 0, 0, 0);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        long n = lk_sys_call6(SYS_read, fd, (long)(buf + len), (long)(MAPS_CAP - 1 - len), 0, 0, 0);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len >= MAPS_CAP - 1) {
            partial = 1;
            break;
        }
    }
    lk_sys_call6(SYS_close, fd, 0, 0, 0, 0, 0);
    buf[len] = 0;
    for (const char *s = buf; *s && nmaps < MAX_MAPS;) {
        struct map *m = &maps[nmaps];
        m->lo = hex(&s);
        if (*s++ != '-')
            break;
        m->hi = hex(&s);
        s++;
        m->r = s[0];
        m->w = s[1];
        m->p = s[3];
        s += 5;
        while (*s && *s != ' ') /* offset */
            s++;
        s++;
        while (*s && *s != ' ') /* dev */
            s++;
        s++;
        uintptr_t inode = 0;
        for (; *s >= '0' && *s <= '9'; s++)
            inode = inode * 10 + (uintptr_t)(*s - '0');
        while (*s == ' ')
            s++;
        m->name = s;
        m->anon = inode == 0 && (*s == 0 || *s == '\n' || *s == '[');
        while (*s && *s != '\n')
            s++;
        if (*s == '\n')
            *(char *)s++ = 0;
        const struct map *prev = nmaps ? &maps[nmaps - 1] : NULL;
        m->stacklike = m->anon && !m->name[0] && prev && prev->hi == m->lo && prev->anon &&
                       prev->r == '-' && prev->w == '-';
        nmaps++;
    }
    return 0;
}

static int
excl_cmp_less(const struct lk_sys_range *a, const struct lk_sys_range *b)
{
    return a->lo < b->lo;
}

static void
sort_excl(void)
{
    for (size_t i = 1; i < nexcl; i++)
        for (size_t k = i; k > 0 && excl_cmp_less(&excl[k], &excl[k - 1]); k--) {
            struct lk_sys_range t = excl[k];
            excl[k] = excl[k - 1];
            excl[k - 1] = t;
        }
}

/* Scans [lo, hi) as a root, less the agent's own ranges. */
static void
root_minus_agent(uintptr_t lo, uintptr_t hi, uint32_t ret)
{
    for (size_t k = 0; k < nexcl && lo < hi; k++) {
        if (excl[k].hi <= lo)
            continue;
        if (excl[k].lo >= hi)
            break;
        if (excl[k].lo > lo) {
            R->root_bytes += excl[k].lo - lo;
            scan_root(lo, excl[k].lo, ret);
        }
        lo = excl[k].hi;
    }
    if (lo < hi) {
        R->root_bytes += hi - lo;
        scan_root(lo, hi, ret);
    }
}

static int
has_block(uintptr_t lo, uintptr_t hi)
{
    size_t a = 0, b = N;
    while (a < b) { /* first block with start >= lo */
        size_t m = (a + b) / 2;
        if (S[m] < lo)
            a = m + 1;
        else
            b = m;
    }
    if (a < N && S[a] < hi)
        return 1;
    return a > 0 && B[a - 1].start + B[a - 1].size > lo; /* one that runs into it */
}

/* The stack pointer of a live thread inside [lo, hi), 0 if none. */
static uintptr_t
sp_in(uintptr_t lo, uintptr_t hi, int *is_caller)
{
    uintptr_t best = 0;
    *is_caller = 0;
    for (int i = 0; i < R->nthreads; i++) {
        const struct lk_scan_thread *t = &R->thr[i];
        uintptr_t sp = (uintptr_t)t->regs[LK_SCAN_REG_SP];
        if (t->have_regs && t->tid != R->agent_tid && sp >= lo && sp < hi && (!best || sp < best))
            best = sp;
    }
    if (R->caller_sp >= lo && R->caller_sp < hi && (!best || R->caller_sp < best)) {
        best = R->caller_sp;
        *is_caller = 1;
    }
    return best;
}

static const struct map *
map_of(uintptr_t a)
{
    size_t lo = 0, hi = nmaps;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (maps[m].hi <= a)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < nmaps && maps[lo].lo <= a ? &maps[lo] : NULL;
}

/* glibc puts a thread's descriptor (struct pthread, where fs_base points)
 * at the top of its stack mapping, static TLS below it. Its size, from a
 * stopped thread, else from libthread_db's symbol: the descriptor of a dead
 * thread whose stack glibc caches still holds its dtv (a malloc'd block
 * glibc reuses), but its static TLS holds nothing live. The agent's task
 * has a thread area of its own (task.c), which is no stack's top. 0 when
 * unknown. */
static uintptr_t
tcb_span(void)
{
    uintptr_t span = 0;
    for (int i = 0; i < R->nthreads; i++) {
        const struct lk_scan_thread *t = &R->thr[i];
        const struct map *m =
            t->have_regs && t->tid != R->agent_tid ? map_of((uintptr_t)t->regs[21]) : NULL;
        if (m && m->stacklike && m->hi - (uintptr_t)t->regs[21] > span)
            span = m->hi - (uintptr_t)t->regs[21];
    }
    if (!span)
        span = R->tcb_size;
    return span < 65536 ? span : 0;
}

static void
scan_roots(void)
{
    int agent_mod = (int)lk_modules_locate((uintptr_t)&lk_scan_mark_main).module;
    int regs = R->regs_ok;
    uintptr_t tcb = tcb_span();
    for (size_t k = 0; k < nmaps; k++) {
        const struct map *m = &maps[k];
        if (m->r != 'r' || m->w != 'w' || m->p != 'p')
            continue;
        struct lk_frame f = lk_modules_locate(m->lo);
        if (f.module) {
            if ((int)f.module != agent_mod)
                root_minus_agent(m->lo, m->hi, RET(LK_RET_MODULE, f.module));
            continue;
        }
        if (!m->anon)
            continue; /* a file mapped by the program: not a root */
        int is_stack = !__builtin_strcmp(m->name, "[stack]");
        if (m->name[0] && !is_stack && __builtin_strcmp(m->name, "[heap]") != 0)
            continue; /* [vvar], [vsyscall], ... */
        if (R->agent_sp >= m->lo && R->agent_sp < m->hi) {
            /* the agent's task's stack (an own range, taken out), and what
             * the kernel merged with it: plain memory, though the mapping
             * sits above the stack's guard page */
            root_minus_agent(m->lo, m->hi, RET(LK_RET_OTHER, 0));
            continue;
        }
        int caller;
        uintptr_t sp = sp_in(m->lo, m->hi, &caller);
        if (sp) { /* a live thread's stack, from its stack pointer (less the red zone) */
            uintptr_t from = sp - RED_ZONE > m->lo ? sp - RED_ZONE : m->lo;
            root_minus_agent(from, m->hi, RET(LK_RET_STACK, 0));
            continue;
        }
        if (has_block(m->lo, m->hi))
            continue; /* heap: its blocks are scanned when reached */
        if (regs && (m->stacklike || is_stack)) {
            /* the stack of a thread that exited (glibc caches them): only its
             * descriptor is live */
            if (m->stacklike && tcb && m->hi - m->lo > tcb)
                root_minus_agent(m->hi - tcb, m->hi, RET(LK_RET_OTHER, 0));
            continue;
        }
        root_minus_agent(m->lo, m->hi, RET(is_stack || m->stacklike ? LK_RET_STACK : LK_RET_OTHER, 0));
    }
    /* Registers of the stopped threads. */
    for (int i = 0; i < R->nthreads; i++) {
        const struct lk_scan_thread *t = &R->thr[i];
        if (!t->have_regs || t->tid == R->agent_tid)
            continue;
        R->threads++;
        for (int k = 0; k < LK_SCAN_NREGS; k++) {
            long b = find((uintptr_t)t->regs[k]);
            if (b >= 0 && STATE_OF(&B[b]) == ST_NONE) {
                SET_STATE(&B[b], ST_REACHABLE);
                B[b].ret = RET(LK_RET_STACK, 0);
                stk[nstk++] = (uint32_t)b;
            }
        }
    }
    if (R->caller_sp)
        R->threads++;
}

/* ---- results -------------------------------------------------------------- */

static unsigned
out_state(unsigned s)
{
    return s == ST_REACHABLE ? LK_BLOCK_REACHABLE
           : s == ST_INDIRECT ? LK_BLOCK_INDIRECT
                              : LK_BLOCK_UNREACHABLE;
}

static void
mg_add(struct acc *a, uint32_t key)
{
    for (int k = 0; k < LK_SCAN_RETAINERS; k++)
        if (a->mg_cnt[k] && a->mg_key[k] == key) {
            a->mg_cnt[k]++;
            return;
        }
    for (int k = 0; k < LK_SCAN_RETAINERS; k++)
        if (!a->mg_cnt[k]) {
            a->mg_key[k] = key;
            a->mg_cnt[k] = 1;
            return;
        }
    for (int k = 0; k < LK_SCAN_RETAINERS; k++)
        a->mg_cnt[k]--;
}

static void
copy_sample(struct lk_scan_sample_res *s, const struct blk *b)
{
    size_t want = b->size < R->content ? b->size : R->content;
    s->len = 0;
    volatile size_t got = 0;
    if (!__builtin_setjmp(jb)) {
        /* only bytes inside readable maps */
        for (; got < want; got++) {
            uintptr_t a = b->start + got;
            const struct map *m = map_of(a);
            if (!m || m->r != 'r')
                break;
            s->content[got] = *(const uint8_t *)a;
        }
    }
    s->len = (uint32_t)got;
    lk_redact(s->content, s->len, s->mask);
}

static void
results(uint64_t t0)
{
    uint32_t max_site = 0;
    for (size_t i = 0; i < N; i++)
        if (SITE_OF(&B[i]) > max_site)
            max_site = SITE_OF(&B[i]);
    struct acc *acc = get_mem(((size_t)max_site + 1) * sizeof *acc);
    if (!acc)
        return;
    static const unsigned pref[4] = {3, 1, 2, 0}; /* lower is better: unreachable, indirect, reachable */
    for (size_t i = 0; i < N; i++) {
        const struct blk *b = &B[i];
        struct acc *a = &acc[SITE_OF(b)];
        unsigned st = out_state(STATE_OF(b));
        a->count[st]++;
        a->bytes[st] += b->size;
        if (st != LK_BLOCK_UNREACHABLE)
            mg_add(a, b->ret);
        if (R->content) {
            int slot = -1;
            for (int k = 0; k < LK_SCAN_SAMPLES_PER_SITE && slot < 0; k++)
                if (!a->cand[k])
                    slot = k;
            if (slot < 0) { /* replace the worst candidate when this one is better */
                int worst = 0;
                for (int k = 1; k < LK_SCAN_SAMPLES_PER_SITE; k++)
                    if (pref[STATE_OF(&B[a->cand[k] - 1])] > pref[STATE_OF(&B[a->cand[worst] - 1])])
                        worst = k;
                if (pref[STATE_OF(b)] < pref[STATE_OF(&B[a->cand[worst] - 1])])
                    slot = worst;
            }
            if (slot >= 0)
                a->cand[slot] = (uint32_t)i + 1;
        }
    }
    /* Exact counts for the retainers Misra-Gries kept. */
    for (size_t i = 0; i < N; i++) {
        const struct blk *b = &B[i];
        struct acc *a = &acc[SITE_OF(b)];
        if (out_state(STATE_OF(b)) == LK_BLOCK_UNREACHABLE)
            continue;
        for (int k = 0; k < LK_SCAN_RETAINERS; k++)
            if (a->mg_cnt[k] && a->mg_key[k] == b->ret) {
                a->exact[k]++;
                break;
            }
    }
    for (uint32_t id = 1; id <= max_site; id++) {
        struct acc *a = &acc[id];
        if (!a->count[0] && !a->count[1] && !a->count[2])
            continue;
        if (R->nsites >= R->max_sites) {
            partial = 1;
            break;
        }
        struct lk_scan_site_res *s = &R->sites[R->nsites++];
        s->site = id;
        for (int k = 0; k < LK_NSTATES; k++) {
            s->count[k] = a->count[k];
            s->bytes[k] = a->bytes[k];
        }
        s->nret = 0;
        for (int k = 0; k < LK_SCAN_RETAINERS; k++) { /* by exact count, largest first */
            int best = -1;
            for (int j = 0; j < LK_SCAN_RETAINERS; j++)
                if (a->exact[j] && (best < 0 || a->exact[j] > a->exact[best]))
                    best = j;
            if (best < 0)
                break;
            s->ret_kind[s->nret] = a->mg_key[best] >> 28;
            s->ret_id[s->nret] = a->mg_key[best] & 0xfffffff;
            s->ret_count[s->nret] = a->exact[best];
            s->nret++;
            a->exact[best] = 0;
        }
    }
    /* Samples: sites with lost blocks first, then the others. */
    for (int pass = 0; pass < 2 && R->content; pass++)
        for (uint32_t id = 1; id <= max_site; id++) {
            struct acc *a = &acc[id];
            int lost = a->count[LK_BLOCK_UNREACHABLE] || a->count[LK_BLOCK_INDIRECT];
            if (lost != (pass == 0))
                continue;
            for (int k = 0; k < LK_SCAN_SAMPLES_PER_SITE && a->cand[k]; k++) {
                if (R->nsamples >= LK_SCAN_MAX_SAMPLES)
                    break;
                const struct blk *b = &B[a->cand[k] - 1];
                struct lk_scan_sample_res *s = &R->samples[R->nsamples++];
                s->site = id;
                s->state = out_state(STATE_OF(b));
                s->size = b->size;
                s->period = b->period;
                copy_sample(s, b);
            }
        }
    (void)t0;
}

void
lk_scan_mark_main(struct lk_scan_result *r)
{
    uint64_t t0 = lk_scan_now_ns();
    uint64_t segv = (1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1));
    R = r;
    nmem = nmaps = 0;
    nstk = 0;
    partial = 0;
    lk_sys_raw_sigaction(SIGSEGV, on_fault, SA_NODEFER);
    lk_sys_raw_sigaction(SIGBUS, on_fault, SA_NODEFER);
    lk_sys_call6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&segv, 0, 8, 0, 0);
    nexcl = lk_sys_own_ranges(excl, LK_SYS_OWN_MAX);
    if (read_maps() < 0)
        leave();
    sort_excl();
    /* The copy's live-map locks are held (by the caller, in the original):
     * nobody else runs here, so they are released to walk the map. In
     * place, the caller released them. */
    if (!r->in_place)
        lk_live_map_unlock_all();
    size_t n = 0;
    lk_live_map_foreach(count_cb, &n);
    lk_block_tag_foreach(count_cb, &n);
    N = n;
    B = get_mem((N + 1) * sizeof *B);
    S = get_mem((N + 1) * sizeof *S);
    stk = get_mem((N + 1) * sizeof *stk);
    if (!B || !S || !stk)
        leave();
    n = 0;
    lk_live_map_foreach(fill_cb, &n);
    lk_block_tag_foreach(fill_cb, &n);
    N = n;
    sort_blocks(B, N);
    for (size_t i = 0; i < FIND_CACHE; i++)
        find_cache[i] = 0;
    heap_lo = N ? B[0].start : 0;
    heap_hi = 0;
    for (size_t i = 0; i < N; i++) {
        S[i] = B[i].start;
        uintptr_t end = B[i].start + (B[i].size ? B[i].size : 1);
        if (end > heap_hi)
            heap_hi = end;
    }
    scan_roots();
    drain();
    classify_lost();
    results(t0);
    r->blocks = N;
    r->flags = (r->regs_ok ? LK_SCAN_REGISTERS : 0) | (r->interior ? LK_SCAN_INTERIOR : 0) |
               (partial ? LK_SCAN_PARTIAL : 0) | (r->in_place ? LK_SCAN_IN_PLACE : 0);
    r->scan_ns = lk_scan_now_ns() - t0;
    __atomic_store_n(&r->scanned, 1, __ATOMIC_RELEASE);
    leave();
}
