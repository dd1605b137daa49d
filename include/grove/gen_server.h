/*
 * grove/gen_server.h - generic servers: Erlang's gen_server, Elixir's
 * GenServer.
 *
 * A gen_server is a process whose callbacks read like Elixir's:
 *
 *   static grove_ret account_call(grove_proc *self, const grove_term *req,
 *                                 grove_from from, void *state, grove_term **reply)
 *   {
 *       account *a = state;
 *       if (grove_match(req, "balance"))
 *           *reply = grove_pack("{ok, ~l}", a->balance);
 *       return GROVE_REPLY;
 *   }
 *   static const grove_gen_server account_server = {
 *       .name = "account", .init = account_init, .handle_call = account_call,
 *       .handle_cast = account_cast, .free_state = free,
 *   };
 *
 *   grove_pid pid;
 *   grove_gen_server_start(node, &account_server, grove_pack("~l", (int64_t)100),
 *                          &(grove_start_opts){.name = "alice"}, &pid);
 *   grove_cast_name(node, "alice", grove_pack("{deposit, ~i}", 50));
 *   grove_term *reply = NULL;
 *   grove_call_name(node, "alice", grove_pack("balance"), GROVE_CALL_TIMEOUT, &reply);
 *   grove_term_destroy(&reply);
 *
 * Messages follow OTP's shapes, so a gen_server can be reached by any
 * process: a call is {'$gen_call', {Pid, Ref}, Request} and is answered
 * with {Ref, Reply}; a cast is {'$gen_cast', Msg}. Everything else goes to
 * handle_info, including the atom `timeout` after a silence asked for with
 * grove_set_timeout (grove/process.h).
 *
 * Blocking calls (grove_call, the blocking starts, grove_gen_server_stop)
 * are for threads that are not schedulers: main(), tests, tools, tasks.
 * On a scheduler thread they return GROVE_EWOULDBLOCK. Inside a callback
 * use grove_call_async: the answer comes later as a message.
 */
#ifndef GROVE_GEN_SERVER_H
#define GROVE_GEN_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results of gen_server callbacks --------------------------------------- */

/* handle_call answers now: *reply must hold the reply (consumed). Any
 * other callback treats it as GROVE_NOREPLY. */
#define GROVE_REPLY ((grove_ret)2)
/* No reply now (handle_call replies later with grove_reply, or never). */
#define GROVE_NOREPLY GROVE_CONTINUE
/* GROVE_STOP (grove_stop(self, reason)) stops the server; from handle_call
 * a reply already in *reply is sent first, as Elixir's
 * {:stop, reason, reply, state}. */

/* Timeouts, in milliseconds. */
#define GROVE_CALL_TIMEOUT 5000 /* the default call timeout, as OTP's */
#define GROVE_INFINITY (-1)     /* wait for ever */

/* Who made a call: the caller's pid and the call's reference, plus the
 * node that received it (so a reply can be sent from any thread). A
 * plain value: keep it to reply later. Valid while that node runs. */
typedef struct grove_from {
    grove_pid pid;
    grove_ref ref;
    grove_node *node;
} grove_from;

/* The callbacks. `state` is what init stored in *state. Terms handed to
 * callbacks are borrowed for the duration of the callback. Each callback
 * but init and terminate returns GROVE_NOREPLY (keep going), GROVE_REPLY
 * (handle_call only), or grove_stop(self, reason). */
typedef struct grove_gen_server {
    /* Behaviour name: inspection (grove_proc_info.name), logs. */
    const char *name;
    /* Runs in the new process before any message; the starter waits for
     * it. `arg` is borrowed (NULL if none was given). Anything but GROVE_OK
     * fails the start: the process exits with {init_failed, 'GROVE_E...'},
     * or with the reason given to grove_stop(self, reason). On failure it
     * frees what it allocated (terminate and free_state do not run). May
     * call grove_continue and grove_set_timeout. May be NULL (state NULL). */
    grove_err (*init)(grove_proc *self, const grove_term *arg, void **state);
    /* A call. Answer by setting *reply and returning GROVE_REPLY, or keep
     * `from` and answer later with grove_reply. NULL: the server stops with
     * {bad_call, Request}, as Elixir's default. */
    grove_ret (*handle_call)(grove_proc *self, const grove_term *request, grove_from from,
                             void *state, grove_term **reply);
    /* A cast. NULL: the server stops with {bad_cast, Msg}. */
    grove_ret (*handle_cast)(grove_proc *self, const grove_term *msg, void *state);
    /* Any other message: `timeout`, {'EXIT', Pid, Reason} when trapping
     * exits (except from the parent, which stops the server with Reason),
     * {'DOWN', ...}, timer messages. NULL: logged and dropped. */
    grove_ret (*handle_info)(grove_proc *self, const grove_term *msg, void *state);
    /* Runs right after the callback that called grove_continue, before
     * any other message. NULL: grove_continue is an error (the server stops
     * with {bad_continue, Arg}). */
    grove_ret (*handle_continue)(grove_proc *self, const grove_term *arg, void *state);
    /* Runs once when the server exits after a successful init, whatever
     * the reason (borrowed). May be NULL. */
    void (*terminate)(grove_proc *self, const grove_term *reason, void *state);
    /* Frees the state after terminate. May be NULL. */
    void (*free_state)(void *state);
} grove_gen_server;

/* ---- starting ----------------------------------------------------------------- */

/* Where a name lives. Global names go through the node's name operations
 * (the cluster registry, when one is installed; a node without it answers
 * GROVE_ENOCONN). */
typedef enum grove_name_scope {
    GROVE_NAME_LOCAL = 0,
    GROVE_NAME_GLOBAL = 1,
} grove_name_scope;

typedef struct grove_start_opts {
    /* Register the process under this name (copied) before its init
     * runs; NULL for none. A taken name fails the start with GROVE_EEXIST
     * (and *out is the holder's pid). */
    const char *name;
    grove_name_scope scope;
    /* grove_*_start_async only: link the new process to the starter. */
    bool link;
    /* Blocking starts: how long init may take (0 or GROVE_INFINITY: no
     * limit). When it runs out the process is killed and the start fails
     * with GROVE_ETIMEDOUT. */
    int64_t timeout_ms;
    /* If not NULL, receives the exit reason when a start fails (caller
     * owns; NULL when there is none). */
    grove_term **reason;
} grove_start_opts;

/* Starts a gen_server and waits until its init has returned. arg is
 * consumed (may be NULL). opts may be NULL. On success *out is the pid.
 * Failures: the error code init returned; GROVE_EEXIST if the name is
 * taken; GROVE_ENOPROC if the process exited during init for another
 * reason (grove_stop in init, killed), with the reason in opts->reason;
 * GROVE_ETIMEDOUT; GROVE_ECLOSED if the node is stopping;
 * GROVE_EWOULDBLOCK on a scheduler thread; GROVE_EINVAL for opts->link
 * (no process to link to) or a bad name. Blocks; any thread that is not
 * a scheduler. */
grove_err grove_gen_server_start(grove_node *node, const grove_gen_server *gs, grove_term *arg,
                                 const grove_start_opts *opts, grove_pid *out);

/* Starts a gen_server from inside a callback without blocking. Returns at
 * once with the new pid in *out and the start's reference in *ack (both
 * may be NULL); when the new process's init has returned, self receives
 *
 *   {'$grove_ack', Ref, Pid, ok}    or    {'$grove_ack', Ref, Pid, {error, Reason}}
 *
 * (grove_start_ack reads it). With opts->link the two are linked before
 * the new process runs (OTP's start_link); link or monitor it to hear of
 * a process killed before its init ran. Never blocks. */
grove_err grove_gen_server_start_async(grove_proc *self, const grove_gen_server *gs,
                                       grove_term *arg, const grove_start_opts *opts,
                                       grove_pid *out, grove_ref *ack);

/* Reads an acknowledgement of grove_*_start_async: true when msg is one,
 * with its reference, pid and result (GROVE_OK, or as the blocking start
 * would fail; *reason, if not NULL, receives the reason on failure, caller
 * owns). */
bool grove_start_ack(const grove_term *msg, grove_ref *ref, grove_pid *pid, grove_err *result,
                     grove_term **reason);

/* Registers gs under gs->name, so that a supervisor on any node can start
 * it as a child placed on another node (grove/supervisor.h,
 * grove_placement): function pointers do not travel, names do. Register
 * the same tables in every node's program (the same binary everywhere),
 * from main() before starting nodes; gs must outlive every node. Also
 * registers the entry behaviour "grove_otp_child" that remote starts
 * spawn. GROVE_EEXIST if another gen_server has the name (the same one
 * again is GROVE_OK); GROVE_EINVAL without a name (1 to 255 bytes);
 * GROVE_ENOMEM when the table (1024 per kind) is full. Any thread. */
grove_err grove_gen_server_register(const grove_gen_server *gs);

/* Stops a server: it exits with `reason` (consumed; NULL means `normal`)
 * after the messages queued before the request, its terminate runs, and
 * this returns once it is gone. GROVE_ENOPROC if it was not alive,
 * GROVE_ETIMEDOUT if it did not exit in time. Blocks; not on a scheduler
 * thread. */
grove_err grove_gen_server_stop(grove_node *node, grove_pid server, grove_term *reason,
                                int64_t timeout_ms);

/* ---- calls ---------------------------------------------------------------------- */

/* Calls server with request (consumed) and waits up to timeout_ms
 * (GROVE_INFINITY: for ever) for the reply. GROVE_OK: *reply is the
 * reply. GROVE_ENOPROC: the server was not alive or exited before
 * answering; *reply is the exit reason (`noproc` if it was not alive).
 * GROVE_ENOCONN: its node is not connected (*reply is `noconnection`).
 * GROVE_ETIMEDOUT: no reply in time (*reply NULL); a reply that comes
 * later is dropped, never left as a message anywhere.
 * GROVE_EWOULDBLOCK on a scheduler thread, GROVE_ECLOSED if the node is
 * stopping. Caller owns *reply in every case (a term or NULL). Blocks. */
grove_err grove_call(grove_node *node, grove_pid server, grove_term *request, int64_t timeout_ms,
                     grove_term **reply);

/* As grove_call, to the process registered under a local name (an
 * unknown name is GROVE_ENOPROC with reason `noproc`, as OTP's). */
grove_err grove_call_name(grove_node *node, const char *name, grove_term *request,
                          int64_t timeout_ms, grove_term **reply);

/* As grove_call, to the process registered locally under name on node
 * `at` (0: this node), as gen_server:call({Name, Node}, Request): the name
 * is monitored (grove_monitor_name) and the request sent to it
 * (grove_send_name_at). Nobody has the name: GROVE_ENOPROC, *reply
 * `noproc`; `at` not connected or lost: GROVE_ENOCONN, *reply
 * `noconnection`; GROVE_EINVAL for an empty name or one over
 * GROVE_MONITOR_NAME_MAX bytes. Blocks (GROVE_EWOULDBLOCK on a scheduler
 * thread). */
grove_err grove_call_name_at(grove_node *node, grove_nodename at, const char *name,
                             grove_term *request, int64_t timeout_ms, grove_term **reply);

/* A call made from inside a callback, without blocking (OTP's
 * send_request): sends request (consumed) to server now, in order with
 * self's other messages to it, and returns the call's reference in *ref.
 * Exactly one message answers it later:
 *
 *   {'$gen_response', Ref, {reply, Reply}}
 *   {'$gen_response', Ref, timeout}          after timeout_ms (GROVE_INFINITY: never)
 *   {'$gen_response', Ref, {error, Reason}}  the server exited (noproc if not alive)
 *
 * (grove_call_response reads it). A reply later than the timeout is
 * dropped. A helper process waits on self's behalf, so self may keep
 * handling messages; if self exits, the helper goes too. A server that
 * dies before the helper has started monitoring it is reported as
 * {error, noproc} rather than with its exit reason (docs/otp.md). */
grove_err grove_call_async(grove_proc *self, grove_pid server, grove_term *request,
                           int64_t timeout_ms, grove_ref *ref);

/* Reads a message of grove_call_async: true when msg is a response, with
 * its reference in *ref, and in *result GROVE_OK (*reply: the reply),
 * GROVE_ETIMEDOUT (*reply NULL), GROVE_ENOPROC or GROVE_ENOCONN (*reply:
 * the exit reason). Caller owns *reply. Any pointer may be NULL. */
bool grove_call_response(const grove_term *msg, grove_ref *ref, grove_err *result,
                         grove_term **reply);

/* Answers a call whose handle_call returned GROVE_NOREPLY. Takes
 * ownership of reply. Any thread, while the node runs; a caller that gave
 * up (or died) makes the reply vanish. GROVE_EINVAL for a NULL reply. */
grove_err grove_reply(grove_from from, grove_term *reply);

/* ---- casts ------------------------------------------------------------------------ */

/* Sends {'$gen_cast', Msg} (msg consumed) to server. GROVE_OK even if the
 * server is dead, as Erlang's; GROVE_ENOTFOUND for an unregistered name.
 * Never blocks. */
grove_err grove_proc_cast(grove_proc *self, grove_pid server, grove_term *msg);
grove_err grove_node_cast(grove_node *node, grove_pid server, grove_term *msg);
grove_err grove_proc_cast_name(grove_proc *self, const char *name, grove_term *msg);
grove_err grove_node_cast_name(grove_node *node, const char *name, grove_term *msg);
#define grove_cast(ctx, server, msg) \
    GROVE_CTX_(ctx, grove_proc_cast, grove_node_cast)(ctx, server, msg)
#define grove_cast_name(ctx, name, msg) \
    GROVE_CTX_(ctx, grove_proc_cast_name, grove_node_cast_name)(ctx, name, msg)

/* ---- inside callbacks ----------------------------------------------------------- */

/* Asks for handle_continue(arg) right after the running callback returns
 * (init included: then after the starter has been answered), before any
 * other message. arg is consumed. Inside a gen_server callback only;
 * otherwise arg is freed and nothing happens. A second call in the same
 * callback replaces the first. */
void grove_continue(grove_proc *self, grove_term *arg);

#ifdef __cplusplus
}
#endif
#endif
