/* The recorder: encodes records with record/writer.c into a buffer that
 * grows by mmap, and writes each batch with a single write(2) so that a kill
 * leaves at most one torn record at the end. Before each write it checks that
 * the descriptor still names our file (a program that closes all fds and
 * reopens would otherwise receive our bytes). Never calls malloc; runs under
 * the recorder lock, which nests outside every other agent lock. */
#include "snapshot.h"

#include <errno.h>
#include <string.h>

#include "base/err.h"
#include "base/fmt.h"
#include "modules.h"
#include "procmem.h"
#include "site_table.h"
#include "sys.h"

static int
grow_mmap(struct lk_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 65536;
    while (cap < need)
        cap *= 2;
    uint8_t *p = lk_sys_mmap(cap);
    if (!p)
        return -ENOMEM;
    if (w->len)
        memcpy(p, w->buf, w->len);
    lk_sys_munmap(w->buf, w->cap);
    w->buf = p;
    w->cap = cap;
    return 0;
}

static uint64_t
rel_now(const struct lk_recorder *r)
{
    return lk_sys_now_ns() - r->start_ns;
}

static void
fail(struct lk_recorder *r, int err, const char *what)
{
    char msg[256];
    struct lk_fmt f;
    lk_fmt_init(&f, msg, sizeof msg);
    lk_fmt_str(&f, what);
    lk_fmt_str(&f, ": ");
    lk_fmt_str(&f, lk_strerror(err));
    lk_fmt_str(&f, "; recording stopped, the program continues untouched");
    lk_sys_log(msg);
    lk_sys_close(r->fd);
    r->fd = -1;
}

static void
flush(struct lk_recorder *r)
{
    uint64_t dev, ino;
    if (r->fd < 0 || r->w.len == 0) {
        lk_writer_reset(&r->w);
        return;
    }
    if (r->w.err) {
        fail(r, r->w.err, "cannot encode a snapshot");
        lk_writer_reset(&r->w);
        return;
    }
    if (lk_sys_fd_identity(r->fd, &dev, &ino) < 0 || dev != r->dev || ino != r->ino) {
        r->fd = -1; /* not ours any more: do not close the program's file */
        lk_sys_log("the recording's file descriptor was closed by the program; recording stopped");
        lk_writer_reset(&r->w);
        return;
    }
    int err = lk_sys_write_all(r->fd, r->w.buf, r->w.len);
    if (err < 0)
        fail(r, err, "cannot write the recording");
    lk_writer_reset(&r->w);
}

int
lk_snapshot_open(struct lk_recorder *r, int fd, const struct lk_info *info)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->start_ns = lk_sys_now_ns();
    r->full_next = 1;
    lk_writer_init(&r->w, NULL, 0, grow_mmap, NULL);
    if (lk_sys_fd_identity(fd, &r->dev, &r->ino) < 0) {
        lk_sys_close(fd);
        r->fd = -1;
        return -EBADF;
    }
    lk_writer_file_header(&r->w);
    lk_write_info(&r->w, info);
    flush(r);
    return r->fd < 0 ? -EIO : 0;
}

static size_t
trim(const uint64_t *a, const uint64_t *b, const uint64_t *c, size_t n)
{
    while (n && !a[n - 1] && (!b || !b[n - 1]) && (!c || !c[n - 1]))
        n--;
    return n;
}

static uint64_t
pos(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

void
lk_snapshot_write(struct lk_recorder *r, uint32_t period, uint64_t untracked_frees)
{
    if (r->fd < 0)
        return;
    uint64_t now = rel_now(r);
    uint32_t nsites = lk_site_count();
    int full = r->full_next;

    lk_modules_refresh(&r->w, now, full);
    if (full)
        r->stacks_written = 0;
    for (uint32_t id = r->stacks_written + 1; id <= nsites; id++) {
        struct lk_site *s = lk_site_get(id);
        struct lk_frame frames[LK_MAX_FRAMES];
        if (!s)
            break;
        for (unsigned i = 0; i < s->depth; i++)
            frames[i] = lk_modules_locate(s->frames[i]);
        lk_write_stack(&r->w, id, (enum lk_kind)s->kind, frames, s->depth);
        r->stacks_written = id;
    }

    uint64_t proc[LK_PROC_NFIELDS] = {0}, ccount[LK_SIZE_CLASSES], cbytes[LK_SIZE_CLASSES];
    lk_procmem_read(proc);
    proc[LK_PROC_UNTRACKED] = untracked_frees;
    lk_site_classes(ccount, cbytes);
    /* Totals are summed from the sites rather than kept in shared counters on
     * the allocation path. */
    for (uint32_t id = 1; id <= r->stacks_written; id++) {
        struct lk_site *s = lk_site_get(id);
        uint64_t lb = pos(atomic_load_explicit(&s->live_bytes, memory_order_relaxed));
        uint64_t lc = pos(atomic_load_explicit(&s->live_count, memory_order_relaxed));
        if (s->kind == LK_KIND_MMAP) {
            proc[LK_PROC_MMAP_LIVE] += lb;
            proc[LK_PROC_MMAP_COUNT] += lc;
            continue;
        }
        proc[LK_PROC_HEAP_LIVE] += lb;
        proc[LK_PROC_HEAP_COUNT] += lc;
        proc[LK_PROC_ALLOCS] += atomic_load_explicit(&s->allocs, memory_order_relaxed);
        proc[LK_PROC_FREES] += atomic_load_explicit(&s->frees, memory_order_relaxed);
    }
    lk_write_snapshot_begin(&r->w, r->seq, now, period, proc, LK_PROC_NFIELDS, ccount, cbytes,
                            trim(ccount, cbytes, NULL, LK_SIZE_CLASSES));
    for (uint32_t id = 1; id <= r->stacks_written; id++) {
        struct lk_site *s = lk_site_get(id);
        uint64_t allocs = atomic_load_explicit(&s->allocs, memory_order_relaxed);
        uint64_t frees = atomic_load_explicit(&s->frees, memory_order_relaxed);
        if (!full && allocs == s->last_allocs && frees == s->last_frees)
            continue;
        uint64_t f[LK_SITE_NFIELDS], born[LK_COHORTS], lc[LK_COHORTS], lb[LK_COHORTS],
            hist[LK_SIZE_CLASSES];
        f[LK_SITE_LIVE_BYTES] = pos(atomic_load_explicit(&s->live_bytes, memory_order_relaxed));
        f[LK_SITE_LIVE_COUNT] = pos(atomic_load_explicit(&s->live_count, memory_order_relaxed));
        f[LK_SITE_ALLOCS] = allocs;
        f[LK_SITE_FREES] = frees;
        f[LK_SITE_ALLOC_BYTES] = atomic_load_explicit(&s->alloc_bytes, memory_order_relaxed);
        for (unsigned k = 0; k < LK_COHORTS; k++) {
            born[k] = atomic_load_explicit(&s->born[k], memory_order_relaxed);
            lc[k] = pos(atomic_load_explicit(&s->cohort_count[k], memory_order_relaxed));
            lb[k] = pos(atomic_load_explicit(&s->cohort_bytes[k], memory_order_relaxed));
        }
        for (unsigned c = 0; c < LK_SIZE_CLASSES; c++)
            hist[c] = atomic_load_explicit(&s->hist[c], memory_order_relaxed);
        lk_write_snapshot_site(&r->w, id, f, born, lc, lb, trim(born, lc, lb, LK_COHORTS), hist,
                               trim(hist, NULL, NULL, LK_SIZE_CLASSES));
        s->last_allocs = allocs;
        s->last_frees = frees;
    }
    lk_write_snapshot_end(&r->w);
    r->seq++;
    r->full_next = 0;
    flush(r);
}

void
lk_snapshot_note(struct lk_recorder *r, enum lk_note_level level, const char *text)
{
    if (r->fd < 0)
        return;
    lk_write_note(&r->w, level, rel_now(r), text);
    flush(r);
}

void
lk_snapshot_end(struct lk_recorder *r, enum lk_end_reason reason, uint64_t code)
{
    if (r->fd < 0)
        return;
    lk_write_end(&r->w, rel_now(r), reason, code);
    flush(r);
}

void
lk_snapshot_close(struct lk_recorder *r)
{
    lk_sys_close(r->fd);
    r->fd = -1;
}
