/* Reads process memory for snapshots: RSS and virtual size from
 * /proc/self/statm (parsed by hand, no stdio) and glibc's allocator
 * statistics from mallinfo2(), which walks the arenas under their locks. No
 * allocation; called from the snapshot thread with no agent lock held. */
#include "procmem.h"

#include <malloc.h>

#include "sys.h"

static uint64_t
parse_u64(const char **pp)
{
    const char *p = *pp;
    uint64_t v = 0;
    while (*p == ' ')
        p++;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    *pp = p;
    return v;
}

void
lk_procmem_read(uint64_t proc[LK_PROC_NFIELDS])
{
    char buf[256];
    uint64_t page = (uint64_t)lk_sys_page_size();
    if (lk_sys_read_file("/proc/self/statm", buf, sizeof buf) > 0) {
        const char *p = buf;
        proc[LK_PROC_VM] = parse_u64(&p) * page;
        proc[LK_PROC_RSS] = parse_u64(&p) * page;
    }
    struct mallinfo2 mi = mallinfo2();
    proc[LK_PROC_MI_ARENA] = mi.arena;
    proc[LK_PROC_MI_HBLKHD] = mi.hblkhd;
    proc[LK_PROC_MI_UORD] = mi.uordblks;
    proc[LK_PROC_MI_FORD] = mi.fordblks;
    proc[LK_PROC_MI_KEEP] = mi.keepcost;
}
