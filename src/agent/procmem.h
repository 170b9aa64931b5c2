/* Process memory as the snapshot records it. */
#ifndef LK_PROCMEM_H
#define LK_PROCMEM_H

#include <stdint.h>

#include "record/format.h"

/* Fills the LK_PROC_RSS, LK_PROC_VM and LK_PROC_MI_* fields of proc from
 * /proc/self/statm and mallinfo2(); leaves the others. Snapshot thread only:
 * mallinfo2 takes every arena's lock. */
void lk_procmem_read(uint64_t proc[LK_PROC_NFIELDS]);

#endif
