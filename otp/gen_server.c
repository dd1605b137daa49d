/*
 * gen_server.c - the gen_server process: OTP's message shapes in, the
 * user's callbacks out.
 *
 * The process runs one runtime behaviour for every gen_server; its state is
 * a small record pointing to the user's table and state. Callbacks run on
 * the worker that runs the process, so "the gen_server whose callback is
 * running" is a thread-local pointer: grove_continue needs nothing else.
 */
#include "otp/otp_impl.h"

#include <grove/names.h>

#include "base/gv_alloc.h"
#include "base/gv_log.h"

#include <stdlib.h>

typedef struct s_gs {
    const grove_gen_server *gs;
    void *state;
    grove_proc *self; /* valid while one of its callbacks runs */
    bool has_parent;
    grove_pid parent;
    bool cont_set;
    grove_term *cont; /* the pending continue's argument */
} s_gs;

/* The gen_server whose callback runs on this thread, for grove_continue. */
static _Thread_local s_gs *s_running;

/* ---- replies ----------------------------------------------------------------------- */

void gv_gen_reply(grove_proc *self, grove_from from, grove_term *reply)
{
    grove_send(self, from.pid, grove_pack("{~r, ~t}", from.ref, reply));
}

grove_err grove_reply(grove_from from, grove_term *reply)
{
    if (!reply || !from.node) {
        grove_term_destroy(&reply);
        return GROVE_EINVAL;
    }
    return grove_node_send(from.node, from.pid, grove_pack("{~r, ~t}", from.ref, reply));
}

bool gv_gen_call_match(grove_proc *self, const grove_term *msg, grove_from *from,
                       grove_term **request)
{
    if (!grove_match(msg, "{'$gen_call', {~p, ~r}, ~t}", &from->pid, &from->ref, request))
        return false;
    from->node = grove_proc_node(self);
    return true;
}

/* ---- callbacks ------------------------------------------------------------------------ */

void grove_continue(grove_proc *self, grove_term *arg)
{
    s_gs *g = s_running;
    if (!g || g->self != self) {
        grove_term_destroy(&arg);
        return;
    }
    grove_term_destroy(&g->cont);
    g->cont = arg;
    g->cont_set = true;
}

/* Runs continues until none is pending or the server stops. */
static grove_ret s_continues(grove_proc *self, s_gs *g)
{
    while (g->cont_set) {
        grove_term *arg = g->cont;
        g->cont = NULL;
        g->cont_set = false;
        if (!g->gs->handle_continue)
            return grove_stop(
                self, grove_pack("{bad_continue, ~t}", arg ? arg : grove_atom("undefined")));
        s_running = g;
        g->self = self;
        grove_ret r = g->gs->handle_continue(self, arg, g->state);
        s_running = NULL;
        grove_term_destroy(&arg);
        if (r == GROVE_STOP) {
            grove_term_destroy(&g->cont);
            g->cont_set = false;
            return GROVE_STOP;
        }
    }
    return GROVE_CONTINUE;
}

static grove_ret s_call(grove_proc *self, s_gs *g, grove_from from, grove_term *req)
{
    if (!g->gs->handle_call)
        return grove_stop(self, grove_pack("{bad_call, ~t}", req));
    grove_term *reply = NULL;
    s_running = g;
    g->self = self;
    grove_ret r = g->gs->handle_call(self, req, from, g->state, &reply);
    s_running = NULL;
    if (reply)
        gv_gen_reply(self, from, reply);
    else if (r == GROVE_REPLY)
        r = grove_stop(
            self, grove_pack("{bad_return_value, {reply_without_term, ~t}}", grove_term_copy(req)));
    grove_term_destroy(&req);
    return r == GROVE_STOP ? GROVE_STOP : GROVE_CONTINUE;
}

static grove_ret s_dispatch(grove_proc *self, s_gs *g, const grove_term *msg)
{
    grove_from from;
    grove_term *t = NULL;
    grove_pid pid;
    if (gv_gen_call_match(self, msg, &from, &t))
        return s_call(self, g, from, t);
    grove_ret r = GROVE_CONTINUE;
    if (grove_match(msg, "{'$gen_cast', ~t}", &t)) {
        if (!g->gs->handle_cast)
            return grove_stop(self, grove_pack("{bad_cast, ~t}", t));
        s_running = g;
        g->self = self;
        r = g->gs->handle_cast(self, t, g->state);
        s_running = NULL;
        grove_term_destroy(&t);
    } else if (grove_match(msg, "{'$gen_stop', ~t}", &t)) {
        return grove_stop(self, t);
    } else if (g->has_parent && grove_match(msg, "{'EXIT', ~p, ~t}", &pid, &t) &&
               grove_pid_equal(pid, g->parent)) {
        return grove_stop(self, t); /* the parent's exit stops us with its reason */
    } else {
        grove_term_destroy(&t);
        if (!g->gs->handle_info) {
            if (gv_log_enabled(GV_LOG_WARN)) {
                char *text = grove_term_format(msg);
                gv_log(GV_LOG_WARN, "gen_server", "unexpected_message", "pid=%s name=%s msg=%s",
                       gv_pid_text(grove_self(self)).s, g->gs->name ? g->gs->name : "-",
                       text ? text : "?");
                free(text);
            }
            return GROVE_CONTINUE;
        }
        s_running = g;
        g->self = self;
        r = g->gs->handle_info(self, msg, g->state);
        s_running = NULL;
    }
    return r == GROVE_STOP ? GROVE_STOP : GROVE_CONTINUE;
}

static void s_free(s_gs *g)
{
    if (g->gs->free_state)
        g->gs->free_state(g->state);
    grove_term_destroy(&g->cont);
    gv_free(g);
}

static void s_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_gs *g = state;
    if (g->gs->terminate) {
        s_running = g;
        g->self = self;
        g->gs->terminate(self, reason, g->state);
        s_running = NULL;
    }
    grove_term_destroy(&g->cont); /* a continue asked for by terminate never runs */
    g->cont_set = false;
    if (!gv_reason_is_clean(reason))
        gv_crash_report(self, "gen_server", g->gs->name, reason);
}

static void s_free_state(void *state)
{
    s_free(state);
}

static grove_err s_init(grove_proc *self, const grove_term *arg, void **state)
{
    gv_start st;
    grove_err err = gv_start_begin(self, arg, GV_KIND_GEN_SERVER, &st);
    if (err)
        return err;
    s_gs *g = gv_calloc(1, sizeof *g);
    g->gs = st.impl;
    g->has_parent = st.link;
    g->parent = st.starter;
    if (g->gs->init) {
        s_running = g;
        g->self = self;
        err = g->gs->init(self, st.arg, &g->state);
        s_running = NULL;
    }
    if (err || gv_stop_reason(self)) {
        gv_start_ack(self, &st, gv_init_fail_reason(self, err));
        gv_start_fini(&st);
        grove_term_destroy(&g->cont);
        gv_free(g);
        return err;
    }
    gv_start_ack(self, &st, NULL);
    gv_start_fini(&st);
    if (s_continues(self, g) == GROVE_STOP) {
        /* The runtime treats a stop during init as a failed init and runs
         * neither terminate nor free_state: do both here. */
        s_terminate(self, gv_stop_reason(self), g);
        s_free(g);
        return GROVE_OK;
    }
    *state = g;
    return GROVE_OK;
}

static grove_ret s_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_gs *g = state;
    grove_ret r = s_dispatch(self, g, msg);
    if (r != GROVE_STOP)
        r = s_continues(self, g);
    return r;
}

const grove_behaviour gv_gen_server_behaviour = {
    .name = "gen_server",
    .init = s_init,
    .handle = s_handle,
    .terminate = s_terminate,
    .free_state = s_free_state,
};

/* ---- starting and stopping ----------------------------------------------------------------- */

grove_err grove_gen_server_start(grove_node *node, const grove_gen_server *gs, grove_term *arg,
                                 const grove_start_opts *opts, grove_pid *out)
{
    if (!gs) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return gv_start_wait(node, GV_KIND_GEN_SERVER, gs, gs->name, arg, opts, out);
}

grove_err grove_gen_server_start_async(grove_proc *self, const grove_gen_server *gs,
                                       grove_term *arg, const grove_start_opts *opts,
                                       grove_pid *out, grove_ref *ack)
{
    static const grove_start_opts none = {0};
    if (!opts)
        opts = &none;
    if (!gs) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return gv_start_async(self, GV_KIND_GEN_SERVER, gs, gs->name, arg, opts->name, opts->scope,
                          opts->link, out, ack);
}

grove_err grove_gen_server_stop(grove_node *node, grove_pid server, grove_term *reason,
                                int64_t timeout_ms)
{
    return gv_stop_and_wait(node, server,
                            grove_pack("{'$gen_stop', ~t}", reason ? reason : grove_atom("normal")),
                            timeout_ms);
}

/* ---- casts -------------------------------------------------------------------------------------
 */

static grove_term *s_cast_msg(grove_term *msg)
{
    return msg ? grove_pack("{'$gen_cast', ~t}", msg) : NULL;
}

grove_err grove_proc_cast(grove_proc *self, grove_pid server, grove_term *msg)
{
    return grove_send(self, server, s_cast_msg(msg));
}

grove_err grove_node_cast(grove_node *node, grove_pid server, grove_term *msg)
{
    return grove_send(node, server, s_cast_msg(msg));
}

grove_err grove_proc_cast_name(grove_proc *self, const char *name, grove_term *msg)
{
    grove_term *m = s_cast_msg(msg);
    if (!m)
        return GROVE_EINVAL;
    return grove_send_name(self, name, m);
}

grove_err grove_node_cast_name(grove_node *node, const char *name, grove_term *msg)
{
    grove_term *m = s_cast_msg(msg);
    if (!m)
        return GROVE_EINVAL;
    return grove_send_name(node, name, m);
}
