/* Control: a bounded LRU cache of 3000 fixed-size entries that fills
 * during the first third of the run and then stays full, evicting the
 * least recently used entry for every new one. Requests look up recent
 * keys (hits move them to the front) and bring new keys at a steady rate.
 * Not a leak: BOUNDED. Runs argv[1] seconds (default 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY 3000
#define BUCKETS 4096

struct lru_node {
    char key[32];
    struct lru_node *prev, *next; /* recency list, most recent first */
    struct lru_node *hnext;       /* hash chain */
    char value[1000];
};

static struct lru_node *table[BUCKETS];
static struct lru_node *head, *tail;
static unsigned count;
static unsigned long hits, misses, evictions;

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

static void
list_unlink(struct lru_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        tail = n->prev;
}

static void
list_push_front(struct lru_node *n)
{
    n->prev = NULL;
    n->next = head;
    if (head)
        head->prev = n;
    head = n;
    if (!tail)
        tail = n;
}

static void
lru_evict(void)
{
    struct lru_node *n = tail;
    list_unlink(n);
    for (struct lru_node **p = &table[hash(n->key)]; *p; p = &(*p)->hnext)
        if (*p == n) {
            *p = n->hnext;
            break;
        }
    free(n);
    count--;
    evictions++;
}

static struct lru_node *
lru_get(const char *key)
{
    for (struct lru_node *n = table[hash(key)]; n; n = n->hnext)
        if (!strcmp(n->key, key)) {
            list_unlink(n);
            list_push_front(n);
            return n;
        }
    return NULL;
}

static void
lru_insert(const char *key)
{
    if (count == CAPACITY)
        lru_evict();
    struct lru_node *n = malloc(sizeof *n);
    snprintf(n->key, sizeof n->key, "%s", key);
    memset(n->value, 'v', sizeof n->value);
    unsigned h = hash(key);
    n->hnext = table[h];
    table[h] = n;
    list_push_front(n);
    count++;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    double start = now(), end = start + secs;
    double rate = CAPACITY / (secs / 3); /* new keys per second: full after a third */
    unsigned seed = 9, next_key = 0;
    char key[32];
    while (now() < end) {
        double due = (now() - start) * rate;
        while (next_key < due) {
            snprintf(key, sizeof key, "k%u", next_key++);
            misses++;
            lru_insert(key);
        }
        for (int i = 0; i < 30 && next_key; i++) {
            unsigned back = rand_r(&seed) % (next_key < 500 ? next_key : 500);
            snprintf(key, sizeof key, "k%u", next_key - 1 - back);
            char *tmp = malloc(256 + rand_r(&seed) % 768);
            if (lru_get(key))
                hits++;
            free(tmp);
        }
        usleep(10000);
    }
    printf("control_lru: %lu hits, %lu misses, %lu evictions, %u entries\n", hits, misses,
           evictions, count);
    return 0;
}
