/* A heap overflow the agent's block tags notice: 200 blocks of 32 bytes
 * from one site, and 20 of them written 8 bytes past their end (into what
 * is glibc's slack without the agent: a 32-byte request gets 40 usable
 * bytes, so the program runs the same either way), then all freed. Under
 * full tracking those 8 bytes are the tag. Output is deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 200

__attribute__((noinline)) static char *
make_block(int i)
{
    char *p = malloc(32);
    memset(p, 'a' + i % 26, 32);
    return p;
}

int
main(void)
{
    static char *b[N];
    for (int i = 0; i < N; i++)
        b[i] = make_block(i);
    for (int i = 0; i < N; i += 10)
        memset(b[i] + 32, 'Z', 8); /* the bug: 8 bytes past the block */
    for (int i = 0; i < N; i++)
        free(b[i]);
    printf("freed %d blocks, %d of them overrun\n", N, N / 10);
    return 0;
}
