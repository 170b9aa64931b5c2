/* Decoders for record payloads (docs/FORMAT.md). Pure functions over a
 * caller's bytes: no allocation, no state, bounded work per byte, so they are
 * safe on hostile input. Fields a newer minor version appends to a payload
 * are skipped; a payload shorter than its fields is LK_ECORRUPT. */
#include "format.h"

#include <string.h>

#include "../base/err.h"
#include "../base/varint.h"

void
lk_dec_init(struct lk_dec *d, const uint8_t *p, size_t n)
{
    d->p = p;
    d->end = p + n;
    d->err = 0;
}

uint64_t
lk_dec_u64(struct lk_dec *d)
{
    uint64_t v = 0;
    if (d->err)
        return 0;
    if (lk_varint_get(&d->p, d->end, &v) < 0) {
        d->err = -LK_ECORRUPT;
        return 0;
    }
    return v;
}

int64_t
lk_dec_i64(struct lk_dec *d)
{
    return lk_unzigzag(lk_dec_u64(d));
}

struct lk_bytes
lk_dec_bytes(struct lk_dec *d)
{
    struct lk_bytes b = {0, 0};
    uint64_t n = lk_dec_u64(d);
    if (d->err)
        return b;
    if (n > (uint64_t)(d->end - d->p)) {
        d->err = -LK_ECORRUPT;
        return b;
    }
    b.p = d->p;
    b.n = (size_t)n;
    d->p += n;
    return b;
}

uint64_t
lk_dec_count(struct lk_dec *d, size_t min_bytes)
{
    uint64_t n = lk_dec_u64(d);
    if (d->err)
        return 0;
    if (min_bytes && n > (uint64_t)(d->end - d->p) / min_bytes) {
        d->err = -LK_ECORRUPT;
        return 0;
    }
    return n;
}

int
lk_info_decode(const uint8_t *p, size_t n, struct lk_info *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    memset(out, 0, sizeof *out);
    out->pid = lk_dec_u64(&d);
    out->ppid = lk_dec_u64(&d);
    out->start_realtime_ns = lk_dec_u64(&d);
    out->page_size = lk_dec_u64(&d);
    out->period_ms = lk_dec_u64(&d);
    out->depth = lk_dec_u64(&d);
    out->sample_bytes = lk_dec_u64(&d);
    out->flags = lk_dec_u64(&d);
    out->pointer_bytes = lk_dec_u64(&d);
    out->arch = lk_dec_bytes(&d);
    out->exe = lk_dec_bytes(&d);
    out->cmdline = lk_dec_bytes(&d);
    out->agent_version = lk_dec_bytes(&d);
    return d.err;
}

int
lk_module_decode(const uint8_t *p, size_t n, struct lk_module *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    memset(out, 0, sizeof *out);
    out->id = lk_dec_u64(&d);
    out->base = lk_dec_u64(&d);
    out->lo = lk_dec_u64(&d);
    out->hi = lk_dec_u64(&d);
    out->time_ns = lk_dec_u64(&d);
    out->path = lk_dec_bytes(&d);
    out->build_id = lk_dec_bytes(&d);
    if (!d.err && (out->id == 0 || out->hi < out->lo))
        d.err = -LK_ECORRUPT;
    return d.err;
}

int
lk_module_gone_decode(const uint8_t *p, size_t n, struct lk_module_gone *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    out->id = lk_dec_u64(&d);
    out->time_ns = lk_dec_u64(&d);
    return d.err;
}

int
lk_stack_decode(const uint8_t *p, size_t n, struct lk_stack *out, struct lk_frame *frames,
                size_t max)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    out->site = lk_dec_u64(&d);
    out->kind = lk_dec_u64(&d);
    out->nframes = lk_dec_count(&d, 2);
    if (d.err)
        return d.err;
    if (out->site == 0 || out->nframes > max || out->nframes > LK_MAX_FRAMES)
        return -LK_ECORRUPT;
    for (uint64_t i = 0; i < out->nframes; i++) {
        frames[i].module = lk_dec_u64(&d);
        frames[i].offset = lk_dec_u64(&d);
    }
    return d.err;
}

int
lk_snapshot_decode(const uint8_t *p, size_t n, struct lk_snapshot *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    memset(out, 0, sizeof *out);
    out->seq = lk_dec_u64(&d);
    out->time_ns = lk_dec_u64(&d);
    out->period = lk_dec_u64(&d);
    out->nproc = lk_dec_count(&d, 1);
    for (uint64_t i = 0; i < out->nproc && !d.err; i++) {
        uint64_t v = lk_dec_u64(&d);
        if (i < LK_PROC_NFIELDS)
            out->proc[i] = v;
    }
    uint64_t ncls = lk_dec_count(&d, 2);
    if (!d.err && ncls > LK_SIZE_CLASSES)
        d.err = -LK_ECORRUPT;
    out->nclasses = ncls;
    for (uint64_t i = 0; i < ncls && !d.err; i++) {
        out->class_count[i] = lk_dec_u64(&d);
        out->class_bytes[i] = lk_dec_u64(&d);
    }
    out->sites = d;
    return d.err;
}

int
lk_snapshot_next_site(struct lk_snapshot *s, struct lk_site_entry *out)
{
    struct lk_dec *d = &s->sites;
    memset(out, 0, sizeof *out);
    out->site = lk_dec_u64(d);
    if (d->err)
        return d->err;
    if (out->site == 0)
        return 0;
    uint64_t nf = lk_dec_count(d, 1);
    for (uint64_t i = 0; i < nf && !d->err; i++) {
        uint64_t v = lk_dec_u64(d);
        if (i < LK_SITE_NFIELDS)
            out->f[i] = v;
    }
    out->ncohorts = lk_dec_count(d, 3);
    if (!d->err && out->ncohorts > LK_COHORTS)
        d->err = -LK_ECORRUPT;
    for (uint64_t k = 0; k < out->ncohorts && !d->err; k++) {
        out->born[k] = lk_dec_u64(d);
        out->live_count[k] = lk_dec_u64(d);
        out->live_bytes[k] = lk_dec_u64(d);
    }
    uint64_t nh = lk_dec_count(d, 1);
    if (!d->err && nh > LK_SIZE_CLASSES)
        d->err = -LK_ECORRUPT;
    for (uint64_t c = 0; c < nh && !d->err; c++)
        out->hist[c] = lk_dec_u64(d);
    return d->err ? d->err : 1;
}

int
lk_end_decode(const uint8_t *p, size_t n, struct lk_end *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    out->time_ns = lk_dec_u64(&d);
    out->reason = lk_dec_u64(&d);
    out->code = lk_dec_u64(&d);
    return d.err;
}

int
lk_note_decode(const uint8_t *p, size_t n, struct lk_note *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    out->level = lk_dec_u64(&d);
    out->time_ns = lk_dec_u64(&d);
    out->text = lk_dec_bytes(&d);
    return d.err;
}

int
lk_scan_decode(const uint8_t *p, size_t n, struct lk_scan *out)
{
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    memset(out, 0, sizeof *out);
    uint64_t *head[] = {&out->seq,     &out->time_ns,  &out->period,     &out->trigger,
                        &out->flags,   &out->pause_ns, &out->scan_ns,    &out->threads,
                        &out->root_bytes, &out->heap_bytes, &out->blocks};
    uint64_t nh = lk_dec_count(&d, 1);
    for (uint64_t i = 0; i < nh && !d.err; i++) {
        uint64_t v = lk_dec_u64(&d);
        if (i < sizeof head / sizeof head[0])
            *head[i] = v;
    }
    out->sites = d;
    return d.err;
}

int
lk_scan_next_site(struct lk_scan *s, struct lk_scan_site *out)
{
    struct lk_dec *d = &s->sites;
    memset(out, 0, sizeof *out);
    out->site = lk_dec_u64(d);
    if (d->err)
        return d->err;
    if (out->site == 0)
        return 0;
    uint64_t nf = lk_dec_count(d, 1);
    for (uint64_t i = 0; i < nf && !d->err; i++) {
        uint64_t v = lk_dec_u64(d);
        if (i < 2 * LK_NSTATES)
            *(i % 2 ? &out->bytes[i / 2] : &out->count[i / 2]) = v;
    }
    out->nret = lk_dec_count(d, 3);
    if (!d->err && out->nret > LK_SCAN_RETAINERS)
        d->err = -LK_ECORRUPT;
    for (uint64_t k = 0; k < out->nret && !d->err; k++) {
        out->ret_kind[k] = lk_dec_u64(d);
        out->ret_id[k] = lk_dec_u64(d);
        out->ret_count[k] = lk_dec_u64(d);
    }
    return d->err ? d->err : 1;
}

int
lk_scan_next_sample(struct lk_scan *s, struct lk_scan_sample *out)
{
    struct lk_dec *d = &s->sites;
    memset(out, 0, sizeof *out);
    out->site = lk_dec_u64(d);
    if (d->err)
        return d->err;
    if (out->site == 0)
        return 0;
    uint64_t nf = lk_dec_count(d, 1);
    uint64_t *f[] = {&out->state, &out->size, &out->period};
    for (uint64_t i = 0; i < nf && !d->err; i++) {
        uint64_t v = lk_dec_u64(d);
        if (i < sizeof f / sizeof f[0])
            *f[i] = v;
    }
    out->content = lk_dec_bytes(d);
    out->redacted = lk_dec_bytes(d);
    if (!d->err && (out->state >= LK_NSTATES || out->content.n > LK_SCAN_CONTENT ||
                    out->redacted.n != (out->content.n + 7) / 8))
        d->err = -LK_ECORRUPT;
    return d->err ? d->err : 1;
}
