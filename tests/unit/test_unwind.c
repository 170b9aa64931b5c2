/* Stack walking: the walker driven by the table of frame rules gives the
 * stack libunwind gives, through frames of a fixed size, frames after alloca
 * (whose CFA is rbp-based: the table learns the rbp rule once their sizes
 * differ; the alloca'd buffer is full of a return address the table knows,
 * so a walk with an earlier call's size goes wrong visibly), a frame that clobbers rbp while it calls on (the walker must find
 * the caller's rbp where the frame saved it), and a frame-pointer function
 * without unwind information, as JIT code is (walked by its frame pointer).
 * Once the table knows them, the walks need no libunwind: the count of
 * libunwind walks stays put (a walk that kept going to libunwind made node
 * 6x slower). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <alloca.h>
#include <stdio.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "agent/unwind.h"

#define MAXF 64

static uintptr_t got[MAXF], got_sp[MAXF], want[MAXF];
static size_t ngot, nwant;
static int got_complete;

/* The interposer's part: built with a frame pointer, so that its CFA - 16
 * holds the caller's rbp (lk_unwind_walk's contract). Walks with the table
 * and with libunwind (unw_backtrace: frame 0 is this function). */
__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void
probe(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0) + 16;
    int same = 0;
    ngot = lk_unwind_walk(pc, sp, got, got_sp, MAXF, NULL, &same, &got_complete);
    void *b[MAXF + 1];
    int nb = unw_backtrace(b, MAXF + 1);
    nwant = 0;
    for (int i = 1; i < nb && nwant < MAXF; i++)
        want[nwant++] = (uintptr_t)b[i];
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noipa)) static int
plain(int d)
{
    if (d == 0) {
        probe();
        return 1;
    }
    int r = plain(d - 1);
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return r + 1;
}

static int (*volatile inner)(int);

/* Uses rbp for something else while it calls on: rbp is 0 in its callees,
 * and its caller's rbp is only in the slot where it saved it. */
__attribute__((noinline, noipa, optimize("omit-frame-pointer"))) static int
clobbers_rbp(int d)
{
    int r;
    __asm__ volatile("xor %%ebp, %%ebp" ::: "rbp", "memory");
    r = inner(d);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

/* A return address the table knows (plain's recursive call), which
 * with_alloca writes all over its buffer: a walker that stepped through its
 * frame with the size of an earlier, smaller call would read it as the
 * caller's return address and go on as if it were plain's frame. */
static uintptr_t known_ra;

/* alloca of n bytes (a multiple of 8): the compiler makes the CFA
 * rbp-based. */
__attribute__((noinline, noipa)) static int
with_alloca(size_t n, int (*next)(int), int d)
{
    volatile uintptr_t *p = alloca(n);
    for (size_t i = 0; i < n / sizeof *p; i++)
        p[i] = known_ra;
    int r = next(d);
    __asm__ volatile("" ::: "memory");
    return r + (int)(p[0] & 1);
}

/* A frame-pointer function with no unwind information (no CFI in this
 * assembly, so no FDE covers it): calls fn(d). */
int lk_test_nocfi(int (*fn)(int), int d);
__asm__(".text\n"
        ".globl lk_test_nocfi\n"
        ".type lk_test_nocfi, @function\n"
        "lk_test_nocfi:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    sub $32, %rsp\n"
        "    mov %rdi, %rax\n"
        "    mov %esi, %edi\n"
        "    call *%rax\n"
        "    leave\n"
        "    ret\n"
        ".size lk_test_nocfi, . - lk_test_nocfi\n");

__attribute__((noinline, noipa)) static int
through_nocfi(int d)
{
    int r = lk_test_nocfi(plain, d);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

/* Sets rbp to a word outside the stack while it calls on, as optimized
 * code that uses rbp as a plain register does: its callees' frames have
 * that rbp, and libunwind must not be handed it as theirs. */
static uintptr_t not_a_frame[4];
__attribute__((noinline, noipa, optimize("omit-frame-pointer"))) static int
rbp_elsewhere(int d)
{
    int r;
    __asm__ volatile("mov %0, %%rbp" ::"r"(&not_a_frame[2]) : "rbp", "memory");
    r = inner(d);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

/* ...and a frame without a frame pointer called with that rbp */
__attribute__((noinline, noipa, optimize("omit-frame-pointer"))) static int
leaf_nofp(int d)
{
    int r = plain(d);
    __asm__ volatile("" ::: "memory");
    return r + 2;
}

static void
check_same(const char *what, int round)
{
    if (ngot != nwant || memcmp(got, want, ngot * sizeof got[0]) != 0) {
        fprintf(stderr, "%s, round %d: table %zu frames, libunwind %zu\n", what, round, ngot,
                nwant);
        for (size_t i = 0; i < MAXF && (i < ngot || i < nwant); i++)
            fprintf(stderr, "  %2zu %#14lx %#14lx\n", i, i < ngot ? (unsigned long)got[i] : 0ul,
                    i < nwant ? (unsigned long)want[i] : 0ul);
        fail_msg("%s: the walk differs from libunwind's", what);
    }
    assert_true(got_complete);
}

/* Runs scenario(round) for 40 rounds: every walk must equal libunwind's,
 * and the last 30 must not need libunwind. The round to read the counters
 * at is volatile: a constant let the compiler split the loop in two, whose
 * second call of scenario had a return address of its own, new at round
 * 10. */
static volatile int stats_round = 10;

static void
run(const char *what, void (*scenario)(int round))
{
    uint64_t fast, slow, slow_before = 0;
    for (int round = 0; round < 40; round++) {
        if (round == stats_round)
            lk_unwind_stats(&fast, &slow_before);
        scenario(round);
        check_same(what, round);
    }
    lk_unwind_stats(&fast, &slow);
    assert_int_equal(slow, slow_before);
}

static void
s_plain(int round)
{
    plain(3 + round % 2);
}

static void
s_alloca(int round)
{
    with_alloca(16 + 48 * (size_t)(round % 5), plain, 2);
}

static void
s_alloca_clobber(int round)
{
    inner = plain;
    with_alloca(32 + 80 * (size_t)(round % 3), clobbers_rbp, 1 + round % 2);
}

static void
s_nocfi(int round)
{
    with_alloca(64 + 16 * (size_t)(round % 4), through_nocfi, round % 3);
}

static void
s_rbp_elsewhere(int round)
{
    inner = leaf_nofp;
    rbp_elsewhere(20 + round % 2);
}

static void
test_walks(void **state)
{
    (void)state;
    assert_int_equal(lk_unwind_init(0, 0), 0);
    run("fixed-size frames", s_plain);
    known_ra = got[1]; /* plain(d - 1) returning into plain */
    assert_true(ngot > 2 && got[1] == got[2]);
    run("a frame after alloca", s_alloca);
    run("alloca, then a frame that clobbers rbp", s_alloca_clobber);
    run("a frame-pointer function without unwind information", s_nocfi);
}

/* Frames the table does not know, with an rbp outside the stack (as in all
 * of cc1), below twenty frames it knows: each is learned from libunwind
 * steps from that frame alone (two, with made-up rbps), not from a walk of
 * libunwind from the top through the twenty (the walk before). */
static void
test_rbp_outside_stack(void **state)
{
    (void)state;
    uint64_t fast, slow0, slow1;
    assert_int_equal(lk_unwind_init(0, 0), 0);
    s_plain(0); /* plain's return addresses */
    lk_unwind_stats(&fast, &slow0);
    s_rbp_elsewhere(0);
    check_same("rbp outside the stack, first walk", 0);
    lk_unwind_stats(&fast, &slow1);
    assert_true(ngot > 22);
    /* new: leaf_nofp's, rbp_elsewhere's, s_rbp_elsewhere's and this test's
     * return addresses, a look-up and two steps each, and cmocka's frames */
    if (slow1 - slow0 >= 20)
        fail_msg("%llu libunwind steps and look-ups for a walk through 4 new frames",
                 (unsigned long long)(slow1 - slow0));
    run("rbp outside the stack", s_rbp_elsewhere);
}

/* The check (LEAKSCOPE_CHECK_UNWIND) finds a walk that differs from
 * libunwind's, and only such a walk. */
static uintptr_t checked_pcs[MAXF];
static size_t checked_n;
static int check_flip; /* frame whose return address the check is given wrong, -1 none */

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void
probe_check(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0) + 16;
    int same = 0;
    checked_n = lk_unwind_walk(pc, sp, checked_pcs, got_sp, MAXF, NULL, &same, &got_complete);
    if (check_flip >= 0 && (size_t)check_flip < checked_n)
        checked_pcs[check_flip] ^= 0x10;
    lk_unwind_check_walk(got_sp[0], checked_pcs, checked_n, MAXF);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noipa)) static int
to_probe_check(int d)
{
    if (d == 0) {
        probe_check();
        return 1;
    }
    int r = to_probe_check(d - 1);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

static void
test_check(void **state)
{
    (void)state;
    struct lk_unwind_check c0, c1, c2;
    assert_int_equal(lk_unwind_init(0, 0), 0);
    check_flip = -1;
    to_probe_check(5);
    lk_unwind_check_stats(&c0);
    to_probe_check(5);
    lk_unwind_check_stats(&c1);
    assert_int_equal(c1.checked, c0.checked + 1);
    assert_int_equal(c1.differed, c0.differed);
    check_flip = 3;
    to_probe_check(5);
    lk_unwind_check_stats(&c2);
    assert_int_equal(c2.checked, c1.checked + 1);
    assert_int_equal(c2.differed, c1.differed + 1);
    if (c1.differed == 0) {
        assert_int_equal(c2.frame, 3);
        assert_int_equal(c2.got, checked_pcs[3]);
        assert_int_equal(c2.want, checked_pcs[3] ^ 0x10);
    }
}

/* The walk through the function without unwind information has its return
 * address and its caller's, in order. */
static void
test_nocfi_frames(void **state)
{
    (void)state;
    assert_int_equal(lk_unwind_init(0, 0), 0);
    if (!known_ra) {
        s_plain(1);
        known_ra = got[1];
    }
    for (int round = 0; round < 3; round++)
        s_nocfi(round);
    uintptr_t lo = (uintptr_t)lk_test_nocfi, caller = (uintptr_t)through_nocfi;
    size_t at = MAXF;
    for (size_t i = 0; i < ngot; i++)
        if (got[i] > lo && got[i] < lo + 32) {
            at = i;
            break;
        }
    assert_true(at + 1 < ngot);
    assert_true(got[at + 1] > caller && got[at + 1] < caller + 256);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walks),
        cmocka_unit_test(test_nocfi_frames),
        cmocka_unit_test(test_rbp_outside_stack),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
