/* The CLI's commands and what they share. Each verb lives in cmd_<verb>.c
 * and is entered through the table in main.c with its own argv (argv[0] is
 * the verb). Commands print results on stdout and errors on stderr as
 * "leakscope: what: why", and return the process exit status. */
#ifndef LK_CLI_H
#define LK_CLI_H

#include <stdint.h>
#include <stdio.h>

int lk_cmd_run(int argc, char **argv);
int lk_cmd_report(int argc, char **argv);
int lk_cmd_dump(int argc, char **argv);
int lk_cmd_check(int argc, char **argv);

/* Report options shared by `report` and `run` (which reports at the end). */
struct lk_report_opts {
    int json;          /* JSON instead of text */
    int top;           /* suspects to show in detail; 0 = default */
    int frames;        /* frames per stack to show; 0 = default */
    int all;           /* list every site, not only the interesting ones */
};

/* Loads, symbolizes, analyses and renders the recording at path to out.
 * Returns 0, or 2 with one sentence on stderr when the file cannot be read. */
int lk_cli_report_file(const char *path, const struct lk_report_opts *opts, FILE *out);

/* Reads a whole file into a malloc'd buffer; 0 or -errno. */
int lk_cli_read_file(const char *path, uint8_t **data, size_t *len);

/* Prints "leakscope: " + message + newline on stderr. */
void lk_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
