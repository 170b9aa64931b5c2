/* A recording loaded into memory for analysis: the process, its modules,
 * the stack of every allocation site, the snapshot timeline and, per site,
 * the series of its counters over that timeline; since format 1.3 also the
 * reachability scans (per site: blocks unreachable, indirect, reachable and
 * who held them; the latest scan's content samples). The model is a pure
 * function of the file; everything downstream (symbolize, verdict, render)
 * reads it and nothing changes it after lk_model_load(). */
#ifndef LK_MODEL_H
#define LK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../record/format.h"

struct lk_model_module {
    uint64_t id;         /* >= 1, as recorded */
    uint64_t base;       /* load bias: runtime address = ELF vaddr + base */
    uint64_t lo, hi;     /* runtime address range of its PT_LOAD segments */
    uint64_t time_ns;    /* monotonic time since start when first seen */
    uint64_t gone_ns;    /* when unloaded; UINT64_MAX while loaded at the end */
    char *path;          /* NUL-terminated copy of the recorded path */
    uint8_t *build_id;   /* NULL when none was recorded */
    size_t build_id_len; /* bytes */
};

/* One point where a site's counters changed: from snapshot `snap` on (until
 * the next change) the site's fields are `f`. */
struct lk_model_change {
    uint32_t snap;               /* snapshot index, strictly increasing in a site */
    uint64_t f[LK_SITE_NFIELDS]; /* lk_site_field values, absolute */
    const uint8_t *entry;        /* the snapshot entry that set them, in the model's data */
    const uint8_t *entry_end;    /* end of that snapshot's payload */
};

/* A site's cohorts at one snapshot (lk_model_cohorts). */
struct lk_model_cohorts {
    size_t n;                        /* buckets recorded, <= LK_COHORTS */
    uint64_t born[LK_COHORTS];       /* allocations born in bucket k (lk_cohort_of) */
    uint64_t live_count[LK_COHORTS]; /* of those, blocks still live */
    uint64_t live_bytes[LK_COHORTS]; /* and their bytes */
};

/* A site's state in one reachability scan (SCAN record, docs/FORMAT.md 6.8). */
struct lk_model_reach {
    uint32_t scan;                         /* index into model->scans, increasing in a site */
    uint32_t nret;                         /* retainers[] entries, <= LK_SCAN_RETAINERS */
    uint64_t count[LK_NSTATES];            /* blocks per lk_block_state */
    uint64_t bytes[LK_NSTATES];            /* their requested bytes */
    uint64_t ret_kind[LK_SCAN_RETAINERS];  /* lk_retainer_kind as recorded (may be unknown) */
    uint64_t ret_id[LK_SCAN_RETAINERS];    /* site id, module id, or 0 */
    uint64_t ret_count[LK_SCAN_RETAINERS]; /* this site's blocks first reached from it */
};

struct lk_model_site {
    uint64_t id;    /* site id >= 1 */
    unsigned kind;  /* lk_kind */
    int has_stack;  /* a STACK record was seen for it */
    size_t nframes; /* frames[] entries, innermost first */
    struct lk_frame *frames;
    size_t nchanges; /* entries in changes[], >= 1 once seen in a snapshot */
    size_t capchanges;
    struct lk_model_change *changes;
    uint64_t peak_live_bytes; /* max of LK_SITE_LIVE_BYTES over all snapshots */
    uint32_t peak_snap;       /* snapshot index of that maximum */
    /* As of the last snapshot that listed the site: */
    size_t ncohorts;                        /* cohort buckets recorded, <= LK_COHORTS */
    uint64_t born[LK_COHORTS];              /* allocations born in bucket k (lk_cohort_of) */
    uint64_t cohort_live_count[LK_COHORTS]; /* of those, blocks still live */
    uint64_t cohort_live_bytes[LK_COHORTS]; /* and their bytes */
    uint64_t hist[LK_SIZE_CLASSES];         /* allocations per log2 size class */
    const uint8_t *last_entry;              /* its last snapshot entry, in the model's data */
    const uint8_t *last_entry_end;
    size_t nreach; /* scans that listed the site */
    size_t capreach;
    struct lk_model_reach *reach; /* in scan order */
};

struct lk_model_snap {
    uint64_t seq;                          /* as recorded */
    uint64_t nproc;                        /* proc fields present in the file (12 in 1.0) */
    uint64_t time_ns;                      /* monotonic time since start */
    uint64_t period;                       /* period index, for cohorts */
    uint64_t proc[LK_PROC_NFIELDS];        /* lk_proc_field values; missing read as 0 */
    uint64_t class_count[LK_SIZE_CLASSES]; /* live blocks per size class */
    uint64_t class_bytes[LK_SIZE_CLASSES]; /* live bytes per size class */
};

/* One reachability scan: its head as recorded and totals over its sites. */
struct lk_model_scan {
    uint64_t seq;               /* as recorded */
    uint64_t time_ns;           /* monotonic time since start when the threads were stopped */
    uint64_t period;            /* period index at the scan */
    uint64_t trigger;           /* lk_scan_trigger */
    uint64_t flags;             /* LK_SCAN_* */
    uint64_t pause_ns;          /* how long the program was stopped */
    uint64_t scan_ns;           /* how long scanning the copy took */
    uint64_t threads;           /* threads whose stacks and registers were roots */
    uint64_t root_bytes;        /* root memory scanned, bytes */
    uint64_t heap_bytes;        /* block memory scanned, bytes */
    uint64_t blocks;            /* tracked blocks classified */
    uint64_t count[LK_NSTATES]; /* blocks per lk_block_state, summed over its sites */
    uint64_t bytes[LK_NSTATES]; /* and their bytes */
    size_t nsites;              /* site entries it listed */
    size_t nsamples;            /* content samples it carried */
};

/* A content sample of the latest scan: a block's first bytes, redacted
 * bytes zeroed by the agent and flagged in `redacted`. */
struct lk_model_sample {
    uint64_t site;           /* site id */
    unsigned state;          /* lk_block_state */
    uint64_t size;           /* the block's requested size */
    uint64_t period;         /* its birth period */
    const uint8_t *content;  /* its first len bytes, in the model's data */
    size_t len;              /* <= LK_SCAN_CONTENT */
    const uint8_t *redacted; /* (len + 7) / 8 bytes, LSB first: 1 = byte redacted */
};

struct lk_model_note {
    unsigned level;   /* lk_note_level */
    uint64_t time_ns; /* monotonic time since start */
    char *text;       /* NUL-terminated copy */
};

struct lk_model {
    char *name;            /* file name, for messages */
    uint8_t *data;         /* the whole file; info's byte fields point into it */
    size_t len;            /* bytes */
    int mapped;            /* data is an mmap of the file, else malloc'd */
    unsigned major, minor; /* format version of the file */
    int has_info;
    struct lk_info info;
    size_t nmodules;
    struct lk_model_module *modules; /* in file order */
    size_t nsites;
    struct lk_model_site *sites; /* in order of first appearance */
    size_t nsnaps;
    struct lk_model_snap *snaps; /* in file order */
    size_t nnotes;
    struct lk_model_note *notes;
    size_t nscans;
    struct lk_model_scan *scans; /* in file order */
    size_t nsamples;
    struct lk_model_sample *samples; /* the latest scan's, in file order */
    int has_end;
    struct lk_end end;
    int torn;          /* the last record was cut off and ignored */
    char warning[256]; /* reader's message about the torn record, or "" */
    char errmsg[512];  /* why lk_model_load failed */
    /* site id -> index + 1 in sites[], open addressing */
    size_t hcap; /* power of two */
    uint32_t *hslot;
};

/* Reads the file at path and loads it. 0, or negative (-errno when the file
 * cannot be read, -LK_E... when it is not a valid recording) with
 * m->errmsg holding one sentence that starts with the file name, such as
 * "srv.lsr: record 12 at offset 0x1f0: checksum mismatch". A torn last
 * record is not an error: m->torn and m->warning say so. lk_model_free() is
 * needed in both cases. Memory is bounded by a small multiple of the file
 * size, whatever counts the file claims. */
int lk_model_load(struct lk_model *m, const char *path);

/* The same over bytes already in memory, which the model copies. */
int lk_model_load_mem(struct lk_model *m, const char *name, const void *data, size_t len);

void lk_model_free(struct lk_model *m);

/* The site with this id, or NULL. O(1). */
const struct lk_model_site *lk_model_site(const struct lk_model *m, uint64_t id);

/* The module with this id, or NULL. O(modules). */
const struct lk_model_module *lk_model_module(const struct lk_model *m, uint64_t id);

/* Value of field (lk_site_field) of the site at snapshot index snap: the
 * value of its latest change at or before snap, 0 before its first.
 * O(log changes). */
uint64_t lk_model_value(const struct lk_model_site *s, unsigned field, size_t snap);

/* Values of field at the snapshot indexes idx[0..n), which must be
 * increasing, into out[]. O(n + changes): the way to sample a long series. */
void lk_model_values(const struct lk_model_site *s, unsigned field, const size_t *idx, size_t n,
                     uint64_t *out);

/* The site's cohorts as of snapshot index snap: those of its latest entry
 * at or before snap (a site is listed only when its counters change, and
 * its cohorts change only with them). 1, or 0 with out->n = 0 when it has
 * no entry by then. O(log changes + one entry's decoding). */
int lk_model_cohorts(const struct lk_model_site *s, size_t snap, struct lk_model_cohorts *out);

/* The site's state in the scan at index scan: 1 with *out filled when the
 * scan listed it, 0 with *out zeroed when it did not (no live blocks then).
 * O(log scans of the site). */
int lk_model_reach_at(const struct lk_model_site *s, size_t scan, struct lk_model_reach *out);

/* Seconds since the start of the snapshot at index snap. */
double lk_model_time_s(const struct lk_model *m, size_t snap);

/* The first snapshot in [from, to) whose time is at least t, or to - 1
 * (snapshot times never decrease). O(log(to - from)). from < to. */
size_t lk_model_snap_at(const struct lk_model *m, size_t from, size_t to, double t);

/* Up to max snapshot indexes in [from, to), increasing, evenly spaced in
 * time (lk_trend_pick_x over the snapshot times), including from and to - 1:
 * fewer than max where snapshots are sparse, as in the thinned past of a
 * long recording. max >= 2. */
size_t lk_model_pick(const struct lk_model *m, size_t from, size_t to, size_t max, size_t *idx);

/* The first snapshot of the last third of the time of snapshots [0, n)
 * (of the snapshots themselves when they are evenly spaced). n > 0. */
size_t lk_model_tail_start(const struct lk_model *m, size_t n);

#endif
