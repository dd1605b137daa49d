/*
 * cache_demo - two keys with different lifetimes: one is gone after 100
 * ms, the other is still there.
 */
#include "cache.h"

#include <stdio.h>
#include <time.h>

static void s_show(grove_node *node, grove_pid cache, const char *key)
{
    grove_term *v = NULL;
    grove_err err = cache_get(node, cache, key, &v);
    printf("  %s: ", key);
    if (err)
        printf("%s\n", grove_errname(err));
    else
        grove_term_print(stdout, v);
    grove_term_destroy(&v);
}

int main(void)
{
    grove_node *node = grove_node_start(NULL);
    if (!node)
        return 1;
    grove_pid cache;
    if (cache_start(node, &cache) != GROVE_OK) {
        grove_node_stop(&node);
        return 1;
    }
    cache_put(node, cache, "session", grove_pack("{user, alice}"), 100);
    cache_put(node, cache, "config", grove_pack("#{theme => dark}"), 60000);
    puts("at once:");
    s_show(node, cache, "session");
    s_show(node, cache, "config");
    nanosleep(&(struct timespec){.tv_nsec = 300 * 1000000}, NULL);
    puts("after 300 ms:");
    s_show(node, cache, "session");
    s_show(node, cache, "config");
    grove_term *v = NULL;
    int ok = cache_get(node, cache, "session", &v) == GROVE_ENOTFOUND &&
             cache_get(node, cache, "config", &v) == GROVE_OK;
    grove_term_destroy(&v);
    grove_gen_server_stop(node, cache, NULL, GROVE_INFINITY);
    grove_node_stop(&node);
    return ok ? 0 : 1;
}
