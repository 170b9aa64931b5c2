/* Reads process memory for snapshots: RSS, virtual size, anonymous,
 * file-backed and swapped bytes and the thread count from
 * /proc/self/status, the cgroup's limit and usage, and glibc's
 * allocator statistics from mallinfo2(). Everything is parsed by hand from
 * stack buffers: no allocation, no stdio. Called with no agent lock held.
 *
 * mallinfo2 is not for the agent's task while the program is
 * single-threaded: glibc's malloc then takes no arena lock, so the lock
 * mallinfo2 takes would not keep the program out of the lists it walks.
 * The program's thread calls it then (lk_procmem_mallinfo from the hooks,
 * once per period; the final snapshot at exit), and the task uses the latest
 * values. Once the program started a thread (a full period before, as
 * pthread_create clears __libc_single_threaded before the new thread's
 * set-up makes malloc take its locks), the task calls it as a pthread would. */
#include "procmem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>

#include "base/fmt.h"
#include "sys.h"
#include "task.h"

#define PATH_CAP 512

static char cg_limit_path[PATH_CAP], cg_usage_path[PATH_CAP];
static uint64_t mem_total;
/* The latest mallinfo2() result under a sequence count (odd while being
 * written); one writer at a time (mi_writing), the others skip. */
static struct mallinfo2 mi_last;
static _Atomic unsigned mi_seq;
static atomic_int mi_writing;
static uint64_t mi_next_ns; /* not called again before this time */
static uint64_t mi_cost_ns; /* what the latest call cost */
static uint64_t mt_seen_ns; /* the task first saw the program multi-threaded */

static uint64_t
parse_u64(const char **pp)
{
    const char *p = *pp;
    uint64_t v = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    *pp = p;
    return v;
}

/* The number of "Key:   123" in a /proc text, 0 when absent. */
static uint64_t
field(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, n) && p[n] == ':') {
            const char *v = p + n + 1;
            return parse_u64(&v);
        }
    return 0;
}

/* Value in bytes of "Key:   123 kB" in a /proc text, 0 when absent. */
static uint64_t
kb_field(const char *text, const char *key)
{
    return field(text, key) * 1024;
}

static uint64_t
read_u64_file(const char *path)
{
    char buf[64];
    if (!path[0] || lk_sys_read_file(path, buf, sizeof buf) <= 0)
        return 0;
    if (!strncmp(buf, "max", 3))
        return 0;
    const char *p = buf;
    uint64_t v = parse_u64(&p);
    return v >= (1ull << 62) ? 0 : v; /* v1 reports "no limit" as ~2^63 */
}

static void
set_path(char *dst, const char *a, const char *b, size_t blen, const char *c)
{
    struct lk_fmt f;
    lk_fmt_init(&f, dst, PATH_CAP);
    lk_fmt_str(&f, a);
    lk_fmt_mem(&f, b, blen);
    lk_fmt_str(&f, c);
}

void
lk_procmem_init(void)
{
    char buf[2048];
    if (lk_sys_read_file("/proc/meminfo", buf, sizeof buf) > 0)
        mem_total = kb_field(buf, "MemTotal");
    if (lk_sys_read_file("/proc/self/cgroup", buf, sizeof buf) <= 0)
        return;
    /* v1 "N:memory:/path" wins when present (hybrid hosts); else v2 "0::/path". */
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *c1 = strchr(p, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        const char *end = c2 ? strchr(c2, '\n') : NULL;
        if (!c2)
            continue;
        size_t plen = end ? (size_t)(end - c2 - 1) : strlen(c2 + 1);
        if (c2 - c1 - 1 == 6 && !strncmp(c1 + 1, "memory", 6)) {
            set_path(cg_limit_path, "/sys/fs/cgroup/memory", c2 + 1, plen, "/memory.limit_in_bytes");
            set_path(cg_usage_path, "/sys/fs/cgroup/memory", c2 + 1, plen, "/memory.usage_in_bytes");
            return;
        }
        if (c1 == p + 1 && p[0] == '0' && c2 == c1 + 1) {
            set_path(cg_limit_path, "/sys/fs/cgroup", c2 + 1, plen, "/memory.max");
            set_path(cg_usage_path, "/sys/fs/cgroup", c2 + 1, plen, "/memory.current");
        }
    }
}

/* May this thread call mallinfo2 now (above)? */
static int
may_call_here(void)
{
    if (!lk_task_is_self())
        return 1;
    if (__libc_single_threaded) {
        mt_seen_ns = 0;
        return 0;
    }
    uint64_t now = lk_sys_now_ns();
    if (!mt_seen_ns)
        mt_seen_ns = now;
    return now - mt_seen_ns >= 1000000000ull;
}

void
lk_procmem_read(uint64_t proc[LK_PROC_NFIELDS], enum lk_procmem_mi how)
{
    /* One file with every figure (the kernel's counters, no page walk):
     * smaps_rollup, read here before, walks the page tables under the
     * mmap lock, 22 ms per snapshot for 2 GB resident, and gives the same
     * numbers. The long lines (Cpus_allowed, Mems_allowed) come after
     * Threads. */
    char buf[4096];
    if (lk_sys_read_file("/proc/self/status", buf, sizeof buf) > 0) {
        proc[LK_PROC_VM] = kb_field(buf, "VmSize");
        proc[LK_PROC_RSS] = kb_field(buf, "VmRSS");
        proc[LK_PROC_ANON] = kb_field(buf, "RssAnon");
        proc[LK_PROC_RSS_FILE] = kb_field(buf, "RssFile") + kb_field(buf, "RssShmem");
        proc[LK_PROC_SWAP] = kb_field(buf, "VmSwap");
        proc[LK_PROC_THREADS] = field(buf, "Threads");
    }
    proc[LK_PROC_CG_LIMIT] = read_u64_file(cg_limit_path);
    proc[LK_PROC_CG_USAGE] = read_u64_file(cg_usage_path);
    proc[LK_PROC_MEM_TOTAL] = mem_total;
    struct mallinfo2 mi;
    if (how != LK_PROCMEM_CACHED && may_call_here())
        lk_procmem_mallinfo(how);
    /* A bounded wait: the writer may be a thread that a fatal signal stopped
     * in the middle (its handler waits for this very snapshot); then the
     * copy may be torn, which costs one snapshot's allocator figures. */
    for (int tries = 0;; tries++) {
        unsigned seq = atomic_load_explicit(&mi_seq, memory_order_acquire);
        mi = mi_last;
        atomic_thread_fence(memory_order_acquire);
        if ((!(seq & 1) && atomic_load_explicit(&mi_seq, memory_order_relaxed) == seq) ||
            tries == 1000)
            break;
        lk_sys_call6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
    }
    proc[LK_PROC_MI_ARENA] = mi.arena;
    proc[LK_PROC_MI_HBLKHD] = mi.hblkhd;
    proc[LK_PROC_MI_UORD] = mi.uordblks;
    proc[LK_PROC_MI_FORD] = mi.fordblks;
    proc[LK_PROC_MI_KEEP] = mi.keepcost;
}

void
lk_procmem_mallinfo(enum lk_procmem_mi how)
{
    /* mallinfo2 walks every free chunk under the arena lock, stalling the
     * program's mallocs meanwhile: 30 ms with a million free chunks (perl
     * after dropping 300k hashes). So it is called at most once per 100
     * times its own cost: at most 1% of the program's time. The final
     * snapshot calls it anyway, unless the latest call took over 2 ms: an
     * exit must not stall on it either -- nor on a fatal signal's final
     * snapshot, where it is never called: the signal may have stopped a
     * thread inside malloc holding its arena's lock for good (test_signal_storm
     * waited out the 5 s deadline that way, gdb showed, once in ~100 runs). */
    if (how == LK_PROCMEM_CACHED || atomic_exchange_explicit(&mi_writing, 1, memory_order_acquire))
        return;
    uint64_t now = lk_sys_now_ns();
    if (now >= mi_next_ns || (how == LK_PROCMEM_FRESH && mi_cost_ns < 2000000)) {
        struct mallinfo2 mi = mallinfo2();
        mi_cost_ns = lk_sys_now_ns() - now;
        mi_next_ns = now + mi_cost_ns * 100;
        atomic_fetch_add_explicit(&mi_seq, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        mi_last = mi;
        atomic_fetch_add_explicit(&mi_seq, 1, memory_order_release);
    }
    atomic_store_explicit(&mi_writing, 0, memory_order_release);
}

void
lk_procmem_after_fork(void)
{
    atomic_store(&mi_writing, 0);
    if (atomic_load(&mi_seq) & 1)
        atomic_fetch_add(&mi_seq, 1);
}
