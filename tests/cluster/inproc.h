/*
 * inproc.h - whole nodes in the test process (grove_node_start with a
 * listen address) on 127.0.0.1: started on a free port with the test's
 * secret, seeded with another node's address, and waited for until they
 * form a full mesh. Only the test's own thread calls these (they assert).
 */
#ifndef GROVE_INPROC_H
#define GROVE_INPROC_H

#include <grove/node.h>
#include <grove/process.h>

#include "base/gv_clock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

/* Starts a node `name` with two schedulers listening on a free port of
 * 127.0.0.1, with `cookie`, seeded with `seeds` (NULL: none), heartbeat
 * hb_ms and nodedown silence nd_ms. Fails the test if it does not start. */
static inline grove_node *inproc_start(const char *name, const char *cookie, const char *seeds,
                                       unsigned hb_ms, unsigned nd_ms)
{
    grove_node_opts o = {.name = name,
                         .schedulers = 2,
                         .listen = "127.0.0.1:0",
                         .seeds = seeds,
                         .cookie = cookie,
                         .heartbeat_ms = hb_ms,
                         .nodedown_ms = nd_ms};
    grove_node *n = grove_node_start(&o);
    if (!n)
        fail_msg("node %s did not start", name);
    assert_non_null(grove_node_address(n));
    return n;
}

/* inproc_start for the node named <prefix><i>@127.0.0.1. */
static inline grove_node *inproc_start_nth(const char *prefix, int i, const char *cookie,
                                           const char *seeds, unsigned hb_ms, unsigned nd_ms)
{
    char name[64];
    snprintf(name, sizeof name, "%s%d@127.0.0.1", prefix, i);
    return inproc_start(name, cookie, seeds, hb_ms, nd_ms);
}

/* Destroys waiters[0..n) (NULL: none), then stops nodes[0..n); either
 * may hold NULLs. */
static inline void inproc_stop(grove_node **nodes, grove_waiter **waiters, int n)
{
    for (int i = 0; waiters && i < n; i++)
        grove_waiter_destroy(&waiters[i]);
    for (int i = 0; i < n; i++)
        grove_node_stop(&nodes[i]);
}

/* Whether a is connected to the node named b. */
static inline bool inproc_sees(grove_node *a, grove_nodename b)
{
    grove_nodename out[16];
    size_t n = grove_nodes(a, out, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (out[i] == b)
            return true;
    return false;
}

/* Whether each of nodes[0..n) is connected to all the others. */
static inline bool inproc_meshed(grove_node *const *nodes, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && !inproc_sees(nodes[i], grove_node_name(nodes[j])))
                return false;
    return true;
}

/* Waits up to ms for nodes[0..n) to form a full mesh; fails the test if
 * they do not. */
static inline void inproc_wait_mesh(grove_node *const *nodes, int n, int64_t ms)
{
    uint64_t deadline = gv_now_ms() + (uint64_t)ms;
    while (!inproc_meshed(nodes, n)) {
        if (gv_now_ms() >= deadline)
            fail_msg("%d nodes: no full mesh within %lld ms", n, (long long)ms);
        gv_sleep_ms(5);
    }
}

/* Starts nodes[0..n) as inproc_start does, named <prefix><i>@127.0.0.1,
 * each but the first seeded with the first's address, and waits up to
 * wait_ms for the full mesh. */
static inline void inproc_cluster(grove_node **nodes, int n, const char *prefix, const char *cookie,
                                  unsigned hb_ms, unsigned nd_ms, int64_t wait_ms)
{
    char seed[128] = "";
    for (int i = 0; i < n; i++) {
        nodes[i] = inproc_start_nth(prefix, i, cookie, i ? seed : NULL, hb_ms, nd_ms);
        if (i == 0)
            snprintf(seed, sizeof seed, "%s", grove_node_address(nodes[0]));
    }
    inproc_wait_mesh(nodes, n, wait_ms);
}

#endif
