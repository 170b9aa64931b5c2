/* leakscope's optional runtime API.
 *
 * A program never needs this header: the agent (libleakscope.so, preloaded)
 * finds leaks without any change to the program. These functions let a
 * program or a test ask for a snapshot at a moment of its choosing. Declare
 * are weak symbols, so the program still links and runs without the agent:
 *
 *     #include <leakscope.h>
 *     ...
 *     if (leakscope_active && leakscope_active())
 *         leakscope_snapshot_now();
 */
#ifndef LEAKSCOPE_H
#define LEAKSCOPE_H

/* Weak in programs (they run without the agent too), strong in the agent. */
#ifdef LEAKSCOPE_BUILDING_AGENT
#define LEAKSCOPE_WEAK
#else
#define LEAKSCOPE_WEAK __attribute__((weak))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the agent is loaded and tracking this process, else 0. */
int leakscope_active(void) LEAKSCOPE_WEAK;

/* Asks the agent to write a snapshot now rather than at the end of the
 * current period, and waits (at most one second) until it is written.
 * Returns 0 when written, -1 when the agent is not tracking. */
int leakscope_snapshot_now(void) LEAKSCOPE_WEAK;

/* Asks the agent for a reachability scan now (docs/SCAN.md) and waits until
 * its SCAN record is written (a scan of a large heap takes seconds). Returns
 * 0 when written, -1 when no scan was made (not tracking, sampled mode, or
 * the scan failed). */
int leakscope_scan_now(void) LEAKSCOPE_WEAK;

#ifdef __cplusplus
}
#endif

#endif
