/*
 * grove/task.h - tasks: one C function run once, its result delivered to
 * an owner (Elixir's Task).
 *
 * A task's function runs on the node's task pool, threads apart from the
 * schedulers that may block (I/O, long computation, a lock), so a slow
 * task never stalls processes. Each task is also a process (it has a pid,
 * can be monitored, and supervised), which carries the result to the
 * owner and cancels the function when the task is stopped.
 *
 *   static grove_term *slow_square(grove_task_ctx *ctx, const grove_term *arg, void *udata)
 *   {
 *       int64_t n;
 *       grove_match(arg, "~l", &n);
 *       sleep(1);
 *       return grove_pack("~l", n * n);
 *   }
 *
 *   grove_task *t;
 *   grove_task_async(node, slow_square, grove_int(7), NULL, &t);   // from main()
 *   grove_term *r;
 *   if (grove_task_await(&t, 5000, &r) == GROVE_OK) ...            // 49
 *
 * The pool has GROVE_TASK_THREADS threads (default 4) per node. A task
 * that waits on Grove (grove_task_await, grove_call, ...) lends its thread:
 * the pool grows by one, up to 16 times its size, so tasks that wait on
 * tasks do not starve. Cancellation is cooperative: a function that may
 * run long polls grove_task_cancelled.
 *
 * Tasks are not linked to their owner: a failed task is reported to the
 * owner, and an owner that exits cancels its tasks (docs/otp.md).
 */
#ifndef GROVE_TASK_H
#define GROVE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/gen_server.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/supervisor.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The running task's view of itself, valid during the function only. */
typedef struct grove_task_ctx grove_task_ctx;

/* A task's function. arg is borrowed (NULL if none was given); udata is
 * passed through untouched (it must outlive the task). Returns the result
 * (the task owns it then) or NULL for a failure: the task exits with
 * reason `failed`. Runs on a task-pool thread: it may block, and may use
 * the blocking calls of Grove (grove_call, grove_task_await, ...). */
typedef grove_term *(*grove_task_fn)(grove_task_ctx *ctx, const grove_term *arg, void *udata);

/* True once the task has been asked to stop (its owner exited, it timed
 * out, it was shut down, or the node is stopping). Any thread. */
bool grove_task_cancelled(const grove_task_ctx *ctx);

/* The node and the task's own pid. */
grove_node *grove_task_node(const grove_task_ctx *ctx);
grove_pid grove_task_self(const grove_task_ctx *ctx);

/* ---- owned by a thread (main, tests, other tasks): blocking ------------------------ */

/* A handle holds a waiter: await it or shut it down before
 * grove_node_stop. */
typedef struct grove_task grove_task;

/* Starts fn(arg) and returns a handle to await (caller owns it: await,
 * or shut it down). arg is consumed (may be NULL). GROVE_ECLOSED if the
 * node is stopping, GROVE_EWOULDBLOCK on a scheduler thread (use
 * grove_proc_task_async there). Any non-scheduler thread; does not wait
 * for the task. */
grove_err grove_node_task_async(grove_node *node, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_task **out);

/* Waits up to timeout_ms (GROVE_INFINITY: for ever) for the result and
 * consumes the handle (*task becomes NULL) whatever happens:
 * GROVE_OK: *result is the result (caller owns). GROVE_ENOPROC: the task
 * failed; *result is its exit reason (`failed`, `killed`, ...).
 * GROVE_ETIMEDOUT: the task is cancelled (and killed), *result NULL.
 * GROVE_EWOULDBLOCK on a scheduler thread (the handle is kept then).
 * Only the thread that owns the handle. */
grove_err grove_task_await(grove_task **task, int64_t timeout_ms, grove_term **result);

/* As grove_task_await, but keeps the handle, and the task, when the time
 * runs out (Elixir's Task.yield). After GROVE_OK or GROVE_ENOPROC the
 * handle is spent: free it with grove_task_shutdown. */
grove_err grove_task_yield(grove_task *task, int64_t timeout_ms, grove_term **result);

/* Cancels the task if it is still running (it is killed and its function
 * sees grove_task_cancelled), drops any result, and frees the handle.
 * Sets *task to NULL; safe on NULL. Does not wait for the function. */
void grove_task_shutdown(grove_task **task);

/* The task's pid. */
grove_pid grove_task_pid(const grove_task *task);

/* ---- owned by a process: the result comes as a message --------------------------------- */

/* What a process keeps of a task: its pid and the owner's monitor on it. */
typedef struct grove_task_ref {
    grove_pid pid;
    grove_ref ref;
} grove_task_ref;

/* From a callback: starts fn(arg) for self (arg consumed). self later
 * receives {'$task', TaskPid, {ok, Result}} or {'$task', TaskPid, {exit,
 * Reason}} (or, for a task killed before it ran, a DOWN for out->ref);
 * read them with grove_task_result. Never blocks. */
grove_err grove_proc_task_async(grove_proc *self, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_task_ref *out);

#define grove_task_async(ctx, fn, arg, udata, out) \
    GROVE_CTX_(ctx, grove_proc_task_async, grove_node_task_async)(ctx, fn, arg, udata, out)

/* Reads msg for the task t (inside a callback of its owner):
 * GROVE_OK: msg is its result (*result, caller owns); GROVE_ENOPROC: the
 * task failed (*result: the reason); either way the monitor is gone and no
 * further message about t arrives. GROVE_ENOTFOUND: msg is not about t
 * (*result NULL). */
grove_err grove_task_result(grove_proc *self, const grove_task_ref *t, const grove_term *msg,
                            grove_term **result);

/* Cancels the task t (inside a callback of its owner): the task stops and
 * its function sees grove_task_cancelled; the monitor goes, with its DOWN.
 * A result the task sent just before (it finished meanwhile) may still
 * arrive as {'$task', Pid, _}: drop messages of tasks no longer tracked. */
void grove_task_cancel(grove_proc *self, const grove_task_ref *t);

/* ---- fire and forget ------------------------------------------------------------------ */

/* Runs fn(arg) with no owner; its result is dropped (Elixir's
 * Task.start). arg is consumed. *out (may be NULL) is the task's pid.
 * Never blocks; any thread. */
grove_err grove_proc_task_start(grove_proc *self, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_pid *out);
grove_err grove_node_task_start(grove_node *node, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_pid *out);
#define grove_task_start(ctx, fn, arg, udata, out) \
    GROVE_CTX_(ctx, grove_proc_task_start, grove_node_task_start)(ctx, fn, arg, udata, out)

/* ---- streams ---------------------------------------------------------------------------- */

typedef struct grove_stream_opts {
    unsigned max_concurrency; /* tasks running at once; 0: the pool's size */
    int64_t timeout_ms;       /* per task; 0: 5000; GROVE_INFINITY: none */
} grove_stream_opts;

/* Runs fn over inputs[0..n) (borrowed; copied for each task) with at most
 * max_concurrency tasks at a time, and waits for all of them. results[i]
 * (caller owns each) is {ok, Result} or {exit, Reason} for inputs[i], in
 * input order; a task over its timeout is cancelled and gives {exit,
 * timeout}. GROVE_OK once every slot is filled; GROVE_EWOULDBLOCK on a
 * scheduler thread, GROVE_ECLOSED if the node is stopping (filled slots
 * are freed and set to NULL). opts may be NULL. Blocks. */
grove_err grove_task_async_stream(grove_node *node, grove_task_fn fn, grove_term *const *inputs,
                                  size_t n, void *udata, const grove_stream_opts *opts,
                                  grove_term **results);

/* ---- task supervisors --------------------------------------------------------------------- */

/* A dynamic supervisor of tasks (Elixir's Task.Supervisor): its tasks
 * are temporary children, stopped with it. As a child of another
 * supervisor: .supervisor = &grove_task_supervisor (arg as for
 * grove_dynamic_supervisor). */
extern const grove_supervisor grove_task_supervisor;

grove_err grove_task_sup_start(grove_node *node, const grove_sup_flags *flags,
                               const grove_start_opts *opts, grove_pid *out);

/* Starts fn(arg) under sup with no owner (*out: its pid, may be NULL).
 * Blocks until the supervisor has started it. */
grove_err grove_task_sup_start_child(grove_node *node, grove_pid sup, grove_task_fn fn,
                                     grove_term *arg, void *udata, grove_pid *out);

/* Starts fn(arg) under sup, owned by the calling thread (Elixir's
 * async_nolink): await it as any task. */
grove_err grove_task_sup_async(grove_node *node, grove_pid sup, grove_task_fn fn, grove_term *arg,
                               void *udata, grove_task **out);

#ifdef __cplusplus
}
#endif
#endif
