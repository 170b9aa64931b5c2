/* libFuzzer target: hostile ELF/DWARF through the symbolizer. The input is
 * written to a file that a recording made in memory names as its only
 * module; the recording's stack points at offsets taken from the input's
 * first bytes, and the stack is symbolized (libdw: ELF headers, sections,
 * symbol tables, DWARF lines and inline scopes, build-id notes), as
 * `report` does with a binary that may be truncated, stripped or corrupt.
 * The file lives in /dev/shm (or /tmp) and is rewritten per input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/model.h"
#include "record/format.h"
#include "record/writer.h"
#include "symbolize/symbolize.h"

static char path[64];

static int
grow(struct lk_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p)
        return -1;
    w->buf = p;
    w->cap = cap;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!path[0])
        snprintf(path, sizeof path, "%s/lk_fuzz_elf.%d",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, len, f);
    fclose(f);

    struct lk_writer w;
    lk_writer_init(&w, NULL, 0, grow, NULL);
    lk_writer_file_header(&w);
    struct lk_info info = {.pid = 1, .period_ms = 1000, .depth = 8, .pointer_bytes = 8};
    lk_write_info(&w, &info);
    struct lk_module mod = {.id = 1, .base = 0x400000, .lo = 0x400000,
                            .hi = 0x400000 + (len ? len : 1) + 0x10000,
                            .path = {(const uint8_t *)path, strlen(path)}};
    lk_write_module(&w, &mod);
    struct lk_frame fr[8];
    for (int i = 0; i < 8; i++) { /* offsets from the input, so the fuzzer steers them */
        uint32_t o = 0;
        if (len >= (size_t)(4 * i + 4))
            memcpy(&o, data + 4 * i, 4);
        fr[i].module = 1;
        fr[i].offset = o % (len + 0x10000);
    }
    lk_write_stack(&w, 1, LK_KIND_HEAP, fr, 8);
    uint64_t proc[LK_PROC_NFIELDS] = {0}, f5[LK_SITE_NFIELDS] = {64, 1, 1, 0, 64};
    uint64_t born[1] = {1}, lc[1] = {1}, lb[1] = {64}, hist[7] = {0, 0, 0, 0, 0, 0, 1};
    lk_write_snapshot_begin(&w, 0, 1000000, 1, proc, LK_PROC_NFIELDS, NULL, NULL, 0);
    lk_write_snapshot_site(&w, 1, f5, born, lc, lb, 1, hist, 7);
    lk_write_snapshot_end(&w);

    struct lk_model m;
    if (!w.err && lk_model_load_mem(&m, "fuzz", w.buf, w.len) == 0) {
        struct lk_symbolizer *s = lk_symbolize_open(&m);
        if (s && m.nsites) {
            struct lk_sym_frame out[64];
            size_t total;
            lk_symbolize_stack(s, &m.sites[0], 1, out, 64, &total);
            lk_symbolize_stack(s, &m.sites[0], 0, out, 64, &total);
        }
        lk_symbolize_close(s);
        lk_model_free(&m);
    }
    free(w.buf);
    return 0;
}
