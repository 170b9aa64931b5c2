/* libFuzzer target: command-line option parsing of every verb. The input is
 * split at NUL bytes into argv[1..]; argv[0] is the verb, chosen by the
 * first byte. `run` and `check` only parse (their parse_args, reached
 * through fuzz_options_*.c, which include the verbs' sources): nothing is
 * ever executed. `report` and `dump` run whole, from an empty directory
 * with every argument that holds a '/' dropped, so a fuzzed name can only
 * miss. lk_cli_error, normally in main.c, is replaced by one that formats
 * into a buffer and prints nothing. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/launch.h"

int fuzz_run_parse(int argc, char **argv);
int fuzz_check_parse(int argc, char **argv);

void
lk_cli_error(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
}

#define MAX_ARGS 32

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/lkfuzz-options.XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) < 0)
        abort();
    if (!freopen("/dev/null", "w", stdout))
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static const char *const verbs[] = {"run", "check", "report", "dump"};
    if (len < 1 || len > 4096)
        return 0;
    char *copy = malloc(len + 1);
    memcpy(copy, data + 1, len - 1);
    copy[len - 1] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)verbs[data[0] % 4];
    for (char *p = copy; p < copy + len - 1 && argc < MAX_ARGS; p += strlen(p) + 1)
        if (data[0] % 4 < 2 || !strchr(p, '/'))
            argv[argc++] = p;
    argv[argc] = NULL;

    /* Shared helpers, on every argument. */
    for (int i = 1; i < argc; i++) {
        unsigned u;
        int missing = 0, j = i;
        lk_cli_parse_uint(argv[i], 0, 86400000, &u);
        lk_cli_opt_value(argc, argv, &j, "-o", "--output", &missing);
    }
    switch (data[0] % 4) {
    case 0:
        fuzz_run_parse(argc, argv);
        break;
    case 1:
        fuzz_check_parse(argc, argv);
        break;
    case 2:
        lk_cmd_report(argc, argv);
        break;
    default:
        lk_cmd_dump(argc, argv);
        break;
    }
    free(copy);
    return 0;
}
