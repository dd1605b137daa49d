/*
 * start.c - starting OTP processes (proc_lib's part): the start term, the
 * acknowledgement, the blocking start from a thread, the asynchronous start
 * from a process, names, exit reasons, and the wrapper that lets a plain
 * grove_behaviour be a supervised child.
 */
#include "otp/otp_impl.h"

#include <grove/names.h>

#include "base/gv_alloc.h"
#include "base/gv_log.h"
#include "node/node_impl.h"
#include "node/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the start term ---------------------------------------------------------------- */

/* The name's part: {local | global | global_held, Name} or undefined;
 * global_held is a global name the process already holds (the
 * registration comes before init, see "global names" below). */
static grove_term *s_pack(gv_otp_kind kind, const void *impl, const grove_pid *starter,
                          grove_ref ref, bool link, const char *name, const char *scope,
                          grove_term *arg)
{
    grove_term *who = starter ? grove_pack("{~p, ~r}", *starter, ref) : grove_atom("undefined");
    grove_term *nm =
        name ? grove_pack("{~a, ~b}", scope, name, strlen(name)) : grove_atom("undefined");
    grove_term *a = arg ? grove_pack("{arg, ~t}", arg) : grove_atom("noarg");
    grove_term *t = grove_pack("{'$grove_start', ~i, ~u, ~t, ~a, ~t, ~t}", (int)kind,
                               gv_ptr_u64(impl), who, link ? "true" : "false", nm, a);
    if (!t)
        gv_panic("cannot build a start term");
    return t;
}

grove_term *gv_start_pack(gv_otp_kind kind, const void *impl, const grove_pid *starter,
                          grove_ref ref, bool link, const char *name, grove_name_scope scope,
                          grove_term *arg)
{
    return s_pack(kind, impl, starter, ref, link, name,
                  scope == GROVE_NAME_GLOBAL ? "global" : "local", arg);
}

bool gv_start_unpack(const grove_term *t, gv_start *out)
{
    memset(out, 0, sizeof *out);
    int kind;
    uint64_t impl;
    grove_term *who = NULL, *nm = NULL, *a = NULL;
    char link[8];
    if (!grove_match(t, "{'$grove_start', ~i, ~u, ~t, ~a, ~t, ~t}", &kind, &impl, &who, link,
                     sizeof link, &nm, &a))
        return false;
    out->kind = (gv_otp_kind)kind;
    out->impl = gv_u64_ptr(impl);
    out->has_starter = grove_match(who, "{~p, ~r}", &out->starter, &out->ref);
    out->link = strcmp(link, "true") == 0 && out->has_starter;
    const void *bytes;
    size_t len;
    char scope[16];
    if (grove_match(nm, "{~a, ~b}", scope, sizeof scope, &bytes, &len) && len <= GV_NAME_MAX) {
        out->has_name = true;
        out->name_held = strcmp(scope, "global_held") == 0;
        out->scope =
            strcmp(scope, "global") == 0 || out->name_held ? GROVE_NAME_GLOBAL : GROVE_NAME_LOCAL;
        memcpy(out->name, bytes, len);
        out->name[len] = '\0';
    }
    grove_match(a, "{arg, ~t}", &out->arg);
    grove_term_destroy(&who);
    grove_term_destroy(&nm);
    grove_term_destroy(&a);
    return true;
}

void gv_start_fini(gv_start *s)
{
    grove_term_destroy(&s->arg);
}

grove_err gv_start_begin(grove_proc *self, const grove_term *arg, gv_otp_kind kind, gv_start *st)
{
    if (!gv_start_unpack(arg, st) || st->kind != kind)
        gv_panic("otp: a process started with a bad start term");
    grove_term *reason = NULL;
    grove_err err = gv_start_register(self, st, &reason);
    if (err) {
        gv_start_ack(self, st, reason);
        gv_start_fini(st);
        grove_stop(self, NULL); /* as OTP: a name clash exits normally */
    }
    return err;
}

void gv_start_ack(grove_proc *self, const gv_start *s, grove_term *error)
{
    if (!s->has_starter) {
        grove_term_destroy(&error);
        return;
    }
    grove_term *res = error ? grove_pack("{error, ~t}", error) : grove_atom("ok");
    grove_send(self, s->starter,
               grove_pack("{'$grove_ack', ~r, ~p, ~t}", s->ref, grove_self(self), res));
}

grove_err gv_start_register(grove_proc *self, const gv_start *s, grove_term **reason)
{
    *reason = NULL;
    if (!s->has_name || s->name_held)
        return GROVE_OK;
    grove_node *node = grove_proc_node(self);
    grove_err err;
    if (s->scope == GROVE_NAME_GLOBAL) {
        const gv_name_ops *ops = &gv_node_ops(node)->names;
        err = ops->register_name ? ops->register_name(ops->ctx, s->name, grove_self(self))
                                 : GROVE_ENOCONN;
        if (err == GROVE_EEXIST) {
            grove_pid holder;
            if (ops->whereis && ops->whereis(ops->ctx, s->name, &holder) == GROVE_OK)
                *reason = grove_pack("{already_started, ~p}", holder);
        }
    } else {
        err = grove_register(node, s->name, grove_self(self));
        grove_pid holder;
        if (err == GROVE_EEXIST && grove_whereis(node, s->name, &holder) == GROVE_OK)
            *reason = grove_pack("{already_started, ~p}", holder);
    }
    if (err && !*reason)
        *reason = grove_pack("{name_not_registered, ~a}", grove_errname(err));
    return err;
}

/* ---- reasons ------------------------------------------------------------------------- */

grove_term *gv_init_fail_reason(grove_proc *self, grove_err err)
{
    const grove_term *r = gv_stop_reason(self);
    if (r)
        return grove_term_copy(r);
    return grove_pack("{init_failed, ~a}", grove_errname(err ? err : GROVE_EINVAL));
}

const grove_term *gv_stop_reason(grove_proc *self)
{
    return (gv_proc_flags(self) & GV_PF_STOP_SET) ? self->exit_reason : NULL;
}

grove_err gv_reason_err(const grove_term *reason)
{
    char name[64];
    if (grove_match(reason, "{init_failed, ~a}", name, sizeof name)) {
        for (int e = 1; e < GROVE_ERR_COUNT_; e++)
            if (strcmp(grove_errname((grove_err)e), name) == 0)
                return (grove_err)e;
    }
    if (grove_match(reason, "{already_started, _}"))
        return GROVE_EEXIST;
    if (grove_match(reason, "{name_not_registered, ~a}", name, sizeof name)) {
        for (int e = 1; e < GROVE_ERR_COUNT_; e++)
            if (strcmp(grove_errname((grove_err)e), name) == 0)
                return (grove_err)e;
    }
    if (grove_match(reason, "noconnection"))
        return GROVE_ENOCONN;
    return GROVE_ENOPROC;
}

bool gv_reason_is_clean(const grove_term *reason)
{
    return grove_match(reason, "normal") || grove_match(reason, "shutdown") ||
           grove_match(reason, "{shutdown, _}");
}

bool gv_on_scheduler(void)
{
    return gv_sched_on_any_worker();
}

gv_pidtext gv_pid_text(grove_pid pid)
{
    gv_pidtext t;
    snprintf(t.s, sizeof t.s, "<%u.%u>", pid.id, pid.serial);
    return t;
}

void gv_crash_report(grove_proc *self, const char *kind, const char *name, const grove_term *reason)
{
    if (!gv_log_enabled(GV_LOG_ERROR))
        return;
    char *text = grove_term_format(reason);
    gv_log(GV_LOG_ERROR, kind, "crash", "pid=%s name=%s reason=%s", gv_pid_text(grove_self(self)).s,
           name ? name : "-", text ? text : "?");
    free(text);
}

void gv_demonitor_flush(grove_proc *self, grove_ref ref)
{
    if (grove_demonitor(self, ref, true) != GROVE_ENOTFOUND)
        return;
    /* The monitor already fired when the queue was last drained, so its
     * DOWN may wait in the message queue, which grove_demonitor does not
     * flush then (Erlang's demonitor(Ref, [flush]) does; docs/otp.md). */
    gv_sigq keep;
    gv_sigq_init(&keep);
    gv_sig *s;
    while ((s = gv_sigq_take(&self->msgq))) {
        grove_ref r;
        if (s->kind == GV_SIG_MESSAGE && grove_match(gv_sig_term(s), "{'DOWN', ~r, _, _, _}", &r) &&
            grove_ref_equal(&r, &ref))
            gv_sig_free(s);
        else
            gv_sigq_put(&keep, s);
    }
    self->msgq = keep;
}

grove_err gv_wait_select(grove_waiter *w, bool (*select)(const grove_term *msg, void *arg),
                         void *arg, int64_t timeout_ms, grove_term **out)
{
    gv_task_block_begin();
    grove_err err = grove_waiter_recv_select(w, select, arg, timeout_ms < 0 ? -1 : timeout_ms, out);
    gv_task_block_end();
    return err;
}

/* ---- global names: registered before init, without blocking ------------------------------ */

/* A process started with a global name asks the registry (the node's
 * name ops) from its runtime init and returns at once; its OTP init (the
 * kind's own, which also answers the starter) runs when the answer
 * arrives, and every other message meanwhile is postponed and taken back
 * after it, in order. From then on it forwards to the kind's callbacks.
 * A taken name answers {already_started, Pid} and exits normally, as a
 * local name does. */
typedef struct s_named {
    gv_otp_kind kind;
    grove_term *start;            /* the start term (name held), until init runs */
    grove_ref ref;                /* the registration's */
    const grove_behaviour *inner; /* the kind's, once its init succeeded */
    void *state;
} s_named;

static grove_err s_named_init(grove_proc *self, const grove_term *arg, void **state)
{
    gv_start st;
    if (!gv_start_unpack(arg, &st) || !st.has_name || st.scope != GROVE_NAME_GLOBAL)
        gv_panic("otp: a globally named process started with a bad start term");
    const gv_name_ops *ops = &gv_node_ops(grove_proc_node(self))->names;
    grove_ref ref = grove_make_ref(self);
    grove_err err = ops->register_async(ops->ctx, st.name, grove_self(self), grove_self(self), ref);
    if (err) {
        gv_start_ack(self, &st, grove_pack("{name_not_registered, ~a}", grove_errname(err)));
        gv_start_fini(&st);
        grove_stop(self, NULL);
        return err;
    }
    s_named *w = gv_calloc(1, sizeof *w);
    w->kind = st.kind;
    w->ref = ref;
    grove_term *a = st.arg;
    st.arg = NULL;
    w->start = s_pack(st.kind, st.impl, st.has_starter ? &st.starter : NULL, st.ref, st.link,
                      st.name, "global_held", a);
    gv_start_fini(&st);
    *state = w;
    return GROVE_OK;
}

/* The name is held: the kind's init runs, as the runtime would run it. */
static grove_ret s_named_run(grove_proc *self, s_named *w)
{
    const grove_behaviour *b = gv_kind_behaviour(w->kind);
    grove_term *start = w->start;
    w->start = NULL;
    void *state = NULL;
    grove_err err = b->init ? b->init(self, start, &state) : GROVE_OK;
    grove_term_destroy(&start);
    if (gv_stop_reason(self)) /* a failed init that chose its reason, or a stop in init */
        return GROVE_STOP;
    if (err)
        return grove_stop(self, grove_pack("{init_failed, ~a}", grove_errname(err)));
    w->inner = b;
    w->state = state;
    grove_unstash_all(self);
    return GROVE_CONTINUE;
}

static grove_ret s_named_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_named *w = state;
    if (w->inner)
        return w->inner->handle(self, msg, w->state);
    grove_ref r;
    grove_term *why = NULL;
    if (grove_match(msg, "{global_registered, ~r, ok, _}", &r) && grove_ref_equal(&r, &w->ref))
        return s_named_run(self, w);
    if (grove_match(msg, "{global_registered, ~r, error, ~t}", &r, &why)) {
        if (!grove_ref_equal(&r, &w->ref)) {
            grove_term_destroy(&why);
            grove_postpone(self);
            return GROVE_CONTINUE;
        }
        gv_start st;
        gv_start_unpack(w->start, &st);
        grove_pid holder;
        grove_term *reason = grove_match(why, "{already_registered, ~p}", &holder)
                                 ? grove_pack("{already_started, ~p}", holder)
                                 : grove_pack("{name_not_registered, ~t}", grove_term_copy(why));
        grove_term_destroy(&why);
        gv_start_ack(self, &st, reason);
        gv_start_fini(&st);
        return grove_stop(self, NULL); /* as OTP: a name clash exits normally */
    }
    grove_postpone(self);
    return GROVE_CONTINUE;
}

static void s_named_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_named *w = state;
    if (w->inner && w->inner->terminate)
        w->inner->terminate(self, reason, w->state);
}

static void s_named_free(void *state)
{
    s_named *w = state;
    if (w->inner && w->inner->free_state)
        w->inner->free_state(w->state);
    grove_term_destroy(&w->start);
    gv_free(w);
}

/* One table per kind, named as the kind's own (inspection shows it). */
#define S_NAMED(n)                                                                                 \
    {                                                                                              \
        .name = n, .init = s_named_init, .handle = s_named_handle, .terminate = s_named_terminate, \
        .free_state = s_named_free                                                                 \
    }
static const grove_behaviour s_named_gen_server = S_NAMED("gen_server");
static const grove_behaviour s_named_supervisor = S_NAMED("supervisor");
static const grove_behaviour s_named_plain = S_NAMED("behaviour");

/* The runtime behaviour a start spawns. */
static const grove_behaviour *s_start_behaviour(gv_otp_kind kind, const char *name,
                                                grove_name_scope scope)
{
    if (name && scope == GROVE_NAME_GLOBAL) {
        switch (kind) {
        case GV_KIND_GEN_SERVER:
            return &s_named_gen_server;
        case GV_KIND_SUPERVISOR:
            return &s_named_supervisor;
        case GV_KIND_BEHAVIOUR:
            return &s_named_plain;
        case GV_KIND_TASK:
            break;
        }
    }
    return gv_kind_behaviour(kind);
}

const grove_behaviour *gv_start_behaviour(gv_otp_kind kind, const char *name,
                                          grove_name_scope scope)
{
    return s_start_behaviour(kind, name, scope);
}

/* ---- starting -------------------------------------------------------------------------- */

static bool s_name_ok(const char *name)
{
    size_t n = name ? strnlen(name, GV_NAME_MAX + 1) : 1;
    return n >= 1 && n <= GV_NAME_MAX;
}

typedef struct s_ack_sel {
    grove_ref ref;
    grove_ref mon;
} s_ack_sel;

static bool s_is_ack_or_down(const grove_term *msg, void *arg)
{
    s_ack_sel *s = arg;
    grove_ref r;
    if (grove_match(msg, "{'$grove_ack', ~r, _, _}", &r))
        return grove_ref_equal(&r, &s->ref);
    return grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &s->mon);
}

bool grove_start_ack(const grove_term *msg, grove_ref *ref, grove_pid *pid, grove_err *result,
                     grove_term **reason)
{
    grove_ref r;
    grove_pid p;
    grove_term *res = NULL;
    if (!grove_match(msg, "{'$grove_ack', ~r, ~p, ~t}", &r, &p, &res))
        return false;
    grove_term *why = NULL;
    grove_err err = GROVE_OK;
    if (grove_match(res, "{error, ~t}", &why))
        err = gv_reason_err(why);
    grove_term_destroy(&res);
    if (ref)
        *ref = r;
    if (pid)
        *pid = p;
    if (result)
        *result = err;
    if (reason)
        *reason = why;
    else
        grove_term_destroy(&why);
    return true;
}

grove_err gv_start_wait(grove_node *node, gv_otp_kind kind, const void *impl, const char *label,
                        grove_term *arg, const grove_start_opts *opts, grove_pid *out)
{
    static const grove_start_opts none = {0};
    if (!opts)
        opts = &none;
    if (opts->reason)
        *opts->reason = NULL;
    if (gv_on_scheduler()) {
        grove_term_destroy(&arg);
        return GROVE_EWOULDBLOCK;
    }
    if (opts->link || (opts->name && !s_name_ok(opts->name))) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_waiter *w;
    grove_err err = grove_waiter_new(node, &w);
    if (err) {
        grove_term_destroy(&arg);
        return err;
    }
    s_ack_sel sel = {.ref = grove_node_make_ref(node)};
    grove_pid starter = grove_waiter_pid(w), pid;
    grove_term *st =
        gv_start_pack(kind, impl, &starter, sel.ref, false, opts->name, opts->scope, arg);
    err = grove_node_spawn(node, s_start_behaviour(kind, opts->name, opts->scope), st,
                           &(grove_spawn_opts){.name = label}, &pid);
    if (err) {
        grove_waiter_destroy(&w);
        return err;
    }
    grove_waiter_monitor(w, pid, &sel.mon);
    int64_t timeout = opts->timeout_ms > 0 ? opts->timeout_ms : GROVE_INFINITY;
    grove_term *m = NULL, *reason = NULL;
    err = gv_wait_select(w, s_is_ack_or_down, &sel, timeout, &m);
    if (err == GROVE_ETIMEDOUT) {
        grove_node_exit(node, pid, grove_atom("kill"));
        reason = grove_atom("timeout");
    } else if (err == GROVE_OK && grove_match(m, "{'DOWN', _, _, _, ~t}", &reason)) {
        err = gv_reason_err(reason);
        if (err == GROVE_EEXIST)
            err = GROVE_ENOPROC;
    } else if (err == GROVE_OK) {
        grove_start_ack(m, NULL, NULL, &err, &reason);
        grove_pid holder;
        if (err == GROVE_EEXIST && grove_match(reason, "{already_started, ~p}", &holder))
            pid = holder;
    }
    grove_term_destroy(&m);
    grove_waiter_destroy(&w);
    if (out && (err == GROVE_OK || err == GROVE_EEXIST))
        *out = pid;
    if (opts->reason)
        *opts->reason = reason;
    else
        grove_term_destroy(&reason);
    return err;
}

grove_err gv_start_async(grove_proc *self, gv_otp_kind kind, const void *impl, const char *label,
                         grove_term *arg, const char *name, grove_name_scope scope, bool link,
                         grove_pid *out, grove_ref *ack)
{
    if (name && !s_name_ok(name)) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_ref ref = grove_make_ref(self);
    grove_pid me = grove_self(self);
    grove_term *st = gv_start_pack(kind, impl, &me, ref, link, name, scope, arg);
    grove_pid pid;
    grove_spawn_opts so = {.link = link, .name = label};
    grove_err err = grove_proc_spawn(self, s_start_behaviour(kind, name, scope), st, &so, &pid);
    if (err)
        return err;
    if (out)
        *out = pid;
    if (ack)
        *ack = ref;
    return GROVE_OK;
}

/* ---- plain behaviours as supervised children ---------------------------------------------- */

/* The wrapper runs the behaviour's own callbacks and adds the
 * acknowledgement after its init (and the name before it). */
typedef struct s_plain {
    const grove_behaviour *b;
    void *state;
} s_plain;

static grove_err s_plain_init(grove_proc *self, const grove_term *arg, void **state)
{
    gv_start st;
    grove_err err = gv_start_begin(self, arg, GV_KIND_BEHAVIOUR, &st);
    if (err)
        return err;
    s_plain *w = gv_calloc(1, sizeof *w);
    w->b = st.impl;
    err = w->b->init ? w->b->init(self, st.arg, &w->state) : GROVE_OK;
    if (err || gv_stop_reason(self)) {
        gv_start_ack(self, &st, gv_init_fail_reason(self, err));
        gv_start_fini(&st);
        gv_free(w);
        return err;
    }
    gv_start_ack(self, &st, NULL);
    gv_start_fini(&st);
    *state = w;
    return GROVE_OK;
}

static grove_ret s_plain_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_plain *w = state;
    return w->b->handle(self, msg, w->state);
}

static void s_plain_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_plain *w = state;
    if (w->b->terminate)
        w->b->terminate(self, reason, w->state);
    if (!gv_reason_is_clean(reason))
        gv_crash_report(self, "proc", w->b->name, reason);
}

static void s_plain_free(void *state)
{
    s_plain *w = state;
    if (w->b->free_state)
        w->b->free_state(w->state);
    gv_free(w);
}

static const grove_behaviour s_plain_behaviour = {
    .name = "behaviour",
    .init = s_plain_init,
    .handle = s_plain_handle,
    .terminate = s_plain_terminate,
    .free_state = s_plain_free,
};

const grove_behaviour *gv_kind_behaviour(gv_otp_kind kind)
{
    switch (kind) {
    case GV_KIND_GEN_SERVER:
        return &gv_gen_server_behaviour;
    case GV_KIND_SUPERVISOR:
        return &gv_supervisor_behaviour;
    case GV_KIND_BEHAVIOUR:
        return &s_plain_behaviour;
    case GV_KIND_TASK:
        return &gv_task_behaviour;
    }
    gv_panic("unknown OTP kind %d", (int)kind);
}
