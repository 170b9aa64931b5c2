/* pprof's profile.proto, encoded by hand: varints and length-delimited
 * fields are all the wire format needs, and a generated library would be a
 * build dependency for one message type. Each site becomes one sample whose
 * locations are its recorded frames (leaf first, allocator frames folded
 * away as in the reports); each distinct (module, offset) is one Location
 * whose Lines are its inlined frames, innermost first, as the schema asks;
 * modules become Mappings with their build-ids. The encoded message is
 * gzipped with zlib. CLI only: allocates, stdio. */
#include "pprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "folded.h"
#include "text.h"

/* ---- protobuf wire format -------------------------------------------- */

struct pb {
    unsigned char *p;
    size_t n, cap;
    int err; /* -ENOMEM, sticky */
};

static void
pb_put(struct pb *b, const void *src, size_t n)
{
    if (b->err)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->err = -ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void
pb_varint(struct pb *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    pb_put(b, tmp, n);
}

/* A varint field (wire type 0). int64 values go through as their two's
 * complement, as protobuf encodes negative int64. Zero is omitted (proto3
 * default). */
static void
pb_uint(struct pb *b, unsigned field, uint64_t v)
{
    if (!v)
        return;
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

/* A length-delimited field (wire type 2). */
static void
pb_bytes(struct pb *b, unsigned field, const void *p, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_put(b, p, n);
}

/* Appends sub as an embedded message and empties it for reuse. */
static void
pb_msg(struct pb *b, unsigned field, struct pb *sub)
{
    if (sub->err)
        b->err = sub->err;
    pb_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
}

static void
pb_free(struct pb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- tables ---------------------------------------------------------- */

/* Open addressing from a 64-bit key to an id >= 1. */
struct idmap {
    uint64_t *key;
    uint64_t *val; /* 0 = empty slot */
    size_t cap;    /* power of two */
    size_t n;
};

static uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The slot for key: its own, or the empty one where it belongs. */
static size_t
idmap_slot(const struct idmap *t, uint64_t key)
{
    size_t i = mix(key) & (t->cap - 1);
    while (t->val[i] && t->key[i] != key)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int
idmap_grow(struct idmap *t)
{
    if ((t->n + 1) * 2 <= t->cap)
        return 0;
    struct idmap nt = {0};
    nt.cap = t->cap ? t->cap * 2 : 1024;
    nt.key = calloc(nt.cap, sizeof *nt.key);
    nt.val = calloc(nt.cap, sizeof *nt.val);
    if (!nt.key || !nt.val) {
        free(nt.key);
        free(nt.val);
        return -ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->val[i]) {
            size_t j = idmap_slot(&nt, t->key[i]);
            nt.key[j] = t->key[i];
            nt.val[j] = t->val[i];
        }
    nt.n = t->n;
    free(t->key);
    free(t->val);
    *t = nt;
    return 0;
}

static void
idmap_free(struct idmap *t)
{
    free(t->key);
    free(t->val);
    memset(t, 0, sizeof *t);
}

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return mix(h);
}

struct enc {
    const struct lk_model *m;
    struct lk_symbolizer *sym;
    /* string table: strs[i] is index i; strs[0] is "" */
    char **strs;
    size_t nstrs, capstrs;
    struct idmap str_ids; /* string hash -> index + 1 (collisions chained by probing below) */
    struct idmap loc_ids; /* (module, offset) hash -> location id */
    struct idmap fn_ids;  /* (name, file) hash -> function id */
    uint64_t nloc, nfn;
    struct pb locs, fns, tmp, tmp2;
    int err;
};

/* Index of s in the string table, added when new. Hash collisions between
 * different strings are resolved by perturbing the key until it matches or
 * is free. */
static int64_t
str_id(struct enc *e, const char *s)
{
    if (!s || !*s)
        return 0;
    for (uint64_t key = hash_str(s);; key = mix(key + 1)) {
        if (idmap_grow(&e->str_ids) < 0) {
            e->err = -ENOMEM;
            return 0;
        }
        size_t i = idmap_slot(&e->str_ids, key);
        if (e->str_ids.val[i]) {
            if (!strcmp(e->strs[e->str_ids.val[i] - 1], s))
                return (int64_t)e->str_ids.val[i] - 1;
            continue;
        }
        if (e->nstrs == e->capstrs) {
            size_t cap = e->capstrs * 2;
            char **p = realloc(e->strs, cap * sizeof *p);
            if (!p) {
                e->err = -ENOMEM;
                return 0;
            }
            e->strs = p;
            e->capstrs = cap;
        }
        char *copy = strdup(s);
        if (!copy) {
            e->err = -ENOMEM;
            return 0;
        }
        e->strs[e->nstrs++] = copy;
        e->str_ids.key[i] = key;
        e->str_ids.val[i] = e->nstrs; /* index + 1 */
        e->str_ids.n++;
        return (int64_t)e->nstrs - 1;
    }
}

/* Function id of a logical frame, added to e->fns when new. */
static uint64_t
function_id(struct enc *e, const struct lk_sym_frame *f)
{
    char name[512];
    lk_folded_frame_name(name, sizeof name, f);
    int64_t n = str_id(e, name), file = str_id(e, f->file);
    uint64_t key = mix((uint64_t)n * 0x9e3779b97f4a7c15ull + (uint64_t)file);
    if (idmap_grow(&e->fn_ids) < 0) {
        e->err = -ENOMEM;
        return 0;
    }
    size_t i = idmap_slot(&e->fn_ids, key);
    if (e->fn_ids.val[i])
        return e->fn_ids.val[i];
    uint64_t id = ++e->nfn;
    e->fn_ids.key[i] = key;
    e->fn_ids.val[i] = id;
    e->fn_ids.n++;
    pb_uint(&e->tmp, 1, id);
    pb_uint(&e->tmp, 2, (uint64_t)n);
    pb_uint(&e->tmp, 3, (uint64_t)n);
    pb_uint(&e->tmp, 4, (uint64_t)file);
    pb_msg(&e->fns, 5, &e->tmp);
    return id;
}

/* Location id of a recorded frame, added to e->locs when new. */
static uint64_t
location_id(struct enc *e, const struct lk_frame *fr)
{
    uint64_t key = mix(fr->module * 0xc2b2ae3d27d4eb4full ^ mix(fr->offset));
    if (idmap_grow(&e->loc_ids) < 0) {
        e->err = -ENOMEM;
        return 0;
    }
    size_t i = idmap_slot(&e->loc_ids, key);
    if (e->loc_ids.val[i])
        return e->loc_ids.val[i];
    uint64_t id = ++e->nloc;
    e->loc_ids.key[i] = key;
    e->loc_ids.val[i] = id;
    e->loc_ids.n++;

    const struct lk_model_module *mod = fr->module ? lk_model_module(e->m, fr->module) : NULL;
    const struct lk_sym_frame *lf;
    size_t nl = lk_symbolize_frame(e->sym, fr, &lf);
    struct pb loc = {0};
    pb_uint(&loc, 1, id);
    pb_uint(&loc, 2, mod ? mod->id : 0);
    pb_uint(&loc, 3, mod ? mod->base + fr->offset : fr->offset);
    for (size_t k = 0; k < nl; k++) {
        uint64_t fid = function_id(e, &lf[k]);
        pb_uint(&e->tmp2, 1, fid);
        pb_uint(&e->tmp2, 2, lf[k].line);
        pb_msg(&loc, 4, &e->tmp2);
    }
    pb_msg(&e->locs, 4, &loc);
    pb_free(&loc);
    return id;
}

/* Whether every logical frame of a recorded frame is the allocator's. */
static int
is_allocator_frame(struct enc *e, const struct lk_frame *fr)
{
    const struct lk_sym_frame *lf;
    size_t nl = lk_symbolize_frame(e->sym, fr, &lf);
    for (size_t k = 0; k < nl; k++)
        if (!lk_symbolize_is_allocator(&lf[k]))
            return 0;
    return 1;
}

static void
hex(char *buf, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    buf[2 * n] = 0;
}

/* A ValueType message (type, unit) as field `field` of b. */
static void
value_type(struct enc *e, struct pb *b, unsigned field, const char *type, const char *unit)
{
    pb_uint(&e->tmp, 1, (uint64_t)str_id(e, type));
    pb_uint(&e->tmp, 2, (uint64_t)str_id(e, unit));
    pb_msg(b, field, &e->tmp);
}

int
lk_pprof_encode(const struct lk_model *m, const struct lk_analysis *a, struct lk_symbolizer *sym,
                enum lk_pprof_kind kind, unsigned char **data, size_t *len)
{
    struct enc e;
    struct pb out = {0}, samples = {0}, ids = {0}, vals = {0};
    size_t last = m->nsnaps ? m->nsnaps - 1 : 0;
    const struct lk_site_verdict **verdict_of = NULL;
    memset(&e, 0, sizeof e);
    e.m = m;
    e.sym = sym;
    e.capstrs = 64;
    e.strs = calloc(e.capstrs, sizeof *e.strs);
    if (!e.strs || !(e.strs[0] = strdup(""))) {
        e.err = -ENOMEM;
        goto out;
    }
    e.nstrs = 1;
    if (a && a->nsites) {
        verdict_of = calloc(m->nsites, sizeof *verdict_of);
        if (!verdict_of) {
            e.err = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < a->nsites; i++)
            if (a->sites[i].site < m->nsites)
                verdict_of[a->sites[i].site] = &a->sites[i];
    }

    if (kind == LK_PPROF_HEAP) {
        value_type(&e, &out, 1, "inuse_space", "bytes");
        value_type(&e, &out, 1, "inuse_objects", "count");
        value_type(&e, &out, 1, "alloc_space", "bytes");
        value_type(&e, &out, 1, "alloc_objects", "count");
    } else {
        value_type(&e, &out, 1, "growth_space", "bytes");
        value_type(&e, &out, 1, "growth_objects", "count");
    }

    for (size_t si = 0; si < m->nsites && !e.err; si++) {
        const struct lk_model_site *s = &m->sites[si];
        int64_t v[4];
        size_t nv;
        if (kind == LK_PPROF_HEAP) {
            v[0] = (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, last);
            v[1] = (int64_t)lk_model_value(s, LK_SITE_LIVE_COUNT, last);
            v[2] = (int64_t)lk_model_value(s, LK_SITE_ALLOC_BYTES, last);
            v[3] = (int64_t)lk_model_value(s, LK_SITE_ALLOCS, last);
            nv = 4;
        } else {
            v[0] = (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, last) -
                   (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, 0);
            v[1] = (int64_t)lk_model_value(s, LK_SITE_LIVE_COUNT, last) -
                   (int64_t)lk_model_value(s, LK_SITE_LIVE_COUNT, 0);
            nv = 2;
        }
        int any = 0;
        for (size_t k = 0; k < nv; k++)
            any |= v[k] != 0;
        if (!any)
            continue;
        size_t skip = 0;
        while (skip < s->nframes && is_allocator_frame(&e, &s->frames[skip]))
            skip++;
        if (skip == s->nframes)
            skip = 0;
        for (size_t k = skip; k < s->nframes; k++)
            pb_varint(&ids, location_id(&e, &s->frames[k]));
        for (size_t k = 0; k < nv; k++)
            pb_varint(&vals, (uint64_t)v[k]);
        struct pb sample = {0};
        pb_bytes(&sample, 1, ids.p, ids.n);
        pb_bytes(&sample, 2, vals.p, vals.n);
        ids.n = vals.n = 0;
        /* Labels: the site id, and its verdict when analysed. */
        pb_uint(&e.tmp, 1, (uint64_t)str_id(&e, "site"));
        pb_uint(&e.tmp, 3, s->id);
        pb_msg(&sample, 3, &e.tmp);
        if (verdict_of && verdict_of[si]) {
            pb_uint(&e.tmp, 1, (uint64_t)str_id(&e, "verdict"));
            pb_uint(&e.tmp, 2, (uint64_t)str_id(&e, lk_verdict_name(verdict_of[si]->verdict)));
            pb_msg(&sample, 3, &e.tmp);
        }
        pb_uint(&e.tmp, 1, (uint64_t)str_id(&e, "kind"));
        pb_uint(&e.tmp, 2, (uint64_t)str_id(&e, s->kind == LK_KIND_MMAP ? "mmap" : "heap"));
        pb_msg(&sample, 3, &e.tmp);
        pb_msg(&samples, 2, &sample);
        pb_free(&sample);
    }
    if (samples.err || ids.err || vals.err)
        e.err = -ENOMEM;
    pb_put(&out, samples.p, samples.n);

    /* Mappings: every module, with its build-id as hex (what pprof shows
     * and matches against symbol servers). */
    for (size_t i = 0; i < m->nmodules; i++) {
        const struct lk_model_module *mod = &m->modules[i];
        char bid[2 * 64 + 1];
        size_t nb = mod->build_id_len < 64 ? mod->build_id_len : 64;
        hex(bid, mod->build_id ? mod->build_id : (const uint8_t *)"", mod->build_id ? nb : 0);
        pb_uint(&e.tmp, 1, mod->id);
        pb_uint(&e.tmp, 2, mod->lo);
        pb_uint(&e.tmp, 3, mod->hi);
        pb_uint(&e.tmp, 5, (uint64_t)str_id(&e, mod->path[0] ? mod->path : "[vdso]"));
        pb_uint(&e.tmp, 6, (uint64_t)str_id(&e, bid));
        pb_uint(&e.tmp, 7, 1);
        pb_uint(&e.tmp, 8, 1);
        pb_uint(&e.tmp, 9, 1);
        pb_uint(&e.tmp, 10, 1);
        pb_msg(&out, 3, &e.tmp);
    }
    pb_put(&out, e.locs.p, e.locs.n);
    pb_put(&out, e.fns.p, e.fns.n);

    /* Informational fields, interned before the string table is written. */
    double t0 = m->nsnaps ? lk_model_time_s(m, 0) : 0,
           t1 = m->nsnaps ? lk_model_time_s(m, last) : 0;
    uint64_t time_nanos = m->info.start_realtime_ns + (m->nsnaps ? m->snaps[last].time_ns : 0);
    char comment[600];
    snprintf(comment, sizeof comment, "leakscope %s: %s, %s%s", LK_VERSION, m->name,
             kind == LK_PPROF_HEAP ? "live memory at the last snapshot"
                                   : "growth from the first to the last snapshot",
             m->info.sample_bytes ? " (sampled: values are estimates)" : "");
    int64_t c1 = str_id(&e, comment), c2 = 0;
    if (a) {
        lk_render_summary(comment, sizeof comment, m, a);
        c2 = str_id(&e, comment);
    }
    int64_t dflt = str_id(&e, kind == LK_PPROF_HEAP ? "inuse_space" : "growth_space");
    pb_uint(&out, 9, time_nanos);
    pb_uint(&out, 10, (uint64_t)((t1 - t0) * 1e9));
    value_type(&e, &out, 11, "space", "bytes");
    pb_uint(&out, 12, m->info.sample_bytes ? m->info.sample_bytes : 1);
    pb_uint(&out, 13, (uint64_t)c1);
    pb_uint(&out, 13, (uint64_t)c2);
    pb_uint(&out, 14, (uint64_t)dflt);
    for (size_t i = 0; i < e.nstrs; i++)
        pb_bytes(&out, 6, e.strs[i], strlen(e.strs[i]));
    if (out.err || e.locs.err || e.fns.err || e.tmp.err || e.tmp2.err)
        e.err = -ENOMEM;
out:
    if (!e.err) {
        *data = out.p;
        *len = out.n;
        out.p = NULL;
    }
    pb_free(&out);
    pb_free(&samples);
    pb_free(&ids);
    pb_free(&vals);
    pb_free(&e.locs);
    pb_free(&e.fns);
    pb_free(&e.tmp);
    pb_free(&e.tmp2);
    idmap_free(&e.str_ids);
    idmap_free(&e.loc_ids);
    idmap_free(&e.fn_ids);
    for (size_t i = 0; i < e.nstrs; i++)
        free(e.strs[i]);
    free(e.strs);
    free(verdict_of);
    return e.err;
}

int
lk_render_pprof(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                struct lk_symbolizer *sym, enum lk_pprof_kind kind)
{
    unsigned char *raw = NULL, buf[16384];
    size_t len = 0;
    int rc = lk_pprof_encode(m, a, sym, kind, &raw, &len);
    if (rc < 0)
        return rc;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip wrapper, which pprof requires on disk. */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(raw);
        return -ENOMEM;
    }
    z.next_in = raw;
    z.avail_in = (uInt)len;
    int zr;
    rc = 0;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        zr = deflate(&z, Z_FINISH);
        if (zr == Z_STREAM_ERROR) {
            rc = -ENOMEM;
            break;
        }
        if (fwrite(buf, 1, sizeof buf - z.avail_out, out) != sizeof buf - z.avail_out) {
            rc = -EIO;
            break;
        }
    } while (zr != Z_STREAM_END);
    deflateEnd(&z);
    free(raw);
    if (!rc && (fflush(out) || ferror(out)))
        rc = -EIO;
    return rc;
}
