/* Collapsed ("folded") stacks for flamegraph.pl, inferno and speedscope:
 * one line per allocation site, `outer;...;inner VALUE`, outermost frame
 * first. Also the frame naming shared by the exports, the HTML flame graph
 * and `diff`, so that every output names a frame the same way. */
#ifndef LK_RENDER_FOLDED_H
#define LK_RENDER_FOLDED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../analyze/model.h"
#include "../symbolize/symbolize.h"

/* Logical frames a folded stack holds at most (recorded frames can expand
 * into several inlined ones). */
#define LK_FOLDED_MAX_FRAMES 512

/* What a folded line's value counts. */
enum lk_folded_value {
    LK_FOLDED_LIVE_BYTES,  /* live bytes at the last snapshot (default) */
    LK_FOLDED_LIVE_COUNT,  /* live blocks at the last snapshot */
    LK_FOLDED_GROWTH,      /* live bytes, last minus first snapshot; sites that shrank omitted */
    LK_FOLDED_ALLOC_BYTES, /* bytes allocated since the start */
};

/* Writes one line per site with a nonzero value; sites with the same
 * symbolized stack are merged. 0, -ENOMEM, or -EIO when out failed. */
int lk_render_folded(FILE *out, const struct lk_model *m, struct lk_symbolizer *sym,
                     enum lk_folded_value what);

/* The name of a logical frame as every export shows it: the function, or
 * "module+0xOFF" (module's base name) without symbols, or "0xADDR" outside
 * every module. Characters that break the folded format (';', newline,
 * control characters) become '_'. Returns buf. */
char *lk_folded_frame_name(char *buf, size_t cap, const struct lk_sym_frame *f);

/* Value of `what` for a site at the last snapshot (growth may be negative). */
int64_t lk_folded_site_value(const struct lk_model *m, const struct lk_model_site *s,
                             enum lk_folded_value what);

#endif
