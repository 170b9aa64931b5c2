/* A list whose head is dropped: list_push() allocates 50 nodes in
 * node_new(), each pointing to the next, then the only pointer to the head
 * is overwritten. The head is lost directly, the 49 nodes behind it
 * indirectly (valgrind: 1 definitely + 49 indirectly lost). A second list
 * stays in a global and is reachable: 30 nodes from keep_node(). Prints
 * the lengths. */
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *next;
    long value;
    char pad[48];
};

static struct node *pending; /* the list being built */
static struct node *kept;    /* a list that stays reachable */

static struct node *
node_new(long v)
{
    struct node *n = malloc(sizeof *n);
    n->value = v;
    n->next = NULL;
    return n;
}

static struct node *
keep_node(long v)
{
    struct node *n = malloc(sizeof *n);
    n->value = v;
    n->next = NULL;
    return n;
}

static void
list_push(struct node **head, struct node *n)
{
    n->next = *head;
    *head = n;
}

/* The bug: a "reset" that forgets to free what was pending. */
static void __attribute__((noinline)) reset_pending(void)
{
    pending = NULL;
}

int
main(void)
{
    for (long i = 0; i < 50; i++)
        list_push(&pending, node_new(i));
    for (long i = 0; i < 30; i++)
        list_push(&kept, keep_node(i));
    reset_pending();
    long n = 0;
    for (struct node *p = kept; p; p = p->next)
        n++;
    printf("dropped a list of 50, kept %ld\n", n);
    return 0;
}
