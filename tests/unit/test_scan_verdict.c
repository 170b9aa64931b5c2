/* Unit tests of reachability scans in the model and the verdicts
 * (src/analyze/model.c, reach.c): synthetic recordings with SCAN records
 * built with the writer. Lost blocks under a flat trend are a LEAK; reachable
 * growth stays a trend verdict and is "held" by its top retainer; a scan
 * without registers or a partial one is evidence only; hostile SCAN
 * payloads never crash the model. */
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

#include "analyze/model.h"
#include "analyze/reach.h"
#include "analyze/verdict.h"
#include "record/writer.h"
#include "render/content.h"
#include "render/json.h"
#include "render/text.h"
#include "symbolize/symbolize.h"
#include "writer_heap.h"

/* In a scan_spec's flags: write the scan as the exit scan (not a format flag). */
#define SPEC_AT_EXIT 0x10000u

#define BLOCK 1024
#define NSNAPS 20

/* One scan to write after snapshot `after`: site 1's state and retainers. */
struct scan_spec {
    uint64_t after; /* snapshot index it follows */
    uint64_t flags; /* LK_SCAN_* */
    uint64_t lost;  /* site 1's unreachable blocks */
    uint64_t indirect;
    uint64_t reachable;
    int retained_by_site3; /* one retainer: site 3 */
    int sample;            /* add a content sample of site 1 */
};

/* Site 1 grows by `slope` blocks a second from `base` (never freed when
 * keep, else with turnover); site 2 is constant; site 3 is the holder.
 * Scans as given. */
static void
build(struct lk_writer *w, uint64_t base, uint64_t slope, int keep, const struct scan_spec *sc,
      size_t nsc)
{
    lk_writer_init(w, NULL, 0, lk_test_grow, NULL);
    lk_writer_file_header(w);
    struct lk_info info;
    memset(&info, 0, sizeof info);
    info.period_ms = 1000;
    assert_int_equal(lk_write_info(w, &info), 0);
    struct lk_module mod = {
        1, 0x400000, 0x400000, 0x500000, 0, {(const uint8_t *)"/srv/app", 8}, {NULL, 0}};
    assert_int_equal(lk_write_module(w, &mod), 0);
    for (uint64_t s = 1; s <= 3; s++) {
        struct lk_frame fr = {0, 0x1000 * s};
        assert_int_equal(lk_write_stack(w, s, LK_KIND_HEAP, &fr, 1), 0);
    }
    size_t k = 0;
    for (uint64_t i = 0; i < NSNAPS; i++) {
        uint64_t live = base + slope * i;
        uint64_t allocs = keep ? live : live * 3;
        uint64_t born[LK_COHORTS] = {0}, lc[LK_COHORTS] = {0}, lb[LK_COHORTS] = {0};
        for (uint64_t p = 0; p <= i; p++) {
            uint64_t b = p == 0 ? base : slope;
            born[lk_cohort_of(p)] += keep ? b : 3 * b;
            /* under turnover the oldest blocks go: only the newest live */
            uint64_t alive = keep ? b : (p + 1 >= i ? b : 0);
            lc[lk_cohort_of(p)] += alive;
            lb[lk_cohort_of(p)] += alive * BLOCK;
        }
        uint64_t proc[LK_PROC_NFIELDS] = {0};
        proc[LK_PROC_HEAP_LIVE] = live * BLOCK + 200000;
        proc[LK_PROC_RSS] = 8000000 + live * BLOCK;
        lk_write_snapshot_begin(w, i, i * 1000000000ull, i, proc, LK_PROC_NFIELDS, NULL, NULL, 0);
        uint64_t f[LK_SITE_NFIELDS] = {live * BLOCK, live, allocs, allocs - live, allocs * BLOCK};
        lk_write_snapshot_site(w, 1, f, born, lc, lb, LK_COHORTS, NULL, 0);
        uint64_t f2[LK_SITE_NFIELDS] = {100000, 100, 100, 0, 100000};
        lk_write_snapshot_site(w, 2, f2, NULL, NULL, NULL, 0, NULL, 0);
        uint64_t f3[LK_SITE_NFIELDS] = {100000, 10, 10, 0, 100000};
        lk_write_snapshot_site(w, 3, f3, NULL, NULL, NULL, 0, NULL, 0);
        assert_int_equal(lk_write_snapshot_end(w), 0);
        for (; k < nsc && sc[k].after == i; k++) {
            struct lk_scan h;
            memset(&h, 0, sizeof h);
            h.seq = k;
            h.time_ns = i * 1000000000ull + 500000000ull;
            h.period = i;
            h.trigger = sc[k].flags & SPEC_AT_EXIT ? LK_SCAN_AT_EXIT : LK_SCAN_BY_PERIOD;
            h.flags = sc[k].flags & ~(uint64_t)SPEC_AT_EXIT;
            h.pause_ns = 1200000;
            h.threads = 2;
            h.root_bytes = 65536;
            h.heap_bytes = 1 << 20;
            h.blocks = live + 110;
            lk_write_scan_begin(w, &h);
            struct lk_scan_site e;
            memset(&e, 0, sizeof e);
            e.site = 1;
            e.count[LK_BLOCK_UNREACHABLE] = sc[k].lost;
            e.bytes[LK_BLOCK_UNREACHABLE] = sc[k].lost * 64;
            e.count[LK_BLOCK_INDIRECT] = sc[k].indirect;
            e.bytes[LK_BLOCK_INDIRECT] = sc[k].indirect * 64;
            e.count[LK_BLOCK_REACHABLE] = sc[k].reachable;
            e.bytes[LK_BLOCK_REACHABLE] = sc[k].reachable * BLOCK;
            if (sc[k].retained_by_site3) {
                e.nret = 2;
                e.ret_kind[0] = LK_RET_SITE;
                e.ret_id[0] = 3;
                e.ret_count[0] = sc[k].reachable;
                e.ret_kind[1] = LK_RET_MODULE;
                e.ret_id[1] = 1;
                e.ret_count[1] = 1;
            }
            lk_write_scan_site(w, &e);
            memset(&e, 0, sizeof e);
            e.site = 2;
            e.count[LK_BLOCK_REACHABLE] = 100;
            e.bytes[LK_BLOCK_REACHABLE] = 100000;
            lk_write_scan_site(w, &e);
            lk_write_scan_sites_end(w);
            if (sc[k].sample) {
                static const uint8_t content[20] = "user=bob pass=\0\0\0\0x";
                static const uint8_t mask[3] = {0x00, 0xc0, 0x03}; /* bytes 14..17 */
                struct lk_scan_sample smp = {1, LK_BLOCK_UNREACHABLE,      64,
                                             3, {content, sizeof content}, {mask, sizeof mask}};
                lk_write_scan_sample(w, &smp);
            }
            assert_int_equal(lk_write_scan_end(w), 0);
        }
    }
}

static void
analyze(const struct scan_spec *sc, size_t nsc, uint64_t base, uint64_t slope, int keep,
        struct lk_model *m, struct lk_analysis *a)
{
    struct lk_writer w;
    build(&w, base, slope, keep, sc, nsc);
    int rc = lk_model_load_mem(m, "scan.lsr", w.buf, w.len);
    if (rc < 0)
        fail_msg("load: %s", m->errmsg);
    free(w.buf);
    assert_int_equal(lk_verdict_analyze(m, a), 0);
}

static const struct lk_site_verdict *
site_of(const struct lk_analysis *a, uint64_t id)
{
    for (size_t i = 0; i < a->nsites; i++)
        if (a->sites[i].id == id)
            return &a->sites[i];
    fail_msg("site %llu not in the analysis", (unsigned long long)id);
    return NULL;
}

/* The text report into a string (caller frees). */
static char *
report(const struct lk_model *m, const struct lk_analysis *a, int content, int json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct lk_render_opts ro = {0, 0, 0, content};
    struct lk_symbolizer *sym = lk_symbolize_open(m);
    assert_non_null(sym);
    if (json)
        assert_int_equal(lk_render_json(f, m, a, sym, &ro), 0);
    else
        assert_int_equal(lk_render_text(f, m, a, sym, &ro), 0);
    lk_symbolize_close(sym);
    fclose(f);
    return buf;
}

static void
expect_in(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' not found in:\n%s", needle, hay);
}

/* Lost blocks found only by the exit scan (main's locals are gone by then)
 * are evidence: a flat site stays STABLE, a growing one becomes LEAK. */
static void
test_lost_at_exit_is_evidence(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{19, LK_SCAN_REGISTERS | SPEC_AT_EXIT, 3, 57, 40, 0, 1}};
    analyze(sc, 1, 100, 0, 1, &m, &a);
    const struct lk_site_verdict *v = site_of(&a, 1);
    assert_int_equal(v->verdict, LK_VERDICT_STABLE);
    assert_true(v->reach.evidence && !v->reach.decisive);
    assert_int_equal(v->reach.lost_count, 60);
    assert_int_equal(a.lost_sites, 0);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_lost_flat_is_leak(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{19, LK_SCAN_REGISTERS, 3, 57, 40, 0, 1}};
    analyze(sc, 1, 100, 0, 1, &m, &a); /* flat: 100 blocks all run */
    const struct lk_site_verdict *v = site_of(&a, 1);
    assert_int_equal(v->reach.trend_verdict, LK_VERDICT_STABLE);
    assert_int_equal(v->verdict, LK_VERDICT_LEAK);
    assert_true(v->reach.lost && v->reach.decisive);
    assert_int_equal(v->reach.lost_count, 60);
    assert_int_equal(v->reach.lost_bytes, 60 * 64);
    assert_int_equal(a.verdict, LK_VERDICT_LEAK);
    assert_int_equal(a.lost_sites, 1);
    assert_true(a.verdict_by_scan);
    assert_int_equal(a.counts[LK_VERDICT_LEAK], 1);
    assert_int_equal(site_of(&a, 2)->verdict, LK_VERDICT_STABLE);
    assert_int_equal(a.sites[0].id, 1); /* ranked first */
    char *t = report(&m, &a, 0, 0);
    expect_in(t, "LEAK: 1 site holds 60 blocks (3.8 KiB) nothing points to");
    expect_in(t, "reachability (scan at 19.5 s): 3 unreachable blocks (192 B), 57 indirect "
                 "(3.6 KiB), 40 reachable (40.0 KiB)");
    expect_in(t, "lost: 60 blocks (3.8 KiB) nothing points to");
    expect_in(t, "Time to verdict: 19.5 s (the first reachability scan that found lost blocks)");
    expect_in(t, "Scans: 1 (period at 19.5 s), longest pause 1.2 ms");
    expect_in(t, "1 content sample recorded, hidden (pass --content to show them)");
    assert_null(strstr(t, "user=bob"));
    free(t);
    t = report(&m, &a, 1, 0);
    expect_in(t, "0000  75 73 65 72 3d 62 6f 62 20 70 61 73 73 3d ** **  |user=bob pass=**|");
    expect_in(t, "0010  ** ** 78 00");
    expect_in(t, "|**x.|");
    free(t);
    t = report(&m, &a, 0, 1);
    expect_in(t, "\"scan\":{");
    expect_in(t, "\"lost\":true");
    expect_in(t, "\"scans\":[");
    expect_in(t, "\"samples_hidden\":1");
    assert_null(strstr(t, "7573"));
    free(t);
    t = report(&m, &a, 1, 1);
    expect_in(t, "\"hex\":\"75 73 65 72");
    free(t);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_lost_rate_over_scans(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{4, LK_SCAN_REGISTERS, 10, 0, 90, 0, 0},
                             {9, LK_SCAN_REGISTERS, 20, 0, 80, 0, 0},
                             {19, LK_SCAN_REGISTERS, 40, 0, 60, 0, 0}};
    analyze(sc, 3, 100, 0, 1, &m, &a);
    const struct lk_site_verdict *v = site_of(&a, 1);
    assert_int_equal(v->verdict, LK_VERDICT_LEAK);
    assert_int_equal(v->reach.nlost_scans, 3);
    /* (40 - 10) * 64 bytes over 15 s */
    assert_true(v->reach.lost_rate > 127.9 && v->reach.lost_rate < 128.1);
    assert_true(v->verdict_time_s > 4.4 && v->verdict_time_s < 4.6);
    assert_int_equal(m.nscans, 3);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_reachable_growth_is_held(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{19, LK_SCAN_REGISTERS, 0, 0, 500, 1, 0}};
    analyze(sc, 1, 0, 32, 0, &m, &a); /* grows 32 KiB/s with turnover */
    const struct lk_site_verdict *v = site_of(&a, 1);
    if (v->verdict != LK_VERDICT_GROWING && v->verdict != LK_VERDICT_LEAK)
        fail_msg("verdict %s: %s", lk_verdict_name(v->verdict), v->why);
    assert_int_equal(v->verdict, v->reach.trend_verdict);
    assert_false(v->reach.lost);
    assert_true(v->reach.held);
    assert_int_equal(a.held_sites, 1);
    assert_int_equal(a.lost_sites, 0);
    assert_false(a.verdict_by_scan);
    char *t = report(&m, &a, 0, 0);
    expect_in(t, "held by something: look for a missing eviction or removal; mostly by site 3");
    expect_in(t, "retainers: site 3 (500 blocks), app .data/.bss (1 block)");
    free(t);
    t = report(&m, &a, 0, 1);
    expect_in(t, "\"held\":true");
    expect_in(t, "{\"kind\":\"site\",\"id\":3,\"count\":500");
    free(t);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_no_registers_is_evidence(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{19, 0, 3, 0, 97, 0, 0}};
    analyze(sc, 1, 100, 0, 1, &m, &a); /* flat */
    const struct lk_site_verdict *v = site_of(&a, 1);
    assert_int_equal(v->verdict, LK_VERDICT_STABLE);
    assert_true(v->reach.evidence);
    assert_false(v->reach.lost);
    assert_int_equal(a.verdict, LK_VERDICT_STABLE);
    assert_int_equal(a.evidence_sites, 1);
    char *t = report(&m, &a, 0, 0);
    expect_in(t, "(without every thread's registers)");
    free(t);
    lk_verdict_free(&a);
    lk_model_free(&m);

    /* A growing trend agrees: LEAK. */
    analyze(sc, 1, 0, 32, 0, &m, &a);
    v = site_of(&a, 1);
    assert_int_equal(v->verdict, LK_VERDICT_LEAK);
    assert_true(v->reach.evidence && v->reach.lost && !v->reach.decisive);
    assert_int_equal(a.lost_sites, 0);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_partial(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{19, LK_SCAN_REGISTERS | LK_SCAN_PARTIAL, 5, 0, 10, 0, 0}};
    analyze(sc, 1, 100, 0, 1, &m, &a);
    const struct lk_site_verdict *v = site_of(&a, 1);
    assert_int_equal(v->verdict, LK_VERDICT_STABLE);
    assert_true(v->reach.evidence);
    char *t = report(&m, &a, 0, 0);
    expect_in(t, "(partial: the scan stopped early, counts are lower bounds)");
    free(t);
    lk_verdict_free(&a);
    lk_model_free(&m);
    /* An earlier complete scan still decides. */
    struct scan_spec sc2[] = {{9, LK_SCAN_REGISTERS, 2, 0, 98, 0, 0},
                              {19, LK_SCAN_REGISTERS | LK_SCAN_PARTIAL, 5, 0, 10, 0, 0}};
    analyze(sc2, 2, 100, 0, 1, &m, &a);
    v = site_of(&a, 1);
    assert_int_equal(v->verdict, LK_VERDICT_LEAK);
    assert_int_equal(v->reach.lost_count, 2);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_lost_before_enough_snapshots(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    struct scan_spec sc[] = {{2, LK_SCAN_REGISTERS, 1, 0, 0, 0, 0}};
    struct lk_writer w;
    build(&w, 100, 0, 1, sc, 1);
    /* cut after the scan: 3 snapshots and the scan */
    struct lk_model full;
    assert_int_equal(lk_model_load_mem(&full, "x", w.buf, w.len), 0);
    lk_model_free(&full);
    size_t cut = 0;
    /* find the end of the SCAN record by walking frames */
    size_t off = 16;
    while (off + 9 <= w.len) {
        uint32_t len = (uint32_t)w.buf[off + 1] | (uint32_t)w.buf[off + 2] << 8 |
                       (uint32_t)w.buf[off + 3] << 16 | (uint32_t)w.buf[off + 4] << 24;
        uint8_t type = w.buf[off];
        off += 9 + len;
        if (type == LK_REC_SCAN) {
            cut = off;
            break;
        }
    }
    assert_true(cut > 0);
    assert_int_equal(lk_model_load_mem(&m, "short.lsr", w.buf, cut), 0);
    free(w.buf);
    assert_int_equal(m.nsnaps, 3);
    assert_int_equal(lk_verdict_analyze(&m, &a), 0);
    assert_int_equal(site_of(&a, 1)->verdict, LK_VERDICT_LEAK);
    assert_int_equal(a.verdict, LK_VERDICT_LEAK);
    assert_int_equal(site_of(&a, 2)->verdict, LK_VERDICT_UNKNOWN);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

static void
test_no_scans_unchanged(void **state)
{
    (void)state;
    struct lk_model m;
    struct lk_analysis a;
    analyze(NULL, 0, 100, 0, 1, &m, &a);
    assert_int_equal(m.nscans, 0);
    assert_false(site_of(&a, 1)->reach.scanned);
    char *t = report(&m, &a, 0, 0);
    assert_null(strstr(t, "Scans:"));
    assert_null(strstr(t, "reachability"));
    free(t);
    t = report(&m, &a, 0, 1);
    assert_null(strstr(t, "\"scan\":"));
    expect_in(t, "\"scans\":[]");
    free(t);
    lk_verdict_free(&a);
    lk_model_free(&m);
}

/* Hostile SCAN payloads: every truncation and some byte flips of a valid
 * one (with the frame's checksum recomputed) load or fail, never crash;
 * a count that claims more entries than bytes is refused. */
static void
test_hostile_scan(void **state)
{
    (void)state;
    struct lk_writer w;
    struct scan_spec sc[] = {{19, LK_SCAN_REGISTERS, 3, 1, 2, 1, 1}};
    build(&w, 100, 0, 1, sc, 1);
    size_t off = 16, at = 0, plen = 0;
    while (off + 9 <= w.len) {
        uint32_t len = (uint32_t)w.buf[off + 1] | (uint32_t)w.buf[off + 2] << 8 |
                       (uint32_t)w.buf[off + 3] << 16 | (uint32_t)w.buf[off + 4] << 24;
        if (w.buf[off] == LK_REC_SCAN) {
            at = off;
            plen = len;
            break;
        }
        off += 9 + len;
    }
    assert_true(at > 0);
    uint8_t payload[512];
    assert_true(plen < sizeof payload);
    memcpy(payload, w.buf + at + 5, plen);
    for (size_t variant = 0; variant < plen * 9; variant++) {
        struct lk_writer h;
        lk_writer_init(&h, NULL, 0, lk_test_grow, NULL);
        /* prefix: everything before the SCAN */
        assert_int_equal(lk_test_grow(&h, at), 0);
        memcpy(h.buf, w.buf, at);
        h.len = at;
        uint8_t p[512];
        size_t n = plen;
        memcpy(p, payload, plen);
        if (variant < plen)
            n = variant; /* truncated payload */
        else
            p[(variant - plen) / 8] ^= (uint8_t)(1u << ((variant - plen) % 8));
        lk_writer_begin(&h, LK_REC_SCAN);
        for (size_t i = 0; i < n; i++) {
            lk_writer_u64(&h, 0); /* makes room for one byte, which is then replaced */
            h.buf[h.len - 1] = p[i];
        }
        assert_int_equal(lk_writer_end(&h), 0);
        struct lk_model m;
        if (lk_model_load_mem(&m, "hostile.lsr", h.buf, h.len) == 0) {
            struct lk_analysis a;
            if (lk_verdict_analyze(&m, &a) == 0) {
                FILE *f = fopen("/dev/null", "w");
                struct lk_render_opts ro = {0, 0, 1, 1};
                struct lk_symbolizer *sym = lk_symbolize_open(&m);
                lk_render_text(f, &m, &a, sym, &ro);
                lk_render_json(f, &m, &a, sym, &ro);
                lk_symbolize_close(sym);
                fclose(f);
                lk_verdict_free(&a);
            }
        }
        lk_model_free(&m);
        free(h.buf);
    }
    free(w.buf);
}

static void
test_content_render(void **state)
{
    (void)state;
    const uint8_t c[3] = {'a', 0, 0x7f};
    const uint8_t r[1] = {0x2};
    struct lk_model_sample s = {1, 0, 3, 0, c, 3, r};
    char hex[16], text[8];
    lk_content_hex(hex, sizeof hex, &s, 0, 16);
    lk_content_text(text, sizeof text, &s, 0, 16);
    assert_string_equal(hex, "61 ** 7f");
    assert_string_equal(text, "a*.");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_flat_is_leak),
        cmocka_unit_test(test_lost_at_exit_is_evidence),
        cmocka_unit_test(test_lost_rate_over_scans),
        cmocka_unit_test(test_reachable_growth_is_held),
        cmocka_unit_test(test_no_registers_is_evidence),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_lost_before_enough_snapshots),
        cmocka_unit_test(test_no_scans_unchanged),
        cmocka_unit_test(test_hostile_scan),
        cmocka_unit_test(test_content_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
