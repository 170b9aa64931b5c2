/* Writing the recording: the file, its header and INFO, and one snapshot per
 * period (docs/FORMAT.md). Used by the agent's task and by the exit path,
 * always under the recorder lock held by agent.c. */
#ifndef LK_SNAPSHOT_H
#define LK_SNAPSHOT_H

#include <stdint.h>

#include "record/writer.h"

struct lk_recorder {
    int fd;              /* recording, -1 when closed or failed */
    uint64_t dev, ino;   /* identity of fd when opened */
    struct lk_writer w;  /* encoder over an mmap'd buffer */
    uint64_t seq;        /* next snapshot number */
    uint64_t start_ns;   /* CLOCK_MONOTONIC at start: record times are relative to it */
    uint32_t stacks_written; /* sites 1..stacks_written have their STACK record */
    int full_next;       /* next snapshot lists every site (a new recording) */
    int final;           /* the next snapshot is the last: nothing is rate-limited */
    int on_signal;       /* ... and a fatal signal ends the run: no mallinfo2 (procmem.h) */
    uint64_t file_len;   /* bytes in the file (all written by us) */
    uint64_t thin_at;    /* thin older snapshots when file_len reaches this; 0 = never */
    uint32_t thinned;    /* successful thinnings of this recording */
    int thin_logged;     /* a failed thinning was logged (once per recording) */
};

/* Takes ownership of fd: writes the file header and INFO. 0 or -errno (then
 * fd is closed). */
int lk_snapshot_open(struct lk_recorder *r, int fd, const struct lk_info *info);

/* Encodes module changes, new stacks and a SNAPSHOT of the sites that changed,
 * then writes them with one write(2). untracked_frees: frees of blocks the
 * agent never saw allocated, for LK_PROC_UNTRACKED. A failed write closes the recording
 * for good and is logged once; the host never notices. When the file has
 * grown enough since the last time (LEAKSCOPE_THIN), older snapshots are then
 * thinned: a thinned copy replaces the file by rename(2), and writing goes
 * on into it; a failed thinning leaves the file as it was. */
void lk_snapshot_write(struct lk_recorder *r, uint32_t period, uint64_t untracked_frees);

/* Encodes and writes a NOTE / an END record. */
void lk_snapshot_note(struct lk_recorder *r, enum lk_note_level level, const char *text);
void lk_snapshot_end(struct lk_recorder *r, enum lk_end_reason reason, uint64_t code);

/* Writes out whatever was encoded into r->w since the last write (a SCAN
 * record the caller encoded itself), with the same checks as a snapshot. */
void lk_snapshot_flush(struct lk_recorder *r);

/* Closes the file; further writes are dropped. */
void lk_snapshot_close(struct lk_recorder *r);

#endif
