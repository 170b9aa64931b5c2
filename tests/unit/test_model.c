/* Unit tests of loading recordings (src/analyze/model.c): recordings built
 * with the writer, written to temporary files and loaded back; series
 * semantics (absent sites keep their values, unseen sites are 0), torn
 * tails, corruption, hostile counts and files that are not recordings. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/model.h"
#include "base/err.h"
#include "record/writer.h"
#include "writer_heap.h"

static void
write_info(struct lk_writer *w, uint64_t flags)
{
    struct lk_info info;
    memset(&info, 0, sizeof info);
    info.pid = 77;
    info.period_ms = 1000;
    info.depth = 32;
    info.flags = flags;
    info.exe.p = (const uint8_t *)"/bin/srv";
    info.exe.n = 8;
    assert_int_equal(lk_write_info(w, &info), 0);
}

static void
site(struct lk_writer *w, uint64_t id, uint64_t live, uint64_t count, uint64_t allocs,
     uint64_t frees)
{
    uint64_t f[LK_SITE_NFIELDS] = {live, count, allocs, frees, allocs * 16};
    uint64_t born[3] = {allocs, 0, 0}, lc[3] = {count, 0, 0}, lb[3] = {live, 0, 0};
    uint64_t hist[5] = {0, 0, 0, 0, allocs};
    lk_write_snapshot_site(w, id, f, born, lc, lb, 3, hist, 5);
}

static void
snap_begin(struct lk_writer *w, uint64_t seq, uint64_t rss)
{
    uint64_t proc[LK_PROC_NFIELDS] = {0};
    uint64_t cc[2] = {1, 2}, cb[2] = {10, 20};
    proc[LK_PROC_RSS] = rss;
    proc[LK_PROC_HEAP_LIVE] = rss / 2;
    lk_write_snapshot_begin(w, seq, seq * 1000000000ull, seq, proc, LK_PROC_NFIELDS, cc, cb, 2);
}

/* The reference recording: 2 modules (one unloaded), 2 stacks, 4
 * snapshots (site 2 first appears in the second, site 1 is absent from the
 * third), a note and END. Returns its bytes; *offs gets each record's
 * offset, *nrec their count. */
static uint8_t *
build(size_t *len, size_t *offs, size_t *nrec)
{
    struct lk_writer w;
    size_t k = 0;
    lk_writer_init(&w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(&w);
    offs[k++] = w.len;
    write_info(&w, LK_INFO_NOT_INTERPOSED);
    struct lk_module m;
    memset(&m, 0, sizeof m);
    m.id = 1;
    m.base = 0x400000;
    m.lo = 0x400000;
    m.hi = 0x500000;
    m.path.p = (const uint8_t *)"/bin/srv";
    m.path.n = 8;
    m.build_id.p = (const uint8_t *)"\x01\x02\x03\x04";
    m.build_id.n = 4;
    offs[k++] = w.len;
    assert_int_equal(lk_write_module(&w, &m), 0);
    m.id = 2;
    m.base = 0x7f0000000000;
    m.lo = m.base;
    m.hi = m.base + 0x1000;
    m.path.p = (const uint8_t *)"/lib/plugin.so";
    m.path.n = 14;
    m.build_id.n = 0;
    offs[k++] = w.len;
    assert_int_equal(lk_write_module(&w, &m), 0);
    struct lk_frame fr[3] = {{1, 0x1234}, {2, 0x10}, {0, 0xdeadbeef}};
    offs[k++] = w.len;
    assert_int_equal(lk_write_stack(&w, 1, LK_KIND_HEAP, fr, 3), 0);
    offs[k++] = w.len;
    assert_int_equal(lk_write_stack(&w, 2, LK_KIND_MMAP, fr + 1, 1), 0);

    offs[k++] = w.len;
    snap_begin(&w, 0, 1000);
    site(&w, 1, 100, 1, 1, 0);
    assert_int_equal(lk_write_snapshot_end(&w), 0);
    offs[k++] = w.len;
    snap_begin(&w, 1, 2000);
    site(&w, 1, 200, 2, 2, 0);
    site(&w, 2, 4096, 1, 1, 0);
    assert_int_equal(lk_write_snapshot_end(&w), 0);
    offs[k++] = w.len;
    assert_int_equal(lk_write_module_gone(&w, 2, 1500000000ull), 0);
    offs[k++] = w.len;
    snap_begin(&w, 2, 3000);
    site(&w, 2, 8192, 2, 2, 0);
    assert_int_equal(lk_write_snapshot_end(&w), 0);
    offs[k++] = w.len;
    assert_int_equal(lk_write_note(&w, LK_NOTE_WARN, 2500000000ull, "dropped a snapshot"), 0);
    offs[k++] = w.len;
    snap_begin(&w, 3, 4000);
    site(&w, 1, 50, 1, 3, 2);
    assert_int_equal(lk_write_snapshot_end(&w), 0);
    offs[k++] = w.len;
    assert_int_equal(lk_write_end(&w, 3500000000ull, LK_END_EXIT, 3), 0);
    offs[k] = w.len;
    *nrec = k;
    *len = w.len;
    return w.buf;
}

static char tmpl[] = "/tmp/lk_test_model_XXXXXX";
static char path[sizeof tmpl];

static void
write_file(const void *p, size_t n)
{
    memcpy(path, tmpl, sizeof tmpl);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void
test_series(void **state)
{
    (void)state;
    size_t len, offs[32], nrec;
    uint8_t *buf = build(&len, offs, &nrec);
    write_file(buf, len);
    struct lk_model m;
    int rc = lk_model_load(&m, path);
    if (rc < 0)
        fail_msg("load: %s", m.errmsg);
    unlink(path);

    assert_true(m.has_info);
    assert_int_equal(m.info.pid, 77);
    assert_int_equal(m.info.flags, LK_INFO_NOT_INTERPOSED);
    assert_int_equal(m.torn, 0);
    assert_string_equal(m.warning, "");
    assert_int_equal(m.nmodules, 2);
    assert_string_equal(m.modules[0].path, "/bin/srv");
    assert_int_equal(m.modules[0].build_id_len, 4);
    assert_memory_equal(m.modules[0].build_id, "\x01\x02\x03\x04", 4);
    assert_int_equal(m.modules[0].gone_ns, UINT64_MAX);
    assert_int_equal(lk_model_module(&m, 2)->gone_ns, 1500000000ull);
    assert_null(lk_model_module(&m, 3));

    assert_int_equal(m.nsites, 2);
    const struct lk_model_site *s1 = lk_model_site(&m, 1), *s2 = lk_model_site(&m, 2);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_null(lk_model_site(&m, 3));
    assert_true(s1->has_stack);
    assert_int_equal(s1->nframes, 3);
    assert_int_equal(s1->frames[0].module, 1);
    assert_int_equal(s1->frames[0].offset, 0x1234);
    assert_int_equal(s1->frames[2].offset, 0xdeadbeef);
    assert_int_equal(s2->kind, LK_KIND_MMAP);

    assert_int_equal(m.nsnaps, 4);
    assert_int_equal(m.snaps[2].time_ns, 2000000000ull);
    assert_int_equal(m.snaps[3].proc[LK_PROC_RSS], 4000);
    assert_int_equal(m.snaps[3].proc[LK_PROC_HEAP_LIVE], 2000);
    assert_int_equal(m.snaps[1].class_count[1], 2);
    assert_int_equal(m.snaps[1].class_bytes[0], 10);
    assert_true(lk_model_time_s(&m, 3) == 3.0);

    /* site 1: 100, 200, (absent: keeps 200), 50 */
    assert_int_equal(lk_model_value(s1, LK_SITE_LIVE_BYTES, 0), 100);
    assert_int_equal(lk_model_value(s1, LK_SITE_LIVE_BYTES, 1), 200);
    assert_int_equal(lk_model_value(s1, LK_SITE_LIVE_BYTES, 2), 200);
    assert_int_equal(lk_model_value(s1, LK_SITE_LIVE_BYTES, 3), 50);
    assert_int_equal(lk_model_value(s1, LK_SITE_FREES, 3), 2);
    assert_int_equal(lk_model_value(s1, LK_SITE_ALLOC_BYTES, 3), 48);
    /* site 2: not yet seen in snapshot 0 */
    assert_int_equal(lk_model_value(s2, LK_SITE_LIVE_BYTES, 0), 0);
    assert_int_equal(lk_model_value(s2, LK_SITE_LIVE_BYTES, 1), 4096);
    assert_int_equal(lk_model_value(s2, LK_SITE_LIVE_COUNT, 3), 2);
    size_t idx[4] = {0, 1, 2, 3};
    uint64_t v[4];
    lk_model_values(s2, LK_SITE_LIVE_BYTES, idx, 4, v);
    assert_int_equal(v[0], 0);
    assert_int_equal(v[1], 4096);
    assert_int_equal(v[2], 8192);
    assert_int_equal(v[3], 8192);
    assert_int_equal(s2->peak_live_bytes, 8192);
    assert_int_equal(s2->peak_snap, 2);
    assert_int_equal(s1->peak_live_bytes, 200);

    /* cohorts and histogram as of the last snapshot that listed the site */
    assert_int_equal(s1->ncohorts, 3);
    assert_int_equal(s1->born[0], 3);
    assert_int_equal(s1->cohort_live_count[0], 1);
    assert_int_equal(s1->cohort_live_bytes[0], 50);
    assert_int_equal(s1->hist[4], 3);
    assert_int_equal(s2->born[0], 2);

    /* cohorts as of any snapshot: the site's latest entry at or before it */
    struct lk_model_cohorts c;
    assert_int_equal(lk_model_cohorts(s2, 0, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(lk_model_cohorts(s1, 0, &c), 1);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.born[0], 1);
    assert_int_equal(lk_model_cohorts(s1, 2, &c), 1); /* absent from 2: as of 1 */
    assert_int_equal(c.born[0], 2);
    assert_int_equal(c.live_bytes[0], 200);
    assert_int_equal(lk_model_cohorts(s1, 3, &c), 1);
    assert_int_equal(c.born[0], 3);
    assert_int_equal(c.live_count[0], 1);
    assert_int_equal(lk_model_cohorts(s2, 3, &c), 1);
    assert_int_equal(c.born[0], 2);
    assert_int_equal(m.snaps[0].nproc, LK_PROC_NFIELDS);

    assert_int_equal(m.nnotes, 1);
    assert_string_equal(m.notes[0].text, "dropped a snapshot");
    assert_int_equal(m.notes[0].level, LK_NOTE_WARN);
    assert_true(m.has_end);
    assert_int_equal(m.end.code, 3);
    lk_model_free(&m);
    free(buf);
}

/* Every cut inside the last record loads with a warning; a cut right after
 * a record loads cleanly. */
static void
test_truncated(void **state)
{
    (void)state;
    size_t len, offs[32], nrec;
    uint8_t *buf = build(&len, offs, &nrec);
    struct lk_model m;
    size_t last = offs[nrec - 1];
    for (size_t cut = last + 1; cut < len; cut++) {
        int rc = lk_model_load_mem(&m, "cut.lsr", buf, cut);
        if (rc < 0)
            fail_msg("cut at %zu: %s", cut, m.errmsg);
        assert_true(m.torn);
        assert_non_null(strstr(m.warning, "cut.lsr: record"));
        assert_int_equal(m.nsnaps, 4);
        assert_false(m.has_end);
        lk_model_free(&m);
    }
    /* cut inside the last snapshot: the snapshots before it remain */
    size_t snap4 = offs[nrec - 2];
    write_file(buf, snap4 + 9);
    assert_int_equal(lk_model_load(&m, path), 0);
    unlink(path);
    assert_true(m.torn);
    assert_int_equal(m.nsnaps, 3);
    assert_int_equal(lk_model_value(lk_model_site(&m, 1), LK_SITE_LIVE_BYTES, 2), 200);
    lk_model_free(&m);
    /* cut right after a record */
    assert_int_equal(lk_model_load_mem(&m, "cut.lsr", buf, snap4), 0);
    assert_false(m.torn);
    lk_model_free(&m);
    free(buf);
}

/* A flipped byte in a record followed by others is a clean error naming
 * the record and its offset. */
static void
test_corrupt(void **state)
{
    (void)state;
    size_t len, offs[32], nrec;
    uint8_t *buf = build(&len, offs, &nrec);
    size_t rec = 6; /* the second snapshot */
    buf[offs[rec] + 7] ^= 0x40;
    write_file(buf, len);
    struct lk_model m;
    int rc = lk_model_load(&m, path);
    unlink(path);
    assert_int_equal(rc, -LK_ECRC);
    char want[128];
    snprintf(want, sizeof want, ": record %zu at offset 0x%zx: checksum mismatch", rec, offs[rec]);
    if (!strstr(m.errmsg, want))
        fail_msg("message '%s' lacks '%s'", m.errmsg, want);
    assert_memory_equal(m.errmsg, path, strlen(path));
    lk_model_free(&m);

    /* flipping each byte of the file never crashes */
    buf[offs[rec] + 7] ^= 0x40;
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0xff;
        rc = lk_model_load_mem(&m, "flip.lsr", buf, len);
        if (rc < 0)
            assert_true(m.errmsg[0] != 0);
        lk_model_free(&m);
        buf[i] ^= 0xff;
    }
    free(buf);
}

/* Records with valid checksums but hostile contents. */
static void
test_hostile(void **state)
{
    (void)state;
    struct lk_writer w;
    struct lk_model m;
    lk_writer_init(&w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(&w);
    write_info(&w, 0);
    size_t at = w.len;
    lk_writer_begin(&w, LK_REC_STACK);
    lk_writer_u64(&w, 5);
    lk_writer_u64(&w, 0);
    lk_writer_u64(&w, 1ull << 40); /* frames */
    assert_int_equal(lk_writer_end(&w), 0);
    assert_int_equal(lk_write_end(&w, 1, LK_END_EXIT, 0), 0);
    int rc = lk_model_load_mem(&m, "h.lsr", w.buf, w.len);
    assert_true(rc < 0);
    char want[96];
    snprintf(want, sizeof want, "h.lsr: record 1 at offset 0x%zx: malformed STACK record", at);
    assert_string_equal(m.errmsg, want);
    lk_model_free(&m);

    /* a snapshot whose site list claims 2^40 cohorts */
    lk_writer_reset(&w);
    lk_writer_file_header(&w);
    write_info(&w, 0);
    lk_writer_begin(&w, LK_REC_SNAPSHOT);
    for (int i = 0; i < 4; i++)
        lk_writer_u64(&w, 0); /* seq, time, period, nproc */
    lk_writer_u64(&w, 0);     /* classes */
    lk_writer_u64(&w, 1);     /* site 1 */
    lk_writer_u64(&w, 0);     /* no fields */
    lk_writer_u64(&w, 1ull << 40);
    assert_int_equal(lk_writer_end(&w), 0);
    rc = lk_model_load_mem(&m, "h.lsr", w.buf, w.len);
    assert_true(rc < 0);
    assert_non_null(strstr(m.errmsg, "malformed SNAPSHOT record"));
    lk_model_free(&m);

    /* a first record that is not INFO */
    lk_writer_reset(&w);
    lk_writer_file_header(&w);
    assert_int_equal(lk_write_end(&w, 1, LK_END_EXIT, 0), 0);
    rc = lk_model_load_mem(&m, "h.lsr", w.buf, w.len);
    assert_int_equal(rc, -LK_EFORMAT);
    assert_non_null(strstr(m.errmsg, "first record is not INFO"));
    lk_model_free(&m);
    free(w.buf);
}

static void
test_not_recordings(void **state)
{
    (void)state;
    struct lk_model m;
    assert_int_equal(lk_model_load_mem(&m, "x.lsr", "", 0), -LK_EFORMAT);
    assert_non_null(strstr(m.errmsg, "x.lsr: empty file"));
    lk_model_free(&m);

    const char *text = "hello, this is not a recording\n";
    assert_int_equal(lk_model_load_mem(&m, "x.lsr", text, strlen(text)), -LK_EFORMAT);
    assert_string_equal(m.errmsg,
                        "x.lsr: not a leakscope recording (no LKSCOPE magic at offset 0)");
    lk_model_free(&m);

    uint8_t hdr[16] = "LKSCOPE";
    hdr[8] = 2; /* major 2 */
    assert_int_equal(lk_model_load_mem(&m, "x.lsr", hdr, sizeof hdr), -LK_EVERSION);
    assert_non_null(strstr(m.errmsg, "version 2.0 is not supported"));
    lk_model_free(&m);

    hdr[8] = 1; /* a header and nothing else */
    assert_int_equal(lk_model_load_mem(&m, "x.lsr", hdr, sizeof hdr), -LK_EFORMAT);
    assert_non_null(strstr(m.errmsg, "no INFO record"));
    lk_model_free(&m);

    assert_int_equal(lk_model_load(&m, "/nonexistent/dir/x.lsr"), -ENOENT);
    assert_string_equal(m.errmsg, "/nonexistent/dir/x.lsr: no such file or directory");
    lk_model_free(&m);

    assert_int_equal(lk_model_load(&m, "/tmp"), -EISDIR);
    assert_string_equal(m.errmsg, "/tmp: is a directory");
    lk_model_free(&m);
}

/* A recording with many snapshots and sites that rarely change stores
 * only the changes. */
static void
test_compact(void **state)
{
    (void)state;
    struct lk_writer w;
    struct lk_model m;
    lk_writer_init(&w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(&w);
    write_info(&w, 0);
    for (uint64_t s = 0; s < 5000; s++) {
        snap_begin(&w, s, 1);
        for (uint64_t id = 1; id <= 20; id++)
            if (s % (id * 10) == 0)
                site(&w, id, s / (id * 10), 1, 1, 0);
        site(&w, 21, 4096, 1, 1, 0); /* listed every time, never changes */
        assert_int_equal(lk_write_snapshot_end(&w), 0);
    }
    assert_int_equal(lk_model_load_mem(&m, "c.lsr", w.buf, w.len), 0);
    assert_int_equal(m.nsnaps, 5000);
    const struct lk_model_site *s7 = lk_model_site(&m, 7);
    assert_int_equal(s7->nchanges, 5000 / 70 + 1);
    assert_int_equal(lk_model_site(&m, 21)->nchanges, 1);
    assert_int_equal(lk_model_value(lk_model_site(&m, 21), LK_SITE_LIVE_BYTES, 4999), 4096);
    assert_int_equal(lk_model_value(s7, LK_SITE_LIVE_BYTES, 4999), 4999 / 70);
    assert_int_equal(lk_model_value(s7, LK_SITE_LIVE_BYTES, 139), 1);
    assert_int_equal(lk_model_value(s7, LK_SITE_LIVE_BYTES, 140), 2);
    lk_model_free(&m);
    free(w.buf);
}

/* lk_model_pick on a thinned-like series: 100 snapshots 60 s apart, then
 * 600 one second apart. Picks are increasing, start and end at the range's
 * ends, and spread by time (few from the dense last 10 minutes of a run of
 * about 110); lk_model_snap_at finds the first snapshot at a time. */
static void
test_pick_by_time(void **state)
{
    (void)state;
    struct lk_model m;
    memset(&m, 0, sizeof m);
    m.nsnaps = 700;
    m.snaps = calloc(m.nsnaps, sizeof *m.snaps);
    assert_non_null(m.snaps);
    for (size_t i = 0; i < 100; i++)
        m.snaps[i].time_ns = (uint64_t)i * 60000000000ull;
    for (size_t i = 100; i < 700; i++)
        m.snaps[i].time_ns = 6000000000000ull + (uint64_t)(i - 100) * 1000000000ull;
    size_t idx[300];
    size_t k = lk_model_pick(&m, 0, m.nsnaps, 300, idx);
    assert_true(k >= 100 && k <= 300);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[k - 1], 699);
    size_t recent = 0;
    for (size_t i = 0; i < k; i++) {
        if (i)
            assert_true(idx[i] > idx[i - 1]);
        recent += idx[i] >= 100;
    }
    assert_true(recent < 40); /* by count it would be 257 of 300 */
    assert_int_equal(lk_model_snap_at(&m, 0, m.nsnaps, 0), 0);
    assert_int_equal(lk_model_snap_at(&m, 0, m.nsnaps, 6000.5), 101);
    assert_int_equal(lk_model_snap_at(&m, 0, m.nsnaps, 1e9), 699);
    k = lk_model_pick(&m, 650, 700, 300, idx); /* a short range: all of it */
    assert_int_equal(k, 50);
    assert_int_equal(idx[0], 650);
    free(m.snaps);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_by_time),
        cmocka_unit_test(test_series),         cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_not_recordings), cmocka_unit_test(test_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
