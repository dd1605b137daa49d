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
#include <grove/process.h>
#include <grove/term.h>

#include "node/sig_hdr.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct grove_node grove_node;

typedef struct gv_router {
    void *ctx;
    /* Takes a signal (message or gv_sig_ctl) for a pid of another node;
     * consumes it on GROVE_OK. GROVE_EAGAIN (only ever for a message: the
     * peer's outbound buffer is full) does not consume it and does not
     * mean "not connected": the node drops that message, as remote
     * delivery is at most once, counts it and logs it (docs/cluster.md).
     * Any other result means "not connected": the node then answers the
     * signal as for a lost peer (`noconnection` for links and monitors)
     * and frees it. Any thread; never blocks. */
    grove_err (*deliver)(void *ctx, grove_pid to, gv_sig *sig);
} gv_router;

/* Global names (the registry, DESIGN.md section 6; docs/registry.md).
 * The local tables answer as a cluster that has no registry:
 * register_name and register_async GROVE_ENOCONN, the others
 * GROVE_ENOTFOUND. */
typedef struct gv_name_ops {
    void *ctx;
    /* Registers pid under name on every connected node and returns once
     * it holds the name here. Blocks: GROVE_EWOULDBLOCK on a scheduler
     * thread. GROVE_EEXIST if another process holds it. */
    grove_err (*register_name)(void *ctx, const char *name, grove_pid pid);
    /* The same without blocking (any thread): GROVE_OK means that
     * {global_registered, Ref, ok, Epoch} or {global_registered, Ref,
     * error, Reason} reaches reply_to later (Reason {already_registered,
     * Pid} or an error's name, 'GROVE_ENOPROC', ...); any other result
     * means nothing was sent. */
    grove_err (*register_async)(void *ctx, const char *name, grove_pid pid, grove_pid reply_to,
                                grove_ref ref);
    grove_err (*unregister_name)(void *ctx, const char *name);
    /* A local read; any thread, never blocks. */
    grove_err (*whereis)(void *ctx, const char *name, grove_pid *out);
    /* Consumes msg. */
    grove_err (*send)(void *ctx, const char *name, grove_term *msg);
} gv_name_ops;

typedef struct gv_cluster_ops {
    void *ctx;
    /* Fills out[0..cap) with the connected nodes' names (not this
     * node's, as erlang:nodes/0), *n with how many (may exceed cap). */
    grove_err (*nodes)(void *ctx, grove_nodename *out, size_t cap, size_t *n);
    /* Asks `node` (not this one) to spawn the registered behaviour
     * `behaviour` with arg (consumed; may be NULL) for `from`, as
     * erlang:spawn_request: {spawn_reply, Ref, ok, Pid} or
     * {spawn_reply, Ref, error, Reason} reaches `from` later (also
     * `noconnection` if the session ends first). GROVE_ENOCONN when node
     * is not connected (nothing is sent; the caller answers). With
     * `monitor` the caller has put a monitor with `ref` in place. */
    grove_err (*spawn_request)(void *ctx, grove_pid from, grove_ref ref, grove_nodename node,
                               const char *behaviour, grove_term *arg, bool link, bool monitor,
                               bool trap_exit);
    /* {nodedown, Node} to watcher when node goes down. GROVE_ENOCONN if
     * it is not connected now (the caller then sends {nodedown, Node}
     * itself, at once). */
    grove_err (*monitor_node)(void *ctx, grove_pid watcher, grove_nodename node);
    /* on: {nodeup, Node, Info} / {nodedown, Node, Info} to watcher for
     * every node that comes up or goes down from now on; off: no more. */
    grove_err (*monitor_nodes)(void *ctx, grove_pid watcher, bool on);
    /* Monitors the process registered as `name` on `node` (not this one)
     * for watcher under ref, as erlang:monitor(process, {Name, Node}):
     * the node resolves the name; a GV_SIG_DOWN with ref comes back when
     * that process exits, at once (`noproc`) when nobody has the name,
     * and with `noconnection` when the session ends. GROVE_ENOCONN if
     * node is not connected (nothing sent). */
    grove_err (*monitor_name)(void *ctx, grove_pid watcher, grove_nodename node, const char *name,
                              grove_ref ref);
    /* Removes such a monitor (the node finds it by ref). */
    void (*demonitor_name)(void *ctx, grove_pid watcher, grove_nodename node, const char *name,
                           grove_ref ref);
    /* watcher, which called monitor_node or monitor_nodes, has exited:
     * forget both (as Erlang drops a dead process's node monitors). Called
     * once, on the exit path, by the process's own thread. */
    void (*watcher_exit)(void *ctx, grove_pid watcher);
    /* A node's load (run-queue length plus process count). */
    grove_err (*load)(void *ctx, grove_nodename node, uint64_t *out);
    /* Sends msg (consumed) to the process registered locally under name
     * on `node`, as Erlang's {Name, Node} ! Msg: on this node it is
     * grove_send_name (GROVE_ENOTFOUND when nobody has the name); on
     * another it is dropped there silently when nobody has it.
     * GROVE_ENOCONN if node is not connected; GROVE_EAGAIN or
     * GROVE_E2BIG when the peer is busy or msg too big (dropped, as a
     * message to a pid is). Any thread; never blocks. */
    grove_err (*send_name)(void *ctx, grove_nodename node, const char *name, grove_term *msg);
} gv_cluster_ops;

typedef struct gv_ops {
    gv_router router;
    gv_name_ops names;
    gv_cluster_ops cluster;
} gv_ops;

/* A node's runtime without the cluster: the composition root
 * (root/start.c, grove_node_start/stop) wraps these, installing a
 * transport's tables between them. gv_node_stop_local is
 * grove_node_stop's second half: it kills every process and stops the
 * workers; the installed ops must stay valid until it returns. */
grove_node *gv_node_start_local(const grove_node_opts *opts);
void gv_node_stop_local(grove_node **node);

/* The behaviour registered under name (grove_behaviour_register), or
 * NULL. Any thread. */
const grove_behaviour *gv_behaviour_find(const char *name);

/* The local-only tables for node. */
void gv_ops_local(grove_node *node, gv_ops *out);

/* The local tables' send_name and register_async (names.c): send_name
 * reaches this node's own names only (GROVE_ENOCONN for another node);
 * register_async answers GROVE_ENOCONN. ctx is the node. */
grove_err gv_send_name_local(void *ctx, grove_nodename node, const char *name, grove_term *msg);
grove_err gv_register_async_none(void *ctx, const char *name, grove_pid pid, grove_pid reply_to,
                                 grove_ref ref);

/* Installs ops (copied). Call before any process may use them. */
void gv_node_set_ops(grove_node *node, const gv_ops *ops);

/* The installed tables. */
const gv_ops *gv_node_ops(const grove_node *node);

#endif
