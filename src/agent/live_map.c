/* Sharded open-addressing hash map from block address to (site, size,
 * period). An entry packs the address (>> 4: glibc blocks are 16-byte
 * aligned) and the 20-bit site id into one word, the size, the birth period
 * (24 bits) and the entry's displacement from its home slot (8 bits) into
 * another. Robin Hood linear probing with backward-shift deletion (no
 * tombstones), which keeps lookups short up to 13/16 full: tables hold
 * 13/32 to 13/16 of their slots, about 26 bytes per live block. Sizes of 4 GiB and
 * more go to a small overflow table. Tables come from mmap, never malloc;
 * each shard has its own lock (rank LK_RANK_SHARD). */
#include "live_map.h"

#include <errno.h>
#include <stdatomic.h>

#include "lock.h"
#include "sys.h"

#define NSHARDS 256
#define INITIAL_CAP 256
#define ADDR_BITS 44 /* addr >> 4 for addresses below 2^48 */
#define ADDR_MASK ((1ull << ADDR_BITS) - 1)
#define BIG_SIZE 0xffffffffu
#define NBIG 256

#define DISP_MASK 255u /* the displacement's bits in pd */
/* A displacement stored as DISP_MAX is DISP_MAX or more (and recomputed
 * from the hash when read). A test build sets it low so that this path runs
 * constantly (tests/CMakeLists.txt: test_live_map_sat3). */
#ifdef LK_LIVE_MAP_DISP_SAT
#define DISP_MAX ((uint32_t)LK_LIVE_MAP_DISP_SAT)
#else
#define DISP_MAX DISP_MASK
#endif
/* Later birth periods are stored as this: cohorts are unchanged (all of
 * them are past the last cohort's start, 2^23 - 1), only a SCAN sample's
 * period stops there (194 days of 1 s periods). */
#define PERIOD_MAX ((1u << 24) - 1)

struct entry {
    uint64_t key;  /* (addr >> 4) | site << 44; 0 = empty */
    uint32_t size; /* requested size, BIG_SIZE: look in the big table */
    uint32_t pd;   /* birth period << 8 | displacement from the home slot */
};

struct shard {
    struct lk_lock lock;
    struct entry *tab; /* cap entries */
    size_t cap;        /* power of two */
    size_t used;
    char pad[64 - sizeof(struct lk_lock) - sizeof(void *) - 2 * sizeof(size_t)];
};

struct big {
    uintptr_t addr;
    uint64_t size;
};

static struct shard shards[NSHARDS];
/* Sampled mode: a counting filter over addresses in the map (one saturating
 * byte per hash bucket), so that the free of an unsampled block -- nearly
 * every free -- is answered by one load instead of a lock and a probe. An
 * insert increments before the block is handed to the program, so any thread
 * that later frees it sees a non-zero count. */
_Atomic unsigned char *lk_live_map_filter;
#define filter lk_live_map_filter
static struct lk_lock big_lock = LK_LOCK_INIT;
static struct big bigs[NBIG];

/* Blocks are grouped by 1 KiB granule: the granule's hash picks the shard
 * and a home region, and a block's 16-byte index inside the granule is added
 * to it, so blocks allocated next to each other (glibc hands out fresh
 * chunks in address order) share table cache lines. With a plain hash of the
 * address every operation on a large live set was a cache miss: 71% of the
 * time in lk_live_map_insert sat on the first probe's load (perl building
 * 300k hashes, ~1.2M live blocks). a is addr >> 4.
 *
 * The hash is one multiplication (Fibonacci hashing): the shard is its top 8
 * bits, the home region the bits below. Granule numbers are not adversarial
 * and consecutive ones land far apart; murmur's fmix64 cost 10 instructions
 * more per call, and removal calls it once per entry it shifts. */
#define SHARD_SHIFT 56
#define HOME_SHIFT 24
_Static_assert(NSHARDS == 1 << (64 - SHARD_SHIFT), "the shard is the hash's top bits");

static inline uint64_t
granule_hash(uint64_t a)
{
    return (a >> 6) * 0x9e3779b97f4a7c15ull;
}

static inline struct shard *
shard_of(uint64_t h)
{
    return &shards[h >> SHARD_SHIFT];
}

static inline size_t
home_of(uint64_t a, uint64_t h, size_t mask)
{
    return ((size_t)(h >> HOME_SHIFT) + (size_t)(a & 63)) & mask;
}

static inline uint32_t
pack_pd(uint32_t period)
{
    return (period < PERIOD_MAX ? period : PERIOD_MAX) << 8;
}

static inline uint32_t
period_of(struct entry e)
{
    return e.pd >> 8;
}

/* An entry as callers see it (a big block's size as stored: BIG_SIZE). */
static inline struct lk_live_info
info_of(struct entry e)
{
    return (struct lk_live_info){(uint32_t)(e.key >> ADDR_BITS), period_of(e), e.size};
}

static inline void
set_disp(struct entry *e, size_t d)
{
    e->pd = (e->pd & ~DISP_MASK) | (uint32_t)(d < DISP_MAX ? d : DISP_MAX);
}

/* How far the entry at slot i is from its home slot. */
static inline size_t
disp_at(const struct entry *tab, size_t i, size_t mask)
{
    uint32_t d = tab[i].pd & DISP_MASK;
    if (__builtin_expect(d < DISP_MAX, 1))
        return d;
    uint64_t ka = tab[i].key & ADDR_MASK;
    return (i - home_of(ka, granule_hash(ka), mask)) & mask;
}

/* Robin Hood placement: each cluster is kept in the order of its entries'
 * home slots, so a lookup stops at the first entry nearer its home than the
 * key would be (absent keys cost about what present ones do), and a removal
 * shifts back only the entries after it that are not at home. Each entry
 * stores its displacement, so a probe compares instead of rehashing.
 *
 * Puts e (displacement field 0) into tab starting at its home slot i; when
 * its address is already there (a block whose free we missed), overwrites
 * that entry instead and returns 1 with *old. */
static inline int
put(struct entry *tab, size_t mask, size_t i, struct entry e, struct entry *old)
{
    uint64_t a = e.key & ADDR_MASK;
    size_t d = 0;
    for (;; i = (i + 1) & mask, d++) {
        uint64_t k = tab[i].key;
        if (!k)
            break;
        if ((k & ADDR_MASK) == a) {
            *old = tab[i];
            set_disp(&e, d);
            tab[i] = e;
            return 1;
        }
        if (disp_at(tab, i, mask) < d)
            break; /* entries from here on have later homes: e goes here */
    }
    /* Insert at i: the rest of the cluster moves one slot on, each entry one
     * further from home (a saturated count stays saturated). */
    size_t j = i;
    while (tab[j].key)
        j = (j + 1) & mask;
    for (; j != i; j = (j - 1) & mask) {
        struct entry m = tab[(j - 1) & mask];
        m.pd += (m.pd & DISP_MASK) < DISP_MAX;
        tab[j] = m;
    }
    set_disp(&e, d);
    tab[i] = e;
    return 0;
}

static void
filter_add(uint64_t a, int delta)
{
    _Atomic unsigned char *c = &filter[lk_live_map_filter_slot(a)];
    unsigned char v = atomic_load_explicit(c, memory_order_relaxed);
    for (;;) {
        if (v == 255)
            return; /* saturated: stays "maybe" for good */
        if (delta < 0 && v == 0)
            return;
        if (atomic_compare_exchange_weak_explicit(c, &v, (unsigned char)(v + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
            return;
    }
}

int
lk_live_map_init(int use_filter)
{
    if (use_filter && !filter) {
        filter = lk_sys_mmap((size_t)1 << LK_FILTER_BITS);
        if (!filter)
            return -ENOMEM;
    }
    /* the shards' first tables in one mapping (a shard that grows unmaps
     * its part): 256 mappings of a page each were a quarter of what the
     * agent added to /bin/true */
    struct entry *all = NULL;
    for (int i = 0; i < NSHARDS; i++) {
        if (shards[i].tab)
            continue;
        if (!all && !(all = lk_sys_mmap((size_t)NSHARDS * INITIAL_CAP * sizeof(struct entry))))
            return -ENOMEM;
        shards[i].tab = all + (size_t)i * INITIAL_CAP;
        shards[i].cap = INITIAL_CAP;
    }
    return 0;
}

static int
shard_grow(struct shard *sh)
{
    size_t cap = sh->cap * 2;
    struct entry *t = lk_sys_mmap(cap * sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < sh->cap; i++) {
        struct entry e = sh->tab[i];
        if (!e.key)
            continue;
        uint64_t a = e.key & ADDR_MASK;
        struct entry dup;
        put(t, cap - 1, home_of(a, granule_hash(a), cap - 1), e, &dup); /* no duplicates */
    }
    lk_sys_munmap(sh->tab, sh->cap * sizeof *t);
    sh->tab = t;
    sh->cap = cap;
    return 0;
}

static void
big_put(uintptr_t addr, uint64_t size)
{
    lk_lock(&big_lock);
    for (int i = 0; i < NBIG; i++)
        if (!bigs[i].addr) {
            bigs[i].addr = addr;
            bigs[i].size = size;
            break;
        }
    lk_unlock(&big_lock);
}

static uint64_t
big_take(uintptr_t addr)
{
    uint64_t size = BIG_SIZE; /* when the table was full: a lower bound */
    lk_lock(&big_lock);
    for (int i = 0; i < NBIG; i++)
        if (bigs[i].addr == addr) {
            size = bigs[i].size;
            bigs[i].addr = 0;
            break;
        }
    lk_unlock(&big_lock);
    return size;
}

/* Where a's home slot is, for a prefetch only: the table pointer and size
 * are read without the lock (a grow may be under way), so the address is
 * never dereferenced. NULL before the shard has a table. */
static inline const struct entry *
home_hint(const struct shard *sh, uint64_t a, uint64_t h)
{
    const struct entry *tab = sh->tab;
    return tab ? &tab[home_of(a, h, sh->cap - 1)] : NULL;
}

void
lk_live_map_prefetch(uintptr_t addr)
{
    uint64_t a = addr >> 4;
    uint64_t h = granule_hash(a);
    const struct entry *hint = home_hint(shard_of(h), a, h);
    if (hint)
        __builtin_prefetch(hint, 1, 1);
}

/* Grow at 13/16 full: Robin Hood placement keeps lookups and removals
 * short at that load, and a smaller table is fewer cache and TLB misses on
 * a large live set; an insert still shifts the rest of its cluster, which
 * grows fast near full (at 7/8 the replayed jq stream took 6% and a dense
 * stream 29% more instructions than at 13/16, for no less memory:
 * docs/UNWIND.md, section 7). */
static inline int
full(const struct shard *sh)
{
    return (sh->used + 1) * 16 > sh->cap * 13;
}

static inline int
trackable(uintptr_t addr)
{
    return !((addr & 15) | (addr >> 48)) && addr;
}

/* Any insert: a big block, sampled mode's filter, a shard that must grow. */
__attribute__((noinline)) static int
insert_slow(uintptr_t addr, uint64_t size, uint32_t site, uint32_t period,
            struct lk_live_info *replaced)
{
    uint64_t a = addr >> 4;
    uint64_t h = granule_hash(a);
    struct shard *sh = shard_of(h);
    struct entry e = {a | ((uint64_t)site << ADDR_BITS),
                      size >= BIG_SIZE ? BIG_SIZE : (uint32_t)size, pack_pd(period)};
    if (size >= BIG_SIZE)
        big_put(addr, size);
    if (filter)
        filter_add(a, 1);
    lk_lock(&sh->lock);
    if (!sh->tab || (full(sh) && shard_grow(sh) < 0)) {
        lk_unlock(&sh->lock);
        if (size >= BIG_SIZE)
            big_take(addr);
        if (filter)
            filter_add(a, -1);
        return -ENOMEM;
    }
    struct entry prev;
    size_t mask = sh->cap - 1;
    if (put(sh->tab, mask, home_of(a, h, mask), e, &prev)) {
        lk_unlock(&sh->lock);
        *replaced = info_of(prev); /* a missed big block keeps its (lower-bound) size */
        if (filter)
            filter_add(a, -1); /* one entry for the address, as before */
        return 1;
    }
    sh->used++;
    lk_unlock(&sh->lock);
    return 0;
}

/* The common insert, with nothing to do outside the shard: a size below
 * 4 GiB, no filter, room in the table. As cheap as it can be, since it runs
 * on every allocation (cachegrind: 93 instructions per insert before the
 * split, 0 of them needed for these cases). */
int
lk_live_map_insert(uintptr_t addr, uint64_t size, uint32_t site, uint32_t period,
                   struct lk_live_info *replaced)
{
    if (__builtin_expect(!trackable(addr), 0))
        return -EINVAL;
    if (__builtin_expect(size >= BIG_SIZE || filter != NULL, 0))
        return insert_slow(addr, size, site, period, replaced);
    uint64_t a = addr >> 4;
    uint64_t h = granule_hash(a);
    struct shard *sh = shard_of(h);
    uint64_t key = a | ((uint64_t)site << ADDR_BITS);
    lk_lock(&sh->lock);
    struct entry *tab = sh->tab;
    size_t mask = sh->cap - 1;
    if (__builtin_expect(!tab || full(sh), 0)) {
        lk_unlock(&sh->lock);
        return insert_slow(addr, size, site, period, replaced);
    }
    struct entry prev;
    if (put(tab, mask, home_of(a, h, mask), (struct entry){key, (uint32_t)size, pack_pd(period)}, &prev)) {
        lk_unlock(&sh->lock);
        *replaced = info_of(prev);
        return 1;
    }
    sh->used++;
    lk_unlock(&sh->lock);
    return 0;
}

int
lk_live_map_remove(uintptr_t addr, struct lk_live_info *out)
{
    if (__builtin_expect(!trackable(addr), 0))
        return 0;
    uint64_t a = addr >> 4;
    uint64_t h = granule_hash(a);
    struct shard *sh = shard_of(h);
    const struct entry *hint = home_hint(sh, a, h); /* the slot's miss overlaps */
    if (hint)                                        /* taking the lock         */
        __builtin_prefetch(hint, 1, 3);
    lk_lock(&sh->lock);
    if (!sh->tab) {
        lk_unlock(&sh->lock);
        return 0;
    }
    struct entry *tab = sh->tab;
    size_t mask = sh->cap - 1;
    size_t i = home_of(a, h, mask);
    for (size_t d = 0;; i = (i + 1) & mask, d++) {
        uint64_t k = tab[i].key;
        if (k && (k & ADDR_MASK) == a)
            break;
        if (!k || disp_at(tab, i, mask) < d) {
            lk_unlock(&sh->lock);
            return 0; /* past where a would be: not tracked */
        }
    }
    struct entry e = tab[i];
    /* Backward shift: pull the following entries one slot nearer their
     * homes, up to an empty slot or an entry already at home. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; tab[j].key; j = (j + 1) & mask) {
        struct entry m = tab[j];
        uint32_t dj = m.pd & DISP_MASK;
        if (!dj)
            break;
        if (__builtin_expect(dj < DISP_MAX, 1))
            m.pd--;
        else
            set_disp(&m, disp_at(tab, j, mask) - 1);
        tab[hole] = m;
        hole = j;
    }
    tab[hole].key = 0;
    sh->used--;
    lk_unlock(&sh->lock);
    if (__builtin_expect(filter != NULL, 0))
        filter_add(a, -1);
    *out = info_of(e);
    if (__builtin_expect(e.size == BIG_SIZE, 0))
        out->size = big_take(addr);
    return 1;
}

/* Sums the shards under their locks: tests and benchmarks only. A global
 * atomic count cost two atomic operations per malloc+free pair on one cache
 * line shared by every thread. */
size_t
lk_live_map_count(void)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        lk_lock(&shards[i].lock);
        n += shards[i].used;
        lk_unlock(&shards[i].lock);
    }
    return n;
}

size_t
lk_live_map_count_locked(void)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++)
        n += shards[i].used;
    return n;
}

size_t
lk_live_map_bytes(void)
{
    size_t b = 0;
    for (int i = 0; i < NSHARDS; i++)
        b += shards[i].cap * sizeof(struct entry);
    return b;
}

int
lk_live_map_foreach(void (*fn)(uintptr_t, const struct lk_live_info *, void *), void *ctx)
{
    int skipped = 0;
    for (int s = 0; s < NSHARDS; s++) {
        struct shard *sh = &shards[s];
        if (!lk_lock_try(&sh->lock, 1000)) {
            skipped++;
            continue;
        }
        for (size_t i = 0; sh->used && i < sh->cap; i++) { /* an empty shard is not read */
            struct entry e = sh->tab[i];
            if (!e.key)
                continue;
            uintptr_t addr = (uintptr_t)((e.key & ADDR_MASK) << 4);
            struct lk_live_info info = info_of(e);
            fn(addr, &info, ctx);
        }
        lk_unlock(&sh->lock);
    }
    return skipped;
}

void
lk_live_map_lock_all(void)
{
    for (int i = 0; i < NSHARDS; i++)
        lk_lock(&shards[i].lock);
    lk_lock(&big_lock);
}

void
lk_live_map_unlock_all(void)
{
    lk_unlock(&big_lock);
    for (int i = NSHARDS - 1; i >= 0; i--)
        lk_unlock(&shards[i].lock);
}

void
lk_live_map_reset_locks(void)
{
    for (int i = 0; i < NSHARDS; i++)
        lk_lock_reset(&shards[i].lock);
    lk_lock_reset(&big_lock);
}

int
lk_live_map_try_lock_all(int tries)
{
    for (int i = 0; i < NSHARDS; i++)
        if (!lk_lock_try(&shards[i].lock, tries)) {
            while (i-- > 0)
                lk_unlock(&shards[i].lock);
            return 0;
        }
    if (!lk_lock_try(&big_lock, tries)) {
        for (int i = NSHARDS - 1; i >= 0; i--)
            lk_unlock(&shards[i].lock);
        return 0;
    }
    return 1;
}
