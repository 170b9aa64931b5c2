/* Story 1 (docs: tests/e2e/test_stories.sh): a caching HTTP proxy whose
 * keep-alive handling loses the request object when the client closes the
 * connection in the middle of a request, as libevent 1.4's
 * evhttp_connection_incoming_fail() did: the request is detached from its
 * connection "so that it will not be freed" and nobody frees it later.
 * A poll() server on 127.0.0.1 and two client threads that make keep-alive
 * connections, a quarter of which end with half a request. Every request
 * goes through request_new(); only the detached ones leak. Runs argv[1]
 * seconds (default 10). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define CACHE_SLOTS 128

struct conn;

struct request {
    struct conn *evcon; /* NULL once detached */
    int userdone;       /* the handler is done with it */
    char uri[256];
    char headers[768];
    size_t hlen;
    struct request *next; /* in evcon's queue */
};

struct conn {
    int fd;
    char in[4096];
    size_t inlen;
    struct request *requests; /* queue, the current request first */
};

struct cache_entry {
    char uri[256];
    char *body;
    size_t len;
};

static struct cache_entry cache[CACHE_SLOTS];
static unsigned cache_next;
static double deadline;
static int port;
static unsigned long served, dropped_mid_request;
static struct request *detached; /* only to keep the lost objects reachable for nobody */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* evhttp_request_new() via associate_new_request_with_connection(). */
static struct request *
request_new(struct conn *c)
{
    struct request *r = calloc(1, sizeof *r);
    r->evcon = c;
    r->next = c->requests;
    c->requests = r;
    return r;
}

static void
request_free(struct request *r)
{
    free(r);
}

static void
conn_free(struct conn *c)
{
    while (c->requests) {
        struct request *r = c->requests;
        c->requests = r->next;
        request_free(r);
    }
    close(c->fd);
    free(c);
}

/* The bug, as in evhttp_connection_incoming_fail(): a request the user is
 * not done with is removed from the connection "so that it will not be
 * freed" -- and then nobody frees it. */
static void
conn_incoming_fail(struct conn *c)
{
    struct request *r = c->requests;
    if (r && !r->userdone) {
        c->requests = r->next;
        r->evcon = NULL;
        r->next = NULL;
        dropped_mid_request++;
    }
}

static void
conn_fail(struct conn *c)
{
    conn_incoming_fail(c);
    conn_free(c);
}

static const struct cache_entry *
cache_fetch(const char *uri)
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].body && !strcmp(cache[i].uri, uri))
            return &cache[i];
    /* a miss: "fetch from the origin", replacing the oldest entry */
    struct cache_entry *e = &cache[cache_next++ % CACHE_SLOTS];
    free(e->body);
    snprintf(e->uri, sizeof e->uri, "%s", uri);
    e->len = 512 + (size_t)(rand() % 3584);
    e->body = malloc(e->len);
    memset(e->body, 'a' + (int)(e->len % 26), e->len);
    return e;
}

static void
handle_request(struct conn *c, struct request *r)
{
    const struct cache_entry *e = cache_fetch(r->uri);
    size_t cap = e->len + 128;
    char *resp = malloc(cap);
    int h = snprintf(resp, cap, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", e->len);
    memcpy(resp + h, e->body, e->len);
    size_t off = 0, len = (size_t)h + e->len;
    while (off < len) {
        ssize_t n = write(c->fd, resp + off, len - off);
        if (n <= 0 && errno != EINTR && errno != EAGAIN)
            break;
        if (n > 0)
            off += (size_t)n;
    }
    free(resp);
    r->userdone = 1;
    c->requests = r->next;
    request_free(r);
    served++;
}

/* Consumes complete requests from c->in; a request object exists from the
 * first byte of its request line on. 0, or -1 when the connection failed. */
static int
conn_read(struct conn *c)
{
    ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen - 1);
    if (n <= 0) {
        conn_fail(c);
        return -1;
    }
    c->inlen += (size_t)n;
    c->in[c->inlen] = 0;
    for (;;) {
        if (!c->inlen)
            return 0;
        struct request *r = c->requests ? c->requests : request_new(c);
        char *end = strstr(c->in, "\r\n\r\n");
        if (!end)
            return 0; /* mid-request: wait for more */
        size_t used = (size_t)(end + 4 - c->in);
        sscanf(c->in, "GET %255s", r->uri);
        r->hlen = used < sizeof r->headers ? used : sizeof r->headers - 1;
        memcpy(r->headers, c->in, r->hlen);
        memmove(c->in, c->in + used, c->inlen - used + 1);
        c->inlen -= used;
        handle_request(c, r);
    }
}

static void
server(int lfd)
{
    struct conn *conns[MAX_CONNS] = {0};
    struct pollfd pfd[MAX_CONNS + 1];
    while (now() < deadline + 0.5) {
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        int map[MAX_CONNS];
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i]) {
                map[n - 1] = i;
                pfd[n++] = (struct pollfd){.fd = conns[i]->fd, .events = POLLIN};
            }
        if (poll(pfd, (nfds_t)n, 50) <= 0)
            continue;
        for (int k = 1; k < n; k++)
            if (pfd[k].revents) {
                int i = map[k - 1];
                if (conn_read(conns[i]) < 0)
                    conns[i] = NULL;
            }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < MAX_CONNS && slot < 0; i++)
                if (!conns[i])
                    slot = i;
            if (fd >= 0 && slot >= 0) {
                conns[slot] = calloc(1, sizeof *conns[slot]);
                conns[slot]->fd = fd;
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
}

static int
read_response(int fd)
{
    char buf[8192];
    size_t have = 0, need = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end && !need) {
            size_t len = 0;
            sscanf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu", &len);
            need = (size_t)(end + 4 - buf) + len;
        }
        if (need && have >= need)
            return 0;
        if (have >= sizeof buf - 1)
            have = 0, need = need > sizeof buf ? need - sizeof buf : 0;
    }
}

static void *
client(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    while (now() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            close(fd);
            usleep(10000);
            continue;
        }
        int nreq = 1 + (int)(rand_r(&seed) % 6);
        char req[256];
        for (int i = 0; i < nreq; i++) {
            int len =
                snprintf(req, sizeof req,
                         "GET /item/%u HTTP/1.1\r\nHost: proxy\r\nConnection: keep-alive\r\n\r\n",
                         rand_r(&seed) % 400);
            if (write(fd, req, (size_t)len) != len || read_response(fd) < 0)
                break;
        }
        if (rand_r(&seed) % 4 == 0) {
            /* the client gives up in the middle of its next request */
            int len = snprintf(req, sizeof req, "GET /item/%u HTTP/1.1\r\nHo", rand_r(&seed) % 400);
            if (write(fd, req, (size_t)len) != len)
                perror("write");
        }
        close(fd);
        usleep(4000);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    deadline = now() + secs;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
        perror("story_keepalive: listen on 127.0.0.1");
        return 1;
    }
    port = ntohs(a.sin_port);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, client, (void *)(size_t)(i + 1));
    server(lfd);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    (void)detached;
    printf("story_keepalive: %lu requests served, %lu dropped mid-request\n", served,
           dropped_mid_request);
    return 0;
}
