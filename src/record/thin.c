/* Thinning (compaction) of a recording, used by the agent to keep a days-long
 * recording small (DESIGN.md: under 1 MB per hour) and testable on its own.
 * Two passes over the caller's bytes: lk_thin_prepare validates and counts,
 * lk_thin_run streams the output through a callback. Site entries and size
 * classes are copied as raw bytes, never re-encoded, so fields of a later
 * minor version survive. A table in the caller's scratch memory (open
 * addressing by site id) remembers, for the snapshots removed since the last
 * kept one, the latest entry of each site. No allocation, no I/O, no state. */
#include "thin.h"

#include <string.h>

#include "../base/crc32.h"
#include "../base/err.h"
#include "reader.h"

#define LK_THIN_NO_LEVEL 64u /* key level of a snapshot inside the window */

/* One pending site entry: the latest entry of `site` met in the current
 * epoch (the run of snapshots since the last kept one), as a byte span of
 * the input. epoch 0 = a slot never used. */
struct slot {
    uint64_t site;
    uint64_t off;   /* offset of the entry in the input */
    uint32_t len;   /* its bytes (an entry lies inside one payload: < 2^28) */
    uint32_t epoch; /* epoch the span belongs to */
};

/* Byte spans of one SNAPSHOT payload. */
struct snap_view {
    const uint8_t *p, *end; /* payload */
    const uint8_t *cls;     /* the nclasses varint */
    const uint8_t *sites;   /* the first site entry, right after the classes */
    uint64_t nclasses;
    uint64_t time_ns;
};

static int
view_snapshot(const uint8_t *p, size_t n, struct snap_view *v)
{
    struct lk_snapshot sn;
    int rc = lk_snapshot_decode(p, n, &sn);
    if (rc < 0)
        return rc;
    struct lk_dec d;
    lk_dec_init(&d, p, n);
    lk_dec_u64(&d); /* seq */
    lk_dec_u64(&d); /* time_ns */
    lk_dec_u64(&d); /* period */
    uint64_t nproc = lk_dec_count(&d, 1);
    for (uint64_t i = 0; i < nproc && !d.err; i++)
        lk_dec_u64(&d);
    if (d.err)
        return d.err;
    v->p = p;
    v->end = p + n;
    v->cls = d.p;
    v->sites = sn.sites.p;
    v->nclasses = sn.nclasses;
    v->time_ns = sn.time_ns;
    return 0;
}

/* A site entry as the bytes it occupies in the input. */
struct site_span {
    uint64_t site;
    const uint8_t *p;
    size_t n;
};

/* Decodes the next entry of sn's site list into its span: 1, 0 at the
 * list's end (sn->sites.p is then past the terminating 0), negative when
 * malformed. */
static int
next_site(struct lk_snapshot *sn, struct site_span *s)
{
    struct lk_site_entry e;
    const uint8_t *at = sn->sites.p;
    int rc = lk_snapshot_next_site(sn, &e);
    if (rc == 1) {
        s->site = e.site;
        s->p = at;
        s->n = (size_t)(sn->sites.p - at);
    }
    return rc;
}

/* A cursor over v's site list, for next_site. */
static void
sites_cursor(const struct snap_view *v, struct lk_snapshot *sn)
{
    memset(sn, 0, sizeof *sn);
    lk_dec_init(&sn->sites, v->sites, (size_t)(v->end - v->sites));
}

/* Where a snapshot falls in the thinning grid: its level (doubling of age
 * beyond the window, LK_THIN_NO_LEVEL inside it) and its cell at that
 * level. */
struct key {
    unsigned level;
    uint64_t cell;
    int set;
};

/* Whether the policy keeps snapshot idx (of nsnaps) taken at t, given the
 * latest time last_t; *prev carries the key of the previous snapshot in file
 * order, so that the first snapshot of each cell is kept. The first and the
 * latest snapshot always are. */
static int
keep(const struct lk_thin_policy *pol, uint64_t t, uint64_t last_t, uint64_t idx,
     uint64_t nsnaps, struct key *prev)
{
    uint64_t age = last_t > t ? last_t - t : 0;
    struct key k = {LK_THIN_NO_LEVEL, 0, 1};
    if (age >= pol->window_ns) {
        uint64_t ratio = age / pol->window_ns; /* >= 1 */
        unsigned j = 63u - (unsigned)__builtin_clzll(ratio);
        uint64_t base = pol->window_ns / pol->per_octave;
        if (!base)
            base = 1;
        uint64_t step = base > (UINT64_MAX >> j) ? UINT64_MAX : base << j;
        k.level = j;
        k.cell = t / step;
    }
    int differs = !prev->set || prev->level != k.level || prev->cell != k.cell;
    *prev = k;
    return idx == 0 || idx + 1 == nsnaps || k.level == LK_THIN_NO_LEVEL || differs;
}

static int
policy_ok(const struct lk_thin_policy *pol)
{
    return pol && pol->window_ns > 0 && pol->per_octave > 0;
}

int
lk_thin_prepare(const uint8_t *data, size_t len, const struct lk_thin_policy *pol,
                struct lk_thin_plan *plan)
{
    struct lk_reader r;
    struct lk_record rec;
    int rc;
    memset(plan, 0, sizeof *plan);
    if (!policy_ok(pol))
        return -LK_EUSAGE;
    if ((rc = lk_reader_open(&r, "", data, len)) < 0)
        return rc;
    while ((rc = lk_reader_next(&r, &rec)) == 1) {
        if (rec.type != LK_REC_SNAPSHOT)
            continue;
        struct snap_view v;
        struct lk_snapshot sn;
        struct site_span s;
        if ((rc = view_snapshot(rec.payload, rec.len, &v)) < 0)
            return rc;
        sites_cursor(&v, &sn);
        while ((rc = next_site(&sn, &s)) == 1)
            plan->entries++;
        if (rc < 0)
            return rc;
        plan->snaps++;
        plan->last_time_ns = v.time_ns;
    }
    if (rc < 0)
        return rc;
    if (r.torn)
        return -LK_ETRUNC;

    /* Second, light pass over the snapshot heads: how many the policy keeps. */
    struct key prev = {0, 0, 0};
    uint64_t idx = 0;
    lk_reader_open(&r, "", data, len);
    while (lk_reader_next(&r, &rec) == 1) {
        struct snap_view v;
        if (rec.type != LK_REC_SNAPSHOT || view_snapshot(rec.payload, rec.len, &v) < 0)
            continue;
        plan->kept += (uint64_t)keep(pol, v.time_ns, plan->last_time_ns, idx++, plan->snaps, &prev);
    }

    size_t cap = 16;
    while (cap < 2 * plan->entries)
        cap *= 2;
    plan->scratch = cap * sizeof(struct slot) + (size_t)plan->entries * sizeof(uint32_t);
    return 0;
}

/* Output with a running CRC; the first error sticks. */
struct emit {
    lk_thin_out_fn out;
    void *ctx;
    uint32_t crc;
    int err;
};

static void
put(struct emit *e, const void *p, size_t n)
{
    if (e->err || !n)
        return;
    e->crc = lk_crc32(e->crc, p, n);
    int rc = e->out(e->ctx, p, n);
    if (rc < 0)
        e->err = rc;
}

static void
put_le32(struct emit *e, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(e, b, 4);
}

struct table {
    struct slot *slots;
    size_t mask;       /* capacity - 1, a power of two minus one */
    uint32_t *list;    /* slots of the current epoch, in first-seen order */
    size_t nlist, maxlist;
    uint32_t epoch;
};

/* Remembers span as the latest entry of site in the current epoch. */
static int
upsert(struct table *t, const uint8_t *base, const struct site_span *s)
{
    size_t h = (size_t)((s->site * 0x9E3779B97F4A7C15ull) >> 17) & t->mask;
    for (size_t probes = 0; probes <= t->mask; probes++, h = (h + 1) & t->mask) {
        struct slot *sl = &t->slots[h];
        if (sl->epoch && sl->site != s->site)
            continue;
        if (sl->epoch != t->epoch) {
            if (t->nlist >= t->maxlist)
                return -LK_ECORRUPT; /* more entries than prepare counted */
            t->list[t->nlist++] = (uint32_t)h;
        }
        sl->site = s->site;
        sl->off = (uint64_t)(s->p - base);
        sl->len = (uint32_t)s->n;
        sl->epoch = t->epoch;
        return 0;
    }
    return -LK_ENOSPACE;
}

int
lk_thin_run(const uint8_t *data, size_t len, const struct lk_thin_policy *pol,
            const struct lk_thin_plan *plan, void *scratch, size_t scratch_len, lk_thin_out_fn out,
            void *ctx)
{
    struct lk_reader r;
    struct lk_record rec;
    struct emit e = {out, ctx, 0, 0};
    struct table t;
    int rc;
    if (!policy_ok(pol))
        return -LK_EUSAGE;
    if (scratch_len < plan->scratch || !scratch)
        return -LK_ENOSPACE;
    size_t cap = 16;
    while (cap < 2 * plan->entries)
        cap *= 2;
    t.slots = scratch;
    t.mask = cap - 1;
    t.list = (uint32_t *)(t.slots + cap);
    t.nlist = 0;
    t.maxlist = (size_t)plan->entries;
    t.epoch = 1;
    if ((rc = lk_reader_open(&r, "", data, len)) < 0)
        return rc;
    put(&e, data, LK_FILE_HEADER_LEN); /* as it was: the minor version stays the writer's */

    struct key prev = {0, 0, 0};
    uint64_t idx = 0;
    const uint8_t *pcls = NULL; /* classes of the latest removed snapshot that had some */
    size_t pcls_len = 0;
    while (!e.err && (rc = lk_reader_next(&r, &rec)) == 1) {
        if (rec.type != LK_REC_SNAPSHOT) {
            put(&e, data + rec.offset, rec.len + LK_FRAME_HEAD + LK_FRAME_TAIL);
            continue;
        }
        struct snap_view v;
        struct lk_snapshot sn;
        struct site_span s;
        if (idx >= plan->snaps || view_snapshot(rec.payload, rec.len, &v) < 0)
            return -LK_ECORRUPT;
        int kept = keep(pol, v.time_ns, plan->last_time_ns, idx++, plan->snaps, &prev);
        sites_cursor(&v, &sn);
        while ((rc = next_site(&sn, &s)) == 1)
            if ((rc = upsert(&t, data, &s)) < 0)
                return rc;
        if (rc < 0)
            return -LK_ECORRUPT;
        const uint8_t *trail = sn.sites.p; /* bytes after the list's end: a later minor's */
        if (!kept) {
            if (v.nclasses) {
                pcls = v.cls;
                pcls_len = (size_t)(v.sites - v.cls);
            }
            continue;
        }
        const uint8_t *cls = v.cls;
        size_t cls_len = (size_t)(v.sites - v.cls);
        if (!v.nclasses && pcls) { /* "as before" would now mean a removed snapshot's */
            cls = pcls;
            cls_len = pcls_len;
        }
        uint64_t plen = (uint64_t)(v.cls - v.p) + cls_len + 1 + (uint64_t)(v.end - trail);
        for (size_t i = 0; i < t.nlist; i++)
            plen += t.slots[t.list[i]].len;
        if (plen > LK_MAX_RECORD)
            return -LK_ELIMIT;
        uint8_t type = LK_REC_SNAPSHOT, zero = 0;
        e.crc = 0;
        put(&e, &type, 1);
        put_le32(&e, (uint32_t)plen);
        put(&e, v.p, (size_t)(v.cls - v.p));
        put(&e, cls, cls_len);
        for (size_t i = 0; i < t.nlist; i++) {
            const struct slot *sl = &t.slots[t.list[i]];
            put(&e, data + sl->off, sl->len);
        }
        put(&e, &zero, 1);
        put(&e, trail, (size_t)(v.end - trail));
        put_le32(&e, e.crc);
        pcls = NULL;
        pcls_len = 0;
        t.nlist = 0;
        if (++t.epoch == 0) /* 2^32 kept snapshots: not reachable below LK_MAX_RECORD files */
            return -LK_ELIMIT;
    }
    if (e.err)
        return e.err;
    if (rc < 0 || r.torn || idx != plan->snaps)
        return -LK_ECORRUPT;
    return 0;
}
