/* Thinning a recording: dropping older SNAPSHOT records while keeping what a
 * reader replays at every snapshot that stays (docs/FORMAT.md, section 6.5,
 * "Thinning"). A kept snapshot absorbs the latest site entries and size
 * classes of the snapshots removed just before it; every other record
 * (INFO, MODULE, STACK, NOTE, END and types this code does not know) is
 * copied verbatim, in place. The first and the latest snapshot are always
 * kept. Pure code over the caller's bytes and scratch memory: no malloc, no
 * I/O, no global state, so the agent can run it in its task. */
#ifndef LK_THIN_H
#define LK_THIN_H

#include <stddef.h>
#include <stdint.h>

/* Which snapshots stay. Ages are measured from the latest snapshot's time_ns.
 * Every snapshot younger than window_ns stays; an older one of age a, with
 * j = floor(log2(a / window_ns)), stays when it is the first of its cell of
 * the time grid of step (window_ns / per_octave) << j, so about per_octave
 * snapshots stay per doubling of age and the kept set of an ageing
 * recording only ever shrinks (cells of step 2g are unions of cells of
 * step g, and the first of the union is the first of one of them). */
struct lk_thin_policy {
    uint64_t window_ns;  /* full resolution for this long; > 0 */
    uint32_t per_octave; /* snapshots kept per doubling of age beyond it; >= 1 */
};

/* What a recording holds and what thinning it would do. */
struct lk_thin_plan {
    uint64_t snaps;     /* SNAPSHOT records in the input */
    uint64_t kept;      /* of them, those the policy keeps */
    uint64_t entries;   /* site entries in all snapshots */
    uint64_t last_time_ns; /* time_ns of the latest snapshot */
    size_t scratch;     /* bytes of zeroed scratch memory lk_thin_run needs */
};

/* Receives the output in order; returns 0, or negative to abort the run
 * (lk_thin_run then returns that value). */
typedef int (*lk_thin_out_fn)(void *ctx, const void *p, size_t n);

/* Walks the recording data[0..len) once to validate it and fill *plan.
 * Refuses (negative lk errors) anything it could not copy exactly: a bad
 * header, a corrupt or torn record (a torn tail is refused too: the agent
 * thins only whole files), a SNAPSHOT whose site list does not decode, a
 * policy with window_ns 0 or per_octave 0. Costs one pass over the file,
 * decoding every snapshot. */
int lk_thin_prepare(const uint8_t *data, size_t len, const struct lk_thin_policy *pol,
                    struct lk_thin_plan *plan);

/* Writes the thinned recording (file header included) through out. scratch
 * holds plan->scratch bytes, all zero (fresh anonymous memory). The input
 * must be the one plan was prepared on. The output is never longer than
 * the input. Returns 0 or a negative error (from out, or -LK_ENOSPACE when
 * scratch is short, -LK_ECORRUPT when the input changed since prepare). */
int lk_thin_run(const uint8_t *data, size_t len, const struct lk_thin_policy *pol,
                const struct lk_thin_plan *plan, void *scratch, size_t scratch_len,
                lk_thin_out_fn out, void *ctx);

#endif
