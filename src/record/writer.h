/* Encoding records into a memory buffer (docs/FORMAT.md). The caller owns
 * the buffer and supplies a grow callback (the agent grows with mmap, tests
 * with realloc), then writes the bytes out itself: this module does no I/O
 * and never calls malloc. */
#ifndef LK_WRITER_H
#define LK_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct lk_writer;
/* Make w->buf hold at least `need` bytes, keeping its content; 0 or -errno. */
typedef int (*lk_writer_grow_fn)(struct lk_writer *w, size_t need);

struct lk_writer {
    uint8_t *buf;
    size_t cap;     /* bytes available in buf */
    size_t len;     /* bytes encoded so far */
    size_t rec;     /* offset of the open record's type byte */
    int open;       /* a record is between begin and end */
    int err;        /* first error, sticky until lk_writer_reset */
    lk_writer_grow_fn grow; /* may be NULL: then a full buffer is LK_ENOSPACE */
    void *ctx;      /* for the grow callback */
};

void lk_writer_init(struct lk_writer *w, uint8_t *buf, size_t cap, lk_writer_grow_fn grow,
                    void *ctx);
/* Forget the encoded bytes (after the caller wrote them out) and the error. */
void lk_writer_reset(struct lk_writer *w);

/* The 16-byte file header; once, before any record. */
void lk_writer_file_header(struct lk_writer *w);

/* Raw record building: begin, fields, end. end() fills in the length and
 * the checksum and returns w->err. */
void lk_writer_begin(struct lk_writer *w, enum lk_rec_type type);
void lk_writer_u64(struct lk_writer *w, uint64_t v);
void lk_writer_i64(struct lk_writer *w, int64_t v);
void lk_writer_bytes(struct lk_writer *w, const void *p, size_t n); /* length-prefixed */
void lk_writer_str(struct lk_writer *w, const char *s);            /* length-prefixed */
int lk_writer_end(struct lk_writer *w);

/* Typed records; each returns w->err. Field meanings in format.h. */
int lk_write_info(struct lk_writer *w, const struct lk_info *info);
int lk_write_module(struct lk_writer *w, const struct lk_module *m);
int lk_write_module_gone(struct lk_writer *w, uint64_t id, uint64_t time_ns);
int lk_write_stack(struct lk_writer *w, uint64_t site, enum lk_kind kind,
                   const struct lk_frame *frames, size_t n);
int lk_write_end(struct lk_writer *w, uint64_t time_ns, enum lk_end_reason reason,
                 uint64_t code);
int lk_write_note(struct lk_writer *w, enum lk_note_level level, uint64_t time_ns,
                  const char *text);

/* A SNAPSHOT is written in three steps: head (process fields and live size
 * classes), one call per changed site, then end. */
void lk_write_snapshot_begin(struct lk_writer *w, uint64_t seq, uint64_t time_ns,
                             uint64_t period, const uint64_t *proc, size_t nproc,
                             const uint64_t *class_count, const uint64_t *class_bytes,
                             size_t nclasses);
/* fields: LK_SITE_NFIELDS values; cohorts: ncohorts triples (born, live
 * count, live bytes) as three arrays; hist: nhist allocation counts. */
void lk_write_snapshot_site(struct lk_writer *w, uint64_t site, const uint64_t *fields,
                            const uint64_t *born, const uint64_t *live_count,
                            const uint64_t *live_bytes, size_t ncohorts, const uint64_t *hist,
                            size_t nhist);
int lk_write_snapshot_end(struct lk_writer *w);

/* A SCAN is written in steps too: head, one call per site, the site list's
 * end, then content samples (none without --content), then end. A sample's
 * redacted mask must hold (content.n + 7) / 8 bytes. */
void lk_write_scan_begin(struct lk_writer *w, const struct lk_scan *s);
void lk_write_scan_site(struct lk_writer *w, const struct lk_scan_site *e);
void lk_write_scan_sites_end(struct lk_writer *w);
void lk_write_scan_sample(struct lk_writer *w, const struct lk_scan_sample *s);
int lk_write_scan_end(struct lk_writer *w);

#endif
