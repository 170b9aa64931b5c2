/* The per-thread stack cache and its guesses (docs/UNWIND.md, sections 18
 * and 19), driven from real frames: every site the cache gives must be the
 * site of the stack a fresh walk gives, whatever the cache held before.
 *
 * The sequence is a review's: one stack allocates both kinds (heap, then a
 * mapping: a wrapper that tail-calls malloc or mmap does), so the walk finds
 * the previous stack again for another kind, and a guess tried before that
 * walk fails. A guess that wrote into the walk's buffer before failing left
 * the buffer keyed by its old stack with another first frame, and later
 * allocations from that stack got another stack's site (7 of the 49 filler
 * settings below). Each setting runs in a child of its own, from an empty
 * cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/site_table.h"
#include "agent/stack_cache.h"
#include "agent/unwind.h"

#define DEPTH 32
#define NOTAIL __asm__ volatile("" ::: "memory")

static enum lk_kind want_kind;
static int wrong, asked;

/* An allocation's site through the cache, as the agent's hook finds it,
 * compared with a fresh walk of the same stack. */
__attribute__((noinline, noipa, optimize("no-omit-frame-pointer"))) static void
probe(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0) + 16;
    struct lk_site *s = lk_stack_cache_find(pc, sp, want_kind);
    if (!s)
        s = lk_stack_cache_walk(pc, sp, want_kind, DEPTH);
    uintptr_t ref[LK_MAX_FRAMES], rsp[LK_MAX_FRAMES];
    int same, complete;
    size_t n = lk_unwind_walk(pc, sp, ref, rsp, DEPTH, NULL, &same, &complete);
    asked++;
    if (!s || s->kind != want_kind || s->depth != n ||
        memcmp(s->frames, ref, n * sizeof ref[0]) != 0)
        wrong++;
}

/* Three call sites in one function, reached from two callers (X, Y), and
 * recursion of any depth (fill) to put other stacks in the cache. */
__attribute__((noinline, noipa, optimize("O0"))) static void
F(int which)
{
    if (which == 1) {
        probe();
        NOTAIL;
    } else if (which == 2) {
        probe();
        NOTAIL;
    } else {
        probe();
        NOTAIL;
    }
    NOTAIL;
}

__attribute__((noinline, noipa)) static void
X(int w)
{
    F(w);
    NOTAIL;
}

__attribute__((noinline, noipa)) static void
Y(int w)
{
    F(w);
    NOTAIL;
}

__attribute__((noinline, noipa)) static void
Z(int w, int d)
{
    if (d)
        Z(w, d - 1);
    else
        F(w);
    NOTAIL;
}

__attribute__((noinline, noipa)) static void
fill(int n)
{
    for (int i = 0; i < n; i++) {
        want_kind = LK_KIND_HEAP;
        Z(0, i + 1);
    }
    NOTAIL;
}

__attribute__((noinline, noipa)) static void
step(int ctx, int which, enum lk_kind k)
{
    want_kind = k;
    if (ctx == 0)
        X(which);
    else
        Y(which);
    NOTAIL;
}

/* One setting: the wrong sites it got. */
static int
run_setting(int f1, int f2)
{
    static const int prog[][3] = {
        /* ctx (0: X, 1: Y, 2: fill with `which` stacks), which, kind */
        {0, 2, LK_KIND_HEAP}, /* S, heap */
        {1, 2, LK_KIND_MMAP}, /* S' (Y), a mapping: S's successor */
        {2, -1, 0},           /* f1 other stacks */
        {0, 1, LK_KIND_HEAP}, /* T */
        {2, -2, 0},           /* f2 other stacks */
        {0, 2, LK_KIND_HEAP}, /* S again */
        {0, 2, LK_KIND_MMAP}, /* S for the other kind: the guess (S') fails */
        {0, 1, LK_KIND_HEAP}, /* T: from the cache */
        {0, 2, LK_KIND_HEAP},
        {0, 2, LK_KIND_HEAP},
    };
    for (size_t i = 0; i < sizeof prog / sizeof prog[0]; i++) {
        if (prog[i][0] == 2)
            fill(prog[i][1] == -1 ? f1 : f2);
        else
            step(prog[i][0], prog[i][1], (enum lk_kind)prog[i][2]);
        NOTAIL;
    }
    return wrong;
}

static void
test_guesses_leave_the_cache_consistent(void **state)
{
    (void)state;
    assert_int_equal(lk_unwind_init(0, 0), 0);
    assert_int_equal(lk_site_table_init(), 0);
    int bad_settings = 0;
    for (int f1 = 0; f1 < 7; f1++)
        for (int f2 = 0; f2 < 7; f2++) {
            fflush(NULL);
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0)
                _exit(run_setting(f1, f2) == 0 && asked > 0 ? 0 : 1);
            int st;
            assert_int_equal(waitpid(pid, &st, 0), pid);
            assert_true(WIFEXITED(st));
            if (WEXITSTATUS(st)) {
                bad_settings++;
                print_message("fillers %d, %d: a wrong site\n", f1, f2);
            }
        }
    assert_int_equal(bad_settings, 0);
    /* Guesses taken: two stacks, each after the same nine others, which
     * push it out of the eight cached ones; from the second round on, the
     * ninth filler's site has the next one as its successor. Every site
     * given is still the walk's. */
    uint64_t before = lk_stack_cache_guessed();
    for (int round = 0; round < 4; round++) {
        step(0, 1, LK_KIND_HEAP);
        fill(9);
        step(1, 2, LK_KIND_HEAP);
        fill(9);
    }
    print_message("%d allocations, %llu stacks guessed\n", asked,
                  (unsigned long long)(lk_stack_cache_guessed() - before));
    assert_int_equal(wrong, 0);
    assert_true(lk_stack_cache_guessed() - before >= 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guesses_leave_the_cache_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
