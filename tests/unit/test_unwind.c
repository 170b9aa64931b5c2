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
 * and the last 30 must not need libunwind. */
static void
run(const char *what, void (*scenario)(int round))
{
    uint64_t fast, slow, slow_before = 0;
    for (int round = 0; round < 40; round++) {
        if (round == 10)
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
