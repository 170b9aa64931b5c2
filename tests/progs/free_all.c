/* No leak at all: builds a list of 20,000 nodes with payloads, frees every
 * one, then exits without anything allocated. At exit nothing is tracked, so the exit scan has nothing
 * to reach (test_scan: it is recorded without copying the process). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node {
    struct node *next;
    char *payload;
};

int
main(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 20000; i++) {
        struct node *n = malloc(sizeof *n);
        if (!n)
            return 1;
        n->payload = malloc(64 + (size_t)(i % 200));
        if (!n->payload)
            return 1;
        memset(n->payload, 'x', 64);
        n->next = head;
        head = n;
    }
    while (head) {
        struct node *next = head->next;
        free(head->payload);
        free(head);
        head = next;
    }
    /* write(), not stdio: a stdout buffer would stay live */
    return write(1, "freed\n", 6) == 6 ? 0 : 1;
}
