/* Per-thread batches of site counts: threads allocate and free on more
 * sites and cohorts than a batch has slots (so slots are taken over) while
 * a collector collects the whole time; what it reads never runs ahead of
 * what the threads did, and once the threads have exited one collection
 * gives every site's exact counts, bytes and size classes. Short-lived
 * threads in turn check that an exited thread's counts are not lost. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "agent/site_batch.h"

#define NSITES 100
#define NTHREADS 4
#define OPS 200000

static struct lk_site *sites[NSITES];
static _Atomic uint64_t issued_allocs; /* counted before each batched allocation */
static atomic_int done;

struct expect {
    uint64_t born[NSITES][LK_COHORTS], born_bytes[NSITES][LK_COHORTS];
    uint64_t died[NSITES][LK_COHORTS], died_bytes[NSITES][LK_COHORTS];
    uint64_t hist[NSITES][LK_SIZE_CLASSES];
};
static struct expect want[NTHREADS + 1];

static void
make_sites(void)
{
    static int made;
    if (made)
        return;
    assert_int_equal(lk_site_table_init(), 0);
    for (int i = 0; i < NSITES; i++) {
        uintptr_t frames[2] = {0x500000u + (uintptr_t)i * 64, 0x600000u};
        sites[i] = lk_site_intern(frames, 2, LK_KIND_HEAP);
        assert_non_null(sites[i]);
    }
    made = 1;
}

/* One thread's operations: allocations and frees over the sites, periods
 * spread over many cohorts, sizes over many classes. */
static void
run_ops(struct expect *e, uint64_t seed, int ops)
{
    uint64_t r = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < ops; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        unsigned si = (unsigned)(r % NSITES);
        uint32_t period = (uint32_t)((r >> 8) % 5000);
        uint64_t size = (r >> 24) % 3000;
        unsigned k = lk_cohort_of(period);
        if ((r >> 40) % 3) {
            atomic_fetch_add(&issued_allocs, 1);
            lk_site_batch_alloc(sites[si], size, period, 1, size);
            e->born[si][k]++;
            e->born_bytes[si][k] += size;
            e->hist[si][lk_size_class(size)]++;
        } else {
            lk_site_batch_free(sites[si], period, 1, size);
            e->died[si][k]++;
            e->died_bytes[si][k] += size;
        }
    }
}

static void *
worker(void *arg)
{
    int t = (int)(uintptr_t)arg;
    run_ops(&want[t], (uint64_t)t + 1, OPS);
    return NULL;
}

static uint64_t
collected_born(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NSITES; i++)
        for (unsigned k = 0; k < LK_COHORTS; k++)
            n += atomic_load(&lk_site_ctr(sites[i])->c[k].born);
    return n;
}

static void *
collector(void *arg)
{
    (void)arg;
    uint64_t last = 0;
    long *violations = calloc(1, sizeof *violations);
    while (!atomic_load(&done)) {
        lk_site_batch_collect();
        uint64_t n = collected_born();
        /* never behind the previous reading, never ahead of the threads */
        if (n < last || n > atomic_load(&issued_allocs))
            ++*violations;
        last = n;
    }
    return violations;
}

static void
check_exact(void)
{
    lk_site_batch_collect();
    for (int i = 0; i < NSITES; i++) {
        for (unsigned k = 0; k < LK_COHORTS; k++) {
            uint64_t b = 0, bb = 0, d = 0, db = 0;
            for (int t = 0; t <= NTHREADS; t++) {
                b += want[t].born[i][k];
                bb += want[t].born_bytes[i][k];
                d += want[t].died[i][k];
                db += want[t].died_bytes[i][k];
            }
            assert_int_equal(atomic_load(&lk_site_ctr(sites[i])->c[k].born), b);
            assert_int_equal(atomic_load(&lk_site_ctr(sites[i])->c[k].born_bytes), bb);
            assert_int_equal(atomic_load(&lk_site_ctr(sites[i])->c[k].died), d);
            assert_int_equal(atomic_load(&lk_site_ctr(sites[i])->c[k].died_bytes), db);
        }
        for (unsigned c = 0; c < LK_SIZE_CLASSES; c++) {
            uint64_t h = 0;
            for (int t = 0; t <= NTHREADS; t++)
                h += want[t].hist[i][c];
            assert_int_equal(atomic_load(&lk_site_ctr(sites[i])->hist[c]), h);
        }
    }
}

static void
test_threads_and_collector(void **state)
{
    (void)state;
    make_sites();
    assert_int_equal(lk_site_batch_init(), 0);
    pthread_t t[NTHREADS], col;
    pthread_create(&col, NULL, collector, NULL);
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&done, 1);
    void *v;
    pthread_join(col, &v);
    assert_int_equal(*(long *)v, 0);
    free(v);
    /* this thread's own batch too (it has none yet: its counts go in later) */
    check_exact();
}

static void *
short_lived(void *arg)
{
    run_ops(&want[NTHREADS], (uint64_t)(uintptr_t)arg + 100, 500);
    return NULL;
}

static void
test_exited_threads(void **state)
{
    (void)state;
    make_sites();
    /* 200 threads one after another: each batch is collected after its
     * thread exited, then reused by a later thread */
    for (int i = 0; i < 200; i++) {
        pthread_t t;
        pthread_create(&t, NULL, short_lived, (void *)(uintptr_t)i);
        pthread_join(t, NULL);
        if (i % 10 == 0)
            lk_site_batch_collect();
    }
    /* the main thread's own batch, collected while it is idle */
    run_ops(&want[NTHREADS], 7, 1000);
    check_exact();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_collector),
        cmocka_unit_test(test_exited_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
