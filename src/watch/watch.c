/* The agentless sampler and its verdict. Sampling reads a process's
 * memory from /proc like any observer with ptrace-read access (same user
 * or root): statm for RSS and virtual size, status for anonymous,
 * file-backed and swapped bytes and threads, smaps for resident
 * bytes per kind of mapping, and the cgroup's limit and usage (v1 or v2).
 * The verdict is the process split's RSS rule (procsplit.c) plus a fit per
 * kind of mapping to say where the growth is. CLI only: stdio, malloc. */
#include "watch.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analyze/trend.h"
#include "../record/reader.h"
#include "../render/json.h"
#include "../render/text.h"

const char *
lk_map_kind_name(enum lk_map_kind k)
{
    static const char *const names[LK_MAP_NKINDS] = {"heap", "anonymous", "stack", "file", "other"};
    return (unsigned)k < LK_MAP_NKINDS ? names[k] : "?";
}

/* ---- sampling -------------------------------------------------------- */

/* The value of "Key:   N kB" in a /proc text, in bytes; 0 when absent. */
static uint64_t
kb_field(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, k) && p[k] == ':')
            return strtoull(p + k + 1, NULL, 10) * 1024;
    return 0;
}

/* Reads a small file into buf (NUL-terminated); bytes read or -errno. */
static long
read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, cap - 1, f);
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    buf[n] = 0;
    return err ? err : (long)n;
}

static uint64_t
read_u64(const char *path)
{
    char buf[64];
    if (read_small(path, buf, sizeof buf) <= 0 || !isdigit((unsigned char)buf[0]))
        return 0; /* "max" (v2) or unreadable */
    uint64_t v = strtoull(buf, NULL, 10);
    return v >= (1ull << 60) ? 0 : v; /* v1 "unlimited" is 2^63 rounded to a page */
}

/* The cgroup memory files of pid (v1 memory controller first, as the agent
 * does on hybrid hosts; else v2). */
static void
cgroup(pid_t pid, uint64_t *limit, uint64_t *usage)
{
    char path[512], buf[4096], lim[700], use[700];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    *limit = *usage = 0;
    lim[0] = 0;
    if (read_small(path, buf, sizeof buf) <= 0)
        return;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        if (c2 - c1 - 1 == 6 && !strncmp(c1 + 1, "memory", 6)) {
            snprintf(lim, sizeof lim, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", c2 + 1);
            snprintf(use, sizeof use, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", c2 + 1);
            break;
        }
        if (c1 == line + 1 && line[0] == '0' && c2 == c1 + 1) {
            snprintf(lim, sizeof lim, "/sys/fs/cgroup%s/memory.max", c2 + 1);
            snprintf(use, sizeof use, "/sys/fs/cgroup%s/memory.current", c2 + 1);
        }
    }
    if (lim[0]) {
        *limit = read_u64(lim);
        *usage = read_u64(use);
    }
}

/* One mapping's header line of smaps: "lo-hi perms offset dev inode path". */
struct mapping {
    uint64_t lo, hi;
    char perms[5];
    unsigned long inode;
    const char *path; /* points into the line; "" when anonymous */
};

static int
parse_header(char *line, struct mapping *m)
{
    int off = 0;
    char dev[32];
    unsigned long long lo, hi, pgoff;
    if (sscanf(line, "%llx-%llx %4s %llx %31s %lu %n", &lo, &hi, m->perms, &pgoff, dev, &m->inode,
               &off) < 6)
        return -1;
    m->lo = lo;
    m->hi = hi;
    m->path = off ? line + off : "";
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    return 0;
}

/* Thread stacks have no name in /proc since Linux 4.5: glibc maps them as
 * anonymous memory with a guard page below, so an anonymous rw mapping of
 * at most 16 MiB right above a PROT_NONE anonymous mapping of at most 64
 * KiB is taken for one. (malloc's per-thread arenas have their PROT_NONE
 * reserve above the used part, never below, so they stay anonymous.) */
static enum lk_map_kind
classify(const struct mapping *m, const struct mapping *prev, int have_prev)
{
    const char *p = m->path;
    if (!strcmp(p, "[heap]"))
        return LK_MAP_HEAP;
    if (!strncmp(p, "[stack", 6))
        return LK_MAP_STACK;
    if (!strncmp(p, "[anon", 5) || !*p) {
        if (!*p && have_prev && !*prev->path && prev->hi == m->lo &&
            !strncmp(prev->perms, "---p", 4) && prev->hi - prev->lo <= 65536 &&
            !strncmp(m->perms, "rw", 2) && m->hi - m->lo <= (16u << 20))
            return LK_MAP_STACK;
        return LK_MAP_ANON;
    }
    if (p[0] == '[')
        return LK_MAP_OTHER;
    return m->inode || p[0] == '/' ? LK_MAP_FILE : LK_MAP_ANON;
}

static int
smaps(pid_t pid, uint64_t *kinds)
{
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    struct mapping cur = {0}, prev = {0};
    char curpath[4096] = "", prevpath[4096] = "";
    int have = 0, have_prev = 0;
    enum lk_map_kind kind = LK_MAP_OTHER;
    while (fgets(line, sizeof line, f)) {
        if (isxdigit((unsigned char)line[0]) && !isupper((unsigned char)line[0])) {
            if (have) {
                prev = cur;
                snprintf(prevpath, sizeof prevpath, "%s", curpath);
                prev.path = prevpath;
                have_prev = 1;
            }
            if (parse_header(line, &cur) < 0) {
                have = 0;
                continue;
            }
            snprintf(curpath, sizeof curpath, "%s", cur.path);
            cur.path = curpath;
            have = 1;
            kind = classify(&cur, &prev, have_prev);
        } else if (have && !strncmp(line, "Rss:", 4)) {
            kinds[kind] += strtoull(line + 4, NULL, 10) * 1024;
        }
    }
    fclose(f);
    return 0;
}

int
lk_watch_sample(pid_t pid, struct lk_watch_sample *out)
{
    char path[64], buf[8192];
    long n;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    memset(out, 0, sizeof *out);
    uint64_t *p = out->proc;

    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    if ((n = read_small(path, buf, sizeof buf)) < 0)
        return (int)n;
    unsigned long long vm = 0, rss = 0;
    if (sscanf(buf, "%llu %llu", &vm, &rss) != 2)
        return -ESRCH;
    p[LK_PROC_VM] = vm * page;
    p[LK_PROC_RSS] = rss * page;
    /* status, not smaps_rollup: the same figures from the kernel's
     * counters, without a second walk of the page tables (smaps is one) */
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_small(path, buf, sizeof buf) > 0) {
        const char *t = strstr(buf, "\nThreads:");
        p[LK_PROC_THREADS] = t ? strtoull(t + 9, NULL, 10) : 0;
        p[LK_PROC_ANON] = kb_field(buf, "RssAnon");
        p[LK_PROC_RSS_FILE] = kb_field(buf, "RssFile") + kb_field(buf, "RssShmem");
        p[LK_PROC_SWAP] = kb_field(buf, "VmSwap");
    }
    if (read_small("/proc/meminfo", buf, sizeof buf) > 0)
        p[LK_PROC_MEM_TOTAL] = kb_field(buf, "MemTotal");
    cgroup(pid, &p[LK_PROC_CG_LIMIT], &p[LK_PROC_CG_USAGE]);
    int rc = smaps(pid, &p[LK_PROC_MAP_FIRST]);
    return rc == -EACCES ? rc : 0;
}

/* ---- reading a watch recording back ---------------------------------- */

int
lk_watch_is_watch(const struct lk_model *m)
{
    return m->has_info && (m->info.flags & LK_INFO_WATCH);
}

int
lk_watch_maps(const struct lk_model *m, uint64_t *out)
{
    struct lk_reader r;
    struct lk_record rec;
    size_t snap = 0;
    int found = 0;
    memset(out, 0, m->nsnaps * LK_MAP_NKINDS * sizeof *out);
    if (lk_reader_open(&r, m->name, m->data, m->len) < 0)
        return 0;
    while (snap < m->nsnaps && lk_reader_next(&r, &rec) > 0) {
        if (rec.type != LK_REC_SNAPSHOT)
            continue;
        struct lk_dec d;
        lk_dec_init(&d, rec.payload, rec.len);
        lk_dec_u64(&d); /* seq */
        lk_dec_u64(&d); /* time */
        lk_dec_u64(&d); /* period */
        uint64_t nproc = lk_dec_count(&d, 1);
        for (uint64_t i = 0; i < nproc && !d.err; i++) {
            uint64_t v = lk_dec_u64(&d);
            if (i >= LK_PROC_MAP_FIRST && i < LK_WATCH_NPROC) {
                out[snap * LK_MAP_NKINDS + (i - LK_PROC_MAP_FIRST)] = v;
                found = 1;
            }
        }
        snap++;
    }
    return found;
}

/* ---- verdict ----------------------------------------------------------- */

int
lk_watch_analyze(const struct lk_model *m, const struct lk_analysis *a, struct lk_watch_verdict *w)
{
    const struct lk_procsplit *sp = &a->proc.split;
    size_t n = m->nsnaps;
    char b1[32], b2[32], b3[32], r1[32], r2[32], d[48];
    memset(w, 0, sizeof *w);
    w->grows_most = -1;
    if (!n)
        return 0;
    uint64_t *maps = calloc(n * LK_MAP_NKINDS, sizeof *maps);
    size_t *idx = calloc(LK_TREND_MAX_POINTS, sizeof *idx);
    double *x = calloc(LK_TREND_MAX_POINTS, sizeof *x), *y = calloc(LK_TREND_MAX_POINTS, sizeof *y);
    int rc = -ENOMEM;
    if (!maps || !idx || !x || !y)
        goto out;
    w->has_maps = lk_watch_maps(m, maps);
    size_t k = lk_trend_pick(n, LK_TREND_MAX_POINTS, idx);
    for (size_t i = 0; i < k; i++)
        x[i] = lk_model_time_s(m, idx[i]);
    double best = 0;
    for (int kind = 0; w->has_maps && kind < LK_MAP_NKINDS; kind++) {
        struct lk_watch_kind *o = &w->kind[kind];
        o->start = maps[kind];
        o->end = maps[(n - 1) * LK_MAP_NKINDS + (size_t)kind];
        for (size_t i = 0; i < n; i++)
            if (maps[i * LK_MAP_NKINDS + (size_t)kind] > o->peak)
                o->peak = maps[i * LK_MAP_NKINDS + (size_t)kind];
        for (size_t i = 0; i < k; i++)
            y[i] = (double)maps[idx[i] * LK_MAP_NKINDS + (size_t)kind];
        if (lk_trend_fit(x, y, k, &o->t) < 0)
            goto out;
        if (o->t.slope > best) {
            best = o->t.slope;
            w->grows_most = kind;
        }
    }
    const struct lk_trend *rss = &a->proc.rss;
    w->growing = sp->verdict == LK_PROC_HEAP || sp->verdict == LK_PROC_ALLOCATOR ||
                 sp->verdict == LK_PROC_OUTSIDE || sp->verdict == LK_PROC_MMAP ||
                 sp->verdict == LK_PROC_FILE;
    w->share = w->grows_most >= 0 && rss->slope > 0 ? best / rss->slope : 0;
    lk_render_bytes(b1, sizeof b1, (double)a->proc.rss_start);
    lk_render_bytes(b2, sizeof b2, (double)a->proc.rss_end);
    snprintf(r1, sizeof r1, "%s%s/s", rss->slope > 0 ? "+" : "",
             lk_render_bytes(b3, sizeof b3, rss->slope));
    if (sp->verdict == LK_PROC_UNDECIDED) {
        snprintf(w->summary, sizeof w->summary,
                 "Not enough data yet: %zu snapshots; a verdict needs at least %d", n,
                 LK_VERDICT_MIN_SNAPS);
    } else if (w->growing) {
        char lo[32], hi[32];
        snprintf(d, sizeof d, "%s", "");
        if (w->grows_most >= 0)
            snprintf(d, sizeof d, "; mostly %s mappings (%.0f%%)",
                     lk_map_kind_name((enum lk_map_kind)w->grows_most),
                     100 * (w->share > 1 ? 1 : w->share));
        lk_render_bytes(lo, sizeof lo, rss->slope_lo);
        lk_render_bytes(hi, sizeof hi, rss->slope_hi);
        snprintf(w->summary, sizeof w->summary,
                 "GROWING: RSS grows %s (95%% CI %s/s .. %s/s), %s -> %s%s", r1, lo, hi, b1, b2, d);
    } else {
        snprintf(r2, sizeof r2, "%s", r1);
        snprintf(w->summary, sizeof w->summary,
                 "NOT GROWING: RSS %s -> %s (%s, no material lasting trend)", b1, b2, r2);
    }
    rc = 0;
out:
    free(maps);
    free(idx);
    free(x);
    free(y);
    return rc;
}

static const char *
kind_advice(int kind)
{
    switch (kind) {
    case LK_MAP_HEAP:
        return "the brk heap (glibc's main arena) grows: run the program under the agent "
               "(leakscope run) to see which allocation sites grow";
    case LK_MAP_ANON:
        return "anonymous memory grows: a managed heap (V8, the JVM, Go, GHC), malloc's mmap'd "
               "arenas or large blocks, or another allocator; use the runtime's heap profiler, "
               "or leakscope run for malloc sites";
    case LK_MAP_STACK:
        return "stacks grow: threads are created and not joined, or a thread's stack deepens";
    case LK_MAP_FILE:
        return "file-backed pages grow: mapped files or shared memory being touched; usually "
               "page cache, not a leak";
    default:
        return NULL;
    }
}

int
lk_watch_render_text(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                     const struct lk_watch_verdict *w)
{
    const struct lk_procsplit *sp = &a->proc.split;
    char b1[32], b2[32], b3[32], r[32];
    fprintf(out, "%s\n\n", w->summary);
    fprintf(out, "watched ");
    for (size_t i = 0; i < m->info.cmdline.n && i < 200; i++) {
        char ch = (char)m->info.cmdline.p[i];
        fputc(ch == 0 ? ' ' : (ch < 32 ? '?' : ch), out);
    }
    fprintf(out, "(pid %llu) without the agent: %zu snapshots over %.1f s, every %llu ms\n\n",
            (unsigned long long)m->info.pid, m->nsnaps, a->proc.duration_s,
            (unsigned long long)m->info.period_ms);
    const struct lk_split_series *rss = &sp->part[LK_SPLIT_RSS];
    char lo[32], hi[32];
    fprintf(out, "   %-12s %10s -> %-10s peak %-10s %s%s/s (95%% CI %s/s .. %s/s, p = %.2g)\n",
            "RSS", lk_render_bytes(b1, sizeof b1, (double)rss->start),
            lk_render_bytes(b2, sizeof b2, (double)rss->end),
            lk_render_bytes(b3, sizeof b3, (double)rss->peak), rss->t.slope > 0 ? "+" : "",
            lk_render_bytes(r, sizeof r, rss->t.slope),
            lk_render_bytes(lo, sizeof lo, rss->t.slope_lo),
            lk_render_bytes(hi, sizeof hi, rss->t.slope_hi), rss->t.p);
    for (int k = 0; w->has_maps && k < LK_MAP_NKINDS; k++) {
        const struct lk_watch_kind *o = &w->kind[k];
        fprintf(
            out, "   %-12s %10s -> %-10s peak %-10s %s%s/s%s\n",
            lk_map_kind_name((enum lk_map_kind)k), lk_render_bytes(b1, sizeof b1, (double)o->start),
            lk_render_bytes(b2, sizeof b2, (double)o->end),
            lk_render_bytes(b3, sizeof b3, (double)o->peak), o->t.slope > 0 ? "+" : "",
            lk_render_bytes(r, sizeof r, o->t.slope), k == w->grows_most ? "  <- grows most" : "");
    }
    if (!w->has_maps)
        fprintf(out, "   (no per-mapping sums in this recording)\n");
    fprintf(out, "   threads      %llu\n", (unsigned long long)sp->threads);
    if (w->growing && w->grows_most >= 0 && kind_advice(w->grows_most))
        fprintf(out, "\n   %s\n", kind_advice(w->grows_most));
    if (sp->limit_kind != LK_LIMIT_NONE && sp->time_to_limit_s >= 0)
        fprintf(out, "   time to limit: %.0f s at %s/s reaches the %s of %s (%s used now)\n",
                sp->time_to_limit_s, lk_render_bytes(b1, sizeof b1, sp->rss_rate),
                sp->limit_kind == LK_LIMIT_CGROUP ? "cgroup limit" : "physical memory",
                lk_render_bytes(b2, sizeof b2, (double)sp->limit),
                lk_render_bytes(b3, sizeof b3, (double)sp->usage));
    else if (sp->limit_kind != LK_LIMIT_NONE)
        fprintf(out, "   time to limit: RSS does not grow (limit %s)\n",
                lk_render_bytes(b1, sizeof b1, (double)sp->limit));
    fprintf(out, "\n   Without the agent leakscope sees pages, not allocations: it cannot tell a "
                 "leak from a cache that fills.\n");
    fflush(out);
    return ferror(out) ? -EIO : 0;
}

static void
jnum(FILE *out, double v)
{
    lk_json_num(out, v, 17);
}

static void
jtrend(FILE *out, const struct lk_trend *t)
{
    fputs("\"rate_bytes_per_s\":", out);
    jnum(out, t->slope);
    fputs(",\"rate_ci\":[", out);
    jnum(out, t->slope_lo);
    fputc(',', out);
    jnum(out, t->slope_hi);
    fputs("],\"p_value\":", out);
    jnum(out, t->p);
}

int
lk_watch_render_json(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                     const struct lk_watch_verdict *w)
{
    const struct lk_procsplit *sp = &a->proc.split;
    const struct lk_split_series *rss = &sp->part[LK_SPLIT_RSS];
    const char *v = sp->verdict == LK_PROC_UNDECIDED ? "UNKNOWN"
                    : w->growing                     ? "GROWING"
                                                     : "NOT_GROWING";
    fprintf(out, "{\"schema\":1,\"watch\":true,\"pid\":%llu,\"snapshots\":%zu,\"duration_s\":",
            (unsigned long long)m->info.pid, m->nsnaps);
    jnum(out, a->proc.duration_s);
    fprintf(out, ",\"verdict\":\"%s\",\"process_verdict\":\"%s\",\"summary\":", v,
            lk_proc_verdict_name(sp->verdict));
    /* The summary holds only our own ASCII text and numbers. */
    fprintf(out, "\"%s\"", w->summary);
    fprintf(out, ",\"rss\":{\"start\":%llu,\"end\":%llu,\"peak\":%llu,",
            (unsigned long long)rss->start, (unsigned long long)rss->end,
            (unsigned long long)rss->peak);
    jtrend(out, &rss->t);
    fputs("},\"kinds\":{", out);
    for (int k = 0; w->has_maps && k < LK_MAP_NKINDS; k++) {
        const struct lk_watch_kind *o = &w->kind[k];
        fprintf(out, "%s\"%s\":{\"start\":%llu,\"end\":%llu,\"peak\":%llu,", k ? "," : "",
                lk_map_kind_name((enum lk_map_kind)k), (unsigned long long)o->start,
                (unsigned long long)o->end, (unsigned long long)o->peak);
        jtrend(out, &o->t);
        fputc('}', out);
    }
    fputs("},\"grows_most\":", out);
    if (w->grows_most >= 0)
        fprintf(out, "\"%s\"", lk_map_kind_name((enum lk_map_kind)w->grows_most));
    else
        fputs("null", out);
    fputs(",\"share\":", out);
    jnum(out, w->share);
    fprintf(out,
            ",\"threads\":%llu,\"time_to_limit\":{\"limit_kind\":%s,\"limit\":%llu,"
            "\"usage\":%llu,\"seconds\":",
            (unsigned long long)sp->threads,
            sp->limit_kind == LK_LIMIT_CGROUP     ? "\"cgroup\""
            : sp->limit_kind == LK_LIMIT_PHYSICAL ? "\"physical\""
                                                  : "null",
            (unsigned long long)sp->limit, (unsigned long long)sp->usage);
    jnum(out, sp->time_to_limit_s >= 0 ? sp->time_to_limit_s : NAN);
    fputs("}}\n", out);
    fflush(out);
    return ferror(out) ? -EIO : 0;
}
