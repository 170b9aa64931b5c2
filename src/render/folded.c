/* Folded stacks: every site's symbolized, allocator-folded stack written
 * outermost first and joined with ';', then a space and the value
 * (flamegraph.pl's collapsed format, which inferno and speedscope read
 * too). Sites whose stacks symbolize identically (two return addresses in
 * one line, or the same code in two builds) are merged, so the output is
 * sorted and unique. CLI only: allocates, stdio. */
#include "folded.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *
lk_folded_frame_name(char *buf, size_t cap, const struct lk_sym_frame *f)
{
    if (f->function) {
        snprintf(buf, cap, "%s", f->function);
    } else if (f->module) {
        const char *base = strrchr(f->module, '/');
        snprintf(buf, cap, "%s+0x%llx", base ? base + 1 : f->module, (unsigned long long)f->offset);
    } else {
        snprintf(buf, cap, "0x%llx", (unsigned long long)f->offset);
    }
    for (char *p = buf; *p; p++)
        if (*p == ';' || (unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    return buf;
}

int64_t
lk_folded_site_value(const struct lk_model *m, const struct lk_model_site *s,
                     enum lk_folded_value what)
{
    size_t last = m->nsnaps ? m->nsnaps - 1 : 0;
    switch (what) {
    case LK_FOLDED_LIVE_BYTES:
        return (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, last);
    case LK_FOLDED_LIVE_COUNT:
        return (int64_t)lk_model_value(s, LK_SITE_LIVE_COUNT, last);
    case LK_FOLDED_GROWTH:
        return (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, last) -
               (int64_t)lk_model_value(s, LK_SITE_LIVE_BYTES, 0);
    case LK_FOLDED_ALLOC_BYTES:
        return (int64_t)lk_model_value(s, LK_SITE_ALLOC_BYTES, last);
    }
    return 0;
}

struct line {
    char *stack;
    int64_t value;
};

static int
by_stack(const void *a, const void *b)
{
    return strcmp(((const struct line *)a)->stack, ((const struct line *)b)->stack);
}

/* The folded stack of site s, outermost first, in a malloc'd string. */
static char *
fold(struct lk_symbolizer *sym, const struct lk_model_site *s, struct lk_sym_frame *fr)
{
    size_t n = s->has_stack ? lk_symbolize_stack(sym, s, 1, fr, LK_FOLDED_MAX_FRAMES, NULL) : 0;
    size_t cap = 64, len = 0;
    char *out = malloc(cap), name[512];
    if (!out)
        return NULL;
    out[0] = 0;
    if (n == 0)
        snprintf(out, cap, "[no stack] site %llu", (unsigned long long)s->id);
    for (size_t i = n; i-- > 0;) {
        lk_folded_frame_name(name, sizeof name, &fr[i]);
        size_t k = strlen(name);
        if (len + k + 2 > cap) {
            while (len + k + 2 > cap)
                cap *= 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                return NULL;
            }
            out = p;
        }
        if (len)
            out[len++] = ';';
        memcpy(out + len, name, k + 1);
        len += k;
    }
    return out;
}

int
lk_render_folded(FILE *out, const struct lk_model *m, struct lk_symbolizer *sym,
                 enum lk_folded_value what)
{
    struct lk_sym_frame *fr = calloc(LK_FOLDED_MAX_FRAMES, sizeof *fr);
    struct line *lines = calloc(m->nsites ? m->nsites : 1, sizeof *lines);
    size_t n = 0;
    int rc = -ENOMEM;
    if (!fr || !lines)
        goto out;
    for (size_t i = 0; i < m->nsites; i++) {
        int64_t v = lk_folded_site_value(m, &m->sites[i], what);
        if (v <= 0)
            continue;
        char *st = fold(sym, &m->sites[i], fr);
        if (!st)
            goto out;
        lines[n].stack = st;
        lines[n++].value = v;
    }
    qsort(lines, n, sizeof *lines, by_stack);
    for (size_t i = 0; i < n;) {
        int64_t v = lines[i].value;
        size_t j = i + 1;
        while (j < n && !strcmp(lines[j].stack, lines[i].stack))
            v += lines[j++].value;
        fprintf(out, "%s %lld\n", lines[i].stack, (long long)v);
        i = j;
    }
    fflush(out);
    rc = ferror(out) ? -EIO : 0;
out:
    for (size_t i = 0; lines && i < n; i++)
        free(lines[i].stack);
    free(lines);
    free(fr);
    return rc;
}
