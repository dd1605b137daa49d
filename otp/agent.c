/*
 * agent.c - agents: a gen_server whose state is one term and whose
 * requests carry the C function to apply to it.
 *
 * Requests are {'$agent', Op, Fn, noarg | {arg, Arg}} with Op one of get,
 * update, get_and_update; Fn is the function's address (0 for "the state
 * itself"), which never leaves the node.
 */
#include "otp/otp_impl.h"

#include <grove/agent.h>

#include "base/gv_alloc.h"

typedef struct s_agent {
    grove_term *state;
} s_agent;

static grove_err s_init(grove_proc *self, const grove_term *arg, void **state)
{
    s_agent *a = gv_calloc(1, sizeof *a);
    a->state = arg ? grove_term_copy(arg) : grove_atom("nil");
    *state = a;
    return GROVE_OK;
}

static void s_free(void *state)
{
    s_agent *a = state;
    grove_term_destroy(&a->state);
    gv_free(a);
}

typedef struct s_req {
    char op[16];
    uint64_t fn;
    grove_term *arg; /* owned, NULL if none */
} s_req;

static bool s_req_match(const grove_term *msg, s_req *r)
{
    grove_term *a = NULL;
    if (!grove_match(msg, "{'$agent', ~a, ~u, ~t}", r->op, sizeof r->op, &r->fn, &a))
        return false;
    r->arg = NULL;
    grove_match(a, "{arg, ~t}", &r->arg);
    grove_term_destroy(&a);
    return true;
}

/* Applies an update; false when the function gave no state. */
static bool s_update(s_agent *a, const s_req *r)
{
    grove_agent_fn fn = (grove_agent_fn)gv_u64_fn(r->fn);
    grove_term *next = fn ? fn(a->state, r->arg) : NULL;
    if (!next)
        return false;
    grove_term_destroy(&a->state);
    a->state = next;
    return true;
}

static grove_ret s_bad_return(grove_proc *self, s_req *r)
{
    grove_term_destroy(&r->arg);
    return grove_stop(self, grove_atom("bad_return_value"));
}

static grove_ret s_call(grove_proc *self, const grove_term *request, grove_from from, void *state,
                        grove_term **reply)
{
    s_agent *a = state;
    s_req r;
    if (!gv_pid_is_ours(self, from.pid) || !s_req_match(request, &r)) {
        *reply = grove_pack("{error, unknown_call}");
        return GROVE_REPLY;
    }
    if (strcmp(r.op, "get") == 0) {
        grove_agent_fn fn = (grove_agent_fn)gv_u64_fn(r.fn);
        *reply = fn ? fn(a->state, r.arg) : grove_term_copy(a->state);
    } else if (strcmp(r.op, "update") == 0) {
        if (s_update(a, &r))
            *reply = grove_atom("ok");
    } else if (strcmp(r.op, "get_and_update") == 0) {
        grove_agent_get_update_fn fn = (grove_agent_get_update_fn)gv_u64_fn(r.fn);
        grove_term *next = NULL;
        *reply = fn ? fn(a->state, r.arg, &next) : NULL;
        if (*reply && next) {
            grove_term_destroy(&a->state);
            a->state = next;
        } else {
            grove_term_destroy(reply);
            grove_term_destroy(&next);
        }
    } else {
        *reply = grove_pack("{error, unknown_call}");
    }
    if (!*reply)
        return s_bad_return(self, &r);
    grove_term_destroy(&r.arg);
    return GROVE_REPLY;
}

static grove_ret s_cast(grove_proc *self, const grove_term *msg, void *state)
{
    s_req r;
    if (!s_req_match(msg, &r))
        return GROVE_NOREPLY;
    if (strcmp(r.op, "update") == 0 && !s_update(state, &r))
        return s_bad_return(self, &r);
    grove_term_destroy(&r.arg);
    return GROVE_NOREPLY;
}

const grove_gen_server grove_agent_server = {
    .name = "agent",
    .init = s_init,
    .handle_call = s_call,
    .handle_cast = s_cast,
    .free_state = s_free,
};

static grove_term *s_request(const char *op, gv_fnptr fn, grove_term *arg)
{
    return grove_pack("{'$agent', ~a, ~u, ~t}", op, fn ? gv_fn_u64(fn) : 0,
                      arg ? grove_pack("{arg, ~t}", arg) : grove_atom("noarg"));
}

grove_err grove_agent_start(grove_node *node, grove_term *initial, const grove_start_opts *opts,
                            grove_pid *out)
{
    return grove_gen_server_start(node, &grove_agent_server, initial, opts, out);
}

grove_err grove_agent_get(grove_node *node, grove_pid agent, grove_agent_fn fn, grove_term *arg,
                          int64_t timeout_ms, grove_term **out)
{
    return gv_call(node, agent, s_request("get", (gv_fnptr)fn, arg), timeout_ms, out);
}

grove_err grove_agent_update(grove_node *node, grove_pid agent, grove_agent_fn fn, grove_term *arg,
                             int64_t timeout_ms)
{
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_term *reply = NULL;
    grove_err err =
        gv_call(node, agent, s_request("update", (gv_fnptr)fn, arg), timeout_ms, &reply);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_agent_get_and_update(grove_node *node, grove_pid agent,
                                     grove_agent_get_update_fn fn, grove_term *arg,
                                     int64_t timeout_ms, grove_term **out)
{
    *out = NULL;
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return gv_call(node, agent, s_request("get_and_update", (gv_fnptr)fn, arg), timeout_ms, out);
}

grove_err grove_proc_agent_cast(grove_proc *self, grove_pid agent, grove_agent_fn fn,
                                grove_term *arg)
{
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return grove_cast(self, agent, s_request("update", (gv_fnptr)fn, arg));
}

grove_err grove_node_agent_cast(grove_node *node, grove_pid agent, grove_agent_fn fn,
                                grove_term *arg)
{
    if (!fn) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return grove_cast(node, agent, s_request("update", (gv_fnptr)fn, arg));
}

grove_err grove_agent_stop(grove_node *node, grove_pid agent, grove_term *reason,
                           int64_t timeout_ms)
{
    return grove_gen_server_stop(node, agent, reason, timeout_ms);
}
