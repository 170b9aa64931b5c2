/* Content samples of a reachability scan shown as hex and printable text,
 * and the names of what holds a block (retainers), shared by the text,
 * JSON and HTML reports and `leakscope scan`. Redacted bytes (the agent
 * zeroed them and flagged them as likely secrets) show as "**" in hex and
 * "*" in text, never as the zero they were replaced with. */
#ifndef LK_RENDER_CONTENT_H
#define LK_RENDER_CONTENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../analyze/model.h"
#include "../symbolize/symbolize.h"

#define LK_CONTENT_ROW 16     /* bytes per dump row */
#define LK_CONTENT_PER_SITE 3 /* samples shown per site */

/* Whether byte i of the sample was redacted. */
int lk_content_redacted(const struct lk_model_sample *s, size_t i);

/* Bytes [off, off + n) as "48 65 ** 6c" into buf (3 chars per byte). */
void lk_content_hex(char *buf, size_t cap, const struct lk_model_sample *s, size_t off, size_t n);

/* The same bytes as printable ASCII: '*' redacted, '.' not printable. */
void lk_content_text(char *buf, size_t cap, const struct lk_model_sample *s, size_t off, size_t n);

/* The whole sample as dump rows "      0000  48 65 ...  |He..|\n", each
 * line starting with indent. */
void lk_content_dump(FILE *out, const char *indent, const struct lk_model_sample *s);

/* The samples of site id in the model (the latest scan's), up to max, into
 * out[]; returns how many the site has in all. */
size_t lk_content_of_site(const struct lk_model *m, uint64_t id, const struct lk_model_sample **out,
                          size_t max);

/* What a retainer is, for a reader: "site 12 (cache_put, cache.c:40)",
 * "libsrv.so .data/.bss", "a thread's stack or registers", "other root
 * memory (TLS, memory the agent did not see allocated)". sym may be NULL. */
void lk_render_retainer(char *buf, size_t cap, const struct lk_model *m, struct lk_symbolizer *sym,
                        uint64_t kind, uint64_t id);

/* "site", "module", "stack", "other", "unknown". */
const char *lk_retainer_kind_name(uint64_t kind);

#endif
