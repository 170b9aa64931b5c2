/* libFuzzer target: a recording from hostile bytes through everything the
 * CLI does with one -- the framing reader and every record decoder (as
 * `dump -v` walks them), the agent's thinning (record/thin.c, whose output
 * must then read back whole), then the model, the verdicts with the process
 * split, and the text and JSON reports. Module paths are blanked before
 * symbolizing, so that a fuzzed path never makes the target open a device
 * or a FIFO (the symbolizer then looks modules up by build-id only, under
 * /usr/lib/debug, where random ids find nothing). Output goes to a
 * /dev/null stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/model.h"
#include "analyze/verdict.h"
#include "record/format.h"
#include "record/reader.h"
#include "record/thin.h"
#include "render/json.h"
#include "render/text.h"
#include "symbolize/symbolize.h"

static FILE *devnull;

static void
walk_records(const uint8_t *data, size_t len)
{
    struct lk_reader r;
    struct lk_record rec;
    static struct lk_frame frames[LK_MAX_FRAMES];
    if (lk_reader_open(&r, "fuzz", data, len) < 0)
        return;
    while (lk_reader_next(&r, &rec) == 1) {
        switch (rec.type) {
        case LK_REC_INFO: {
            struct lk_info in;
            lk_info_decode(rec.payload, rec.len, &in);
            break;
        }
        case LK_REC_MODULE: {
            struct lk_module m;
            lk_module_decode(rec.payload, rec.len, &m);
            break;
        }
        case LK_REC_MODULE_GONE: {
            struct lk_module_gone g;
            lk_module_gone_decode(rec.payload, rec.len, &g);
            break;
        }
        case LK_REC_STACK: {
            struct lk_stack st;
            lk_stack_decode(rec.payload, rec.len, &st, frames, LK_MAX_FRAMES);
            break;
        }
        case LK_REC_SNAPSHOT: {
            struct lk_snapshot s;
            struct lk_site_entry e;
            if (lk_snapshot_decode(rec.payload, rec.len, &s) == 0)
                while (lk_snapshot_next_site(&s, &e) == 1)
                    ;
            break;
        }
        case LK_REC_END: {
            struct lk_end en;
            lk_end_decode(rec.payload, rec.len, &en);
            break;
        }
        case LK_REC_NOTE: {
            struct lk_note no;
            lk_note_decode(rec.payload, rec.len, &no);
            break;
        }
        case LK_REC_SCAN: {
            struct lk_scan sc;
            struct lk_scan_site ss;
            struct lk_scan_sample sm;
            if (lk_scan_decode(rec.payload, rec.len, &sc) == 0) {
                int rc;
                while ((rc = lk_scan_next_site(&sc, &ss)) == 1)
                    ;
                while (rc == 0 && lk_scan_next_sample(&sc, &sm) == 1)
                    ;
            }
            break;
        }
        default:
            break;
        }
    }
}

struct out {
    uint8_t *p;
    size_t n, cap;
};

static int
out_append(void *ctx, const void *p, size_t n)
{
    struct out *o = ctx;
    if (n > o->cap - o->n)
        return -1; /* thinning never makes a file longer */
    memcpy(o->p + o->n, p, n);
    o->n += n;
    return 0;
}

/* Thins with a policy that removes nearly everything removable; when the
 * input is accepted, the output must frame cleanly, with no torn record. */
static void
thin(const uint8_t *data, size_t len)
{
    struct lk_thin_policy pol = {1000, 1};
    struct lk_thin_plan plan;
    if (lk_thin_prepare(data, len, &pol, &plan) < 0)
        return;
    void *scratch = calloc(1, plan.scratch);
    struct out o = {malloc(len ? len : 1), 0, len};
    if (scratch && o.p && lk_thin_run(data, len, &pol, &plan, scratch, plan.scratch, out_append, &o) == 0) {
        struct lk_reader r;
        struct lk_record rec;
        int rc;
        if (lk_reader_open(&r, "thinned", o.p, o.n) < 0)
            abort();
        while ((rc = lk_reader_next(&r, &rec)) == 1)
            ;
        if (rc < 0 || r.torn)
            abort();
    }
    free(scratch);
    free(o.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    walk_records(data, len);
    thin(data, len);

    struct lk_model m;
    struct lk_analysis a;
    memset(&a, 0, sizeof a);
    if (lk_model_load_mem(&m, "fuzz.lsr", data, len) == 0 && m.nsnaps > 0) {
        for (size_t i = 0; i < m.nmodules; i++)
            if (m.modules[i].path)
                m.modules[i].path[0] = '\0';
        if (lk_verdict_analyze(&m, &a) == 0) {
            struct lk_symbolizer *sym = lk_symbolize_open(&m);
            if (sym) {
                struct lk_render_opts ro;
                memset(&ro, 0, sizeof ro);
                lk_render_text(devnull, &m, &a, sym, &ro);
                ro.all = 1;
                lk_render_json(devnull, &m, &a, sym, &ro);
                lk_symbolize_close(sym);
            }
        }
        lk_verdict_free(&a);
    }
    lk_model_free(&m);
    return 0;
}
