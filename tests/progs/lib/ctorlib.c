/* A library linked by init_order whose constructor runs before the agent's
 * (the loader initializes it first: it comes later in the search list than
 * the preloaded agent), so its blocks are allocated before the agent is
 * initialised; the program frees, reallocates and measures them later. Its
 * destructor allocates after the agent has written its final snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ctorlib_early[16];

__attribute__((constructor)) static void
ctorlib_init(void)
{
    for (int i = 0; i < 16; i++) {
        ctorlib_early[i] = malloc((size_t)(16 << i));
        memset(ctorlib_early[i], 'e', (size_t)(16 << i));
    }
    ctorlib_early[15] = realloc(ctorlib_early[15], 3000000); /* an mmapped chunk */
}

__attribute__((destructor)) static void
ctorlib_fini(void)
{
    for (int i = 0; i < 100; i++) {
        char *p = malloc((size_t)(i * 100 + 1));
        p[0] = 1;
        free(realloc(p, 5000));
    }
    fputs("ctorlib destructor ran\n", stdout);
    fflush(stdout);
}
