/* A daemon-style program that closes every descriptor above 2 (the agent's
 * recording included), then opens many files of its own -- which may get
 * the number the agent's recording had -- and writes to them while the
 * agent's periods pass. Every file must hold exactly what the program wrote:
 * the agent must never write into a descriptor it no longer owns.
 * argv[1]: directory for the files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NFILES 200

int
main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int fds[NFILES];
    char path[4096], line[64];
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "%s/f%d", argv[1], i);
        fds[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fds[i] < 0)
            return 1;
    }
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < NFILES; i++) {
            free(malloc(100)); /* keep the agent busy */
            snprintf(line, sizeof line, "file %d round %d\n", i, round);
            if (write(fds[i], line, strlen(line)) < 0)
                return 1;
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < NFILES; i++)
        close(fds[i]);
    int bad = 0;
    for (int i = 0; i < NFILES; i++) {
        char want[4096] = "", got[8192];
        for (int round = 0; round < 10; round++) {
            snprintf(line, sizeof line, "file %d round %d\n", i, round);
            strcat(want, line);
        }
        snprintf(path, sizeof path, "%s/f%d", argv[1], i);
        int fd = open(path, O_RDONLY);
        ssize_t n = read(fd, got, sizeof got);
        close(fd);
        if (n != (ssize_t)strlen(want) || memcmp(got, want, (size_t)n) != 0)
            bad++;
    }
    printf("files with foreign bytes: %d\n", bad);
    return bad ? 1 : 0;
}
