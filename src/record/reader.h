/* Walking the records of a recording held in memory (docs/FORMAT.md).
 * Checks the file header, each frame's bounds and checksum; a record cut off
 * by the end of the file (a process killed mid-write) ends the walk with
 * r->torn set, anything else malformed is an error whose message names the
 * offset. No allocation, no I/O: the caller maps or reads the file. */
#ifndef LK_READER_H
#define LK_READER_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct lk_record {
    unsigned type;       /* lk_rec_type; unknown types are returned too */
    const uint8_t *payload;
    size_t len;          /* payload bytes */
    uint64_t offset;     /* file offset of the record's type byte */
    uint64_t index;      /* 0-based record number */
};

struct lk_reader {
    const char *name;    /* file name for messages */
    const uint8_t *data;
    size_t len;
    size_t off;          /* next record's offset */
    uint64_t index;      /* records returned so far */
    unsigned major, minor;
    int torn;            /* the walk stopped at a torn last record */
    uint64_t torn_offset;
    char errmsg[256];    /* last error or warning, "" when none */
};

/* Checks the file header. 0, or -LK_EFORMAT / -LK_EVERSION / -LK_ETRUNC with
 * errmsg set. */
int lk_reader_open(struct lk_reader *r, const char *name, const uint8_t *data, size_t len);

/* Next record: 1 with *rec filled, 0 at the end (check r->torn), negative
 * on a malformed record (errmsg names the record and offset). */
int lk_reader_next(struct lk_reader *r, struct lk_record *rec);

/* Sets errmsg to "NAME: record I at offset 0xOFF: WHAT" and returns err; for
 * decoders' errors found by the caller. */
int lk_reader_fail(struct lk_reader *r, const struct lk_record *rec, int err, const char *what);

#endif
