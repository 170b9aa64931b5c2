/* Lost blocks on an error path: each "connection" allocates a struct in
 * conn_open() and a read buffer in conn_buffer(); every 10th one aborts and
 * the error path returns without freeing either. Of 200 connections, 20
 * structs are lost directly (nothing points to them) and their 20 buffers
 * indirectly (only the lost structs point to them). Live bytes stay flat:
 * a trend never sees this leak, a reachability scan does. Prints how many
 * connections were aborted; argv[1] = connections (default 200). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    int fd;
    int state;
    char *buf;
    size_t cap;
    char peer[40];
};

static char *
conn_buffer(size_t n)
{
    char *b = malloc(n);
    memset(b, 0, n);
    return b;
}

static struct conn *
conn_open(int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->cap = 512;
    c->buf = conn_buffer(c->cap);
    snprintf(c->peer, sizeof c->peer, "10.0.0.%d:%d", fd % 250, 40000 + fd);
    return c;
}

static void
conn_close(struct conn *c)
{
    free(c->buf);
    free(c);
}

/* The bug: the abort path forgets conn_close(). */
static int
serve(int fd)
{
    struct conn *c = conn_open(fd);
    if (fd % 10 == 9) {
        c->state = -1;
        return -1;
    }
    memcpy(c->buf, "GET / HTTP/1.1\r\n", 16);
    conn_close(c);
    return 0;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200, aborted = 0;
    for (int fd = 0; fd < n; fd++)
        aborted += serve(fd) < 0;
    printf("%d connections, %d aborted\n", n, aborted);
    return 0;
}
