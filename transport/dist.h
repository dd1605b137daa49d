/*
 * dist.h - remote signals: the node's router and cluster ops over a
 * transport (docs/cluster.md).
 *
 * gv_dist_start starts a transport for a running node and installs into
 * it a router (runtime signals to envelopes) and cluster ops (nodes,
 * monitor_node, monitor_nodes, load); envelopes that arrive become
 * runtime signals for local pids. Links and monitors across nodes are
 * recorded per remote node, so that when a session ends every one of
 * them fires `noconnection`, after every other signal of that session.
 *
 * Stopping is two steps, around the node's own stop (root/start.c):
 * gv_dist_stop ends the transport (peers see nodedown; local links and
 * monitors across fire `noconnection`) while the node still runs; the
 * router then answers "not connected" until gv_dist_free, which must
 * come after the node's workers have stopped.
 */
#ifndef GV_DIST_H
#define GV_DIST_H

#include <grove/err.h>
#include <grove/node.h>

#include "transport/transport.h"

typedef struct gv_dist gv_dist;

/* Starts a transport for node with cfg (node, creation and keys are
 * filled in: the node's, and *keys, which the dist takes over, leaving
 * *keys zeroed, even on failure) and installs the router and cluster ops.
 * Caller owns *out. */
grove_err gv_dist_start(grove_node *node, const gv_tp_config *cfg, gv_tp_keys *keys, gv_dist **out);

/* The dist installed in node, or NULL (a local node). */
gv_dist *gv_dist_of(grove_node *node);

/* The dist's transport (NULL once stopped). */
gv_tp *gv_dist_tp(gv_dist *d);

/* Messages the router has dropped so far (the peer's outbound buffer
 * was full, or the message was over the payload limit). Any thread. */
uint64_t gv_dist_dropped(gv_dist *d);
/* Node monitors (monitor_node) plus monitor_nodes subscriptions held for
 * live processes. Any thread. */
size_t gv_dist_node_watchers(gv_dist *d);

/* Ends the transport; the router answers "not connected" from then on. */
void gv_dist_stop(gv_dist *d);

/* Frees a stopped dist. Only after the node's workers have stopped.
 * Sets *d to NULL; safe on NULL. */
void gv_dist_free(gv_dist **d);

#endif
