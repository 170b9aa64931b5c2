/* A small keep-alive HTTP-ish server with one real leak, for `make demo`.
 *
 * It listens on 127.0.0.1 (an ephemeral port) and a client thread in the same
 * process drives it over loopback: about 200 requests a second on keep-alive
 * connections of 1 to 8 requests, each request carrying a session cookie.
 * The server parses every request into a heap-allocated struct with its
 * headers, keeps the sessions in a bounded LRU (64 entries: it churns, and it
 * is not a leak), and frees everything it allocates - except in one place:
 * a keep-alive request that arrives in pieces is parked with its session by
 * session_attach_request(), which allocates a small record for it; when the
 * connection is closed in the middle of such a request, conn_abort() frees
 * the request but forgets that record. The slow path is the one tests never
 * exercise. About one connection in eight ends that way here, so the process
 * leaks a few KB a second.
 *
 * Usage: demo_server [SECONDS]   (default 10; the client stops half a second earlier)
 * Build: cc -g -O1 -fno-omit-frame-pointer -pthread demo_server.c -o demo_server */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Functions that name allocation sites in the report stay out of line:
 * -O1 inlines static functions called once, which would fold them into
 * their caller's frame. */
#define SITE __attribute__((noinline))

#define MAX_HEADERS 32
#define LRU_CAP 64
#define SESSION_IDS 200 /* distinct clients: more than LRU_CAP, so the LRU evicts */
#define REQ_PER_SEC 200
#define MAX_LINE 4096

struct header {
    char *name;
    char *value;
};

struct request {
    char *method;
    char *path;
    struct header headers[MAX_HEADERS];
    int nheaders;
    int keep_alive;
    struct session *session;
    struct attachment *attached; /* set by session_attach_request */
};

struct session {
    unsigned id;
    char *user_agent;            /* copy of the last User-Agent */
    uint64_t requests;           /* requests seen in this session */
    struct session *prev, *next; /* LRU list, most recent first */
    struct session *hnext;       /* hash chain */
};

/* What the session knows about a keep-alive request parked while the rest
 * of it arrives: enough to log it if the connection drops. */
struct attachment {
    struct session *session;
    struct request *req;
    uint64_t started_ns;
    char trace[768]; /* the request line and headers seen so far */
    size_t trace_len;
};

struct conn {
    int fd;
    char *buf; /* bytes received and not yet parsed */
    size_t len, cap;
    struct request *req; /* the request being parsed, NULL between requests */
};

static struct {
    struct session *head, *tail;
    struct session *bucket[LRU_CAP];
    unsigned count;
} lru;

static struct {
    uint64_t requests, connections, aborted, evicted;
} stats;

static volatile int stop_server;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "demo_server: out of memory\n");
        exit(1);
    }
    return p;
}

static char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- sessions: a bounded LRU ------------------------------------------ */

static void
lru_unlink(struct session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        lru.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        lru.tail = s->prev;
    s->prev = s->next = NULL;
}

static void
lru_push_front(struct session *s)
{
    s->next = lru.head;
    s->prev = NULL;
    if (lru.head)
        lru.head->prev = s;
    lru.head = s;
    if (!lru.tail)
        lru.tail = s;
}

static void
session_free(struct session *s)
{
    free(s->user_agent);
    free(s);
}

static void
session_evict_oldest(void)
{
    struct session *s = lru.tail;
    struct session **pp = &lru.bucket[s->id % LRU_CAP];
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    lru_unlink(s);
    lru.count--;
    stats.evicted++;
    session_free(s);
}

/* The session with this id, created (and the oldest evicted) if needed. */
SITE static struct session *
session_get(unsigned id)
{
    struct session *s;
    for (s = lru.bucket[id % LRU_CAP]; s; s = s->hnext) {
        if (s->id == id) {
            lru_unlink(s);
            lru_push_front(s);
            return s;
        }
    }
    if (lru.count == LRU_CAP)
        session_evict_oldest();
    s = xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->id = id;
    s->hnext = lru.bucket[id % LRU_CAP];
    lru.bucket[id % LRU_CAP] = s;
    lru_push_front(s);
    lru.count++;
    return s;
}

/* Parks a keep-alive request that is waiting for more bytes with its
 * session. */
SITE struct attachment *
session_attach_request(struct session *s, struct request *req)
{
    struct attachment *a = malloc(sizeof *a);
    if (!a)
        return NULL;
    a->session = s;
    a->req = req;
    a->started_ns = now_ns();
    int n = snprintf(a->trace, sizeof a->trace, "%s %s", req->method, req->path);
    a->trace_len = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < req->nheaders && a->trace_len < sizeof a->trace; i++) {
        n = snprintf(a->trace + a->trace_len, sizeof a->trace - a->trace_len, "|%s=%s",
                     req->headers[i].name, req->headers[i].value);
        if (n > 0)
            a->trace_len += (size_t)n;
    }
    req->attached = a;
    return a;
}

/* The request completed: the session no longer needs the record. */
SITE static void
session_detach_request(struct request *req)
{
    free(req->attached);
    req->attached = NULL;
}

static void
session_shutdown(void)
{
    while (lru.count)
        session_evict_oldest();
}

/* ---- requests --------------------------------------------------------- */

/* "GET /path HTTP/1.1" -> a new request, or NULL when malformed. */
SITE static struct request *
request_new(const char *line, size_t n)
{
    const char *sp1 = memchr(line, ' ', n);
    if (!sp1)
        return NULL;
    const char *sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line));
    if (!sp2)
        return NULL;
    struct request *r = xmalloc(sizeof *r);
    memset(r, 0, sizeof *r);
    r->method = xstrndup(line, (size_t)(sp1 - line));
    r->path = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    return r;
}

SITE static void
request_free(struct request *r)
{
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->method);
    free(r->path);
    free(r);
}

/* "Name: value" -> one more header; sessions are attached as they appear. */
SITE static void
request_add_header(struct request *r, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || r->nheaders == MAX_HEADERS)
        return;
    const char *v = colon + 1;
    while (v < line + n && *v == ' ')
        v++;
    struct header *h = &r->headers[r->nheaders++];
    h->name = xstrndup(line, (size_t)(colon - line));
    h->value = xstrndup(v, (size_t)(line + n - v));
    if (!strcasecmp(h->name, "Connection"))
        r->keep_alive = !strcasecmp(h->value, "keep-alive");
    else if (!strcasecmp(h->name, "User-Agent") && r->session) {
        free(r->session->user_agent);
        r->session->user_agent = xstrndup(h->value, strlen(h->value));
    } else if (!strcasecmp(h->name, "Cookie") && !strncmp(h->value, "session=", 8)) {
        r->session = session_get((unsigned)strtoul(h->value + 8, NULL, 10));
        r->session->requests++;
    }
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Answers a complete request; the body echoes the path and the session. */
SITE static int
request_respond(struct conn *c, struct request *r)
{
    char body[256];
    int bn = snprintf(body, sizeof body, "path=%s session=%u visits=%llu\n", r->path,
                      r->session ? r->session->id : 0,
                      r->session ? (unsigned long long)r->session->requests : 0ull);
    size_t cap = (size_t)bn + 128;
    char *out = xmalloc(cap);
    int n = snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s",
                     bn, r->keep_alive ? "keep-alive" : "close", body);
    int rc = write_all(c->fd, out, (size_t)n);
    free(out);
    stats.requests++;
    return rc;
}

/* ---- connections ------------------------------------------------------ */

/* The peer went away. A request in flight is dropped - and here is the bug:
 * the request is freed, but the record session_attach_request() made when it
 * was parked is not (the completed path frees it in session_detach_request()). */
static void
conn_abort(struct conn *c)
{
    if (c->req) {
        stats.aborted++;
        request_free(c->req);
        c->req = NULL;
    }
}

/* Parses the complete lines in c->buf. 0 to go on, -1 to close. */
static int
conn_parse(struct conn *c)
{
    size_t off = 0;
    int rc = 0;
    for (;;) {
        char *nl = memchr(c->buf + off, '\n', c->len - off);
        if (!nl)
            break;
        size_t n = (size_t)(nl - (c->buf + off));
        const char *line = c->buf + off;
        if (n && line[n - 1] == '\r')
            n--;
        off = (size_t)(nl - c->buf) + 1;
        if (!c->req) {
            if (n == 0)
                continue;
            c->req = request_new(line, n);
            if (!c->req) {
                rc = -1;
                break;
            }
        } else if (n) {
            request_add_header(c->req, line, n);
        } else {
            struct request *r = c->req;
            c->req = NULL;
            rc = request_respond(c, r);
            int keep = r->keep_alive;
            if (r->attached)
                session_detach_request(r);
            request_free(r);
            if (rc < 0 || !keep) {
                rc = -1;
                break;
            }
        }
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    /* A keep-alive request split across reads waits for its rest: park it
     * with its session so a slow client's request can be traced. */
    if (rc == 0 && c->req && c->req->keep_alive && c->req->session && !c->req->attached)
        session_attach_request(c->req->session, c->req);
    if (c->len > MAX_LINE)
        rc = -1; /* a line longer than we accept */
    return rc;
}

/* Serves one connection until the peer closes it or we are stopped. */
static void
conn_serve(int fd)
{
    struct conn c = {fd, xmalloc(1024), 0, 1024, NULL};
    stats.connections++;
    while (!stop_server) {
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, 100);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        if (c.cap - c.len < 512) {
            char *nb = realloc(c.buf, c.cap * 2);
            if (!nb)
                break;
            c.buf = nb;
            c.cap *= 2;
        }
        ssize_t n = recv(fd, c.buf + c.len, c.cap - c.len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        c.len += (size_t)n;
        if (conn_parse(&c) < 0)
            break;
    }
    conn_abort(&c);
    free(c.buf);
    close(fd);
}

static void *
server_main(void *arg)
{
    int lfd = *(int *)arg;
    while (!stop_server) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            conn_serve(fd);
    }
    return NULL;
}

/* ---- the client ------------------------------------------------------- */

struct client_args {
    uint16_t port;
    double seconds; /* how long to send */
};

static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Reads one response (headers, then Content-Length bytes). */
static int
read_response(int fd)
{
    char buf[1024];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
            if (len >= want)
                return 0;
        }
        if (len == sizeof buf - 1)
            return -1;
    }
}

static void *
client_main(void *arg)
{
    const struct client_args *ca = arg;
    uint32_t seed = 2463534242u;
    uint64_t deadline = now_ns() + (uint64_t)(ca->seconds * 1e9);
    uint64_t max_requests = (uint64_t)(ca->seconds * REQ_PER_SEC) + 1;
    uint64_t sent = 0, conns = 0;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(ca->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timespec gap = {0, 1000000000L / REQ_PER_SEC};

    while (now_ns() < deadline && sent < max_requests) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            break;
        }
        unsigned session = rnd(&seed) % SESSION_IDS;
        unsigned nreq = 1 + rnd(&seed) % 8;
        /* Every eighth connection: a steady trickle, like a flaky network. */
        int drop_mid_request = ++conns % 8 == 0;
        for (unsigned i = 0; i < nreq && now_ns() < deadline; i++) {
            char req[512];
            int last = i + 1 == nreq;
            int n = snprintf(req, sizeof req,
                             "GET /items/%u?page=%u HTTP/1.1\r\n"
                             "Host: 127.0.0.1:%u\r\n"
                             "Connection: %s\r\n"
                             "Cookie: session=%u\r\n"
                             "User-Agent: leakscope-demo/1.0\r\n"
                             "Accept: */*\r\n"
                             "\r\n",
                             rnd(&seed) % 1000, i, ca->port,
                             last && !drop_mid_request ? "close" : "keep-alive", session);
            size_t len = (size_t)n;
            if (last && drop_mid_request)
                len = (size_t)(strstr(req, "User-Agent") - req); /* cut before the end */
            if (write_all(fd, req, len) < 0)
                break;
            sent++;
            if (last && drop_mid_request) {
                nanosleep(&gap, NULL);
                break; /* close with the request half sent */
            }
            if (read_response(fd) < 0)
                break;
            nanosleep(&gap, NULL);
        }
        close(fd);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    if (seconds <= 0 || seconds > 86400) {
        fprintf(stderr, "usage: demo_server [SECONDS]   (1 to 86400, default 10)\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof sa;
    sa.sin_family = AF_INET;
    sa.sin_port = 0; /* ephemeral */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("demo_server: listen on 127.0.0.1");
        return 1;
    }
    /* The client keeps going until just before the end: a leak whose
     * traffic stopped early would look like growth that levelled off. */
    struct client_args ca = {ntohs(sa.sin_port), seconds > 2 ? seconds - 0.5 : seconds * 0.75};
    fprintf(stderr, "demo_server: listening on 127.0.0.1:%u for %.0f s\n", ca.port, seconds);

    pthread_t srv, cli;
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    if (pthread_create(&srv, NULL, server_main, &lfd) != 0 ||
        pthread_create(&cli, NULL, client_main, &ca) != 0) {
        fprintf(stderr, "demo_server: cannot start threads\n");
        return 1;
    }
    pthread_join(cli, NULL);
    while (now_ns() < end) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    stop_server = 1;
    pthread_join(srv, NULL);
    close(lfd);
    session_shutdown();
    printf("demo_server: %llu requests on %llu connections, %llu dropped mid-request, "
           "%llu sessions evicted\n",
           (unsigned long long)stats.requests, (unsigned long long)stats.connections,
           (unsigned long long)stats.aborted, (unsigned long long)stats.evicted);
    return 0;
}
