/*
 * call.c - calls: the blocking call from a thread, the asynchronous call
 * from a process, and stopping a server and waiting for it.
 *
 * Neither form can leave a late reply behind (OTP 24 uses aliases for
 * that; Grove has none yet, docs/otp.md). A blocking call waits on a
 * waiter made for that call alone and destroyed afterwards, so a late
 * reply goes to a dead pid and is dropped. An asynchronous call is sent by
 * the caller itself (so it stays in order with the caller's other
 * messages to the server) with a helper process as the reply address; the
 * helper alone decides between reply, exit and timeout, tells the caller
 * once, and exits, so a late reply is dropped the same way.
 */
#include "otp/otp_impl.h"

#include <grove/names.h>

#include "base/gv_alloc.h"

#include <string.h>

/* ---- blocking --------------------------------------------------------------------------- */

typedef struct s_call_sel {
    grove_ref ref;
} s_call_sel;

static bool s_reply_or_down(const grove_term *msg, void *arg)
{
    s_call_sel *c = arg;
    grove_ref r;
    if (grove_match(msg, "{~r, _}", &r))
        return grove_ref_equal(&r, &c->ref);
    return grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &c->ref);
}

static grove_err s_down_err(const grove_term *reason)
{
    return grove_match(reason, "noconnection") ? GROVE_ENOCONN : GROVE_ENOPROC;
}

/* Waits for {Ref, Reply} or the DOWN of the monitor Ref. */
static grove_err s_wait_reply(grove_waiter *w, grove_ref ref, int64_t timeout_ms,
                              grove_term **reply)
{
    s_call_sel sel = {ref};
    grove_term *m = NULL;
    grove_err err = gv_wait_select(w, s_reply_or_down, &sel, timeout_ms, &m);
    if (err)
        return err;
    if (grove_match(m, "{'DOWN', _, process, _, ~t}", reply))
        err = s_down_err(*reply);
    else
        grove_match(m, "{_, ~t}", reply);
    grove_term_destroy(&m);
    return err;
}

/* A blocking call to server, or (name not NULL) to the process
 * registered as name on node `at`, as gen_server:call({Name, Node}, Req):
 * the name is monitored and the request sent to it, so a name nobody has
 * answers with a DOWN (noproc) and an unconnected node with one
 * (noconnection). The monitor's reference doubles as the call's, as in
 * OTP. */
static grove_err s_call(grove_node *node, grove_pid server, grove_nodename at, const char *name,
                        grove_term *request, int64_t timeout_ms, grove_term **reply)
{
    grove_term *dummy = NULL;
    if (!reply)
        reply = &dummy;
    *reply = NULL;
    if (!request || (name && (!*name || strlen(name) > GROVE_MONITOR_NAME_MAX))) {
        grove_term_destroy(&request);
        return GROVE_EINVAL;
    }
    if (gv_on_scheduler()) {
        grove_term_destroy(&request);
        return GROVE_EWOULDBLOCK;
    }
    grove_waiter *w;
    grove_err err = grove_waiter_new(node, &w);
    if (err) {
        grove_term_destroy(&request);
        return err;
    }
    grove_ref ref;
    if (name)
        grove_waiter_monitor_name(w, name, at, &ref);
    else
        grove_waiter_monitor(w, server, &ref);
    grove_term *call = grove_pack("{'$gen_call', {~p, ~r}, ~t}", grove_waiter_pid(w), ref, request);
    if (name)
        grove_send_name_at(node, at ? at : grove_node_name(node), name, call);
    else
        grove_send(node, server, call);
    err = s_wait_reply(w, ref, timeout_ms, reply);
    grove_waiter_destroy(&w); /* a late reply now finds no one */
    grove_term_destroy(&dummy);
    return err;
}

grove_err gv_call(grove_node *node, grove_pid server, grove_term *request, int64_t timeout_ms,
                  grove_term **reply)
{
    return s_call(node, server, 0, NULL, request, timeout_ms, reply);
}

grove_err grove_call(grove_node *node, grove_pid server, grove_term *request, int64_t timeout_ms,
                     grove_term **reply)
{
    return gv_call(node, server, request, timeout_ms, reply);
}

grove_err grove_call_name_at(grove_node *node, grove_nodename at, const char *name,
                             grove_term *request, int64_t timeout_ms, grove_term **reply)
{
    if (!name) {
        if (reply)
            *reply = NULL;
        grove_term_destroy(&request);
        return GROVE_EINVAL;
    }
    return s_call(node, (grove_pid){0}, at, name, request, timeout_ms, reply);
}

grove_err grove_call_name(grove_node *node, const char *name, grove_term *request,
                          int64_t timeout_ms, grove_term **reply)
{
    if (reply)
        *reply = NULL;
    grove_pid pid;
    if (name && grove_whereis(node, name, &pid) == GROVE_OK)
        return gv_call(node, pid, request, timeout_ms, reply);
    grove_term_destroy(&request);
    if (gv_on_scheduler())
        return GROVE_EWOULDBLOCK;
    if (reply)
        *reply = grove_atom("noproc");
    return GROVE_ENOPROC;
}

grove_err gv_stop_and_wait(grove_node *node, grove_pid pid, grove_term *msg, int64_t timeout_ms)
{
    if (!msg)
        return GROVE_EINVAL;
    if (gv_on_scheduler()) {
        grove_term_destroy(&msg);
        return GROVE_EWOULDBLOCK;
    }
    grove_waiter *w;
    grove_err err = grove_waiter_new(node, &w);
    if (err) {
        grove_term_destroy(&msg);
        return err;
    }
    grove_ref ref;
    grove_waiter_monitor(w, pid, &ref);
    grove_send(node, pid, msg);
    s_call_sel sel = {ref};
    grove_term *m = NULL;
    err = gv_wait_select(w, s_reply_or_down, &sel, timeout_ms, &m);
    if (err == GROVE_OK && grove_match(m, "{'DOWN', _, process, _, noproc}"))
        err = GROVE_ENOPROC;
    else if (err == GROVE_OK && grove_match(m, "{'DOWN', _, process, _, noconnection}"))
        err = GROVE_ENOCONN;
    grove_term_destroy(&m);
    grove_waiter_destroy(&w);
    return err;
}

/* ---- asynchronous: the helper process ---------------------------------------------------------
 */

typedef struct s_proxy {
    grove_pid caller;
    grove_ref ref;        /* the call's reference: the reply carries it */
    grove_ref server_mon; /* on the server */
    grove_ref caller_mon; /* on the caller: it may go away */
    grove_timer timer;
} s_proxy;

static grove_err s_proxy_init(grove_proc *self, const grove_term *arg, void **state)
{
    s_proxy *p = gv_calloc(1, sizeof *p);
    grove_pid server;
    int64_t timeout;
    if (!grove_match(arg, "{~p, ~p, ~r, ~l}", &p->caller, &server, &p->ref, &timeout)) {
        gv_free(p);
        return GROVE_EBADARG;
    }
    grove_monitor(self, server, &p->server_mon);
    grove_monitor(self, p->caller, &p->caller_mon);
    if (timeout >= 0)
        grove_send_after(self, (uint64_t)timeout, grove_self(self), grove_atom("$gen_call_timeout"),
                         &p->timer);
    *state = p;
    return GROVE_OK;
}

static grove_ret s_proxy_answer(grove_proc *self, s_proxy *p, grove_term *answer)
{
    grove_send(self, p->caller, grove_pack("{'$gen_response', ~r, ~t}", p->ref, answer));
    return grove_stop(self, NULL);
}

static grove_ret s_proxy_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_proxy *p = state;
    grove_ref r;
    grove_term *t = NULL;
    if (grove_match(msg, "{~r, ~t}", &r, &t)) {
        if (grove_ref_equal(&r, &p->ref))
            return s_proxy_answer(self, p, grove_pack("{reply, ~t}", t));
        grove_term_destroy(&t);
    } else if (grove_match(msg, "{'DOWN', ~r, process, _, ~t}", &r, &t)) {
        if (grove_ref_equal(&r, &p->server_mon))
            return s_proxy_answer(self, p, grove_pack("{error, ~t}", t));
        grove_term_destroy(&t);
        if (grove_ref_equal(&r, &p->caller_mon))
            return grove_stop(self, NULL);
    } else if (grove_match(msg, "'$gen_call_timeout'")) {
        p->timer = 0;
        return s_proxy_answer(self, p, grove_atom("timeout"));
    }
    return GROVE_CONTINUE;
}

static void s_proxy_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_proxy *p = state;
    if (p->timer)
        grove_cancel_timer(self, p->timer);
}

static const grove_behaviour s_proxy_behaviour = {
    .name = "gen_call",
    .init = s_proxy_init,
    .handle = s_proxy_handle,
    .terminate = s_proxy_terminate,
    .free_state = gv_free,
};

grove_err grove_call_async(grove_proc *self, grove_pid server, grove_term *request,
                           int64_t timeout_ms, grove_ref *ref)
{
    if (!request)
        return GROVE_EINVAL;
    grove_ref r = grove_make_ref(self);
    grove_pid proxy;
    int64_t timeout = timeout_ms < 0 ? -1 : timeout_ms;
    grove_err err = grove_proc_spawn(
        self, &s_proxy_behaviour,
        grove_pack("{~p, ~p, ~r, ~l}", grove_self(self), server, r, timeout), NULL, &proxy);
    if (err) {
        grove_term_destroy(&request);
        return err;
    }
    grove_send(self, server, grove_pack("{'$gen_call', {~p, ~r}, ~t}", proxy, r, request));
    if (ref)
        *ref = r;
    return GROVE_OK;
}

bool grove_call_response(const grove_term *msg, grove_ref *ref, grove_err *result,
                         grove_term **reply)
{
    grove_ref r;
    grove_term *ans = NULL, *t = NULL;
    if (!grove_match(msg, "{'$gen_response', ~r, ~t}", &r, &ans))
        return false;
    grove_err err;
    if (grove_match(ans, "{reply, ~t}", &t)) {
        err = GROVE_OK;
    } else if (grove_match(ans, "{error, ~t}", &t)) {
        err = s_down_err(t);
    } else {
        err = GROVE_ETIMEDOUT;
    }
    grove_term_destroy(&ans);
    if (ref)
        *ref = r;
    if (result)
        *result = err;
    if (reply)
        *reply = t;
    else
        grove_term_destroy(&t);
    return true;
}
