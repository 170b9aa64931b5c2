/* Loading a recording into struct lk_model: the first step of the CLI's
 * read -> symbolize -> analyse -> render flow. The file is read whole, walked
 * with lk_reader (framing, checksums, torn tail) and each payload decoded
 * with format.h's decoders. Per site only the snapshots where its counters
 * changed are stored, so memory grows with the file, not with snapshots x
 * sites. Every count from the file is bounded by the bytes that carry it
 * (lk_dec_count), so a hostile file cannot drive a large allocation; a
 * SCAN record's site entries (each at least 9 bytes) and content samples
 * (at least 5) likewise grow arrays only by what the file carries. CLI
 * only: it uses malloc and stdio. */
#include "model.h"
#include "trend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/err.h"
#include "../record/reader.h"

static void
set_err(struct lk_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
    va_end(ap);
}

/* Grows *arr (elements of size sz) so it holds at least need; 0 or -ENOMEM. */
static int
grow(void **arr, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * sz);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
}

static char *
dup_bytes(struct lk_bytes b)
{
    char *s = malloc(b.n + 1);
    if (!s)
        return NULL;
    if (b.n)
        memcpy(s, b.p, b.n);
    s[b.n] = 0;
    return s;
}

static size_t
hash_id(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

const struct lk_model_site *
lk_model_site(const struct lk_model *m, uint64_t id)
{
    if (id - 1 < m->nsites && m->sites[id - 1].id == id)
        return &m->sites[id - 1]; /* the agent numbers sites densely from 1 */
    if (!m->hcap)
        return NULL;
    for (size_t i = hash_id(id, m->hcap);; i = (i + 1) & (m->hcap - 1)) {
        uint32_t v = m->hslot[i];
        if (!v)
            return NULL;
        if (m->sites[v - 1].id == id)
            return &m->sites[v - 1];
    }
}

static int
rehash(struct lk_model *m, size_t cap)
{
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    for (size_t k = 0; k < m->nsites; k++) {
        size_t i = hash_id(m->sites[k].id, cap);
        while (slot[i])
            i = (i + 1) & (cap - 1);
        slot[i] = (uint32_t)(k + 1);
    }
    free(m->hslot);
    m->hslot = slot;
    m->hcap = cap;
    return 0;
}

/* The site with this id, created empty when new; NULL on ENOMEM or when
 * the file holds more sites than an index can name. */
static struct lk_model_site *
site_get(struct lk_model *m, size_t *capsites, uint64_t id)
{
    struct lk_model_site *s = (struct lk_model_site *)lk_model_site(m, id);
    if (s)
        return s;
    if (m->nsites >= UINT32_MAX - 1)
        return NULL;
    if ((m->nsites + 1) * 2 > m->hcap && rehash(m, m->hcap ? m->hcap * 2 : 1024) < 0)
        return NULL;
    if (grow((void **)&m->sites, capsites, m->nsites + 1, sizeof *m->sites) < 0)
        return NULL;
    s = &m->sites[m->nsites];
    memset(s, 0, sizeof *s);
    s->id = id;
    size_t i = hash_id(id, m->hcap);
    while (m->hslot[i])
        i = (i + 1) & (m->hcap - 1);
    m->hslot[i] = (uint32_t)(m->nsites + 1);
    m->nsites++;
    return s;
}

const struct lk_model_module *
lk_model_module(const struct lk_model *m, uint64_t id)
{
    for (size_t i = 0; i < m->nmodules; i++)
        if (m->modules[i].id == id)
            return &m->modules[i];
    return NULL;
}

uint64_t
lk_model_value(const struct lk_model_site *s, unsigned field, size_t snap)
{
    if (field >= LK_SITE_NFIELDS || !s->nchanges || s->changes[0].snap > snap)
        return 0;
    size_t lo = 0, hi = s->nchanges; /* changes[lo].snap <= snap < changes[hi].snap */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->changes[mid].snap <= snap)
            lo = mid;
        else
            hi = mid;
    }
    return s->changes[lo].f[field];
}

void
lk_model_values(const struct lk_model_site *s, unsigned field, const size_t *idx, size_t n,
                uint64_t *out)
{
    size_t c = 0; /* changes[0..c) are at or before the current index */
    for (size_t i = 0; i < n; i++) {
        while (c < s->nchanges && s->changes[c].snap <= idx[i])
            c++;
        out[i] = (c && field < LK_SITE_NFIELDS) ? s->changes[c - 1].f[field] : 0;
    }
}

int
lk_model_cohorts(const struct lk_model_site *s, size_t snap, struct lk_model_cohorts *out)
{
    out->n = 0;
    if (!s->nchanges || s->changes[0].snap > snap)
        return 0;
    size_t lo = 0, hi = s->nchanges; /* changes[lo].snap <= snap < changes[hi].snap */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->changes[mid].snap <= snap)
            lo = mid;
        else
            hi = mid;
    }
    const struct lk_model_change *c = &s->changes[lo];
    struct lk_snapshot sn;
    struct lk_site_entry e;
    if (!c->entry)
        return 0;
    lk_dec_init(&sn.sites, c->entry, (size_t)(c->entry_end - c->entry));
    if (lk_snapshot_next_site(&sn, &e) != 1)
        return 0; /* decoded fine while loading, so unreachable */
    out->n = (size_t)e.ncohorts;
    memcpy(out->born, e.born, sizeof out->born);
    memcpy(out->live_count, e.live_count, sizeof out->live_count);
    memcpy(out->live_bytes, e.live_bytes, sizeof out->live_bytes);
    return 1;
}

int
lk_model_reach_at(const struct lk_model_site *s, size_t scan, struct lk_model_reach *out)
{
    size_t lo = 0, hi = s->nreach; /* binary search for reach[k].scan == scan */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->reach[mid].scan < scan)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->nreach && s->reach[lo].scan == scan) {
        *out = s->reach[lo];
        return 1;
    }
    memset(out, 0, sizeof *out);
    out->scan = (uint32_t)scan;
    return 0;
}

double
lk_model_time_s(const struct lk_model *m, size_t snap)
{
    return snap < m->nsnaps ? (double)m->snaps[snap].time_ns / 1e9 : 0.0;
}

static double
snap_time(const void *m, size_t snap)
{
    return lk_model_time_s(m, snap);
}

size_t
lk_model_pick(const struct lk_model *m, size_t from, size_t to, size_t max, size_t *idx)
{
    return lk_trend_pick_x(snap_time, m, from, to, max, idx);
}

size_t
lk_model_snap_at(const struct lk_model *m, size_t from, size_t to, double t)
{
    return lk_trend_first_at(snap_time, m, from, to, t);
}

size_t
lk_model_tail_start(const struct lk_model *m, size_t n)
{
    double t0 = lk_model_time_s(m, 0);
    return lk_model_snap_at(m, 0, n, t0 + (lk_model_time_s(m, n - 1) - t0) * 2 / 3);
}

static int
load_module(struct lk_model *m, size_t *cap, const struct lk_module *in)
{
    if (lk_model_module(m, in->id))
        return 1; /* a repeated id: the first record wins */
    if (grow((void **)&m->modules, cap, m->nmodules + 1, sizeof *m->modules) < 0)
        return -ENOMEM;
    struct lk_model_module *o = &m->modules[m->nmodules];
    memset(o, 0, sizeof *o);
    o->id = in->id;
    o->base = in->base;
    o->lo = in->lo;
    o->hi = in->hi;
    o->time_ns = in->time_ns;
    o->gone_ns = UINT64_MAX;
    o->path = dup_bytes(in->path);
    if (!o->path)
        return -ENOMEM;
    if (in->build_id.n) {
        o->build_id = malloc(in->build_id.n);
        if (!o->build_id) {
            free(o->path);
            return -ENOMEM;
        }
        memcpy(o->build_id, in->build_id.p, in->build_id.n);
        o->build_id_len = in->build_id.n;
    }
    m->nmodules++;
    return 0;
}

static int
load_stack(struct lk_model *m, size_t *capsites, const struct lk_record *rec,
           struct lk_frame *frames)
{
    struct lk_stack st;
    int rc = lk_stack_decode(rec->payload, rec->len, &st, frames, LK_MAX_FRAMES);
    if (rc < 0)
        return rc;
    struct lk_model_site *s = site_get(m, capsites, st.site);
    if (!s)
        return -ENOMEM;
    if (s->has_stack)
        return 0; /* a repeated STACK: keep the first */
    s->has_stack = 1;
    s->kind = (unsigned)st.kind;
    s->nframes = (size_t)st.nframes;
    if (st.nframes) {
        s->frames = malloc(s->nframes * sizeof *s->frames);
        if (!s->frames)
            return -ENOMEM;
        memcpy(s->frames, frames, s->nframes * sizeof *s->frames);
    }
    return 0;
}

static int
add_change(struct lk_model_site *s, uint32_t snap, const uint64_t *f, const uint8_t *entry,
           const uint8_t *entry_end)
{
    struct lk_model_change *c;
    if (s->nchanges && !memcmp(s->changes[s->nchanges - 1].f, f, sizeof s->changes[0].f))
        return 0; /* no change: the series (and so the cohorts) are unchanged */
    if (s->nchanges && s->changes[s->nchanges - 1].snap == snap) {
        /* the same site twice in one snapshot: the later entry wins */
        c = &s->changes[s->nchanges - 1];
    } else {
        if (grow((void **)&s->changes, &s->capchanges, s->nchanges + 1, sizeof *s->changes) < 0)
            return -ENOMEM;
        c = &s->changes[s->nchanges++];
        c->snap = snap;
    }
    memcpy(c->f, f, sizeof c->f);
    c->entry = entry;
    c->entry_end = entry_end;
    if (f[LK_SITE_LIVE_BYTES] > s->peak_live_bytes) {
        s->peak_live_bytes = f[LK_SITE_LIVE_BYTES];
        s->peak_snap = snap;
    }
    return 0;
}

/* Returns 0, a negative decode error (reported against the record by the
 * caller) or -ENOMEM. */
static int
load_snapshot(struct lk_model *m, size_t *capsnaps, size_t *capsites, const struct lk_record *rec)
{
    struct lk_snapshot sn;
    int rc = lk_snapshot_decode(rec->payload, rec->len, &sn);
    if (rc < 0)
        return rc;
    if (m->nsnaps >= UINT32_MAX)
        return -LK_ELIMIT;
    if (grow((void **)&m->snaps, capsnaps, m->nsnaps + 1, sizeof *m->snaps) < 0)
        return -ENOMEM;
    struct lk_model_snap *o = &m->snaps[m->nsnaps];
    o->seq = sn.seq;
    o->time_ns = sn.time_ns;
    o->period = sn.period;
    o->nproc = sn.nproc;
    memcpy(o->proc, sn.proc, sizeof o->proc);
    if (sn.nclasses == 0 && m->nsnaps > 0) { /* "as before" (format 1.2) */
        memcpy(o->class_count, m->snaps[m->nsnaps - 1].class_count, sizeof o->class_count);
        memcpy(o->class_bytes, m->snaps[m->nsnaps - 1].class_bytes, sizeof o->class_bytes);
    } else {
        memcpy(o->class_count, sn.class_count, sizeof o->class_count);
        memcpy(o->class_bytes, sn.class_bytes, sizeof o->class_bytes);
    }
    uint32_t idx = (uint32_t)m->nsnaps;
    m->nsnaps++;

    struct lk_site_entry e;
    for (;;) {
        const uint8_t *at = sn.sites.p;
        if ((rc = lk_snapshot_next_site(&sn, &e)) != 1)
            break;
        struct lk_model_site *s = site_get(m, capsites, e.site);
        if (!s)
            return -ENOMEM;
        if (add_change(s, idx, e.f, at, sn.sites.end) < 0)
            return -ENOMEM;
        /* Cohorts and histogram are wanted as of the last entry only:
         * remember where it is and decode it once at the end. */
        s->last_entry = at;
        s->last_entry_end = sn.sites.end;
    }
    return rc;
}

/* Caps the model keeps across records of one kind while loading. */
struct caps {
    size_t mods, sites, snaps, notes, scans, samples;
};

/* A SCAN record: the scan's head and totals, each listed site's state
 * appended to its reach series, and the content samples, which replace
 * those of the previous scan. Returns 0, a negative decode error or
 * -ENOMEM. */
static int
load_scan(struct lk_model *m, struct caps *cap, const struct lk_record *rec)
{
    struct lk_scan sc;
    struct lk_scan_site e;
    struct lk_scan_sample smp;
    int rc = lk_scan_decode(rec->payload, rec->len, &sc);
    if (rc < 0)
        return rc;
    if (m->nscans >= UINT32_MAX - 1)
        return -LK_ELIMIT;
    if (grow((void **)&m->scans, &cap->scans, m->nscans + 1, sizeof *m->scans) < 0)
        return -ENOMEM;
    struct lk_model_scan *o = &m->scans[m->nscans];
    memset(o, 0, sizeof *o);
    o->seq = sc.seq;
    o->time_ns = sc.time_ns;
    o->period = sc.period;
    o->trigger = sc.trigger;
    o->flags = sc.flags;
    o->pause_ns = sc.pause_ns;
    o->scan_ns = sc.scan_ns;
    o->threads = sc.threads;
    o->root_bytes = sc.root_bytes;
    o->heap_bytes = sc.heap_bytes;
    o->blocks = sc.blocks;
    uint32_t idx = (uint32_t)m->nscans;
    m->nscans++;
    while ((rc = lk_scan_next_site(&sc, &e)) == 1) {
        struct lk_model_site *s = site_get(m, &cap->sites, e.site);
        if (!s)
            return -ENOMEM;
        struct lk_model_reach *r;
        if (s->nreach && s->reach[s->nreach - 1].scan == idx) {
            r = &s->reach[s->nreach - 1]; /* listed twice in one scan: the later entry wins */
            for (unsigned k = 0; k < LK_NSTATES; k++) {
                o->count[k] -= r->count[k];
                o->bytes[k] -= r->bytes[k];
            }
        } else {
            if (grow((void **)&s->reach, &s->capreach, s->nreach + 1, sizeof *s->reach) < 0)
                return -ENOMEM;
            r = &s->reach[s->nreach++];
            o->nsites++;
        }
        memset(r, 0, sizeof *r);
        r->scan = idx;
        r->nret = (uint32_t)e.nret;
        for (unsigned k = 0; k < LK_NSTATES; k++) {
            r->count[k] = e.count[k];
            r->bytes[k] = e.bytes[k];
            o->count[k] += e.count[k]; /* wraps only on a hostile file; shown, never trusted */
            o->bytes[k] += e.bytes[k];
        }
        for (unsigned k = 0; k < r->nret; k++) {
            r->ret_kind[k] = e.ret_kind[k];
            r->ret_id[k] = e.ret_id[k];
            r->ret_count[k] = e.ret_count[k];
        }
    }
    if (rc < 0)
        return rc;
    m->nsamples = 0;
    while ((rc = lk_scan_next_sample(&sc, &smp)) == 1) {
        if (grow((void **)&m->samples, &cap->samples, m->nsamples + 1, sizeof *m->samples) < 0)
            return -ENOMEM;
        struct lk_model_sample *x = &m->samples[m->nsamples++];
        x->site = smp.site;
        x->state = (unsigned)smp.state;
        x->size = smp.size;
        x->period = smp.period;
        x->content = smp.content.p;
        x->len = smp.content.n;
        x->redacted = smp.redacted.p;
        o->nsamples++;
    }
    return rc;
}

/* Decodes each site's last entry again for its cohorts and histogram. */
static void
load_last_entries(struct lk_model *m)
{
    struct lk_snapshot sn;
    struct lk_site_entry e;
    for (size_t i = 0; i < m->nsites; i++) {
        struct lk_model_site *s = &m->sites[i];
        if (!s->last_entry)
            continue;
        lk_dec_init(&sn.sites, s->last_entry, (size_t)(s->last_entry_end - s->last_entry));
        if (lk_snapshot_next_site(&sn, &e) != 1)
            continue; /* decoded fine during the walk, so unreachable */
        s->ncohorts = (size_t)e.ncohorts;
        memcpy(s->born, e.born, sizeof s->born);
        memcpy(s->cohort_live_count, e.live_count, sizeof s->cohort_live_count);
        memcpy(s->cohort_live_bytes, e.live_bytes, sizeof s->cohort_live_bytes);
        memcpy(s->hist, e.hist, sizeof s->hist);
    }
}

static const char *
rec_name(unsigned type)
{
    switch (type) {
    case LK_REC_INFO:
        return "INFO";
    case LK_REC_MODULE:
        return "MODULE";
    case LK_REC_MODULE_GONE:
        return "MODULE_GONE";
    case LK_REC_STACK:
        return "STACK";
    case LK_REC_SNAPSHOT:
        return "SNAPSHOT";
    case LK_REC_END:
        return "END";
    case LK_REC_NOTE:
        return "NOTE";
    case LK_REC_SCAN:
        return "SCAN";
    default:
        return "unknown";
    }
}

static int
walk(struct lk_model *m)
{
    struct lk_reader r;
    struct lk_record rec;
    struct caps cap = {0, 0, 0, 0, 0, 0};
    struct lk_frame *frames = NULL;
    int rc = lk_reader_open(&r, m->name, m->data, m->len);
    if (rc < 0) {
        set_err(m, "%s", r.errmsg);
        return rc;
    }
    m->major = r.major;
    m->minor = r.minor;
    frames = malloc(LK_MAX_FRAMES * sizeof *frames);
    if (!frames)
        return -ENOMEM;
    while ((rc = lk_reader_next(&r, &rec)) == 1) {
        char what[96];
        int drc = 0;
        if (rec.index == 0 && rec.type != LK_REC_INFO) {
            rc = lk_reader_fail(&r, &rec, -LK_EFORMAT, "first record is not INFO");
            goto fail;
        }
        switch (rec.type) {
        case LK_REC_INFO:
            if (m->has_info) {
                rc = lk_reader_fail(&r, &rec, -LK_ECORRUPT, "second INFO record");
                goto fail;
            }
            drc = lk_info_decode(rec.payload, rec.len, &m->info);
            m->has_info = 1;
            break;
        case LK_REC_MODULE: {
            struct lk_module mod;
            drc = lk_module_decode(rec.payload, rec.len, &mod);
            if (!drc && load_module(m, &cap.mods, &mod) == -ENOMEM)
                goto nomem;
            break;
        }
        case LK_REC_MODULE_GONE: {
            struct lk_module_gone g;
            drc = lk_module_gone_decode(rec.payload, rec.len, &g);
            const struct lk_model_module *mod = drc ? NULL : lk_model_module(m, g.id);
            if (mod)
                ((struct lk_model_module *)mod)->gone_ns = g.time_ns;
            break;
        }
        case LK_REC_STACK:
            drc = load_stack(m, &cap.sites, &rec, frames);
            if (drc == -ENOMEM)
                goto nomem;
            break;
        case LK_REC_SNAPSHOT:
            drc = load_snapshot(m, &cap.snaps, &cap.sites, &rec);
            if (drc == -ENOMEM)
                goto nomem;
            break;
        case LK_REC_END:
            drc = lk_end_decode(rec.payload, rec.len, &m->end);
            m->has_end = !drc;
            break;
        case LK_REC_NOTE: {
            struct lk_note n;
            drc = lk_note_decode(rec.payload, rec.len, &n);
            if (drc)
                break;
            if (grow((void **)&m->notes, &cap.notes, m->nnotes + 1, sizeof *m->notes) < 0)
                goto nomem;
            m->notes[m->nnotes].level = (unsigned)n.level;
            m->notes[m->nnotes].time_ns = n.time_ns;
            m->notes[m->nnotes].text = dup_bytes(n.text);
            if (!m->notes[m->nnotes].text)
                goto nomem;
            m->nnotes++;
            break;
        }
        case LK_REC_SCAN:
            drc = load_scan(m, &cap, &rec);
            if (drc == -ENOMEM)
                goto nomem;
            break;
        default:
            break; /* a record type of a later minor version: skipped */
        }
        if (drc < 0) {
            snprintf(what, sizeof what, "malformed %s record", rec_name(rec.type));
            rc = lk_reader_fail(&r, &rec, drc, what);
            goto fail;
        }
    }
    if (rc < 0)
        goto fail;
    load_last_entries(m);
    if (r.torn) {
        m->torn = 1;
        snprintf(m->warning, sizeof m->warning, "%s", r.errmsg);
    }
    if (!m->has_info) {
        rc = -LK_EFORMAT;
        set_err(m, "%s: the recording holds no INFO record (it was cut off right after its header)",
                m->name);
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    rc = -ENOMEM;
    set_err(m, "%s: out of memory while loading", m->name);
    goto out;
fail:
    set_err(m, "%s", r.errmsg);
out:
    free(frames);
    return rc;
}

int
lk_model_load_mem(struct lk_model *m, const char *name, const void *data, size_t len)
{
    memset(m, 0, sizeof *m);
    m->name = strdup(name ? name : "recording");
    m->data = malloc(len ? len : 1);
    if (!m->name || !m->data) {
        set_err(m, "%s: out of memory", name);
        return -ENOMEM;
    }
    if (len)
        memcpy(m->data, data, len);
    m->len = len;
    return walk(m);
}

/* errno's message with a lower-case first letter, as CLI messages are. */
static void
set_errno(struct lk_model *m, const char *path, int e)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    set_err(m, "%s: %s", path, buf);
}

int
lk_model_load(struct lk_model *m, const char *path)
{
    memset(m, 0, sizeof *m);
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        set_errno(m, path, errno);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        set_errno(m, path, errno);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        set_errno(m, path, EISDIR);
        goto out;
    }
    /* A regular file is mapped: a day-long recording can be hundreds of
     * megabytes, and the page cache already holds it. The agent only
     * appends, so the mapped prefix stays valid; what it appends later is
     * simply not seen, and a record cut at the end reads as torn. */
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX / 2) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            m->name = strdup(path);
            if (!m->name) {
                munmap(p, (size_t)st.st_size);
                rc = -ENOMEM;
                set_err(m, "%s: out of memory", path);
                goto out;
            }
            m->data = p;
            m->len = (size_t)st.st_size;
            m->mapped = 1;
            rc = walk(m);
            goto out;
        }
    }
    /* Otherwise read until EOF rather than trusting st_size: pipes and
     * /proc files report no size. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        set_err(m, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                rc = -ENOMEM;
                set_err(m, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            set_errno(m, path, errno);
            free(buf);
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    m->name = strdup(path);
    if (!m->name) {
        free(buf);
        rc = -ENOMEM;
        set_err(m, "%s: out of memory", path);
        goto out;
    }
    m->data = buf;
    m->len = len;
    rc = walk(m);
out:
    close(fd);
    return rc;
}

void
lk_model_free(struct lk_model *m)
{
    for (size_t i = 0; i < m->nmodules; i++) {
        free(m->modules[i].path);
        free(m->modules[i].build_id);
    }
    for (size_t i = 0; i < m->nsites; i++) {
        free(m->sites[i].frames);
        free(m->sites[i].changes);
        free(m->sites[i].reach);
    }
    for (size_t i = 0; i < m->nnotes; i++)
        free(m->notes[i].text);
    free(m->modules);
    free(m->sites);
    free(m->snaps);
    free(m->notes);
    free(m->scans);
    free(m->samples);
    free(m->hslot);
    if (m->mapped)
        munmap(m->data, m->len);
    else
        free(m->data);
    free(m->name);
    m->modules = NULL;
    m->sites = NULL;
    m->snaps = NULL;
    m->notes = NULL;
    m->scans = NULL;
    m->samples = NULL;
    m->hslot = NULL;
    m->data = NULL;
    m->name = NULL;
    m->mapped = 0;
    m->nmodules = m->nsites = m->nsnaps = m->nnotes = m->nscans = m->nsamples = 0;
}
