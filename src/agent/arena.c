/* Bump allocator over 1 MiB mmap'd chunks for the agent's long-lived data
 * (sites, stacks). Requests above a quarter chunk get a mapping of their own.
 * Never calls malloc; takes the arena lock (the innermost rank). */
#include "arena.h"

#include <stdint.h>

#include "lock.h"
#include "sys.h"

#define CHUNK (1u << 20)

static struct lk_lock lock = LK_LOCK_INIT;
static char *cur;       /* next free byte in the current chunk */
static size_t left;     /* bytes left in the current chunk */
static size_t mapped;   /* total bytes mapped */

void *
lk_arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > CHUNK / 4) {
        size_t len = (n + 4095) & ~(size_t)4095;
        void *p = lk_sys_mmap(len);
        if (p) {
            lk_lock(&lock);
            mapped += len;
            lk_unlock(&lock);
        }
        return p;
    }
    lk_lock(&lock);
    if (left < n) {
        char *c = lk_sys_mmap(CHUNK);
        if (!c) {
            lk_unlock(&lock);
            return NULL;
        }
        /* A program that fills a chunk fills the next ones too: fault each
         * in at once, not a page at a time (gcc's cc1, whose 15,700 sites
         * take 22 MiB: 5,000 page faults fewer, docs/UNWIND.md section 19).
         * The first chunk faults in lazily: a short program uses little. */
        if (mapped)
            lk_sys_populate(c, CHUNK);
        mapped += CHUNK;
        cur = c;
        left = CHUNK;
    }
    void *p = cur;
    cur += n;
    left -= n;
    lk_unlock(&lock);
    return p;
}

size_t
lk_arena_mapped(void)
{
    return mapped;
}

void
lk_arena_lock_all(void)
{
    lk_lock(&lock);
}

void
lk_arena_unlock_all(void)
{
    lk_unlock(&lock);
}

void
lk_arena_reset_locks(void)
{
    lk_lock_reset(&lock);
}
