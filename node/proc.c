/*
 * proc.c - processes: spawn, send, the run loop, exit and reclamation.
 *
 * Signal handling follows Erlang's two-queue design: all signals arrive
 * in one in-queue (the lock-free mailbox), so signals from one sender stay
 * in order. When the process runs it first drains the in-queue: messages
 * move to its private message queue, every other signal takes effect at
 * once. So an exit signal never waits behind queued messages.
 */
#include "node/proc.h"
#include "node/node_impl.h"

#include "base/gv_alloc.h"
#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct grove_proc) <= 256, "a process control block stays under 256 bytes");

/* A drain stops after this many signals even if senders keep up. */
#define DRAIN_MAX (1u << 22)

grove_pid gv_null_pid(const grove_node *node)
{
    /* Serial 0 never names a process (generations start at 1). */
    grove_pid p = {.node = node->name, .id = 0, .serial = 0, .creation = node->creation};
    return p;
}

bool gv_pid_is_local(const grove_node *node, grove_pid pid)
{
    return pid.node == node->name && pid.creation == node->creation;
}

bool gv_term_is_atom(const grove_term *t, const char *name)
{
    if (!t)
        return false;
    grove_reader r = grove_reader_of(t);
    grove_value v;
    return grove_reader_next(&r, &v) && grove_value_is_atom(&v, name);
}

grove_proc *gv_proc_alloc(grove_node *node, size_t size)
{
    grove_proc *p = gv_malloc(size);
    memset(p, 0, size);
    p->node = node;
    gv_mbox_init(&p->mbox, &p->mbox_tail);
    gv_sigq_init(&p->msgq);
    gv_sigq_init(&p->stash);
    atomic_init(&p->flags, 0);
    atomic_init(&p->handled, 0);
    atomic_init(&p->n_links, 0);
    atomic_init(&p->n_monitors, 0);
    atomic_init(&p->n_watchers, 0);
    return p;
}

/* ---- delivery ------------------------------------------------------------------- */

static void s_undeliverable(grove_node *node, grove_pid to, gv_sig *s, const char *why)
{
    if (s->kind == GV_SIG_MESSAGE) {
        gv_sig_free(s);
        return;
    }
    grove_term *reason = grove_atom(why);
    gv_dead_signal(node, NULL, to, s, reason);
    grove_term_destroy(&reason);
}

/* Everything but a live local pid: remote pids through the router, dead
 * ones answered as Erlang does. Out of line, so that the common case in
 * gv_deliver keeps the pid in registers (passing it on from a spilled copy
 * cost a store-forwarding stall per send). */
__attribute__((noinline)) static bool s_deliver_other(grove_node *node, grove_pid to, gv_sig *s)
{
    if (!gv_pid_is_local(node, to)) {
        if (to.node == node->name || to.node == 0) {
            s_undeliverable(node, to, s, "noproc"); /* an earlier incarnation */
            return false;
        }
        const gv_router *r = &gv_node_ops(node)->router;
        grove_err e = r->deliver ? r->deliver(r->ctx, to, s) : GROVE_ENOCONN;
        if (e == GROVE_OK)
            return true;
        if (e == GROVE_EAGAIN) { /* a busy peer: the message is dropped (node/ops.h) */
            gv_sig_free(s);
            return true;
        }
        s_undeliverable(node, to, s, "noconnection");
        return false;
    }
    s_undeliverable(node, to, s, "noproc");
    return false;
}

/* Pushes s to p, which the caller holds a table reference to, and makes p
 * runnable if it was idle. */
static inline void s_push(grove_node *node, grove_proc *p, gv_sig *s, bool lifo)
{
    if (gv_mbox_push(&p->mbox, s)) {
        if (gv_proc_flags(p) & GV_PF_EXTERNAL)
            gv_parker_unpark(&((grove_waiter *)p)->parker);
        else
            gv_sched_schedule(node, p, lifo);
    }
}

bool gv_deliver(grove_node *node, grove_pid to, gv_sig *s, bool lifo)
{
    grove_proc *p;
    if (!gv_pid_is_local(node, to) || !(p = gv_ptab_acquire(&node->ptab, to.id, to.serial)))
        return s_deliver_other(node, to, s);
    s_push(node, p, s, lifo);
    if (gv_ptab_release(&node->ptab, to.id))
        gv_proc_finalize(p);
    return true;
}

/* ---- the send cache ------------------------------------------------------------- */

/* Resolving a pid takes a reference on its table slot (a CAS) and the
 * send drops it (an atomic add): two locked instructions on a line that
 * every sender to that process writes. A worker keeps the references of
 * the last GV_SEND_CACHE local processes that processes running on it sent
 * messages to, so a producer feeding a consumer, or two processes playing
 * ping-pong on one worker, resolve each other once and then push. The
 * worker lets go when it finds nothing to run, every GV_SEND_CACHE_RUNS
 * runs, and when it stops. Holding a reference only delays the
 * reclamation of a receiver that dies meanwhile (by at most that much),
 * never what anyone sees: a message pushed to a dying process is dropped
 * by its exit path or its finalizer, as one pushed just before its death
 * always was. Only messages from running processes use it (GV_PF_IN_RUN);
 * control signals and sends from outside keep the per-signal path. */
static void s_send_ent_drop(gv_worker *w, gv_send_ent *e)
{
    grove_proc *p = e->p;
    e->p = NULL;
    if (p && gv_ptab_release(&w->node->ptab, e->id))
        gv_proc_finalize(p);
}

void gv_send_cache_drop(gv_worker *w)
{
    w->sends_runs = 0;
    for (unsigned i = 0; i < GV_SEND_CACHE; i++)
        s_send_ent_drop(w, &w->sends[i]);
}

static void s_send_cached(gv_worker *w, grove_pid to, gv_sig *s, bool lifo)
{
    grove_node *node = w->node;
    if (!gv_pid_is_local(node, to)) {
        s_deliver_other(node, to, s);
        return;
    }
    grove_proc *p = NULL;
    for (unsigned i = 0; i < GV_SEND_CACHE && !p; i++)
        if (w->sends[i].p && w->sends[i].id == to.id && w->sends[i].serial == to.serial)
            p = w->sends[i].p;
    if (!p) {
        if (!(p = gv_ptab_acquire(&node->ptab, to.id, to.serial))) {
            s_deliver_other(node, to, s);
            return;
        }
        gv_send_ent *e = &w->sends[w->sends_next++ % GV_SEND_CACHE];
        s_send_ent_drop(w, e);
        *e = (gv_send_ent){.p = p, .id = to.id, .serial = to.serial};
    }
    if (gv_mbox_push(&p->mbox, s)) {
        if (gv_proc_flags(p) & GV_PF_EXTERNAL)
            gv_parker_unpark(&((grove_waiter *)p)->parker);
        else
            gv_sched_schedule_on(w, p, lifo);
    }
}

grove_err grove_proc_send(grove_proc *self, grove_pid to, grove_term *msg)
{
    if (!msg)
        return GROVE_EINVAL;
    const grove_trace_hooks *tr = gv_trace(self->node);
    if (tr && tr->on_send)
        tr->on_send(tr->ctx, self->pid, to, msg);
    gv_sig *s = gv_term_sig(msg);
    s->kind = GV_SIG_MESSAGE;
    s->flags = 0;
    /* The next slot is for the one process a handler answers (ping-pong
     * locality). A handler that sends more is feeding others: what it
     * wakes goes to the run queue, where an idle worker can take it
     * instead of waiting for this run to end. */
    uint32_t sends = ++self->run_sends;
    uint32_t f = gv_proc_flags(self);
    if (!(f & GV_PF_IN_RUN)) {
        gv_deliver(self->node, to, s, false);
        return GROVE_OK;
    }
    gv_worker *w = &self->node->workers[(f & GV_PF_WORKER_MASK) >> GV_PF_WORKER_SHIFT];
    if (sends == 2)
        gv_sched_unpin_next(w);
    s_send_cached(w, to, s, sends == 1);
    return GROVE_OK;
}

grove_err grove_node_send(grove_node *node, grove_pid to, grove_term *msg)
{
    if (!msg)
        return GROVE_EINVAL;
    const grove_trace_hooks *tr = gv_trace(node);
    if (tr && tr->on_send)
        tr->on_send(tr->ctx, gv_null_pid(node), to, msg);
    gv_sig *s = gv_term_sig(msg);
    s->kind = GV_SIG_MESSAGE;
    s->flags = 0;
    gv_deliver(node, to, s, false);
    return GROVE_OK;
}

/* ---- spawning --------------------------------------------------------------------- */

/* held: NULL to run the process at once, else where to leave it. */
static grove_err s_spawn(grove_node *node, grove_proc *parent, const grove_behaviour *b,
                         grove_term *arg, const grove_spawn_opts *opts, grove_pid *out,
                         grove_proc **held)
{
    static const grove_spawn_opts none = {0};
    if (!opts)
        opts = &none;
    if (!b || !b->handle || ((opts->link || opts->monitor) && !parent)) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    if (atomic_load_explicit(&node->stopping, memory_order_acquire)) {
        grove_term_destroy(&arg);
        return GROVE_ECLOSED;
    }
    grove_proc *p = gv_proc_alloc(node, sizeof *p);
    uint32_t id, gen;
    gv_ptab_reserve(&node->ptab, &id, &gen);
    p->pid = (grove_pid){.node = node->name, .id = id, .serial = gen, .creation = node->creation};
    p->beh = b;
    p->name = opts->name ? opts->name : b->name;
    p->parent = parent ? parent->pid : gv_null_pid(node);
    p->current = arg ? gv_term_sig(arg) : NULL; /* the spawn argument until init */
    atomic_store_explicit(&p->flags, GV_PF_INIT_PENDING | (opts->trap_exit ? GV_PF_TRAP_EXIT : 0),
                          memory_order_relaxed);
    if (opts->link) {
        gv_rels_add_link(p, parent->pid);
        gv_rels_add_link(parent, p->pid);
    }
    if (opts->monitor) {
        grove_ref ref = grove_node_make_ref(node);
        gv_rels_add_watcher(p, ref, parent->pid);
        gv_rels_add_monitor(parent, ref, p->pid);
        if (opts->monitor_ref)
            *opts->monitor_ref = ref;
    }
    atomic_fetch_add_explicit(&node->procs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&node->spawned, 1, memory_order_relaxed);
    const grove_trace_hooks *tr = gv_trace(node);
    if (tr && tr->on_spawn)
        tr->on_spawn(tr->ctx, p->parent, p->pid, p->name);
    gv_ptab_publish(&node->ptab, id, p);
    if (out)
        *out = p->pid;
    /* The mailbox starts "not idle", so no sender schedules it: we do. */
    if (held)
        *held = p;
    else
        gv_sched_schedule(node, p, false);
    return GROVE_OK;
}

grove_err grove_proc_spawn(grove_proc *self, const grove_behaviour *b, grove_term *arg,
                           const grove_spawn_opts *opts, grove_pid *out)
{
    return s_spawn(self->node, self, b, arg, opts, out, NULL);
}

grove_err grove_node_spawn(grove_node *node, const grove_behaviour *b, grove_term *arg,
                           const grove_spawn_opts *opts, grove_pid *out)
{
    return s_spawn(node, NULL, b, arg, opts, out, NULL);
}

grove_err gv_spawn_held(grove_node *node, grove_proc *parent, const grove_behaviour *b,
                        grove_term *arg, const grove_spawn_opts *opts, grove_pid *out,
                        grove_proc **held)
{
    *held = NULL;
    return s_spawn(node, parent, b, arg, opts, out, held);
}

void gv_spawn_release(grove_proc *held)
{
    if (held)
        gv_sched_schedule(held->node, held, false);
}

grove_pid grove_self(const grove_proc *self)
{
    return self->pid;
}

grove_node *grove_proc_node(const grove_proc *self)
{
    return self->node;
}

/* ---- draining and running --------------------------------------------------------- */

bool gv_proc_drain(grove_proc *p)
{
    if (gv_proc_flags(p) & GV_PF_EXITING)
        return false;
    /* Acquire: pairs with pushes' exchange; the newest signal now. */
    gv_sig *last = (gv_sig *)((uintptr_t)atomic_load_explicit(&p->mbox.head, memory_order_acquire) &
                              ~GV_MBOX_IDLE);
    gv_sig *s;
    for (uint32_t n = 0; n < DRAIN_MAX && (s = gv_mbox_pop(&p->mbox, &p->mbox_tail)); n++) {
        bool at_last = s == last;
        if (s->kind == GV_SIG_MESSAGE)
            gv_sigq_put(&p->msgq, s);
        else
            gv_proc_ctl(p, (gv_sig_ctl *)s);
        if (gv_proc_flags(p) & GV_PF_EXITING)
            return false;
        if (at_last)
            break;
    }
    return true;
}

static void s_call_handle(grove_proc *p, gv_sig *s)
{
    p->rt_seq++; /* any message ends a receive timeout */
    if (p->rt_timer) {
        gv_timer_cancel(p->node, p->rt_timer);
        p->rt_timer = 0;
    }
    p->current = s;
    const grove_trace_hooks *tr = gv_trace(p->node);
    if (tr && tr->on_receive)
        tr->on_receive(tr->ctx, p->pid, gv_sig_term(s));
    grove_ret r = p->beh->handle(p, gv_sig_term(s), p->state);
    if (p->current)
        gv_sig_free(p->current);
    p->current = NULL;
    /* Relaxed: a statistics counter, written only by the owner, so a
     * load and a store (no locked RMW) suffice. */
    atomic_store_explicit(&p->handled, atomic_load_explicit(&p->handled, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    uint32_t f = gv_proc_flags(p);
    if (r == GROVE_STOP) {
        if (!(f & GV_PF_STOP_SET))
            gv_proc_die(p, NULL);
        gv_proc_set(p, GV_PF_EXITING);
    } else if (f & GV_PF_STOP_SET) {
        grove_term_destroy(&p->exit_reason); /* grove_stop, then CONTINUE: no stop */
    }
    gv_proc_clear(p, GV_PF_STOP_SET);
}

static void s_handle_one(grove_proc *p, gv_sig *s)
{
    if (s->kind == GV_SIG_TIMEOUT) {
        gv_sig_ctl *c = (gv_sig_ctl *)s;
        bool current = c->id == p->rt_seq && p->rt_timer != 0;
        gv_sig_free(s);
        if (!current)
            return;
        p->rt_timer = 0;
        s = gv_term_sig(grove_atom("timeout"));
        s->kind = GV_SIG_MESSAGE;
    }
    s_call_handle(p, s);
}

static bool s_init(grove_proc *p)
{
    gv_proc_clear(p, GV_PF_INIT_PENDING);
    if (!gv_proc_drain(p))
        return false; /* killed before it ever ran */
    gv_sig *arg = p->current;
    p->current = NULL;
    grove_err err = GROVE_OK;
    if (p->beh->init)
        err = p->beh->init(p, arg ? gv_sig_term(arg) : NULL, &p->state);
    gv_sig_free(arg);
    if (err != GROVE_OK || (gv_proc_flags(p) & GV_PF_STOP_SET)) {
        if (!(gv_proc_flags(p) & GV_PF_STOP_SET))
            gv_proc_die(p, grove_pack("{init_failed, ~a}", grove_errname(err)));
        gv_proc_clear(p, GV_PF_STOP_SET);
        gv_proc_set(p, GV_PF_EXITING);
        return false;
    }
    gv_proc_set(p, GV_PF_INIT_DONE);
    return true;
}

gv_run_result gv_proc_run(grove_proc *p, gv_worker *w, unsigned batch)
{
    gv_proc_set(p, GV_PF_IN_RUN | w->index << GV_PF_WORKER_SHIFT);
    if ((gv_proc_flags(p) & GV_PF_INIT_PENDING) && !s_init(p))
        goto dead;
    if (!gv_proc_drain(p))
        goto dead;
    uint32_t budget = batch;
    if (!p->node->deterministic && p->msgq.len / 2 > budget)
        budget = p->msgq.len / 2;
    p->run_sends = 0;
    for (uint32_t n = 0; n + p->run_sends < budget;) {
        gv_sig *s = gv_sigq_take(&p->msgq);
        if (!s) {
            if (gv_mbox_empty(&p->mbox, p->mbox_tail))
                break;
            if (!gv_proc_drain(p))
                goto dead;
            if (!p->msgq.first)
                break; /* only control signals, or a push in progress */
            continue;
        }
        s_handle_one(p, s);
        n++;
        if (gv_proc_flags(p) & GV_PF_EXITING)
            goto dead;
    }
    /* Before p may be idle or requeued: another worker may run it then. */
    gv_proc_clear(p, GV_PF_IN_RUN | GV_PF_WORKER_MASK);
    if (p->msgq.first)
        return GV_RUN_YIELD;
    if (!gv_mbox_try_idle(&p->mbox, p->mbox_tail))
        return GV_RUN_AGAIN;
    return GV_RUN_IDLE;
dead:
    gv_proc_exit(p);
    return GV_RUN_DEAD;
}

/* ---- exit and reclamation ----------------------------------------------------------- */

static void s_free_queue(gv_sigq *q)
{
    gv_sig *s;
    while ((s = gv_sigq_take(q)))
        gv_sig_free(s);
}

void gv_proc_exit(grove_proc *p)
{
    grove_node *node = p->node;
    if (!p->exit_reason)
        p->exit_reason = grove_atom("normal");
    gv_proc_set(p, GV_PF_EXITING);
    const grove_term *reason = p->exit_reason;
    gv_ptab_kill(&node->ptab, p->pid.id); /* no new sender gets in */
    /* seq_cst: pairs with the seq_cst store in names.c made before a
     * registration resolves its pid; if that resolve came before our kill
     * above, we see the flag and take the names lock. */
    if (atomic_load_explicit(&node->names_used, memory_order_seq_cst))
        gv_names_exit(p);
    uint32_t f = gv_proc_flags(p);
    if (f & GV_PF_INIT_DONE) {
        if (p->beh->terminate)
            p->beh->terminate(p, reason, p->state);
        if (p->beh->free_state)
            p->beh->free_state(p->state);
        p->state = NULL;
    }
    gv_proc_clear(p, GV_PF_STOP_SET);
    if (p->rt_timer) {
        gv_timer_cancel(node, p->rt_timer);
        p->rt_timer = 0;
    }
    gv_sig_free(p->current); /* the spawn argument if init never ran */
    p->current = NULL;
    s_free_queue(&p->msgq);
    s_free_queue(&p->stash);
    /* Answer what is queued before telling links and monitors, so an
     * UNLINK or DEMONITOR that arrived in time is honoured. */
    gv_sig *s;
    while ((s = gv_mbox_pop(&p->mbox, &p->mbox_tail)))
        gv_dead_signal(node, p, p->pid, s, reason);
    const grove_trace_hooks *tr = gv_trace(node);
    if (tr && tr->on_exit) /* before links and monitors hear of it */
        tr->on_exit(tr->ctx, p->pid, reason);
    /* Node monitors go before links and monitors hear of the exit (so a
     * DOWN seen means they are gone); terminate may have asked for one. */
    if (gv_proc_flags(p) & GV_PF_NODE_WATCH) {
        const gv_cluster_ops *c = &gv_node_ops(node)->cluster;
        c->watcher_exit(c->ctx, p->pid);
    }
    gv_rels_exit(p, reason);
    gv_proc_set(p, GV_PF_DEAD);
    if (gv_log_enabled(GV_LOG_DEBUG)) {
        char *text = grove_term_format(reason);
        gv_log(GV_LOG_DEBUG, "proc", "exit", "pid=<%u.%u> name=%s reason=%s", p->pid.id,
               p->pid.serial, p->name ? p->name : "-", text ? text : "?");
        free(text);
    }
    if (gv_ptab_release(&node->ptab, p->pid.id))
        gv_proc_finalize(p);
}

void gv_proc_finalize(grove_proc *p)
{
    grove_node *node = p->node;
    /* Nobody holds a reference: whatever senders pushed after the exit
     * path's drain is all here, complete. */
    gv_sig *s;
    while ((s = gv_mbox_pop(&p->mbox, &p->mbox_tail)))
        gv_dead_signal(node, NULL, p->pid, s, p->exit_reason);
    grove_term_destroy(&p->exit_reason);
    uint32_t id = p->pid.id;
    bool external = gv_proc_flags(p) & GV_PF_EXTERNAL;
    gv_free(p);
    gv_ptab_recycle(&node->ptab, id);
    if (external) {
        atomic_fetch_sub_explicit(&node->waiters, 1, memory_order_release);
    } else {
        atomic_fetch_add_explicit(&node->exited, 1, memory_order_relaxed);
        /* Release: grove_node_stop's acquire load of 0 sees all frees. */
        atomic_fetch_sub_explicit(&node->procs, 1, memory_order_release);
    }
}

/* ---- inside handlers ------------------------------------------------------------------ */

grove_ret grove_stop(grove_proc *self, grove_term *reason)
{
    if (gv_proc_flags(self) & GV_PF_EXITING) { /* already exiting: keep the first reason */
        grove_term_destroy(&reason);
        return GROVE_STOP;
    }
    grove_term_destroy(&self->exit_reason);
    self->exit_reason = reason ? reason : grove_atom("normal");
    gv_proc_set(self, GV_PF_STOP_SET);
    return GROVE_STOP;
}

void grove_postpone(grove_proc *self)
{
    if (!self->current)
        return;
    gv_sigq_put(&self->stash, self->current);
    self->current = NULL;
}

void grove_unstash_all(grove_proc *self)
{
    gv_sigq_prepend(&self->msgq, &self->stash);
}

void grove_set_timeout(grove_proc *self, int64_t ms)
{
    self->rt_seq++;
    if (self->rt_timer) {
        gv_timer_cancel(self->node, self->rt_timer);
        self->rt_timer = 0;
    }
    if (ms < 0)
        return;
    gv_sig_ctl *c = gv_sig_ctl_new(GV_SIG_TIMEOUT, self->pid, NULL);
    c->id = self->rt_seq;
    self->rt_timer = gv_timer_start(self->node, (uint64_t)ms, self->pid, &c->hdr);
}

grove_err grove_proc_send_after(grove_proc *self, uint64_t ms, grove_pid to, grove_term *msg,
                                grove_timer *timer)
{
    return grove_node_send_after(self->node, ms, to, msg, timer);
}

grove_err grove_node_send_after(grove_node *node, uint64_t ms, grove_pid to, grove_term *msg,
                                grove_timer *timer)
{
    if (!msg)
        return GROVE_EINVAL;
    gv_sig *s = gv_term_sig(msg);
    s->kind = GV_SIG_MESSAGE;
    s->flags = 0;
    grove_timer t = gv_timer_start(node, ms, to, s);
    if (timer)
        *timer = t;
    return GROVE_OK;
}

grove_err grove_proc_cancel_timer(grove_proc *self, grove_timer timer)
{
    return grove_node_cancel_timer(self->node, timer);
}

grove_err grove_node_cancel_timer(grove_node *node, grove_timer timer)
{
    return gv_timer_cancel(node, timer) ? GROVE_OK : GROVE_ENOTFOUND;
}

grove_ref grove_proc_make_ref(grove_proc *self)
{
    return grove_node_make_ref(self->node);
}

/* ---- inspection ------------------------------------------------------------------------ */

grove_err grove_proc_info_get(grove_node *node, grove_pid pid, grove_proc_info *out)
{
    if (!gv_pid_is_local(node, pid))
        return GROVE_ENOPROC;
    grove_proc *p = gv_ptab_acquire(&node->ptab, pid.id, pid.serial);
    if (!p)
        return GROVE_ENOPROC;
    uint32_t f = gv_proc_flags(p);
    memset(out, 0, sizeof *out);
    out->status = (f & (GV_PF_EXITING | GV_PF_DEAD)) ? GROVE_PROC_EXITING
                  : gv_mbox_is_idle(&p->mbox)        ? GROVE_PROC_WAITING
                                                     : GROVE_PROC_RUNNABLE;
    out->name = p->name;
    out->behaviour = p->beh ? p->beh->name : NULL;
    out->handled = atomic_load_explicit(&p->handled, memory_order_relaxed);
    out->links = atomic_load_explicit(&p->n_links, memory_order_relaxed);
    out->monitors = atomic_load_explicit(&p->n_monitors, memory_order_relaxed);
    out->monitored_by = atomic_load_explicit(&p->n_watchers, memory_order_relaxed);
    out->parent = p->parent;
    out->trap_exit = (f & GV_PF_TRAP_EXIT) != 0;
    if (gv_ptab_release(&node->ptab, pid.id))
        gv_proc_finalize(p);
    return GROVE_OK;
}
