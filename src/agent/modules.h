/* The process's loaded ELF objects, as the recording needs them to turn
 * return addresses into (module, offset) pairs that the CLI symbolizes. */
#ifndef LK_MODULES_H
#define LK_MODULES_H

#include <stdint.h>

#include "record/format.h"
#include "record/writer.h"

/* Reads the current list; 0 or -ENOMEM. Sets the agent's own range. */
int lk_modules_init(uintptr_t self_addr, uintptr_t *self_lo, uintptr_t *self_hi);

/* Rescans when objects were loaded or unloaded since the last call. On the
 * program's threads only, never the agent's task (it takes the loader's lock
 * through dl_iterate_phdr), holding no lock of the agent's; returns at once
 * when another thread is rescanning. */
void lk_modules_update(void);

/* Is addr in a loaded module? Any thread; no lock. */
int lk_modules_covers(uintptr_t addr);

/* Encodes MODULE / MODULE_GONE records for the changes the updates found,
 * and for every module not yet written when rewrite_all is set (a new
 * recording after fork). Any thread, the recorder's lock held; no lock of
 * the loader's. */
void lk_modules_refresh(struct lk_writer *w, uint64_t time_ns, int rewrite_all);

/* A fork child: an update that another thread was making at fork time never
 * ends there. */
void lk_modules_after_fork(void);

/* Module id and offset of an address; module 0 and the address itself when
 * it lies in no known module. Prefers loaded modules over unloaded ones. */
struct lk_frame lk_modules_locate(uintptr_t addr);

#endif
