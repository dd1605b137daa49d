/*
 * grove/cluster_sup.h - the cluster-wide supervisor (DESIGN.md section 7;
 * docs/otp.md, "The cluster-wide supervisor").
 *
 * Every node runs a member of the supervisor (the same call on every
 * node, e.g. from its application's start); the child specs are
 * replicated to every member, and each child runs on exactly one node.
 * When a node is lost, including the one that first started the
 * supervisor, the members that still form a majority divide its children
 * deterministically and restart them:
 *
 *   grove_cluster_sup_start(node, &(grove_cluster_sup_opts){.name = "bank"},
 *                           (grove_child_spec[]){{.id = "alice", .gen_server = &account,
 *                                                 .arg = grove_pack("~l", (int64_t)100),
 *                                                 .name = "alice"}},
 *                           1, &member);
 *
 * - A member counts toward a majority only if it is connected to every
 *   other member counted; a member that has had no majority of the known
 *   members for GROVE_NODEDOWN_MS stops its children, and the majority
 *   restarts a lost node's children only after twice that time.
 * - A child's `name` is a GLOBAL name here (grove/global.h): the child
 *   runs only once it holds it, so no partition runs two copies of a
 *   named child. Children without a name may briefly run twice when a
 *   partition heals (docs/otp.md).
 * - Targets (gen_server, supervisor module, plain behaviour) must be
 *   registered by name (grove_gen_server_register, ...) in the program
 *   every node runs; `placement` is ignored: the supervisor places.
 *
 * Calls block (not on a scheduler thread: GROVE_EWOULDBLOCK) and reach
 * this node's member, which must be running (GROVE_ENOTFOUND otherwise).
 */
#ifndef GROVE_CLUSTER_SUP_H
#define GROVE_CLUSTER_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/supervisor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grove_cluster_sup_opts {
    const char *name; /* the supervisor's cluster-wide name: the same on every node
                         (1 to 200 bytes) */
    int intensity;    /* per member, as grove_sup_flags (0: defaults 3 in 5000 ms) */
    uint32_t period_ms;
    /* The failure detector's timing, which the supervisor's own timing
     * follows: set them as the node's (0: GROVE_HEARTBEAT_MS,
     * GROVE_NODEDOWN_MS, GROVE_FORGET_MS, else 250, 1500, 60000). */
    uint32_t heartbeat_ms;
    uint32_t nodedown_ms;
    uint32_t forget_ms;
} grove_cluster_sup_opts;

/* Starts this node's member of the cluster-wide supervisor opts->name
 * (every node makes the same call). children[0..n) are the initial specs
 * (targets registered by name, ids unique in the supervisor; each spec's
 * arg consumed, even on failure): each is added unless the supervisor
 * already knows its id, and placed once the member has seen the others
 * (every connected node's member, or GROVE_NODEDOWN_MS after the start).
 * Blocks until the member runs; *member (may be NULL) is its pid.
 *   GROVE_EEXIST       this node already runs a member of that name
 *                      (*member is it)
 *   GROVE_EINVAL       a bad name or spec (ids duplicated, no target,
 *                      a target not registered by name)
 *   GROVE_EWOULDBLOCK  on a scheduler thread */
grove_err grove_cluster_sup_start(grove_node *node, const grove_cluster_sup_opts *opts,
                                  const grove_child_spec *children, size_t n, grove_pid *member);

/* The same member as a child of a local supervisor (call it from the
 * supervisor's init), as OTP puts every process under one: a member that
 * crashes is restarted, gets the table back from the other members and
 * starts again the children this node owns; the supervisor's shutdown
 * stops the member's children in order, then the member. The child's id
 * and local name are "grove_csup:<name>"; it is permanent. Arguments as
 * grove_cluster_sup_start (each spec's arg consumed, even on failure);
 * GROVE_EINVAL for a bad one, or grove_sup_add's error. */
grove_err grove_cluster_sup_add_member(grove_children *sup_children,
                                       const grove_cluster_sup_opts *opts,
                                       const grove_child_spec *children, size_t n);

/* Adds a child, replicated to every member and started by exactly one of
 * them (placement of the spec is ignored: the supervisor places). Blocks
 * until it runs somewhere; *child (may be NULL) = its pid (may be on
 * another node). Consumes spec->arg.
 *   GROVE_EEXIST      the id is taken (or the child's global name is)
 *   GROVE_EAGAIN      this member has no majority now
 *   GROVE_ENOCONN     the chosen node went down before the child ran
 *   GROVE_EINVAL      a bad spec; GROVE_ENOTFOUND: no member here
 *   or the error of the child's init, as grove_supervisor_start_child */
grove_err grove_cluster_sup_start_child(grove_node *node, const char *sup,
                                        const grove_child_spec *spec, grove_pid *child);

/* Removes the spec everywhere: the removal is replicated to every member
 * and the child's host stops it (as at shutdown). Returns once the
 * removal has left this member. GROVE_ENOTFOUND for an unknown id (or no
 * member here), GROVE_EAGAIN without a majority. */
grove_err grove_cluster_sup_terminate_child(grove_node *node, const char *sup, const char *id);

typedef struct grove_cluster_child {
    char id[64];
    grove_pid pid; /* valid when running */
    bool running;
} grove_cluster_child;

/* What this node's member knows: every replicated child (sorted by id)
 * and where it runs now. Copies up to cap into out and returns the count
 * (may exceed cap); 0 when there is no member here. Ids longer than 63
 * bytes are cut. */
size_t grove_cluster_sup_which_children(grove_node *node, const char *sup, grove_cluster_child *out,
                                        size_t cap);

/* Stops this node's member: it stops its children (as at shutdown) and
 * leaves the known members of the others at once, as a node that stops
 * gracefully does; its children are restarted elsewhere after twice
 * GROVE_NODEDOWN_MS. GROVE_ENOTFOUND if there is none. Blocks. */
grove_err grove_cluster_sup_stop(grove_node *node, const char *sup);

#ifdef __cplusplus
}
#endif
#endif
