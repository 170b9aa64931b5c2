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

/* Is addr in a loaded module? Any thread; no lock. When it is and lo is
 * not NULL, [*lo, *hi) is that module's range, so that a caller with many
 * addresses asks again only for one outside it. */
int lk_modules_covers(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);

/* Encodes MODULE / MODULE_GONE records for the changes the updates found,
 * and for every module not yet written when rewrite_all is set (a new
 * recording after fork). Any thread, the recorder's lock held; no lock of
 * the loader's. */
void lk_modules_refresh(struct lk_writer *w, uint64_t time_ns, int rewrite_all);

/* Around fork: the forking thread waits (100 ms at most) for an update
 * another thread is making and holds off new ones, so that no thread of
 * ours is inside dl_iterate_phdr at fork time (the child would find the
 * loader's lock held for good). The parent then lets updates run again;
 * the child (lk_modules_after_fork) too, and forgets an update that was
 * still running when the wait gave up. */
void lk_modules_fork_prepare(void);
void lk_modules_fork_parent(void);
void lk_modules_after_fork(void);

/* Module id and offset of an address; module 0 and the address itself when
 * it lies in no known module. Prefers loaded modules over unloaded ones. */
struct lk_frame lk_modules_locate(uintptr_t addr);

/* The same through a cache of the last answers' ranges, for a loop over
 * many addresses (the STACK records of a snapshot: cc1's 300k frames in 14
 * modules took 7 ms one by one; with one range cached, a stack's frames
 * going from cc1 to libc and back still took 10M instructions). Start
 * with a zeroed cache; valid while no module is added or unloaded. */
#define LK_MODULES_CACHED 4
struct lk_modules_cache {
    struct {
        uintptr_t lo, hi, base;
        uint64_t module; /* 0: nothing cached */
    } e[LK_MODULES_CACHED];
    unsigned next; /* the entry a miss replaces */
};
struct lk_frame lk_modules_locate_cached(uintptr_t addr, struct lk_modules_cache *c);

#endif
