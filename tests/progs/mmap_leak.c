/* Growth outside malloc: grab_region() maps anonymous memory that is never
 * unmapped, while other mappings are unmapped whole, in part, or moved by
 * mremap and then released. Runs argv[1] seconds (default 3). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *
map_anon(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(1);
    memset(p, 1, n);
    return p;
}

static void *
grab_region(size_t n)
{
    return map_anon(n);
}

static void
scratch_maps(void)
{
    void *t = map_anon(8192);
    munmap(t, 8192);
    void *r = map_anon(3 * 4096);
    r = mremap(r, 3 * 4096, 5 * 4096, MREMAP_MAYMOVE);
    munmap(r, 4096);                          /* the first page */
    munmap((char *)r + 4096, 4 * 4096);       /* then the rest */
}

int
main(int argc, char **argv)
{
    int rounds = (int)((argc > 1 ? atof(argv[1]) : 3) * 10);
    for (int i = 0; i < rounds && i < 100000; i++) {
        grab_region(65536);
        scratch_maps();
        usleep(100000);
    }
    puts("mapped");
    return 0;
}
