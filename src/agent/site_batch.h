/* Per-thread batches of site counter deltas. An allocation or free adds to
 * its thread's batch with plain stores instead of locked additions to the
 * shared site (on this project's Xeon VM those `lock add`s were the largest
 * part of what full tracking still cost on perl: docs/UNWIND.md, section 9);
 * the agent's task collects every batch into the sites before it reads
 * them, so snapshots see exact counts, idle and exited threads' included.
 * The hand-over is an asymmetric Dekker protocol: the owner marks itself
 * busy and checks a steal flag with compiler barriers only; the collector
 * raises the flag and issues membarrier(2), which makes every running
 * thread's pending stores visible, so that either it sees the owner busy
 * (and waits the few instructions out) or the owner sees the flag (and adds
 * to the site with atomics while the collection runs). Without membarrier
 * (an old kernel, seccomp) every thread adds to the sites directly. */
#ifndef LK_SITE_BATCH_H
#define LK_SITE_BATCH_H

#include <stdint.h>

#include "site_table.h"

/* Registers membarrier and the thread-exit key. 0, or -errno: batching off. */
int lk_site_batch_init(void);

/* lk_site_on_alloc_w / lk_site_on_free_w through this thread's batch. */
void lk_site_batch_alloc(struct lk_site *s, uint64_t size, uint32_t period, uint64_t blocks,
                         uint64_t bytes);
void lk_site_batch_free(struct lk_site *s, uint32_t period, uint64_t blocks, uint64_t bytes);

/* Adds every batch's pending deltas to the sites and empties the batches.
 * Snapshot thread only (one collector at a time); waits at most ~10 ms for
 * a thread caught inside its batch, whose deltas then wait for the next
 * collection. */
void lk_site_batch_collect(void);

/* In a fork child (only the forking thread runs): takes every batch in,
 * owners or not, and registers membarrier for the new process. */
void lk_site_batch_after_fork(void);

#endif
