/* Sharded open-addressing hash map from block address to (site, size,
 * period). An entry packs the address (>> 4: glibc blocks are 16-byte
 * aligned) and the 20-bit site id into one word, the size and the birth
 * period into another. Linear probing with backward-shift deletion, so there
 * are no tombstones and probe lengths stay short under churn. Sizes of 4 GiB
 * and more go to a small overflow table. Tables come from mmap, never
 * malloc; each shard has its own lock (rank LK_RANK_SHARD). */
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

struct entry {
    uint64_t key;    /* (addr >> 4) | site << 44; 0 = empty */
    uint32_t size;   /* requested size, BIG_SIZE: look in the big table */
    uint32_t period; /* birth period */
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
    for (int i = 0; i < NSHARDS; i++) {
        if (shards[i].tab)
            continue;
        shards[i].tab = lk_sys_mmap(INITIAL_CAP * sizeof(struct entry));
        if (!shards[i].tab)
            return -ENOMEM;
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
        size_t j = home_of(a, granule_hash(a), cap - 1);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = e;
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

void
lk_live_map_prefetch(uintptr_t addr)
{
    uint64_t a = addr >> 4;
    uint64_t h = granule_hash(a);
    const struct shard *sh = shard_of(h);
    const struct entry *tab = sh->tab; /* racy read: a hint, never dereferenced here */
    if (tab)
        __builtin_prefetch(&tab[home_of(a, h, sh->cap - 1)], 1, 1);
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
                      size >= BIG_SIZE ? BIG_SIZE : (uint32_t)size, period};
    if (size >= BIG_SIZE)
        big_put(addr, size);
    if (filter)
        filter_add(a, 1);
    lk_lock(&sh->lock);
    if (!sh->tab || ((sh->used + 1) * 4 > sh->cap * 3 && shard_grow(sh) < 0)) {
        lk_unlock(&sh->lock);
        if (size >= BIG_SIZE)
            big_take(addr);
        if (filter)
            filter_add(a, -1);
        return -ENOMEM;
    }
    size_t mask = sh->cap - 1;
    size_t i = home_of(a, h, mask);
    while (sh->tab[i].key) {
        if ((sh->tab[i].key & ADDR_MASK) == a) { /* a block we missed the free of */
            struct entry old = sh->tab[i];
            sh->tab[i] = e;
            lk_unlock(&sh->lock);
            replaced->site = (uint32_t)(old.key >> ADDR_BITS);
            replaced->period = old.period;
            replaced->size = old.size; /* a missed big block keeps its (lower-bound) size */
            if (filter)
                filter_add(a, -1); /* one entry for the address, as before */
            return 1;
        }
        i = (i + 1) & mask;
    }
    sh->tab[i] = e;
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
    if (__builtin_expect(!tab || (sh->used + 1) * 4 > sh->cap * 3, 0)) {
        lk_unlock(&sh->lock);
        return insert_slow(addr, size, site, period, replaced);
    }
    size_t i = home_of(a, h, mask);
    while (tab[i].key) {
        if ((tab[i].key & ADDR_MASK) == a) { /* a block we missed the free of */
            struct entry old = tab[i];
            tab[i] = (struct entry){key, (uint32_t)size, period};
            lk_unlock(&sh->lock);
            replaced->site = (uint32_t)(old.key >> ADDR_BITS);
            replaced->period = old.period;
            replaced->size = old.size;
            return 1;
        }
        i = (i + 1) & mask;
    }
    tab[i] = (struct entry){key, (uint32_t)size, period};
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
    const struct entry *hint = sh->tab; /* racy, a prefetch only: the slot's */
    if (hint)                           /* miss overlaps taking the lock      */
        __builtin_prefetch(&hint[home_of(a, h, sh->cap - 1)], 1, 3);
    lk_lock(&sh->lock);
    if (!sh->tab) {
        lk_unlock(&sh->lock);
        return 0;
    }
    size_t mask = sh->cap - 1;
    size_t i = home_of(a, h, mask);
    for (;; i = (i + 1) & mask) {
        if (!sh->tab[i].key) {
            lk_unlock(&sh->lock);
            return 0;
        }
        if ((sh->tab[i].key & ADDR_MASK) == a)
            break;
    }
    struct entry e = sh->tab[i];
    /* Backward-shift deletion: pull later entries of the cluster into the hole
     * when their home slot is not between the hole and their position. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; sh->tab[j].key; j = (j + 1) & mask) {
        uint64_t ja = sh->tab[j].key & ADDR_MASK;
        size_t home = home_of(ja, granule_hash(ja), mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            sh->tab[hole] = sh->tab[j];
            hole = j;
        }
    }
    sh->tab[hole].key = 0;
    sh->used--;
    lk_unlock(&sh->lock);
    if (__builtin_expect(filter != NULL, 0))
        filter_add(a, -1);
    out->site = (uint32_t)(e.key >> ADDR_BITS);
    out->period = e.period;
    out->size = __builtin_expect(e.size == BIG_SIZE, 0) ? big_take(addr) : e.size;
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
            struct lk_live_info info = {(uint32_t)(e.key >> ADDR_BITS), e.period, e.size};
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
