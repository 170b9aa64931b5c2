/* Unit tests of record/thin.c, the compaction of older snapshots. Random
 * recordings are built with the writer (sites changing at random, size
 * classes on some snapshots only, notes, unknown record types, site entries
 * and snapshots with fields of a later minor), thinned, and both files are
 * replayed as a reader does (latest entry per site, classes "as before"):
 * the state at every kept snapshot must be byte-identical, the first and
 * latest snapshots kept, every other record copied in order. Then the agent's
 * way is simulated (thin, append, thin again), and hostile input (every
 * truncation, flipped bytes, bad arguments) is refused cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32.h"
#include "base/err.h"
#include "record/format.h"
#include "record/reader.h"
#include "record/thin.h"
#include "record/writer.h"
#include "writer_heap.h"

#define NSITES 40
#define SEC 1000000000ull

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A recording being built: w holds the file; seq and time of the next
 * snapshot; which sites have their STACK yet. */
struct gen {
    struct lk_writer w;
    uint64_t seq, t;
    int stacked[NSITES + 1];
};

static void
gen_open(struct gen *g)
{
    memset(g, 0, sizeof *g);
    lk_writer_init(&g->w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(&g->w);
    struct lk_info in;
    memset(&in, 0, sizeof in);
    in.pid = 7;
    in.period_ms = 1000;
    lk_write_info(&g->w, &in);
    struct lk_module m = {1, 0x400000, 0x400000, 0x500000, 0, {(const uint8_t *)"/bin/x", 6},
                          {NULL, 0}};
    lk_write_module(&g->w, &m);
}

/* Appends n snapshots (and the records around them) to w, at 1 s apart. */
static void
gen_snapshots(struct gen *g, struct lk_writer *w, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t proc[LK_PROC_NFIELDS], cc[LK_SIZE_CLASSES], cb[LK_SIZE_CLASSES];
        for (int k = 0; k < LK_PROC_NFIELDS; k++)
            proc[k] = rnd() % 100000;
        size_t ncl = 0;
        if (rnd() % 5 == 0) { /* classes on some snapshots only, as the agent does */
            ncl = 1 + rnd() % 8;
            for (size_t c = 0; c < ncl; c++) {
                cc[c] = rnd() % 1000;
                cb[c] = rnd() % 100000;
            }
        }
        int listed[NSITES + 1] = {0};
        int nlist = (int)(rnd() % 6);
        if (g->seq == 0)
            nlist = NSITES;
        for (int k = 0; k < nlist; k++)
            listed[g->seq == 0 ? k + 1 : (int)(1 + rnd() % NSITES)] = 1;
        for (int s = 1; s <= NSITES; s++)
            if (listed[s] && !g->stacked[s]) {
                struct lk_frame f[2] = {{1, (uint64_t)s * 16}, {1, 0x99}};
                lk_write_stack(w, (uint64_t)s, LK_KIND_HEAP, f, 2);
                g->stacked[s] = 1;
            }
        if (rnd() % 97 == 0)
            lk_write_note(w, LK_NOTE_WARN, g->t, "a note between snapshots");
        if (rnd() % 89 == 0) { /* a record type of a later minor: copied as it is */
            lk_writer_begin(w, (enum lk_rec_type)(8 + rnd() % 3));
            lk_writer_u64(w, rnd());
            lk_writer_str(w, "future");
            lk_writer_end(w);
        }
        lk_write_snapshot_begin(w, g->seq, g->t, g->seq + 1, proc, LK_PROC_AGENT + 1, cc, cb, ncl);
        for (int s = 1; s <= NSITES; s++) {
            if (!listed[s])
                continue;
            uint64_t f[LK_SITE_NFIELDS], born[4], lc[4], lb[4], hist[6];
            for (int k = 0; k < LK_SITE_NFIELDS; k++)
                f[k] = rnd() % 5000000;
            for (int k = 0; k < 4; k++) {
                born[k] = rnd() % 300;
                lc[k] = rnd() % 100;
                lb[k] = rnd() % 10000;
            }
            for (int k = 0; k < 6; k++)
                hist[k] = rnd() % 50;
            if (s == 3) { /* an entry with two per-site fields of a later minor */
                lk_writer_u64(w, (uint64_t)s);
                lk_writer_u64(w, LK_SITE_NFIELDS + 2);
                for (int k = 0; k < LK_SITE_NFIELDS; k++)
                    lk_writer_u64(w, f[k]);
                lk_writer_u64(w, rnd());
                lk_writer_u64(w, 5);
                lk_writer_u64(w, 0); /* ncohorts */
                lk_writer_u64(w, 0); /* nhist */
                continue;
            }
            lk_write_snapshot_site(w, (uint64_t)s, f, born, lc, lb, rnd() % 5, hist, rnd() % 7);
        }
        if (g->seq % 7 == 3) { /* bytes after the site list: a later minor's */
            lk_writer_u64(w, 0);
            lk_writer_u64(w, 4242);
            lk_writer_end(w);
        } else {
            lk_write_snapshot_end(w);
        }
        g->seq++;
        g->t += SEC;
    }
    assert_int_equal(w->err, 0);
}

struct buf {
    uint8_t *p;
    size_t n, cap;
    int fail_after; /* > 0: the callback fails on that call */
    int calls;
};

static int
buf_out(void *ctx, const void *p, size_t n)
{
    struct buf *b = ctx;
    if (b->fail_after && ++b->calls >= b->fail_after)
        return -28;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

/* Thins data into out (malloc'd); returns lk_thin_run's result. */
static int
thin(const uint8_t *data, size_t len, const struct lk_thin_policy *pol, struct buf *out,
     struct lk_thin_plan *plan)
{
    memset(out, 0, sizeof *out);
    int rc = lk_thin_prepare(data, len, pol, plan);
    if (rc < 0)
        return rc;
    void *scratch = calloc(1, plan->scratch);
    assert_non_null(scratch);
    rc = lk_thin_run(data, len, pol, plan, scratch, plan->scratch, buf_out, out);
    free(scratch);
    return rc;
}

/* ---- replay ------------------------------------------------------------ */

/* What a reader knows after each snapshot, as one CRC over: the snapshot's
 * head up to its classes, its effective classes (decoded, "as before"
 * resolved), the latest raw entry of every site, and its trailing bytes. */
struct replay {
    uint64_t nsnaps;
    uint64_t seq[20000];
    uint32_t digest[20000];
    uint32_t other[2000]; /* CRC of each non-snapshot record, in order */
    size_t nother;
};

static void
replay(const uint8_t *data, size_t len, struct replay *out)
{
    struct lk_reader r;
    struct lk_record rec;
    const uint8_t *entry[NSITES + 1] = {0};
    size_t entry_len[NSITES + 1] = {0};
    uint64_t cc[LK_SIZE_CLASSES] = {0}, cb[LK_SIZE_CLASSES] = {0};
    memset(out, 0, sizeof *out);
    assert_int_equal(lk_reader_open(&r, "t", data, len), 0);
    while (lk_reader_next(&r, &rec) == 1) {
        if (rec.type != LK_REC_SNAPSHOT) {
            assert_true(out->nother < 2000);
            out->other[out->nother++] =
                lk_crc32(0, data + rec.offset, rec.len + LK_FRAME_HEAD + LK_FRAME_TAIL);
            continue;
        }
        struct lk_snapshot sn;
        struct lk_site_entry e;
        assert_int_equal(lk_snapshot_decode(rec.payload, rec.len, &sn), 0);
        if (sn.nclasses) {
            memcpy(cc, sn.class_count, sizeof cc);
            memcpy(cb, sn.class_bytes, sizeof cb);
        }
        int rc;
        const uint8_t *at = sn.sites.p;
        while ((rc = lk_snapshot_next_site(&sn, &e)) == 1) {
            assert_true(e.site >= 1 && e.site <= NSITES);
            entry[e.site] = at;
            entry_len[e.site] = (size_t)(sn.sites.p - at);
            at = sn.sites.p;
        }
        assert_int_equal(rc, 0);
        /* head: seq, time, period, nproc and proc (everything before nclasses) */
        struct lk_dec d;
        lk_dec_init(&d, rec.payload, rec.len);
        for (int k = 0; k < 3; k++)
            lk_dec_u64(&d);
        uint64_t np = lk_dec_u64(&d);
        for (uint64_t k = 0; k < np; k++)
            lk_dec_u64(&d);
        uint32_t c = lk_crc32(0, rec.payload, (size_t)(d.p - rec.payload));
        c = lk_crc32(c, cc, sizeof cc);
        c = lk_crc32(c, cb, sizeof cb);
        for (int s = 1; s <= NSITES; s++) {
            uint8_t sep = 0xa5;
            c = lk_crc32(c, &sep, 1);
            if (entry[s])
                c = lk_crc32(c, entry[s], entry_len[s]);
        }
        c = lk_crc32(c, sn.sites.p, (size_t)(sn.sites.end - sn.sites.p));
        assert_true(out->nsnaps < 20000);
        out->seq[out->nsnaps] = sn.seq;
        out->digest[out->nsnaps++] = c;
    }
    assert_false(r.torn);
}

static struct replay ra, rb;

/* b is a thinning of a: same first and latest snapshot, kept snapshots a
 * subsequence with identical state, same other records in the same order.
 * Returns the number of snapshots in b. */
static uint64_t
check_thinned(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    replay(a, alen, &ra);
    replay(b, blen, &rb);
    assert_true(rb.nsnaps >= 1);
    assert_int_equal(rb.seq[0], ra.seq[0]);
    assert_int_equal(rb.seq[rb.nsnaps - 1], ra.seq[ra.nsnaps - 1]);
    size_t j = 0;
    for (size_t i = 0; i < rb.nsnaps; i++) {
        while (j < ra.nsnaps && ra.seq[j] != rb.seq[i])
            j++;
        assert_true(j < ra.nsnaps); /* kept snapshots are in the original, in order */
        if (rb.digest[i] != ra.digest[j])
            fail_msg("state differs at kept snapshot seq %llu", (unsigned long long)rb.seq[i]);
        j++;
    }
    assert_int_equal(rb.nother, ra.nother);
    assert_memory_equal(rb.other, ra.other, ra.nother * sizeof ra.other[0]);
    assert_true(blen <= alen);
    return rb.nsnaps;
}

/* The records of b, other than snapshots, sit between the same kept
 * snapshots as in a: checked by comparing the type sequence of a with the
 * removed snapshots taken out. */
static void
check_order(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    struct lk_reader ar, br;
    struct lk_record x, y;
    lk_reader_open(&ar, "a", a, alen);
    lk_reader_open(&br, "b", b, blen);
    while (lk_reader_next(&br, &y) == 1) {
        struct lk_snapshot ys, xs;
        if (y.type == LK_REC_SNAPSHOT)
            assert_int_equal(lk_snapshot_decode(y.payload, y.len, &ys), 0);
        for (;;) {
            assert_int_equal(lk_reader_next(&ar, &x), 1);
            if (x.type != LK_REC_SNAPSHOT)
                break;
            assert_int_equal(lk_snapshot_decode(x.payload, x.len, &xs), 0);
            if (y.type == LK_REC_SNAPSHOT && xs.seq == ys.seq)
                break;
        }
        assert_int_equal(x.type, y.type);
        if (y.type != LK_REC_SNAPSHOT) {
            assert_int_equal(x.len, y.len);
            assert_memory_equal(x.payload, y.payload, x.len);
        }
    }
}

/* ---- tests ------------------------------------------------------------- */

static void
test_state_kept_at_every_kept_snapshot(void **state)
{
    (void)state;
    struct gen g;
    gen_open(&g);
    gen_snapshots(&g, &g.w, 4000);
    lk_write_end(&g.w, g.t, LK_END_EXIT, 0);
    struct lk_thin_policy pol = {300 * SEC, 16};
    struct lk_thin_plan plan;
    struct buf out;
    assert_int_equal(thin(g.w.buf, g.w.len, &pol, &out, &plan), 0);
    assert_int_equal(plan.snaps, 4000);
    uint64_t kept = check_thinned(g.w.buf, g.w.len, out.p, out.n);
    check_order(g.w.buf, g.w.len, out.p, out.n);
    assert_int_equal(kept, plan.kept);
    /* 300 in the window, about 16 per doubling of age beyond (log2(3700/300) < 4) */
    assert_true(kept >= 300 && kept <= 300 + 16 * 5 + 8);
    /* Thinning again with the same policy changes nothing. */
    struct buf again;
    assert_int_equal(thin(out.p, out.n, &pol, &again, &plan), 0);
    assert_int_equal(again.n, out.n);
    assert_memory_equal(again.p, out.p, out.n);
    free(again.p);
    free(out.p);
    free(g.w.buf);
}

/* The agent's way: append, and thin whenever the file has grown; the result
 * must still be a thinning of the recording that was never thinned. */
static void
test_thin_while_appending(void **state)
{
    (void)state;
    struct gen g;
    gen_open(&g);
    struct lk_writer chunk;
    lk_writer_init(&chunk, NULL, 0, lk_test_grow, NULL);
    struct buf cur = {0};
    buf_out(&cur, g.w.buf, g.w.len);
    struct lk_thin_policy pol = {60 * SEC, 8};
    for (int round = 0; round < 40; round++) {
        lk_writer_reset(&chunk);
        gen_snapshots(&g, &chunk, 50 + (int)(rnd() % 100));
        buf_out(&cur, chunk.buf, chunk.len);
        if (g.w.cap - g.w.len < chunk.len) /* g.w: the same recording, never thinned */
            assert_int_equal(lk_test_grow(&g.w, g.w.len + chunk.len), 0);
        memcpy(g.w.buf + g.w.len, chunk.buf, chunk.len);
        g.w.len += chunk.len;
        struct lk_thin_plan plan;
        struct buf out;
        assert_int_equal(thin(cur.p, cur.n, &pol, &out, &plan), 0);
        free(cur.p);
        cur = out;
    }
    uint64_t kept = check_thinned(g.w.buf, g.w.len, cur.p, cur.n);
    check_order(g.w.buf, g.w.len, cur.p, cur.n);
    assert_true(kept < g.seq / 4);
    /* About as small as thinning the whole recording once: (a snapshot can
     * outlive its cell's first one at a boundary between two levels). */
    struct lk_thin_plan plan;
    struct buf once;
    assert_int_equal(thin(g.w.buf, g.w.len, &pol, &once, &plan), 0);
    print_message("kept %llu incrementally, %llu at once\n", (unsigned long long)kept, (unsigned long long)plan.kept);
    assert_true(kept >= plan.kept - plan.kept / 10 && kept <= plan.kept + plan.kept / 10);
    free(once.p);
    free(cur.p);
    free(chunk.buf);
    free(g.w.buf);
}

/* Size grows about logarithmically with the length of a steady run. */
static void
test_kept_grows_logarithmically(void **state)
{
    (void)state;
    struct gen g;
    gen_open(&g);
    gen_snapshots(&g, &g.w, 16000);
    struct lk_thin_policy pol = {100 * SEC, 16};
    struct lk_thin_plan plan;
    assert_int_equal(lk_thin_prepare(g.w.buf, g.w.len, &pol, &plan), 0);
    /* 100 in the window, log2(16000/100) = 7.3 doublings of 16 each */
    assert_true(plan.kept <= 100 + 16 * 9);
    assert_true(plan.kept >= 100 + 16 * 6);
    free(g.w.buf);
}

static void
test_small_inputs(void **state)
{
    (void)state;
    struct lk_thin_policy pol = {10 * SEC, 4};
    struct lk_thin_plan plan;
    struct buf out;
    struct gen g;
    gen_open(&g);
    /* no snapshot: copied as it is */
    assert_int_equal(thin(g.w.buf, g.w.len, &pol, &out, &plan), 0);
    assert_int_equal(out.n, g.w.len);
    assert_memory_equal(out.p, g.w.buf, g.w.len);
    free(out.p);
    /* one and two snapshots, far apart: both kept */
    gen_snapshots(&g, &g.w, 1);
    g.t += 1000 * SEC;
    gen_snapshots(&g, &g.w, 1);
    assert_int_equal(thin(g.w.buf, g.w.len, &pol, &out, &plan), 0);
    assert_int_equal(plan.kept, 2);
    assert_int_equal(out.n, g.w.len);
    free(out.p);
    /* a header only */
    assert_int_equal(thin(g.w.buf, LK_FILE_HEADER_LEN, &pol, &out, &plan), 0);
    assert_int_equal(out.n, LK_FILE_HEADER_LEN);
    free(out.p);
    free(g.w.buf);
}

static void
test_refuses_bad_input(void **state)
{
    (void)state;
    struct gen g;
    gen_open(&g);
    gen_snapshots(&g, &g.w, 60);
    struct lk_thin_policy pol = {10 * SEC, 2}, bad0 = {0, 2}, bad1 = {SEC, 0};
    struct lk_thin_plan plan;
    struct buf out;
    assert_int_equal(lk_thin_prepare(g.w.buf, g.w.len, &bad0, &plan), -LK_EUSAGE);
    assert_int_equal(lk_thin_prepare(g.w.buf, g.w.len, &bad1, &plan), -LK_EUSAGE);
    /* short scratch, failing output */
    assert_int_equal(lk_thin_prepare(g.w.buf, g.w.len, &pol, &plan), 0);
    void *scratch = calloc(1, plan.scratch);
    memset(&out, 0, sizeof out);
    assert_int_equal(lk_thin_run(g.w.buf, g.w.len, &pol, &plan, scratch, plan.scratch - 1,
                                 buf_out, &out),
                     -LK_ENOSPACE);
    out.fail_after = 5;
    assert_int_equal(
        lk_thin_run(g.w.buf, g.w.len, &pol, &plan, scratch, plan.scratch, buf_out, &out), -28);
    free(out.p);
    free(scratch);
    /* a torn tail: refused (the agent thins only whole files) */
    assert_int_equal(lk_thin_prepare(g.w.buf, g.w.len - 1, &pol, &plan), -LK_ETRUNC);
    /* every cut: refused, or (at a record boundary) a valid thinning */
    for (size_t cut = 0; cut < g.w.len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, g.w.buf, cut);
        int rc = thin(p, cut, &pol, &out, &plan);
        if (rc == 0 && plan.snaps)
            check_thinned(p, cut, out.p, out.n);
        free(out.p);
        free(p);
    }
    /* every byte flipped: refused, or a valid output that reads back */
    for (size_t at = 0; at < g.w.len; at += 3) {
        uint8_t *p = malloc(g.w.len);
        memcpy(p, g.w.buf, g.w.len);
        p[at] ^= (uint8_t)(1u << (at % 8));
        int rc = thin(p, g.w.len, &pol, &out, &plan);
        if (rc == 0) {
            struct lk_reader r;
            struct lk_record rec;
            assert_int_equal(lk_reader_open(&r, "x", out.p, out.n), 0);
            while ((rc = lk_reader_next(&r, &rec)) == 1)
                ;
            assert_int_equal(rc, 0);
            assert_false(r.torn);
        }
        free(out.p);
        free(p);
    }
    free(g.w.buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_kept_at_every_kept_snapshot),
        cmocka_unit_test(test_thin_while_appending),
        cmocka_unit_test(test_kept_grows_logarithmically),
        cmocka_unit_test(test_small_inputs),
        cmocka_unit_test(test_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
