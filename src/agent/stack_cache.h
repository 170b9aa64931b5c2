/* The site of the current allocation, through a per-thread cache of the
 * previous stack: consecutive allocations from the same code share their
 * outer frames (and often all of them), which are then verified with one
 * load per frame instead of walked, and an identical stack reuses the site
 * without hashing. docs/UNWIND.md has the design and its measured effect. */
#ifndef LK_STACK_CACHE_H
#define LK_STACK_CACHE_H

#include <stdint.h>

#include "record/format.h"
#include "site_table.h"

#define LK_CACHE_DEPTH 64 /* deeper settings walk without the cache */

/* Site of the stack whose innermost frame returns to pc with stack pointer
 * sp (see lk_unwind_walk), at most depth frames. NULL when the site table is
 * full. Under the re-entrancy guard, no agent lock held. */
struct lk_site *lk_stack_cache_site(uintptr_t pc, uintptr_t sp, enum lk_kind kind,
                                    unsigned depth);

#endif
