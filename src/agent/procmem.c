/* Reads process memory for snapshots: RSS and virtual size from
 * /proc/self/statm, anonymous/file/swap bytes from smaps_rollup, the thread
 * count from /proc/self/stat, the cgroup's limit and usage, and glibc's
 * allocator statistics from mallinfo2(). Everything is parsed by hand from
 * stack buffers: no allocation, no stdio. Called from the snapshot thread
 * with no agent lock held. */
#include "procmem.h"

#include <malloc.h>
#include <string.h>

#include "base/fmt.h"
#include "sys.h"

#define PATH_CAP 512

static char cg_limit_path[PATH_CAP], cg_usage_path[PATH_CAP];
static uint64_t mem_total;
static struct mallinfo2 mi_last;   /* latest mallinfo2() result */
static uint64_t mi_next_ns;        /* not called again before this time */
static uint64_t mi_cost_ns;        /* what the latest call cost */

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

/* Value in bytes of "Key:   123 kB" in a /proc text, 0 when absent. */
static uint64_t
kb_field(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, n) && p[n] == ':') {
            const char *v = p + n + 1;
            return parse_u64(&v) * 1024;
        }
    return 0;
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

void
lk_procmem_read(uint64_t proc[LK_PROC_NFIELDS], enum lk_procmem_mi how)
{
    char buf[2048];
    uint64_t page = (uint64_t)lk_sys_page_size();
    if (lk_sys_read_file("/proc/self/statm", buf, sizeof buf) > 0) {
        const char *p = buf;
        proc[LK_PROC_VM] = parse_u64(&p) * page;
        proc[LK_PROC_RSS] = parse_u64(&p) * page;
    }
    if (lk_sys_read_file("/proc/self/smaps_rollup", buf, sizeof buf) > 0) {
        uint64_t rss = kb_field(buf, "Rss"), anon = kb_field(buf, "Anonymous");
        proc[LK_PROC_ANON] = anon;
        proc[LK_PROC_RSS_FILE] = rss > anon ? rss - anon : 0;
        proc[LK_PROC_SWAP] = kb_field(buf, "Swap");
    }
    if (lk_sys_read_file("/proc/self/stat", buf, sizeof buf) > 0) {
        const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
        for (int field = 2; p && *p && field < 20; p++)
            if (*p == ' ')
                field++;
        if (p)
            proc[LK_PROC_THREADS] = parse_u64(&p);
    }
    proc[LK_PROC_CG_LIMIT] = read_u64_file(cg_limit_path);
    proc[LK_PROC_CG_USAGE] = read_u64_file(cg_usage_path);
    proc[LK_PROC_MEM_TOTAL] = mem_total;
    /* mallinfo2 walks every free chunk under the arena lock, stalling the
     * program's mallocs meanwhile: 30 ms with a million free chunks (perl
     * after dropping 300k hashes). So it is called at most once per 100
     * times its own cost: at most 1% of the program's time. The final
     * snapshot calls it anyway, unless the latest call took over 2 ms: an
     * exit must not stall on it either -- nor on a fatal signal's final
     * snapshot, where it is never called: the signal may have stopped a
     * thread inside malloc holding its arena's lock for good (test_signal_storm
     * waited out the 5 s deadline that way, gdb showed, once in ~100 runs). */
    uint64_t now = lk_sys_now_ns();
    if (how != LK_PROCMEM_CACHED &&
        (now >= mi_next_ns || (how == LK_PROCMEM_FRESH && mi_cost_ns < 2000000))) {
        mi_last = mallinfo2();
        mi_cost_ns = lk_sys_now_ns() - now;
        mi_next_ns = now + mi_cost_ns * 100;
    }
    const struct mallinfo2 mi = mi_last;
    proc[LK_PROC_MI_ARENA] = mi.arena;
    proc[LK_PROC_MI_HBLKHD] = mi.hblkhd;
    proc[LK_PROC_MI_UORD] = mi.uordblks;
    proc[LK_PROC_MI_FORD] = mi.fordblks;
    proc[LK_PROC_MI_KEEP] = mi.keepcost;
}
