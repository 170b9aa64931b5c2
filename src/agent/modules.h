/* The process's loaded ELF objects, as the recording needs them to turn
 * return addresses into (module, offset) pairs that the CLI symbolizes. */
#ifndef LK_MODULES_H
#define LK_MODULES_H

#include <stdint.h>

#include "record/format.h"
#include "record/writer.h"

/* Reads the current list; 0 or -ENOMEM. Sets the agent's own range. */
int lk_modules_init(uintptr_t self_addr, uintptr_t *self_lo, uintptr_t *self_hi);

/* Rescans when objects were loaded or unloaded since the last call and
 * encodes MODULE / MODULE_GONE records for the changes, and for every module
 * not yet written when rewrite_all is set (a new recording after fork).
 * Snapshot thread only (takes the loader lock through dl_iterate_phdr). */
void lk_modules_refresh(struct lk_writer *w, uint64_t time_ns, int rewrite_all);

/* Module id and offset of an address; module 0 and the address itself when
 * it lies in no known module. Prefers loaded modules over unloaded ones. */
struct lk_frame lk_modules_locate(uintptr_t addr);

#endif
