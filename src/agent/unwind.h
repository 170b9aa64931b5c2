/* Stack capture for allocation sites, with libunwind. */
#ifndef LK_UNWIND_H
#define LK_UNWIND_H

#include <stddef.h>
#include <stdint.h>

/* Notes the agent's own address range, so its frames are cut from stacks. */
void lk_unwind_init(uintptr_t self_lo, uintptr_t self_hi);

/* Return addresses of the caller's stack, innermost first, the agent's own
 * frames removed; at most max. Must run with the agent's re-entrancy guard
 * set (libunwind may allocate on first use in a thread) and with no agent
 * lock held (it takes the loader's lock through dl_iterate_phdr). */
size_t lk_unwind_capture(uintptr_t *frames, size_t max);

#endif
