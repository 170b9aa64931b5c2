/* Symbolization of recorded stacks with elfutils libdw: each frame (module
 * id, offset) becomes one or more logical frames (function, file:line,
 * inlined callers), C++ names demangled. Modules are opened lazily from
 * their recorded path, or from /usr/lib/debug/.build-id when the path is
 * gone; a build-id that does not match the recording is refused rather than
 * trusted. Results are cached per address. */
#ifndef LK_SYMBOLIZE_H
#define LK_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "../analyze/model.h"

struct lk_sym_frame {
    const char *function; /* demangled name; NULL when unknown */
    const char *file;     /* source file; NULL when unknown */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* module path; NULL for an address outside every module */
    uint64_t module_id;   /* 0 when outside every module */
    uint64_t offset;      /* return address minus module base, or the address */
    int inlined;          /* 1: this frame was inlined into the next (its caller) */
};

struct lk_symbolizer;

/* A symbolizer for the modules of m, which must outlive it. Opens nothing
 * yet. NULL on ENOMEM. */
struct lk_symbolizer *lk_symbolize_open(const struct lk_model *m);

void lk_symbolize_close(struct lk_symbolizer *s);

/* The logical frames of one recorded frame, innermost first; *out points
 * into the cache (valid until close). Returns their count, >= 1. The
 * recorded offset is a return address, so the lookup uses offset - 1. */
size_t lk_symbolize_frame(struct lk_symbolizer *s, const struct lk_frame *f,
                          const struct lk_sym_frame **out);

/* The logical frames of a site's stack into out[0..max), innermost first.
 * With fold, leading frames of the allocator (libleakscope, the malloc
 * family, strdup, operator new) are dropped so out[0] is the caller; when
 * every frame would be dropped, none is. Returns the count written;
 * *total (may be NULL) gets the count before truncation to max. */
size_t lk_symbolize_stack(struct lk_symbolizer *s, const struct lk_model_site *site, int fold,
                          struct lk_sym_frame *out, size_t max, size_t *total);

/* Whether a logical frame belongs to the allocator (the folding rule). */
int lk_symbolize_is_allocator(const struct lk_sym_frame *f);

/* The i-th warning gathered so far ("/usr/bin/x: build-id differs from the
 * recording; its frames are shown as path+offset"), NULL past the last. */
const char *lk_symbolize_warning(const struct lk_symbolizer *s, size_t i);

#endif
