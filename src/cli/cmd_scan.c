/* `leakscope scan PID`: asks a running process's agent for a reachability
 * scan now and prints what it found. The recording is found among the
 * process's open files (/proc/PID/fd: a file open for writing that starts
 * with the recording magic) or given with -f. The request is the empty file
 * RECORDING.scan (created O_EXCL|O_NOFOLLOW, 0600); within a period the
 * agent takes it, scans and appends a SCAN record, which we wait for by
 * following the recording's complete records from where it ended when we
 * asked. Exit status as `check`: 0 nothing lost, 1 lost blocks found, 2
 * could not scan (one sentence on stderr). Single-threaded; allocates. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze/model.h"
#include "analyze/reach.h"
#include "analyze/verdict.h"
#include "base/err.h"
#include "cli.h"
#include "launch.h"
#include "record/format.h"
#include "record/reader.h"
#include "render/content.h"
#include "render/json.h"
#include "render/text.h"
#include "symbolize/symbolize.h"

#define SCAN_TIMEOUT_S 30 /* plus the recording's period: the agent looks once a period */
#define POLL_MS 100
#define SCAN_FRAMES 8

struct scan_opts {
    const char *file;   /* -f: the recording, instead of looking in /proc/PID/fd */
    unsigned timeout_s; /* 0 = SCAN_TIMEOUT_S + the period */
    int json;
    int content;
    unsigned frames;
    pid_t pid;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: leakscope scan [-f FILE] [--timeout S] [--json] [--frames N] [--content] PID\n"
            "\n"
            "Asks the leakscope agent in process PID for a reachability scan now, waits for\n"
            "it, and prints the allocation sites whose blocks nothing points to any more\n"
            "(lost: a leak whatever the trend) with their stacks. The process must run with\n"
            "the agent (leakscope run, or LD_PRELOAD) and belong to you.\n"
            "Exit status: 0 nothing lost, 1 lost blocks found, 2 could not scan.\n"
            "\n"
            "  -f, --file FILE  the recording the agent writes (default: found among the\n"
            "                   process's open files)\n"
            "  --timeout S      give up after S seconds (default %d + the recording's period)\n"
            "  --json           one JSON document instead of text (docs/JSON.md)\n"
            "  --frames N       frames per stack (default %d)\n"
            "  --content        show the scan's content samples, if the agent took any\n",
            SCAN_TIMEOUT_S, SCAN_FRAMES);
}

static int
parse_args(int argc, char **argv, struct scan_opts *o)
{
    const char *pid = NULL, *v;
    memset(o, 0, sizeof *o);
    o->frames = SCAN_FRAMES;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int missing = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--content")) {
            o->content = 1;
        } else if ((v = lk_cli_opt_value(argc, argv, &i, "-f", "--file", &missing))) {
            o->file = v;
        } else if ((v = lk_cli_opt_value(argc, argv, &i, NULL, "--timeout", &missing))) {
            if (lk_cli_parse_uint(v, 1, 86400, &o->timeout_s) < 0) {
                lk_cli_error("scan: --timeout %s: expected seconds from 1 to 86400", v);
                return 2;
            }
        } else if ((v = lk_cli_opt_value(argc, argv, &i, NULL, "--frames", &missing))) {
            if (lk_cli_parse_uint(v, 1, 256, &o->frames) < 0) {
                lk_cli_error("scan: --frames %s: expected a number from 1 to 256", v);
                return 2;
            }
        } else if (missing) {
            lk_cli_error("scan: %s needs a value", a);
            return 2;
        } else if (a[0] == '-') {
            lk_cli_error("scan: unknown option '%s' (try 'leakscope scan --help')", a);
            return 2;
        } else if (pid) {
            lk_cli_error("scan: one process at a time ('%s' and '%s')", pid, a);
            return 2;
        } else {
            pid = a;
        }
    }
    unsigned p;
    if (!pid) {
        lk_cli_error("scan: no process given (usage: leakscope scan [-f FILE] PID)");
        return 2;
    }
    if (lk_cli_parse_uint(pid, 1, INT_MAX, &p) < 0) {
        lk_cli_error("scan: '%s' is not a process id", pid);
        return 2;
    }
    o->pid = (pid_t)p;
    return 0;
}

/* ---- finding the recording ------------------------------------------- */

/* Whether the process has the agent mapped (for the refusal's wording). */
static int
has_agent(pid_t pid)
{
    char p[64], line[4096];
    snprintf(p, sizeof p, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(p, "re");
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "/libleakscope.so") != NULL;
    fclose(f);
    return found;
}

/* The access mode of fd in the process (O_RDONLY...), -1 when unknown. */
static int
fd_accmode(pid_t pid, const char *fd)
{
    char p[320], line[256];
    snprintf(p, sizeof p, "/proc/%d/fdinfo/%s", (int)pid, fd);
    FILE *f = fopen(p, "re");
    int mode = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags:", 6)) {
            mode = (int)(strtoul(line + 6, NULL, 8) & O_ACCMODE);
            break;
        }
    fclose(f);
    return mode;
}

/* Whether the file at path (or /proc/PID/fd/N) is a regular file that
 * starts with the magic. It is stat'ed before it is opened: opening a
 * device can have effects (a watchdog starts counting). */
static int
is_recording(const char *path)
{
    char head[LK_MAGIC_LEN];
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return 0;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
             read(fd, head, sizeof head) == (ssize_t)sizeof head &&
             !memcmp(head, LK_MAGIC, LK_MAGIC_LEN);
    close(fd);
    return ok;
}

static const char *
comm_of(pid_t pid, char *buf, size_t cap)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/comm", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    buf[0] = 0;
    if (fd >= 0) {
        ssize_t n = read(fd, buf, cap - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            buf[strcspn(buf, "\n")] = 0;
        }
    }
    return buf[0] ? buf : "?";
}

/* The recording process pid writes, into path. 0, or 2 after one sentence. */
static int
find_recording(pid_t pid, char *path, size_t cap)
{
    char dir[64], comm[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            lk_cli_error("scan: no process with pid %d", (int)pid);
        else if (errno == EACCES || errno == EPERM)
            lk_cli_error("scan: process %d (%s) is not yours: only its owner (or root) can ask "
                         "its agent for a scan",
                         (int)pid, comm_of(pid, comm, sizeof comm));
        else
            lk_cli_error("scan: cannot list the open files of process %d: %s", (int)pid,
                         lk_cli_why(errno));
        return 2;
    }
    struct dirent *e;
    int found = 0, several = 0, deleted = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char fdp[320], target[PATH_MAX];
        snprintf(fdp, sizeof fdp, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(fdp, target, sizeof target - 1);
        if (n <= 0 || target[0] != '/')
            continue;
        target[n] = 0;
        int mode = fd_accmode(pid, e->d_name);
        if (mode == O_RDONLY || !is_recording(fdp))
            continue; /* `leakscope run` reads the recording too: only the writer counts */
        struct stat st;
        if (stat(fdp, &st) < 0)
            continue;
        if (found && st.st_dev == dev && st.st_ino == ino)
            continue;
        size_t tl = strlen(target);
        if (tl > 10 && !strcmp(target + tl - 10, " (deleted)")) {
            deleted = 1;
            continue;
        }
        if (found) {
            several = 1;
            continue;
        }
        found = 1;
        dev = st.st_dev;
        ino = st.st_ino;
        snprintf(path, cap, "%s", target);
    }
    closedir(d);
    if (several) {
        lk_cli_error("scan: process %d writes several recordings; name one with -f FILE", (int)pid);
        return 2;
    }
    if (found)
        return 0;
    if (deleted)
        lk_cli_error("scan: the recording process %d writes was deleted; nothing can read a "
                     "scan from it",
                     (int)pid);
    else if (has_agent(pid))
        lk_cli_error("scan: process %d (%s) has the leakscope agent loaded but no recording "
                     "open (LEAKSCOPE_DISABLE, or the agent stopped); nothing to scan into",
                     (int)pid, comm_of(pid, comm, sizeof comm));
    else
        lk_cli_error("scan: process %d (%s) runs without the leakscope agent; start it with "
                     "'leakscope run' (or LD_PRELOAD) to scan it",
                     (int)pid, comm_of(pid, comm, sizeof comm));
    return 2;
}

/* ---- following the recording ------------------------------------------ */

struct follow {
    int fd;
    uint8_t *buf; /* file header + bytes not yet walked */
    size_t len, cap;
    int broken;
    uint64_t scans; /* SCAN records seen */
    unsigned minor;
    uint64_t period_ms;
};

/* Reads what was appended and walks the complete records; a torn last
 * record stays buffered. 0, or -1 when the file is not a valid recording. */
static int
follow_poll(struct follow *f, const char *path)
{
    for (;;) {
        if (f->cap - f->len < 65536) {
            size_t cap = f->cap ? f->cap * 2 : 1 << 20;
            uint8_t *p = realloc(f->buf, cap);
            if (!p)
                return -1;
            f->buf = p;
            f->cap = cap;
        }
        ssize_t n = read(f->fd, f->buf + f->len, f->cap - f->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        f->len += (size_t)n;
    }
    if (f->len < LK_FILE_HEADER_LEN)
        return 0;
    struct lk_reader r;
    struct lk_record rec;
    if (lk_reader_open(&r, path, f->buf, f->len) < 0)
        return -1;
    f->minor = r.minor;
    int rc;
    while ((rc = lk_reader_next(&r, &rec)) == 1) {
        struct lk_scan sc;
        struct lk_info in;
        if (rec.type == LK_REC_SCAN && lk_scan_decode(rec.payload, rec.len, &sc) == 0)
            f->scans++;
        if (rec.type == LK_REC_INFO && lk_info_decode(rec.payload, rec.len, &in) == 0)
            f->period_ms = in.period_ms;
    }
    if (rc < 0)
        return -1;
    memmove(f->buf + LK_FILE_HEADER_LEN, f->buf + r.off, f->len - r.off);
    f->len = LK_FILE_HEADER_LEN + (f->len - r.off);
    return 0;
}

static int
alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- printing the result ---------------------------------------------- */

static int
cmp_lost(const void *pa, const void *pb)
{
    const struct lk_site_verdict *a = *(const struct lk_site_verdict *const *)pa;
    const struct lk_site_verdict *b = *(const struct lk_site_verdict *const *)pb;
    uint64_t x = lk_reach_lost_bytes(&a->reach.at), y = lk_reach_lost_bytes(&b->reach.at);
    return (x < y) - (x > y);
}

static void
print_text(const struct lk_model *m, const struct lk_model_scan *sc, struct lk_site_verdict **lost,
           size_t nlost, struct lk_symbolizer *sym, const struct scan_opts *o, const char *path)
{
    char b1[32], b2[32], b3[32];
    uint64_t lc = 0, lb = 0;
    for (size_t i = 0; i < nlost; i++) {
        lc += lk_reach_lost_count(&lost[i]->reach.at);
        lb += lk_reach_lost_bytes(&lost[i]->reach.at);
    }
    if (nlost)
        printf("LOST: %llu %s (%s) in %zu %s nothing points to\n", (unsigned long long)lc,
               lc == 1 ? "block" : "blocks", lk_render_bytes(b1, sizeof b1, (double)lb), nlost,
               nlost == 1 ? "site" : "sites");
    else
        printf("Nothing lost: every one of the %llu tracked blocks is reachable\n",
               (unsigned long long)sc->blocks);
    printf("scan %llu of pid %d (%s) at %.1f s: program stopped %.1f ms, %u %s; %s of roots and "
           "%s of blocks scanned in %.1f ms; %llu reachable blocks (%s)\n",
           (unsigned long long)sc->seq, (int)o->pid, path, (double)sc->time_ns / 1e9,
           (double)sc->pause_ns / 1e6, (unsigned)sc->threads,
           sc->threads == 1 ? "thread" : "threads",
           lk_render_bytes(b1, sizeof b1, (double)sc->root_bytes),
           lk_render_bytes(b2, sizeof b2, (double)sc->heap_bytes), (double)sc->scan_ns / 1e6,
           (unsigned long long)sc->count[LK_BLOCK_REACHABLE],
           lk_render_bytes(b3, sizeof b3, (double)sc->bytes[LK_BLOCK_REACHABLE]));
    if (sc->flags & LK_SCAN_PARTIAL)
        printf("the scan stopped early (a time or memory limit): counts are lower bounds\n");
    if (!(sc->flags & LK_SCAN_REGISTERS))
        printf("the scan could not read every thread's registers (ptrace refused): a block "
               "whose only pointer sat in a register is counted lost\n");
    if (nlost)
        printf("\n");
    for (size_t i = 0; i < nlost; i++) {
        struct lk_site_verdict *v = lost[i];
        const struct lk_model_site *s = &m->sites[v->site];
        printf("#%zu site %llu\n", i + 1, (unsigned long long)v->id);
        lk_render_site_reach(stdout, m, v, sym, o->content);
        struct lk_sym_frame fr[256];
        size_t total = 0,
               n = s->has_stack ? lk_symbolize_stack(sym, s, 1, fr, o->frames, &total) : 0;
        for (size_t k = 0; k < n; k++) {
            const char *mod = fr[k].module ? strrchr(fr[k].module, '/') : NULL;
            mod = mod ? mod + 1 : fr[k].module;
            if (fr[k].function && fr[k].file)
                printf("      %s  %s:%u  [%s]\n", fr[k].function, fr[k].file, fr[k].line,
                       mod ? mod : "?");
            else if (fr[k].function)
                printf("      %s  [%s]\n", fr[k].function, mod ? mod : "?");
            else if (fr[k].module)
                printf("      %s+0x%llx\n", fr[k].module, (unsigned long long)fr[k].offset);
            else
                printf("      0x%llx\n", (unsigned long long)fr[k].offset);
        }
        if (total > n)
            printf("      ... %zu more frames\n", total - n);
        if (!s->has_stack)
            printf("      (no stack recorded for this site)\n");
        printf("\n");
    }
}

static void
print_json(const struct lk_model *m, size_t scan, struct lk_site_verdict **lost, size_t nlost,
           struct lk_symbolizer *sym, const struct scan_opts *o, const char *path)
{
    const struct lk_model_scan *sc = &m->scans[scan];
    uint64_t lc = 0, lb = 0;
    int f = 1;
    for (size_t i = 0; i < nlost; i++) {
        lc += lk_reach_lost_count(&lost[i]->reach.at);
        lb += lk_reach_lost_bytes(&lost[i]->reach.at);
    }
    fputc('{', stdout);
    lk_json_key(stdout, &f, "pid");
    printf("%d", (int)o->pid);
    lk_json_key(stdout, &f, "recording");
    lk_json_str(stdout, path);
    lk_json_key(stdout, &f, "lost_sites");
    lk_json_u64(stdout, nlost);
    lk_json_key(stdout, &f, "lost_count");
    lk_json_u64(stdout, lc);
    lk_json_key(stdout, &f, "lost_bytes");
    lk_json_u64(stdout, lb);
    /* The scans array of one: the scan this command asked for. */
    struct lk_model one = *m;
    one.scans = (struct lk_model_scan *)sc;
    one.nscans = 1;
    lk_json_key(stdout, &f, "scan");
    lk_json_scans(stdout, &one);
    lk_json_key(stdout, &f, "sites");
    fputc('[', stdout);
    struct lk_sym_frame fr[256];
    for (size_t i = 0; i < nlost; i++) {
        const struct lk_model_site *s = &m->sites[lost[i]->site];
        int g = 1;
        fputs(i ? ",\n{" : "\n{", stdout);
        lk_json_key(stdout, &g, "site");
        lk_json_u64(stdout, lost[i]->id);
        lk_json_key(stdout, &g, "scan");
        lk_json_site_scan(stdout, m, lost[i], sym, o->content);
        size_t total = 0,
               n = s->has_stack ? lk_symbolize_stack(sym, s, 1, fr, o->frames, &total) : 0;
        lk_json_key(stdout, &g, "frames_total");
        lk_json_u64(stdout, total);
        lk_json_key(stdout, &g, "frames");
        fputc('[', stdout);
        for (size_t k = 0; k < n; k++) {
            fputs(k ? "," : "", stdout);
            lk_json_frame(stdout, &fr[k]);
        }
        fputs("]}", stdout);
    }
    fputs("]}\n", stdout);
}

/* Loads the recording and prints its latest scan. 0 nothing lost, 1 lost,
 * 2 after a sentence. */
static int
report_scan(const char *path, const struct scan_opts *o)
{
    struct lk_model m;
    struct lk_analysis a;
    struct lk_symbolizer *sym = NULL;
    struct lk_site_verdict **lost = NULL;
    int status = 2;
    memset(&a, 0, sizeof a);
    if (lk_model_load(&m, path) < 0) {
        lk_cli_error("scan: %s", m.errmsg);
        goto out;
    }
    if (!m.nscans) {
        lk_cli_error("scan: %s: the scan record could not be read back", path);
        goto out;
    }
    if (lk_verdict_analyze(&m, &a) < 0 || !(sym = lk_symbolize_open(&m)) ||
        !(lost = calloc(a.nsites ? a.nsites : 1, sizeof *lost))) {
        lk_cli_error("scan: %s: out of memory", path);
        goto out;
    }
    size_t scan = m.nscans - 1, nlost = 0;
    for (size_t i = 0; i < a.nsites; i++)
        if (a.sites[i].reach.scan == scan && lk_reach_lost_count(&a.sites[i].reach.at))
            lost[nlost++] = &a.sites[i];
    qsort(lost, nlost, sizeof *lost, cmp_lost);
    if (o->json)
        print_json(&m, scan, lost, nlost, sym, o, path);
    else
        print_text(&m, &m.scans[scan], lost, nlost, sym, o, path);
    fflush(stdout);
    status = nlost ? 1 : 0;
out:
    free(lost);
    lk_symbolize_close(sym);
    lk_verdict_free(&a);
    lk_model_free(&m);
    return status;
}

int
lk_cmd_scan(int argc, char **argv)
{
    struct scan_opts o;
    char path[PATH_MAX], req[PATH_MAX + 8];
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!alive(o.pid)) {
        lk_cli_error("scan: no process with pid %d", (int)o.pid);
        return 2;
    }
    if (o.file) {
        if (!is_recording(o.file)) {
            lk_cli_error("scan: %s: not a leakscope recording", o.file);
            return 2;
        }
        snprintf(path, sizeof path, "%s", o.file);
    } else if (find_recording(o.pid, path, sizeof path)) {
        return 2;
    }

    struct follow fl;
    memset(&fl, 0, sizeof fl);
    fl.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fl.fd < 0) {
        lk_cli_error("scan: %s: %s", path, lk_cli_why(errno));
        return 2;
    }
    int status = 2, created = 0;
    if (follow_poll(&fl, path) < 0) {
        lk_cli_error("scan: %s: not a readable leakscope recording", path);
        goto out;
    }
    if (fl.minor < 3) {
        lk_cli_error("scan: %s: the agent writes format 1.%u, which predates reachability scans "
                     "(1.3); run the program with a newer agent",
                     path, fl.minor);
        goto out;
    }
    uint64_t before = fl.scans;
    if ((size_t)snprintf(req, sizeof req, "%s.scan", path) >= sizeof req) {
        lk_cli_error("scan: %s: the path is too long", path);
        goto out;
    }
    int rfd = open(req, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (rfd >= 0) {
        close(rfd);
        created = 1;
    } else if (errno == EEXIST) {
        lk_cli_error("scan: a scan request is already pending (%s); waiting for it", req);
    } else {
        lk_cli_error("scan: cannot create the request %s: %s", req, lk_cli_why(errno));
        goto out;
    }

    unsigned timeout =
        o.timeout_s ? o.timeout_s : SCAN_TIMEOUT_S + (unsigned)((fl.period_ms + 999) / 1000);
    if (!o.json)
        lk_cli_error("scan: asked process %d for a scan; waiting up to %u s", (int)o.pid, timeout);
    for (unsigned waited = 0;; waited += POLL_MS) {
        if (follow_poll(&fl, path) < 0) {
            lk_cli_error("scan: %s: the recording became unreadable while waiting", path);
            goto out;
        }
        if (fl.scans > before) {
            created = 0; /* the agent took it */
            status = report_scan(path, &o);
            goto out;
        }
        if (!alive(o.pid)) {
            lk_cli_error("scan: process %d ended before it wrote a scan", (int)o.pid);
            goto out;
        }
        if (waited >= timeout * 1000u) {
            struct stat st;
            if (lstat(req, &st) == 0)
                lk_cli_error("scan: process %d did not take the request within %u s (%s is "
                             "still there): its agent may predate on-demand scans, or scans "
                             "are off in it",
                             (int)o.pid, timeout, req);
            else
                lk_cli_error("scan: process %d took the request but wrote no scan within %u s "
                             "(try a longer --timeout)",
                             (int)o.pid, timeout);
            goto out;
        }
        sleep_ms(POLL_MS);
    }
out:
    if (created)
        unlink(req); /* not taken: do not leave a request to surprise the agent later */
    close(fl.fd);
    free(fl.buf);
    return status;
}
