/* Site table: interning is idempotent and distinguishes stacks and kinds
 * (checked against a naive list of the stacks seen), ids are dense, and
 * threads interning the same stacks at once agree on their ids. Accounting
 * updates live bytes, cohorts and size classes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "agent/site_table.h"

#define NSTACKS 3000

static uintptr_t stacks[NSTACKS][8];
static size_t depths[NSTACKS];

static void
make_stacks(void)
{
    for (int i = 0; i < NSTACKS; i++) {
        depths[i] = 1 + (size_t)(i % 8);
        for (size_t d = 0; d < depths[i]; d++)
            stacks[i][d] = 0x400000u + (uintptr_t)(i * 131 + (int)d * 7);
    }
}

static void
test_reference_model(void **state)
{
    (void)state;
    static struct lk_site *seen[NSTACKS];
    assert_int_equal(lk_site_table_init(), 0);
    make_stacks();
    uint32_t before = lk_site_count();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < NSTACKS; i++) {
            struct lk_site *s = lk_site_intern(stacks[i], depths[i], LK_KIND_HEAP);
            assert_non_null(s);
            if (round == 0) {
                seen[i] = s;
                assert_int_equal(s->id, before + (uint32_t)i + 1); /* dense ids */
            }
            assert_ptr_equal(s, seen[i]);
            assert_ptr_equal(lk_site_get(s->id), s);
            assert_int_equal(s->depth, depths[i]);
            assert_memory_equal(s->frames, stacks[i], depths[i] * sizeof(uintptr_t));
        }
    assert_int_equal(lk_site_count() - before, NSTACKS);
    /* same frames, other kind: another site; a prefix: another site */
    struct lk_site *m = lk_site_intern(stacks[7], depths[7], LK_KIND_MMAP);
    assert_ptr_not_equal(m, seen[7]);
    struct lk_site *p = lk_site_intern(stacks[7], depths[7] - 1, LK_KIND_HEAP);
    assert_ptr_not_equal(p, seen[7]);
    assert_null(lk_site_get(0));
    /* a guess is the answer only when it has these very frames and kind:
     * right, of another stack, of a prefix, of the same frames' other kind,
     * none -- each gives the site the table gives */
    for (int i = 0; i < NSTACKS; i++) {
        const struct lk_site *guesses[] = {seen[i], seen[(i + 1) % NSTACKS], p, m, NULL};
        for (size_t g = 0; g < sizeof guesses / sizeof guesses[0]; g++)
            assert_ptr_equal(lk_site_intern_guess(stacks[i], NULL, depths[i], 0, LK_KIND_HEAP,
                                                  guesses[g]),
                             seen[i]);
    }
    assert_ptr_equal(lk_site_intern_guess(stacks[7], NULL, depths[7], 0, LK_KIND_MMAP, seen[7]), m);
    assert_ptr_equal(lk_site_intern_guess(stacks[7], NULL, depths[7] - 1, 0, LK_KIND_HEAP, seen[7]),
                     p);
    assert_int_equal(seen[7]->flags, 0); /* made without stack pointers: no sizes */
    /* a new stack with a wrong guess: a new site, which keeps its walk's
     * frame sizes when each fits 16 bits, and whether it was complete */
    uintptr_t fresh[3] = {0x7777000, 0x7777100, 0x7777200};
    uintptr_t sps[3] = {0x7ff000001000, 0x7ff000001040, 0x7ff000011038};
    uint32_t n_before = lk_site_count();
    struct lk_site *f = lk_site_intern_guess(fresh, sps, 3, 1, LK_KIND_HEAP, seen[3]);
    assert_int_equal(f->id, n_before + 1);
    assert_null(atomic_load(&f->next));
    assert_int_equal(f->flags, LK_SITE_SIZES | LK_SITE_COMPLETE);
    assert_int_equal(lk_site_sizes(f)[0], 0x40);
    assert_int_equal(lk_site_sizes(f)[1], 0xfff8);
    assert_memory_equal(f->frames, fresh, sizeof fresh);
    fresh[0]++;
    sps[2] += 0x10; /* a frame of 64 KiB: no sizes */
    f = lk_site_intern_guess(fresh, sps, 3, 0, LK_KIND_HEAP, NULL);
    assert_int_equal(f->flags, 0);
    fresh[0]++;
    sps[2] = sps[1] - 8; /* going down (another stack): no sizes */
    f = lk_site_intern_guess(fresh, sps, 3, 0, LK_KIND_HEAP, NULL);
    assert_int_equal(f->flags, 0);
    assert_null(lk_site_get(lk_site_count() + 1));
}

static void
test_accounting(void **state)
{
    (void)state;
    uintptr_t st[2] = {0xabc000, 0xdef000};
    struct lk_site *s = lk_site_intern(st, 2, LK_KIND_HEAP);
    struct lk_site_stats r;
    assert_non_null(s);
    lk_site_on_alloc(s, 100, 0);
    lk_site_on_alloc(s, 4096, 5);
    lk_site_on_alloc(s, 4096, 5);
    lk_site_on_free(s, 4096, 5);
    lk_site_read(s, LK_COHORTS, &r);
    lk_site_read_hist(s, &r);
    assert_int_equal(r.f[LK_SITE_LIVE_BYTES], 4196);
    assert_int_equal(r.f[LK_SITE_LIVE_COUNT], 2);
    assert_int_equal(r.f[LK_SITE_ALLOCS], 3);
    assert_int_equal(r.f[LK_SITE_FREES], 1);
    assert_int_equal(r.f[LK_SITE_ALLOC_BYTES], 8292);
    assert_int_equal(r.born[0], 1);
    assert_int_equal(r.born[lk_cohort_of(5)], 2);
    assert_int_equal(r.live_count[lk_cohort_of(5)], 1);
    assert_int_equal(r.live_bytes[lk_cohort_of(5)], 4096);
    assert_int_equal(r.live_bytes[0], 100);
    assert_int_equal(r.hist[lk_size_class(4096)], 2);
    assert_int_equal(r.hist[lk_size_class(100)], 1);
    /* the snapshot's bound: while the period is at most 5, no cohort past
     * lk_site_cohorts(5) can count, and reading fewer sees only those */
    struct lk_site_stats b;
    memset(&b, 0xff, sizeof b);
    lk_site_read(s, lk_site_cohorts(5), &b);
    assert_memory_equal(b.f, r.f, sizeof r.f);
    assert_memory_equal(b.born, r.born, sizeof r.born);
    assert_memory_equal(b.live_bytes, r.live_bytes, sizeof r.live_bytes);
    lk_site_read(s, 1, &b);
    assert_int_equal(b.f[LK_SITE_LIVE_BYTES], 100);
    assert_int_equal(b.f[LK_SITE_ALLOCS], 1);
    assert_int_equal(b.born[lk_cohort_of(5)], 0);
    /* a mapping unmapped in part: bytes go, the block stays */
    lk_site_on_shrink(s, 96, 0);
    lk_site_read(s, LK_COHORTS, &r);
    assert_int_equal(r.f[LK_SITE_LIVE_BYTES], 4100);
    assert_int_equal(r.f[LK_SITE_LIVE_COUNT], 2);
    assert_int_equal(r.live_bytes[0], 4);
    struct lk_site *m = lk_site_intern(st, 2, LK_KIND_MMAP);
    assert_true(lk_site_is_mmap(m->id));
    assert_false(lk_site_is_mmap(s->id));
}

static void
test_cohort_buckets(void **state)
{
    (void)state;
    assert_int_equal(lk_cohort_of(0), 0);
    assert_int_equal(lk_cohort_of(1), 1);
    assert_int_equal(lk_cohort_of(2), 1);
    assert_int_equal(lk_cohort_of(3), 2);
    assert_int_equal(lk_cohort_of(6), 2);
    assert_int_equal(lk_cohort_of(7), 3);
    assert_int_equal(lk_cohort_start(3), 7);
    assert_int_equal(lk_cohort_of(~0u), LK_COHORTS - 1);
    assert_int_equal(lk_size_class(0), 0);
    assert_int_equal(lk_size_class(1), 0);
    assert_int_equal(lk_size_class(2), 1);
    assert_int_equal(lk_size_class(4095), 11);
    assert_int_equal(lk_size_class(4096), 12);
    assert_int_equal(lk_size_class(1ull << 40), LK_SIZE_CLASSES - 1);
}

#define NTHREADS 4
static struct lk_site *results[NTHREADS][NSTACKS];

static void *
interner(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int k = 0; k < NSTACKS; k++) {
        int i = (t & 1) ? NSTACKS - 1 - k : k; /* opposite orders collide more */
        uintptr_t st[3] = {0x900000u + (uintptr_t)i, 0x77, (uintptr_t)t % 1};
        results[t][i] = lk_site_intern(st, 3, LK_KIND_HEAP);
        lk_site_on_alloc(results[t][i], 8, 0);
        if (i % 2)
            lk_site_on_free(results[t][i], 8, 0);
    }
    return NULL;
}

static void
test_concurrent(void **state)
{
    (void)state;
    pthread_t th[NTHREADS];
    uint32_t before = lk_site_count();
    for (int t = 0; t < NTHREADS; t++)
        pthread_create(&th[t], NULL, interner, (void *)(intptr_t)t);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(lk_site_count() - before, NSTACKS);
    for (int i = 0; i < NSTACKS; i++) {
        assert_non_null(results[0][i]);
        for (int t = 1; t < NTHREADS; t++)
            assert_ptr_equal(results[t][i], results[0][i]);
        struct lk_site_stats r;
        lk_site_read(results[0][i], lk_site_cohorts(0), &r);
        assert_int_equal(r.f[LK_SITE_ALLOCS], NTHREADS);
        assert_int_equal(r.f[LK_SITE_LIVE_COUNT], i % 2 ? 0 : NTHREADS);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cohort_buckets),
        cmocka_unit_test(test_reference_model),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
