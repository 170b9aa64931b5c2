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
#include "options.h"
#include "record/thin.h"
#include "block_tag.h"
#include "live_map.h"
#include "unwind.h"
#include "procmem.h"
#include "site_batch.h"
#include "site_table.h"
#include "sys.h"

#define LK_REFRESH_EVERY 600   /* snapshots between two that list every changed site */
#define LK_SITE_AHEAD 8 /* sites whose lines a snapshot's loops prefetch ahead */
#define LK_MATERIAL_BYTES 1024
#define LK_MATERIAL_BLOCKS 16
#define LK_MATERIAL_FRACTION 64
/* Beyond the window, a quarter of the window's snapshots are kept per
 * doubling of age (75 at the default 5 minutes and 1 s), within these. */
#define LK_THIN_PER_OCTAVE_MIN 8
#define LK_THIN_PER_OCTAVE_MAX 1024

/* LEAKSCOPE_THIN, read once at the first lk_snapshot_open (start-up, one
 * thread) and kept for a forked child's recording. */
/* The lines a snapshot reads of site id (its header, its first cohorts'
 * counters), ahead of the loop: the sites lie apart in the arena, so each
 * was a miss (cc1plus, 47,500 sites: lk_site_read 2.6% of its samples). */
static inline void
prefetch_site(uint32_t id, uint32_t last)
{
    const struct lk_site *s = id <= last ? lk_site_get(id) : NULL;
    if (s) {
        __builtin_prefetch(lk_site_ctr(s));
        __builtin_prefetch(s);
    }
}

static struct {
    int loaded;
    uint64_t window_ns; /* 0 = never thin */
    uint64_t every;     /* bytes of growth between two thinnings, at least */
    uint32_t per_octave; /* snapshots kept per doubling of age beyond the window */
} thin_cfg;

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
    else
        r->file_len += r->w.len;
    lk_writer_reset(&r->w);
}

int
lk_snapshot_open(struct lk_recorder *r, int fd, const struct lk_info *info)
{
    memset(r, 0, sizeof *r);
    if (!thin_cfg.loaded) {
        static struct lk_options o; /* 4 KiB of path: not on a small stack */
        const char *bad;
        lk_options_load(&o, &bad); /* agent.c reports a malformed value */
        thin_cfg.window_ns = o.thin_window_ms * 1000000ull;
        thin_cfg.every = o.thin_every;
        uint64_t po = o.thin_window_ms / (info->period_ms ? info->period_ms : 1000) / 4;
        thin_cfg.per_octave = (uint32_t)(po < LK_THIN_PER_OCTAVE_MIN   ? LK_THIN_PER_OCTAVE_MIN
                                         : po > LK_THIN_PER_OCTAVE_MAX ? LK_THIN_PER_OCTAVE_MAX
                                                                       : po);
        thin_cfg.loaded = 1;
    }
    r->thin_at = thin_cfg.window_ns ? thin_cfg.every : 0;
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
    const struct lk_site_ctr *l = lk_site_ctr(s);
    uint64_t db = b > l->last_live_bytes ? b - l->last_live_bytes : l->last_live_bytes - b;
    uint64_t dc = c > l->last_live_count ? c - l->last_live_count : l->last_live_count - c;
    uint64_t tb = l->last_live_bytes / LK_MATERIAL_FRACTION, tc = l->last_live_count / LK_MATERIAL_FRACTION;
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

/* ---- thinning ---------------------------------------------------------- */

/* The thinned copy, in an mmap'd buffer as large as the file: thinning never
 * makes a file longer (thin.h). */
struct obuf {
    uint8_t *p;
    size_t n, cap;
};

static int
obuf_out(void *ctx, const void *p, size_t n)
{
    struct obuf *b = ctx;
    if (n > b->cap - b->n)
        return -LK_ENOSPACE;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

/* Reads our own recording back through path (fd is write-only), checking
 * that path still names it; exactly len bytes into buf. */
static int
read_back(const struct lk_recorder *r, const char *path, uint8_t *buf, size_t len)
{
    uint64_t dev, ino, nlink;
    int fd = lk_sys_open_read(path), rc = 0;
    if (fd < 0)
        return fd;
    if (lk_sys_fd_identity(fd, &dev, &ino, &nlink) < 0 || dev != r->dev || ino != r->ino)
        rc = -ESTALE;
    for (size_t got = 0; !rc && got < len;) {
        ssize_t n = lk_sys_read(fd, buf + got, len - got);
        if (n <= 0)
            rc = n < 0 ? (int)n : -LK_ETRUNC;
        else
            got += (size_t)n;
    }
    lk_sys_close(fd);
    return rc;
}

static void
thin_log(struct lk_recorder *r, const char *what, int err)
{
    if (r->thin_logged)
        return;
    r->thin_logged = 1;
    char msg[256];
    struct lk_fmt f;
    lk_fmt_init(&f, msg, sizeof msg);
    lk_fmt_str(&f, "cannot thin the recording (");
    lk_fmt_str(&f, what);
    lk_fmt_str(&f, ": ");
    lk_fmt_str(&f, lk_strerror(err));
    lk_fmt_str(&f, "); it is left whole and recording goes on");
    lk_sys_log(msg);
}

/* Thins older snapshots of the recording (record/thin.c). The copy is
 * written to NAME.thin, created O_EXCL|O_NOFOLLOW with mode 0600 beside the
 * recording, synced (fdatasync) and renamed over it, so a kill or a power
 * cut at any point leaves either the old file or the new one whole (at worst
 * NAME.thin stays behind too); then
 * writing goes on at the end of the new file. Its memory is mapped for the
 * call and unmapped after. The next attempt waits until the file grows by
 * max(every, a quarter of its size), so the work stays proportional to what is
 * appended. Runs under the recorder lock, like every write. */
static void
thin_file(struct lk_recorder *r)
{
    struct lk_thin_policy pol = {thin_cfg.window_ns, thin_cfg.per_octave};
    struct lk_thin_plan plan;
    char link[48], path[LK_PATH_MAX], tmp[LK_PATH_MAX + 8];
    struct lk_fmt f;
    size_t len = (size_t)r->file_len;
    uint8_t *in = NULL, *scratch = NULL;
    struct obuf out = {NULL, 0, 0};
    int tfd = -1, rc;
    const char *what = "reading it back";

    if (rel_now(r) < thin_cfg.window_ns) {
        /* every snapshot is younger than the window: nothing to thin, and
         * no need to read the file back (cc1plus, 1.5 s: the snapshot at
         * 1 s wrote 6 MB of stacks, which were read back and parsed for
         * nothing) */
        rc = 0;
        goto out;
    }
    lk_fmt_init(&f, link, sizeof link);
    lk_fmt_str(&f, "/proc/self/fd/");
    lk_fmt_u64(&f, (uint64_t)r->fd);
    ssize_t pn = lk_sys_readlink(link, path, sizeof path);
    static const char deleted[] = " (deleted)";
    if (pn <= 0 || (size_t)pn >= sizeof path - 1 || path[0] != '/') {
        rc = pn < 0 ? (int)pn : -ENAMETOOLONG;
        goto out;
    }
    if ((size_t)pn >= sizeof deleted - 1 &&
        !memcmp(path + pn - (sizeof deleted - 1), deleted, sizeof deleted - 1)) {
        rc = 0; /* deleted: the next flush stops the recording */
        goto out;
    }
    lk_fmt_init(&f, tmp, sizeof tmp);
    lk_fmt_str(&f, path);
    lk_fmt_str(&f, ".thin");
    if (!(in = lk_sys_mmap(len))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = read_back(r, path, in, len)) < 0)
        goto out;
    what = "thinning it";
    if ((rc = lk_thin_prepare(in, len, &pol, &plan)) < 0 || plan.kept == plan.snaps)
        goto out; /* nothing old enough to thin yet */
    scratch = lk_sys_mmap(plan.scratch);
    out.p = lk_sys_mmap(len);
    out.cap = len;
    if (!scratch || !out.p) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = lk_thin_run(in, len, &pol, &plan, scratch, plan.scratch, obuf_out, &out)) < 0)
        goto out;
    what = "writing the thinned copy";
    tfd = lk_sys_create(tmp);
    if (tfd == -EEXIST && lk_sys_unlink(tmp) == 0) /* left by a kill mid-way */
        tfd = lk_sys_create(tmp);
    if (tfd < 0) {
        rc = tfd;
        goto out;
    }
    /* On disk before it replaces the recording: after a power cut, a rename
     * that reached the disk before the data would leave an empty file where
     * the whole recording was. */
    if ((rc = lk_sys_write_all(tfd, out.p, out.n)) < 0 || (rc = lk_sys_fdatasync(tfd)) < 0 ||
        (rc = lk_sys_rename(tmp, path)) < 0) {
        lk_sys_close(tfd);
        lk_sys_unlink(tmp);
        tfd = -1;
        goto out;
    }
    uint64_t nlink;
    tfd = lk_sys_fd_high(tfd);
    if ((rc = lk_sys_fd_identity(tfd, &r->dev, &r->ino, &nlink)) < 0) {
        lk_sys_close(tfd); /* cannot happen on an open fd; stop rather than guess */
        fail(r, rc, "cannot follow the thinned recording");
        goto out;
    }
    lk_sys_close(r->fd);
    r->fd = tfd;
    r->file_len = out.n;
    r->thinned++;
out:
    if (rc < 0)
        thin_log(r, what, rc);
    r->thin_at = r->file_len + (r->file_len / 4 > thin_cfg.every ? r->file_len / 4 : thin_cfg.every);
    if (in)
        lk_sys_munmap(in, len);
    if (scratch)
        lk_sys_munmap(scratch, plan.scratch);
    if (out.p)
        lk_sys_munmap(out.p, out.cap);
}

void
lk_snapshot_write(struct lk_recorder *r, uint32_t period, uint64_t untracked_frees)
{
    if (r->fd < 0)
        return;
    uint64_t now = rel_now(r);
    lk_site_batch_collect(); /* the threads' pending counts into the sites */
    uint32_t nsites = lk_site_count();
    int full = r->full_next;

    lk_modules_refresh(&r->w, now, full);
    if (full)
        r->stacks_written = 0;
    struct lk_modules_cache mc = {0};
    for (uint32_t id = r->stacks_written + 1; id <= nsites; id++) {
        struct lk_site *s = lk_site_get(id);
        struct lk_frame frames[LK_MAX_FRAMES];
        if (!s)
            break;
        for (unsigned i = 0; i < s->depth; i++)
            frames[i] = lk_modules_locate_cached(s->frames[i], &mc);
        lk_write_stack(&r->w, id, (enum lk_kind)s->kind, frames, s->depth);
        r->stacks_written = id;
    }

    uint64_t proc[LK_PROC_NFIELDS] = {0};
    struct classes cl = {{0}, {0}};
    int refresh = full || r->final || r->seq % LK_REFRESH_EVERY == 0;
    struct lk_site_stats st;
    unsigned cohorts = lk_site_cohorts(period);
    lk_procmem_read(proc, r->on_signal ? LK_PROCMEM_CACHED
                          : r->final   ? LK_PROCMEM_FRESH
                                       : LK_PROCMEM_RATED);
    proc[LK_PROC_AGENT] = lk_arena_mapped() + lk_live_map_bytes() + lk_block_tag_bytes() +
                          lk_unwind_bytes() + (uint64_t)lk_site_count() * sizeof(void *) + r->w.cap;
    proc[LK_PROC_UNTRACKED] = untracked_frees;
    /* Live size classes come from a walk of the live map, one shard lock at a
     * time, rather than from shared counters on the allocation path. */
    if (refresh) {
        lk_live_map_foreach(count_class, &cl);
        lk_block_tag_foreach_live(count_class, &cl);
    }
    /* Totals are summed from the sites for the same reason. */
    for (uint32_t id = 1; id <= r->stacks_written; id++) {
        struct lk_site *s = lk_site_get(id);
        prefetch_site(id + LK_SITE_AHEAD, r->stacks_written);
        lk_site_read(s, cohorts, &st);
        if (s->kind == LK_KIND_MMAP) {
            proc[LK_PROC_MMAP_LIVE] += st.f[LK_SITE_LIVE_BYTES];
            proc[LK_PROC_MMAP_COUNT] += st.f[LK_SITE_LIVE_COUNT];
            continue;
        }
        proc[LK_PROC_HEAP_LIVE] += st.f[LK_SITE_LIVE_BYTES];
        proc[LK_PROC_HEAP_COUNT] += st.f[LK_SITE_LIVE_COUNT];
        /* a tag per live block, the most there can be (larger blocks have none) */
        if (lk_block_tag_ready())
            proc[LK_PROC_AGENT] += st.f[LK_SITE_LIVE_COUNT] * LK_TAG_BYTES;
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
        prefetch_site(id + LK_SITE_AHEAD, r->stacks_written);
        lk_site_read(s, cohorts, &st);
        uint64_t allocs = st.f[LK_SITE_ALLOCS], frees = st.f[LK_SITE_FREES];
        struct lk_site_ctr *l = lk_site_ctr(s);
        if (!full && allocs == l->last_allocs && frees == l->last_frees &&
            st.died_bytes == l->last_died_bytes)
            continue;
        if (!full && !refresh && !material(s, &st))
            continue; /* churn around the same live set: not worth a line */
        lk_site_read_hist(s, &st);
        uint64_t lb[LK_COHORTS];
        for (unsigned k = 0; k < LK_COHORTS; k++)
            lb[k] = st.live_bytes[k];
        lk_write_snapshot_site(&r->w, id, st.f, st.born, st.live_count, lb,
                               trim(st.born, st.live_count, lb, LK_COHORTS), st.hist,
                               trim(st.hist, NULL, NULL, LK_SIZE_CLASSES));
        if (r->final)
            continue; /* no later snapshot compares: and the exit scan's copy of the
                         process left every page copy-on-write (cc1: 7 ms of faults) */
        l->last_allocs = allocs;
        l->last_frees = frees;
        l->last_died_bytes = st.died_bytes;
        l->last_live_bytes = st.f[LK_SITE_LIVE_BYTES];
        l->last_live_count = st.f[LK_SITE_LIVE_COUNT];
    }
    lk_write_snapshot_end(&r->w);
    r->seq++;
    r->full_next = 0;
    flush(r);
    if (r->fd >= 0 && r->thin_at && r->file_len >= r->thin_at && !r->final)
        thin_file(r);
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
