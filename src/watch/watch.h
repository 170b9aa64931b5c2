/* `leakscope watch`: memory of a process that runs without the agent,
 * sampled from /proc (statm, status, smaps_rollup, smaps, the cgroup) and
 * written as an ordinary recording: an INFO with the WATCH flag, SNAPSHOT
 * records with process fields only and no sites. Its verdict is the
 * process level alone: RSS growth with its interval, which kind of mapping
 * grows (heap, anonymous, stacks, files), time to the memory limit.
 * CLI only: reads /proc with stdio, allocates. */
#ifndef LK_WATCH_H
#define LK_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../analyze/model.h"
#include "../analyze/verdict.h"
#include "../record/format.h"

/* Resident bytes per kind of mapping, summed over /proc/PID/smaps: the
 * SNAPSHOT process fields LK_PROC_MAP_HEAP..LK_PROC_MAP_OTHER of format 1.2,
 * in this order. */
enum lk_map_kind {
    LK_MAP_HEAP,  /* [heap]: the brk heap (glibc's main arena) */
    LK_MAP_ANON,  /* other anonymous mappings: mmap'd arenas, managed heaps (V8, JVM), ... */
    LK_MAP_STACK, /* [stack] and thread stacks ([stack:TID], or guard-page-bounded anonymous) */
    LK_MAP_FILE,  /* file-backed mappings: code, data, mapped files, shmem */
    LK_MAP_OTHER, /* [vdso], [vvar], ... */
    LK_MAP_NKINDS
};
#define LK_PROC_MAP_FIRST LK_PROC_MAP_HEAP
#define LK_WATCH_NPROC (LK_PROC_MAP_FIRST + LK_MAP_NKINDS)
_Static_assert(LK_PROC_MAP_OTHER - LK_PROC_MAP_HEAP + 1 == LK_MAP_NKINDS,
               "format.h's LK_PROC_MAP_* fields follow enum lk_map_kind");

/* "heap", "anonymous", "stack", "file", "other" */
const char *lk_map_kind_name(enum lk_map_kind k);

/* One sample of a process: proc[] in the SNAPSHOT order (RSS, VM, ANON,
 * RSS_FILE, SWAP, CG_LIMIT, CG_USAGE, MEM_TOTAL, THREADS filled; the
 * agent's heap fields stay 0), then the LK_MAP_* sums. */
struct lk_watch_sample {
    uint64_t proc[LK_WATCH_NPROC];
};

/* Reads /proc/PID/{statm,status,smaps}, /proc/meminfo and the
 * process's cgroup v2 memory files. 0, or -errno when the process is gone
 * (ESRCH/ENOENT) or cannot be read (EACCES). Cost: one pass over smaps,
 * about 1 ms for a thousand mappings. */
int lk_watch_sample(pid_t pid, struct lk_watch_sample *out);

/* Whether m was written by `leakscope watch`. */
int lk_watch_is_watch(const struct lk_model *m);

/* Per-kind resident bytes at every snapshot of m, read back from its
 * SNAPSHOT records: out[snap * LK_MAP_NKINDS + kind]. 1 when the recording
 * carries them, 0 when not (out zeroed). out holds m->nsnaps * LK_MAP_NKINDS. */
int lk_watch_maps(const struct lk_model *m, uint64_t *out);

struct lk_watch_kind {
    uint64_t start, end, peak; /* resident bytes */
    struct lk_trend t;         /* over seconds: slope in bytes/s */
};

struct lk_watch_verdict {
    int growing;  /* RSS grows (procsplit's rule: significant, material, still) */
    int has_maps; /* per-kind fields recorded */
    struct lk_watch_kind kind[LK_MAP_NKINDS];
    int grows_most;    /* the kind whose growth is largest; -1 when none grew */
    double share;      /* its part of RSS growth, 0..1 (can exceed 1 if others shrank) */
    char summary[256]; /* "GROWING: RSS +1.2 MiB/s (95% CI ...), in anonymous mappings" */
};

/* The watch verdict of m, analysed as a. 0 or -ENOMEM. */
int lk_watch_analyze(const struct lk_model *m, const struct lk_analysis *a,
                     struct lk_watch_verdict *out);

/* The text report of a watch recording (what `watch` prints at the end). */
int lk_watch_render_text(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                         const struct lk_watch_verdict *w);

/* The same as one JSON document (docs/HTML.md, "watch JSON"). */
int lk_watch_render_json(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
                         const struct lk_watch_verdict *w);

#endif
