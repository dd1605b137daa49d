/*
 * sup.h - a supervisor's children (internal to otp/).
 *
 * A child spec travels as a term (in start_child calls) and lives in the
 * supervisor as a sup_child:
 *
 *   {Id | undefined, Kind, Impl, noarg | {arg, Arg}, Restart, ShutdownMs,
 *    undefined | {local | global, Name}, local | any | {node, Node}}
 *
 * ShutdownMs is resolved (5000 or infinity by default), -1 is infinity and
 * -2 brutal_kill, as in grove/supervisor.h.
 */
#ifndef GV_OTP_SUP_H
#define GV_OTP_SUP_H

#include "otp/otp_impl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sup_child {
    char *id; /* NULL for a dynamic child */
    gv_otp_kind kind;
    const void *impl;
    grove_term *arg; /* owned; NULL if none */
    grove_restart restart;
    int64_t shutdown_ms;
    char *name; /* NULL if none */
    grove_name_scope scope;
    grove_place where;   /* placement */
    grove_nodename node; /* GROVE_PLACE_NODE: where */
    uint64_t serial;     /* names the child in messages to ourselves */
    bool running;
    grove_pid pid;
} sup_child;

struct grove_children {
    sup_child **kids;
    size_t n, cap;
    bool dynamic;
};

/* Consumes spec->arg. NULL with *err on a bad spec. */
sup_child *gv_child_from_spec(const grove_child_spec *spec, bool need_id, grove_err *err);
sup_child *gv_child_from_term(const grove_term *t);
grove_term *gv_child_to_term(const sup_child *c);
void gv_child_free(sup_child *c);

static inline bool gv_child_is_sup(const sup_child *c)
{
    return c->kind == GV_KIND_SUPERVISOR;
}

/* The label a child's process carries for inspection. */
const char *gv_child_label(const sup_child *c);

/* Reads a supervisor's answer (ok, {ok, Pid}, {error, Why}) as an error
 * code; err is the call's own result. */
grove_err gv_sup_result(grove_err err, const grove_term *reply, grove_pid *pid);

/* Flags from a dynamic supervisor's argument map. */
void gv_dynsup_flags(const grove_term *arg, grove_sup_flags *flags);

/* ---- children on other nodes (sup_remote.c) -------------------------------------------- */

/* The behaviour a supervisor asks another node to spawn for a child:
 * registered by name on every node by the grove_*_register calls. */
#define GV_OTP_CHILD "grove_otp_child"

/* The target of `kind` registered under name (grove_gen_server_register,
 * ...), or NULL. Any thread. */
const void *gv_otp_target_find(gv_otp_kind kind, const char *name);

/* True when impl is the target registered under its own name. */
bool gv_otp_target_registered(gv_otp_kind kind, const void *impl);

/* The node where c starts now: here for local placement, its node for
 * GROVE_PLACE_NODE, and for GROVE_PLACE_ANY the node (this one or a
 * connected one) with the fewest of the supervisor's running children
 * (kids[0..n)), then the lightest load, then the first name. */
grove_nodename gv_sup_place(grove_proc *self, sup_child *const *kids, size_t n, const sup_child *c);

/* Asks node `on` to start c, linked to self: {spawn_reply, *spawn, ...}
 * and then the child's {'$grove_ack', *ack, Pid, ...} arrive, in either
 * order. Never blocks. */
grove_err gv_sup_start_remote(grove_proc *self, const sup_child *c, grove_nodename on,
                              grove_ref *ack, grove_ref *spawn);

/* A start's failure reason for a spawn_reply error `why` from node on:
 * noconnection, or {remote_spawn_failed, Node, Why}. Caller owns. */
grove_term *gv_sup_spawn_failure(grove_nodename on, const grove_term *why);

#endif
