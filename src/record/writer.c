/* Record encoder. Builds framed records in the caller's buffer; the frame
 * header is reserved at begin and completed at end (length, CRC-32), so a
 * record is encoded in one pass with no copy. No allocation, no I/O: the
 * agent links this and calls it from its task. */
#include "writer.h"

#include <string.h>

#include "../base/crc32.h"
#include "../base/err.h"
#include "../base/varint.h"

void
lk_writer_init(struct lk_writer *w, uint8_t *buf, size_t cap, lk_writer_grow_fn grow, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    w->grow = grow;
    w->ctx = ctx;
}

void
lk_writer_reset(struct lk_writer *w)
{
    w->len = 0;
    w->rec = 0;
    w->open = 0;
    w->err = 0;
}

/* Makes room for n more bytes; false (and w->err set) when impossible. */
static int
reserve(struct lk_writer *w, size_t n)
{
    if (w->err)
        return 0;
    if (w->cap - w->len >= n)
        return 1;
    if (!w->grow || w->grow(w, w->len + n) < 0 || w->cap - w->len < n) {
        w->err = -LK_ENOSPACE;
        return 0;
    }
    return 1;
}

static void
put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void
lk_writer_file_header(struct lk_writer *w)
{
    if (!reserve(w, LK_FILE_HEADER_LEN))
        return;
    uint8_t *p = w->buf + w->len;
    memcpy(p, LK_MAGIC, LK_MAGIC_LEN);
    put_le(p + 8, LK_VERSION_MAJOR, 2);
    put_le(p + 10, LK_VERSION_MINOR, 2);
    put_le(p + 12, 0, 4);
    w->len += LK_FILE_HEADER_LEN;
}

void
lk_writer_begin(struct lk_writer *w, enum lk_rec_type type)
{
    if (w->open && !w->err)
        w->err = -LK_EUSAGE;
    if (!reserve(w, LK_FRAME_HEAD))
        return;
    w->rec = w->len;
    w->buf[w->len] = (uint8_t)type;
    w->len += LK_FRAME_HEAD;
    w->open = 1;
}

void
lk_writer_u64(struct lk_writer *w, uint64_t v)
{
    if (!reserve(w, LK_VARINT_MAX))
        return;
    w->len += lk_varint_put(w->buf + w->len, v);
}

void
lk_writer_i64(struct lk_writer *w, int64_t v)
{
    lk_writer_u64(w, lk_zigzag(v));
}

void
lk_writer_bytes(struct lk_writer *w, const void *p, size_t n)
{
    lk_writer_u64(w, n);
    if (!n || !reserve(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void
lk_writer_str(struct lk_writer *w, const char *s)
{
    lk_writer_bytes(w, s, s ? strlen(s) : 0);
}

int
lk_writer_end(struct lk_writer *w)
{
    if (!w->open && !w->err)
        w->err = -LK_EUSAGE;
    if (w->err) {
        w->open = 0;
        return w->err;
    }
    size_t payload = w->len - w->rec - LK_FRAME_HEAD;
    if (payload > LK_MAX_RECORD) {
        w->err = -LK_ELIMIT;
        return w->err;
    }
    put_le(w->buf + w->rec + 1, payload, 4);
    if (!reserve(w, LK_FRAME_TAIL))
        return w->err;
    uint32_t crc = lk_crc32(0, w->buf + w->rec, LK_FRAME_HEAD + payload);
    put_le(w->buf + w->len, crc, 4);
    w->len += LK_FRAME_TAIL;
    w->open = 0;
    return 0;
}

int
lk_write_info(struct lk_writer *w, const struct lk_info *in)
{
    lk_writer_begin(w, LK_REC_INFO);
    lk_writer_u64(w, in->pid);
    lk_writer_u64(w, in->ppid);
    lk_writer_u64(w, in->start_realtime_ns);
    lk_writer_u64(w, in->page_size);
    lk_writer_u64(w, in->period_ms);
    lk_writer_u64(w, in->depth);
    lk_writer_u64(w, in->sample_bytes);
    lk_writer_u64(w, in->flags);
    lk_writer_u64(w, in->pointer_bytes);
    lk_writer_bytes(w, in->arch.p, in->arch.n);
    lk_writer_bytes(w, in->exe.p, in->exe.n);
    lk_writer_bytes(w, in->cmdline.p, in->cmdline.n);
    lk_writer_bytes(w, in->agent_version.p, in->agent_version.n);
    return lk_writer_end(w);
}

int
lk_write_module(struct lk_writer *w, const struct lk_module *m)
{
    lk_writer_begin(w, LK_REC_MODULE);
    lk_writer_u64(w, m->id);
    lk_writer_u64(w, m->base);
    lk_writer_u64(w, m->lo);
    lk_writer_u64(w, m->hi);
    lk_writer_u64(w, m->time_ns);
    lk_writer_bytes(w, m->path.p, m->path.n);
    lk_writer_bytes(w, m->build_id.p, m->build_id.n);
    return lk_writer_end(w);
}

int
lk_write_module_gone(struct lk_writer *w, uint64_t id, uint64_t time_ns)
{
    lk_writer_begin(w, LK_REC_MODULE_GONE);
    lk_writer_u64(w, id);
    lk_writer_u64(w, time_ns);
    return lk_writer_end(w);
}

int
lk_write_stack(struct lk_writer *w, uint64_t site, enum lk_kind kind,
               const struct lk_frame *frames, size_t n)
{
    lk_writer_begin(w, LK_REC_STACK);
    lk_writer_u64(w, site);
    lk_writer_u64(w, (uint64_t)kind);
    lk_writer_u64(w, n);
    /* room for the frames at once, then no check per varint: a snapshot
     * that writes every stack of cc1 writes 600k of them */
    if (!reserve(w, 2 * n * LK_VARINT_MAX))
        return lk_writer_end(w); /* the error reserve() set */
    uint8_t *p = w->buf + w->len;
    for (size_t i = 0; i < n; i++) {
        p += lk_varint_put(p, frames[i].module);
        p += lk_varint_put(p, frames[i].offset);
    }
    w->len = (size_t)(p - w->buf);
    return lk_writer_end(w);
}

int
lk_write_end(struct lk_writer *w, uint64_t time_ns, enum lk_end_reason reason, uint64_t code)
{
    lk_writer_begin(w, LK_REC_END);
    lk_writer_u64(w, time_ns);
    lk_writer_u64(w, (uint64_t)reason);
    lk_writer_u64(w, code);
    return lk_writer_end(w);
}

int
lk_write_note(struct lk_writer *w, enum lk_note_level level, uint64_t time_ns, const char *text)
{
    lk_writer_begin(w, LK_REC_NOTE);
    lk_writer_u64(w, (uint64_t)level);
    lk_writer_u64(w, time_ns);
    lk_writer_str(w, text);
    return lk_writer_end(w);
}

void
lk_write_snapshot_begin(struct lk_writer *w, uint64_t seq, uint64_t time_ns, uint64_t period,
                        const uint64_t *proc, size_t nproc, const uint64_t *class_count,
                        const uint64_t *class_bytes, size_t nclasses)
{
    lk_writer_begin(w, LK_REC_SNAPSHOT);
    lk_writer_u64(w, seq);
    lk_writer_u64(w, time_ns);
    lk_writer_u64(w, period);
    lk_writer_u64(w, nproc);
    for (size_t i = 0; i < nproc; i++)
        lk_writer_u64(w, proc[i]);
    lk_writer_u64(w, nclasses);
    for (size_t i = 0; i < nclasses; i++) {
        lk_writer_u64(w, class_count[i]);
        lk_writer_u64(w, class_bytes[i]);
    }
}

void
lk_write_snapshot_site(struct lk_writer *w, uint64_t site, const uint64_t *fields,
                       const uint64_t *born, const uint64_t *live_count,
                       const uint64_t *live_bytes, size_t ncohorts, const uint64_t *hist,
                       size_t nhist)
{
    lk_writer_u64(w, site);
    lk_writer_u64(w, LK_SITE_NFIELDS);
    for (size_t i = 0; i < LK_SITE_NFIELDS; i++)
        lk_writer_u64(w, fields[i]);
    lk_writer_u64(w, ncohorts);
    for (size_t k = 0; k < ncohorts; k++) {
        lk_writer_u64(w, born[k]);
        lk_writer_u64(w, live_count[k]);
        lk_writer_u64(w, live_bytes[k]);
    }
    lk_writer_u64(w, nhist);
    for (size_t c = 0; c < nhist; c++)
        lk_writer_u64(w, hist[c]);
}

int
lk_write_snapshot_end(struct lk_writer *w)
{
    lk_writer_u64(w, 0); /* end of the site list */
    return lk_writer_end(w);
}

void
lk_write_scan_begin(struct lk_writer *w, const struct lk_scan *s)
{
    const uint64_t head[] = {s->seq,     s->time_ns,  s->period,     s->trigger,
                             s->flags,   s->pause_ns, s->scan_ns,    s->threads,
                             s->root_bytes, s->heap_bytes, s->blocks};
    lk_writer_begin(w, LK_REC_SCAN);
    lk_writer_u64(w, sizeof head / sizeof head[0]);
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        lk_writer_u64(w, head[i]);
}

void
lk_write_scan_site(struct lk_writer *w, const struct lk_scan_site *e)
{
    lk_writer_u64(w, e->site);
    lk_writer_u64(w, 2 * LK_NSTATES);
    for (size_t i = 0; i < LK_NSTATES; i++) {
        lk_writer_u64(w, e->count[i]);
        lk_writer_u64(w, e->bytes[i]);
    }
    size_t nret = e->nret < LK_SCAN_RETAINERS ? e->nret : LK_SCAN_RETAINERS;
    lk_writer_u64(w, nret);
    for (size_t k = 0; k < nret; k++) {
        lk_writer_u64(w, e->ret_kind[k]);
        lk_writer_u64(w, e->ret_id[k]);
        lk_writer_u64(w, e->ret_count[k]);
    }
}

void
lk_write_scan_sites_end(struct lk_writer *w)
{
    lk_writer_u64(w, 0); /* end of the site list */
}

void
lk_write_scan_sample(struct lk_writer *w, const struct lk_scan_sample *s)
{
    size_t n = s->content.n < LK_SCAN_CONTENT ? s->content.n : LK_SCAN_CONTENT;
    lk_writer_u64(w, s->site);
    lk_writer_u64(w, 3);
    lk_writer_u64(w, s->state);
    lk_writer_u64(w, s->size);
    lk_writer_u64(w, s->period);
    lk_writer_bytes(w, s->content.p, n);
    lk_writer_bytes(w, s->redacted.p, (n + 7) / 8);
}

int
lk_write_scan_end(struct lk_writer *w)
{
    lk_writer_u64(w, 0); /* end of the samples */
    return lk_writer_end(w);
}
