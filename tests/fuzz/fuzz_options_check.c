/* cmd_check.c with its static parse_args and parse_rate reachable from
 * fuzz_options.c; the fuzz build compiles this instead of cmd_check.c. */
#include "../../src/cli/cmd_check.c"

int fuzz_check_parse(int argc, char **argv);

int
fuzz_check_parse(int argc, char **argv)
{
    struct check_opts o;
    double bps;
    for (int i = 1; i < argc; i++)
        parse_rate(argv[i], &bps);
    return parse_args(argc, argv, &o);
}
