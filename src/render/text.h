/* The text report: the verdict first, then suspects ranked by growth with
 * their evidence and stacks, the process memory summary and the
 * recording's notes and warnings. */
#ifndef LK_RENDER_TEXT_H
#define LK_RENDER_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../symbolize/symbolize.h"

#define LK_RENDER_TOP 10   /* default suspects shown */
#define LK_RENDER_FRAMES 8 /* default frames per stack */

struct lk_render_opts {
    int top;     /* sites to show; 0 = LK_RENDER_TOP */
    int frames;  /* logical frames per stack; 0 = LK_RENDER_FRAMES */
    int all;     /* every site, whatever its verdict */
    int content; /* show the scans' content samples (--content); else only say they exist */
};

/* Writes the report of m (analysed as a, symbolized by sym) to out.
 * 0, or -EIO when out could not be written. */
int lk_render_text(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                   struct lk_symbolizer *sym, const struct lk_render_opts *opts);

/* The one-line verdict ("LEAK: 2 sites grow without being freed, 38.2
 * KiB/s total") into buf; shared by the text and JSON reports. */
void lk_render_summary(char *buf, size_t cap, const struct lk_model *m,
                       const struct lk_analysis *a);

/* The site's reachability lines (scan counts, lost or held, retainers,
 * content samples when content is set), each indented by three spaces.
 * Nothing when the recording has no scan. */
void lk_render_site_reach(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v,
                          struct lk_symbolizer *sym, int content);

/* The "Scans: ..." header line (how many, when, pause, bytes scanned),
 * without a newline, into buf; "" when the recording has no scan. */
void lk_render_scans_line(char *buf, size_t cap, const struct lk_model *m,
                          const struct lk_analysis *a);

/* "38.2 KiB", "1.0 MiB", "512 B" into buf; returns buf. */
char *lk_render_bytes(char *buf, size_t cap, double bytes);

/* Warnings about the recording itself (torn tail, allocator not
 * interposed, sampling), one at a time: the i-th, or NULL past the last.
 * buf holds the text when it has to be built. */
const char *lk_render_recording_warning(const struct lk_model *m, size_t i, char *buf, size_t cap);

#endif
