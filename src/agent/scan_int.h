/* Internal to the scan: the buffer shared by the caller, the tracer (same
 * memory) and the scanner (a copy, which sees it because it is MAP_SHARED).
 * scan.c stops the world and copies; scan_mark.c scans the copy. */
#ifndef LK_SCAN_INT_H
#define LK_SCAN_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "record/format.h"
#include "sys.h"

#define LK_SCAN_MAX_THREADS 1024
#define LK_SCAN_NREGS 27 /* struct user_regs_struct, x86-64 */
#define LK_SCAN_REG_SP 19
#define LK_SCAN_SAMPLES_PER_SITE 3
#define LK_SCAN_MAX_SAMPLES 1536

struct lk_scan_thread {
    int tid;
    int seized;    /* PTRACE_SEIZE succeeded: must be detached */
    int stopped;   /* waited for: in a ptrace stop */
    int have_regs; /* regs[] valid */
    int sig;       /* signal to re-inject at detach (it stopped for its delivery) */
    uint64_t regs[LK_SCAN_NREGS];
};

struct lk_scan_site_res {
    uint32_t site;
    uint32_t nret;
    uint64_t count[LK_NSTATES], bytes[LK_NSTATES];
    uint32_t ret_kind[LK_SCAN_RETAINERS], ret_id[LK_SCAN_RETAINERS];
    uint64_t ret_count[LK_SCAN_RETAINERS];
};

struct lk_scan_sample_res {
    uint32_t site, state;
    uint64_t size;
    uint32_t period, len;
    uint8_t content[LK_SCAN_CONTENT];
    uint8_t mask[LK_SCAN_CONTENT / 8];
};

struct lk_scan_result {
    size_t map_len;          /* bytes of this mapping */
    /* in: set by the caller before the tracer starts */
    int pid, caller_tid, agent_tid;
    uintptr_t agent_sp;      /* an address in the agent's task's stack, 0 = unknown */
    uint32_t tcb_size;       /* glibc's thread descriptor, 0 = unknown */
    uintptr_t caller_sp;     /* the caller's stack pointer, when its stack is a root */
    int interior;
    unsigned content;
    uint32_t max_sites;
    int in_place;            /* no thread of the program runs: the tracer scans the
                              * process itself, without stopping or copying it */
    _Atomic int go;          /* caller -> tracer: start (the ptracer exception is set) */
    _Atomic int resumed;     /* tracer -> caller: the threads run again */
    /* tracer */
    int nthreads;
    int refused;             /* ptrace refused: no registers */
    int regs_ok;             /* every other thread stopped, registers read */
    uint64_t t_stop, t_resume; /* CLOCK_MONOTONIC around the stop */
    struct lk_scan_thread thr[LK_SCAN_MAX_THREADS];
    /* scanner */
    int scanned;             /* the scanner finished and filled what follows */
    uint64_t flags, threads, root_bytes, heap_bytes, blocks, scan_ns;
    uint64_t pause_ns;       /* set by the caller */
    uint32_t nsites, nsamples;
    struct lk_scan_sample_res samples[LK_SCAN_MAX_SAMPLES];
    struct lk_scan_site_res sites[]; /* max_sites */
};

/* The scanner's body: runs in the copy (or in the tracer, in place), exits
 * with exit_group. */
void lk_scan_mark_main(struct lk_scan_result *r) __attribute__((noreturn));

static inline uint64_t
lk_scan_now_ns(void)
{
    struct {
        long s, ns;
    } ts = {0, 0};
    lk_sys_call6(228 /* SYS_clock_gettime */, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0, 0, 0, 0);
    return (uint64_t)ts.s * 1000000000ull + (uint64_t)ts.ns;
}

#endif
