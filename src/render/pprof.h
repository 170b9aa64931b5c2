/* pprof export: the recording's last snapshot as a gzipped profile.proto
 * (github.com/google/pprof, proto/profile.proto), which `go tool pprof`,
 * speedscope, Grafana Pyroscope and Parca read. The mapping of fields is
 * in docs/HTML.md, "Exports". */
#ifndef LK_RENDER_PPROF_H
#define LK_RENDER_PPROF_H

#include <stdio.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../symbolize/symbolize.h"

enum lk_pprof_kind {
    /* Sample types inuse_space/bytes, inuse_objects/count, alloc_space/bytes,
     * alloc_objects/count, at the last snapshot; default inuse_space. */
    LK_PPROF_HEAP,
    /* Sample types growth_space/bytes and growth_objects/count: live bytes
     * and blocks at the last snapshot minus the first (negative for sites
     * that shrank). */
    LK_PPROF_GROWTH,
};

/* Writes the profile, gzip-compressed, to out. a may be NULL (no verdict
 * labels). 0, -ENOMEM, or -EIO when out failed. */
int lk_render_pprof(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                    struct lk_symbolizer *sym, enum lk_pprof_kind kind);

/* The same profile, uncompressed, into a malloc'd buffer (for tests). */
int lk_pprof_encode(const struct lk_model *m, const struct lk_analysis *a,
                    struct lk_symbolizer *sym, enum lk_pprof_kind kind, unsigned char **data,
                    size_t *len);

#endif
