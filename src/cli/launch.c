/* Starting a command under the agent (launch.h), for `run` and `check`.
 * Before anything runs it checks what would make the recording silently
 * empty (a missing, static, setuid or foreign-class program; an uncreatable
 * output file) and refuses with one sentence. While the child runs it
 * forwards signals sent to us, prints a live status line built from /proc
 * and from the recording as the agent appends to it, and stops the child
 * when a duration was asked for. Everything of ours goes to stderr: the
 * child's stdout is never touched. Single-threaded; allocates freely. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "cli.h"
#include "launch.h"
#include "record/format.h"
#include "record/reader.h"

#define AGENT_NAME "libleakscope.so"
#define RATE_WINDOW_NS (30ull * 1000000000ull) /* growth rate over the last 30 s */
#define RING 128                               /* snapshots remembered for the rate */
#define READ_CHUNK (1u << 20)
#define READ_MAX_PER_POLL (64u << 20) /* bounds one status poll on a huge backlog */

/* ---- small helpers ---------------------------------------------------- */

/* strerror with a lower-case first letter, to read as the end of a sentence. */
const char *
lk_cli_why(int err)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

int
lk_cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int
lk_cli_check_size(const char *s)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s || p - s > 12)
        return -1;
    if (*p && strchr("kKmMgG", *p))
        p++;
    if (p[0] == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B')
        p++;
    return *p ? -1 : 0;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "12 B", "310 KiB", "4.5 KiB", "48.2 MiB", "1.3 GiB". */
static void
fmt_bytes(char *buf, size_t cap, double v)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f B", v);
    else if (u == 1 && v >= 10.0)
        snprintf(buf, cap, "%.0f KiB", v);
    else
        snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

/* ---- options ---------------------------------------------------------- */

int
lk_launch_parse_opt(const char *verb, int argc, char **argv, int *i, struct lk_launch_opts *o)
{
    const char *a = argv[*i], *v;
    int missing = 0;
    if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
        o->force = 1;
    } else if ((v = lk_cli_opt_value(argc, argv, i, "-o", "--output", &missing))) {
        if (!*v) {
            lk_cli_error("%s: -o needs a file name", verb);
            return 2;
        }
        o->out = v;
    } else if ((v = lk_cli_opt_value(argc, argv, i, NULL, "--period", &missing))) {
        if (lk_cli_parse_uint(v, 10, 86400000, &o->period_ms) < 0) {
            lk_cli_error("%s: --period %s: expected milliseconds between 10 and 86400000", verb,
                         v);
            return 2;
        }
    } else if ((v = lk_cli_opt_value(argc, argv, i, NULL, "--sample", &missing))) {
        if (lk_cli_check_size(v) < 0) {
            lk_cli_error("%s: --sample %s: expected a size in bytes such as 524288 or 512K", verb,
                         v);
            return 2;
        }
        o->sample = v;
    } else if ((v = lk_cli_opt_value(argc, argv, i, NULL, "--depth", &missing))) {
        if (lk_cli_parse_uint(v, 1, LK_MAX_FRAMES, &o->depth) < 0) {
            lk_cli_error("%s: --depth %s: expected a number of frames from 1 to %d", verb, v,
                         LK_MAX_FRAMES);
            return 2;
        }
    } else if ((v = lk_cli_opt_value(argc, argv, i, NULL, "--status-every", &missing))) {
        if (lk_cli_parse_uint(v, 0, 86400, &o->status_s) < 0) {
            lk_cli_error("%s: --status-every %s: expected seconds (0 turns it off)", verb, v);
            return 2;
        }
    } else if ((v = lk_cli_opt_value(argc, argv, i, NULL, "--scan-every", &missing))) {
        unsigned n;
        if (lk_cli_parse_uint(v, 0, 1000000, &n) < 0) {
            lk_cli_error("%s: --scan-every %s: expected a number of periods (0 turns it off)",
                         verb, v);
            return 2;
        }
        o->scan_every = v;
    } else if (!strcmp(a, "--no-exit-scan")) {
        o->no_exit_scan = 1;
    } else if (!strcmp(a, "--content")) {
        o->content = LK_LAUNCH_CONTENT_DEFAULT;
    } else if (!strncmp(a, "--content=", 10)) {
        unsigned n;
        if (lk_cli_parse_uint(a + 10, 1, LK_SCAN_CONTENT, &n) < 0) {
            lk_cli_error("%s: %s: expected a number of bytes from 1 to %d", verb, a,
                         LK_SCAN_CONTENT);
            return 2;
        }
        o->content = a + 10;
    } else if (missing) {
        lk_cli_error("%s: %s needs a value", verb, a);
        return 2;
    } else {
        return 0;
    }
    return 1;
}

/* Value of an option given as "--name VALUE" or "--name=VALUE"; NULL when
 * argv[*i] is not this option. Advances *i past a separate value. */
const char *
lk_cli_opt_value(int argc, char **argv, int *i, const char *shrt, const char *lng, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(lng);
    if ((shrt && !strcmp(a, shrt)) || !strcmp(a, lng)) {
        if (*i + 1 >= argc) {
            *missing = 1;
            return NULL;
        }
        return argv[++*i];
    }
    if (!strncmp(a, lng, n) && a[n] == '=')
        return a + n + 1;
    if (shrt && !strncmp(a, shrt, 2) && a[2] && shrt[1] == a[1] && shrt[2] == 0)
        return a + 2; /* -oFILE */
    return NULL;
}

/* ---- finding the agent ------------------------------------------------ */

static int
readable_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, R_OK) == 0;
}

/* The agent next to the executable (the build tree), then in the install
 * layout (PREFIX/bin/leakscope, PREFIX/lib/leakscope/libleakscope.so). An
 * explicit LEAKSCOPE_AGENT wins over both: an override that a default
 * silently shadowed would surprise whoever set it. */
static int
find_agent(char *out, size_t cap)
{
    const char *env = getenv("LEAKSCOPE_AGENT");
    if (env && *env) {
        if (env[0] != '/') {
            lk_cli_error("LEAKSCOPE_AGENT=%s: the agent's path must be absolute", env);
            return -1;
        }
        if (!readable_file(env)) {
            lk_cli_error("LEAKSCOPE_AGENT=%s: no readable agent library there", env);
            return -1;
        }
        snprintf(out, cap, "%s", env);
        return 0;
    }

    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            static const char *const rel[] = {
                "/" AGENT_NAME,
                "/../lib/leakscope/" AGENT_NAME,
                "/../lib64/leakscope/" AGENT_NAME,
#if defined(__x86_64__)
                "/../lib/x86_64-linux-gnu/leakscope/" AGENT_NAME,
#elif defined(__aarch64__)
                "/../lib/aarch64-linux-gnu/leakscope/" AGENT_NAME,
#endif
            };
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                char cand[PATH_MAX];
                if ((size_t)snprintf(cand, sizeof cand, "%s%s", self, rel[i]) >= sizeof cand)
                    continue;
                if (readable_file(cand)) {
                    /* Canonical, so LD_PRELOAD holds no "..": easier to read in ps. */
                    if (!realpath(cand, out))
                        snprintf(out, cap, "%s", cand);
                    return 0;
                }
            }
        }
    }
    lk_cli_error("cannot find the agent (%s) next to leakscope or in ../lib/leakscope; "
                 "build it, or set LEAKSCOPE_AGENT to its absolute path",
                 AGENT_NAME);
    return -1;
}

/* ---- checking the program --------------------------------------------- */

/* Looks cmd up the way execvp does. 0 with the path in out; otherwise
 * prints why and returns -1. */
static int
resolve_command(const char *cmd, char *out, size_t cap)
{
    struct stat st;
    if (strchr(cmd, '/')) {
        if (stat(cmd, &st) < 0) {
            if (errno == ENOENT)
                lk_cli_error("%s: no such file", cmd);
            else
                lk_cli_error("%s: %s", cmd, lk_cli_why(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            lk_cli_error("%s: is a directory, not a program", cmd);
            return -1;
        }
        if (!S_ISREG(st.st_mode) || access(cmd, X_OK) < 0) {
            lk_cli_error("%s: permission denied: not an executable file", cmd);
            return -1;
        }
        snprintf(out, cap, "%s", cmd);
        return 0;
    }

    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin"; /* glibc's execvp default */
    int denied = 0;
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char cand[PATH_MAX];
        int len;
        if (n == 0)
            len = snprintf(cand, sizeof cand, "%s", cmd); /* empty entry: the cwd */
        else
            len = snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, cmd);
        if (len > 0 && (size_t)len < sizeof cand && stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0) {
                snprintf(out, cap, "%s", cand);
                return 0;
            }
            denied = 1;
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    if (denied)
        lk_cli_error("%s: permission denied: found in PATH but not executable", cmd);
    else
        lk_cli_error("%s: command not found", cmd);
    return -1;
}

/* Returns 1 when a DT_NEEDED entry of the ELF names another malloc. */
static int
needs_other_allocator(Elf *elf, char *which, size_t cap)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data)
            continue;
        size_t n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < n && i < 4096; i++) {
            GElf_Dyn dyn;
            if (!gelf_getdyn(data, (int)i, &dyn))
                break;
            if (dyn.d_tag == DT_NULL)
                break;
            if (dyn.d_tag != DT_NEEDED)
                continue;
            const char *name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
            if (name && (strstr(name, "libjemalloc") || strstr(name, "libtcmalloc") ||
                         strstr(name, "libmimalloc"))) {
                snprintf(which, cap, "%s", name);
                return 1;
            }
        }
    }
    return 0;
}

enum elf_verdict { ELF_OK, ELF_NOT_ELF, ELF_REFUSED };

/* Checks an ELF program the agent is to be preloaded into. `shown` is the
 * name used in messages. ELF_NOT_ELF for anything else (a script). */
static enum elf_verdict
check_elf(const char *path, const char *shown)
{
    enum elf_verdict v = ELF_NOT_ELF;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ELF_NOT_ELF; /* exec will say why */
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF)
        goto out;

    v = ELF_OK;
    int cls = gelf_getclass(elf);
    int want = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
    if (cls != want) {
        lk_cli_error("%s is a %d-bit program: the agent is built for %d-bit programs and "
                     "cannot be preloaded into it",
                     shown, cls == ELFCLASS64 ? 64 : 32, want == ELFCLASS64 ? 64 : 32);
        v = ELF_REFUSED;
        goto out;
    }
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh))
        goto out;
#if defined(__x86_64__)
    if (eh.e_machine != EM_X86_64) {
#elif defined(__aarch64__)
    if (eh.e_machine != EM_AARCH64) {
#else
    if (0) {
#endif
        lk_cli_error("%s is built for another machine (ELF e_machine %u): the agent cannot be "
                     "preloaded into it",
                     shown, (unsigned)eh.e_machine);
        v = ELF_REFUSED;
        goto out;
    }
    size_t nph = 0;
    int interp = 0;
    if (elf_getphdrnum(elf, &nph) == 0) {
        for (size_t i = 0; i < nph; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_INTERP)
                interp = 1;
        }
    }
    if (!interp) {
        lk_cli_error("%s is statically linked: the agent cannot be preloaded into it", shown);
        v = ELF_REFUSED;
        goto out;
    }
    char other[256];
    if (needs_other_allocator(elf, other, sizeof other))
        lk_cli_error("warning: %s is linked with %s; leakscope's agent takes over malloc from "
                     "it, so while tracked its allocations go to glibc's malloc",
                     shown, other);
out:
    if (elf)
        elf_end(elf);
    close(fd);
    return v;
}

/* The interpreter of a "#!" script, or "" when path is not one. */
static void
script_interpreter(const char *path, char *out, size_t cap)
{
    char buf[256];
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 3 || buf[0] != '#' || buf[1] != '!')
        return;
    buf[n] = 0;
    char *p = buf + 2;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strcspn(p, " \t\r\n");
    if (len && len < cap) {
        memcpy(out, p, len);
        out[len] = 0;
    }
}

/* 0 when the agent can be preloaded into the program at path; otherwise the
 * reason is printed and -1 returned. */
static int
check_program(const char *path, const char *shown)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
        lk_cli_error("%s is set-%cid: the dynamic loader ignores LD_PRELOAD for it, so the "
                     "agent cannot be loaded",
                     shown, st.st_mode & S_ISUID ? 'u' : 'g');
        return -1;
    }
    enum elf_verdict v = check_elf(path, shown);
    if (v == ELF_REFUSED)
        return -1;
    if (v == ELF_NOT_ELF) {
        /* A script is fine: its interpreter gets the agent. Check that one. */
        char interp[PATH_MAX];
        script_interpreter(path, interp, sizeof interp);
        if (interp[0] == '/') {
            char shown_interp[PATH_MAX + 64];
            snprintf(shown_interp, sizeof shown_interp, "%s (the interpreter of %s)", interp,
                     shown);
            if (stat(interp, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
                lk_cli_error("%s is set-%cid: the dynamic loader ignores LD_PRELOAD for it",
                             shown_interp, st.st_mode & S_ISUID ? 'u' : 'g');
                return -1;
            }
            if (check_elf(interp, shown_interp) == ELF_REFUSED)
                return -1;
        }
    }
    return 0;
}

/* ---- the output file -------------------------------------------------- */

/* Proves the recording can be created where asked, then removes the proof
 * so the agent can create it itself with O_EXCL. */
static int
check_output(const char *path, int force)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        if (!force) {
            lk_cli_error("%s: already exists; choose another -o FILE or pass --force to "
                         "replace it",
                         path);
            return -1;
        }
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            lk_cli_error("%s: cannot create the recording: is a directory", path);
            return -1;
        }
        if (unlink(path) < 0) {
            lk_cli_error("%s: cannot replace the existing file: %s", path, lk_cli_why(errno));
            return -1;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        lk_cli_error("%s: cannot create the recording: %s", path, lk_cli_why(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

/* ---- following the recording while it grows -------------------------- */

struct tail {
    const char *path;
    int fd;       /* -1 until the agent has created the file */
    int broken;   /* a malformed record was met: stop reading */
    uint8_t *buf; /* file header + bytes read but not yet walked */
    size_t len, cap;
    uint64_t nsnap;      /* snapshots seen */
    uint64_t rss;        /* LK_PROC_RSS of the latest snapshot */
    uint64_t t[RING];    /* snapshot time_ns, ring */
    uint64_t heap[RING]; /* LK_PROC_HEAP_LIVE, ring */
};

static void
tail_record(struct tail *t, const struct lk_record *rec)
{
    struct lk_snapshot s;
    if (rec->type != LK_REC_SNAPSHOT || lk_snapshot_decode(rec->payload, rec->len, &s) < 0)
        return;
    size_t k = (size_t)(t->nsnap % RING);
    t->t[k] = s.time_ns;
    t->heap[k] = s.proc[LK_PROC_HEAP_LIVE];
    t->rss = s.proc[LK_PROC_RSS];
    t->nsnap++;
}

/* Reads what the agent appended since the last call and walks the complete
 * records in it; an incomplete last record stays buffered for next time. */
static void
tail_poll(struct tail *t)
{
    if (t->broken)
        return;
    struct stat now, ours;
    if (t->fd >= 0 && stat(t->path, &now) == 0 && fstat(t->fd, &ours) == 0 &&
        (now.st_ino != ours.st_ino || now.st_dev != ours.st_dev)) {
        /* The agent thinned the recording: a new file took its name. Read
         * it from the start; what follows on the screen stays the same. */
        close(t->fd);
        t->fd = -1;
        t->len = 0;
        t->nsnap = 0;
    }
    if (t->fd < 0) {
        t->fd = open(t->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (t->fd < 0)
            return;
    }
    size_t got = 0;
    while (got < READ_MAX_PER_POLL) {
        if (t->cap - t->len < READ_CHUNK) {
            size_t cap = t->cap ? t->cap * 2 : 2 * READ_CHUNK;
            uint8_t *p = realloc(t->buf, cap);
            if (!p)
                break;
            t->buf = p;
            t->cap = cap;
        }
        ssize_t n = read(t->fd, t->buf + t->len, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        t->len += (size_t)n;
        got += (size_t)n;
    }
    if (t->len < LK_FILE_HEADER_LEN)
        return;

    struct lk_reader r;
    struct lk_record rec;
    if (lk_reader_open(&r, t->path, t->buf, t->len) < 0) {
        t->broken = 1;
        return;
    }
    int rc;
    while ((rc = lk_reader_next(&r, &rec)) == 1)
        tail_record(t, &rec);
    if (rc < 0) {
        t->broken = 1;
        return;
    }
    /* Keep the header in front so the next walk can open the buffer again. */
    memmove(t->buf + LK_FILE_HEADER_LEN, t->buf + r.off, t->len - r.off);
    t->len = LK_FILE_HEADER_LEN + (t->len - r.off);
}

static void
tail_close(struct tail *t)
{
    if (t->fd >= 0)
        close(t->fd);
    free(t->buf);
    t->buf = NULL;
    t->fd = -1;
}

/* Bytes per second of live heap growth over the last RATE_WINDOW_NS of
 * snapshots; 0 with *ok = 0 when there are not two snapshots yet. */
static double
tail_rate(const struct tail *t, int *ok)
{
    *ok = 0;
    if (t->nsnap < 2)
        return 0;
    uint64_t last = t->nsnap - 1;
    uint64_t oldest = t->nsnap > RING ? t->nsnap - RING : 0;
    uint64_t tl = t->t[last % RING];
    uint64_t from = last - 1;
    while (from > oldest && tl - t->t[(from - 1) % RING] <= RATE_WINDOW_NS)
        from--;
    uint64_t t0 = t->t[from % RING];
    if (tl <= t0)
        return 0;
    *ok = 1;
    double d = (double)t->heap[last % RING] - (double)t->heap[from % RING];
    return d / ((double)(tl - t0) / 1e9);
}

static uint64_t
child_rss(pid_t pid)
{
    char p[64], buf[128];
    snprintf(p, sizeof p, "/proc/%d/statm", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void
print_status(struct tail *t, pid_t pid, uint64_t elapsed_ns)
{
    char line[256], rss[32], heap[32], rate[32];
    uint64_t s = elapsed_ns / 1000000000ull;
    int n;
    tail_poll(t);
    uint64_t r = child_rss(pid);
    if (!r)
        r = t->rss;
    fmt_bytes(rss, sizeof rss, (double)r);
    if (s >= 3600)
        n = snprintf(line, sizeof line, "leakscope: %" PRIu64 ":%02u:%02u rss %s", s / 3600,
                     (unsigned)(s / 60 % 60), (unsigned)(s % 60), rss);
    else
        n = snprintf(line, sizeof line, "leakscope: %" PRIu64 ":%02u rss %s", s / 60,
                     (unsigned)(s % 60), rss);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    if (t->nsnap) {
        int ok;
        double bps = tail_rate(t, &ok);
        fmt_bytes(heap, sizeof heap, (double)t->heap[(t->nsnap - 1) % RING]);
        n += snprintf(line + n, sizeof line - (size_t)n, ", live heap %s", heap);
        if (ok) {
            fmt_bytes(rate, sizeof rate, bps < 0 ? -bps : bps);
            n +=
                snprintf(line + n, sizeof line - (size_t)n, " (%c%s/s)", bps < 0 ? '-' : '+', rate);
        }
    } else if (t->broken) {
        n += snprintf(line + n, sizeof line - (size_t)n, ", recording unreadable");
    } else {
        n += snprintf(line + n, sizeof line - (size_t)n, ", no snapshot yet");
    }
    if (n < 0 || (size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write, so the line is not interleaved with the child's output. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

/* ---- running the child ------------------------------------------------ */

/* Signals we pass on. The child stays in our process group, so job control
 * and a terminal's Ctrl-C, Ctrl-\ and hangup reach it directly from the
 * kernel; forwarding those too would deliver them twice (a server that
 * shuts down gracefully on the first SIGINT and hard on the second would
 * notice). So we block these signals, take them with sigtimedwait, and pass
 * on only those sent to us by a process (si_code SI_USER, SI_QUEUE, SI_TKILL:
 * `kill PID`, `timeout`, a service manager), never the kernel's (SI_KERNEL,
 * the tty). A kill() aimed at our whole process group still reaches the
 * child twice; that is the sender's choice. Blocked rather than handled,
 * the child inherits our dispositions unchanged across exec. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void
on_sigchld(int sig)
{
    (void)sig; /* only there so SIGCHLD is queued for sigtimedwait, never ignored */
}

static int
set_env(const char *agent, const char *out_abs, const struct lk_launch_opts *o)
{
    char buf[32];
    const char *pre = getenv("LD_PRELOAD");
    size_t n = strlen(agent) + (pre ? strlen(pre) : 0) + 2;
    char *lp = malloc(n);
    if (!lp)
        return -1;
    if (pre && *pre)
        snprintf(lp, n, "%s:%s", agent, pre);
    else
        snprintf(lp, n, "%s", agent);
    int rc = setenv("LD_PRELOAD", lp, 1);
    free(lp);
    rc |= setenv("LEAKSCOPE_OUT", out_abs, 1);
    snprintf(buf, sizeof buf, "%u", o->period_ms);
    rc |= setenv("LEAKSCOPE_PERIOD_MS", buf, 1);
    if (o->depth) {
        snprintf(buf, sizeof buf, "%u", o->depth);
        rc |= setenv("LEAKSCOPE_DEPTH", buf, 1);
    }
    if (o->sample)
        rc |= setenv("LEAKSCOPE_SAMPLE", o->sample, 1);
    if (o->scan_every)
        rc |= setenv("LEAKSCOPE_SCAN_EVERY", o->scan_every, 1);
    if (o->content)
        rc |= setenv("LEAKSCOPE_SCAN_CONTENT", o->content, 1);
    if (o->no_exit_scan)
        rc |= setenv("LEAKSCOPE_SCAN_AT_EXIT", "0", 1);
    rc |= setenv("LEAKSCOPE_QUIET", "1", 1);
    return rc ? -1 : 0;
}

/* In the child: restore what we changed, set the agent's environment,
 * exec. Our parent is single-threaded, so setenv after fork is safe. */
static void __attribute__((noreturn))
exec_child(const char *prog, char **argv, const char *agent, const char *out_abs,
           const struct lk_launch_opts *o, const sigset_t *oldmask, const struct sigaction *oldchld)
{
    sigaction(SIGCHLD, oldchld, NULL);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    if (set_env(agent, out_abs, o) < 0) {
        lk_cli_error("%s: cannot set up the environment: out of memory", argv[0]);
        _exit(127);
    }
    execv(prog, argv);
    if (errno == ENOEXEC) {
        /* No "#!" and not a binary: execvp's rule is to hand it to sh. */
        int argc = 0;
        while (argv[argc])
            argc++;
        char **sh = calloc((size_t)argc + 2, sizeof *sh);
        if (sh) {
            sh[0] = (char *)"sh";
            sh[1] = (char *)prog;
            for (int i = 1; i < argc; i++)
                sh[i + 1] = argv[i];
            execv("/bin/sh", sh);
        }
    }
    int e = errno;
    lk_cli_error("%s: cannot execute: %s", argv[0], lk_cli_why(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* The recording's name as shown and as given to the agent. 0, or 2 after
 * saying why. */
static int
output_paths(const struct lk_launch_opts *o, struct lk_launch_result *res)
{
    const char *out = o->out;
    if (!out) {
        const char *base = strrchr(o->cmd[0], '/');
        base = base ? base + 1 : o->cmd[0];
        snprintf(res->out, sizeof res->out, "leakscope.%s.%d.lsr", base, (int)getpid());
    } else if ((size_t)snprintf(res->out, sizeof res->out, "%s", out) >= sizeof res->out) {
        lk_cli_error("%s: the recording's path is too long", out);
        return 2;
    }
    if (strstr(res->out, "%p")) {
        /* The agent expands %p in LEAKSCOPE_OUT; we must know the name. */
        lk_cli_error("%s: '%%p' is not expanded by leakscope here; give a plain file name",
                     res->out);
        return 2;
    }
    if (check_output(res->out, o->force) < 0)
        return 2;
    /* Absolute for the agent, so a program that changes directory before
     * the agent opens the file still writes where we look. */
    if (res->out[0] == '/') {
        snprintf(res->out_abs, sizeof res->out_abs, "%s", res->out);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) || (size_t)snprintf(res->out_abs, sizeof res->out_abs, "%s/%s",
                                                         cwd, res->out) >= sizeof res->out_abs)
            snprintf(res->out_abs, sizeof res->out_abs, "%s", res->out);
    }
    return 0;
}

int
lk_launch(const struct lk_launch_opts *o, struct lk_launch_result *res)
{
    memset(res, 0, sizeof *res);
    char agent[PATH_MAX], prog[PATH_MAX];
    if (resolve_command(o->cmd[0], prog, sizeof prog) < 0)
        return 2;
    if (check_program(prog, o->cmd[0]) < 0)
        return 2;
    if (find_agent(agent, sizeof agent) < 0)
        return 2;
    if (strchr(agent, ':') || strchr(agent, ' ')) {
        lk_cli_error("%s: the agent's path holds ':' or a space, which LD_PRELOAD cannot "
                     "carry; install it elsewhere or set LEAKSCOPE_AGENT",
                     agent);
        return 2;
    }
    if (output_paths(o, res))
        return 2;
    if (!o->quiet)
        lk_cli_error("recording to %s", res->out);

    sigset_t set, oldmask;
    struct sigaction sa, oldchld;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(&set, forwarded[i]);
    sigaddset(&set, SIGCHLD);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, &oldchld);
    sigprocmask(SIG_BLOCK, &set, &oldmask);

    fflush(NULL);
    uint64_t start = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        lk_cli_error("cannot start %s: fork failed: %s", o->cmd[0], lk_cli_why(errno));
        sigprocmask(SIG_SETMASK, &oldmask, NULL);
        sigaction(SIGCHLD, &oldchld, NULL);
        return 2;
    }
    if (pid == 0)
        exec_child(prog, o->cmd, agent, res->out_abs, o, &oldmask, &oldchld);

    struct tail t;
    memset(&t, 0, sizeof t);
    t.path = res->out_abs;
    t.fd = -1;
    uint64_t every = (uint64_t)o->status_s * 1000000000ull;
    uint64_t next_status = start + every;
    /* With a duration: SIGTERM at `stop_at`, SIGKILL at `kill_at`. */
    uint64_t stop_at = o->duration_s ? start + (uint64_t)o->duration_s * 1000000000ull : 0;
    uint64_t kill_at = 0;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            lk_cli_error("lost track of %s: %s", o->cmd[0], lk_cli_why(errno));
            status = 0x7f00; /* reads as exit status 127 */
            break;
        }
        uint64_t now = now_ns();
        if (every && now >= next_status) {
            print_status(&t, pid, now - start);
            while (next_status <= now)
                next_status += every;
        }
        if (stop_at && !res->stopped && now >= stop_at) {
            res->stopped = 1;
            kill_at = now + (uint64_t)LK_LAUNCH_GRACE_S * 1000000000ull;
            kill(pid, SIGTERM);
        } else if (kill_at && !res->killed && now >= kill_at) {
            res->killed = 1;
            lk_cli_error("%s did not end within %d s of SIGTERM; sending SIGKILL (the "
                         "recording keeps its last complete snapshot)",
                         o->cmd[0], LK_LAUNCH_GRACE_S);
            kill(pid, SIGKILL);
        }
        /* Sleep until a signal, the child's exit (SIGCHLD), the next status
         * line or the next deadline; at most a second so a missed SIGCHLD
         * costs little. */
        uint64_t wait = 1000000000ull;
        if (every && next_status - now < wait)
            wait = next_status - now;
        uint64_t deadline = !res->stopped ? stop_at : !res->killed ? kill_at : 0;
        if (deadline && deadline > now && deadline - now < wait)
            wait = deadline - now;
        struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);
        if (sig > 0 && sig != SIGCHLD &&
            (si.si_code == SI_USER || si.si_code == SI_QUEUE || si.si_code == SI_TKILL) &&
            si.si_pid != pid)
            kill(pid, sig);
    }
    tail_close(&t);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGCHLD, &oldchld, NULL);

    res->status = status;
    if (WIFSIGNALED(status))
        res->code = 128 + WTERMSIG(status);
    else
        res->code = WEXITSTATUS(status);
    return 0;
}
