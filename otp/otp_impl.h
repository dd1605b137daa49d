/*
 * otp_impl.h - what the OTP behaviours share (internal).
 *
 * Every OTP process (gen_server, supervisor, wrapped behaviour, task) is
 * spawned with a start term that says what it is and whom to tell when
 * its init has returned (proc_lib's init_ack):
 *
 *   {'$grove_start', Kind, Impl, {Starter, Ref} | undefined, Link, Name, Arg}
 *
 * Impl is the address of the C table (a grove_gen_server, ...) that the
 * process runs: tables are static, so the address outlives the process;
 * it never leaves the node. The starter receives
 * {'$grove_ack', Ref, Pid, ok | {error, Reason}} from the new process
 * (docs/otp.md, "Starting without blocking").
 */
#ifndef GV_OTP_IMPL_H
#define GV_OTP_IMPL_H

#include <grove/gen_server.h>
#include <grove/supervisor.h>
#include <grove/task.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef enum gv_otp_kind {
    GV_KIND_GEN_SERVER = 1,
    GV_KIND_SUPERVISOR = 2,
    GV_KIND_BEHAVIOUR = 3,
    GV_KIND_TASK = 4,
} gv_otp_kind;

#define GV_NAME_MAX 255

/* A start term, read back by the new process. */
typedef struct gv_start {
    gv_otp_kind kind;
    const void *impl;
    bool has_starter;
    grove_pid starter;
    grove_ref ref;
    bool link; /* the starter is the parent */
    bool has_name;
    grove_name_scope scope;
    bool name_held; /* a global name the process already holds (start.c) */
    char name[GV_NAME_MAX + 1];
    grove_term *arg; /* owned; NULL if none */
} gv_start;

/* Builds a start term; consumes arg. starter NULL: no acknowledgement. */
grove_term *gv_start_pack(gv_otp_kind kind, const void *impl, const grove_pid *starter,
                          grove_ref ref, bool link, const char *name, grove_name_scope scope,
                          grove_term *arg);
bool gv_start_unpack(const grove_term *t, gv_start *out);
void gv_start_fini(gv_start *s);

/* Tells the starter that init returned: error NULL for ok (consumed). */
void gv_start_ack(grove_proc *self, const gv_start *s, grove_term *error);

/* Registers self under the start's name, if any. On failure *reason is
 * the exit reason to report ({already_started, Pid}, ...). */
grove_err gv_start_register(grove_proc *self, const gv_start *s, grove_term **reason);

/* The first step of every started process's init: reads the start term
 * (which must be of `kind`) into *st and registers the name. On failure
 * the starter is told, *st is released, the process is set to stop
 * normally (as OTP's name clash) and the error is returned. */
grove_err gv_start_begin(grove_proc *self, const grove_term *arg, gv_otp_kind kind, gv_start *st);

/* The runtime behaviour that runs a kind. */
const grove_behaviour *gv_kind_behaviour(gv_otp_kind kind);

/* The runtime behaviour a start of kind with this name spawns (the
 * kind's, or the one that holds a global name before init); a remote
 * child's relay (sup_remote.c) runs it. */
const grove_behaviour *gv_start_behaviour(gv_otp_kind kind, const char *name,
                                          grove_name_scope scope);

extern const grove_behaviour gv_gen_server_behaviour;
extern const grove_behaviour gv_supervisor_behaviour;
extern const grove_behaviour gv_task_behaviour;

/* The reason init failed with: the one given to grove_stop, or
 * {init_failed, 'GROVE_E...'}. Caller owns. */
grove_term *gv_init_fail_reason(grove_proc *self, grove_err err);

/* The reason given to grove_stop during the running callback, or NULL
 * (borrowed). */
const grove_term *gv_stop_reason(grove_proc *self);

/* Starts and waits for the acknowledgement (the blocking starts).
 * Consumes arg. */
grove_err gv_start_wait(grove_node *node, gv_otp_kind kind, const void *impl, const char *label,
                        grove_term *arg, const grove_start_opts *opts, grove_pid *out);

/* Starts from a process without waiting. Consumes arg. */
grove_err gv_start_async(grove_proc *self, gv_otp_kind kind, const void *impl, const char *label,
                         grove_term *arg, const char *name, grove_name_scope scope, bool link,
                         grove_pid *out, grove_ref *ack);

/* The error a failed start reports for an exit reason. */
grove_err gv_reason_err(const grove_term *reason);

/* normal, shutdown or {shutdown, _}: an exit that is not a crash. */
bool gv_reason_is_clean(const grove_term *reason);

/* True when pid lives on self's node (this incarnation). Requests that
 * carry code addresses (child specs, agent functions) are taken only from
 * local callers. */
static inline bool gv_pid_is_ours(grove_proc *self, grove_pid pid)
{
    grove_node *node = grove_proc_node(self);
    return pid.node == grove_node_name(node) && pid.creation == grove_node_creation(node);
}

/* True on any node's scheduler thread. */
bool gv_on_scheduler(void);

/* Sends a crash report for a process that exited with `reason`. */
void gv_crash_report(grove_proc *self, const char *kind, const char *name,
                     const grove_term *reason);

/* "<id.serial>" for logs. */
typedef struct gv_pidtext {
    char s[32];
} gv_pidtext;
gv_pidtext gv_pid_text(grove_pid pid);

/* Removes a monitor and a DOWN of it already queued, even one that fired
 * at the last drain (inside a callback of self). */
void gv_demonitor_flush(grove_proc *self, grove_ref ref);

/* Waits on a waiter for the first message select accepts, lending the
 * thread to the task pool meanwhile if it is a task thread. */
grove_err gv_wait_select(grove_waiter *w, bool (*select)(const grove_term *msg, void *arg),
                         void *arg, int64_t timeout_ms, grove_term **out);

/* Pointers in terms (never sent off the node). */
static inline uint64_t gv_ptr_u64(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static inline const void *gv_u64_ptr(uint64_t u)
{
    return (const void *)(uintptr_t)u;
}

typedef void (*gv_fnptr)(void);

static inline uint64_t gv_fn_u64(gv_fnptr fn)
{
    uint64_t u = 0;
    _Static_assert(sizeof fn <= sizeof u, "a function pointer fits 64 bits");
    memcpy(&u, &fn, sizeof fn);
    return u;
}

static inline gv_fnptr gv_u64_fn(uint64_t u)
{
    gv_fnptr fn;
    memcpy(&fn, &u, sizeof fn);
    return fn;
}

/* ---- gen_server internals shared with supervisor and agent ------------------------- */

/* Sends {Ref, Reply} (reply consumed) to the caller. */
void gv_gen_reply(grove_proc *self, grove_from from, grove_term *reply);

/* Reads {'$gen_call', {Pid, Ref}, Request}: *request is a copy (caller
 * owns). */
bool gv_gen_call_match(grove_proc *self, const grove_term *msg, grove_from *from,
                       grove_term **request);

/* A blocking call with a raw request (no '$gen_call' wrapper added by the
 * caller); as grove_call. */
grove_err gv_call(grove_node *node, grove_pid server, grove_term *request, int64_t timeout_ms,
                  grove_term **reply);

/* Blocks until pid exits after sending it msg (consumed): grove_gen_server_stop. */
grove_err gv_stop_and_wait(grove_node *node, grove_pid pid, grove_term *msg, int64_t timeout_ms);

/* ---- supervisor internals ------------------------------------------------------------ */

/* Packs a child spec as a term (consumes spec->arg). NULL and *err on a
 * bad spec. */
grove_term *gv_spec_pack(const grove_child_spec *spec, bool need_id, grove_err *err);

/* A child spec term for a task under a task supervisor. */
grove_term *gv_spec_pack_task(grove_term *task_arg);

/* Marks a child list as a dynamic supervisor's. */
void gv_children_set_dynamic(grove_children *children);

/* ---- task internals ------------------------------------------------------------------- */

/* The task process behaviour and its start argument:
 * {Fn, Udata, Owner | undefined, noarg | {arg, Arg}}. */
grove_term *gv_task_arg(grove_task_fn fn, void *udata, const grove_pid *owner, grove_term *arg);

/* The task pool of a node (task_pool.c). */
grove_err gv_pool_submit(grove_node *node, grove_task_ctx *job);
/* The calling thread is about to wait on Grove / is done waiting: a task
 * thread lends its place meanwhile. No-ops on other threads. */
void gv_task_block_begin(void);
void gv_task_block_end(void);
/* GROVE_TASK_THREADS (default 4). */
unsigned gv_task_threads(void);

/* A task's job: shared by the task process and a pool thread. */
struct grove_task_ctx {
    _Atomic int refs;
    _Atomic bool cancelled;
    grove_node *node;
    grove_pid task;
    grove_task_fn fn;
    void *udata;
    grove_term *arg;
    struct grove_task_ctx *next; /* the pool's queue */
};

void gv_job_release(grove_task_ctx *job);
/* Runs the job on the calling (pool) thread and reports to its process. */
void gv_job_run(grove_task_ctx *job);
/* Reports a job the pool drops (node stopping) to its process. */
void gv_job_drop(grove_task_ctx *job);

#endif
