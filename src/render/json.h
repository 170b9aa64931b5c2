/* The JSON report, for scripts and tests; the schema is docs/JSON.md. */
#ifndef LK_RENDER_JSON_H
#define LK_RENDER_JSON_H

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
 * replaced by U+FFFD. */
void lk_json_string(FILE *out, const char *s, size_t n);

#endif
