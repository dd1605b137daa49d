/*
 * registry.h - the global name registry as the composition root sees it
 * (root/start.c; docs/registry.md).
 *
 * A node gets its registry right after its runtime starts: the name ops
 * (node/ops.h) go in at once, before any process can use them. A
 * clustered node starts the registry process before its transport (so
 * the process's local name can take messages from the first peer on) and
 * tells it once the transport is up; a local node starts it on first use.
 * The registry is freed after the runtime has stopped.
 */
#ifndef GV_REGISTRY_H
#define GV_REGISTRY_H

#include <grove/err.h>
#include <grove/node.h>

typedef struct gv_registry gv_registry;

/* Creates node's registry and installs its name ops. Caller owns it. */
gv_registry *gv_registry_attach(grove_node *node);

/* Starts the registry process now (a clustered node, before its
 * transport). GROVE_ECLOSED if the node is stopping. */
grove_err gv_registry_start(gv_registry *r);

/* The transport is up: the registry process starts watching nodes. */
void gv_registry_cluster_up(gv_registry *r);

/* node's registry, or NULL. */
gv_registry *gv_registry_of(grove_node *node);

/* How many connected nodes' registries this node's registry knows (they
 * answer its claims). For inspection and tests; any thread. */
unsigned gv_registry_members(gv_registry *r);

/* Frees the registry once the node's processes have stopped (after
 * gv_node_stop_local). Sets *r to NULL; safe on NULL. */
void gv_registry_free(gv_registry **r);

#endif
