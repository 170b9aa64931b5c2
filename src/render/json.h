/* The JSON report, for scripts and tests; the schema is docs/JSON.md. */
#ifndef LK_RENDER_JSON_H
#define LK_RENDER_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../symbolize/symbolize.h"
#include "text.h"

#define LK_JSON_SCHEMA 1 /* bumped when a field changes meaning or goes away */

/* Writes the report of m as one JSON document to out. Sites: the first
 * opts->top of the ranking (all with opts->all), each with up to
 * opts->frames folded frames. 0, or -EIO when out could not be written. */
int lk_render_json(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                   struct lk_symbolizer *sym, const struct lk_render_opts *opts);

/* Writes s (n bytes, any content) as a JSON string literal with quotes:
 * control characters, quotes and backslashes escaped, invalid UTF-8 bytes
 * replaced by U+FFFD, and <, >, &, U+2028 and U+2029 written as \u escapes,
 * so that the same literal is safe inside an HTML <script> (leakscope html)
 * and is still plain JSON. */
void lk_json_string(FILE *out, const char *s, size_t n);

/* The small writers the JSON documents of report, html, diff and watch
 * share: a string or null, a number with `digits` significant digits (null
 * when not finite), an unsigned integer, and `"k":` preceded by a comma
 * unless *first (which it clears). */
void lk_json_str(FILE *out, const char *s);
void lk_json_num(FILE *out, double v, int digits);
void lk_json_u64(FILE *out, uint64_t v);
void lk_json_key(FILE *out, int *first, const char *k);

/* The recording's command line as an array of strings, and its settings as
 * members "arch", "agent_version", "start_realtime_ns", "period_ms",
 * "depth" and "sample_bytes": the part of the recording's description that
 * the JSON report and the HTML page's data share. */
void lk_json_cmdline(FILE *out, const struct lk_model *m);
void lk_json_settings(FILE *out, int *first, const struct lk_model *m);

/* Reachability scans (docs/JSON.md), shared by the report, the HTML page's
 * data and `leakscope scan --json`: the recording's scans as an array; a
 * site's "scan" object (states in the latest scan, lost, held, retainers,
 * and its content samples only when content is set, else how many are
 * hidden); one content sample as {"state","size","birth_period","hex","text"}
 * with redacted bytes as "**" and "*". */
void lk_json_scans(FILE *out, const struct lk_model *m);
void lk_json_site_scan(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v,
                       struct lk_symbolizer *sym, int content);
void lk_json_sample(FILE *out, const struct lk_model_sample *s);

/* One symbolized frame as {"function","file","line","module","offset","inlined"}. */
void lk_json_frame(FILE *out, const struct lk_sym_frame *fr);

#endif
