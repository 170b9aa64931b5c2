/* Reachability scan of the live process (docs/SCAN.md): stop the world with
 * ptrace from a tracer task, copy the process (a fork of the tracer), resume,
 * and let the copy mark the live map's blocks from the roots; at the exit of
 * a program with one thread, the tracer marks in place. The caller gets
 * per-site counts, retainers and (optionally) redacted content samples in a
 * shared buffer and encodes the SCAN record itself. */
#ifndef LK_SCAN_H
#define LK_SCAN_H

#include <stdint.h>

#include "record/format.h"
#include "record/writer.h"

struct lk_scan_result;

struct lk_scan_params {
    int interior;         /* a pointer into a block's middle keeps it */
    unsigned content;     /* content bytes per sample, 0 = none, at most LK_SCAN_CONTENT */
    int caller_is_agent;  /* the caller is the agent's task (its stack is not a root) */
};

/* The agent's task says who it is once, so that a scan from another
 * thread (at exit) leaves its stack and registers out of the roots. */
void lk_scan_set_agent_thread(void);

/* The size of glibc's thread descriptor (libthread_db's
 * _thread_db_sizeof_pthread), from start-up: the part of an exited
 * thread's cached stack that is still live, when no live thread of the
 * program shows it (the agent's task has no descriptor of its own). */
void lk_scan_set_tcb_size(uint32_t size);

/* Runs one scan: takes every live-map lock (gives up, returning NULL, when
 * one stays held), stops the other threads, copies the process, resumes it
 * and waits for the copy's scan. No malloc, no signal or child the program
 * can see. NULL when no scan could be made; else a result to encode and then
 * release. *note is set to a sentence for the recording when the scan was
 * degraded (no registers), else NULL. */
struct lk_scan_result *lk_scan_run(const struct lk_scan_params *p, const char **note);

/* Encodes the SCAN record of a result (seq, period, trigger from the caller;
 * time_ns relative to start_ns, the recording's start). */
void lk_scan_encode(struct lk_writer *w, const struct lk_scan_result *r, uint64_t seq,
                    uint64_t start_ns, uint64_t period, enum lk_scan_trigger trigger);

void lk_scan_release(struct lk_scan_result *r);

#endif
