/*
 * breaker.c - the breaker server.
 */
#include "breaker.h"

#include <stdlib.h>

typedef struct breaker_st {
    unsigned threshold;
    uint64_t reset_ms;
    breaker_state state;
    unsigned failures; /* in a row, while closed */
    bool trial;        /* half-open: the one trial is out */
    uint64_t epoch;    /* names the current opening, for its timer */
} breaker_st;

static void s_open(grove_proc *self, breaker_st *b)
{
    b->state = BREAKER_OPEN;
    b->trial = false;
    b->epoch++;
    grove_send_after(self, b->reset_ms, grove_self(self), grove_pack("{half_open, ~u}", b->epoch),
                     NULL);
}

static grove_err breaker_init(grove_proc *self, const grove_term *arg, void **state)
{
    int64_t threshold, reset;
    if (!grove_match(arg, "{~l, ~l}", &threshold, &reset) || threshold < 1 || reset < 1)
        return GROVE_EBADARG;
    breaker_st *b = calloc(1, sizeof *b);
    if (!b)
        return GROVE_ENOMEM;
    b->threshold = (unsigned)threshold;
    b->reset_ms = (uint64_t)reset;
    *state = b;
    return GROVE_OK;
}

static grove_ret breaker_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                              grove_term **reply)
{
    breaker_st *b = state;
    if (grove_match(req, "ask")) {
        bool go = b->state == BREAKER_CLOSED || (b->state == BREAKER_HALF_OPEN && !b->trial);
        if (b->state == BREAKER_HALF_OPEN && go)
            b->trial = true;
        *reply = grove_atom(go ? "ok" : "open");
    } else if (grove_match(req, "state")) {
        static const char *const names[] = {"closed", "open", "half_open"};
        *reply = grove_atom(names[b->state]);
    } else {
        *reply = grove_pack("{error, unknown_call}");
    }
    return GROVE_REPLY;
}

static grove_ret breaker_cast(grove_proc *self, const grove_term *msg, void *state)
{
    breaker_st *b = state;
    if (grove_match(msg, "{report, ok}")) {
        if (b->state == BREAKER_HALF_OPEN) /* the trial went through */
            b->state = BREAKER_CLOSED;
        if (b->state == BREAKER_CLOSED)
            b->failures = 0;
    } else if (grove_match(msg, "{report, failed}")) {
        if (b->state == BREAKER_HALF_OPEN) {
            s_open(self, b);
        } else if (b->state == BREAKER_CLOSED && ++b->failures >= b->threshold) {
            b->failures = 0;
            s_open(self, b);
        }
    }
    return GROVE_NOREPLY;
}

static grove_ret breaker_info(grove_proc *self, const grove_term *msg, void *state)
{
    breaker_st *b = state;
    uint64_t epoch;
    if (grove_match(msg, "{half_open, ~u}", &epoch) && epoch == b->epoch &&
        b->state == BREAKER_OPEN) {
        b->state = BREAKER_HALF_OPEN;
        b->trial = false;
    }
    return GROVE_NOREPLY;
}

const grove_gen_server breaker_server = {
    .name = "circuit_breaker",
    .init = breaker_init,
    .handle_call = breaker_call,
    .handle_cast = breaker_cast,
    .handle_info = breaker_info,
    .free_state = free,
};

grove_err breaker_start(grove_node *node, unsigned threshold, uint64_t reset_ms, grove_pid *out)
{
    return grove_gen_server_start(node, &breaker_server,
                                  grove_pack("{~l, ~l}", (int64_t)(threshold ? threshold : 5),
                                             (int64_t)(reset_ms ? reset_ms : 1000)),
                                  NULL, out);
}

grove_err breaker_run(grove_node *node, grove_pid breaker, breaker_op op, const grove_term *arg,
                      void *udata, grove_term **result)
{
    *result = NULL;
    grove_term *answer = NULL;
    grove_err err = grove_call(node, breaker, grove_atom("ask"), GROVE_CALL_TIMEOUT, &answer);
    bool go = !err && grove_match(answer, "ok");
    grove_term_destroy(&answer);
    if (err)
        return err;
    if (!go)
        return GROVE_EAGAIN;
    *result = op(arg, udata);
    grove_cast(node, breaker, grove_pack("{report, ~a}", *result ? "ok" : "failed"));
    return *result ? GROVE_OK : GROVE_EIO;
}

grove_err breaker_get_state(grove_node *node, grove_pid breaker, breaker_state *out)
{
    grove_term *reply = NULL;
    grove_err err = grove_call(node, breaker, grove_atom("state"), GROVE_CALL_TIMEOUT, &reply);
    if (!err)
        *out = grove_match(reply, "open")        ? BREAKER_OPEN
               : grove_match(reply, "half_open") ? BREAKER_HALF_OPEN
                                                 : BREAKER_CLOSED;
    grove_term_destroy(&reply);
    return err;
}
