/*
 * rate_limiter_demo - 10 requests a minute per client; 5 clients at once
 * make 20 requests each: each gets 10 through.
 */
#include "rate_limiter.h"

#include <stdio.h>

int main(void)
{
    grove_node *node = grove_node_start(NULL);
    if (!node)
        return 1;
    grove_pid limiter;
    if (rate_limiter_start(node, 10, 60000, &limiter) != GROVE_OK) {
        grove_node_stop(&node);
        return 1;
    }
    unsigned allowed[5];
    grove_err err = rate_limiter_storm(node, limiter, 5, 20, allowed);
    int ok = err == GROVE_OK;
    for (int i = 0; i < 5; i++) {
        printf("client-%d: %u of 20 allowed\n", i, allowed[i]);
        ok &= allowed[i] == 10;
    }
    grove_gen_server_stop(node, limiter, NULL, GROVE_INFINITY);
    grove_node_stop(&node);
    return ok ? 0 : 1;
}
