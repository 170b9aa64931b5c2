/* Live map: a reference-model test (random inserts and removes applied to the
 * map and to a naive array, compared after every step) and a concurrency test
 * (threads inserting and removing their own and each other's blocks), and
 * sampled mode's counting filter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "agent/live_map.h"

#define NMODEL 20000

struct model_entry {
    uintptr_t addr;
    uint64_t size;
    uint32_t site, period;
    int live;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
test_reference_model(void **state)
{
    (void)state;
    static struct model_entry m[NMODEL];
    assert_int_equal(lk_live_map_init(0), 0);
    size_t base_count = lk_live_map_count();
    size_t live = 0;
    for (int i = 0; i < NMODEL; i++) {
        /* distinct 16-byte aligned addresses spread over a 40-bit range */
        m[i].addr = (uintptr_t)(0x10000000000ull + (uint64_t)i * 16 * 7919 % (1ull << 40)) & ~15ull;
        m[i].addr += (uintptr_t)i * 16; /* keep them unique */
    }
    for (int step = 0; step < 400000; step++) {
        int i = (int)(next_rand() % NMODEL);
        struct lk_live_info info, old;
        if (!m[i].live) {
            m[i].size = next_rand() % 5000;
            if (step % 1000 == 0)
                m[i].size = (5ull << 30) + (uint64_t)i; /* >= 4 GiB: overflow table */
            m[i].site = (uint32_t)(next_rand() % ((1u << 20) - 1)) + 1;
            m[i].period = (uint32_t)(step / 1000);
            assert_int_equal(lk_live_map_insert(m[i].addr, m[i].size, m[i].site, m[i].period, &old), 0);
            m[i].live = 1;
            live++;
        } else {
            assert_int_equal(lk_live_map_remove(m[i].addr, &info), 1);
            assert_int_equal(info.site, m[i].site);
            assert_int_equal(info.period, m[i].period);
            assert_int_equal(info.size, m[i].size);
            m[i].live = 0;
            live--;
            /* a second remove finds nothing */
            assert_int_equal(lk_live_map_remove(m[i].addr, &info), 0);
        }
        assert_int_equal(lk_live_map_count() - base_count, live);
    }
    /* every entry the model holds is found; nothing else is */
    for (int i = 0; i < NMODEL; i++) {
        struct lk_live_info info;
        int found = lk_live_map_remove(m[i].addr, &info);
        assert_int_equal(found, m[i].live);
        if (found)
            assert_int_equal(info.size, m[i].size);
    }
    assert_int_equal(lk_live_map_count(), base_count);
}

/* 200k blocks 16 bytes apart: every granule's 64 home slots are full, so
 * clusters run long and every shard grows several times. Every entry must
 * come back with what was put in (periods past 2^24 - 1 capped there),
 * removals in random order must leave the others findable, and addresses
 * never inserted must not be found. */
#define NDENSE 200000
static void
test_dense_growth(void **state)
{
    (void)state;
    static uint32_t order[NDENSE];
    static unsigned char live[NDENSE];
    const uintptr_t base = 0x200000000000ull;
    struct lk_live_info info, old;
    assert_int_equal(lk_live_map_init(0), 0);
    size_t before = lk_live_map_count();
    for (uint32_t i = 0; i < NDENSE; i++) {
        uint32_t period = i % 2 ? i : 0x80000000u + i;
        assert_int_equal(lk_live_map_insert(base + (uintptr_t)i * 16, i, i % 1000 + 1, period, &old), 0);
        live[i] = 1;
        order[i] = i;
    }
    assert_int_equal(lk_live_map_count() - before, NDENSE);
    for (uint32_t i = NDENSE - 1; i > 0; i--) { /* shuffle */
        uint32_t j = (uint32_t)(next_rand() % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < NDENSE; k++) {
            uint32_t i = order[k];
            if ((pass == 0 && k % 2) || !live[i])
                continue; /* first pass: half of them, the others stay */
            assert_int_equal(lk_live_map_remove(base + (uintptr_t)i * 16, &info), 1);
            assert_int_equal(info.size, i);
            assert_int_equal(info.site, i % 1000 + 1);
            assert_int_equal(info.period, i % 2 ? i : (1u << 24) - 1);
            live[i] = 0;
        }
        for (uint32_t i = 0; i < NDENSE; i += 997) /* the survivors are all there */
            if (live[i]) {
                assert_int_equal(lk_live_map_remove(base + (uintptr_t)i * 16, &info), 1);
                assert_int_equal(lk_live_map_insert(base + (uintptr_t)i * 16, info.size, info.site,
                                                    info.period, &old), 0);
            }
        assert_int_equal(lk_live_map_remove(base - 16, &info), 0);
        assert_int_equal(lk_live_map_remove(base + (uintptr_t)NDENSE * 16, &info), 0);
    }
    assert_int_equal(lk_live_map_count(), before);
}

static void
test_untrackable_and_replace(void **state)
{
    (void)state;
    struct lk_live_info old, info;
    assert_int_equal(lk_live_map_init(0), 0);
    assert_int_equal(lk_live_map_insert(0x1008, 10, 1, 0, &old), -22);            /* misaligned */
    assert_int_equal(lk_live_map_insert(1ull << 50, 10, 1, 0, &old), -22);        /* too high */
    assert_int_equal(lk_live_map_insert(0, 10, 1, 0, &old), -22);                 /* NULL */
    assert_int_equal(lk_live_map_insert(0x7000, 10, 5, 3, &old), 0);
    assert_int_equal(lk_live_map_insert(0x7000, 20, 6, 4, &old), 1);              /* missed free */
    assert_int_equal(old.site, 5);
    assert_int_equal(old.size, 10);
    assert_int_equal(lk_live_map_remove(0x7000, &info), 1);
    assert_int_equal(info.site, 6);
    assert_int_equal(info.size, 20);
}

#define NTHREADS 4
#define PER_THREAD 50000

static uintptr_t shared_blocks[NTHREADS][PER_THREAD];

static void *
worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct lk_live_info info, old;
    uintptr_t base = 0x100000000ull * (uintptr_t)(t + 1);
    /* own blocks: insert, then free half of them */
    for (int i = 0; i < PER_THREAD; i++) {
        shared_blocks[t][i] = base + (uintptr_t)i * 32;
        if (lk_live_map_insert(shared_blocks[t][i], (uint64_t)i, (uint32_t)t + 1, 0, &old) != 0)
            return (void *)1;
    }
    for (int i = 0; i < PER_THREAD; i += 2)
        if (lk_live_map_remove(shared_blocks[t][i], &info) != 1 || info.size != (uint64_t)i)
            return (void *)2;
    return NULL;
}

static void *
cross_freer(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct lk_live_info info;
    int o = (t + 1) % NTHREADS; /* free the other thread's odd blocks */
    for (int i = 1; i < PER_THREAD; i += 2)
        if (lk_live_map_remove(shared_blocks[o][i], &info) != 1 || info.site != (uint32_t)o + 1)
            return (void *)3;
    return NULL;
}

static void
test_concurrent(void **state)
{
    (void)state;
    pthread_t th[NTHREADS];
    void *ret;
    assert_int_equal(lk_live_map_init(0), 0);
    size_t before = lk_live_map_count();
    for (int t = 0; t < NTHREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    assert_int_equal(lk_live_map_count() - before, NTHREADS * PER_THREAD / 2);
    for (int t = 0; t < NTHREADS; t++)
        pthread_create(&th[t], NULL, cross_freer, (void *)(intptr_t)t);
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    assert_int_equal(lk_live_map_count(), before);
}

/* Sampled mode's counting filter: one byte per 4 KiB page (modulo 2^16
 * pages), never 0 while a block of that page is in the map, 0 again once the
 * last one left, and "maybe" for good once saturated. Runs last: with the
 * filter on, every insert takes the slow path. */
static void
test_filter(void **state)
{
    (void)state;
    struct lk_live_info old, info;
    const uintptr_t a = 0x10000010, alias = a + (256ull << 20), sat = 0x20000000;
    assert_int_equal(lk_live_map_init(1), 0);
    assert_false(lk_live_map_maybe(a));
    assert_int_equal(lk_live_map_insert(a, 8, 1, 0, &old), 0);
    assert_int_equal(lk_live_map_insert(a + 0x20, 8, 1, 0, &old), 0);
    assert_true(lk_live_map_maybe(a));
    assert_true(lk_live_map_maybe(a + 0x100)); /* same page */
    assert_true(lk_live_map_maybe(alias));     /* 2^16 pages further: same byte */
    assert_false(lk_live_map_maybe(a + 4096)); /* the next page */
    assert_int_equal(lk_live_map_remove(a, &info), 1);
    assert_true(lk_live_map_maybe(a + 0x20));
    assert_int_equal(lk_live_map_remove(a + 0x20, &info), 1);
    assert_false(lk_live_map_maybe(a));
    /* 300 blocks on one page and its aliases: the byte saturates at 255 */
    for (int i = 0; i < 300; i++)
        assert_int_equal(lk_live_map_insert(sat + (uintptr_t)(i / 200) * (256ull << 20) +
                                                (uintptr_t)(i % 200) * 16 + 16,
                                            8, 1, 0, &old),
                         0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(lk_live_map_remove(sat + (uintptr_t)(i / 200) * (256ull << 20) +
                                                (uintptr_t)(i % 200) * 16 + 16,
                                            &info),
                         1);
    assert_true(lk_live_map_maybe(sat)); /* saturated: stays "maybe" */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrackable_and_replace),
        cmocka_unit_test(test_reference_model),
        cmocka_unit_test(test_dense_growth),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
