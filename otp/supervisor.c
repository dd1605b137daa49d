/*
 * supervisor.c - the supervisor process.
 *
 * A supervisor never blocks: every start and every stop of a child is a
 * message exchange. Whatever it has to do in answer to one message (start
 * the children at init, restart after an exit, shut down) becomes a queue
 * of steps, run one at a time; a step that starts or stops a child sends
 * the request and waits for the answer (the child's acknowledgement, or
 * its DOWN) as a message. While a step is in flight every other message is
 * postponed (grove_postpone) and taken back, in order, once the queue is
 * empty. So children start one at a time, each after the previous one's
 * init has returned, and stop in reverse order, each within its shutdown
 * time, without a scheduler thread ever waiting.
 *
 * Stopping a child is OTP's: monitor it, unlink, send exit `shutdown` (or
 * `kill` for brutal_kill), and after shutdown_ms send `kill`; the DOWN ends
 * the step.
 *
 * A child placed on another node is started there by name (sup_remote.c):
 * its start step waits for both the spawn_reply and the child's
 * acknowledgement, which may arrive in either order. Links, exits and
 * monitors cross nodes as they are, so everything else is the same; a
 * lost node is an exit `noconnection` of each child that ran there.
 */
#include "otp/sup.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

typedef enum s_op {
    OP_START = 1, /* start child c */
    OP_STOP,      /* stop child c (if running) */
    OP_REMOVE,    /* forget child c */
    OP_REPLY,     /* send `term` to `from` */
    OP_ACK,       /* init is complete: acknowledge the starter */
    OP_EXIT,      /* exit with `term` */
} s_op;

typedef enum s_mode {
    MODE_INIT = 1, /* a failure fails the supervisor's start */
    MODE_RESTART,  /* a failure is retried, and counts as a restart */
    MODE_CALL,     /* a failure is the reply to `from` */
} s_mode;

typedef struct s_step {
    s_op op;
    s_mode mode;
    sup_child *c;
    bool has_from;
    grove_from from;
    bool remove_on_error; /* MODE_CALL: a new child's spec is not kept */
    grove_term *term;     /* OP_REPLY, OP_EXIT: owned */
} s_step;

typedef struct s_sup {
    const grove_supervisor *mod;
    grove_sup_flags flags;
    int intensity;
    uint32_t period_ms;
    bool dynamic;
    sup_child **kids; /* in start order */
    size_t n, cap;
    uint64_t next_serial;
    bool has_parent;
    grove_pid parent;
    gv_start start; /* the starter, answered when init is complete */
    bool acked;
    uint64_t *restarts; /* times of recent restarts (ms), oldest first */
    size_t nrestarts;
    s_step *steps; /* the queue: [head, tail) */
    size_t head, tail, scap;
    /* the step in flight */
    bool busy;
    s_step cur;
    grove_pid cur_pid;
    grove_ref cur_ref; /* OP_START: the acknowledgement's; OP_STOP: the monitor's */
    /* OP_START on another node: the step ends once both the spawn_reply
     * (cur_spawned) and the acknowledgement (cur_acked) have come. */
    bool cur_remote;
    grove_nodename cur_node;
    grove_ref cur_spawn;
    bool cur_spawned, cur_acked;
    grove_timer timer; /* OP_STOP: the kill timer */
    bool stashed;      /* something was postponed */
    bool stopping;     /* an exit is queued: no more restarts */
} s_sup;

static const char *s_label(const s_sup *s)
{
    return s->mod->name ? s->mod->name : "supervisor";
}

static const char *s_id(const sup_child *c)
{
    return c->id ? c->id : "-";
}

/* ---- logs ------------------------------------------------------------------------------ */

static void s_report(grove_proc *self, s_sup *s, gv_log_level level, const char *event,
                     const sup_child *c, grove_pid pid, const grove_term *reason)
{
    if (!gv_log_enabled(level))
        return;
    char *text = reason ? grove_term_format(reason) : NULL;
    gv_log(level, "supervisor", event, "supervisor=%s name=%s id=%s pid=%s node=%s reason=%s",
           gv_pid_text(grove_self(self)).s, s_label(s), c ? s_id(c) : "-", gv_pid_text(pid).s,
           pid.node ? grove_nodename_str(pid.node) : "-", text ? text : "-");
    free(text);
}

/* ---- children --------------------------------------------------------------------------- */

static void s_kid_add(s_sup *s, sup_child *c)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->kids = gv_realloc(s->kids, s->cap * sizeof *s->kids);
    }
    c->serial = ++s->next_serial;
    s->kids[s->n++] = c;
}

static size_t s_kid_index(const s_sup *s, const sup_child *c)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->kids[i] == c)
            return i;
    return s->n;
}

static void s_kid_remove(s_sup *s, sup_child *c)
{
    size_t i = s_kid_index(s, c);
    if (i == s->n)
        return;
    memmove(&s->kids[i], &s->kids[i + 1], (s->n - i - 1) * sizeof *s->kids);
    s->n--;
    gv_child_free(c);
}

static sup_child *s_kid_by_pid(const s_sup *s, grove_pid pid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->kids[i]->running && grove_pid_equal(s->kids[i]->pid, pid))
            return s->kids[i];
    return NULL;
}

static sup_child *s_kid_by_id(const s_sup *s, const void *id, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *k = s->kids[i]->id;
        if (k && strlen(k) == len && memcmp(k, id, len) == 0)
            return s->kids[i];
    }
    return NULL;
}

static sup_child *s_kid_by_serial(const s_sup *s, uint64_t serial)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->kids[i]->serial == serial)
            return s->kids[i];
    return NULL;
}

/* ---- the step queue ------------------------------------------------------------------------ */

static void s_push(s_sup *s, s_step st)
{
    if (s->tail == s->scap) {
        if (s->head > 0) {
            memmove(s->steps, s->steps + s->head, (s->tail - s->head) * sizeof *s->steps);
            s->tail -= s->head;
            s->head = 0;
        }
        if (s->tail == s->scap) {
            s->scap = s->scap ? s->scap * 2 : 16;
            s->steps = gv_realloc(s->steps, s->scap * sizeof *s->steps);
        }
    }
    s->steps[s->tail++] = st;
}

static void s_step_fini(s_step *st)
{
    grove_term_destroy(&st->term);
}

static void s_clear_steps(s_sup *s)
{
    for (size_t i = s->head; i < s->tail; i++)
        s_step_fini(&s->steps[i]);
    s->head = s->tail = 0;
}

static void s_push_start(s_sup *s, sup_child *c, s_mode mode)
{
    s_push(s, (s_step){.op = OP_START, .mode = mode, .c = c});
}

static void s_push_stop(s_sup *s, sup_child *c)
{
    s_push(s, (s_step){.op = OP_STOP, .c = c});
}

static void s_push_reply(s_sup *s, grove_from from, grove_term *reply)
{
    s_push(s, (s_step){.op = OP_REPLY, .has_from = true, .from = from, .term = reply});
}

/* Stops every child, last started first, then exits with reason. */
static void s_push_shutdown(s_sup *s, grove_term *reason)
{
    s_clear_steps(s);
    s->stopping = true;
    for (size_t i = s->n; i-- > 0;)
        s_push_stop(s, s->kids[i]);
    s_push(s, (s_step){.op = OP_EXIT, .term = reason});
}

/* ---- restarts -------------------------------------------------------------------------------- */

/* Records a restart; false when it is one too many for the intensity. */
static bool s_add_restart(s_sup *s)
{
    uint64_t now = gv_now_ms();
    size_t keep = 0;
    for (size_t i = 0; i < s->nrestarts; i++)
        if (now - s->restarts[i] <= s->period_ms)
            s->restarts[keep++] = s->restarts[i];
    s->nrestarts = keep;
    if (s->nrestarts >= (size_t)s->intensity)
        return false;
    s->restarts[s->nrestarts++] = now;
    return true;
}

/* c needs a restart: queue what the strategy says. */
static void s_plan_restart(s_sup *s, sup_child *c)
{
    size_t i = s_kid_index(s, c);
    size_t from = s->flags.strategy == GROVE_ONE_FOR_ALL    ? 0
                  : s->flags.strategy == GROVE_REST_FOR_ONE ? i
                                                            : s->n;
    if (from == s->n) { /* one_for_one */
        s_push_start(s, c, MODE_RESTART);
        return;
    }
    /* Stop the others of the group, last started first; temporary ones
     * are not restarted. */
    for (size_t k = s->n; k-- > from;) {
        sup_child *o = s->kids[k];
        if (o == c)
            continue;
        s_push_stop(s, o);
        if (o->restart == GROVE_TEMPORARY)
            s_push(s, (s_step){.op = OP_REMOVE, .c = o});
    }
    for (size_t k = from; k < s->n; k++)
        if (s->kids[k] == c || s->kids[k]->restart != GROVE_TEMPORARY)
            s_push_start(s, s->kids[k], MODE_RESTART);
}

/* c must restart (it exited, or its restart failed): count it, then plan. */
static void s_need_restart(grove_proc *self, s_sup *s, sup_child *c)
{
    if (s->stopping)
        return;
    if (!s_add_restart(s)) {
        grove_term *why = grove_atom("reached_max_restart_intensity");
        s_report(self, s, GV_LOG_ERROR, "shutdown", c, c->pid, why);
        grove_term_destroy(&why);
        s_push_shutdown(s, grove_atom("shutdown"));
        return;
    }
    s_plan_restart(s, c);
}

/* A running child exited with reason (an EXIT while idle). */
static void s_child_exited(grove_proc *self, s_sup *s, sup_child *c, grove_term *reason)
{
    c->running = false;
    bool clean = gv_reason_is_clean(reason);
    bool restart = c->restart == GROVE_PERMANENT || (c->restart == GROVE_TRANSIENT && !clean);
    if (!clean || c->restart == GROVE_PERMANENT)
        s_report(self, s, GV_LOG_ERROR, "child_terminated", c, c->pid, reason);
    grove_term_destroy(&reason);
    if (restart) {
        s_need_restart(self, s, c);
    } else if (c->restart == GROVE_TEMPORARY || s->dynamic) {
        s_kid_remove(s, c);
    }
}

/* ---- steps ------------------------------------------------------------------------------------
 */

static void s_ack_init(grove_proc *self, s_sup *s, grove_term *error)
{
    if (s->acked) {
        grove_term_destroy(&error);
        return;
    }
    s->acked = true;
    gv_start_ack(self, &s->start, error);
}

/* A start failed: what happens depends on why we started. */
static void s_start_failed(grove_proc *self, s_sup *s, s_step *st, grove_term *reason)
{
    sup_child *c = st->c;
    c->running = false;
    grove_pid at = c->pid;
    if (!at.node && s->cur_remote)
        at.node = s->cur_node; /* no pid yet: say where it was asked for */
    s_report(self, s, GV_LOG_ERROR, "start_error", c, at, reason);
    switch (st->mode) {
    case MODE_INIT: {
        grove_term *id = c->id ? grove_pack("~b", c->id, strlen(c->id)) : grove_atom("undefined");
        s_push_shutdown(s, grove_pack("{shutdown, {failed_to_start_child, ~t, ~t}}", id, reason));
        return;
    }
    case MODE_RESTART:
        /* Try again through the mailbox (other messages get a turn), as a
         * restart of its own. */
        s_clear_steps(s);
        grove_term_destroy(&reason);
        grove_send(self, grove_self(self), grove_pack("{'$sup_retry', ~u}", c->serial));
        return;
    case MODE_CALL:
        if (st->has_from)
            gv_gen_reply(self, st->from, grove_pack("{error, ~t}", reason));
        else
            grove_term_destroy(&reason);
        if (st->remove_on_error)
            s_kid_remove(s, c);
        return;
    }
}

static void s_start_ok(grove_proc *self, s_sup *s, s_step *st, grove_pid pid)
{
    sup_child *c = st->c;
    c->running = true;
    c->pid = pid;
    if (st->mode == MODE_RESTART)
        s_report(self, s, GV_LOG_INFO, "child_restarted", c, pid, NULL);
    else
        s_report(self, s, GV_LOG_DEBUG, "child_started", c, pid, NULL);
    if (st->mode == MODE_CALL && st->has_from)
        gv_gen_reply(self, st->from, grove_pack("{ok, ~p}", pid));
}

/* Begins a step; true if it is now in flight. */
static bool s_begin(grove_proc *self, s_sup *s, s_step *st)
{
    sup_child *c = st->c;
    if (st->op == OP_START) {
        if (c->running) { /* already back (a restart planned twice) */
            if (st->mode == MODE_CALL && st->has_from)
                gv_gen_reply(self, st->from, grove_pack("{error, running}"));
            return false;
        }
        grove_nodename on = gv_sup_place(self, s->kids, s->n, c);
        s->cur_remote = on != grove_node_name(grove_proc_node(self));
        s->cur_spawned = s->cur_acked = false;
        grove_err err;
        if (s->cur_remote) {
            s->cur_node = on;
            s->cur_pid = (grove_pid){0}; /* known from the reply or the ack */
            err = gv_sup_start_remote(self, c, on, &s->cur_ref, &s->cur_spawn);
        } else {
            err = gv_start_async(self, c->kind, c->impl, gv_child_label(c),
                                 c->arg ? grove_term_copy(c->arg) : NULL, c->name, c->scope, true,
                                 &s->cur_pid, &s->cur_ref);
        }
        c->pid = err ? (grove_pid){0} : s->cur_pid; /* not running until it acknowledges */
        if (err) {
            s_start_failed(self, s, st, grove_pack("{spawn_failed, ~a}", grove_errname(err)));
            return false;
        }
        return true;
    }
    /* OP_STOP */
    if (!c->running)
        return false;
    s->cur_pid = c->pid;
    grove_monitor(self, c->pid, &s->cur_ref);
    grove_unlink(self, c->pid);
    s->timer = 0;
    if (c->shutdown_ms == GROVE_SHUTDOWN_BRUTAL_KILL) {
        grove_exit(self, c->pid, grove_atom("kill"));
    } else {
        grove_exit(self, c->pid, grove_atom("shutdown"));
        if (c->shutdown_ms > 0)
            grove_send_after(self, (uint64_t)c->shutdown_ms, grove_self(self),
                             grove_pack("{'$sup_kill', ~r}", s->cur_ref), &s->timer);
    }
    return true;
}

/* Runs queued steps until one is in flight or none is left. */
static grove_ret s_pump(grove_proc *self, s_sup *s)
{
    while (!s->busy && s->head < s->tail) {
        s_step st = s->steps[s->head++];
        switch (st.op) {
        case OP_START:
        case OP_STOP:
            if (s_begin(self, s, &st)) {
                s->busy = true;
                s->cur = st;
            }
            break;
        case OP_REMOVE:
            if (!st.c->running)
                s_kid_remove(s, st.c);
            break;
        case OP_REPLY:
            gv_gen_reply(self, st.from, st.term);
            break;
        case OP_ACK:
            s_ack_init(self, s, NULL);
            break;
        case OP_EXIT:
            s_clear_steps(s);
            s_ack_init(self, s, grove_term_copy(st.term));
            return grove_stop(self, st.term);
        }
    }
    if (!s->busy && s->head == s->tail) {
        s->head = s->tail = 0;
        if (s->stashed) {
            s->stashed = false;
            grove_unstash_all(self);
        }
    }
    return GROVE_CONTINUE;
}

/* The step in flight is over. */
static void s_done(s_sup *s)
{
    s->busy = false;
}

/* Is msg the answer the step in flight waits for? If so, handle it. */
static bool s_awaited(grove_proc *self, s_sup *s, const grove_term *msg)
{
    grove_ref r;
    grove_pid pid;
    grove_term *t = NULL;
    if (s->cur.op == OP_START) {
        grove_err res;
        if (grove_match(msg, "{'$grove_ack', ~r, _, _}", &r)) {
            if (!grove_ref_equal(&r, &s->cur_ref))
                return false;
            grove_start_ack(msg, NULL, &pid, &res, &t);
            if (res == GROVE_OK && s->cur_remote && !s->cur_spawned) {
                s->cur_acked = true; /* the ack overtook the spawn_reply */
                s->cur_pid = pid;
                return true;
            }
            s_done(s);
            if (res == GROVE_OK)
                s_start_ok(self, s, &s->cur, pid);
            else
                s_start_failed(self, s, &s->cur, t ? t : grove_atom("undefined"));
            return true;
        }
        if (s->cur_remote && grove_match(msg, "{spawn_reply, ~r, _, _}", &r)) {
            if (!grove_ref_equal(&r, &s->cur_spawn))
                return false;
            if (grove_match(msg, "{spawn_reply, _, ok, ~p}", &pid)) {
                s->cur_spawned = true;
                s->cur_pid = pid;
                if (s->cur_acked) {
                    s_done(s);
                    s_start_ok(self, s, &s->cur, pid);
                }
                return true;
            }
            grove_match(msg, "{spawn_reply, _, error, ~t}", &t);
            grove_term *why = gv_sup_spawn_failure(s->cur_node, t);
            grove_term_destroy(&t);
            s_done(s);
            s_start_failed(self, s, &s->cur, why);
            return true;
        }
        if (!s->cur_acked && s->cur_pid.node && grove_match(msg, "{'EXIT', ~p, _}", &pid) &&
            grove_pid_equal(pid, s->cur_pid)) {
            /* Died before it could acknowledge (killed, or its node went
             * down: noconnection). */
            grove_match(msg, "{_, _, ~t}", &t);
            s_done(s);
            s_start_failed(self, s, &s->cur, t);
            return true;
        }
        return false;
    }
    /* OP_STOP */
    if (grove_match(msg, "{'DOWN', ~r, process, _, ~t}", &r, &t)) {
        if (!grove_ref_equal(&r, &s->cur_ref)) {
            grove_term_destroy(&t);
            return false;
        }
        sup_child *c = s->cur.c;
        c->running = false;
        if (s->timer)
            grove_cancel_timer(self, s->timer);
        s->timer = 0;
        bool expected = grove_match(t, "shutdown") ||
                        (grove_match(t, "killed") && c->shutdown_ms != GROVE_SHUTDOWN_INFINITY);
        if (!expected && !grove_match(t, "noproc"))
            s_report(self, s, GV_LOG_ERROR, "shutdown_error", c, c->pid, t);
        grove_term_destroy(&t);
        s_done(s);
        return true;
    }
    if (grove_match(msg, "{'$sup_kill', ~r}", &r) && grove_ref_equal(&r, &s->cur_ref)) {
        s->timer = 0;
        s_report(self, s, GV_LOG_WARN, "shutdown_timeout", s->cur.c, s->cur_pid, NULL);
        grove_exit(self, s->cur_pid, grove_atom("kill"));
        return true; /* still waiting for the DOWN */
    }
    return false;
}

/* Leftovers of finished steps: dropped, never postponed. */
static bool s_stale(const grove_term *msg)
{
    return grove_match(msg, "{'$sup_kill', _}") || grove_match(msg, "{'$grove_ack', _, _, _}") ||
           grove_match(msg, "{'DOWN', _, process, _, _}") ||
           grove_match(msg, "{spawn_reply, _, _, _}");
}

/* ---- calls --------------------------------------------------------------------------------------
 */

static grove_term *s_which_children(const s_sup *s)
{
    grove_term *list = grove_pack("[]");
    for (size_t i = s->n; i-- > 0;) {
        const sup_child *c = s->kids[i];
        grove_term *id = c->id ? grove_pack("~b", c->id, strlen(c->id)) : grove_atom("undefined");
        grove_term *pid = c->running ? grove_pack("~p", c->pid) : grove_atom("undefined");
        list = grove_pack("[{~t, ~t, ~a} | ~t]", id, pid,
                          gv_child_is_sup(c) ? "supervisor" : "worker", list);
    }
    return list;
}

static grove_term *s_count_children(const s_sup *s)
{
    int64_t active = 0, sups = 0;
    for (size_t i = 0; i < s->n; i++) {
        active += s->kids[i]->running;
        sups += gv_child_is_sup(s->kids[i]);
    }
    return grove_pack("#{specs => ~l, active => ~l, supervisors => ~l, workers => ~l}",
                      (int64_t)s->n, active, sups, (int64_t)s->n - sups);
}

static void s_call_start_child(grove_proc *self, s_sup *s, grove_from from, const grove_term *t)
{
    sup_child *c = gv_pid_is_ours(self, from.pid) ? gv_child_from_term(t) : NULL;
    if (!c || (!s->dynamic && !c->id)) {
        gv_child_free(c);
        gv_gen_reply(self, from, grove_pack("{error, invalid}"));
        return;
    }
    if (s->dynamic) {
        gv_free(c->id);
        c->id = NULL;
        if (s->flags.max_children && s->n >= s->flags.max_children) {
            gv_child_free(c);
            gv_gen_reply(self, from, grove_pack("{error, max_children}"));
            return;
        }
    } else {
        sup_child *old = s_kid_by_id(s, c->id, strlen(c->id));
        if (old) {
            gv_child_free(c);
            gv_gen_reply(self, from,
                         old->running ? grove_pack("{error, {already_started, ~p}}", old->pid)
                                      : grove_pack("{error, already_present}"));
            return;
        }
    }
    s_kid_add(s, c);
    s_push(s, (s_step){.op = OP_START,
                       .mode = MODE_CALL,
                       .c = c,
                       .has_from = true,
                       .from = from,
                       .remove_on_error = true});
}

static void s_call(grove_proc *self, s_sup *s, grove_from from, grove_term *req)
{
    const void *id;
    size_t len;
    grove_pid pid;
    grove_term *t = NULL;
    sup_child *c;
    if (grove_match(req, "which_children")) {
        gv_gen_reply(self, from, s_which_children(s));
    } else if (grove_match(req, "count_children")) {
        gv_gen_reply(self, from, s_count_children(s));
    } else if (grove_match(req, "{start_child, ~t}", &t)) {
        s_call_start_child(self, s, from, t);
    } else if (grove_match(req, "{terminate_child, ~b}", &id, &len)) {
        if (s->dynamic || !(c = s_kid_by_id(s, id, len))) {
            gv_gen_reply(self, from, grove_pack("{error, not_found}"));
        } else {
            s_push_stop(s, c);
            if (c->restart == GROVE_TEMPORARY)
                s_push(s, (s_step){.op = OP_REMOVE, .c = c});
            s_push_reply(s, from, grove_atom("ok"));
        }
    } else if (grove_match(req, "{terminate_child, ~p}", &pid)) {
        if (!(c = s_kid_by_pid(s, pid))) {
            gv_gen_reply(self, from, grove_pack("{error, not_found}"));
        } else {
            s_push_stop(s, c);
            s_push(s, (s_step){.op = OP_REMOVE, .c = c});
            s_push_reply(s, from, grove_atom("ok"));
        }
    } else if (grove_match(req, "{restart_child, ~b}", &id, &len)) {
        if (s->dynamic || !(c = s_kid_by_id(s, id, len)))
            gv_gen_reply(self, from, grove_pack("{error, not_found}"));
        else if (c->running)
            gv_gen_reply(self, from, grove_pack("{error, running}"));
        else
            s_push(s,
                   (s_step){
                       .op = OP_START, .mode = MODE_CALL, .c = c, .has_from = true, .from = from});
    } else if (grove_match(req, "{delete_child, ~b}", &id, &len)) {
        if (s->dynamic || !(c = s_kid_by_id(s, id, len))) {
            gv_gen_reply(self, from, grove_pack("{error, not_found}"));
        } else if (c->running) {
            gv_gen_reply(self, from, grove_pack("{error, running}"));
        } else {
            s_kid_remove(s, c);
            gv_gen_reply(self, from, grove_atom("ok"));
        }
    } else {
        gv_gen_reply(self, from, grove_pack("{error, {unknown_call, ~t}}", grove_term_copy(req)));
    }
    grove_term_destroy(&t);
}

/* ---- the process
 * --------------------------------------------------------------------------------- */

static grove_ret s_idle_message(grove_proc *self, s_sup *s, const grove_term *msg)
{
    grove_from from;
    grove_term *t = NULL;
    grove_pid pid;
    uint64_t serial;
    if (gv_gen_call_match(self, msg, &from, &t)) {
        s_call(self, s, from, t);
        grove_term_destroy(&t);
    } else if (grove_match(msg, "{'EXIT', ~p, ~t}", &pid, &t)) {
        sup_child *c;
        if (s->has_parent && grove_pid_equal(pid, s->parent))
            s_push_shutdown(s, t);
        else if ((c = s_kid_by_pid(s, pid)))
            s_child_exited(self, s, c, t);
        else
            grove_term_destroy(&t); /* a child we stopped or gave up on */
    } else if (grove_match(msg, "{'$gen_stop', ~t}", &t)) {
        s_push_shutdown(s, t);
    } else if (grove_match(msg, "{'$sup_retry', ~u}", &serial)) {
        sup_child *c = s_kid_by_serial(s, serial);
        if (c && !c->running)
            s_need_restart(self, s, c);
    } else if (!s_stale(msg) && gv_log_enabled(GV_LOG_WARN)) {
        char *text = grove_term_format(msg);
        gv_log(GV_LOG_WARN, "supervisor", "unexpected_message", "supervisor=%s msg=%s",
               gv_pid_text(grove_self(self)).s, text ? text : "?");
        free(text);
    }
    return s_pump(self, s);
}

static grove_ret s_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_sup *s = state;
    if (!s->busy)
        return s_idle_message(self, s, msg);
    if (s_awaited(self, s, msg))
        return s_pump(self, s);
    if (!s_stale(msg)) {
        grove_postpone(self);
        s->stashed = true;
    }
    return GROVE_CONTINUE;
}

static void s_free(s_sup *s)
{
    s_clear_steps(s);
    s_step_fini(&s->cur);
    for (size_t i = 0; i < s->n; i++)
        gv_child_free(s->kids[i]);
    gv_free(s->kids);
    gv_free(s->steps);
    gv_free(s->restarts);
    gv_start_fini(&s->start);
    gv_free(s);
}

static void s_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_sup *s = state;
    if (!gv_reason_is_clean(reason))
        gv_crash_report(self, "supervisor", s_label(s), reason);
}

static void s_free_state(void *state)
{
    s_free(state);
}

static grove_err s_init(grove_proc *self, const grove_term *arg, void **state)
{
    s_sup *s = gv_calloc(1, sizeof *s);
    grove_err err = gv_start_begin(self, arg, GV_KIND_SUPERVISOR, &s->start);
    if (err) {
        s_free(s);
        return err;
    }
    s->mod = s->start.impl;
    s->has_parent = s->start.link;
    s->parent = s->start.starter;
    grove_trap_exit(self, true);
    grove_children kids = {0};
    err = s->mod->init(self, s->start.arg, &s->flags, &kids);
    if (err == GROVE_OK && (unsigned)s->flags.strategy > GROVE_REST_FOR_ONE)
        err = GROVE_EINVAL;
    if (err == GROVE_OK && kids.dynamic && s->flags.strategy != GROVE_ONE_FOR_ONE)
        err = GROVE_EINVAL;
    if (err || gv_stop_reason(self)) {
        for (size_t i = 0; i < kids.n; i++)
            gv_child_free(kids.kids[i]);
        gv_free(kids.kids);
        gv_start_ack(self, &s->start, gv_init_fail_reason(self, err));
        s_free(s);
        return err;
    }
    s->dynamic = kids.dynamic;
    s->intensity = s->flags.intensity == 0 ? 3 : s->flags.intensity < 0 ? 0 : s->flags.intensity;
    s->period_ms = s->flags.period_ms ? s->flags.period_ms : 5000;
    s->restarts = gv_calloc((size_t)s->intensity + 1, sizeof *s->restarts);
    for (size_t i = 0; i < kids.n; i++)
        s_kid_add(s, kids.kids[i]);
    gv_free(kids.kids);
    grove_term_destroy(&s->start.arg);
    for (size_t i = 0; i < s->n; i++)
        s_push_start(s, s->kids[i], MODE_INIT);
    s_push(s, (s_step){.op = OP_ACK});
    if (s_pump(self, s) == GROVE_STOP) {
        /* Failed before any child ran (the node is stopping): the runtime
         * treats a stop during init as a failed init and frees nothing. */
        s_free(s);
        return GROVE_OK;
    }
    *state = s;
    return GROVE_OK;
}

const grove_behaviour gv_supervisor_behaviour = {
    .name = "supervisor",
    .init = s_init,
    .handle = s_handle,
    .terminate = s_terminate,
    .free_state = s_free_state,
};
