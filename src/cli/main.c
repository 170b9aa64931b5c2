/* leakscope's entry point: a table of verbs, each implemented in
 * cmd_<verb>.c. Parses nothing itself beyond the verb, --help and
 * --version. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *summary;
};

static const struct command commands[] = {
    {"run", lk_cmd_run, "run [-o FILE] [options] -- CMD [ARGS...]",
     "run a command under the agent, then report"},
    {"report", lk_cmd_report, "report [--json] [--top N] [--frames N] [--all] FILE",
     "verdict, suspects and stacks of a recording"},
    {"check", lk_cmd_check,
     "check [--max-growth RATE] [--duration S] -- CMD [ARGS...]",
     "CI gate: exit 1 when CMD leaks, 0 when not, 2 when undecided"},
    {"scan", lk_cmd_scan, "scan [-f FILE] [--timeout S] [--json] [--content] PID",
     "ask a running process's agent for a reachability scan now"},
    {"dump", lk_cmd_dump, "dump [-v] FILE", "every record of a recording, one per line"},
    {"html", lk_cmd_html, "html [-o OUT.html] FILE",
     "one self-contained page: charts, flame graphs, evidence"},
    {"export", lk_cmd_export, "export --format pprof|folded|json [--growth] [-o OUT] FILE",
     "for pprof, speedscope, flamegraph.pl, scripts"},
    {"diff", lk_cmd_diff, "diff [--html] [--json] [-o OUT] A B",
     "compare two recordings site by site (before and after a fix)"},
    {"watch", lk_cmd_watch, "watch [-o FILE] [--period MS] [--duration S] PID|--cmd CMD...",
     "no agent: record and judge a process's memory from /proc"},
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: leakscope COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-58s %s\n", commands[i].usage, commands[i].summary);
    fprintf(out, "\n'leakscope COMMAND --help' describes one command's options.\n");
}

void
lk_cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("leakscope: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("leakscope %s\n", LK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    lk_cli_error("unknown command '%s' (try 'leakscope --help')", argv[1]);
    return 2;
}
