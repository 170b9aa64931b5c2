/* Story 2: a search-result cache whose insert takes an explicit expiry,
 * where the organic search path passes EXPIRY_NONE believing it means "the
 * default" (Haskell's Cache.insert' with Nothing). A populator refreshes
 * most of the capitals every 1.5 s with the default expiry and purges
 * what expired, so the cache does free memory all the time -- but never an
 * organic entry. Organic searches hit a hot set of 200 queries (cached
 * after the first) and, one in seven, a query never seen before. Results
 * are allocated by search_run(), from handle_search() (leaks) and from
 * populate() (expires). In-process; runs argv[1] seconds (default 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPIRY_NONE 0.0 /* the entry never expires */
#define DEFAULT_TTL 1.0 /* seconds: what the callers meant */
#define BUCKETS 4096
#define CAPITALS 40

struct hit {
    char title[48];
    double score;
};

struct result {
    size_t n;
    struct hit hits[];
};

struct entry {
    char *key;
    struct result *val;
    double expires; /* monotonic seconds, or EXPIRY_NONE */
    struct entry *next;
};

static struct entry *table[BUCKETS];
static unsigned long organic_inserts, purged;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % BUCKETS;
}

static struct result *
cache_lookup(const char *key, double t)
{
    for (struct entry *e = table[hash(key)]; e; e = e->next)
        if (!strcmp(e->key, key))
            return e->expires == EXPIRY_NONE || e->expires > t ? e->val : NULL;
    return NULL;
}

/* insert'(cache, expiry, key, value): with EXPIRY_NONE the item never
 * expires; the cache's default expiry is ignored. */
static void
cache_insert(const char *key, struct result *val, double expires)
{
    unsigned h = hash(key);
    for (struct entry *e = table[h]; e; e = e->next)
        if (!strcmp(e->key, key)) {
            free(e->val);
            e->val = val;
            e->expires = expires;
            return;
        }
    struct entry *e = malloc(sizeof *e);
    e->key = strdup(key);
    e->val = val;
    e->expires = expires;
    e->next = table[h];
    table[h] = e;
}

static void
cache_purge_expired(double t)
{
    for (unsigned h = 0; h < BUCKETS; h++)
        for (struct entry **pe = &table[h]; *pe;) {
            struct entry *e = *pe;
            if (e->expires != EXPIRY_NONE && e->expires <= t) {
                *pe = e->next;
                free(e->val);
                free(e->key);
                free(e);
                purged++;
            } else {
                pe = &e->next;
            }
        }
}

/* The search itself: scores candidates in a scratch array, keeps the best. */
static struct result *
search_run(const char *query)
{
    size_t cand = 64 + strlen(query) * 4;
    double *scores = malloc(cand * sizeof *scores);
    for (size_t i = 0; i < cand; i++)
        scores[i] = (double)((hash(query) + i * 7919) % 1000);
    size_t n = 12 + hash(query) % 16;
    struct result *r = malloc(sizeof *r + n * sizeof r->hits[0]);
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(r->hits[i].title, sizeof r->hits[i].title, "party %zu near %.16s", i, query);
        r->hits[i].score = scores[i % cand];
    }
    free(scores);
    return r;
}

static void
render_page(const struct result *r)
{
    char *page = malloc(4096);
    size_t off = 0;
    for (size_t i = 0; i < r->n && off < 3900; i++)
        off += (size_t)snprintf(page + off, 4096 - off, "<li>%s</li>", r->hits[i].title);
    free(page);
}

static void
handle_search(const char *query, double t)
{
    struct result *r = cache_lookup(query, t);
    if (!r) {
        r = search_run(query);
        cache_insert(query, r, EXPIRY_NONE); /* meant: the default expiry */
        organic_inserts++;
    }
    render_page(r);
}

/* Warms the cache for the capitals searched most lately (three in four of
 * them, varying), with the default expiry, then purges what expired: the
 * capitals left out this time. */
static void
populate(double t, unsigned *seed)
{
    char key[64];
    for (int i = 0; i < CAPITALS; i++) {
        if (rand_r(seed) % 4 == 0)
            continue;
        snprintf(key, sizeof key, "capital:%d", i);
        cache_insert(key, search_run(key), t + DEFAULT_TTL);
    }
    cache_purge_expired(t);
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    double start = now(), end = start + secs, next_populate = start;
    unsigned seed = 7, unique = 0;
    char q[96];
    while (now() < end) {
        double t = now();
        if (t >= next_populate) {
            populate(t, &seed);
            next_populate = t + 1.5;
        }
        for (int i = 0; i < 12; i++) {
            if (rand_r(&seed) % 7 == 0) {
                snprintf(q, sizeof q, "salsa near %u.%03u,%u.%03u on day %u", unique % 90,
                         unique % 1000, unique / 90 % 180, unique * 7 % 1000, unique);
                unique++;
            } else
                snprintf(q, sizeof q, "salsa in hot city %u", rand_r(&seed) % 200);
            handle_search(q, t);
        }
        usleep(10000);
    }
    printf("story_noexpiry: %lu organic entries inserted, %lu expired entries purged\n",
           organic_inserts, purged);
    return 0;
}
