/* Allocations around the agent's lifetime: blocks from ctorlib's
 * constructor (before the agent is initialised) are measured, reallocated
 * and freed here; this program's own constructor allocates too; an atexit
 * handler and a static destructor allocate after main returns, and
 * ctorlib's destructor after the agent's final snapshot. Output must be the
 * same with and without the agent. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char *ctorlib_early[16];
static char *own_early;

__attribute__((constructor)) static void
own_init(void)
{
    own_early = strdup("made in the program's constructor");
}

__attribute__((destructor)) static void
own_fini(void)
{
    char *p = malloc(1000);
    snprintf(p, 1000, "program destructor ran");
    puts(p);
    free(p);
}

static void
at_exit(void)
{
    char *p = calloc(10, 100);
    puts("atexit handler ran");
    free(p);
}

int
main(void)
{
    int short_blocks = 0;
    for (int i = 0; i < 15; i++) {
        size_t want = (size_t)(16 << i);
        if (malloc_usable_size(ctorlib_early[i]) < want || ctorlib_early[i][want - 1] != 'e')
            short_blocks++;
    }
    if (malloc_usable_size(ctorlib_early[15]) < 3000000)
        short_blocks++;
    printf("early blocks with a short usable size: %d\n", short_blocks);
    for (int i = 0; i < 16; i += 2)
        ctorlib_early[i] = realloc(ctorlib_early[i], 100000); /* blocks the agent never saw */
    for (int i = 0; i < 16; i++)
        free(ctorlib_early[i]);
    printf("%s\n", own_early);
    free(own_early);
    atexit(at_exit);
    for (int i = 0; i < 1000; i++)
        free(malloc((size_t)i));
    puts("main returns");
    return 3;
}
