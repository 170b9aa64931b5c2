/* Block tags (block_tag.h): the 8-byte tag at the end of a tracked heap
 * block's usable space, and the start map of tagged blocks (a byte per 16
 * bytes of address space). Sits between
 * the interposers (which ask glibc for LK_TAG_BYTES more) and the site
 * counters: the allocation writes the tag and sets the bit, the free clears
 * the bit and reads the tag. Relies on glibc's chunk header (the size word
 * before the block, whose bit 1 marks an mmapped chunk), which is what
 * glibc's own malloc_usable_size reads. No locks, no allocation: the
 * start map's directory and 64 MiB leaves (one per GiB of address space,
 * resident only where touched) come from lk_sys_mmap, a leaf published
 * with a compare-and-swap. The walks use
 * raw system calls only, so the scanner's copy may call lk_block_tag_foreach. */
#include "block_tag.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "sys.h"

#define LEAF_SHIFT LK_TAG_LEAF_SHIFT
#define DIR_ENTRIES (1u << (48 - LEAF_SHIFT))      /* addresses below 2^48 */
#define LEAF_BYTES ((size_t)1 << (LEAF_SHIFT - 4)) /* a byte per 16 bytes: 64 MiB */
#define PAGE 4096u
#define CHUNK_PAGES 256u /* pages of a leaf per mincore call */

_Atomic(_Atomic uint8_t *) *lk_block_tag_dir;

/* The directory indexes of the leaves made, in the order they were made,
 * so that a walk visits them without reading the 2 MiB directory (262,144
 * entries, mostly never touched: each untouched page of it read is a
 * fault on the zero page). A leaf covers 1 GiB: a process rarely has more
 * than a few. Past LEAVES_LISTED, walks read the directory. */
#define LEAVES_LISTED 64
static _Atomic uint32_t leaves[LEAVES_LISTED];
static _Atomic unsigned nleaves; /* leaves made; may exceed LEAVES_LISTED */

static inline _Atomic uint8_t *
leaf_of(uintptr_t a)
{
    return lk_block_tag_leaf(lk_block_tag_dir, a);
}

__attribute__((cold)) _Atomic uint8_t *
lk_block_tag_leaf_make(uintptr_t a)
{
    if (!lk_block_tag_dir)
        return NULL;
    _Atomic uint8_t *l = lk_sys_mmap(LEAF_BYTES);
    if (!l)
        return NULL;
    _Atomic uint8_t *none = NULL;
    if (atomic_compare_exchange_strong_explicit(&lk_block_tag_dir[a >> LEAF_SHIFT], &none, l,
                                                memory_order_acq_rel, memory_order_acquire)) {
        /* the slot is claimed first and filled after: a walk that sees the
         * count before the index reads a 0 and checks that leaf (empty
         * or not) for nothing */
        unsigned k = atomic_fetch_add_explicit(&nleaves, 1, memory_order_acq_rel);
        if (k < LEAVES_LISTED)
            atomic_store_explicit(&leaves[k], (uint32_t)(a >> LEAF_SHIFT), memory_order_release);
        return l;
    }
    lk_sys_munmap((void *)l, LEAF_BYTES); /* another thread published one first */
    return none;
}

int
lk_block_tag_init(void)
{
    if (lk_block_tag_dir)
        return 0;
    void *d = lk_sys_mmap(DIR_ENTRIES * sizeof *lk_block_tag_dir);
    if (!d)
        return -ENOMEM;
    lk_block_tag_dir = d;
    return 0;
}

int
lk_block_tag_ready(void)
{
    return lk_block_tag_dir != NULL;
}

/* The start byte of address a, NULL when no leaf covers it (nothing there
 * was ever tagged) or a cannot be a block start. */
static inline _Atomic uint8_t *
start_byte(uintptr_t a)
{
    if (!lk_block_tag_dir || (a & 15) || (a >> 48))
        return NULL;
    _Atomic uint8_t *l = leaf_of(a);
    return l ? &l[lk_block_tag_slot(a)] : NULL;
}

int
lk_block_tag_has(const void *p)
{
    _Atomic uint8_t *sb = start_byte((uintptr_t)p);
    return sb && atomic_load_explicit(sb, memory_order_relaxed) != 0;
}

size_t
lk_block_tag_usable(const void *p, size_t glibc_usable)
{
    struct lk_live_info li;
    uintptr_t a = (uintptr_t)p;
    if (!lk_block_tag_has(p))
        return glibc_usable;
    /* A start byte left by a free the agent did not see: the block there
     * now has no tag, and all of it is the program's. */
    if (lk_block_tag_chunk_usable(((const uint64_t *)a)[-1]) != glibc_usable ||
        !lk_block_tag_read(a, &li))
        return glibc_usable;
    return glibc_usable - LK_TAG_BYTES;
}

/* ---- walks ---------------------------------------------------------------- */

/* Calls page(first, base, ctx) for each resident page of every leaf, in
 * address order: first is the page's first byte of the start map, base the
 * address its first byte stands for. Stops when page returns non-zero (and
 * returns that). mincore with raw system calls: the scanner's copy may
 * walk. */
/* Calls page(first, base, ctx) for each resident page of leaf i. */
static int
leaf_pages(size_t i, int (*page)(const _Atomic uint8_t *first, uintptr_t base, void *ctx),
           void *ctx)
{
    unsigned char vec[CHUNK_PAGES];
    _Atomic uint8_t *l = leaf_of((uintptr_t)i << LEAF_SHIFT);
    if (!l)
        return 0;
    for (size_t pg0 = 0; pg0 < LEAF_BYTES / PAGE; pg0 += CHUNK_PAGES) {
        if (lk_sys_call6(SYS_mincore, (long)((char *)l + pg0 * PAGE), CHUNK_PAGES * PAGE,
                         (long)vec, 0, 0, 0) < 0)
            continue;
        for (size_t pg = 0; pg < CHUNK_PAGES; pg++) {
            if (!(vec[pg] & 1))
                continue; /* never touched: no block starts there */
            size_t off = (pg0 + pg) * PAGE;
            int r = page(l + off, ((uintptr_t)i << LEAF_SHIFT) | ((uintptr_t)off << 4), ctx);
            if (r)
                return r;
        }
    }
    return 0;
}

static int
each_page(int (*page)(const _Atomic uint8_t *first, uintptr_t base, void *ctx), void *ctx)
{
    if (!lk_block_tag_dir)
        return 0;
    unsigned n = atomic_load_explicit(&nleaves, memory_order_acquire);
    if (n > LEAVES_LISTED) {
        for (size_t i = 0; i < DIR_ENTRIES; i++) {
            int r = leaf_pages(i, page, ctx);
            if (r)
                return r;
        }
        return 0;
    }
    uint32_t idx[LEAVES_LISTED];
    for (unsigned k = 0; k < n; k++) { /* in address order: an insertion sort of a few */
        uint32_t v = atomic_load_explicit(&leaves[k], memory_order_acquire);
        unsigned j = k;
        for (; j > 0 && idx[j - 1] > v; j--)
            idx[j] = idx[j - 1];
        idx[j] = v;
    }
    for (unsigned k = 0; k < n; k++) {
        if (k && idx[k] == idx[k - 1])
            continue;
        int r = leaf_pages(idx[k], page, ctx);
        if (r)
            return r;
    }
    return 0;
}

struct starts {
    int (*visit)(uintptr_t a, void *ctx);
    void *ctx;
};

static int
page_starts(const _Atomic uint8_t *first, uintptr_t base, void *ctx)
{
    const struct starts *st = ctx;
    const _Atomic uint64_t *w = (const _Atomic uint64_t *)first;
    for (size_t k = 0; k < PAGE / 8; k++) {
        uint64_t bytes = atomic_load_explicit(&w[k], memory_order_acquire);
        while (bytes) {
            unsigned bit = (unsigned)__builtin_ctzll(bytes);
            bytes &= ~(0xffull << (bit & ~7u));
            int r = st->visit(base + ((uintptr_t)(k * 8 + bit / 8) << 4), st->ctx);
            if (r)
                return r;
        }
    }
    return 0;
}

/* Calls visit(a, ctx) for each tagged block start, in address order; stops
 * early when visit returns non-zero (and returns that). */
static int
walk_starts(int (*visit)(uintptr_t a, void *ctx), void *ctx)
{
    struct starts st = {visit, ctx};
    return each_page(page_starts, &st);
}

struct each {
    void (*fn)(uintptr_t, const struct lk_live_info *, void *);
    void *ctx;
    size_t bad;
    /* foreach_live's batch */
    size_t n;
    uintptr_t addr[256];
};

static int
visit_direct(uintptr_t a, void *ctx)
{
    struct each *e = ctx;
    struct lk_live_info li;
    if (lk_block_tag_read(a, &li))
        e->fn(a, &li, e->ctx);
    else
        e->bad++;
    return 0;
}

size_t
lk_block_tag_foreach(void (*fn)(uintptr_t, const struct lk_live_info *, void *), void *ctx)
{
    struct each e = {.fn = fn, .ctx = ctx};
    walk_starts(visit_direct, &e);
    return e.bad;
}

/* Reads n 8-byte words at src[i] into dst[i] with process_vm_readv, so that
 * an address that is no longer mapped fails instead of faulting: such a
 * word, and any the kernel did not read, is left as 0. */
static void
read_words(const uintptr_t *src, uint64_t *dst, size_t n)
{
    struct {
        void *base;
        size_t len;
    } local = {dst, n * 8}, remote[256];
    long pid = lk_sys_call6(SYS_getpid, 0, 0, 0, 0, 0, 0);
    for (size_t i = 0; i < n; i++) {
        dst[i] = 0;
        remote[i].base = (void *)src[i];
        remote[i].len = 8;
    }
    size_t done = 0;
    while (done < n) {
        local.base = dst + done;
        local.len = (n - done) * 8;
        long r = lk_sys_call6(SYS_process_vm_readv, pid, (long)&local, 1, (long)&remote[done],
                              (long)(n - done), 0);
        if (r < 0 && r != -EFAULT)
            return; /* not allowed here (seccomp): leave the rest 0 */
        size_t got = r > 0 ? (size_t)r / 8 : 0;
        done += got + 1; /* the word after the ones read failed: skip it */
        if (done <= n)
            dst[done - 1] = 0;
    }
}

/* Reads [from, from + len) into buf with one process_vm_readv: the bytes
 * read (fewer when the range runs into memory that is not mapped). */
static size_t
read_span(uintptr_t from, size_t len, void *buf)
{
    struct {
        void *base;
        size_t len;
    } local = {buf, len}, remote = {(void *)from, len};
    long pid = lk_sys_call6(SYS_getpid, 0, 0, 0, 0, 0, 0);
    long r = lk_sys_call6(SYS_process_vm_readv, pid, (long)&local, 1, (long)&remote, 1, 0);
    return r > 0 ? (size_t)r : 0;
}

/* A batch of tagged block addresses in address order: their headers and
 * tags are copied with one read of the span they cover when it is short
 * (blocks of a busy heap are dense: one system call per 256 blocks), and
 * word by word where that read came up short. A word read per block, with
 * the kernel pinning a page for each, took 15% of jq's run time for its
 * final snapshot's 1.6M blocks. */
#define SPAN_MAX ((size_t)1 << 20)
static uint8_t *span_buf; /* SPAN_MAX bytes, mapped on first use */

static void
flush_live(struct each *e)
{
    uintptr_t at[256];
    uint64_t header[256], tag[256];
    uintptr_t lo = e->addr[0] - 8;
    size_t got = 0;
    if (!span_buf)
        span_buf = lk_sys_mmap(SPAN_MAX);
    if (span_buf) {
        size_t len = e->addr[e->n - 1] + LK_TAG_USABLE_MAX - lo;
        got = read_span(lo, len < SPAN_MAX ? len : SPAN_MAX, span_buf);
    }
    size_t miss = 0;
    for (size_t i = 0; i < e->n; i++) {
        uintptr_t h = e->addr[i] - 8;
        if (h + 8 - lo <= got)
            header[i] = *(const uint64_t *)(span_buf + (h - lo));
        else
            at[miss++] = h;
    }
    if (miss) {
        uint64_t w[256];
        read_words(at, w, miss);
        for (size_t i = 0, k = 0; i < e->n && k < miss; i++)
            if (e->addr[i] - 8 == at[k])
                header[i] = w[k++];
    }
    for (size_t i = 0; i < e->n; i++) {
        size_t usable = lk_block_tag_chunk_usable(header[i]);
        at[i] = usable >= LK_TAG_BYTES && usable <= LK_TAG_USABLE_MAX
                    ? e->addr[i] + usable - LK_TAG_BYTES
                    : 0;
        tag[i] = 0;
        if (at[i] && at[i] + 8 - lo <= got)
            tag[i] = *(const uint64_t *)(span_buf + (at[i] - lo));
        else if (at[i])
            read_words(&at[i], &tag[i], 1);
    }
    for (size_t i = 0; i < e->n; i++) {
        struct lk_live_info li;
        /* Still tagged after the read: most blocks freed meanwhile drop
         * out here. One freed and allocated again at the same address may
         * pair one block's header with another's stale tag, which passes
         * the 8-bit check once in 256: a wrong size in a size class. */
        if (at[i] && lk_block_tag_decode(e->addr[i], header[i], tag[i], &li) &&
            lk_block_tag_has((void *)e->addr[i]))
            e->fn(e->addr[i], &li, e->ctx);
        else
            e->bad++; /* freed meanwhile, or overwritten */
    }
    e->n = 0;
}

static int
visit_live(uintptr_t a, void *ctx)
{
    struct each *e = ctx;
    e->addr[e->n++] = a;
    if (e->n == sizeof e->addr / sizeof e->addr[0])
        flush_live(e);
    return 0;
}

size_t
lk_block_tag_foreach_live(void (*fn)(uintptr_t, const struct lk_live_info *, void *), void *ctx)
{
    struct each e = {.fn = fn, .ctx = ctx};
    walk_starts(visit_live, &e);
    if (e.n)
        flush_live(&e);
    return e.bad;
}

static int
visit_any(uintptr_t a, void *ctx)
{
    (void)a;
    (void)ctx;
    return 1;
}

int
lk_block_tag_empty(void)
{
    return !walk_starts(visit_any, NULL);
}

static int
page_count(const _Atomic uint8_t *first, uintptr_t base, void *ctx)
{
    (void)first;
    (void)base;
    ++*(size_t *)ctx;
    return 0;
}

size_t
lk_block_tag_bytes(void)
{
    size_t pages = 0;
    each_page(page_count, &pages);
    return pages * PAGE;
}
