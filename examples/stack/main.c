/*
 * stack_demo - Elixir's GenServer guide, in C: a stack that starts as
 * [hello], takes a push of world, and pops them back.
 */
#include "stack.h"

#include <stdio.h>

int main(void)
{
    grove_node *node = grove_node_start(NULL);
    if (!node)
        return 1;
    grove_pid stack;
    if (stack_start(node, grove_pack("[hello]"), &stack) != GROVE_OK) {
        grove_node_stop(&node);
        return 1;
    }
    stack_push(node, stack, grove_atom("world"));
    int ok = 1;
    const char *want[] = {"world", "hello"};
    for (int i = 0; i < 2; i++) {
        grove_term *item = NULL;
        ok &= stack_pop(node, stack, &item) == GROVE_OK && grove_match(item, want[i]);
        printf("pop: ");
        if (item)
            grove_term_print(stdout, item);
        grove_term_destroy(&item);
    }
    grove_term *none = NULL;
    grove_err err = stack_pop(node, stack, &none);
    printf("pop on an empty stack: %s\n", grove_errname(err));
    ok &= err == GROVE_ENOTFOUND;
    grove_gen_server_stop(node, stack, NULL, GROVE_INFINITY);
    grove_node_stop(&node);
    return ok ? 0 : 1;
}
