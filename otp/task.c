/*
 * task.c - tasks: the task process, async/await from a thread or a
 * process, fire and forget, and task supervisors.
 *
 * A task is a process plus a job on the node's task pool. The process
 * submits the job in its init and waits, like any process, for the pool
 * thread's {'$task_done', ...}; then it tells its owner once,
 * {'$task', Self, {ok, Result} | {exit, Reason}}, and exits. Because it is
 * a process, a task can be monitored, supervised and killed, and its exit
 * (for any reason) raises the job's cancel flag. It monitors its owner and
 * stops when the owner goes.
 */
#include "otp/sup.h"

#include "base/gv_alloc.h"

#include <stdatomic.h>

/* ---- the task process ------------------------------------------------------------------- */

typedef struct s_task {
    grove_task_ctx *job;
    bool has_owner;
    grove_pid owner;
    grove_ref owner_mon;
    bool answered; /* the owner has had its message, or wants none */
} s_task;

grove_term *gv_task_arg(grove_task_fn fn, void *udata, const grove_pid *owner, grove_term *arg)
{
    return grove_pack("{~u, ~u, ~t, ~t}", gv_fn_u64((gv_fnptr)fn), gv_ptr_u64(udata),
                      owner ? grove_pack("~p", *owner) : grove_atom("undefined"),
                      arg ? grove_pack("{arg, ~t}", arg) : grove_atom("noarg"));
}

/* Hands the job to the pool; false if the task must stop. */
static bool s_submit(grove_proc *self, s_task *t)
{
    grove_err err = gv_pool_submit(grove_proc_node(self), t->job);
    if (err == GROVE_EAGAIN) /* the pool's keeper has not run yet: soon */
        grove_send_after(self, 1, grove_self(self), grove_atom("$task_submit"), NULL);
    return err == GROVE_OK || err == GROVE_EAGAIN;
}

static grove_err s_init(grove_proc *self, const grove_term *arg, void **state)
{
    gv_start st;
    if (!gv_start_unpack(arg, &st) || st.kind != GV_KIND_TASK)
        gv_panic("task: bad start term");
    uint64_t fn, udata;
    grove_term *owner = NULL, *a = NULL;
    if (!grove_match(st.arg, "{~u, ~u, ~t, ~t}", &fn, &udata, &owner, &a))
        gv_panic("task: bad argument");
    s_task *t = gv_calloc(1, sizeof *t);
    grove_task_ctx *job = gv_calloc(1, sizeof *job);
    atomic_init(&job->refs, 1);
    atomic_init(&job->cancelled, false);
    job->node = grove_proc_node(self);
    job->task = grove_self(self);
    job->fn = (grove_task_fn)gv_u64_fn(fn);
    job->udata = (void *)gv_u64_ptr(udata);
    grove_match(a, "{arg, ~t}", &job->arg);
    t->job = job;
    t->has_owner = grove_match(owner, "~p", &t->owner);
    grove_term_destroy(&owner);
    grove_term_destroy(&a);
    grove_term *reason = NULL;
    grove_err err = gv_start_register(self, &st, &reason);
    if (!err && !s_submit(self, t)) {
        err = GROVE_ECLOSED;
        reason = grove_pack("{init_failed, ~a}", grove_errname(err));
    }
    if (err) {
        gv_start_ack(self, &st, reason);
        gv_start_fini(&st);
        gv_job_release(job);
        gv_free(t);
        return err;
    }
    if (t->has_owner)
        grove_monitor(self, t->owner, &t->owner_mon);
    gv_start_ack(self, &st, NULL);
    gv_start_fini(&st);
    *state = t;
    return GROVE_OK;
}

/* Tells the owner (answer consumed) and stops with reason. The answer goes
 * from here, while the task is still alive, not from terminate: a monitor
 * made while terminate runs is answered `noproc` at once and could overtake
 * it (docs/otp.md). */
static grove_ret s_finish(grove_proc *self, s_task *t, grove_term *answer, grove_term *reason)
{
    if (t->has_owner && !t->answered)
        grove_send(self, t->owner, grove_pack("{'$task', ~p, ~t}", grove_self(self), answer));
    else
        grove_term_destroy(&answer);
    t->answered = true;
    return grove_stop(self, reason);
}

static grove_ret s_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_task *t = state;
    grove_term *x = NULL;
    grove_ref r;
    if (grove_match(msg, "{'$task_done', {ok, ~t}}", &x))
        return s_finish(self, t, grove_pack("{ok, ~t}", x), NULL);
    if (grove_match(msg, "{'$task_done', {exit, ~t}}", &x))
        return s_finish(self, t, grove_pack("{exit, ~t}", grove_term_copy(x)), x);
    if (grove_match(msg, "{'$task_done', failed}"))
        return s_finish(self, t, grove_pack("{exit, failed}"), grove_atom("failed"));
    if (grove_match(msg, "'$task_submit'")) {
        if (!s_submit(self, t))
            return s_finish(self, t, grove_pack("{exit, shutdown}"), grove_atom("shutdown"));
    } else if (grove_match(msg, "'$task_cancel'")) {
        t->answered = true; /* the owner wants no answer */
        return grove_stop(self, grove_atom("shutdown"));
    } else if (t->has_owner && grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) &&
               grove_ref_equal(&r, &t->owner_mon)) {
        t->answered = true; /* nobody to tell */
        return grove_stop(self, grove_atom("shutdown"));
    }
    return GROVE_CONTINUE;
}

static void s_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_task *t = state;
    /* Release: pairs with the acquire loads of grove_task_cancelled. */
    atomic_store_explicit(&t->job->cancelled, true, memory_order_release);
    if (t->has_owner && !t->answered)
        grove_send(
            self, t->owner,
            grove_pack("{'$task', ~p, {exit, ~t}}", grove_self(self), grove_term_copy(reason)));
    if (!gv_reason_is_clean(reason))
        gv_crash_report(self, "task", "task", reason);
}

static void s_free_state(void *state)
{
    s_task *t = state;
    gv_job_release(t->job);
    gv_free(t);
}

const grove_behaviour gv_task_behaviour = {
    .name = "task",
    .init = s_init,
    .handle = s_handle,
    .terminate = s_terminate,
    .free_state = s_free_state,
};

/* ---- owned by a thread ------------------------------------------------------------------------
 */

struct grove_task {
    grove_node *node;
    grove_waiter *w;
    grove_pid pid;
    grove_ref mon;
};

typedef struct s_task_sel {
    grove_pid pid;
    grove_ref mon;
} s_task_sel;

static bool s_is_result(const grove_term *msg, void *arg)
{
    s_task_sel *s = arg;
    grove_pid pid;
    grove_ref r;
    if (grove_match(msg, "{'$task', ~p, _}", &pid))
        return grove_pid_equal(pid, s->pid);
    return grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &s->mon);
}

/* Reads a task's message: GROVE_OK with the result, or GROVE_ENOPROC with
 * the reason. */
static grove_err s_read_result(const grove_term *m, grove_term **result)
{
    if (grove_match(m, "{'$task', _, {ok, ~t}}", result))
        return GROVE_OK;
    if (!grove_match(m, "{'$task', _, {exit, ~t}}", result))
        grove_match(m, "{'DOWN', _, process, _, ~t}", result);
    return GROVE_ENOPROC;
}

static grove_term *s_start_term(grove_task_fn fn, void *udata, const grove_pid *owner,
                                grove_term *arg)
{
    return gv_start_pack(GV_KIND_TASK, NULL, NULL, (grove_ref){0}, false, NULL, GROVE_NAME_LOCAL,
                         gv_task_arg(fn, udata, owner, arg));
}

/* A handle owned by the calling thread for the task `pid`. */
static grove_task *s_handle_new(grove_node *node, grove_waiter *w, grove_pid pid)
{
    grove_task *t = gv_calloc(1, sizeof *t);
    t->node = node;
    t->w = w;
    t->pid = pid;
    grove_waiter_monitor(w, pid, &t->mon);
    return t;
}

static grove_err s_sup_start(grove_node *node, grove_pid sup, grove_task_fn fn, grove_term *arg,
                             void *udata, const grove_pid *owner, grove_pid *out);

/* A task a thread awaits: a waiter owns it and monitors it; the task is
 * spawned directly, or by the task supervisor `sup` when not NULL. */
static grove_err s_async(grove_node *node, const grove_pid *sup, grove_task_fn fn, grove_term *arg,
                         void *udata, grove_task **out)
{
    *out = NULL;
    if (!fn || gv_on_scheduler()) {
        grove_term_destroy(&arg);
        return fn ? GROVE_EWOULDBLOCK : GROVE_EINVAL;
    }
    grove_waiter *w;
    grove_err err = grove_waiter_new(node, &w);
    if (err) {
        grove_term_destroy(&arg);
        return err;
    }
    grove_pid owner = grove_waiter_pid(w), pid;
    if (sup)
        err = s_sup_start(node, *sup, fn, arg, udata, &owner, &pid);
    else
        err = grove_node_spawn(node, &gv_task_behaviour, s_start_term(fn, udata, &owner, arg),
                               &(grove_spawn_opts){.name = "task"}, &pid);
    if (err) {
        grove_waiter_destroy(&w);
        return err;
    }
    *out = s_handle_new(node, w, pid);
    return GROVE_OK;
}

grove_err grove_node_task_async(grove_node *node, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_task **out)
{
    return s_async(node, NULL, fn, arg, udata, out);
}

grove_err grove_task_yield(grove_task *task, int64_t timeout_ms, grove_term **result)
{
    *result = NULL;
    if (!task || !task->w)
        return GROVE_EINVAL;
    s_task_sel sel = {task->pid, task->mon};
    grove_term *m = NULL;
    grove_err err = gv_wait_select(task->w, s_is_result, &sel, timeout_ms, &m);
    if (err)
        return err;
    err = s_read_result(m, result);
    grove_term_destroy(&m);
    grove_waiter_destroy(&task->w); /* spent */
    return err;
}

void grove_task_shutdown(grove_task **task)
{
    if (!task || !*task)
        return;
    grove_task *t = *task;
    *task = NULL;
    if (t->w) {
        /* Destroying the waiter takes away the task's owner: it stops and
         * its function is cancelled; whatever it sends goes nowhere. */
        grove_node_exit(t->node, t->pid, grove_atom("kill"));
        grove_waiter_destroy(&t->w);
    }
    gv_free(t);
}

grove_err grove_task_await(grove_task **task, int64_t timeout_ms, grove_term **result)
{
    *result = NULL;
    if (!task || !*task)
        return GROVE_EINVAL;
    if (gv_on_scheduler())
        return GROVE_EWOULDBLOCK;
    grove_err err = grove_task_yield(*task, timeout_ms, result);
    grove_task_shutdown(task);
    return err;
}

grove_pid grove_task_pid(const grove_task *task)
{
    return task->pid;
}

/* ---- owned by a process
 * -------------------------------------------------------------------------- */

grove_err grove_proc_task_async(grove_proc *self, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_task_ref *out)
{
    if (!fn || !out) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_pid owner = grove_self(self);
    grove_spawn_opts so = {.monitor = true, .monitor_ref = &out->ref, .name = "task"};
    return grove_proc_spawn(self, &gv_task_behaviour, s_start_term(fn, udata, &owner, arg), &so,
                            &out->pid);
}

grove_err grove_task_result(grove_proc *self, const grove_task_ref *t, const grove_term *msg,
                            grove_term **result)
{
    *result = NULL;
    grove_pid pid;
    grove_ref r;
    if (grove_match(msg, "{'$task', ~p, _}", &pid) && grove_pid_equal(pid, t->pid)) {
        gv_demonitor_flush(self, t->ref);
        return s_read_result(msg, result);
    }
    if (grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &t->ref))
        return s_read_result(msg, result);
    return GROVE_ENOTFOUND;
}

void grove_task_cancel(grove_proc *self, const grove_task_ref *t)
{
    gv_demonitor_flush(self, t->ref);
    grove_send(self, t->pid, grove_atom("$task_cancel"));
}

/* ---- fire and forget
 * ------------------------------------------------------------------------------- */

grove_err grove_proc_task_start(grove_proc *self, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_pid *out)
{
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_spawn_opts so = {.name = "task"};
    return grove_proc_spawn(self, &gv_task_behaviour, s_start_term(fn, udata, NULL, arg), &so, out);
}

grove_err grove_node_task_start(grove_node *node, grove_task_fn fn, grove_term *arg, void *udata,
                                grove_pid *out)
{
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_spawn_opts so = {.name = "task"};
    return grove_node_spawn(node, &gv_task_behaviour, s_start_term(fn, udata, NULL, arg), &so, out);
}

/* ---- task supervisors
 * -------------------------------------------------------------------------------- */

grove_err grove_task_sup_start(grove_node *node, const grove_sup_flags *flags,
                               const grove_start_opts *opts, grove_pid *out)
{
    return grove_supervisor_start(node, &grove_task_supervisor, grove_dynsup_arg(flags), opts, out);
}

static grove_err s_sup_start(grove_node *node, grove_pid sup, grove_task_fn fn, grove_term *arg,
                             void *udata, const grove_pid *owner, grove_pid *out)
{
    grove_term *spec = gv_spec_pack_task(gv_task_arg(fn, udata, owner, arg));
    grove_term *reply = NULL;
    grove_err err =
        gv_call(node, sup, grove_pack("{start_child, ~t}", spec), GROVE_INFINITY, &reply);
    err = gv_sup_result(err, reply, out);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_task_sup_start_child(grove_node *node, grove_pid sup, grove_task_fn fn,
                                     grove_term *arg, void *udata, grove_pid *out)
{
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return s_sup_start(node, sup, fn, arg, udata, NULL, out);
}

grove_err grove_task_sup_async(grove_node *node, grove_pid sup, grove_task_fn fn, grove_term *arg,
                               void *udata, grove_task **out)
{
    return s_async(node, &sup, fn, arg, udata, out);
}
