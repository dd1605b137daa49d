/*
 * ops.h - the hooks other modules install into a node (DESIGN.md
 * section 2): a router for non-local pids, name operations and cluster
 * operations. node/ never names transport/ or registry/; the composition
 * root installs their tables with gv_node_set_ops before processes run.
 * A node without them answers for itself alone (the defaults below).
 */
#ifndef GV_OPS_H
#define GV_OPS_H

#include <grove/err.h>
#include <grove/term.h>

#include "node/sig_hdr.h"

#include <stddef.h>

typedef struct grove_node grove_node;

typedef struct gv_router {
    void *ctx;
    /* Takes a signal (message or gv_sig_ctl) for a pid of another node;
     * consumes it on GROVE_OK. Any other result means "not connected":
     * the node then answers the signal as for a lost peer (`noconnection`
     * for links and monitors) and frees it. Any thread; never blocks. */
    grove_err (*deliver)(void *ctx, grove_pid to, gv_sig *sig);
} gv_router;

typedef struct gv_name_ops {
    void *ctx;
    grove_err (*register_name)(void *ctx, const char *name, grove_pid pid);
    grove_err (*unregister_name)(void *ctx, const char *name);
    grove_err (*whereis)(void *ctx, const char *name, grove_pid *out);
    /* Consumes msg. */
    grove_err (*send)(void *ctx, const char *name, grove_term *msg);
} gv_name_ops;

typedef struct gv_cluster_ops {
    void *ctx;
    /* Fills out[0..cap) with connected node names, *n with how many. */
    grove_err (*nodes)(void *ctx, grove_nodename *out, size_t cap, size_t *n);
    /* Spawns behaviour `name` with arg (consumed) on node. */
    grove_err (*spawn)(void *ctx, grove_nodename node, const char *behaviour, grove_term *arg,
                       grove_pid *out);
    /* {nodedown, Node} to watcher when node goes down (at once if it is
     * not connected). */
    grove_err (*monitor_node)(void *ctx, grove_pid watcher, grove_nodename node);
    /* A node's load (run-queue length plus process count). */
    grove_err (*load)(void *ctx, grove_nodename node, uint64_t *out);
} gv_cluster_ops;

typedef struct gv_ops {
    gv_router router;
    gv_name_ops names;
    gv_cluster_ops cluster;
} gv_ops;

/* The local-only tables for node. */
void gv_ops_local(grove_node *node, gv_ops *out);

/* Installs ops (copied). Call before any process may use them. */
void gv_node_set_ops(grove_node *node, const gv_ops *ops);

/* The installed tables. */
const gv_ops *gv_node_ops(const grove_node *node);

#endif
