/* The agent's lifecycle: start-up from a constructor (options, recording
 * file, tables, the agent's task), the per-block hooks called by
 * interpose.c, the task's snapshot loop, fork handling, and the final
 * snapshot at exit or on a fatal signal. The hooks and start-up run with
 * the re-entrancy guard set, so whatever they or libunwind allocate passes
 * through untracked; the task allocates nothing and keeps task.h's rules;
 * the recorder lock (outermost rank) serializes writes to the recording. */
#include "agent.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "base/crc32.h"
#include "base/err.h"
#include "base/fmt.h"
#include "lock.h"
#include "modules.h"
#include "options.h"
#include "procmem.h"
#include "record/reader.h"
#include "scan.h"
#include "site_batch.h"
#include "site_table.h"
#include "snapshot.h"
#include "sys.h"
#include "stack_cache.h"
#include "task.h"
#include "unwind.h"

__thread int lk_guard __attribute__((tls_model("initial-exec")));
__thread int lk_probe_hit __attribute__((tls_model("initial-exec")));
atomic_int lk_state;

static atomic_uint period;         /* current period index, advanced by the task */
static atomic_uint_least64_t untracked_frees;
static struct lk_options opts;
static struct lk_recorder rec;
static struct lk_lock rec_lock = LK_LOCK_INIT;
static char rec_path[LK_PATH_MAX];
static atomic_int fatal_sig;       /* a fatal signal the thread must handle */
static atomic_uint snap_requested; /* leakscope_snapshot_now() calls so far */
static atomic_uint snap_written;   /* requests the task has served */
static atomic_int final_done;      /* the final snapshot is written */
static atomic_uint scan_requested; /* leakscope_scan_now() calls so far */
static atomic_uint scan_served;    /* of those, how many the task served */
static atomic_int scan_last_ok;    /* the last served request wrote a SCAN record */
static atomic_int scan_sig_hit;    /* the scan signal arrived */
static uint64_t scan_seq;          /* next SCAN record's number (recorder lock) */
static int scan_noted;             /* a NOTE about scans was written (recorder lock) */
static atomic_int owned_sig[NSIG]; /* signals whose SIG_DFL we replaced */
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static struct lk_info info;
static size_t page_mask = 4095; /* page size - 1 */
static char cmdline[4096];
static size_t cmdline_len;
static char exe[LK_PATH_MAX];

/* ---- per-block hooks ---------------------------------------------------- */

/* ---- sampling (docs/SAMPLING.md) ---------------------------------------- */

uint64_t lk_sample_mean;
__thread int64_t lk_sample_left __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));

/* Next gap between sample points: exponential with mean lk_sample_mean. */
static int64_t
draw_gap(void)
{
    if (!rng) /* seed per thread: address of a TLS variable and the time */
        rng = ((uint64_t)(uintptr_t)&rng ^ lk_sys_now_ns()) | 1;
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    double u = (double)((rng * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53; /* [0, 1) */
    double gap = -log1p(-u) * (double)lk_sample_mean;
    return gap < 1 ? 1 : gap > 9e18 ? (int64_t)9e18 : (int64_t)gap;
}

/* Sampled mode, on the slow path after lk_agent_sample() said "maybe": is
 * this block of n bytes sampled? A Poisson process of sample points runs
 * over the bytes the thread allocates; a block is sampled when at least one
 * point falls inside it. lk_sample_left counts down to the next point. */
static int
sampled(size_t n)
{
    if (!rng) { /* the thread's first allocation: start its process */
        lk_sample_left += draw_gap();
        if (lk_sample_left > 0)
            return 0;
    }
    while (lk_sample_left <= 0)
        lk_sample_left += draw_gap();
    (void)n;
    return 1;
}

/* What a tracked block of n bytes stands for: itself in full tracking; in
 * sampled mode 1/P blocks and n/P bytes, P = 1 - exp(-n/S) being its chance
 * to be sampled, which makes the estimates unbiased. Deterministic in n, so
 * the free subtracts exactly what the allocation added. */
__attribute__((noinline)) static void
weigh_sampled(uint64_t n, uint64_t *count, uint64_t *bytes)
{
    double w = -1.0 / expm1(-(double)(n ? n : 1) / (double)lk_sample_mean);
    *count = (uint64_t)(w + 0.5);
    *bytes = (uint64_t)((double)n * w + 0.5);
}

/* Inline for full tracking's sake: as a call it cost 21 instructions per
 * block, on a path of about 450 (cachegrind, bench_hook_cost). */
static inline void
weigh(uint64_t n, int kind, uint64_t *count, uint64_t *bytes)
{
    if (__builtin_expect(!lk_sample_mean || kind == LK_KIND_MMAP, 1)) {
        *count = 1;
        *bytes = n;
        return;
    }
    weigh_sampled(n, count, bytes);
}

static inline void
account_free(const struct lk_live_info *li)
{
    uint64_t c, b;
    struct lk_site *s = lk_site_get(li->site);
    if (!s)
        return;
    weigh(li->size, s->kind, &c, &b);
    lk_site_batch_free(s, li->period, c, b);
}

/* errno's address on this thread, for the hooks to keep errno as the
 * program left it: errno itself is a call to __errno_location through the
 * PLT, twice per hooked call (1% of perl's run under full tracking). */
static __thread int *errno_at __attribute__((tls_model("initial-exec")));

static inline int *
my_errno(void)
{
    int *e = errno_at;
    if (__builtin_expect(!e, 0))
        e = errno_at = &errno;
    return e;
}

/* A tagged block whose tag does not check when it is freed: the program
 * wrote past the end of its block. Said once; the free counts as untracked
 * (its site keeps the block as live). */
__attribute__((noinline, cold)) static void
overwritten_tag(void)
{
    static atomic_int said;
    atomic_fetch_add_explicit(&untracked_frees, 1, memory_order_relaxed);
    if (!atomic_exchange(&said, 1))
        lk_sys_log("a freed block's last bytes were overwritten: the program wrote past the end "
                   "of a heap block (its free is not counted)");
}

_Static_assert(LK_MAX_SITES <= LK_TAG_SITE_MASK, "every site id fits a tag");

/* Puts a block in its tag when tagged (the interposer asked glibc for the
 * tag's room: lk_agent_pad) and the tag takes it, else in the live map.
 * 0; 1 when the live map replaced the entry of a block whose free was
 * missed (*old, to account as freed; a missed tagged block's tag is lost,
 * so nothing is returned for it); negative when neither took the block. */
static int
place(void *p, uint64_t size, uint32_t site, uint32_t per, int tagged, struct lk_live_info *old)
{
    int r = tagged ? lk_block_tag_put(p, size, site, per) : -EINVAL;
    if (r >= 0)
        return 0;
    return lk_live_map_insert((uintptr_t)p, size, site, per, old);
}

/* What the agent's task may not do (task.h), done by the program's threads
 * from the hooks: the first hook of each period updates the module list
 * and, while the program has one thread, calls mallinfo2; a hook whose site
 * is newer than any seen so far updates the module list at once when one of
 * the new sites' frames lies outside every module (a library dlopen'ed
 * since), so that the next snapshot can locate them. No agent lock is held
 * here. mallinfo2 only from a malloc-family hook: an mmap hook may run in a
 * signal handler that interrupted glibc's malloc, which, single-threaded,
 * holds no lock that would keep mallinfo2 out. The two words share a line
 * that the hooks only read. */
static struct {
    atomic_uint period;
    atomic_uint sites;
} hook_seen __attribute__((aligned(64)));

__attribute__((noinline, cold)) static void
hook_work(uint32_t per, uint32_t site_id, enum lk_kind kind)
{
    int *ep = my_errno(), saved = *ep;
    unsigned seen = atomic_load(&hook_seen.sites);
    if (site_id > seen && atomic_compare_exchange_strong(&hook_seen.sites, &seen, site_id)) {
        int outside = 0;
        uintptr_t lo = 1, hi = 0; /* the module that covered the last frame */
        for (uint32_t id = seen + 1; id <= site_id && !outside; id++) {
            const struct lk_site *s = lk_site_get(id);
            for (unsigned i = 0; s && i < s->depth && !outside; i++)
                if (s->frames[i] < lo || s->frames[i] >= hi)
                    outside = !lk_modules_covers(s->frames[i], &lo, &hi);
        }
        if (outside)
            lk_modules_update();
    }
    unsigned p = atomic_load(&hook_seen.period);
    if (p != per && atomic_compare_exchange_strong(&hook_seen.period, &p, per)) {
        lk_modules_update();
        if (__libc_single_threaded && kind == LK_KIND_HEAP)
            lk_procmem_mallinfo(LK_PROCMEM_RATED);
    }
    *ep = saved;
}

/* The stack cache missed: walk. libunwind may change errno. */
__attribute__((noinline)) static struct lk_site *
walk(uintptr_t pc, uintptr_t sp, enum lk_kind kind)
{
    int *ep = my_errno(), saved = *ep;
    struct lk_site *s = lk_stack_cache_walk(pc, sp, kind, opts.depth);
    *ep = saved;
    return s;
}

/* A block the tags do not take (a large one, a mapping, sampled mode, a
 * block without the tag's room): the live map. */
__attribute__((noinline)) static void
track_in_map(void *p, size_t size, enum lk_kind kind, struct lk_site *s, uint32_t per)
{
    struct lk_live_info old;
    int *ep = my_errno(), saved = *ep;
    int r = lk_live_map_insert((uintptr_t)p, size, s->id, per, &old);
    if (r >= 0) {
        uint64_t c, b;
        weigh(size, kind, &c, &b);
        lk_site_batch_alloc(s, size, per, c, b);
    }
    if (r == 1)
        account_free(&old);
    *ep = saved;
}

/* Records a block of `size` bytes at p. The commonest case -- a small heap
 * block in full tracking, from a stack in the thread's cache -- runs
 * inline here without a call: the stack cache's compare and loads, the
 * tag's store, three additions to the thread's batch (docs/UNWIND.md,
 * section 11). Nothing on that path changes errno; the calls off it keep
 * it. */
static inline __attribute__((always_inline)) void
track(void *p, size_t size, enum lk_kind kind, uintptr_t pc, uintptr_t sp)
{
    lk_guard = 1;
    int tagged = kind == LK_KIND_HEAP && lk_agent_pad(size);
    if (!tagged)
        lk_live_map_prefetch((uintptr_t)p);
    struct lk_site *s = lk_stack_cache_find(pc, sp, kind);
    if (__builtin_expect(!s, 0))
        s = walk(pc, sp, kind);
    if (s) {
        uint32_t per = atomic_load_explicit(&period, memory_order_relaxed);
        /* a tagged block is a heap block in full tracking: it stands for
         * itself (weigh) */
        if (__builtin_expect(tagged && lk_block_tag_put(p, size, s->id, per) == 0, 1))
            lk_site_batch_alloc(s, size, per, 1, size);
        else
            track_in_map(p, size, kind, s, per);
        if (__builtin_expect(per != atomic_load_explicit(&hook_seen.period, memory_order_relaxed) ||
                                 s->id > atomic_load_explicit(&hook_seen.sites, memory_order_relaxed),
                             0))
            hook_work(per, s->id, kind);
    }
    lk_guard = 0;
}

/* Takes p out of the tags or the live map: 1 with *li, 0 when untracked. */
static inline int
untrack(void *p, struct lk_live_info *li)
{
    int t = lk_block_tag_take(p, li);
    if (__builtin_expect(t < 0, 0)) {
        overwritten_tag();
        return 0;
    }
    return t || lk_live_map_remove((uintptr_t)p, li);
}

/* Sampled mode: the allocation passed lk_agent_sample()'s countdown. */
__attribute__((noinline)) static void
on_alloc_sampled(void *p, size_t size, uintptr_t pc, uintptr_t sp)
{
    if (sampled(size))
        track(p, size, LK_KIND_HEAP, pc, sp);
}

static inline __attribute__((always_inline)) void
on_alloc(void *p, size_t size, uintptr_t pc, uintptr_t sp)
{
    if (lk_sample_mean) {
        on_alloc_sampled(p, size, pc, sp);
        return;
    }
    track(p, size, LK_KIND_HEAP, pc, sp);
}

void
lk_agent_on_alloc(void *p, size_t size, uintptr_t pc, uintptr_t sp)
{
    on_alloc(p, size, pc, sp);
}

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);

/* malloc and calloc past the exported functions' sampled-mode fast path:
 * the real allocation and the record in one function, one frame (a
 * function of interpose.c calling lk_agent_on_alloc saved and restored six
 * registers twice: perl's workload took 3,065M instructions then, 3,017M
 * now; docs/UNWIND.md, section 20). With a frame pointer, as the
 * interposers have: the walk takes the program's rbp from the slot below
 * the caller's CFA (lk_unwind_walk), where the interposer saved it and
 * this function's first push saves it again (the interposer popped it
 * before its tail call); a push of another register there broke node's
 * and python's stacks (test_unwind_check). */
#define LK_FRAME_POINTER __attribute__((optimize("no-omit-frame-pointer")))

LK_FRAME_POINTER void *
lk_agent_malloc(size_t n, uintptr_t pc, uintptr_t sp)
{
    void *p = __libc_malloc(n + lk_agent_room(n));
    if (p && lk_agent_tracking()) {
        if (lk_agent_sample(n))
            on_alloc(p, n, pc, sp);
    } else if (lk_guard == LK_GUARD_PROBE)
        lk_probe_hit = 1;
    return p;
}

LK_FRAME_POINTER void *
lk_agent_calloc(size_t n, size_t size, uintptr_t pc, uintptr_t sp)
{
    size_t total, room = __builtin_mul_overflow(n, size, &total) ? 0 : lk_agent_room(total);
    void *p = room ? __libc_calloc(1, total + room) : __libc_calloc(n, size);
    if (p && lk_agent_tracking() && lk_agent_sample(n * size)) /* calloc checked n * size */
        on_alloc(p, n * size, pc, sp);
    return p;
}

void
lk_agent_on_map(void *p, size_t len, uintptr_t pc, uintptr_t sp)
{
    if (opts.track_mmap)
        track(p, (len + page_mask) & ~page_mask, LK_KIND_MMAP, pc, sp);
}

void
lk_agent_on_unmap(void *p, size_t len)
{
    struct lk_live_info li, old;
    int *ep = my_errno(), saved = *ep;
    lk_guard = 1;
    len = (len + page_mask) & ~page_mask;
    if (lk_live_map_remove((uintptr_t)p, &li)) {
        struct lk_site *s = lk_site_get(li.site);
        if (!s || s->kind != LK_KIND_MMAP) {
            /* not a mapping we saw (a heap block's address): leave it */
            lk_live_map_insert((uintptr_t)p, li.size, li.site, li.period, &old);
        } else if (li.size > len) {
            /* unmapped at its start: the rest lives on. Unmapping the middle or
             * end of a mapping is not seen; the mapping then counts whole. */
            if (lk_live_map_insert((uintptr_t)p + len, li.size - len, li.site, li.period, &old) >= 0)
                lk_site_on_shrink(s, len, li.period);
            else
                account_free(&li);
        } else {
            account_free(&li);
        }
    }
    lk_guard = 0;
    *ep = saved;
}

/* A free the tags did not answer: the live map, or an overwritten tag. */
__attribute__((noinline)) static void
free_untagged(void *p, int tag)
{
    struct lk_live_info li;
    int *ep = my_errno(), saved = *ep;
    if (tag < 0)
        overwritten_tag();
    else if (lk_live_map_remove((uintptr_t)p, &li))
        account_free(&li);
    else
        atomic_fetch_add_explicit(&untracked_frees, 1, memory_order_relaxed);
    *ep = saved;
}

/* Like track(), the commonest case (a tagged block) runs inline without
 * changing errno. */
void
lk_agent_on_free(void *p)
{
    struct lk_live_info li;
    lk_guard = 1;
    int t = lk_block_tag_take(p, &li);
    if (__builtin_expect(t > 0, 1)) {
        /* a tagged block is a heap block in full tracking (weigh: itself) */
        struct lk_site *s = lk_site_get(li.site);
        if (s)
            lk_site_batch_free(s, li.period, 1, li.size);
    } else {
        free_untagged(p, t);
    }
    lk_guard = 0;
}

int
lk_agent_untrack(void *p, struct lk_live_info *out)
{
    int *ep = my_errno(), saved = *ep;
    lk_guard = 1;
    int found = untrack(p, out);
    if (found)
        account_free(out);
    lk_guard = 0;
    *ep = saved;
    return found;
}

void
lk_agent_retrack(void *p, const struct lk_live_info *li)
{
    struct lk_live_info old;
    int *ep = my_errno(), saved = *ep;
    lk_guard = 1;
    struct lk_site *s = lk_site_get(li->site);
    if (s && place(p, li->size, li->site, li->period,
                   s->kind == LK_KIND_HEAP && lk_agent_pad(li->size), &old) >= 0) {
        uint64_t c, b;
        weigh(li->size, s->kind, &c, &b);
        lk_site_batch_alloc(s, li->size, li->period, c, b);
    }
    lk_guard = 0;
    *ep = saved;
}

/* ---- recording ---------------------------------------------------------- */

static void
log2s(const char *a, const char *b, const char *c)
{
    char msg[LK_PATH_MAX + 256];
    struct lk_fmt f;
    lk_fmt_init(&f, msg, sizeof msg);
    lk_fmt_str(&f, a);
    lk_fmt_str(&f, b);
    lk_fmt_str(&f, c);
    lk_sys_log(msg);
}

/* pid in the INFO record of an existing recording, 0 when unreadable. */
static int
owner_of(const char *path)
{
    static uint8_t buf[8192]; /* start-up only, single-threaded */
    struct lk_reader r;
    struct lk_record rec1;
    struct lk_info in;
    int fd = lk_sys_open_read(path);
    if (fd < 0)
        return 0;
    ssize_t n = lk_sys_read(fd, buf, sizeof buf);
    lk_sys_close(fd);
    if (n <= 0 || lk_reader_open(&r, path, buf, (size_t)n) < 0 || lk_reader_next(&r, &rec1) != 1 ||
        rec1.type != LK_REC_INFO || lk_info_decode(rec1.payload, rec1.len, &in) < 0)
        return 0;
    return (int)in.pid;
}

static void
with_suffix(char *dst, const char *path, const char *suffix, uint64_t num)
{
    struct lk_fmt f;
    lk_fmt_init(&f, dst, LK_PATH_MAX);
    lk_fmt_str(&f, path);
    lk_fmt_str(&f, suffix);
    if (num)
        lk_fmt_u64(&f, num);
}

/* Creates the recording, and marks this process as its owner in the
 * environment (LEAKSCOPE_OWNER=pid), which exec'd images inherit -- unless
 * a shell keeps its own copy of the environment (dash, bash), so the pid in
 * an existing file's INFO record counts as the owner too:
 * - the same pid after an exec (a shell script or a launcher such as a
 *   pyenv shim exec'ing the real program): the earlier image's file is kept
 *   as NAME.pre-exec and a new one started under NAME, quietly;
 * - another pid whose recording process is alive (a child exec'd by the
 *   recorded process): stays dormant, unless LEAKSCOPE_FOLLOW_EXEC=1, when it
 *   records to NAME.PID;
 * - an existing file from no live owner (a restarted service): NAME.PID.
 * Returns the fd, or negative (dormant). */
static int
open_recording(int *quiet_start)
{
    const char *base = exe;
    int self = lk_sys_getpid(), owner = 0;
    const char *e = getenv("LEAKSCOPE_OWNER");
    for (; e && *e >= '0' && *e <= '9'; e++)
        owner = owner * 10 + (*e - '0');
    for (const char *p = exe; *p; p++)
        if (*p == '/')
            base = p + 1;
    if (opts.out[0]) {
        with_suffix(rec_path, opts.out, "", 0);
    } else {
        struct lk_fmt f;
        lk_fmt_init(&f, rec_path, sizeof rec_path);
        lk_fmt_str(&f, "leakscope.");
        lk_fmt_str(&f, base[0] ? base : "process");
        lk_fmt_str(&f, ".");
        lk_fmt_u64(&f, (uint64_t)self);
        lk_fmt_str(&f, ".lsr");
    }
    int child = owner && owner != self && lk_sys_process_alive(owner);
    if (child && !opts.follow_exec)
        return -EEXIST;
    *quiet_start = owner == self;
    int fd = lk_sys_create(rec_path);
    if (fd == -EEXIST) {
        char alt[LK_PATH_MAX];
        int fowner = owner == self ? self : owner_of(rec_path);
        if (fowner == self) {
            owner = self; /* maybe exec'd by a shell that dropped LEAKSCOPE_OWNER */
            *quiet_start = 1;
        } else if (fowner && lk_sys_process_alive(fowner) && !opts.follow_exec) {
            return -EEXIST; /* a child of the recorded process: not followed */
        }
        if (owner == self) {
            with_suffix(alt, rec_path, ".pre-exec", 0);
            if (lk_sys_rename(rec_path, alt) == 0)
                fd = lk_sys_create(rec_path);
        } else {
            with_suffix(alt, rec_path, ".", (uint64_t)self);
            memcpy(rec_path, alt, sizeof alt);
            fd = lk_sys_create(rec_path);
        }
    }
    if (fd < 0) {
        char msg[LK_PATH_MAX + 128];
        struct lk_fmt f;
        lk_fmt_init(&f, msg, sizeof msg);
        lk_fmt_str(&f, "cannot create the recording ");
        lk_fmt_str(&f, rec_path);
        lk_fmt_str(&f, ": ");
        lk_fmt_str(&f, lk_strerror(fd));
        lk_fmt_str(&f, "; the program runs without tracking");
        lk_sys_log(msg);
        return fd;
    }
    char pid[24];
    struct lk_fmt f;
    lk_fmt_init(&f, pid, sizeof pid);
    lk_fmt_u64(&f, (uint64_t)self);
    setenv("LEAKSCOPE_OWNER", pid, 1); /* allocates: under the guard, untracked */
    return lk_sys_fd_high(fd);
}

static void
read_cmdline(void)
{
    ssize_t n = lk_sys_read_file("/proc/self/cmdline", cmdline, sizeof cmdline);
    cmdline_len = n > 0 ? (size_t)n : 0;
    lk_sys_readlink("/proc/self/exe", exe, sizeof exe);
}

static void
fill_info(uint64_t flags)
{
    static const char arch[] = "x86_64", version[] = LK_VERSION;
    memset(&info, 0, sizeof info);
    info.pid = (uint64_t)lk_sys_getpid();
    info.ppid = (uint64_t)lk_sys_getppid();
    info.start_realtime_ns = lk_sys_realtime_ns();
    info.page_size = (uint64_t)lk_sys_page_size();
    info.period_ms = opts.period_ms;
    info.depth = opts.depth;
    info.sample_bytes = opts.sample_bytes;
    info.flags = flags;
    info.pointer_bytes = sizeof(void *);
    info.arch = (struct lk_bytes){(const uint8_t *)arch, sizeof arch - 1};
    info.exe = (struct lk_bytes){(const uint8_t *)exe, strlen(exe)};
    info.cmdline = (struct lk_bytes){(const uint8_t *)cmdline, cmdline_len};
    info.agent_version = (struct lk_bytes){(const uint8_t *)version, sizeof version - 1};
}

/* Encodes and writes a scan's SCAN record (and its NOTE, once) after the
 * SNAPSHOT of its period; recorder lock held. */
static void
write_scan(struct lk_scan_result *res, const char *note, uint32_t per,
           enum lk_scan_trigger trigger)
{
    if (note && !scan_noted) {
        scan_noted = 1;
        lk_snapshot_note(&rec, LK_NOTE_WARN, note);
    }
    if (res && rec.fd >= 0) {
        lk_scan_encode(&rec.w, res, scan_seq++, rec.start_ns, per, trigger);
        lk_snapshot_flush(&rec);
    }
}

/* A reachability scan now (docs/SCAN.md), or NULL: none in sampled mode
 * (untracked blocks may hold pointers: a NOTE says so once). Takes no lock
 * of the recorder's; the scan takes the live map's. */
static struct lk_scan_result *
scan_now(const char **note, int from_agent_thread)
{
    *note = NULL;
    if (opts.sample_bytes) {
        *note = "reachability scans need full tracking: with LEAKSCOPE_SAMPLE the blocks the "
                "agent does not track may hold the only pointers to those it does; no scan made";
        return NULL;
    }
    struct lk_scan_params p = {opts.scan_interior, opts.scan_content, from_agent_thread};
    return lk_scan_run(&p, note);
}

/* LEAKSCOPE_CHECK_UNWIND's verdict, a NOTE (recorder lock held). */
static void
note_unwind_check(void)
{
    struct lk_unwind_check c;
    char msg[256];
    struct lk_fmt f;
    lk_unwind_check_stats(&c);
    lk_fmt_init(&f, msg, sizeof msg);
    lk_fmt_str(&f, "unwind check: ");
    lk_fmt_u64(&f, c.checked);
    lk_fmt_str(&f, " walks compared with libunwind's, ");
    lk_fmt_u64(&f, c.differed);
    lk_fmt_str(&f, " differed; ");
    lk_fmt_u64(&f, lk_stack_cache_guessed());
    lk_fmt_str(&f, " stacks were guessed");
    if (c.differed) {
        lk_fmt_str(&f, " (the first at frame ");
        lk_fmt_u64(&f, c.frame);
        lk_fmt_str(&f, ": ");
        lk_fmt_hex(&f, c.got);
        lk_fmt_str(&f, " instead of ");
        lk_fmt_hex(&f, c.want);
        lk_fmt_str(&f, ")");
    }
    lk_snapshot_note(&rec, c.differed ? LK_NOTE_WARN : LK_NOTE_INFO, msg);
}

/* Writes the final snapshot and END once; later calls do nothing. A scan
 * made at exit goes between them. */
static void
finish(enum lk_end_reason reason, uint64_t code, struct lk_scan_result *res, const char *note)
{
    /* The exiting thread: modules dlopen'ed since the last hook. Only while
     * tracking: in a fork child that stopped, the loader's lock may be held
     * for good (glibc does not reset it in the child) by a thread of the
     * parent that was inside dl_iterate_phdr at fork time. */
    if (atomic_load(&lk_state) == LK_STATE_ON && !lk_task_is_self())
        lk_modules_update();
    lk_lock(&rec_lock);
    if (atomic_load(&lk_state) == LK_STATE_ON) {
        atomic_store(&lk_state, LK_STATE_STOPPED);
        rec.final = 1;
        rec.on_signal = reason == LK_END_SIGNAL;
        if (opts.check_unwind)
            note_unwind_check();
        lk_snapshot_write(&rec, atomic_load(&period), atomic_load(&untracked_frees));
        write_scan(res, note, atomic_load(&period), LK_SCAN_AT_EXIT);
        lk_snapshot_end(&rec, reason, code);
        lk_snapshot_close(&rec);
    }
    lk_unlock(&rec_lock);
    atomic_store(&final_done, 1);
}

/* ---- the agent's task ----------------------------------------------------- */

/* Which scan this period, if any: a leakscope_scan_now() call, the scan
 * signal, a request file (`leakscope scan PID` creates RECORDING.scan; the
 * unlink that succeeds is the request), or every N periods. -1 for none. */
static int
scan_due(uint32_t per, int tick, unsigned *want)
{
    *want = atomic_load(&scan_requested);
    if (*want != atomic_load(&scan_served))
        return LK_SCAN_BY_REQUEST;
    if (atomic_exchange(&scan_sig_hit, 0))
        return LK_SCAN_BY_SIGNAL;
    if (!tick)
        return -1;
    char path[LK_PATH_MAX];
    with_suffix(path, rec_path, ".scan", 0);
    if (lk_sys_unlink(path) == 0)
        return LK_SCAN_BY_REQUEST;
    if (opts.scan_every && per % opts.scan_every == 0)
        return LK_SCAN_BY_PERIOD;
    return -1;
}

/* The snapshot loop, on the agent's task (task.h's rules). The guard is in
 * the task's own thread area: an allocation here, which the rules forbid,
 * would pass through untracked. */
static int
snapshot_main(void *arg)
{
    (void)arg;
    lk_guard = 1;
    lk_scan_set_agent_thread();
    uint64_t step = (uint64_t)opts.period_ms * 1000000ull;
    uint64_t next = lk_sys_now_ns() + step;
    for (;;) {
        lk_task_wait_until(next);
        if (atomic_load(&lk_state) != LK_STATE_ON)
            break;
        lk_task_follow_creds();
        int sig = atomic_load(&fatal_sig);
        if (sig) {
            finish(LK_END_SIGNAL, (uint64_t)sig, NULL, NULL);
            break;
        }
        uint64_t now = lk_sys_now_ns();
        unsigned req = atomic_load(&snap_requested);
        int tick = now >= next;
        if (!tick && req == atomic_load(&snap_written) &&
            atomic_load(&scan_requested) == atomic_load(&scan_served) &&
            !atomic_load(&scan_sig_hit))
            continue;
        if (tick) {
            next += step;
            if (next <= now) /* we fell behind (stopped process): do not burst */
                next = now + step;
        }
        uint32_t per = atomic_fetch_add(&period, 1) + 1;
        unsigned scan_want;
        int trigger = scan_due(per, tick, &scan_want);
        struct lk_scan_result *res = NULL;
        const char *note = NULL;
        if (trigger >= 0)
            res = scan_now(&note, 1);
        lk_lock(&rec_lock);
        if (atomic_load(&lk_state) == LK_STATE_ON) {
            lk_snapshot_write(&rec, per, atomic_load(&untracked_frees));
            if (trigger >= 0)
                write_scan(res, note, per, (enum lk_scan_trigger)trigger);
        }
        lk_unlock(&rec_lock);
        lk_scan_release(res);
        atomic_store(&snap_written, req);
        if (trigger >= 0) {
            atomic_store(&scan_last_ok, res != NULL);
            atomic_store(&scan_served, scan_want);
        }
    }
    return 0;
}

static int
start_thread(void)
{
    return lk_task_start(snapshot_main, NULL);
}

int
lk_agent_active(void)
{
    return atomic_load(&lk_state) == LK_STATE_ON;
}

int
lk_agent_snapshot_now(void)
{
    if (atomic_load(&lk_state) != LK_STATE_ON)
        return -1;
    unsigned want = atomic_fetch_add(&snap_requested, 1) + 1;
    lk_task_wake();
    for (int i = 0; i < 1000; i++) {
        if ((int)(atomic_load(&snap_written) - want) >= 0)
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int
lk_agent_scan_now(void)
{
    if (atomic_load(&lk_state) != LK_STATE_ON)
        return -1;
    unsigned want = atomic_fetch_add(&scan_requested, 1) + 1;
    lk_task_wake();
    for (int i = 0; i < 120000; i++) { /* a scan of a large heap takes seconds */
        if ((int)(atomic_load(&scan_served) - want) >= 0)
            return atomic_load(&scan_last_ok) ? 0 : -1;
        if (atomic_load(&lk_state) != LK_STATE_ON)
            return -1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* glibc's malloc_usable_size, found through libc's own handle (RTLD_NEXT
 * would find jemalloc's first in a program linked with it). Until the
 * constructor ran, the chunk header is read the way glibc does: the size
 * word before the block, minus the header, and one more word for a chunk
 * that was not mmapped (its next chunk's prev_size field is usable). */
static size_t (*libc_usable)(void *);

size_t
lk_agent_usable_size(void *p)
{
    if (libc_usable)
        return libc_usable(p);
    if (!p)
        return 0;
    size_t head = ((const size_t *)p)[-1];
    size_t size = head & ~(size_t)7;
    return (head & 2) ? size - 2 * sizeof(size_t) : size - sizeof(size_t);
}

size_t
lk_agent_program_usable(void *p)
{
    /* Once tracking stopped (after the final snapshot; a fork child that
     * does not follow), tags are never read again and the program may have
     * them back: its frees since then left start bytes behind. */
    size_t n = lk_agent_usable_size(p);
    if (!p || atomic_load_explicit(&lk_state, memory_order_relaxed) != LK_STATE_ON)
        return n;
    return lk_block_tag_usable(p, n);
}

/* The agent forwards to __libc_malloc, which is glibc's -- unless another
 * allocator exports that name too (Debian's libtcmalloc does, and then the
 * blocks are tcmalloc's). malloc_usable_size must come from the same object
 * as the __libc_malloc the agent calls. */
static void
find_libc_usable(void)
{
    extern void *__libc_malloc(size_t);
    Dl_info di;
    void *h = NULL;
    if (dladdr((void *)&__libc_malloc, &di) && di.dli_fname)
        h = dlopen(di.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
    if (!h)
        h = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
    if (h)
        libc_usable = (size_t(*)(void *))dlsym(h, "malloc_usable_size");
}

/* Is another allocator loaded (jemalloc, tcmalloc)? Its name, or NULL. */
static int
other_allocator_cb(struct dl_phdr_info *dl, size_t size, void *ctx)
{
    (void)size;
    const char *n = dl->dlpi_name, **out = ctx;
    if (n && (strstr(n, "libjemalloc") || strstr(n, "libtcmalloc") || strstr(n, "libmimalloc"))) {
        *out = n;
        return 1;
    }
    return 0;
}

/* ---- signals ------------------------------------------------------------ */

static void
die_by(int sig)
{
    struct sigaction dfl;
    sigset_t set;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction(sig, &dfl, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

/* A fatal signal whose default action we replaced: let the agent's task
 * write the final snapshot (at most 5 s), then die by the same signal, so
 * the exit status is what it would have been. Async-signal-safe. The signal
 * may have interrupted the agent itself on this thread (a busy allocator
 * mostly is inside the agent): the agent's task takes no lock such code
 * holds, except live-map shards, which it skips when they stay held. */
static void
on_fatal_signal(int sig)
{
    int expected = 0;
    if (atomic_load(&lk_state) == LK_STATE_ON &&
        atomic_compare_exchange_strong(&fatal_sig, &expected, sig)) {
        lk_task_wake();
        /* A deadline, not a count of naps: on a loaded machine each 1 ms
         * nap lasts longer, and a busy task needs longer too. */
        uint64_t until = lk_sys_now_ns() + 5000000000ull;
        while (!atomic_load(&final_done) && lk_sys_now_ns() < until) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    die_by(sig);
}

/* The scan signal (LEAKSCOPE_SCAN_SIGNAL): only a flag and a wake-up, both
 * async-signal-safe. Acts as SIG_DFL when the agent does not record (in a
 * fork child, after the final snapshot). */
static void
on_scan_signal(int sig)
{
    if (atomic_load(&lk_state) != LK_STATE_ON) {
        die_by(sig);
        return;
    }
    int saved = errno;
    atomic_store(&scan_sig_hit, 1);
    lk_task_wake();
    errno = saved;
}

static const int fatal_sigs[] = {SIGTERM, SIGINT, SIGHUP};

static int
is_fatal_sig(int sig)
{
    for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
        if (fatal_sigs[i] == sig)
            return 1;
    return 0;
}

/* Installs on_fatal_signal for sig; old receives the previous disposition. */
static int
own(int sig, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sig == opts.scan_signal ? on_scan_signal : on_fatal_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    atomic_store(&owned_sig[sig], 1);
    if (real_sigaction(sig, &sa, old) < 0) {
        atomic_store(&owned_sig[sig], 0);
        return -1;
    }
    return 0;
}

static void
own_signals(void)
{
    struct sigaction cur;
    if (!real_sigaction)
        return;
    if (opts.scan_signal && real_sigaction(opts.scan_signal, NULL, &cur) == 0 &&
        cur.sa_handler == SIG_DFL && !(cur.sa_flags & SA_SIGINFO))
        own(opts.scan_signal, NULL);
    if (!opts.catch_signals)
        return;
    for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++) {
        if (real_sigaction(fatal_sigs[i], NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
            !(cur.sa_flags & SA_SIGINFO))
            own(fatal_sigs[i], NULL);
    }
}

int
lk_agent_signal_take_default(int sig, struct sigaction *old)
{
    if (!real_sigaction || atomic_load(&lk_state) != LK_STATE_ON)
        return -1;
    if (!(opts.scan_signal && sig == opts.scan_signal) && (!opts.catch_signals || !is_fatal_sig(sig)))
        return -1;
    return own(sig, old);
}

int
lk_agent_signal_owned(int sig)
{
    return sig > 0 && sig < NSIG && atomic_load(&owned_sig[sig]);
}

void
lk_agent_signal_release(int sig)
{
    if (sig > 0 && sig < NSIG)
        atomic_store(&owned_sig[sig], 0);
}

int
lk_agent_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!real_sigaction) {
        errno = ENOSYS;
        return -1;
    }
    return real_sigaction(sig, act, old);
}

/* ---- fork --------------------------------------------------------------- */

static void
fork_prepare(void)
{
    lk_guard++;
    lk_modules_fork_prepare();
    lk_lock(&rec_lock);
    lk_site_table_lock_all();
    lk_live_map_lock_all();
    lk_arena_lock_all();
}

static void
fork_parent(void)
{
    lk_arena_unlock_all();
    lk_live_map_unlock_all();
    lk_site_table_unlock_all();
    lk_unlock(&rec_lock);
    lk_modules_fork_parent();
    lk_guard--;
}

/* In the child only this thread exists: the locks are reset, not released.
 * With LEAKSCOPE_FORK=follow the child records to NAME.PID with every site
 * it inherited (its live blocks are the parent's at fork time); otherwise it
 * stops tracking and leaves the parent's recording alone. */
static void
fork_child(void)
{
    lk_arena_reset_locks();
    lk_unwind_reset_locks();
    lk_live_map_reset_locks();
    lk_site_table_reset_locks();
    lk_site_batch_after_fork();
    lk_modules_after_fork();
    lk_procmem_after_fork();
    lk_lock_reset(&rec_lock);
    for (int s = 1; s < NSIG; s++)
        atomic_store(&owned_sig[s], 0); /* handlers stay; they act as SIG_DFL when not ON */
    if (atomic_load(&lk_state) != LK_STATE_ON) {
        lk_guard--;
        return;
    }
    rec.fd = -1; /* the parent's file: never written from here */
    if (opts.fork_mode == LK_FORK_FOLLOW) {
        char path[LK_PATH_MAX];
        with_suffix(path, rec_path, ".", (uint64_t)lk_sys_getpid());
        int fd = lk_sys_create(path);
        memcpy(rec_path, path, sizeof path);
        if (fd >= 0) {
            fill_info(LK_INFO_FORK_CHILD);
            if (lk_snapshot_open(&rec, lk_sys_fd_high(fd), &info) == 0 && start_thread() == 0) {
                lk_guard--;
                return;
            }
            lk_snapshot_close(&rec);
        }
    }
    atomic_store(&lk_state, LK_STATE_STOPPED);
    lk_guard--;
}

/* ---- start and exit ----------------------------------------------------- */

/* Registered with on_exit() from the constructor, so it runs after the
 * program's own atexit handlers and static destructors, and after _dl_fini
 * (registered later by __libc_start_main) ran the libraries' destructors:
 * the final snapshot sees what is still live at the very end, and the exit
 * status. No destructor of ours writes anything. */
static void
on_exit_handler(int status, void *arg)
{
    (void)arg;
    lk_guard = 1;
    struct lk_scan_result *res = NULL;
    const char *note = NULL;
    if (opts.scan_at_exit && atomic_load(&lk_state) == LK_STATE_ON)
        res = scan_now(&note, 0);
    finish(LK_END_EXIT, (uint64_t)(unsigned)status, res, note);
    lk_scan_release(res);
}

/* Does a call to malloc from the program reach the agent? Calls malloc
 * through the address the program's own lookup yields (an executable that
 * defines malloc, e.g. with jemalloc linked statically, wins over any
 * preload) and sees whether the interposed malloc ran. Comparing addresses
 * would be wrong: a non-PIE executable that takes malloc's address owns a
 * canonical PLT entry for it, which still calls ours. */
static int
malloc_interposed(void)
{
    void *(*m)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    void (*f)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
    if (!m || !f)
        return 1;
    int saved = lk_guard;
    lk_guard = LK_GUARD_PROBE;
    lk_probe_hit = 0;
    void *p = m(16);
    int hit = lk_probe_hit;
    lk_guard = saved;
    f(p);
    return hit;
}

__attribute__((constructor)) static void
lk_agent_start(void)
{
    const char *bad;
    uintptr_t lo, hi;
    lk_guard = 1;
    /* First, whatever happens next: the interposed sigaction() forwards here
     * even when the agent stays dormant (it used to fail with ENOSYS then). */
    real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(
        RTLD_NEXT, "sigaction");
    find_libc_usable();
    lk_options_load(&opts, &bad);
    lk_sys_set_quiet(opts.silent);
    if (opts.disabled)
        goto out;
    read_cmdline();
    if (lk_modules_init((uintptr_t)&lk_agent_start, &lo, &hi) < 0 || lk_site_table_init() < 0 ||
        lk_live_map_init(opts.sample_bytes != 0) < 0 ||
        (!opts.sample_bytes && lk_block_tag_init() < 0)) {
        lk_sys_log("out of memory at start-up; the program runs without tracking");
        goto out;
    }
    if (lk_unwind_init(lo, hi) < 0) {
        lk_sys_log("out of memory at start-up; the program runs without tracking");
        goto out;
    }
    lk_unwind_set_check(opts.check_unwind);
    void *libz = dlopen("libz.so.1", RTLD_LAZY | RTLD_NOLOAD); /* loaded: the agent needs it */
    void *crc = libz ? dlsym(libz, "crc32_z") : NULL;
    if (crc)
        lk_crc32_bind(crc);
    lk_procmem_init();
    const uint32_t *tcb = (const uint32_t *)dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
    if (tcb)
        lk_scan_set_tcb_size(*tcb);
    (void)lk_site_batch_init(); /* without membarrier, threads add to the sites directly */
    lk_sample_mean = opts.sample_bytes;
    page_mask = (size_t)lk_sys_page_size() - 1;
    int quiet_start = 0;
    int fd = open_recording(&quiet_start);
    if (fd < 0)
        goto out;
    int interposed = malloc_interposed();
    fill_info((interposed ? 0 : LK_INFO_NOT_INTERPOSED) | (opts.track_mmap ? LK_INFO_TRACKS_MMAP : 0));
    if (lk_snapshot_open(&rec, fd, &info) < 0)
        goto out;
    if (bad)
        log2s("ignoring malformed ", bad, " (using the default)");
    const char *other = NULL;
    dl_iterate_phdr(other_allocator_cb, &other);
    if (other && interposed) {
        extern void *__libc_malloc(size_t);
        Dl_info di;
        const char *provider = dladdr((void *)&__libc_malloc, &di) && di.dli_fname ? di.dli_fname
                                                                               : "glibc";
        char msg[2 * LK_PATH_MAX + 256];
        struct lk_fmt f;
        lk_fmt_init(&f, msg, sizeof msg);
        lk_fmt_str(&f, "the program is linked with ");
        lk_fmt_str(&f, other);
        lk_fmt_str(&f, "; under the agent its malloc and free are tracked and served by ");
        lk_fmt_str(&f, provider);
        lk_fmt_str(&f, " (whose __libc_malloc the agent calls); glibc's allocator statistics "
                       "(mallinfo2) may not describe that heap");
        lk_snapshot_note(&rec, LK_NOTE_WARN, msg);
    }
    if (!interposed) {
        const char *m = "malloc is not interposed: the program defines its own allocator "
                        "(statically linked jemalloc or tcmalloc?); heap tracking is off";
        lk_snapshot_note(&rec, LK_NOTE_ERROR, m);
        lk_sys_log(m);
    }
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    on_exit(on_exit_handler, NULL);
    own_signals();
    if (start_thread() < 0) {
        lk_sys_log("cannot start the agent's task; the program runs without tracking");
        lk_snapshot_close(&rec);
        goto out;
    }
    atomic_store(&lk_state, LK_STATE_ON);
    if (!opts.quiet && !quiet_start)
        log2s("recording to ", rec_path, "");
out:
    lk_guard = 0;
}
