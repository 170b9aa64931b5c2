/* Stack capture: libunwind's unw_backtrace (its fast path caches unwind
 * steps per return address), then the leading frames that lie inside the
 * agent itself are dropped so that frame 0 is the allocator's caller. Takes
 * no agent lock; runs under the re-entrancy guard. */
#include "unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "record/format.h"

static uintptr_t self_lo, self_hi;

void
lk_unwind_init(uintptr_t lo, uintptr_t hi)
{
    self_lo = lo;
    self_hi = hi;
}

size_t
lk_unwind_capture(uintptr_t *frames, size_t max)
{
    void *buf[LK_MAX_FRAMES + 8];
    if (max > LK_MAX_FRAMES)
        max = LK_MAX_FRAMES;
    int n = unw_backtrace(buf, (int)max + 8);
    int skip = 0;
    while (skip < n && (uintptr_t)buf[skip] >= self_lo && (uintptr_t)buf[skip] < self_hi)
        skip++;
    size_t k = 0;
    for (int i = skip; i < n && k < max; i++)
        frames[k++] = (uintptr_t)buf[i];
    return k;
}
