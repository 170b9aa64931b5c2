/* A plugin that dlopener loads, uses and unloads: plugin_grow() leaks a
 * block per call and plugin_churn() allocates and frees. */
#include <stdlib.h>
#include <string.h>

static void **kept;

__attribute__((noinline)) void *
plugin_grow(size_t n)
{
    void **p = malloc(n);
    memset(p, 0, n);
    p[0] = kept;
    kept = p;
    return p;
}

__attribute__((noinline)) void
plugin_churn(int n)
{
    for (int i = 0; i < n; i++)
        free(malloc((size_t)(i + 1)));
}
