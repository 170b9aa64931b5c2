/* Site interning. Lookups probe an open-addressing table of site pointers
 * without a lock: slots are only ever filled (never emptied), and a grown
 * table is published with a release store after it is complete, so a reader
 * either finds the site or falls to the locked slow path, which re-probes the
 * current table. Old tables stay mapped (a reader may still be in one); that
 * costs at most the size of the current table again. Never calls malloc. */
#include "site_table.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "base/hash.h"
#include "lock.h"
#include "sys.h"

/* A slot holds a site's address in its low 48 bits and the top 16 bits of
 * the site's hash above them (user-space addresses on x86-64 fit 47 bits),
 * so that a probe passes over a slot of another hash without loading that
 * site: on cc1, 127k of 348k probe steps went to a site of another hash,
 * each a cache miss. 0 = empty. */
#define SLOT_PTR_BITS 48
#define SLOT_PTR_MASK ((1ull << SLOT_PTR_BITS) - 1)

struct table {
    size_t mask;                   /* capacity - 1, capacity a power of two */
    atomic_uint_least64_t slot[];
};

static inline uint64_t
slot_make(const struct lk_site *s)
{
    return (uint64_t)(uintptr_t)s | (s->hash >> SLOT_PTR_BITS) << SLOT_PTR_BITS;
}

static inline struct lk_site *
slot_site(uint64_t v)
{
    return (struct lk_site *)(uintptr_t)(v & SLOT_PTR_MASK);
}

static struct lk_lock lock = LK_LOCK_INIT;
static _Atomic(struct table *) current;
_Atomic(struct lk_site *) *lk_site_by_id; /* mapped lazily by the kernel */
static atomic_uint count;                /* ids handed out */
static size_t used;                      /* sites in the current table (lock) */
static atomic_uchar *mmap_bits;          /* bit per id: site of kind LK_KIND_MMAP */

static struct table *
table_new(size_t cap)
{
    struct table *t = lk_sys_mmap(sizeof *t + cap * sizeof t->slot[0]);
    if (t)
        t->mask = cap - 1;
    return t;
}

int
lk_site_table_init(void)
{
    if (atomic_load(&current))
        return 0;
    lk_site_by_id = lk_sys_mmap((LK_MAX_SITES + 1) * sizeof lk_site_by_id[0]);
    mmap_bits = lk_sys_mmap((LK_MAX_SITES + 8) / 8);
    struct table *t = table_new(4096);
    if (!lk_site_by_id || !t || !mmap_bits)
        return -ENOMEM;
    atomic_store_explicit(&current, t, memory_order_release);
    return 0;
}

static int
same(const struct lk_site *s, uint64_t h, const uintptr_t *frames, size_t n)
{
    return s->hash == h && s->depth == n && memcmp(s->frames, frames, n * sizeof *frames) == 0;
}

static struct lk_site *
probe(struct table *t, uint64_t h, const uintptr_t *frames, size_t n, size_t *empty)
{
    uint64_t tag = h >> SLOT_PTR_BITS;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        uint64_t v = atomic_load_explicit(&t->slot[i], memory_order_acquire);
        if (!v) {
            *empty = i;
            return NULL;
        }
        if (v >> SLOT_PTR_BITS == tag && same(slot_site(v), h, frames, n))
            return slot_site(v);
    }
}

static int
grow(struct table *old)
{
    struct table *t = table_new((old->mask + 1) * 2);
    if (!t)
        return -1;
    for (size_t i = 0; i <= old->mask; i++) {
        uint64_t v = atomic_load_explicit(&old->slot[i], memory_order_relaxed);
        if (!v)
            continue;
        size_t j = slot_site(v)->hash & t->mask;
        while (atomic_load_explicit(&t->slot[j], memory_order_relaxed))
            j = (j + 1) & t->mask;
        atomic_store_explicit(&t->slot[j], v, memory_order_relaxed);
    }
    atomic_store_explicit(&current, t, memory_order_release);
    return 0;
}

static struct lk_site *intern(uint64_t h, const uintptr_t *frames, const uintptr_t *sps, size_t n,
                              int complete, enum lk_kind kind);

struct lk_site *
lk_site_intern(const uintptr_t *frames, size_t n, enum lk_kind kind)
{
    return intern(lk_hash_words(frames, n) ^ (uint64_t)kind, frames, NULL, n, 0, kind);
}

struct lk_site *
lk_site_intern_guess(const uintptr_t *frames, const uintptr_t *sps, size_t n, int complete,
                     enum lk_kind kind, const struct lk_site *guess)
{
    uint64_t h = lk_hash_words(frames, n) ^ (uint64_t)kind;
    if (guess && same(guess, h, frames, n))
        return (struct lk_site *)guess;
    return intern(h, frames, sps, n, complete, kind);
}

/* A new site's frame sizes from its walk's stack pointers; 0 when one
 * does not fit 16 bits (or the stack goes down: a signal's other stack). */
static int
keep_sizes(struct lk_site *s, const uintptr_t *sps, size_t n)
{
    uint16_t *sizes = (uint16_t *)(s->frames + n);
    for (size_t k = 0; k + 1 < n; k++) {
        uintptr_t d = sps[k + 1] - sps[k];
        if (!d || d > UINT16_MAX)
            return 0;
        sizes[k] = (uint16_t)d;
    }
    s->span = (uint32_t)(sps[n - 1] - sps[0]); /* below 2^16 x 255 */
    return 1;
}

static struct lk_site *
intern(uint64_t h, const uintptr_t *frames, const uintptr_t *sps, size_t n, int complete,
       enum lk_kind kind)
{
    size_t empty;
    struct table *t = atomic_load_explicit(&current, memory_order_acquire);
    if (!t)
        return NULL;
    struct lk_site *s = probe(t, h, frames, n, &empty);
    if (s)
        return s;

    lk_lock(&lock);
    t = atomic_load_explicit(&current, memory_order_acquire);
    s = probe(t, h, frames, n, &empty);
    if (s)
        goto out;
    uint32_t id = atomic_load_explicit(&count, memory_order_relaxed) + 1;
    if (id > LK_MAX_SITES || (used + 1) * 10 > (t->mask + 1) * 9)
        goto out; /* full, or an earlier grow() failed: keep probes finite */
    /* the counters 64-byte aligned (the arena gives 16), so that each
     * cohort's sit on one cache line, and the site right after them */
    uintptr_t raw = (uintptr_t)lk_arena_alloc(sizeof(struct lk_site_ctr) + sizeof *s +
                                              n * sizeof *frames + n * sizeof(uint16_t) + 48);
    if (!raw)
        goto out;
    struct lk_site_ctr *ctr = (struct lk_site_ctr *)((raw + 63) & ~(uintptr_t)63);
    s = (struct lk_site *)(ctr + 1);
    if ((uintptr_t)s & ~SLOT_PTR_MASK) {
        s = NULL; /* an address above 2^48 cannot be tagged: never in x86-64 user space */
        goto out;
    }
    s->hash = h;
    s->id = id;
    s->depth = (uint16_t)n;
    s->kind = (uint8_t)kind;
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    memcpy(s->frames, frames, n * sizeof *frames);
    s->flags = (uint8_t)((sps && n && keep_sizes(s, sps, n) ? LK_SITE_SIZES : 0) |
                         (complete ? LK_SITE_COMPLETE : 0));
    if (kind == LK_KIND_MMAP)
        atomic_fetch_or_explicit(&mmap_bits[id / 8], (unsigned char)(1u << (id % 8)),
                                 memory_order_relaxed);
    atomic_store_explicit(&lk_site_by_id[id], s, memory_order_release);
    atomic_store_explicit(&count, id, memory_order_release);
    atomic_store_explicit(&t->slot[empty], slot_make(s), memory_order_release);
    if (++used * 2 > t->mask + 1)
        grow(t); /* on failure the table only gets fuller; probes still end at an empty slot
                    until it is completely full, which LK_MAX_SITES prevents */
out:
    lk_unlock(&lock);
    return s;
}

uint32_t
lk_site_count(void)
{
    return atomic_load_explicit(&count, memory_order_acquire);
}

static uint64_t
minus(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0; /* a free read before its allocation: never negative */
}

void
lk_site_read(const struct lk_site *s, unsigned cohorts, struct lk_site_stats *o)
{
    uint64_t allocs = 0, frees = 0, bytes = 0, freed = 0;
    const struct lk_site_ctr *ctr = lk_site_ctr(s);
    if (cohorts > LK_COHORTS)
        cohorts = LK_COHORTS;
    for (unsigned k = cohorts; k < LK_COHORTS; k++)
        o->born[k] = o->live_count[k] = o->live_bytes[k] = 0;
    for (unsigned k = 0; k < cohorts; k++) {
        uint64_t d = atomic_load_explicit(&ctr->c[k].died, memory_order_relaxed);
        uint64_t db = atomic_load_explicit(&ctr->c[k].died_bytes, memory_order_relaxed);
        uint64_t b = atomic_load_explicit(&ctr->c[k].born, memory_order_relaxed);
        uint64_t bb = atomic_load_explicit(&ctr->c[k].born_bytes, memory_order_relaxed);
        o->born[k] = b;
        o->live_count[k] = minus(b, d);
        o->live_bytes[k] = minus(bb, db);
        allocs += b;
        frees += d;
        bytes += bb;
        freed += db;
    }
    o->f[LK_SITE_LIVE_BYTES] = minus(bytes, freed);
    o->f[LK_SITE_LIVE_COUNT] = minus(allocs, frees);
    o->f[LK_SITE_ALLOCS] = allocs;
    o->f[LK_SITE_FREES] = frees;
    o->f[LK_SITE_ALLOC_BYTES] = bytes;
    o->died_bytes = freed;
}

void
lk_site_read_hist(const struct lk_site *s, struct lk_site_stats *o)
{
    const struct lk_site_ctr *ctr = lk_site_ctr(s);
    for (unsigned c = 0; c < LK_SIZE_CLASSES; c++)
        o->hist[c] = atomic_load_explicit(&ctr->hist[c], memory_order_relaxed);
}

int
lk_site_is_mmap(uint32_t id)
{
    if (id > LK_MAX_SITES)
        return 0;
    return (atomic_load_explicit(&mmap_bits[id / 8], memory_order_relaxed) >> (id % 8)) & 1;
}

void
lk_site_table_lock_all(void)
{
    lk_lock(&lock);
}

void
lk_site_table_unlock_all(void)
{
    lk_unlock(&lock);
}

void
lk_site_table_reset_locks(void)
{
    lk_lock_reset(&lock);
}
