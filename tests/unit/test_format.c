/* Unit tests of the recording format: record/writer.c encodes, record/reader.c
 * frames and record/format.c decodes. Every record type is written through a
 * writer that grows with realloc and read back field by field; then the
 * reader is attacked the way a crashed agent or a hostile file would: cut at
 * every offset, every byte flipped, wrong magic and versions, absurd lengths,
 * random payloads fed to every decoder. Buffers under attack are malloc'd at
 * their exact size so ASan builds (make asan) catch any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/varint.h"
#include "record/format.h"
#include "record/reader.h"
#include "record/writer.h"
#include "writer_heap.h"

/* ---- helpers ---------------------------------------------------------- */

static int
grow_fail(struct lk_writer *w, size_t need)
{
    (void)w;
    (void)need;
    return -12;
}

/* A writer that starts empty, so the first bytes already go through grow. */
static void
writer_new(struct lk_writer *w)
{
    lk_writer_init(w, NULL, 0, lk_test_grow, NULL);
}

static void
writer_free(struct lk_writer *w)
{
    free(w->buf);
    w->buf = NULL;
}

static struct lk_bytes
bytes_of(const char *s, size_t n)
{
    struct lk_bytes b = {(const uint8_t *)s, n};
    return b;
}

static void
assert_bytes(struct lk_bytes got, const void *want, size_t n)
{
    assert_int_equal(got.n, n);
    if (n)
        assert_memory_equal(got.p, want, n);
}

/* A copy of data[0..n) in a block of exactly n bytes (ASan sees overreads). */
static uint8_t *
exact_copy(const uint8_t *data, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    if (n)
        memcpy(p, data, n);
    return p;
}

static const uint64_t site_fields[2][LK_SITE_NFIELDS] = {
    {4096, 4, 10, 6, 40960},
    {1ull << 40, 123456789, UINT64_MAX, UINT64_MAX - 1, 77},
};

/* Fills the fixed test values of a snapshot. */
static void
snapshot_values(uint64_t *proc, uint64_t *ccount, uint64_t *cbytes)
{
    for (int i = 0; i < LK_PROC_NFIELDS; i++)
        proc[i] = 1000u * (uint64_t)(i + 1) + (uint64_t)i;
    proc[LK_PROC_RSS] = 48ull << 20;
    proc[LK_PROC_HEAP_LIVE] = 12ull << 20;
    for (int c = 0; c < LK_SIZE_CLASSES; c++) {
        ccount[c] = (uint64_t)c * 3;
        cbytes[c] = (uint64_t)c << c;
    }
}

/* Writes a SNAPSHOT with two sites: one with every cohort, one with three. */
static void
write_test_snapshot(struct lk_writer *w, uint64_t seq)
{
    uint64_t proc[LK_PROC_NFIELDS], ccount[LK_SIZE_CLASSES], cbytes[LK_SIZE_CLASSES];
    uint64_t born[LK_COHORTS], lcount[LK_COHORTS], lbytes[LK_COHORTS], hist[LK_SIZE_CLASSES];
    snapshot_values(proc, ccount, cbytes);
    for (int k = 0; k < LK_COHORTS; k++) {
        born[k] = 100u + (uint64_t)k;
        lcount[k] = (uint64_t)k;
        lbytes[k] = (uint64_t)k * 64;
    }
    for (int c = 0; c < LK_SIZE_CLASSES; c++)
        hist[c] = (uint64_t)(LK_SIZE_CLASSES - c);
    lk_write_snapshot_begin(w, seq, 1000000000ull * (seq + 1), seq + 1, proc, LK_PROC_NFIELDS,
                            ccount, cbytes, LK_SIZE_CLASSES);
    lk_write_snapshot_site(w, 1, site_fields[0], born, lcount, lbytes, LK_COHORTS, hist,
                           LK_SIZE_CLASSES);
    lk_write_snapshot_site(w, 300, site_fields[1], born, lcount, lbytes, 3, hist, 5);
    assert_int_equal(lk_write_snapshot_end(w), 0);
}

static const char cmdline[] = "./server\0--port\0"
                              "8080\0";
static const uint8_t build_id[20] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,
                                     7,    8,    9,    10,   11, 12, 13, 14, 15, 16};

static void
test_info(struct lk_info *in)
{
    memset(in, 0, sizeof *in);
    in->pid = 4242;
    in->ppid = 1;
    in->start_realtime_ns = 1700000000123456789ull;
    in->page_size = 4096;
    in->period_ms = 1000;
    in->depth = 32;
    in->sample_bytes = 0;
    in->flags = LK_INFO_TRACKS_MMAP | LK_INFO_FORK_CHILD;
    in->pointer_bytes = 8;
    in->arch = bytes_of("x86_64", 6);
    in->exe = bytes_of("/usr/bin/server", 15);
    in->cmdline = bytes_of(cmdline, sizeof cmdline - 1);
    in->agent_version = bytes_of("0.1.0", 5);
}

/* A small but complete recording: every record type once, sites, cohorts. */
static void
write_small_recording(struct lk_writer *w)
{
    struct lk_info in;
    struct lk_module m = {1,
                          0x555555554000ull,
                          0x555555554000ull,
                          0x555555559000ull,
                          10,
                          bytes_of("/usr/bin/server", 15),
                          {build_id, sizeof build_id}};
    struct lk_frame fr[3] = {{1, 0x1234}, {1, 0x10}, {0, 0x7fffdeadbeefull}};
    test_info(&in);
    writer_new(w);
    lk_writer_file_header(w);
    assert_int_equal(lk_write_info(w, &in), 0);
    assert_int_equal(lk_write_module(w, &m), 0);
    assert_int_equal(lk_write_stack(w, 1, LK_KIND_HEAP, fr, 3), 0);
    write_test_snapshot(w, 0);
    assert_int_equal(lk_write_module_gone(w, 1, 99), 0);
    assert_int_equal(lk_write_note(w, LK_NOTE_WARN, 5, "hello"), 0);
    assert_int_equal(lk_write_end(w, 2000000000ull, LK_END_EXIT, 0), 0);
}

/* Offsets of the records of a well-formed recording; returns their count. */
static size_t
record_offsets(const uint8_t *data, size_t len, uint64_t *offs, size_t max)
{
    struct lk_reader r;
    struct lk_record rec;
    size_t n = 0;
    assert_int_equal(lk_reader_open(&r, "t.lsr", data, len), 0);
    int rc;
    while ((rc = lk_reader_next(&r, &rec)) == 1) {
        assert_true(n < max);
        offs[n++] = rec.offset;
    }
    assert_int_equal(rc, 0);
    assert_false(r.torn);
    return n;
}

/* Runs the decoder that matches rec's type; its result only. */
static int
decode_any(const struct lk_record *rec)
{
    static struct lk_frame frames[LK_MAX_FRAMES];
    switch (rec->type) {
    case LK_REC_INFO: {
        struct lk_info x;
        return lk_info_decode(rec->payload, rec->len, &x);
    }
    case LK_REC_MODULE: {
        struct lk_module x;
        return lk_module_decode(rec->payload, rec->len, &x);
    }
    case LK_REC_MODULE_GONE: {
        struct lk_module_gone x;
        return lk_module_gone_decode(rec->payload, rec->len, &x);
    }
    case LK_REC_STACK: {
        struct lk_stack x;
        return lk_stack_decode(rec->payload, rec->len, &x, frames, LK_MAX_FRAMES);
    }
    case LK_REC_SNAPSHOT: {
        struct lk_snapshot s;
        struct lk_site_entry e;
        int rc = lk_snapshot_decode(rec->payload, rec->len, &s);
        if (rc < 0)
            return rc;
        /* Bounded: each entry consumes at least one byte. */
        for (size_t i = 0; i <= rec->len; i++) {
            rc = lk_snapshot_next_site(&s, &e);
            if (rc <= 0)
                return rc;
        }
        fail_msg("site walk did not terminate");
        return -1;
    }
    case LK_REC_END: {
        struct lk_end x;
        return lk_end_decode(rec->payload, rec->len, &x);
    }
    case LK_REC_NOTE: {
        struct lk_note x;
        return lk_note_decode(rec->payload, rec->len, &x);
    }
    case LK_REC_SCAN: {
        struct lk_scan s;
        struct lk_scan_site e;
        struct lk_scan_sample m;
        int rc = lk_scan_decode(rec->payload, rec->len, &s);
        if (rc < 0)
            return rc;
        size_t i = 0;
        while ((rc = lk_scan_next_site(&s, &e)) > 0)
            assert_true(++i <= rec->len);
        if (rc < 0)
            return rc;
        while ((rc = lk_scan_next_sample(&s, &m)) > 0)
            assert_true(++i <= rec->len);
        return rc;
    }
    default:
        return 0;
    }
}

/* ---- round trips ------------------------------------------------------ */

static void
test_every_record_round_trip(void **state)
{
    (void)state;
    struct lk_writer w;
    struct lk_info in;
    struct lk_module m1 = {1,
                           0x555555554000ull,
                           0x555555554000ull,
                           0x555555559000ull,
                           10,
                           bytes_of("/usr/bin/server", 15),
                           {build_id, sizeof build_id}};
    struct lk_module m2 = {UINT64_MAX,        0,          0x7f0000000000ull,
                           0x7f0000100000ull, UINT64_MAX, bytes_of("", 0),
                           {NULL, 0}};
    struct lk_frame deep[LK_MAX_FRAMES];
    struct lk_frame fr[3] = {{1, 0x1234}, {2, 0}, {0, UINT64_MAX}};
    for (size_t i = 0; i < LK_MAX_FRAMES; i++) {
        deep[i].module = i % 3;
        deep[i].offset = (uint64_t)i * 0x1000003ull;
    }
    test_info(&in);

    writer_new(&w);
    lk_writer_file_header(&w);
    assert_int_equal(lk_write_info(&w, &in), 0);
    assert_int_equal(lk_write_module(&w, &m1), 0);
    assert_int_equal(lk_write_module(&w, &m2), 0);
    assert_int_equal(lk_write_stack(&w, 1, LK_KIND_HEAP, fr, 3), 0);
    assert_int_equal(lk_write_stack(&w, UINT64_MAX, LK_KIND_MMAP, deep, LK_MAX_FRAMES), 0);
    assert_int_equal(lk_write_stack(&w, 7, LK_KIND_HEAP, NULL, 0), 0);
    write_test_snapshot(&w, 0);
    lk_write_snapshot_begin(&w, 1, 5, 6, NULL, 0, NULL, NULL, 0); /* empty snapshot */
    assert_int_equal(lk_write_snapshot_end(&w), 0);
    assert_int_equal(lk_write_module_gone(&w, 2, 123456), 0);
    assert_int_equal(lk_write_note(&w, LK_NOTE_ERROR, 77, "agent: out of memory"), 0);
    assert_int_equal(lk_write_note(&w, LK_NOTE_INFO, 0, NULL), 0);
    lk_writer_begin(&w, (enum lk_rec_type)200); /* a type from the future */
    lk_writer_u64(&w, 42);
    lk_writer_str(&w, "future");
    assert_int_equal(lk_writer_end(&w), 0);
    assert_int_equal(lk_write_end(&w, 3000000000ull, LK_END_SIGNAL, 15), 0);
    assert_true(w.cap >= w.len);

    uint8_t *data = exact_copy(w.buf, w.len);
    size_t len = w.len;
    writer_free(&w);

    struct lk_reader r;
    struct lk_record rec;
    assert_int_equal(lk_reader_open(&r, "t.lsr", data, len), 0);
    assert_int_equal(r.major, LK_VERSION_MAJOR);
    assert_int_equal(r.minor, LK_VERSION_MINOR);

    /* INFO */
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_INFO);
    assert_int_equal(rec.index, 0);
    assert_int_equal(rec.offset, LK_FILE_HEADER_LEN);
    struct lk_info gi;
    assert_int_equal(lk_info_decode(rec.payload, rec.len, &gi), 0);
    assert_int_equal(gi.pid, in.pid);
    assert_int_equal(gi.ppid, in.ppid);
    assert_int_equal(gi.start_realtime_ns, in.start_realtime_ns);
    assert_int_equal(gi.page_size, in.page_size);
    assert_int_equal(gi.period_ms, in.period_ms);
    assert_int_equal(gi.depth, in.depth);
    assert_int_equal(gi.sample_bytes, in.sample_bytes);
    assert_int_equal(gi.flags, in.flags);
    assert_int_equal(gi.pointer_bytes, in.pointer_bytes);
    assert_bytes(gi.arch, "x86_64", 6);
    assert_bytes(gi.exe, "/usr/bin/server", 15);
    assert_bytes(gi.cmdline, cmdline, sizeof cmdline - 1);
    assert_bytes(gi.agent_version, "0.1.0", 5);

    /* MODULE x2 */
    const struct lk_module *want_m[2] = {&m1, &m2};
    for (int i = 0; i < 2; i++) {
        struct lk_module gm;
        assert_int_equal(lk_reader_next(&r, &rec), 1);
        assert_int_equal(rec.type, LK_REC_MODULE);
        assert_int_equal(lk_module_decode(rec.payload, rec.len, &gm), 0);
        assert_int_equal(gm.id, want_m[i]->id);
        assert_int_equal(gm.base, want_m[i]->base);
        assert_int_equal(gm.lo, want_m[i]->lo);
        assert_int_equal(gm.hi, want_m[i]->hi);
        assert_int_equal(gm.time_ns, want_m[i]->time_ns);
        assert_bytes(gm.path, want_m[i]->path.p, want_m[i]->path.n);
        assert_bytes(gm.build_id, want_m[i]->build_id.p, want_m[i]->build_id.n);
    }

    /* STACK x3 */
    static struct lk_frame got[LK_MAX_FRAMES];
    struct lk_stack gs;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_STACK);
    assert_int_equal(lk_stack_decode(rec.payload, rec.len, &gs, got, LK_MAX_FRAMES), 0);
    assert_int_equal(gs.site, 1);
    assert_int_equal(gs.kind, LK_KIND_HEAP);
    assert_int_equal(gs.nframes, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].module, fr[i].module);
        assert_int_equal(got[i].offset, fr[i].offset);
    }
    /* Fewer slots than frames is an error, not an overflow. */
    assert_int_equal(lk_stack_decode(rec.payload, rec.len, &gs, got, 2), -LK_ECORRUPT);

    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_STACK);
    assert_int_equal(lk_stack_decode(rec.payload, rec.len, &gs, got, LK_MAX_FRAMES), 0);
    assert_int_equal(gs.site, UINT64_MAX);
    assert_int_equal(gs.kind, LK_KIND_MMAP);
    assert_int_equal(gs.nframes, LK_MAX_FRAMES);
    for (size_t i = 0; i < LK_MAX_FRAMES; i++) {
        assert_int_equal(got[i].module, deep[i].module);
        assert_int_equal(got[i].offset, deep[i].offset);
    }

    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_stack_decode(rec.payload, rec.len, &gs, got, LK_MAX_FRAMES), 0);
    assert_int_equal(gs.site, 7);
    assert_int_equal(gs.nframes, 0);

    /* SNAPSHOT with sites and cohorts */
    uint64_t proc[LK_PROC_NFIELDS], ccount[LK_SIZE_CLASSES], cbytes[LK_SIZE_CLASSES];
    snapshot_values(proc, ccount, cbytes);
    struct lk_snapshot sn;
    struct lk_site_entry e;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_SNAPSHOT);
    assert_int_equal(lk_snapshot_decode(rec.payload, rec.len, &sn), 0);
    assert_int_equal(sn.seq, 0);
    assert_int_equal(sn.time_ns, 1000000000ull);
    assert_int_equal(sn.period, 1);
    assert_int_equal(sn.nproc, LK_PROC_NFIELDS);
    for (int i = 0; i < LK_PROC_NFIELDS; i++)
        assert_int_equal(sn.proc[i], proc[i]);
    for (int c = 0; c < LK_SIZE_CLASSES; c++) {
        assert_int_equal(sn.class_count[c], ccount[c]);
        assert_int_equal(sn.class_bytes[c], cbytes[c]);
    }
    assert_int_equal(lk_snapshot_next_site(&sn, &e), 1);
    assert_int_equal(e.site, 1);
    for (int i = 0; i < LK_SITE_NFIELDS; i++)
        assert_int_equal(e.f[i], site_fields[0][i]);
    assert_int_equal(e.ncohorts, LK_COHORTS);
    for (int k = 0; k < LK_COHORTS; k++) {
        assert_int_equal(e.born[k], 100u + (uint64_t)k);
        assert_int_equal(e.live_count[k], (uint64_t)k);
        assert_int_equal(e.live_bytes[k], (uint64_t)k * 64);
    }
    for (int c = 0; c < LK_SIZE_CLASSES; c++)
        assert_int_equal(e.hist[c], (uint64_t)(LK_SIZE_CLASSES - c));
    assert_int_equal(lk_snapshot_next_site(&sn, &e), 1);
    assert_int_equal(e.site, 300);
    for (int i = 0; i < LK_SITE_NFIELDS; i++)
        assert_int_equal(e.f[i], site_fields[1][i]);
    assert_int_equal(e.ncohorts, 3);
    assert_int_equal(e.born[2], 102);
    assert_int_equal(e.live_bytes[2], 128);
    assert_int_equal(e.live_count[3], 0); /* beyond ncohorts: zero */
    assert_int_equal(e.hist[4], LK_SIZE_CLASSES - 4);
    assert_int_equal(e.hist[5], 0);
    assert_int_equal(lk_snapshot_next_site(&sn, &e), 0);

    /* the empty SNAPSHOT */
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_snapshot_decode(rec.payload, rec.len, &sn), 0);
    assert_int_equal(sn.seq, 1);
    assert_int_equal(sn.time_ns, 5);
    assert_int_equal(sn.period, 6);
    assert_int_equal(sn.nproc, 0);
    assert_int_equal(sn.proc[LK_PROC_RSS], 0);
    assert_int_equal(lk_snapshot_next_site(&sn, &e), 0);

    /* MODULE_GONE */
    struct lk_module_gone gg;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_MODULE_GONE);
    assert_int_equal(lk_module_gone_decode(rec.payload, rec.len, &gg), 0);
    assert_int_equal(gg.id, 2);
    assert_int_equal(gg.time_ns, 123456);

    /* NOTE x2 */
    struct lk_note gn;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_NOTE);
    assert_int_equal(lk_note_decode(rec.payload, rec.len, &gn), 0);
    assert_int_equal(gn.level, LK_NOTE_ERROR);
    assert_int_equal(gn.time_ns, 77);
    assert_bytes(gn.text, "agent: out of memory", 20);
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_note_decode(rec.payload, rec.len, &gn), 0);
    assert_int_equal(gn.level, LK_NOTE_INFO);
    assert_int_equal(gn.text.n, 0);

    /* The unknown type is returned as is: readers skip what they do not know. */
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, 200);
    assert_int_equal(rec.len, 1 + 1 + 6);
    assert_int_equal(rec.payload[0], 42);
    assert_memory_equal(rec.payload + 2, "future", 6);

    /* END */
    struct lk_end ge;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(rec.type, LK_REC_END);
    assert_int_equal(rec.index, 12);
    assert_int_equal(lk_end_decode(rec.payload, rec.len, &ge), 0);
    assert_int_equal(ge.time_ns, 3000000000ull);
    assert_int_equal(ge.reason, LK_END_SIGNAL);
    assert_int_equal(ge.code, 15);
    assert_int_equal(rec.offset + LK_FRAME_HEAD + rec.len + LK_FRAME_TAIL, len);

    assert_int_equal(lk_reader_next(&r, &rec), 0);
    assert_false(r.torn);
    assert_int_equal(lk_reader_next(&r, &rec), 0); /* stays at the end */
    free(data);
}

/* Fields appended by a later minor version are skipped by today's decoders. */
static void
test_trailing_fields_ignored(void **state)
{
    (void)state;
    struct lk_writer w;
    writer_new(&w);
    lk_writer_file_header(&w);

    lk_writer_begin(&w, LK_REC_MODULE_GONE);
    lk_writer_u64(&w, 5);
    lk_writer_u64(&w, 6);
    lk_writer_u64(&w, 999);    /* new field */
    lk_writer_str(&w, "more"); /* another */
    assert_int_equal(lk_writer_end(&w), 0);

    lk_writer_begin(&w, LK_REC_END);
    lk_writer_u64(&w, 1);
    lk_writer_u64(&w, LK_END_EXIT);
    lk_writer_u64(&w, 3);
    lk_writer_u64(&w, 12345);
    assert_int_equal(lk_writer_end(&w), 0);

    /* A snapshot of a future minor: more process fields than we know, and a
     * site with two extra per-site fields (the site's field count says so). */
    lk_writer_begin(&w, LK_REC_SNAPSHOT);
    lk_writer_u64(&w, 0);
    lk_writer_u64(&w, 10);
    lk_writer_u64(&w, 1);
    lk_writer_u64(&w, LK_PROC_NFIELDS + 3);
    for (unsigned i = 0; i < LK_PROC_NFIELDS + 3; i++)
        lk_writer_u64(&w, 500 + i);
    lk_writer_u64(&w, 0); /* no size classes */
    lk_writer_u64(&w, 9); /* site 9 */
    lk_writer_u64(&w, LK_SITE_NFIELDS + 2);
    for (unsigned i = 0; i < LK_SITE_NFIELDS + 2; i++)
        lk_writer_u64(&w, 10 + i);
    lk_writer_u64(&w, 1); /* one cohort */
    lk_writer_u64(&w, 1);
    lk_writer_u64(&w, 2);
    lk_writer_u64(&w, 3);
    lk_writer_u64(&w, 0); /* no histogram */
    lk_writer_u64(&w, 0); /* end of sites */
    assert_int_equal(lk_writer_end(&w), 0);

    /* And one that has fewer process fields than we know (an older minor). */
    uint64_t two[2] = {111, 222};
    lk_write_snapshot_begin(&w, 1, 20, 2, two, 2, NULL, NULL, 0);
    assert_int_equal(lk_write_snapshot_end(&w), 0);

    struct lk_reader r;
    struct lk_record rec;
    assert_int_equal(lk_reader_open(&r, "t.lsr", w.buf, w.len), 0);

    struct lk_module_gone g;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_module_gone_decode(rec.payload, rec.len, &g), 0);
    assert_int_equal(g.id, 5);
    assert_int_equal(g.time_ns, 6);

    struct lk_end e;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_end_decode(rec.payload, rec.len, &e), 0);
    assert_int_equal(e.code, 3);

    struct lk_snapshot s;
    struct lk_site_entry se;
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_snapshot_decode(rec.payload, rec.len, &s), 0);
    assert_int_equal(s.nproc, LK_PROC_NFIELDS + 3);
    assert_int_equal(s.proc[0], 500);
    assert_int_equal(s.proc[LK_PROC_NFIELDS - 1], 500 + LK_PROC_NFIELDS - 1);
    assert_int_equal(lk_snapshot_next_site(&s, &se), 1);
    assert_int_equal(se.site, 9);
    assert_int_equal(se.f[0], 10);
    assert_int_equal(se.f[LK_SITE_NFIELDS - 1], 10 + LK_SITE_NFIELDS - 1);
    assert_int_equal(se.ncohorts, 1);
    assert_int_equal(se.live_bytes[0], 3);
    assert_int_equal(lk_snapshot_next_site(&s, &se), 0);

    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_snapshot_decode(rec.payload, rec.len, &s), 0);
    assert_int_equal(s.nproc, 2);
    assert_int_equal(s.proc[0], 111);
    assert_int_equal(s.proc[1], 222);
    assert_int_equal(s.proc[LK_PROC_HEAP_LIVE], 0); /* missing reads as 0 */

    assert_int_equal(lk_reader_next(&r, &rec), 0);
    assert_false(r.torn);
    writer_free(&w);
}

/* Payloads shorter than their fields, or with impossible values. */
static void
test_short_payloads_rejected(void **state)
{
    (void)state;
    struct lk_info in;
    struct lk_module m;
    struct lk_module_gone g;
    struct lk_end e;
    struct lk_note n;
    struct lk_snapshot s;
    struct lk_stack st;
    struct lk_frame fr[4];
    const uint8_t one[1] = {1};

    assert_int_equal(lk_info_decode(one, 1, &in), -LK_ECORRUPT);
    assert_int_equal(lk_module_decode(one, 1, &m), -LK_ECORRUPT);
    assert_int_equal(lk_module_gone_decode(one, 1, &g), -LK_ECORRUPT);
    assert_int_equal(lk_end_decode(one, 1, &e), -LK_ECORRUPT);
    assert_int_equal(lk_note_decode(one, 1, &n), -LK_ECORRUPT);
    assert_int_equal(lk_snapshot_decode(one, 1, &s), -LK_ECORRUPT);
    assert_int_equal(lk_stack_decode(one, 1, &st, fr, 4), -LK_ECORRUPT);
    assert_int_equal(lk_end_decode(one, 0, &e), -LK_ECORRUPT);

    /* module id 0 and hi < lo are invalid */
    const uint8_t m0[] = {0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(lk_module_decode(m0, sizeof m0, &m), -LK_ECORRUPT);
    const uint8_t mlo[] = {1, 0, 9, 8, 0, 0, 0};
    assert_int_equal(lk_module_decode(mlo, sizeof mlo, &m), -LK_ECORRUPT);

    /* stack site 0; a frame count larger than the payload can hold */
    const uint8_t s0[] = {0, 0, 0};
    assert_int_equal(lk_stack_decode(s0, sizeof s0, &st, fr, 4), -LK_ECORRUPT);
    const uint8_t big[] = {1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 1};
    assert_int_equal(lk_stack_decode(big, sizeof big, &st, fr, 4), -LK_ECORRUPT);

    /* a string length past the payload */
    const uint8_t note[] = {0, 0, 50, 'a'};
    assert_int_equal(lk_note_decode(note, sizeof note, &n), -LK_ECORRUPT);

    /* more size classes than the format has */
    uint8_t snap[64];
    size_t k = 0;
    snap[k++] = 0; /* seq */
    snap[k++] = 0; /* time */
    snap[k++] = 0; /* period */
    snap[k++] = 0; /* nproc */
    snap[k++] = LK_SIZE_CLASSES + 1;
    while (k < sizeof snap)
        snap[k++] = 0;
    assert_int_equal(lk_snapshot_decode(snap, sizeof snap, &s), -LK_ECORRUPT);

    /* a site entry with more cohorts than the format has */
    struct lk_writer w;
    struct lk_site_entry se;
    writer_new(&w);
    lk_writer_begin(&w, LK_REC_SNAPSHOT);
    for (int i = 0; i < 5; i++)
        lk_writer_u64(&w, 0); /* seq time period nproc ncls */
    lk_writer_u64(&w, 3);     /* site */
    lk_writer_u64(&w, 0);     /* no fields */
    lk_writer_u64(&w, LK_COHORTS + 1);
    for (int i = 0; i < 3 * (LK_COHORTS + 1) + 2; i++)
        lk_writer_u64(&w, 1);
    assert_int_equal(lk_writer_end(&w), 0);
    assert_int_equal(
        lk_snapshot_decode(w.buf + LK_FRAME_HEAD, w.len - LK_FRAME_HEAD - LK_FRAME_TAIL, &s), 0);
    assert_int_equal(lk_snapshot_next_site(&s, &se), -LK_ECORRUPT);
    /* A site list that runs off the end without its 0 terminator. */
    lk_writer_reset(&w);
    lk_writer_begin(&w, LK_REC_SNAPSHOT);
    for (int i = 0; i < 5; i++)
        lk_writer_u64(&w, 0);
    lk_writer_u64(&w, 3);
    lk_writer_u64(&w, 0);
    lk_writer_u64(&w, 0);
    lk_writer_u64(&w, 0);
    assert_int_equal(lk_writer_end(&w), 0);
    assert_int_equal(
        lk_snapshot_decode(w.buf + LK_FRAME_HEAD, w.len - LK_FRAME_HEAD - LK_FRAME_TAIL, &s), 0);
    assert_int_equal(lk_snapshot_next_site(&s, &se), 1);
    assert_int_equal(lk_snapshot_next_site(&s, &se), -LK_ECORRUPT);
    writer_free(&w);
}

/* ---- the writer's own failures ---------------------------------------- */

static void
test_writer_errors(void **state)
{
    (void)state;
    uint8_t small[8];
    struct lk_writer w;
    lk_writer_init(&w, small, sizeof small, NULL, NULL);
    lk_writer_file_header(&w); /* 16 bytes do not fit in 8 */
    assert_int_equal(w.err, -LK_ENOSPACE);
    assert_int_equal(lk_write_end(&w, 1, LK_END_EXIT, 0), -LK_ENOSPACE); /* sticky */
    lk_writer_reset(&w);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, 0);

    /* end without begin, begin inside begin */
    uint8_t buf[64];
    lk_writer_init(&w, buf, sizeof buf, NULL, NULL);
    assert_int_equal(lk_writer_end(&w), -LK_EUSAGE);
    lk_writer_reset(&w);
    lk_writer_begin(&w, LK_REC_END);
    lk_writer_begin(&w, LK_REC_END);
    assert_int_equal(lk_writer_end(&w), -LK_EUSAGE);

    /* no grow callback and no buffer; a grow callback that fails */
    lk_writer_init(&w, NULL, 0, NULL, NULL);
    assert_int_equal(lk_write_note(&w, LK_NOTE_INFO, 0, "x"), -LK_ENOSPACE);
    lk_writer_init(&w, buf, 4, grow_fail, NULL);
    assert_int_equal(lk_write_note(&w, LK_NOTE_INFO, 0, "x"), -LK_ENOSPACE);
}

static void
test_cohorts_and_size_classes(void **state)
{
    (void)state;
    assert_int_equal(lk_cohort_of(0), 0);
    assert_int_equal(lk_cohort_of(1), 1);
    assert_int_equal(lk_cohort_of(2), 1);
    assert_int_equal(lk_cohort_of(3), 2);
    assert_int_equal(lk_cohort_of(6), 2);
    assert_int_equal(lk_cohort_of(7), 3);
    for (unsigned k = 0; k + 1 < LK_COHORTS; k++) {
        assert_int_equal(lk_cohort_of(lk_cohort_start(k)), k);
        assert_int_equal(lk_cohort_of(lk_cohort_start(k + 1) - 1), k);
    }
    assert_int_equal(lk_cohort_of(UINT64_MAX - 1), LK_COHORTS - 1);
    assert_int_equal(lk_cohort_of(1ull << 40), LK_COHORTS - 1);

    assert_int_equal(lk_size_class(0), 0);
    assert_int_equal(lk_size_class(1), 0);
    assert_int_equal(lk_size_class(2), 1);
    assert_int_equal(lk_size_class(3), 1);
    assert_int_equal(lk_size_class(4), 2);
    assert_int_equal(lk_size_class(4095), 11);
    assert_int_equal(lk_size_class(4096), 12);
    assert_int_equal(lk_size_class(1ull << 31), 31);
    assert_int_equal(lk_size_class(UINT64_MAX), LK_SIZE_CLASSES - 1);
}

/* ---- the file header -------------------------------------------------- */

static int
open_bytes(const uint8_t *hdr, size_t n, struct lk_reader *r)
{
    uint8_t *p = exact_copy(hdr, n);
    int rc = lk_reader_open(r, "bad.lsr", p, n);
    free(p);
    return rc;
}

static void
test_header_errors(void **state)
{
    (void)state;
    struct lk_reader r;
    uint8_t h[LK_FILE_HEADER_LEN];
    struct lk_writer w;
    lk_writer_init(&w, h, sizeof h, NULL, NULL);
    lk_writer_file_header(&w);
    assert_int_equal(w.len, LK_FILE_HEADER_LEN);
    assert_memory_equal(h, "LKSCOPE\0\x01\0\x03\0\0\0\0\0", 16); /* version 1.3 */

    /* a bare header is a valid, empty recording */
    assert_int_equal(open_bytes(h, sizeof h, &r), 0);

    assert_int_equal(open_bytes(h, 0, &r), -LK_EFORMAT);
    assert_non_null(strstr(r.errmsg, "bad.lsr: empty file"));

    uint8_t bad[LK_FILE_HEADER_LEN];
    memcpy(bad, h, sizeof bad);
    bad[0] = 'X';
    assert_int_equal(open_bytes(bad, sizeof bad, &r), -LK_EFORMAT);
    assert_non_null(strstr(r.errmsg, "not a leakscope recording"));
    memcpy(bad,
           "\x7f"
           "ELF",
           4);
    assert_int_equal(open_bytes(bad, sizeof bad, &r), -LK_EFORMAT);

    assert_int_equal(open_bytes(h, 12, &r), -LK_ETRUNC);
    assert_non_null(strstr(r.errmsg, "header truncated"));

    /* wrong major */
    memcpy(bad, h, sizeof bad);
    bad[8] = 2;
    bad[10] = 0;
    assert_int_equal(open_bytes(bad, sizeof bad, &r), -LK_EVERSION);
    assert_non_null(strstr(r.errmsg, "version 2.0 is not supported"));

    /* byte-swapped major (a big-endian writer) */
    memcpy(bad, h, sizeof bad);
    bad[8] = 0;
    bad[9] = 1;
    assert_int_equal(open_bytes(bad, sizeof bad, &r), -LK_EVERSION);
    assert_non_null(strstr(r.errmsg, "byte-swapped"));

    /* a newer minor of our major is read */
    memcpy(bad, h, sizeof bad);
    bad[10] = 7;
    assert_int_equal(open_bytes(bad, sizeof bad, &r), 0);
    assert_int_equal(r.minor, 7);
}

/* Frames with an impossible type or length, or a bad checksum mid-file. */
static void
test_frame_errors(void **state)
{
    (void)state;
    struct lk_writer w;
    struct lk_reader r;
    struct lk_record rec;
    write_small_recording(&w);
    uint64_t offs[16];
    size_t nrec = record_offsets(w.buf, w.len, offs, 16);
    assert_int_equal(nrec, 7);

    /* absurd length on the second record, followed by plenty of data */
    uint8_t *p = exact_copy(w.buf, w.len);
    p[offs[1] + 1] = 0xff;
    p[offs[1] + 2] = 0xff;
    p[offs[1] + 3] = 0xff;
    p[offs[1] + 4] = 0xff;
    assert_int_equal(lk_reader_open(&r, "t.lsr", p, w.len), 0);
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_next(&r, &rec), -LK_ECORRUPT);
    assert_non_null(strstr(r.errmsg, "t.lsr: record 1 at offset 0x"));
    assert_non_null(strstr(r.errmsg, "length exceeds the limit"));
    free(p);

    /* LK_MAX_RECORD + 1 is over the limit too */
    p = exact_copy(w.buf, w.len);
    uint32_t over = LK_MAX_RECORD + 1;
    for (int i = 0; i < 4; i++)
        p[offs[1] + 1 + (size_t)i] = (uint8_t)(over >> (8 * i));
    assert_int_equal(lk_reader_open(&r, "t.lsr", p, w.len), 0);
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_next(&r, &rec), -LK_ECORRUPT);
    free(p);

    /* type 0 */
    p = exact_copy(w.buf, w.len);
    p[offs[2]] = 0;
    assert_int_equal(lk_reader_open(&r, "t.lsr", p, w.len), 0);
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_next(&r, &rec), -LK_ECORRUPT);
    assert_non_null(strstr(r.errmsg, "invalid record type 0"));
    free(p);

    /* a payload byte changed in a middle record: checksum mismatch */
    p = exact_copy(w.buf, w.len);
    p[offs[3] + LK_FRAME_HEAD] ^= 0x40;
    assert_int_equal(lk_reader_open(&r, "t.lsr", p, w.len), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_next(&r, &rec), -LK_ECRC);
    assert_non_null(strstr(r.errmsg, "record 3 at offset 0x"));
    assert_non_null(strstr(r.errmsg, "checksum mismatch"));
    free(p);

    /* the same on the last record reads as a torn write */
    p = exact_copy(w.buf, w.len);
    p[offs[nrec - 1] + LK_FRAME_HEAD] ^= 0x40;
    assert_int_equal(lk_reader_open(&r, "t.lsr", p, w.len), 0);
    for (size_t i = 0; i + 1 < nrec; i++)
        assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_next(&r, &rec), 0);
    assert_true(r.torn);
    assert_int_equal(r.torn_offset, offs[nrec - 1]);
    free(p);

    /* lk_reader_fail formats the caller's own finding */
    assert_int_equal(lk_reader_open(&r, "x.lsr", w.buf, w.len), 0);
    assert_int_equal(lk_reader_next(&r, &rec), 1);
    assert_int_equal(lk_reader_fail(&r, &rec, -LK_ECORRUPT, "bad INFO"), -LK_ECORRUPT);
    assert_string_equal(r.errmsg, "x.lsr: record 0 at offset 0x10: bad INFO");
    writer_free(&w);
}

/* ---- torture: every cut, every flipped byte ---------------------------- */

static void
test_truncate_every_offset(void **state)
{
    (void)state;
    struct lk_writer w;
    write_small_recording(&w);
    uint64_t offs[16];
    size_t nrec = record_offsets(w.buf, w.len, offs, 16);

    for (size_t cut = 0; cut <= w.len; cut++) {
        uint8_t *p = exact_copy(w.buf, cut);
        struct lk_reader r;
        struct lk_record rec;
        int rc = lk_reader_open(&r, "cut.lsr", p, cut);
        if (cut < LK_FILE_HEADER_LEN) {
            assert_true(rc == -LK_EFORMAT || rc == -LK_ETRUNC);
            assert_true(cut < LK_MAGIC_LEN ? rc == -LK_EFORMAT : rc == -LK_ETRUNC);
            assert_non_null(strstr(r.errmsg, "cut.lsr: "));
            free(p);
            continue;
        }
        assert_int_equal(rc, 0);
        /* Records wholly inside the cut come back, in order, and decode. */
        size_t whole = 0;
        int at_boundary = cut == LK_FILE_HEADER_LEN;
        for (size_t i = 0; i < nrec; i++) {
            uint64_t end = i + 1 < nrec ? offs[i + 1] : w.len;
            if (end <= cut)
                whole++;
            if (end == cut)
                at_boundary = 1;
        }
        size_t got = 0;
        while ((rc = lk_reader_next(&r, &rec)) == 1) {
            assert_int_equal(rec.offset, offs[got]);
            assert_int_equal(decode_any(&rec), 0);
            got++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(got, whole);
        assert_int_equal(r.torn, !at_boundary);
        if (r.torn) {
            assert_int_equal(r.torn_offset, offs[whole]);
            assert_non_null(strstr(r.errmsg, "truncated"));
        }
        free(p);
    }
    writer_free(&w);
}

/* Walks a possibly corrupt recording; checks only the error contract. */
static void
walk_hostile(const uint8_t *data, size_t len)
{
    struct lk_reader r;
    struct lk_record rec;
    int rc = lk_reader_open(&r, "fuzz.lsr", data, len);
    if (rc < 0) {
        assert_true(rc == -LK_EFORMAT || rc == -LK_EVERSION || rc == -LK_ETRUNC);
        assert_non_null(strstr(r.errmsg, "fuzz.lsr: "));
        return;
    }
    size_t n = 0;
    while ((rc = lk_reader_next(&r, &rec)) == 1) {
        assert_true(rec.offset + LK_FRAME_HEAD + rec.len + LK_FRAME_TAIL <= len);
        (void)decode_any(&rec); /* may fail; must not crash */
        assert_true(++n <= len);
    }
    if (rc < 0) {
        assert_non_null(strstr(r.errmsg, "at offset 0x"));
        assert_true(rc == -LK_ECORRUPT || rc == -LK_ECRC);
    } else if (r.torn) {
        assert_true(r.torn_offset < len);
    }
}

static void
test_flip_every_byte(void **state)
{
    (void)state;
    struct lk_writer w;
    write_small_recording(&w);
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < w.len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            uint8_t *p = exact_copy(w.buf, w.len);
            p[i] ^= masks[m];
            walk_hostile(p, w.len);
            free(p);
        }
    }
    writer_free(&w);
}

/* Random payloads behind valid frames: every decoder sees garbage that has
 * passed the checksum, as a file crafted on purpose would be. */
static void
test_decoders_on_random_payloads(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    uint8_t buf[96];
    for (int iter = 0; iter < 200000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = (size_t)(x % sizeof buf);
        uint64_t y = x;
        for (size_t i = 0; i < n; i++) {
            y = y * 6364136223846793005ull + 1442695040888963407ull;
            uint8_t b = (uint8_t)(y >> 56);
            /* Mostly small varints so decoders get deep, some big ones. */
            buf[i] = (y & 0x300) ? (uint8_t)(b & 0x1f) : b;
        }
        uint8_t *p = exact_copy(buf, n);
        struct lk_record rec = {(unsigned)(1 + iter % 8), p, n, 0, 0};
        int rc = decode_any(&rec);
        assert_true(rc <= 0);
        free(p);
    }
}

/* A SCAN with two sites (one with retainers), and two content samples. */
static void
test_scan_round_trip(void **state)
{
    (void)state;
    struct lk_writer w;
    writer_new(&w);
    struct lk_scan s = {.seq = 2, .time_ns = 5000000000ull, .period = 5, .trigger = LK_SCAN_AT_EXIT,
                        .flags = LK_SCAN_REGISTERS | LK_SCAN_INTERIOR, .pause_ns = 1234567,
                        .scan_ns = 89000000, .threads = 3, .root_bytes = 1 << 20,
                        .heap_bytes = 1ull << 33, .blocks = 10000000};
    lk_write_scan_begin(&w, &s);
    struct lk_scan_site a = {.site = 7, .count = {3, 4, 5}, .bytes = {300, 400, UINT64_MAX},
                             .nret = 2, .ret_kind = {LK_RET_MODULE, LK_RET_SITE},
                             .ret_id = {1, 9}, .ret_count = {4, 1}};
    struct lk_scan_site b = {.site = 1ull << 40, .count = {1, 0, 0}, .bytes = {64, 0, 0}};
    lk_write_scan_site(&w, &a);
    lk_write_scan_site(&w, &b);
    lk_write_scan_sites_end(&w);
    uint8_t content[LK_SCAN_CONTENT], mask[LK_SCAN_CONTENT / 8] = {0x81, 0xff};
    for (int i = 0; i < LK_SCAN_CONTENT; i++)
        content[i] = (uint8_t)i;
    struct lk_scan_sample m1 = {.site = 7, .state = LK_BLOCK_UNREACHABLE, .size = 4096,
                                .period = 3, .content = {content, LK_SCAN_CONTENT},
                                .redacted = {mask, LK_SCAN_CONTENT / 8}};
    struct lk_scan_sample m2 = {.site = 1ull << 40, .state = LK_BLOCK_REACHABLE, .size = 5,
                                .period = 0, .content = {content, 5}, .redacted = {mask, 1}};
    lk_write_scan_sample(&w, &m1);
    lk_write_scan_sample(&w, &m2);
    assert_int_equal(lk_write_scan_end(&w), 0);

    const uint8_t *p = w.buf;
    assert_int_equal(p[0], LK_REC_SCAN);
    uint32_t len = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    assert_int_equal(len + LK_FRAME_HEAD + LK_FRAME_TAIL, w.len);
    struct lk_scan d;
    assert_int_equal(lk_scan_decode(p + LK_FRAME_HEAD, len, &d), 0);
    assert_int_equal(d.seq, 2);
    assert_int_equal(d.trigger, LK_SCAN_AT_EXIT);
    assert_int_equal(d.flags, LK_SCAN_REGISTERS | LK_SCAN_INTERIOR);
    assert_int_equal(d.pause_ns, 1234567);
    assert_int_equal(d.heap_bytes, 1ull << 33);
    assert_int_equal(d.blocks, 10000000);
    struct lk_scan_site e;
    assert_int_equal(lk_scan_next_site(&d, &e), 1);
    assert_int_equal(e.site, 7);
    assert_int_equal(e.count[LK_BLOCK_INDIRECT], 4);
    assert_int_equal(e.bytes[LK_BLOCK_REACHABLE], UINT64_MAX);
    assert_int_equal(e.nret, 2);
    assert_int_equal(e.ret_kind[1], LK_RET_SITE);
    assert_int_equal(e.ret_id[1], 9);
    assert_int_equal(e.ret_count[0], 4);
    assert_int_equal(lk_scan_next_site(&d, &e), 1);
    assert_int_equal(e.site, 1ull << 40);
    assert_int_equal(e.nret, 0);
    assert_int_equal(lk_scan_next_site(&d, &e), 0);
    struct lk_scan_sample m;
    assert_int_equal(lk_scan_next_sample(&d, &m), 1);
    assert_int_equal(m.size, 4096);
    assert_int_equal(m.period, 3);
    assert_bytes(m.content, content, LK_SCAN_CONTENT);
    assert_bytes(m.redacted, mask, LK_SCAN_CONTENT / 8);
    assert_int_equal(lk_scan_next_sample(&d, &m), 1);
    assert_int_equal(m.state, LK_BLOCK_REACHABLE);
    assert_bytes(m.content, content, 5);
    assert_int_equal(m.redacted.n, 1);
    assert_int_equal(lk_scan_next_sample(&d, &m), 0);

    /* Every shorter payload is refused, never read past. */
    for (uint32_t n = 0; n < len; n++) {
        uint8_t *q = exact_copy(p + LK_FRAME_HEAD, n);
        struct lk_record rec = {LK_REC_SCAN, q, n, 0, 0};
        assert_true(decode_any(&rec) < 0);
        free(q);
    }
    writer_free(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_record_round_trip),
        cmocka_unit_test(test_trailing_fields_ignored),
        cmocka_unit_test(test_short_payloads_rejected),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_cohorts_and_size_classes),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_truncate_every_offset),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_decoders_on_random_payloads),
        cmocka_unit_test(test_scan_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
