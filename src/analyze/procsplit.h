/* Process memory, split: RSS decomposed into the tracked live heap, memory
 * the allocator holds free, allocator overhead, anonymous memory outside
 * malloc, the program's own tracked anonymous mappings and file-backed
 * pages; a process-level verdict (growth of which part, or memory retained
 * by the allocator after a spike), the advice that applies, and the time
 * to reach the cgroup limit or physical memory at the measured RSS rate.
 * Definitions and thresholds in docs/VERDICTS.md, "Process level". */
#ifndef LK_PROCSPLIT_H
#define LK_PROCSPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "trend.h"

/* The parts RSS is split into. */
enum lk_split_part {
    LK_SPLIT_RSS,             /* the whole: resident set size */
    LK_SPLIT_HEAP,            /* tracked live heap (LK_PROC_HEAP_LIVE) */
    LK_SPLIT_MALLOC_FREE,     /* free bytes the allocator holds (mallinfo2 fordblks) */
    LK_SPLIT_MALLOC_OVERHEAD, /* malloc footprint - free - live: headers, rounding, untracked */
    LK_SPLIT_OUTSIDE,         /* anonymous memory outside malloc and tracked mmaps */
    LK_SPLIT_MMAP,            /* the program's tracked anonymous mappings (LK_PROC_MMAP_LIVE) */
    LK_SPLIT_FILE,            /* file-backed and shmem resident bytes */
    LK_SPLIT_NPARTS
};

enum lk_proc_verdict {
    LK_PROC_UNDECIDED,   /* fewer than LK_VERDICT_MIN_SNAPS snapshots */
    LK_PROC_NOT_GROWING, /* RSS does not grow materially */
    LK_PROC_RETENTION,   /* RSS stayed up after the live heap fell: kept by the allocator */
    LK_PROC_HEAP,        /* RSS grows with the tracked live heap */
    LK_PROC_ALLOCATOR,   /* RSS grows in free or overhead memory of the allocator */
    LK_PROC_OUTSIDE,     /* RSS grows in anonymous memory outside malloc */
    LK_PROC_MMAP,        /* RSS grows in the program's own tracked anonymous mappings */
    LK_PROC_FILE,        /* RSS grows in file-backed pages */
};

/* Thresholds (docs/VERDICTS.md says why). */
#define LK_SPLIT_MATERIAL_MIN 262144   /* RSS growth below this is never material */
#define LK_SPLIT_MATERIAL_FRAC 0.01    /* nor below this part of the peak RSS */
#define LK_SPLIT_RETAIN_DROP_FRAC 0.5  /* the heap gave back this part of its rise... */
#define LK_SPLIT_RETAIN_KEPT_FRAC 0.5  /* ...while RSS kept this part of its own rise */
#define LK_SPLIT_RETAIN_FREE_FRAC 0.25 /* and the allocator's free bytes grew by this part */
#define LK_SPLIT_MANY_THREADS 8        /* above this, suggest MALLOC_ARENA_MAX */
#define LK_SPLIT_HEAP_SHARE 0.4        /* heap growth explaining this part of RSS growth: HEAP */

enum lk_limit_kind { LK_LIMIT_NONE, LK_LIMIT_CGROUP, LK_LIMIT_PHYSICAL };

struct lk_split_series {
    int recorded;      /* the recording holds the fields this part is computed from */
    uint64_t start;    /* bytes at the first snapshot */
    uint64_t end;      /* bytes at the last snapshot */
    uint64_t peak;     /* maximum over the run */
    struct lk_trend t; /* Theil–Sen over seconds (slope in bytes/s) and Mann–Kendall */
};

#define LK_SPLIT_MAX_ADVICE 5

struct lk_procsplit {
    enum lk_proc_verdict verdict;
    const char *why;   /* a static phrase: the rule that decided */
    uint64_t material; /* RSS growth below this is not material here, bytes */
    struct lk_split_series part[LK_SPLIT_NPARTS];
    int has_mallinfo; /* mallinfo2 fields recorded (nonzero) */
    int has_smaps;    /* format 1.1 fields: anonymous, file-backed, cgroup, MemTotal */
    int tracks_mmap;  /* the agent tracked anonymous mmap (INFO flag) */
    /* Retention evidence (meaningful with LK_PROC_RETENTION): */
    uint64_t heap_drop;  /* live heap peak - end, bytes */
    uint64_t rss_kept;   /* RSS end - start, bytes */
    uint64_t free_held;  /* allocator free bytes at the end (fordblks) */
    uint64_t releasable; /* of them, at the top of the heap (keepcost) */
    uint64_t threads;    /* at the end, 0 when not recorded */
    size_t nadvice;
    const char *advice[LK_SPLIT_MAX_ADVICE]; /* static sentences, most specific first */
    /* Time to limit at the RSS rate: */
    /* Thresholds (docs/VERDICTS.md says why). */
#define LK_SPLIT_MATERIAL_MIN 262144   /* RSS growth below this is never material */
#define LK_SPLIT_MATERIAL_FRAC 0.01    /* nor below this part of the peak RSS */
#define LK_SPLIT_RETAIN_DROP_FRAC 0.5  /* the heap gave back this part of its rise... */
#define LK_SPLIT_RETAIN_KEPT_FRAC 0.5  /* ...while RSS kept this part of its own rise */
#define LK_SPLIT_RETAIN_FREE_FRAC 0.25 /* and the allocator's free bytes grew by this part */
#define LK_SPLIT_MANY_THREADS 8        /* above this, suggest MALLOC_ARENA_MAX */
#define LK_SPLIT_HEAP_SHARE 0.4        /* heap growth explaining this part of RSS growth: HEAP */

    enum lk_limit_kind limit_kind;
    uint64_t limit;         /* bytes: cgroup memory.max or MemTotal */
    uint64_t usage;         /* bytes counted against it at the end (cgroup usage or RSS) */
    double rss_rate;        /* bytes/s used for the estimate; 0 when RSS does not grow */
    double rss_tail_rate;   /* RSS slope over the last third of the run, bytes/s */
    double time_to_limit_s; /* < 0: not growing or no limit known */
};

/* Splits the process memory of m's snapshots. material is the run's
 * materiality threshold (lk_analysis.material_bytes); the process uses
 * max(material, LK_SPLIT_MATERIAL_FRAC of peak RSS, LK_SPLIT_MATERIAL_MIN). 0, or -ENOMEM. A
 * handful of bounded Theil–Sen fits. */
int lk_procsplit_analyze(const struct lk_model *m, uint64_t material, struct lk_procsplit *out);

/* Value of part p at snapshot index snap, bytes, exactly as the split
 * computed it (sp from lk_procsplit_analyze of m); 0 past the last
 * snapshot. Read-only, O(1): for charts (render/html.c). */
uint64_t lk_procsplit_value(const struct lk_model *m, const struct lk_procsplit *sp, size_t snap,
                            enum lk_split_part p);

/* "ALLOCATOR_RETENTION", "HEAP_GROWTH", ... (the JSON names). */
const char *lk_proc_verdict_name(enum lk_proc_verdict v);

/* "tracked heap", "allocator free", ... (labels of the report). */
const char *lk_split_part_name(enum lk_split_part p);

#endif
