/*
 * grove/supervisor.h - supervisors and dynamic supervisors.
 *
 * A supervisor starts its children one at a time, in order, each after the
 * previous one's init has returned; restarts them by its strategy when they
 * exit; and stops them in reverse order. Written like an Elixir module-based
 * Supervisor:
 *
 *   static grove_err bank_sup_init(grove_proc *self, const grove_term *arg,
 *                                  grove_sup_flags *flags, grove_children *children)
 *   {
 *       flags->strategy = GROVE_ONE_FOR_ONE;
 *       grove_sup_add(children, &(grove_child_spec){
 *           .id = "alice", .gen_server = &account_server,
 *           .arg = grove_pack("~l", (int64_t)100), .name = "alice"});
 *       return GROVE_OK;
 *   }
 *   static const grove_supervisor bank_sup = {.name = "bank_sup", .init = bank_sup_init};
 *
 *   grove_pid sup;
 *   grove_supervisor_start(node, &bank_sup, NULL, NULL, &sup);
 *
 * A supervisor traps exits and is linked to its children. When a child
 * exits, the restart type decides: permanent children always restart,
 * transient ones unless the reason is `normal`, `shutdown` or
 * {shutdown, _}, temporary ones never (their spec is dropped). More than
 * `intensity` restarts within `period_ms` make the supervisor stop its
 * children and exit with `shutdown`. Crashes, restarts and starts that
 * fail are logged (component `supervisor`).
 *
 * While it waits for a child to start or stop, a supervisor sets other
 * messages aside (calls included) and handles them afterwards, in order;
 * it never blocks a scheduler thread.
 *
 * The management calls below block (not on a scheduler thread); from a
 * callback, send the same requests with grove_call_async (docs/otp.md).
 */
#ifndef GROVE_SUPERVISOR_H
#define GROVE_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/gen_server.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum grove_strategy {
    GROVE_ONE_FOR_ONE = 0, /* restart the child that exited */
    GROVE_ONE_FOR_ALL,     /* stop the others (reverse order), restart all in order */
    GROVE_REST_FOR_ONE,    /* stop those started after it, restart it and them in order */
} grove_strategy;

typedef enum grove_restart {
    GROVE_PERMANENT = 0,
    GROVE_TRANSIENT,
    GROVE_TEMPORARY,
} grove_restart;

/* shutdown_ms: how long a child may take to stop after `shutdown` before it
 * is killed. 0 means the default: 5000 for workers, infinity for
 * supervisors (as OTP's). */
#define GROVE_SHUTDOWN_INFINITY (-1)
#define GROVE_SHUTDOWN_BRUTAL_KILL (-2) /* kill at once, untrappably */

/* Where a child runs (docs/otp.md, "Children on other nodes"). A child
 * on another node is started there by name, so its gen_server,
 * supervisor or behaviour must be registered (grove_gen_server_register,
 * grove_supervisor_register, grove_child_behaviour_register) in the
 * program every node runs. The supervisor links to it, waits for its
 * init, restarts and stops it as a local child; when its node goes down
 * the child has exited with `noconnection` (a crash).
 *
 * - GROVE_PLACE_NODE: always that node. While it is down the child's
 *   starts fail (reason `noconnection`), each failed restart counting
 *   toward the intensity, as any child that cannot start.
 * - GROVE_PLACE_ANY: at every (re)start, the node, this one or a
 *   connected one, with the fewest of this supervisor's running children,
 *   then the lightest load (run queues plus processes, from heartbeats),
 *   then the first name. So a child of a lost node restarts on a live
 *   one. */
typedef enum grove_place {
    GROVE_PLACE_LOCAL = 0,
    GROVE_PLACE_NODE, /* the node named by `node` */
    GROVE_PLACE_ANY,  /* any node, spread by load */
} grove_place;

typedef struct grove_placement {
    grove_place where;
    const char *node; /* GROVE_PLACE_NODE: "name@host" (copied) */
} grove_placement;

typedef struct grove_supervisor grove_supervisor;

/* A child: what to start (exactly one of gen_server, supervisor,
 * behaviour), with which argument, and how to treat its exits. A plain
 * grove_behaviour child counts as started once its init has returned. */
typedef struct grove_child_spec {
    const char *id; /* unique among the supervisor's children (copied);
                       ignored by dynamic supervisors */
    const grove_gen_server *gen_server;
    const grove_supervisor *supervisor;
    const grove_behaviour *behaviour;
    grove_term *arg; /* consumed; each start gets a copy; may be NULL */
    grove_restart restart;
    int64_t shutdown_ms;
    const char *name; /* register each incarnation under this local name (copied) */
    grove_placement placement;
} grove_child_spec;

typedef struct grove_sup_flags {
    grove_strategy strategy;
    /* At most `intensity` restarts within `period_ms`. 0 means the
     * defaults (3 and 5000, as Elixir's); GROVE_INTENSITY_NONE allows no
     * restart at all. */
    int intensity;
    uint32_t period_ms;
    /* Dynamic supervisors: at most this many children (0: no limit). */
    unsigned max_children;
} grove_sup_flags;

#define GROVE_INTENSITY_NONE (-1)

/* The child list a supervisor's init fills. */
typedef struct grove_children grove_children;

/* Appends a child (started in the order added). Consumes spec->arg even
 * on failure. GROVE_EINVAL for a spec without exactly one start target,
 * without an id, with a duplicate id, with a bad placement, or placed
 * off the local node with a target not registered by name (logged:
 * `supervisor child_not_registered`). */
grove_err grove_sup_add(grove_children *children, const grove_child_spec *spec);

/* A supervisor "module": its init runs in the supervisor process at every
 * (re)start, fills the flags (zeroed before: one_for_one, defaults) and
 * the children. arg is borrowed. Anything but GROVE_OK fails the start. */
struct grove_supervisor {
    const char *name;
    grove_err (*init)(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                      grove_children *children);
};

/* Registers a supervisor module under sup->name, so that supervisors on
 * any node can start it as a child placed on another node. As
 * grove_gen_server_register. The library's grove_dynamic_supervisor and
 * grove_task_supervisor are known on every node without it. */
grove_err grove_supervisor_register(const grove_supervisor *sup);

/* Registers a plain behaviour under b->name for the same purpose (a
 * table of its own: grove_behaviour_register is for grove_spawn_request).
 * As grove_gen_server_register; GROVE_EINVAL without handle. */
grove_err grove_child_behaviour_register(const grove_behaviour *b);

/* Starts a supervisor and waits until every child has started (or one
 * failed: then those started are stopped, and the start fails with
 * GROVE_ENOPROC, reason {shutdown, {failed_to_start_child, Id, Reason}}
 * in opts->reason). Otherwise as grove_gen_server_start. */
grove_err grove_supervisor_start(grove_node *node, const grove_supervisor *sup, grove_term *arg,
                                 const grove_start_opts *opts, grove_pid *out);

/* As grove_gen_server_start_async, for a supervisor (acknowledged once
 * all its children have started). */
grove_err grove_supervisor_start_async(grove_proc *self, const grove_supervisor *sup,
                                       grove_term *arg, const grove_start_opts *opts,
                                       grove_pid *out, grove_ref *ack);

/* ---- managing a running supervisor (blocking calls) ------------------------------ */

typedef struct grove_child_info {
    char id[256];    /* "" for dynamic children */
    grove_pid pid;   /* valid when running */
    bool running;    /* false: stopped (terminate_child) or between restarts */
    bool supervisor; /* a supervisor child (else a worker) */
} grove_child_info;

/* The children in start order. *out is an array of *n entries the caller
 * frees with free() (NULL when there are none). */
grove_err grove_supervisor_which_children(grove_node *node, grove_pid sup, grove_child_info **out,
                                          size_t *n);

typedef struct grove_child_counts {
    size_t specs, active, supervisors, workers;
} grove_child_counts;

grove_err grove_supervisor_count_children(grove_node *node, grove_pid sup, grove_child_counts *out);

/* Adds a child to a running supervisor and starts it (*out: its pid).
 * Consumes spec->arg. GROVE_EEXIST if the id is taken; a start failure as
 * for grove_gen_server_start. */
grove_err grove_supervisor_start_child(grove_node *node, grove_pid sup,
                                       const grove_child_spec *spec, grove_pid *out);

/* Stops a child (as at shutdown) and keeps its spec, unless it is
 * temporary. GROVE_ENOTFOUND for an unknown id. */
grove_err grove_supervisor_terminate_child(grove_node *node, grove_pid sup, const char *id);

/* Starts a stopped child again (*out may be NULL). GROVE_EEXIST if it is
 * running, GROVE_ENOTFOUND for an unknown id, or a start failure. */
grove_err grove_supervisor_restart_child(grove_node *node, grove_pid sup, const char *id,
                                         grove_pid *out);

/* Forgets a stopped child's spec. GROVE_EEXIST if it is running,
 * GROVE_ENOTFOUND for an unknown id. */
grove_err grove_supervisor_delete_child(grove_node *node, grove_pid sup, const char *id);

/* Stops a supervisor: its children stop in reverse order, then it exits
 * with `reason` (consumed; NULL: normal). As grove_gen_server_stop. */
grove_err grove_supervisor_stop(grove_node *node, grove_pid sup, grove_term *reason,
                                int64_t timeout_ms);

/* ---- dynamic supervisors ------------------------------------------------------------ */

/* A supervisor without children at start, one_for_one, that starts
 * children on demand (Elixir's DynamicSupervisor). As a child of another
 * supervisor: .supervisor = &grove_dynamic_supervisor, .arg =
 * grove_dynsup_arg(&flags) (or NULL for the defaults). */
extern const grove_supervisor grove_dynamic_supervisor;

/* The argument that carries flags (intensity, period_ms, max_children) to
 * grove_dynamic_supervisor. Caller owns the result. */
grove_term *grove_dynsup_arg(const grove_sup_flags *flags);

/* Starts a dynamic supervisor. flags may be NULL. */
grove_err grove_dynsup_start(grove_node *node, const grove_sup_flags *flags,
                             const grove_start_opts *opts, grove_pid *out);

/* Starts a child (spec->id is ignored). Consumes spec->arg. GROVE_EAGAIN
 * when max_children are running; a start failure as for
 * grove_gen_server_start. */
grove_err grove_dynsup_start_child(grove_node *node, grove_pid sup, const grove_child_spec *spec,
                                   grove_pid *out);

/* Stops the child `child` (as at shutdown) and forgets it.
 * GROVE_ENOTFOUND if it is not a child of sup. */
grove_err grove_dynsup_terminate_child(grove_node *node, grove_pid sup, grove_pid child);

/* which_children and count_children work on dynamic supervisors too. */

#ifdef __cplusplus
}
#endif
#endif
