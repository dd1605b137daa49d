/*
 * grove/process.h - processes: behaviours, spawn, send, links, monitors,
 * exits, timers.
 *
 * A process is a behaviour (a table of callbacks) plus its state and a
 * mailbox. Callbacks run to completion on a worker thread and must not
 * block; a process runs for at most a batch of messages before others
 * get a turn.
 *
 *   static grove_ret echo_handle(grove_proc *self, const grove_term *msg, void *state)
 *   {
 *       grove_pid from;
 *       if (grove_match(msg, "{ping, ~p}", &from))
 *           grove_send(self, from, grove_pack("{pong, ~p}", grove_self(self)));
 *       else if (grove_match(msg, "stop"))
 *           return grove_stop(self, NULL);            // exits with `normal`
 *       return GROVE_CONTINUE;
 *   }
 *   static const grove_behaviour echo = {.name = "echo", .handle = echo_handle};
 *
 *   grove_pid pid;
 *   grove_spawn(node, &echo, NULL, NULL, &pid);      // from main()
 *   grove_spawn(self, &echo, NULL, &(grove_spawn_opts){.link = true}, &pid);
 *
 * The calls that exist both for a process (inside a callback) and for a
 * node (any other thread) are macros choosing by the first argument's
 * type: grove_spawn, grove_send, grove_exit, grove_send_after,
 * grove_cancel_timer, grove_make_ref. `grove_proc *self` is valid only
 * inside the callback it was given to; pids are the handles that travel.
 *
 * Exit signals follow Erlang: a process exiting with a reason other than
 * `normal` sends it along its links; a linked process dies with the same
 * reason unless it traps exits, in which case it receives
 * {'EXIT', Pid, Reason}. grove_exit(pid, kill) cannot be trapped and the
 * target dies with `killed`. Monitors deliver {'DOWN', Ref, process, Pid,
 * Reason} once. Signals from one process to another arrive in the order
 * sent; exit, link and monitor signals take effect ahead of messages
 * already queued.
 */
#ifndef GROVE_PROCESS_H
#define GROVE_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/node.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a handler tells the runtime. */
typedef enum grove_ret {
    GROVE_CONTINUE = 0, /* keep running */
    GROVE_STOP = 1,     /* exit with the reason given to grove_stop (default normal) */
} grove_ret;

typedef struct grove_behaviour {
    /* Behaviour name: inspection (and, later, remote spawn). */
    const char *name;
    /* Runs first, before any message. `arg` is borrowed. Sets *state.
     * Anything but GROVE_OK makes the process exit with
     * {init_failed, 'GROVE_E...'} (or the reason given to grove_stop). May
     * be NULL (state starts NULL). */
    grove_err (*init)(grove_proc *self, const grove_term *arg, void **state);
    /* One message (borrowed; grove_term_copy keeps it). Required. */
    grove_ret (*handle)(grove_proc *self, const grove_term *msg, void *state);
    /* Runs once when the process exits, for any reason (after a
     * successful init), with the reason (borrowed). May be NULL. */
    void (*terminate)(grove_proc *self, const grove_term *reason, void *state);
    /* Frees the state after terminate. May be NULL. */
    void (*free_state)(void *state);
} grove_behaviour;

typedef struct grove_spawn_opts {
    bool link;    /* link to the spawner (process only) */
    bool monitor; /* monitor it; the reference goes to *monitor_ref */
    grove_ref *monitor_ref;
    bool trap_exit; /* start trapping exits */
    /* A name for inspection (default: the behaviour's). Not copied: a
     * string literal or one that outlives the process. */
    const char *name;
} grove_spawn_opts;

/* ---- spawning ------------------------------------------------------------ */

/* Spawns a process running behaviour b with argument arg (consumed; may
 * be NULL), and stores its pid in *out (may be NULL). The new process's
 * init runs on a worker, after this returns. Links and monitors asked for
 * are in place before the process runs. GROVE_ECLOSED if the node is
 * stopping; GROVE_EINVAL for a behaviour without handle, or link/monitor
 * asked from a node. grove_proc_spawn from a callback; grove_node_spawn
 * from any thread. Neither blocks. */
grove_err grove_proc_spawn(grove_proc *self, const grove_behaviour *b, grove_term *arg,
                           const grove_spawn_opts *opts, grove_pid *out);
grove_err grove_node_spawn(grove_node *node, const grove_behaviour *b, grove_term *arg,
                           const grove_spawn_opts *opts, grove_pid *out);

/* ---- spawning by name, here or on another node ------------------------------ */

/* Registers b under b->name, so that nodes can spawn it by name
 * (grove_spawn_request from another node). b must outlive every node.
 * GROVE_EEXIST if another behaviour has the name; registering the same
 * one again is GROVE_OK. Call from main() before starting nodes. */
grove_err grove_behaviour_register(const grove_behaviour *b);

/* As erlang:spawn_request/5: asks `node` (this node too) to spawn the
 * behaviour registered as `behaviour` with arg (consumed; may be NULL),
 * and returns at once with the request's reference in *ref. Later
 * {spawn_reply, Ref, ok, Pid} or {spawn_reply, Ref, error, Reason}
 * arrives (Reason: unknown_behaviour, noconnection, system_limit).
 * opts: link (in place when the reply arrives), monitor (its DOWN
 * carries Ref), trap_exit; name is ignored for a remote node. Messages
 * the new process sends may overtake the reply. Never blocks. */
grove_err grove_spawn_request(grove_proc *self, grove_nodename node, const char *behaviour,
                              grove_term *arg, const grove_spawn_opts *opts, grove_ref *ref);

/* The same from outside the workers, waiting up to timeout_ms for the
 * reply: GROVE_OK and *out, GROVE_ENOTFOUND (not registered there),
 * GROVE_ENOCONN, GROVE_ETIMEDOUT, GROVE_EWOULDBLOCK on a scheduler
 * thread. Blocks. */
grove_err grove_node_spawn_on(grove_node *node, grove_nodename on, const char *behaviour,
                              grove_term *arg, int64_t timeout_ms, grove_pid *out);

/* ---- identity ------------------------------------------------------------- */

grove_pid grove_self(const grove_proc *self);
grove_node *grove_proc_node(const grove_proc *self);

/* ---- sending -------------------------------------------------------------- */

/* Sends msg to pid. Takes ownership of msg, even on failure. A message to
 * a dead pid is dropped silently (GROVE_OK, as Erlang's `!`); GROVE_EINVAL
 * for a NULL msg. Never blocks. */
grove_err grove_proc_send(grove_proc *self, grove_pid to, grove_term *msg);
grove_err grove_node_send(grove_node *node, grove_pid to, grove_term *msg);

/* ---- exits ---------------------------------------------------------------- */

/* Makes the handler's return value GROVE_STOP with `reason` (consumed;
 * NULL means `normal`): `return grove_stop(self, grove_atom("shutdown"));` */
grove_ret grove_stop(grove_proc *self, grove_term *reason);

/* Sends an exit signal with `reason` (consumed) to pid, as Erlang's
 * exit/2: `kill` kills untrappably (the target dies with `killed`);
 * `normal` is ignored unless the target traps exits (or is the caller
 * itself, which then exits normally); any other reason kills a target that
 * does not trap exits, and reaches one that does as {'EXIT', From,
 * Reason}. From a node the sender is the node's own pid (id 0, serial 0,
 * never a process). GROVE_OK even if pid is dead. */
grove_err grove_proc_exit(grove_proc *self, grove_pid pid, grove_term *reason);
grove_err grove_node_exit(grove_node *node, grove_pid pid, grove_term *reason);

/* Sets the trap_exit flag; returns the previous value. */
bool grove_trap_exit(grove_proc *self, bool on);

/* ---- links and monitors (inside a callback) ------------------------------- */

/* Links self and pid (both ways). Linking to self or to an existing link
 * does nothing. If pid is dead, self receives an exit signal `noproc`
 * from it (a message if trapping, else death) and the call returns
 * GROVE_ENOPROC. */
grove_err grove_link(grove_proc *self, grove_pid pid);

/* Removes the link (both ways); after it returns no exit signal from that
 * link reaches self. */
grove_err grove_unlink(grove_proc *self, grove_pid pid);

/* Monitors pid; the reference goes to *ref. When pid exits (at once when
 * it is not alive: `noproc`; `noconnection` when its node is not
 * connected) self receives {'DOWN', Ref, process, Pid, Reason}. */
grove_err grove_monitor(grove_proc *self, grove_pid pid, grove_ref *ref);

/* The longest name grove_monitor_name takes (an atom's limit). */
#define GROVE_MONITOR_NAME_MAX 255

/* Monitors the process registered locally as `name` on `node` (0: this
 * node), as erlang:monitor(process, {Name, Node}); the reference goes to
 * *ref. The name is resolved once, on that node, when the monitor
 * arrives; the DOWN then names it rather than the pid:
 * {'DOWN', Ref, process, {Name, Node}, Reason}, with Reason `noproc` at
 * once when nobody has the name, `noconnection` when the node is not
 * connected or its session ends. grove_demonitor removes it as any
 * monitor. GROVE_EINVAL for an empty name or one over
 * GROVE_MONITOR_NAME_MAX bytes. */
grove_err grove_monitor_name(grove_proc *self, const char *name, grove_nodename node,
                             grove_ref *ref);

/* Removes a monitor: no DOWN for it arrives afterwards. With flush, a DOWN
 * already queued for it (postponed ones included) is removed too, also
 * when the monitor has already fired. GROVE_ENOTFOUND for an unknown
 * reference (with flush: unknown and no DOWN of it queued). */
grove_err grove_demonitor(grove_proc *self, grove_ref ref, bool flush);

/* ---- nodes ---------------------------------------------------------------- */

/* Monitors a node, as erlang:monitor_node/2: {nodedown, Node} arrives
 * once, when the node's session ends (at once if it is not connected
 * now), after every other signal from that node. Monitoring the own
 * node does nothing. Node monitors (and grove_monitor_nodes) go when
 * self exits. */
grove_err grove_monitor_node(grove_proc *self, grove_nodename node);

/* As net_kernel:monitor_nodes(on, [nodedown_reason]): with on, every
 * node that comes up or goes down from now on delivers
 * {nodeup, Node, []} or {nodedown, Node, [{nodedown_reason, Reason}]}
 * (Reason an atom: connection_closed, net_tick_timeout, shutdown, ...),
 * the nodedown after every other signal from that node. Off stops it. */
grove_err grove_monitor_nodes(grove_proc *self, bool on);

/* Fills out[0..cap) with the connected nodes (not this one; as
 * erlang:nodes/0) and returns how many there are (which may exceed cap).
 * Any thread. */
size_t grove_nodes(grove_node *node, grove_nodename *out, size_t cap);

/* ---- postponing -------------------------------------------------------------- */

/* Sets the message being handled aside (the stash); it is not freed when
 * the handler returns. Inside handle only. */
void grove_postpone(grove_proc *self);

/* Puts every stashed message back in front of the message queue, in the
 * order they arrived, to be handled next. */
void grove_unstash_all(grove_proc *self);

/* ---- time ------------------------------------------------------------------- */

/* A timer handle: 0 is never a valid timer. */
typedef uint64_t grove_timer;

/* Sends msg (consumed) to pid after ms milliseconds, unless cancelled.
 * *timer (may be NULL) receives the handle. One timer wheel per worker,
 * no thread per timer. */
grove_err grove_proc_send_after(grove_proc *self, uint64_t ms, grove_pid to, grove_term *msg,
                                grove_timer *timer);
grove_err grove_node_send_after(grove_node *node, uint64_t ms, grove_pid to, grove_term *msg,
                                grove_timer *timer);

/* Cancels a timer. GROVE_OK if it was pending (its message is freed),
 * GROVE_ENOTFOUND if it has already fired or was cancelled. */
grove_err grove_proc_cancel_timer(grove_proc *self, grove_timer timer);
grove_err grove_node_cancel_timer(grove_node *node, grove_timer timer);

/* Receive timeout: if no message arrives within ms milliseconds of this
 * handler returning, handle() receives the atom `timeout` (as gen_server's
 * {noreply, State, Timeout}). Any message cancels it; each handler may
 * set it anew. ms < 0 clears it. */
void grove_set_timeout(grove_proc *self, int64_t ms);

/* ---- references ----------------------------------------------------------------- */

grove_ref grove_proc_make_ref(grove_proc *self);

/* ---- one name for both contexts ---------------------------------------------- */

#define GROVE_CTX_(ctx, p, n) _Generic((ctx), grove_proc * : p, grove_node * : n)

#define grove_spawn(ctx, b, arg, opts, out) \
    GROVE_CTX_(ctx, grove_proc_spawn, grove_node_spawn)(ctx, b, arg, opts, out)
#define grove_send(ctx, to, msg) GROVE_CTX_(ctx, grove_proc_send, grove_node_send)(ctx, to, msg)
#define grove_exit(ctx, pid, reason) \
    GROVE_CTX_(ctx, grove_proc_exit, grove_node_exit)(ctx, pid, reason)
#define grove_send_after(ctx, ms, to, msg, timer) \
    GROVE_CTX_(ctx, grove_proc_send_after, grove_node_send_after)(ctx, ms, to, msg, timer)
#define grove_make_ref(ctx) GROVE_CTX_(ctx, grove_proc_make_ref, grove_node_make_ref)(ctx)
#define grove_cancel_timer(ctx, timer) \
    GROVE_CTX_(ctx, grove_proc_cancel_timer, grove_node_cancel_timer)(ctx, timer)

/* ---- inspection ------------------------------------------------------------------ */

typedef enum grove_proc_status {
    GROVE_PROC_RUNNABLE = 1, /* queued or running */
    GROVE_PROC_WAITING,      /* idle, waiting for a message */
    GROVE_PROC_EXITING,
} grove_proc_status;

typedef struct grove_proc_info {
    grove_proc_status status;
    const char *name;      /* inspection name (static, see grove_spawn_opts) */
    const char *behaviour; /* behaviour name */
    uint64_t handled;      /* messages handled so far */
    uint32_t links, monitors, monitored_by;
    grove_pid parent; /* the node's own pid (id 0, serial 0) if spawned from a node */
    bool trap_exit;
} grove_proc_info;

/* Information about a local process. GROVE_ENOPROC if it is not alive.
 * Counters are snapshots read without stopping the process. Any thread. */
grove_err grove_proc_info_get(grove_node *node, grove_pid pid, grove_proc_info *out);

/* ---- trace hooks ------------------------------------------------------------------ */

/* Called on the thread where the event happens (often a worker): they
 * must be quick and must not block. Terms are borrowed for the call. Any
 * hook may be NULL. */
typedef struct grove_trace_hooks {
    void *ctx;
    void (*on_spawn)(void *ctx, grove_pid parent, grove_pid child, const char *name);
    /* A message sent with grove_send (from is the node's own pid outside
     * a process). */
    void (*on_send)(void *ctx, grove_pid from, grove_pid to, const grove_term *msg);
    /* A message about to be handled. */
    void (*on_receive)(void *ctx, grove_pid self, const grove_term *msg);
    void (*on_exit)(void *ctx, grove_pid self, const grove_term *reason);
} grove_trace_hooks;

/* Installs hooks (NULL turns tracing off). With no hooks installed the
 * cost is one load per event. `hooks` must stay valid until the
 * node stops: a call may still be under way when this returns. */
void grove_node_set_trace(grove_node *node, const grove_trace_hooks *hooks);

#ifdef __cplusplus
}
#endif
#endif
