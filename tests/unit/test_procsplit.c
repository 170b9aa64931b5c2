/* Unit tests of the process split (src/analyze/procsplit.c) on synthetic
 * recordings built with the writer: a spike whose memory the allocator
 * keeps, heap growth against a cgroup limit, growth outside malloc and in
 * tracked mappings, a flat process, and a format 1.0 recording that lacks
 * the smaps, cgroup and MemTotal fields. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/model.h"
#include "analyze/procsplit.h"
#include "analyze/verdict.h"
#include "record/writer.h"
#include "writer_heap.h"

#define MiB (1024ull * 1024)

/* Fills proc[] for snapshot i of n. */
typedef void (*proc_fn)(uint64_t i, uint64_t n, uint64_t *proc);

/* n snapshots one second apart with nproc proc fields from fn and one site
 * whose live bytes follow the heap. */
static void
load(struct lk_model *m, proc_fn fn, uint64_t n, size_t nproc, uint64_t flags)
{
    struct lk_writer w;
    lk_writer_init(&w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(&w);
    struct lk_info info;
    memset(&info, 0, sizeof info);
    info.period_ms = 1000;
    info.flags = flags;
    assert_int_equal(lk_write_info(&w, &info), 0);
    struct lk_frame fr = {0, 0x1000};
    assert_int_equal(lk_write_stack(&w, 1, LK_KIND_HEAP, &fr, 1), 0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t proc[LK_PROC_NFIELDS] = {0};
        fn(i, n, proc);
        lk_write_snapshot_begin(&w, i, i * 1000000000ull, i, proc, nproc, NULL, NULL, 0);
        uint64_t f[LK_SITE_NFIELDS] = {proc[LK_PROC_HEAP_LIVE], i + 1, i + 1, 0, 0};
        lk_write_snapshot_site(&w, 1, f, NULL, NULL, NULL, 0, NULL, 0);
        assert_int_equal(lk_write_snapshot_end(&w), 0);
    }
    int rc = lk_model_load_mem(m, "synthetic.lsr", w.buf, w.len);
    if (rc < 0)
        fail_msg("load: %s", m->errmsg);
    free(w.buf);
}

/* A process at rest: 4 MiB RSS, 1 MiB of heap, glibc numbers to match. */
static void
base(uint64_t *p, uint64_t heap, uint64_t free_bytes)
{
    p[LK_PROC_HEAP_LIVE] = heap;
    p[LK_PROC_MI_FORD] = free_bytes;
    p[LK_PROC_MI_KEEP] = 64 * 1024;
    p[LK_PROC_MI_ARENA] = heap + free_bytes + 100 * 1024;
    p[LK_PROC_ANON] = p[LK_PROC_MI_ARENA] + 1 * MiB;
    p[LK_PROC_RSS_FILE] = 2 * MiB;
    p[LK_PROC_RSS] = p[LK_PROC_ANON] + p[LK_PROC_RSS_FILE];
    p[LK_PROC_MEM_TOTAL] = 16384 * MiB;
    p[LK_PROC_THREADS] = 2;
}

static void
spike(uint64_t i, uint64_t n, uint64_t *p)
{
    /* the heap goes to 40 MiB at a quarter of the run and back to 1 MiB;
     * the allocator keeps the freed 39 MiB (pinned top: keepcost small) */
    if (i < n / 4)
        base(p, 1 * MiB, 256 * 1024);
    else if (i < n / 4 + 3)
        base(p, 40 * MiB, 256 * 1024);
    else
        base(p, 1 * MiB, 39 * MiB);
}

static void
heap_growth(uint64_t i, uint64_t n, uint64_t *p)
{
    (void)n;
    base(p, 1 * MiB + i * 32768, 256 * 1024);
    p[LK_PROC_CG_LIMIT] = 512 * MiB;
    p[LK_PROC_CG_USAGE] = p[LK_PROC_RSS] + 100 * MiB; /* the cgroup holds more than us */
}

static void
outside(uint64_t i, uint64_t n, uint64_t *p)
{
    (void)n;
    base(p, 1 * MiB, 256 * 1024);
    p[LK_PROC_ANON] += i * 65536;
    p[LK_PROC_RSS] += i * 65536;
}

static void
mmap_growth(uint64_t i, uint64_t n, uint64_t *p)
{
    (void)n;
    base(p, 1 * MiB, 256 * 1024);
    p[LK_PROC_MMAP_LIVE] = i * 65536;
    p[LK_PROC_MMAP_COUNT] = i;
    p[LK_PROC_ANON] += i * 65536;
    p[LK_PROC_RSS] += i * 65536;
}

static void
flat(uint64_t i, uint64_t n, uint64_t *p)
{
    (void)n;
    base(p, 1 * MiB + (i % 3) * 1000, 256 * 1024);
}

static void
analyze(struct lk_model *m, struct lk_analysis *a)
{
    assert_int_equal(lk_verdict_analyze(m, a), 0);
}

static void
test_retention(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    load(&m, spike, 60, LK_PROC_NFIELDS, 0);
    analyze(&m, &a);
    const struct lk_procsplit *sp = &a.proc.split;
    if (sp->verdict != LK_PROC_RETENTION)
        fail_msg("process verdict %s, want ALLOCATOR_RETENTION", lk_proc_verdict_name(sp->verdict));
    assert_string_equal(lk_proc_verdict_name(sp->verdict), "ALLOCATOR_RETENTION");
    assert_true(sp->heap_drop >= 38 * MiB);
    assert_true(sp->free_held == 39 * MiB);
    assert_true(sp->nadvice >= 3);
    assert_non_null(strstr(sp->advice[0], "pinned top"));
    assert_non_null(strstr(sp->advice[0], "malloc_trim(0)"));
    int thresholds = 0;
    for (size_t i = 0; i < sp->nadvice; i++)
        thresholds += strstr(sp->advice[i], "M_TRIM_THRESHOLD") != NULL &&
                      strstr(sp->advice[i], "glibc.malloc.trim_threshold") != NULL;
    assert_int_equal(thresholds, 1);
    /* the site peaked and was freed: not a leak */
    assert_int_equal(a.verdict, LK_VERDICT_STABLE);
    assert_int_equal(a.sites[0].verdict, LK_VERDICT_TEMPORARY);
    assert_true(sp->time_to_limit_s < 0); /* RSS does not keep growing */
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_heap_growth_and_limit(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    load(&m, heap_growth, 60, LK_PROC_NFIELDS, 0);
    analyze(&m, &a);
    const struct lk_procsplit *sp = &a.proc.split;
    assert_int_equal(sp->verdict, LK_PROC_HEAP);
    assert_int_equal(sp->limit_kind, LK_LIMIT_CGROUP);
    assert_int_equal(sp->limit, 512 * MiB);
    /* usage is the cgroup's, not our RSS: (512 MiB - usage) / 32 KiB/s */
    double want = (double)(sp->limit - sp->usage) / 32768.0;
    assert_true(sp->usage > 100 * MiB);
    if (!(sp->time_to_limit_s > want * 0.98 && sp->time_to_limit_s < want * 1.02))
        fail_msg("time to limit %g s, want about %g s", sp->time_to_limit_s, want);
    assert_true(sp->part[LK_SPLIT_HEAP].t.slope > 32768 * 0.99);
    assert_true(sp->part[LK_SPLIT_FILE].recorded);
    assert_int_equal(a.verdict, LK_VERDICT_LEAK);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_outside_and_mmap(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    load(&m, outside, 60, LK_PROC_NFIELDS, 0);
    analyze(&m, &a);
    assert_int_equal(a.proc.split.verdict, LK_PROC_OUTSIDE);
    assert_false(a.proc.split.part[LK_SPLIT_MMAP].recorded);
    /* an agent without mmap tracking: say a newer one would attribute it */
    assert_int_equal(a.proc.split.nadvice, 1);
    assert_true(a.proc.split.part[LK_SPLIT_OUTSIDE].t.slope > 65536 * 0.99);
    assert_true(a.proc.split.time_to_limit_s > 0);
    assert_int_equal(a.proc.split.limit_kind, LK_LIMIT_PHYSICAL);
    lk_verdict_free(&a);
    lk_model_free(&m);

    load(&m, mmap_growth, 60, LK_PROC_NFIELDS, LK_INFO_TRACKS_MMAP);
    analyze(&m, &a);
    assert_int_equal(a.proc.split.verdict, LK_PROC_MMAP);
    assert_true(a.proc.split.part[LK_SPLIT_MMAP].recorded);
    /* the tracked mapping is not counted outside malloc as well */
    assert_true(a.proc.split.part[LK_SPLIT_OUTSIDE].end ==
                a.proc.split.part[LK_SPLIT_OUTSIDE].start);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_flat(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    load(&m, flat, 60, LK_PROC_NFIELDS, 0);
    analyze(&m, &a);
    assert_int_equal(a.proc.split.verdict, LK_PROC_NOT_GROWING);
    assert_int_equal(a.proc.split.nadvice, 0);
    assert_true(a.proc.split.time_to_limit_s < 0);
    lk_verdict_free(&a);
    lk_model_free(&m);

    load(&m, flat, 5, LK_PROC_NFIELDS, 0);
    analyze(&m, &a);
    assert_int_equal(a.proc.split.verdict, LK_PROC_UNDECIDED);
    assert_int_equal(a.verdict, LK_VERDICT_UNKNOWN);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

/* Format 1.0 had 12 proc fields: the rest reads as 0 and is "not
 * recorded", but the split still reports what it has. */
static void
test_old_recording(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    load(&m, heap_growth, 60, LK_PROC_ANON, 0);
    assert_int_equal(m.snaps[0].nproc, LK_PROC_ANON);
    analyze(&m, &a);
    const struct lk_procsplit *sp = &a.proc.split;
    assert_false(sp->has_smaps);
    assert_false(sp->part[LK_SPLIT_FILE].recorded);
    assert_false(sp->part[LK_SPLIT_MMAP].recorded);
    assert_true(sp->part[LK_SPLIT_HEAP].recorded);
    assert_int_equal(sp->limit_kind, LK_LIMIT_NONE);
    assert_true(sp->time_to_limit_s < 0);
    assert_int_equal(sp->verdict, LK_PROC_HEAP);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(lk_proc_verdict_name(LK_PROC_NOT_GROWING), "NOT_GROWING");
    assert_string_equal(lk_proc_verdict_name(LK_PROC_OUTSIDE), "OUTSIDE_MALLOC_GROWTH");
    assert_string_equal(lk_split_part_name(LK_SPLIT_MALLOC_FREE), "allocator free");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention),        cmocka_unit_test(test_heap_growth_and_limit),
        cmocka_unit_test(test_outside_and_mmap), cmocka_unit_test(test_flat),
        cmocka_unit_test(test_old_recording),    cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
