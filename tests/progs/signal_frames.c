/* Allocations in a signal handler, the signal delivered at a different
 * stack depth each time, from code that leaves rbp outside the stack and
 * its resume address just below its stack pointer (as a function that just
 * returned from a call does): the walk passes the signal trampoline
 * (__restore_rt), whose CFA comes from the saved context, not from a frame
 * size. Under LEAKSCOPE_CHECK_UNWIND=1 every walk must equal libunwind's;
 * an earlier walker learned a fixed size there. (From a review.) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *keep[64]; /* not static: the allocations must happen */
int nk;
long lk_sig_not_a_frame[4];

static void
on_usr1(int sig)
{
    (void)sig;
    if (nk < 64)
        keep[nk++] = malloc(24);
}

/* kill(pid, sig) by a raw system call, the signal arriving as it returns,
 * at label 1, whose address the function left at rsp - 8. */
void lk_sig_trigger(long pid, long sig);
__asm__(".text\n"
        ".globl lk_sig_trigger\n"
        ".type lk_sig_trigger, @function\n"
        "lk_sig_trigger:\n"
        "    .cfi_startproc\n"
        "    push %rbp\n"
        "    .cfi_def_cfa_offset 16\n"
        "    .cfi_offset %rbp, -16\n"
        "    push %rbx\n"
        "    .cfi_def_cfa_offset 24\n"
        "    .cfi_offset %rbx, -24\n"
        "    lea lk_sig_not_a_frame(%rip), %rbp\n"
        "    lea 1f(%rip), %rcx\n"
        "    mov %rcx, -8(%rsp)\n"
        "    mov $62, %eax\n"
        "    syscall\n"
        "1:  pop %rbx\n"
        "    .cfi_def_cfa_offset 16\n"
        "    pop %rbp\n"
        "    .cfi_def_cfa_offset 8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size lk_sig_trigger, . - lk_sig_trigger\n");

__attribute__((noinline)) static void
pad(int k)
{
    char *p = __builtin_alloca((size_t)k);
    p[0] = 0;
    __asm__ volatile("" ::"r"(p) : "memory");
    lk_sig_trigger((long)getpid(), SIGUSR1);
}

int
main(void)
{
    signal(SIGUSR1, on_usr1);
    for (int i = 0; i < 32; i++)
        pad(8 + 16 * i);
    int live = 0;
    for (int i = 0; i < nk; i++)
        live += keep[i] != NULL;
    printf("%d allocations in the handler, %d live\n", nk, live);
    return 0;
}
