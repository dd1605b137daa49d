/*
 * grove/global.h - global names: one name, one process, across the
 * cluster (DESIGN.md section 6; docs/registry.md).
 *
 * Every node holds a replica of the table name -> (pid, epoch), so a
 * lookup is a local read. A registration is claimed on every connected
 * node and succeeds only if all of them accept it; when several nodes
 * claim one name at once exactly one wins, by a fixed rule (the higher
 * epoch, then the greater node name). A name disappears when its process
 * exits or its node goes down. A node that joins receives the table;
 * after a partition heals, each name that two sides registered keeps one
 * owner by the same rule, and the loser is told (grove_global_resolution).
 *
 * The epoch of a registration is a fencing token: the epochs of one name
 * only grow (a registration takes one more than the highest this node has
 * seen for the name), so a resource that accepts only non-decreasing
 * epochs never obeys a superseded owner.
 *
 *   uint64_t epoch;
 *   grove_global_register(node, "bank", pid, &epoch);   // from main()
 *   grove_global_send(self, "bank", grove_pack("{deposit, 50}"));
 *
 * A local node (no listen address, no seeds) is a cluster of one: global
 * names work there too. Names are UTF-8 strings of 1 to 255 bytes.
 * Inside messages (conflicts, errors) a name is a binary, <<"bank">>.
 */
#ifndef GROVE_GLOBAL_H
#define GROVE_GLOBAL_H

#include <stddef.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Registers pid under name on every connected node and returns once the
 * name is held (visible on this node at once, on the others one message
 * later); *epoch (may be NULL) receives the registration's epoch. pid may
 * be a process of another node (that node registers it). A process may
 * hold several names.
 *   GROVE_EEXIST       another registration holds the name
 *   GROVE_ENOPROC      pid is not a live process
 *   GROVE_ETIMEDOUT    a connected node did not answer the claim (5 s)
 *   GROVE_EAGAIN       the name stayed contended (retried for about 2 s)
 *   GROVE_ENOCONN      pid's node is not connected
 *   GROVE_EINVAL       a bad name
 *   GROVE_ECLOSED      the node is stopping
 *   GROVE_EWOULDBLOCK  called on a scheduler thread (use the async form)
 * Blocks; any thread that is not a worker. */
grove_err grove_global_register(grove_node *node, const char *name, grove_pid pid, uint64_t *epoch);

/* The same without blocking, inside a callback: returns at once with the
 * request's reference in *ref, and later self receives
 *   {global_registered, Ref, ok, Epoch}
 *   {global_registered, Ref, error, {already_registered, Pid}}
 *   {global_registered, Ref, error, Err}   Err: 'GROVE_ENOPROC', ...
 * (the errors of grove_global_register, by name). */
grove_err grove_global_register_async(grove_proc *self, const char *name, grove_pid pid,
                                      grove_ref *ref);

/* Removes the name everywhere (whichever process holds it; its node does
 * it) and returns once it is gone from this node. GROVE_ENOTFOUND if it
 * is not registered, GROVE_ENOCONN if its node could not be reached, plus
 * GROVE_EINVAL, GROVE_ECLOSED, GROVE_EWOULDBLOCK as above. Blocks. */
grove_err grove_global_unregister(grove_node *node, const char *name);

/* The same inside a callback: {global_unregistered, Ref, ok} or
 * {global_unregistered, Ref, error, Err} arrives later. */
grove_err grove_global_unregister_async(grove_proc *self, const char *name, grove_ref *ref);

/* The holder of name in this node's replica and its epoch (either out
 * pointer may be NULL). GROVE_ENOTFOUND if nobody holds it, GROVE_EINVAL
 * for a bad name. A local read: any thread, never blocks. */
grove_err grove_global_whereis(grove_node *node, const char *name, grove_pid *pid, uint64_t *epoch);

/* Sends msg (consumed, even on failure) to the holder of name, wherever
 * it runs. GROVE_ENOTFOUND if nobody holds it here; otherwise as
 * grove_send to its pid. Never blocks. */
grove_err grove_proc_global_send(grove_proc *self, const char *name, grove_term *msg);
grove_err grove_node_global_send(grove_node *node, const char *name, grove_term *msg);
#define grove_global_send(ctx, name, msg) \
    GROVE_CTX_(ctx, grove_proc_global_send, grove_node_global_send)(ctx, name, msg)

/* One entry of the replica. */
typedef struct grove_global_name {
    char name[256];
    grove_pid pid;
    uint64_t epoch;
} grove_global_name;

/* Copies up to cap entries of this node's replica into out, sorted by
 * name, and returns how many there are (which may exceed cap). Any
 * thread; a snapshot. */
size_t grove_global_names(grove_node *node, grove_global_name *out, size_t cap);

/* What happens to a clash found when replicas meet (after a partition
 * heals, or a node joins holding names): every node keeps the same
 * winner, the higher epoch then the greater node name, and the loser's
 * own node acts. The exit signal comes from that node's registry process
 * and can be trapped ({'EXIT', From, {name_conflict, Name, Winner}}).
 * Set the same resolution on every node. */
typedef enum grove_global_resolution {
    /* the loser gets the exit signal {name_conflict, Name, Winner} (default) */
    GROVE_GLOBAL_NOTIFY = 0,
    /* the loser is killed (exit `kill`) */
    GROVE_GLOBAL_KILL = 1,
    /* neither keeps the name: both get {name_conflict, Name, Other} */
    GROVE_GLOBAL_DROP_BOTH = 2,
} grove_global_resolution;

/* Sets this node's resolution. GROVE_EINVAL for an unknown value. Any
 * thread. */
grove_err grove_global_set_resolution(grove_node *node, grove_global_resolution r);

#ifdef __cplusplus
}
#endif
#endif
