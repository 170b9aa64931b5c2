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
int lk_cmd_html(int argc, char **argv);
int lk_cmd_export(int argc, char **argv);
int lk_cmd_diff(int argc, char **argv);
int lk_cmd_watch(int argc, char **argv);
int lk_cmd_scan(int argc, char **argv);

/* Report options shared by `report` and `run` (which reports at the end). */
struct lk_report_opts {
    int json;          /* JSON instead of text */
    int top;           /* suspects to show in detail; 0 = default */
    int frames;        /* frames per stack to show; 0 = default */
    int all;           /* list every site, not only the interesting ones */
    int content;       /* show the scans' content samples (--content) */
};

/* Loads, symbolizes, analyses and renders the recording at path to out.
 * Returns 0, or 2 with one sentence on stderr when the file cannot be read. */
int lk_cli_report_file(const char *path, const struct lk_report_opts *opts, FILE *out);

struct lk_model;
struct lk_analysis;
struct lk_symbolizer;

/* Loads, analyses and opens a symbolizer for the recording at path (what
 * report does first). 0, or 2 with one sentence on stderr; in both cases
 * lk_cli_unload() releases what was set up. (cmd_html.c) */
int lk_cli_load(const char *path, struct lk_model *m, struct lk_analysis *a,
                struct lk_symbolizer **sym);
void lk_cli_unload(struct lk_model *m, struct lk_analysis *a, struct lk_symbolizer *sym);

/* The output of a command: path opened for writing ("-" or NULL: stdout).
 * NULL with the reason on stderr. Close with lk_cli_close_out(), which
 * returns 0, or 2 with a sentence when the data could not be written. */
FILE *lk_cli_open_out(const char *verb, const char *path);
int lk_cli_close_out(const char *verb, const char *path, FILE *f);

/* Reads a whole file into a malloc'd buffer; 0 or -errno. */
int lk_cli_read_file(const char *path, uint8_t **data, size_t *len);

/* Prints "leakscope: " + message + newline on stderr. */
void lk_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
