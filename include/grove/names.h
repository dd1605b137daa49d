/*
 * grove/names.h - local names: a unique name table and a registry with
 * duplicate keys.
 *
 * Unique names are Erlang's register/whereis: one name, one live process,
 * and a process holds at most one name. The registry is Elixir's Registry
 * with `keys: :duplicate`: any number of processes under one key (groups,
 * pub/sub, dispatch). Both forget a process when it exits.
 *
 * Names and keys are UTF-8 strings of 1 to 255 bytes, copied. All calls
 * may be made from any thread (a callback or outside the node); none
 * blocks beyond a short internal lock.
 */
#ifndef GROVE_NAMES_H
#define GROVE_NAMES_H

#include <stddef.h>

#include <grove/err.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Registers pid (a live local process) under name. GROVE_EEXIST if the
 * name is taken or the process already has a name; GROVE_ENOPROC if pid is
 * not a live local process; GROVE_EINVAL for a bad name. */
grove_err grove_register(grove_node *node, const char *name, grove_pid pid);

/* Removes a name. GROVE_ENOTFOUND if it is not registered. */
grove_err grove_unregister(grove_node *node, const char *name);

/* The pid registered under name, or GROVE_ENOTFOUND. */
grove_err grove_whereis(grove_node *node, const char *name, grove_pid *out);

/* Sends msg to the process registered under name. Takes ownership of msg
 * even on failure; GROVE_ENOTFOUND if no process has that name. */
grove_err grove_proc_send_name(grove_proc *self, const char *name, grove_term *msg);
grove_err grove_node_send_name(grove_node *node, const char *name, grove_term *msg);
#define grove_send_name(ctx, name, msg) \
    GROVE_CTX_(ctx, grove_proc_send_name, grove_node_send_name)(ctx, name, msg)

/* Sends msg to the process registered under name on `node`, as Erlang's
 * {Name, Node} ! Msg. Takes ownership of msg even on failure. On this
 * node it is grove_send_name (GROVE_ENOTFOUND if nobody has the name);
 * to another node it returns GROVE_OK once the message is on its way and
 * the message is dropped there if nobody has the name (delivery is at
 * most once, as for a pid). GROVE_ENOCONN when `node` is not connected;
 * GROVE_EAGAIN / GROVE_E2BIG when the peer is busy or msg over the
 * payload limit (the message is dropped); GROVE_EINVAL for a bad name or
 * node. Never blocks; any thread (the proc variant inside a callback). */
grove_err grove_proc_send_name_at(grove_proc *self, grove_nodename node, const char *name,
                                  grove_term *msg);
grove_err grove_node_send_name_at(grove_node *n, grove_nodename node, const char *name,
                                  grove_term *msg);
#define grove_send_name_at(ctx, node, name, msg) \
    GROVE_CTX_(ctx, grove_proc_send_name_at, grove_node_send_name_at)(ctx, node, name, msg)

/* ---- the duplicate-key registry --------------------------------------------- */

/* Adds self under key (a process may join a key more than once, as with
 * Elixir's duplicate registry; each join is one entry). Inside a callback
 * only. */
grove_err grove_registry_join(grove_proc *self, const char *key);

/* Removes every entry of self under key. GROVE_ENOTFOUND if none. */
grove_err grove_registry_leave(grove_proc *self, const char *key);

/* Copies up to cap pids registered under key into out (in join order) and
 * returns how many there are in all (which may exceed cap). */
size_t grove_registry_lookup(grove_node *node, const char *key, grove_pid *out, size_t cap);

/* Sends a copy of msg to every process under key; takes ownership of msg.
 * Returns the number of processes it went to in *count (may be NULL). */
grove_err grove_registry_dispatch(grove_node *node, const char *key, grove_term *msg,
                                  size_t *count);

#ifdef __cplusplus
}
#endif
#endif
