/* Process memory as the snapshot records it. */
#ifndef LK_PROCMEM_H
#define LK_PROCMEM_H

#include <stdint.h>

#include "record/format.h"

/* Finds the process's cgroup memory files (v2 memory.max/current, or v1
 * memory.limit_in_bytes/usage_in_bytes) and MemTotal. Start-up only. */
void lk_procmem_init(void);

/* How lk_procmem_read calls mallinfo2. */
enum lk_procmem_mi {
    LK_PROCMEM_RATED,  /* rate-limited by its own cost (previous values meanwhile) */
    LK_PROCMEM_FRESH,  /* fresh values unless the latest call was slow (over 2 ms) */
    LK_PROCMEM_CACHED, /* never now: a fatal signal may have stopped a thread that
                        * holds an arena lock for good, and mallinfo2 would wait */
};

/* Fills the LK_PROC_RSS, VM, MI_*, ANON, RSS_FILE, SWAP, CG_*, MEM_TOTAL and
 * THREADS fields of proc from /proc/self/status (the kernel's counters,
 * ~12 us), the cgroup files and mallinfo2(); leaves the others. For
 * snapshots: mallinfo2 takes every arena's lock. On the agent's task, the
 * MI_* fields are the latest that lk_procmem_mallinfo published while the
 * program has one thread. */
void lk_procmem_read(uint64_t proc[LK_PROC_NFIELDS], enum lk_procmem_mi mi);

/* Calls mallinfo2 as `how` says and publishes the result; returns at once
 * when another thread is calling it. On a program thread while the program
 * has one thread (the hooks, between two calls into glibc's malloc). */
void lk_procmem_mallinfo(enum lk_procmem_mi how);

/* A fork child: a call another thread was making never ends there. */
void lk_procmem_after_fork(void);

#endif
