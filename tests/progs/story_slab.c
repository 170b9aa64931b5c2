/* Story 3: a request path that takes scratch handles from an internal
 * scope allocator (V8's HandleScope, in the Walmart/Node hunt): handles come
 * from 4 KiB blocks; a scope that needs more extends the slab by a block in
 * slab_extend() and gives it back when it closes. The bug: when a handle
 * escapes a scope while that scope is extended (a rare combination), the
 * extension block is parked on the slab's detached list for the parent and
 * never given back. 4 KiB every now and then, buried in heavy
 * allocate/free churn of every request. In-process; runs argv[1] seconds
 * (default 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLAB_BLOCK 4096
#define HANDLE 16

struct block {
    struct block *prev;
    size_t used; /* bytes of data[] handed out */
    char data[];
};

#define BLOCK_CAP (SLAB_BLOCK - sizeof(struct block))

struct slab {
    struct block *cur;
    struct block *detached; /* blocks kept "for the parent scope": never reused or freed */
    unsigned long extended, kept;
};

struct scope {
    struct slab *slab;
    struct block *saved;
    size_t saved_used;
    int escaped;
};

static struct slab slab;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
slab_extend(struct slab *s)
{
    struct block *b = malloc(SLAB_BLOCK);
    b->prev = s->cur;
    b->used = 0;
    s->cur = b;
    s->extended++;
}

static void
scope_open(struct scope *sc, struct slab *s)
{
    sc->slab = s;
    sc->saved = s->cur;
    sc->saved_used = s->cur->used;
    sc->escaped = 0;
}

static void *
scope_alloc(struct scope *sc, size_t n)
{
    struct slab *s = sc->slab;
    if (s->cur->used + n > BLOCK_CAP)
        slab_extend(s);
    void *p = s->cur->data + s->cur->used;
    s->cur->used += n;
    return p;
}

static void
scope_escape(struct scope *sc)
{
    sc->escaped = 1;
}

static void
scope_close(struct scope *sc)
{
    struct slab *s = sc->slab;
    while (s->cur != sc->saved) {
        struct block *b = s->cur;
        s->cur = b->prev;
        if (sc->escaped) {
            /* the escaped handle may live in this block: keep it for the
             * parent scope -- which never releases it */
            b->prev = s->detached;
            s->detached = b;
            s->kept++;
        } else {
            free(b);
        }
    }
    s->cur->used = sc->saved_used;
}

static unsigned
parse_headers(unsigned *seed)
{
    unsigned nh = 4 + rand_r(seed) % 12, sum = 0;
    char **h = malloc(nh * sizeof *h);
    for (unsigned i = 0; i < nh; i++) {
        size_t len = 16 + rand_r(seed) % 240;
        h[i] = malloc(len);
        memset(h[i], 'h', len);
        sum += (unsigned char)h[i][len / 2];
    }
    for (unsigned i = 0; i < nh; i++)
        free(h[i]);
    free(h);
    return sum;
}

static void
handle_request(unsigned *seed)
{
    struct scope sc;
    char *body = malloc(256 + rand_r(seed) % 3840);
    body[0] = (char)parse_headers(seed);
    scope_open(&sc, &slab);
    /* most requests fit the current block; about one in six needs more */
    unsigned handles = rand_r(seed) % 6 == 0 ? 260 + rand_r(seed) % 200 : 8 + rand_r(seed) % 120;
    for (unsigned i = 0; i < handles; i++) {
        char *h = scope_alloc(&sc, HANDLE);
        h[0] = body[0];
    }
    if (rand_r(seed) % 40 == 0)
        scope_escape(&sc); /* a value escapes to the caller's scope */
    scope_close(&sc);
    char *out = malloc(512 + rand_r(seed) % 1024);
    out[0] = body[0];
    free(out);
    free(body);
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    double end = now() + secs;
    unsigned seed = 11;
    unsigned long requests = 0;
    slab_extend(&slab); /* the first block lives as long as the slab */
    slab.extended = 0;
    while (now() < end) {
        for (int i = 0; i < 40; i++, requests++)
            handle_request(&seed);
        usleep(10000);
    }
    printf("story_slab: %lu requests, %lu extensions, %lu blocks never given back\n", requests,
           slab.extended, slab.kept);
    return 0;
}
