/* `leakscope run` (work in progress). */
#include "cli.h"
int lk_cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 2; }
