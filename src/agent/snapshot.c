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
#include "arena.h"
#include "live_map.h"
#include "unwind.h"
#include "procmem.h"
#include "site_table.h"
#include "sys.h"

#define LK_REFRESH_EVERY 600   /* snapshots between two that list every changed site */
#define LK_MATERIAL_BYTES 1024
#define LK_MATERIAL_BLOCKS 16
#define LK_MATERIAL_FRACTION 64

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
    uint64_t dev, ino, nlink;
    if (r->fd < 0 || r->w.len == 0) {
        lk_writer_reset(&r->w);
        return;
    }
    if (r->w.err) {
        fail(r, r->w.err, "cannot encode a snapshot");
        lk_writer_reset(&r->w);
        return;
    }
    if (lk_sys_fd_identity(r->fd, &dev, &ino, &nlink) < 0 || dev != r->dev || ino != r->ino) {
        r->fd = -1; /* not ours any more: do not close the program's file */
        lk_sys_log("the recording's file descriptor was closed by the program; recording stopped");
        lk_writer_reset(&r->w);
        return;
    }
    if (nlink == 0) { /* deleted: writing on would fill the disk with a file nobody can read */
        lk_sys_log("the recording was deleted; recording stopped, the program continues untouched");
        lk_sys_close(r->fd);
        r->fd = -1;
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
    uint64_t nlink;
    if (lk_sys_fd_identity(fd, &r->dev, &r->ino, &nlink) < 0) {
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

/* A site's entry is written when its live memory moved materially since its
 * last entry, and on every LK_REFRESH_EVERY-th snapshot when anything
 * changed at all. Churn around a stable live set is then not written each
 * period, which is what keeps a steady server's recording small whatever
 * its allocation rate (DESIGN.md: under 1 MB per hour): live bytes must move
 * by LK_MATERIAL_BYTES or 1/LK_MATERIAL_FRACTION of themselves, or the live
 * count by LK_MATERIAL_BLOCKS or the same fraction. A leak of 1 KiB/s is
 * thus written about every second; quantization of a site's series stays
 * below the larger of 1 KiB and 1.6%. */
static int
material(const struct lk_site *s, const struct lk_site_stats *st)
{
    uint64_t b = st->f[LK_SITE_LIVE_BYTES], c = st->f[LK_SITE_LIVE_COUNT];
    uint64_t db = b > s->last_live_bytes ? b - s->last_live_bytes : s->last_live_bytes - b;
    uint64_t dc = c > s->last_live_count ? c - s->last_live_count : s->last_live_count - c;
    uint64_t tb = s->last_live_bytes / LK_MATERIAL_FRACTION, tc = s->last_live_count / LK_MATERIAL_FRACTION;
    return db >= (tb > LK_MATERIAL_BYTES ? tb : LK_MATERIAL_BYTES) ||
           dc >= (tc > LK_MATERIAL_BLOCKS ? tc : LK_MATERIAL_BLOCKS);
}

struct classes {
    uint64_t count[LK_SIZE_CLASSES]; /* live heap blocks per size class */
    uint64_t bytes[LK_SIZE_CLASSES];
};

static void
count_class(uintptr_t addr, const struct lk_live_info *info, void *ctx)
{
    struct classes *cl = ctx;
    (void)addr;
    if (lk_site_is_mmap(info->site))
        return;
    unsigned c = lk_size_class(info->size);
    cl->count[c]++;
    cl->bytes[c] += info->size;
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

    uint64_t proc[LK_PROC_NFIELDS] = {0};
    struct classes cl = {{0}, {0}};
    int refresh = full || r->final || r->seq % LK_REFRESH_EVERY == 0;
    struct lk_site_stats st;
    lk_procmem_read(proc, r->final);
    proc[LK_PROC_AGENT] = lk_arena_mapped() + lk_live_map_bytes() + lk_unwind_bytes() +
                          (uint64_t)lk_site_count() * sizeof(void *) + r->w.cap;
    proc[LK_PROC_UNTRACKED] = untracked_frees;
    /* Live size classes come from a walk of the live map, one shard lock at a
     * time, rather than from shared counters on the allocation path. */
    if (refresh)
        lk_live_map_foreach(count_class, &cl);
    /* Totals are summed from the sites for the same reason. */
    for (uint32_t id = 1; id <= r->stacks_written; id++) {
        struct lk_site *s = lk_site_get(id);
        lk_site_read(s, &st);
        if (s->kind == LK_KIND_MMAP) {
            proc[LK_PROC_MMAP_LIVE] += st.f[LK_SITE_LIVE_BYTES];
            proc[LK_PROC_MMAP_COUNT] += st.f[LK_SITE_LIVE_COUNT];
            continue;
        }
        proc[LK_PROC_HEAP_LIVE] += st.f[LK_SITE_LIVE_BYTES];
        proc[LK_PROC_HEAP_COUNT] += st.f[LK_SITE_LIVE_COUNT];
        proc[LK_PROC_ALLOCS] += st.f[LK_SITE_ALLOCS];
        proc[LK_PROC_FREES] += st.f[LK_SITE_FREES];
    }
    /* Classes go out on refresh snapshots only; nclasses 0 means "as before",
     * so an empty heap is written as one class (0, 0). */
    size_t ncl = trim(cl.count, cl.bytes, NULL, LK_SIZE_CLASSES);
    lk_write_snapshot_begin(&r->w, r->seq, now, period, proc, LK_PROC_AGENT + 1, cl.count, cl.bytes,
                            refresh ? (ncl ? ncl : 1) : 0);
    for (uint32_t id = 1; id <= r->stacks_written; id++) {
        struct lk_site *s = lk_site_get(id);
        lk_site_read(s, &st);
        uint64_t allocs = st.f[LK_SITE_ALLOCS], frees = st.f[LK_SITE_FREES];
        if (!full && allocs == s->last_allocs && frees == s->last_frees &&
            st.died_bytes == s->last_died_bytes)
            continue;
        if (!full && !refresh && !material(s, &st))
            continue; /* churn around the same live set: not worth a line */
        uint64_t lb[LK_COHORTS];
        for (unsigned k = 0; k < LK_COHORTS; k++)
            lb[k] = st.live_bytes[k];
        lk_write_snapshot_site(&r->w, id, st.f, st.born, st.live_count, lb,
                               trim(st.born, st.live_count, lb, LK_COHORTS), st.hist,
                               trim(st.hist, NULL, NULL, LK_SIZE_CLASSES));
        s->last_allocs = allocs;
        s->last_frees = frees;
        s->last_died_bytes = st.died_bytes;
        s->last_live_bytes = st.f[LK_SITE_LIVE_BYTES];
        s->last_live_count = st.f[LK_SITE_LIVE_COUNT];
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
lk_snapshot_flush(struct lk_recorder *r)
{
    flush(r);
}

void
lk_snapshot_close(struct lk_recorder *r)
{
    lk_sys_close(r->fd);
    r->fd = -1;
}
