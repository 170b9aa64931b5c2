/* Cost of the agent's parts taken one at a time, linked directly from
 * lk_agent_core (no preload): site interning (hit and miss), live-map
 * insert and erase, stack capture at depth 8/32/64, and snapshot encoding
 * of 10k and 100k sites (full, all changed, 1% changed). Prints ns/op, the
 * ratios between variants, and the live map's bytes per entry. Every result
 * feeds a checksum that is printed, so nothing is optimised away.
 * usage: bench_tables [--quick] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libunwind.h>

#include "agent/live_map.h"
#include "agent/modules.h"
#include "agent/site_table.h"
#include "agent/snapshot.h"
#include "agent/unwind.h"
#include "base/crc32.h"

#define MAX_DEPTH 64

static uint64_t checksum;
static int quick;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
row(const char *what, double ns, double base_ns, const char *base_name)
{
    if (base_ns > 0)
        printf("  %-44s %9.1f ns/op   %5.2fx %s\n", what, ns, ns / base_ns, base_name);
    else
        printf("  %-44s %9.1f ns/op\n", what, ns);
}

/* Return addresses that look like a real program's: inside this binary's
 * text, so lk_modules_locate finds a module for them as it would. */
static void
fake_stack(uintptr_t *frames, size_t depth, uint64_t seed)
{
    uintptr_t text = (uintptr_t)&fake_stack;
    for (size_t i = 0; i < depth; i++)
        frames[i] = text + (uintptr_t)((seed * 2654435761u + i * 97) % 4096);
}

/* ---- site interning --------------------------------------------------- */

static void
bench_intern(void)
{
    static uintptr_t stacks[1000][MAX_DEPTH];
    static const size_t depths[] = {8, 32, 64};
    long n = quick ? 300000 : 2000000;
    printf("site interning (lk_site_intern)\n");
    double hit32 = 0;
    for (size_t d = 0; d < 3; d++) {
        size_t depth = depths[d];
        for (size_t k = 0; k < 1000; k++)
            fake_stack(stacks[k], depth, 1000003 * (d + 1) + k);
        for (size_t k = 0; k < 1000; k++) /* first sight: the miss path */
            checksum += lk_site_intern(stacks[k], depth, LK_KIND_HEAP)->id;
        double t0 = now();
        for (long i = 0; i < n; i++)
            checksum += lk_site_intern(stacks[(size_t)i % 1000], depth, LK_KIND_HEAP)->id;
        double ns = (now() - t0) * 1e9 / (double)n;
        char what[64];
        snprintf(what, sizeof what, "known stack (hit), depth %zu", depth);
        if (depth == 32)
            hit32 = ns;
        row(what, ns, d == 2 ? hit32 : 0, d == 2 ? "depth 32" : "");
    }
    /* The miss path: a new stack, hashed, locked and copied into the arena. */
    long m = quick ? 20000 : 100000;
    uintptr_t frames[32];
    double t0 = now();
    for (long i = 0; i < m; i++) {
        fake_stack(frames, 32, 7000000 + (uint64_t)i);
        frames[0] ^= (uintptr_t)i << 12; /* distinct from every other stack */
        struct lk_site *s = lk_site_intern(frames, 32, LK_KIND_HEAP);
        checksum += s ? s->id : 0;
    }
    row("new stack (miss), depth 32", (now() - t0) * 1e9 / (double)m, hit32, "hit");
}

/* ---- live map --------------------------------------------------------- */

static void
bench_live_map(void)
{
    size_t n = quick ? 300000 : 2000000;
    uintptr_t *addr = malloc(n * sizeof *addr);
    if (!addr)
        return;
    for (size_t i = 0; i < n; i++) /* heap-like: 16-byte aligned, spread over 4 GiB */
        addr[i] = (uintptr_t)0x7f0000000000ull +
                  (uintptr_t)(((uint64_t)i * 2654435761ull) % (1ull << 32)) * 16;
    printf("live map (lk_live_map_insert / _remove)\n");
    size_t base = lk_live_map_count(), base_bytes = lk_live_map_bytes();
    struct lk_live_info old;
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        checksum += (uint64_t)lk_live_map_insert(addr[i], 64 + i % 512, (uint32_t)(i % 1000) + 1,
                                                 (uint32_t)(i >> 16), &old);
    double ins = (now() - t0) * 1e9 / (double)n;
    size_t live = lk_live_map_count() - base;
    double per = (double)(lk_live_map_bytes() - base_bytes) / (double)(live ? live : 1);
    t0 = now();
    for (size_t i = 0; i < n; i++) {
        struct lk_live_info info;
        checksum += (uint64_t)lk_live_map_remove(addr[i], &info);
    }
    double rem = (now() - t0) * 1e9 / (double)n;
    /* Steady state: a live set of 100k, each step frees the oldest block
     * and allocates a new one (what a churning server does). */
    size_t win = 100000, steps = quick ? 500000 : 4000000;
    for (size_t i = 0; i < win; i++)
        lk_live_map_insert(addr[i], 64, 1, 0, &old);
    t0 = now();
    for (size_t i = 0; i < steps; i++) {
        struct lk_live_info info;
        checksum += (uint64_t)lk_live_map_remove(addr[i % n], &info);
        checksum += (uint64_t)lk_live_map_insert(addr[(i + win) % n], 64, 1, 0, &old);
    }
    double pair = (now() - t0) * 1e9 / (double)steps;
    for (size_t i = steps; i < steps + win; i++) {
        struct lk_live_info info;
        lk_live_map_remove(addr[i % n], &info);
    }
    char what[64];
    snprintf(what, sizeof what, "insert, growing to %zu live", n);
    row(what, ins, 0, "");
    row("remove", rem, ins, "insert");
    row("remove+insert, 100k live (steady state)", pair, ins, "insert");
    printf("  %-44s %9.1f bytes per live block (DESIGN.md budget: 32)\n", "map memory at peak",
           per);
    free(addr);
}

/* ---- stack capture ---------------------------------------------------- */

enum capture_way {
    CAPTURE_LIBUNWIND, /* unw_backtrace: what the agent started with */
    CAPTURE_WALK,      /* lk_unwind_walk from scratch: the frame-size table */
    CAPTURE_WALK_PREV, /* lk_unwind_walk given the previous walk: prefix reuse */
};

/* n captures from the same point, as a loop allocating from one place
 * does. Returns ns per capture. */
__attribute__((noinline)) static double
capture_loop(enum capture_way way, long n)
{
    static uintptr_t pcs[2][LK_MAX_FRAMES], sps[2][LK_MAX_FRAMES];
    size_t got[2] = {0, 0};
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0) + 16;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        size_t cur = (size_t)i & 1, prev = cur ^ 1;
        int same = 0, complete = 0;
        if (way == CAPTURE_LIBUNWIND) {
            got[cur] = (size_t)unw_backtrace((void **)pcs[cur], MAX_DEPTH + 8);
        } else if (way == CAPTURE_WALK || !got[prev]) {
            got[cur] =
                lk_unwind_walk(pc, sp, pcs[cur], sps[cur], MAX_DEPTH + 8, NULL, &same, &complete);
        } else {
            struct lk_unwind_prev p = {pcs[prev], sps[prev], got[prev], 1};
            got[cur] =
                lk_unwind_walk(pc, sp, pcs[cur], sps[cur], MAX_DEPTH + 8, &p, &same, &complete);
            if (same) { /* nothing written: the previous walk is this one */
                memcpy(pcs[cur], pcs[prev], got[prev] * sizeof pcs[0][0]);
                memcpy(sps[cur], sps[prev], got[prev] * sizeof sps[0][0]);
                got[cur] = got[prev];
            }
        }
        checksum += got[cur] + pcs[cur][got[cur] ? got[cur] - 1 : 0];
    }
    return (now() - t0) * 1e9 / (double)n;
}

__attribute__((noinline)) static double
descend(int d, enum capture_way way, long n)
{
    double r = d <= 1 ? capture_loop(way, n) : descend(d - 1, way, n);
    __asm__ volatile("" ::: "memory"); /* no tail call: every level is a frame */
    return r;
}

static void
bench_unwind(void)
{
    static const int depths[] = {8, 32, 64};
    static const char *const names[] = {"unw_backtrace (libunwind)", "lk_unwind_walk",
                                        "lk_unwind_walk, previous walk given"};
    long n = quick ? 20000 : 200000;
    printf("stack capture\n");
    for (int w = 0; w < 3; w++)
        descend(8, (enum capture_way)w, 1000); /* first use: caches and tables */
    for (int i = 0; i < 3; i++) {
        double base = 0;
        for (int w = 0; w < 3; w++) {
            /* main and libc's start frames sit below the ones added here */
            double ns = descend(depths[i] - 3, (enum capture_way)w, w ? n : n / 4);
            char what[96];
            snprintf(what, sizeof what, "depth %d: %s", depths[i], names[w]);
            if (w == 0)
                base = ns;
            row(what, ns, w ? base : 0, w ? "libunwind" : "");
        }
    }
    uint64_t fast = 0, slow = 0;
    lk_unwind_stats(&fast, &slow);
    printf("  %-44s %llu from the table, %llu libunwind steps and look-ups\n",
           "walks:", (unsigned long long)fast, (unsigned long long)slow);
}

/* ---- snapshot encoding ------------------------------------------------ */

/* Bytes written to fd so far. */
static long long
fd_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
}

static void
bench_snapshot(void)
{
    static const uint32_t sizes[] = {10000, 100000};
    uintptr_t lo, hi;
    lk_modules_init((uintptr_t)&bench_snapshot, &lo, &hi);
    printf("snapshot encoding (lk_snapshot_write into a file in /tmp)\n");
    uint32_t have = lk_site_count();
    for (int k = 0; k < 2; k++) {
        uint32_t want = sizes[k];
        uintptr_t frames[32];
        for (uint32_t i = 0; lk_site_count() < want && i < 4 * want; i++) {
            fake_stack(frames, 32, 90000000 + (uint64_t)have + i);
            frames[1] ^= (uintptr_t)(have + i) << 12;
            struct lk_site *s = lk_site_intern(frames, 32, LK_KIND_HEAP);
            if (s)
                lk_site_on_alloc(s, 64 + i % 900, i % 8);
        }
        uint32_t nsites = lk_site_count();
        /* A named file, not a memfd: the recorder stops when its file has no
         * link left (the recording was deleted), and a memfd has none. */
        char path[] = "/tmp/lkbench-snapshot.XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) {
            perror("mkstemp");
            return;
        }
        struct lk_recorder r;
        struct lk_info info;
        memset(&info, 0, sizeof info);
        info.pid = (uint64_t)getpid();
        info.period_ms = 1000;
        info.depth = 32;
        info.pointer_bytes = sizeof(void *);
        if (lk_snapshot_open(&r, fd, &info) < 0) {
            fprintf(stderr, "bench_tables: lk_snapshot_open failed\n");
            return;
        }
        long long s0 = fd_size(fd);
        double t0 = now();
        lk_snapshot_write(&r, 1, 0); /* the first: every stack and every site */
        double full = (now() - t0) * 1e3;
        long long s1 = fd_size(fd);
        /* 2 KiB more per site: a material change (snapshot.c writes a site
         * whose live memory moved by 1 KiB or 1/64), so every site is written */
        for (uint32_t id = 1; id <= nsites; id++)
            lk_site_on_alloc(lk_site_get(id), 2048, 2);
        t0 = now();
        lk_snapshot_write(&r, 2, 0); /* every site changed */
        double all = (now() - t0) * 1e3;
        long long s2 = fd_size(fd);
        for (uint32_t id = 1; id <= nsites; id += 100)
            lk_site_on_alloc(lk_site_get(id), 2048, 3);
        t0 = now();
        lk_snapshot_write(&r, 3, 0); /* 1% changed: a server at steady state */
        double some = (now() - t0) * 1e3;
        long long s3 = fd_size(fd);
        checksum += (uint64_t)s3;
        printf("  %u sites: first (stacks+all) %7.2f ms %8lld B | all changed %7.2f ms %8lld B"
               " | 1%% changed %6.2f ms %7lld B (%.1fx faster)\n",
               nsites, full, s1 - s0, all, s2 - s1, some, s3 - s2, some > 0 ? all / some : 0);
        lk_snapshot_close(&r);
        unlink(path);
        have = nsites;
    }
}

/* ---- CRC-32 (every record's frame) ------------------------------------ */

static void
bench_crc32(void)
{
    static uint8_t buf[2u << 20];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    printf("crc32 (zlib's crc32_z, base/crc32.c)\n");
    int rounds = quick ? 20 : 200;
    uint32_t c = 0;
    double t0 = now();
    for (int r = 0; r < rounds; r++)
        c ^= lk_crc32(0, buf, sizeof buf);
    double whole = (now() - t0) * 1e9 / ((double)rounds * sizeof buf);
    t0 = now();
    for (int r = 0; r < rounds; r++)
        for (size_t o = 0; o + 140 <= sizeof buf; o += 140)
            c ^= lk_crc32(0, buf + o, 140);
    double recs = (now() - t0) * 1e9 / ((double)rounds * (sizeof buf / 140 * 140));
    printf("  %-44s %8.3f ns/byte\n", "2 MiB buffer", whole);
    printf("  %-44s %8.3f ns/byte\n", "140-byte records (a STACK record)", recs);
    checksum += c;
}

int
main(int argc, char **argv)
{
    quick = argc > 1 && !strcmp(argv[1], "--quick");
    if (lk_site_table_init() < 0 || lk_live_map_init(0) < 0) {
        fprintf(stderr, "bench_tables: cannot initialise the agent's tables\n");
        return 1;
    }
    if (lk_unwind_init(0, 0) < 0) {
        fprintf(stderr, "bench_tables: cannot initialise stack capture\n");
        return 1;
    }
    bench_snapshot(); /* first: the other benchmarks add sites for good */
    bench_intern();
    bench_live_map();
    bench_unwind();
    bench_crc32();
    printf("checksum %llu\n", (unsigned long long)(checksum & 0xffff));
    return 0;
}
