/* `leakscope watch`: records a process's memory without the agent, for
 * programs that cannot be restarted under it or whose heap is managed.
 * Samples /proc every period (watch/watch.c), writes each snapshot to the
 * recording as it is taken (so report and html work while it runs), and
 * at the end prints the process-level verdict. With --cmd it starts the
 * command itself and stops when it exits, or ends it (SIGTERM, then
 * SIGKILL after 2 s) when --duration runs out. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../record/writer.h"
#include "../watch/watch.h"
#include "cli.h"

extern char **environ;

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: leakscope watch [options] PID\n"
                 "       leakscope watch [options] --cmd CMD [ARGS...]\n"
                 "\n"
                 "Samples a process's memory from /proc without the agent (RSS, anonymous and\n"
                 "file-backed pages, heap/anonymous/stack/file mappings from smaps, threads,\n"
                 "the cgroup limit), writes a recording that report, html and diff read, and\n"
                 "prints the process-level verdict when the process exits, --duration runs out\n"
                 "or on Ctrl-C.\n"
                 "\n"
                 "  -o FILE         recording (default leakscope.watch.PID.lsr); --force\n"
                 "                  replaces an existing file\n"
                 "  --period MS     sampling period in milliseconds (default 1000, min 10)\n"
                 "  --duration S    stop after S seconds (--cmd: then end the command)\n"
                 "  --json          print the verdict as JSON (docs/HTML.md, \"watch\")\n"
                 "  --quiet         no progress lines on stderr\n");
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
grow(struct lk_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p)
        return -ENOMEM;
    w->buf = p;
    w->cap = cap;
    return 0;
}

/* Writes what w holds to fd and forgets it. 0 or -errno. */
static int
flush(struct lk_writer *w, int fd)
{
    if (w->err)
        return w->err;
    for (size_t off = 0; off < w->len;) {
        ssize_t k = write(fd, w->buf + off, w->len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        off += (size_t)k;
    }
    lk_writer_reset(w);
    return 0;
}

static int
parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* Small files of /proc/PID into buf; length (0 when unreadable). */
static size_t
proc_file(pid_t pid, const char *what, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

int
lk_cmd_watch(int argc, char **argv)
{
    const char *outpath = NULL;
    double period_ms = 1000, duration = 0;
    int json = 0, quiet = 0, force = 0, cmd_at = 0;
    pid_t pid = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--cmd") || !strcmp(arg, "--")) {
            cmd_at = i + 1;
            break;
        } else if (!strcmp(arg, "--json")) {
            json = 1;
        } else if (!strcmp(arg, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(arg, "--force")) {
            force = 1;
        } else if (!strcmp(arg, "-o") || !strcmp(arg, "--period") || !strcmp(arg, "--duration")) {
            if (i + 1 >= argc) {
                lk_cli_error("watch: %s needs an argument", arg);
                return 2;
            }
            const char *v = argv[++i];
            if (arg[1] == 'o') {
                outpath = v;
            } else if (arg[2] == 'p' ? parse_num(v, 10, 86400000, &period_ms)
                                     : parse_num(v, 0.01, 1e9, &duration)) {
                lk_cli_error("watch: %s: '%s' is not a valid %s", arg, v,
                             arg[2] == 'p' ? "period (10 ms or more)" : "duration in seconds");
                return 2;
            }
        } else if (arg[0] == '-' && arg[1]) {
            lk_cli_error("watch: unknown option '%s' (try 'leakscope watch --help')", arg);
            return 2;
        } else if (pid) {
            lk_cli_error("watch: one process at a time");
            return 2;
        } else {
            double v;
            if (parse_num(arg, 1, 4194304, &v) || v != (double)(pid_t)v) {
                lk_cli_error("watch: '%s' is not a process id (use --cmd to start a command)", arg);
                return 2;
            }
            pid = (pid_t)v;
        }
    }
    if (cmd_at && pid) {
        lk_cli_error("watch: give a PID or --cmd, not both");
        return 2;
    }
    if (cmd_at && cmd_at >= argc) {
        lk_cli_error("watch: --cmd needs a command");
        return 2;
    }
    if (!cmd_at && !pid) {
        lk_cli_error("watch: no process given (usage: leakscope watch PID | --cmd CMD...)");
        return 2;
    }
    if (pid && kill(pid, 0) < 0 && errno == ESRCH) {
        lk_cli_error("watch: no process %d", (int)pid);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (cmd_at) {
        int err = posix_spawnp(&pid, argv[cmd_at], NULL, NULL, argv + cmd_at, environ);
        if (err) {
            lk_cli_error("watch: cannot start %s: %s", argv[cmd_at], strerror(err));
            return 2;
        }
    }

    char defpath[64];
    if (!outpath) {
        snprintf(defpath, sizeof defpath, "leakscope.watch.%d.lsr", (int)pid);
        outpath = defpath;
    }
    int fd = open(outpath, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL),
                  0600);
    int status = 2;
    struct lk_writer w;
    lk_writer_init(&w, NULL, 0, grow, NULL);
    if (fd < 0) {
        lk_cli_error("watch: cannot create %s: %s%s", outpath, strerror(errno),
                     errno == EEXIST ? " (use --force to replace it)" : "");
        goto stop_child;
    }

    /* INFO: what /proc says about the process. */
    static char cmdline[65536], exe[4096], status_txt[4096];
    size_t ncmd = proc_file(pid, "cmdline", cmdline, sizeof cmdline);
    ssize_t nexe;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    nexe = readlink(link, exe, sizeof exe);
    size_t nst = proc_file(pid, "status", status_txt, sizeof status_txt - 1);
    status_txt[nst] = 0;
    const char *pp = strstr(status_txt, "\nPPid:");
    struct utsname un;
    uname(&un);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t t0 = mono_ns();
    struct lk_info info;
    memset(&info, 0, sizeof info);
    info.pid = (uint64_t)pid;
    info.ppid = pp ? strtoull(pp + 6, NULL, 10) : 0;
    info.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
    info.page_size = (uint64_t)sysconf(_SC_PAGESIZE);
    info.period_ms = (uint64_t)period_ms;
    info.flags = LK_INFO_WATCH;
    info.pointer_bytes = sizeof(void *);
    info.arch = (struct lk_bytes){(const uint8_t *)un.machine, strlen(un.machine)};
    info.exe = (struct lk_bytes){(const uint8_t *)exe, nexe > 0 ? (size_t)nexe : 0};
    info.cmdline = (struct lk_bytes){(const uint8_t *)cmdline, ncmd};
    info.agent_version = (struct lk_bytes){(const uint8_t *)LK_VERSION, strlen(LK_VERSION)};
    lk_writer_file_header(&w);
    lk_write_info(&w, &info);
    if (flush(&w, fd) < 0) {
        lk_cli_error("watch: cannot write %s: %s", outpath, strerror(-w.err ? -w.err : EIO));
        goto stop_child;
    }
    if (!quiet)
        fprintf(stderr, "leakscope: watching pid %d every %.0f ms, recording to %s\n", (int)pid,
                period_ms, outpath);

    /* The sampling loop: bounded by the process's life, --duration and
     * signals. */
    double start = mono_s(), next_status = start + 5;
    uint64_t seq = 0;
    int exited = 0, wstatus = 0, werr = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        if (cmd_at && waitpid(pid, &wstatus, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        struct lk_watch_sample s;
        uint64_t now = mono_ns() - t0;
        int rc = lk_watch_sample(pid, &s);
        if (rc == -ENOENT || rc == -ESRCH) {
            exited = 1;
            break;
        }
        if (rc < 0) {
            lk_cli_error("watch: cannot read /proc/%d: %s", (int)pid, strerror(-rc));
            werr = 1;
            break;
        }
        lk_write_snapshot_begin(&w, seq, now, seq, s.proc, LK_WATCH_NPROC, NULL, NULL, 0);
        lk_write_snapshot_end(&w);
        if (flush(&w, fd) < 0) {
            lk_cli_error("watch: cannot write %s: %s", outpath, strerror(w.err ? -w.err : EIO));
            werr = 1;
            break;
        }
        seq++;
        double t = mono_s();
        if (!quiet && t >= next_status) {
            fprintf(stderr, "leakscope: %.0f s, rss %.1f MiB, %llu snapshots\n", t - start,
                    (double)s.proc[LK_PROC_RSS] / 1048576.0, (unsigned long long)seq);
            next_status += 5;
        }
        if (stop_signal || (duration > 0 && t - start >= duration))
            break;
        uint64_t step = (uint64_t)(period_ms * 1e6);
        uint64_t ns = (uint64_t)next.tv_nsec + step;
        next.tv_sec += (time_t)(ns / 1000000000ull);
        next.tv_nsec = (long)(ns % 1000000000ull);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR &&
               !stop_signal)
            ;
    }
    if (cmd_at && !exited) {
        /* --duration ran out or we were interrupted: end the command. */
        kill(pid, stop_signal ? stop_signal : SIGTERM);
        for (int i = 0; i < 200 && waitpid(pid, &wstatus, WNOHANG) != pid; i++)
            usleep(10000);
        if (kill(pid, 0) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &wstatus, 0);
        }
        exited = 1;
    }
    if (cmd_at && exited && WIFSIGNALED(wstatus))
        lk_write_end(&w, mono_ns() - t0, LK_END_SIGNAL, (uint64_t)WTERMSIG(wstatus));
    else if (cmd_at && exited)
        lk_write_end(&w, mono_ns() - t0, LK_END_EXIT, (uint64_t)WEXITSTATUS(wstatus));
    else
        lk_write_end(&w, mono_ns() - t0, LK_END_AGENT, 0); /* the watcher stopped */
    if (flush(&w, fd) < 0 || close(fd) < 0) {
        lk_cli_error("watch: cannot write %s", outpath);
        werr = 1;
    }
    fd = -1;
    free(w.buf);
    w.buf = NULL;
    if (werr)
        return 2;

    /* The verdict. */
    struct lk_model m;
    struct lk_analysis a;
    struct lk_watch_verdict v;
    memset(&a, 0, sizeof a);
    if (lk_model_load(&m, outpath) < 0) {
        lk_cli_error("%s", m.errmsg);
        lk_model_free(&m);
        return 2;
    }
    if (!m.nsnaps) {
        lk_cli_error("watch: no snapshot was taken (the process ended at once)");
    } else if (lk_verdict_analyze(&m, &a) < 0 || lk_watch_analyze(&m, &a, &v) < 0) {
        lk_cli_error("watch: out of memory while analysing");
    } else {
        status = json ? lk_watch_render_json(stdout, &m, &a, &v)
                      : lk_watch_render_text(stdout, &m, &a, &v);
        status = status < 0 ? 2 : 0;
        if (!quiet)
            fprintf(stderr, "leakscope: recording kept in %s\n", outpath);
    }
    lk_verdict_free(&a);
    lk_model_free(&m);
    return status;

stop_child:
    if (fd >= 0)
        close(fd);
    free(w.buf);
    if (cmd_at) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return 2;
}
