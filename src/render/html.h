/* The HTML report: one self-contained page (no network access, no external
 * script) with the verdict and its evidence, memory over time, the top
 * sites' live bytes, cohort survival, live size classes, icicle graphs of
 * live memory and of growth, modules and settings. The page is the data as
 * JSON plus a small vanilla-JS renderer (assets/page.js) that draws SVG;
 * docs/HTML.md says why and what it costs. */
#ifndef LK_RENDER_HTML_H
#define LK_RENDER_HTML_H

#include <stdio.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../symbolize/symbolize.h"

#define LK_HTML_POINTS 600     /* time series are subsampled to at most this many points */
#define LK_HTML_SITES 12       /* sites drawn individually (the rest are summed as "others") */
#define LK_HTML_FLAME_MIN 2000 /* flame nodes narrower than 1/this of the total are merged */
#define LK_HTML_FRAMES 24      /* frames shown per suspect */

/* Writes the page for m (analysed as a, symbolized by sym) to out; the
 * scans' content samples only with content (--content). 0, -ENOMEM, or
 * -EIO when out could not be written. */
int lk_render_html(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                   struct lk_symbolizer *sym, int content);

/* The page's data document alone (docs/HTML.md, "Data"): meta, verdict,
 * subsampled time series of process memory, top sites and size classes,
 * cohorts, flame trees, modules. `leakscope export --format json` appends
 * its "series" part to the report JSON. 0, -ENOMEM or -EIO. */
int lk_render_html_data(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                        struct lk_symbolizer *sym, int content);

/* Writes s (n bytes) as a JSON string that is also safe inside an HTML
 * <script> element: '<', '>' and '&' are escaped as \u003c..., invalid
 * UTF-8 becomes U+FFFD, U+2028/2029 are escaped. */

/* Writes s as HTML text (&, <, >, ", ' escaped; control bytes dropped). */
void lk_html_text(FILE *out, const char *s, size_t n);

/* The embedded renderer (html_assets.c, generated from assets/ by
 * assets/embed.sh). */
extern const char lk_html_js[];
extern const char lk_html_css[];

#endif
