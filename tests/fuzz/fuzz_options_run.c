/* cmd_run.c with its static parse_args reachable from fuzz_options.c; the
 * fuzz build compiles this instead of cmd_run.c. */
#include "../../src/cli/cmd_run.c"

int fuzz_run_parse(int argc, char **argv);

int
fuzz_run_parse(int argc, char **argv)
{
    struct run_opts o;
    return parse_args(argc, argv, &o);
}
