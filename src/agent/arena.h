/* The agent's own memory: bump allocation from mmap'd chunks, never freed.
 * Used for sites and their stacks, which live as long as the process. */
#ifndef LK_ARENA_H
#define LK_ARENA_H

#include <stddef.h>

/* n zeroed bytes, 16-byte aligned; NULL when mmap fails. Thread-safe (arena
 * lock, innermost rank). Costs a pointer bump, and an mmap per MiB. */
void *lk_arena_alloc(size_t n);
/* Bytes obtained from the system so far (for the agent's own accounting). */
size_t lk_arena_mapped(void);
void lk_arena_lock_all(void);
void lk_arena_unlock_all(void);
void lk_arena_reset_locks(void);

#endif
