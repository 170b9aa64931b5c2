/* `leakscope report` (work in progress). */
#include "cli.h"
int lk_cmd_report(int argc, char **argv) { (void)argc; (void)argv; return 2; }
int lk_cli_report_file(const char *path, const struct lk_report_opts *opts, FILE *out) { (void)path; (void)opts; (void)out; return 2; }
