/* Loads a plugin (argv[1], a path), makes it allocate -- plugin_grow leaks
 * argv[2] blocks (default 200) over about a second -- unloads it with
 * dlclose, and runs on for argv[3] ms (default 500) so snapshots follow the
 * unload. Then dlopens and dlcloses it argv[4] more times (default 50), a
 * loop of load/allocate/unload. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dlopener PLUGIN [N] [MS] [LOOPS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 200;
    long ms = argc > 3 ? atol(argv[3]) : 500;
    int loops = argc > 4 ? atoi(argv[4]) : 50;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void *(*grow)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_grow");
    void (*churn)(int) = (void (*)(int))dlsym(h, "plugin_churn");
    for (int i = 0; i < n; i++) {
        grow(1024);
        churn(10);
        sleep_ms(1000 / (n ? n : 1) + 1);
    }
    if (dlclose(h) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    sleep_ms(ms);
    for (int i = 0; i < loops; i++) {
        h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return 1;
        ((void (*)(int))dlsym(h, "plugin_churn"))(100);
        dlclose(h);
    }
    printf("plugin grew %d blocks, unloaded, reloaded %d times\n", n, loops);
    return 0;
}
