/* Story 4: connection objects (EventMachine's, in the HuantengSmart hunt)
 * own a native struct that only the base class's close handler frees: the
 * base post_init allocates it in http_conn_new(), the base unbind frees it.
 * The websocket type overrides unbind and calls the base; the "phantom"
 * HTTP type overrides unbind to do its own bookkeeping and forgets the base
 * call, so every phantom connection leaks its native struct. C with
 * function-pointer vtables; connections open, receive data and close in
 * process at about 100 a second. Runs argv[1] seconds (default 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPEN 256

struct conn;

struct conn_ops {
    const char *name;
    void (*post_init)(struct conn *);
    void (*receive_data)(struct conn *, const char *, size_t);
    void (*unbind)(struct conn *);
};

/* RubyHttpConnection_t: the parser's native state. */
struct http_conn_native {
    char parser[1024];
    char headers[1000];
    size_t used;
};

struct conn {
    const struct conn_ops *ops;
    unsigned long id;
    double close_at;
    struct http_conn_native *native; /* owned; freed by base_unbind */
    unsigned long bytes;
};

static unsigned long phantom_closed, ws_closed, plain_closed;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct http_conn_native *
http_conn_new(void)
{
    struct http_conn_native *n = malloc(sizeof *n);
    n->used = 0;
    n->parser[0] = 0;
    return n;
}

static void
http_conn_free(struct http_conn_native *n)
{
    free(n);
}

static void
base_post_init(struct conn *c)
{
    c->native = http_conn_new();
}

static void
base_receive_data(struct conn *c, const char *data, size_t len)
{
    /* parse into a temporary message, as the HTTP parser does */
    char *msg = malloc(len + 1);
    memcpy(msg, data, len);
    msg[len] = 0;
    size_t keep = len < sizeof c->native->headers ? len : sizeof c->native->headers;
    memcpy(c->native->headers, msg, keep);
    c->native->used = keep;
    c->bytes += len;
    free(msg);
}

static void
base_unbind(struct conn *c)
{
    http_conn_free(c->native);
    c->native = NULL;
}

static void
ws_unbind(struct conn *c)
{
    ws_closed++;
    base_unbind(c); /* calls the base: fine */
}

static void
phantom_unbind(struct conn *c)
{
    /* our own bookkeeping; the base unbind (which frees the native
     * struct) is not called: the bug */
    phantom_closed += c->bytes > 0;
}

static void
plain_unbind(struct conn *c)
{
    plain_closed++;
    base_unbind(c);
}

static const struct conn_ops plain_ops = {"http", base_post_init, base_receive_data, plain_unbind};
static const struct conn_ops ws_ops = {"websocket", base_post_init, base_receive_data, ws_unbind};
static const struct conn_ops phantom_ops = {"phantom-http", base_post_init, base_receive_data,
                                            phantom_unbind};

static struct conn *
conn_open(const struct conn_ops *ops, unsigned long id, double close_at)
{
    struct conn *c = calloc(1, sizeof *c);
    c->ops = ops;
    c->id = id;
    c->close_at = close_at;
    ops->post_init(c);
    return c;
}

static void
conn_close(struct conn *c)
{
    c->ops->unbind(c);
    free(c);
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    double end = now() + secs;
    struct conn *open[MAX_OPEN] = {0};
    unsigned seed = 5;
    unsigned long id = 0;
    char payload[1500];
    memset(payload, 'p', sizeof payload);
    while (now() < end) {
        double t = now();
        /* about one new connection per tick; lifetimes 0.2 .. 1.5 s */
        for (int slot = 0; slot < MAX_OPEN; slot++) {
            if (!open[slot]) {
                unsigned r = rand_r(&seed) % 100;
                const struct conn_ops *ops = r < 60 ? &plain_ops : r < 85 ? &ws_ops : &phantom_ops;
                open[slot] = conn_open(ops, id++, t + 0.2 + (rand_r(&seed) % 1300) / 1000.0);
                break;
            }
        }
        for (int slot = 0; slot < MAX_OPEN; slot++) {
            struct conn *c = open[slot];
            if (!c)
                continue;
            if (rand_r(&seed) % 4 == 0)
                c->ops->receive_data(c, payload, 64 + rand_r(&seed) % 1400);
            if (t >= c->close_at) {
                conn_close(c);
                open[slot] = NULL;
            }
        }
        usleep(9000);
    }
    printf("story_close_handler: %lu connections, %lu phantom closed without the base unbind\n", id,
           phantom_closed);
    return 0;
}
