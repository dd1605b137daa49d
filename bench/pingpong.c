/*
 * pingpong - round trips between two local processes (DESIGN.md section
 * 10; Erlang: anchors_local.erl `pingpong`).
 *
 * pong answers {ping, From} with `pong`; ping sends {ping, self()} and
 * waits for the answer, N times, then tells main. As in the Erlang
 * program, pong exists before the clock starts and ping is spawned after.
 *
 *   pingpong [-n N] [--copy]
 *
 * Prints `pingpong <trips/s> trips/s`. With --copy the messages are built
 * once and copied with grove_term_copy, and read with grove_reader instead
 * of grove_match (`pingpong_copy`): the cheapest public way, to show what
 * grove_pack/grove_match cost.
 */
#include "bench.h"

static int s_copy;

typedef struct pong_state {
    grove_term *pong; /* --copy: the reply, built once */
} pong_state;

/* --copy: the pid of {ping, Pid}, read without allocating. */
static int s_read_ping(const grove_term *msg, grove_pid *from)
{
    grove_reader r = grove_reader_of(msg);
    grove_value v;
    if (!grove_reader_next(&r, &v) || v.type != GROVE_TYPE_TUPLE || v.as.compound.arity != 2)
        return 0;
    if (!grove_reader_next(&r, &v) || !grove_value_is_atom(&v, "ping"))
        return 0;
    return grove_reader_next(&r, &v) && grove_value_pid(&v, from) == GROVE_OK;
}

static grove_err pong_init(grove_proc *self, const grove_term *arg, void **state)
{
    pong_state *st = calloc(1, sizeof *st);
    st->pong = grove_atom("pong");
    *state = st;
    return GROVE_OK;
}

static grove_ret pong_handle(grove_proc *self, const grove_term *msg, void *state)
{
    pong_state *st = state;
    grove_pid from;
    if (s_copy) {
        if (s_read_ping(msg, &from)) {
            grove_send(self, from, grove_term_copy(st->pong));
            return GROVE_CONTINUE;
        }
    } else if (grove_match(msg, "{ping, ~p}", &from)) {
        grove_send(self, from, grove_pack("pong"));
        return GROVE_CONTINUE;
    }
    if (grove_match(msg, "stop"))
        return grove_stop(self, NULL);
    return GROVE_CONTINUE;
}

static void pong_free(void *state)
{
    pong_state *st = state;
    grove_term_destroy(&st->pong);
    free(st);
}

static const grove_behaviour pong_behaviour = {
    .name = "pong", .init = pong_init, .handle = pong_handle, .free_state = pong_free};

typedef struct ping_state {
    grove_pid pong, main;
    int64_t left;
    grove_term *ping;   /* --copy: {ping, self()}, built once */
    grove_term *answer; /* --copy: `pong`, to compare with */
} ping_state;

static void s_ping(grove_proc *self, ping_state *st)
{
    if (s_copy)
        grove_send(self, st->pong, grove_term_copy(st->ping));
    else
        grove_send(self, st->pong, grove_pack("{ping, ~p}", grove_self(self)));
}

static grove_err ping_init(grove_proc *self, const grove_term *arg, void **state)
{
    ping_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "{~p, ~p, ~l}", &st->pong, &st->main, &st->left)) {
        free(st);
        return GROVE_EBADARG;
    }
    st->ping = grove_pack("{ping, ~p}", grove_self(self));
    st->answer = grove_atom("pong");
    *state = st;
    s_ping(self, st);
    return GROVE_OK;
}

static grove_ret ping_handle(grove_proc *self, const grove_term *msg, void *state)
{
    ping_state *st = state;
    if (!(s_copy ? grove_term_equal(msg, st->answer) : grove_match(msg, "pong")))
        return GROVE_CONTINUE;
    if (--st->left > 0) {
        s_ping(self, st);
        return GROVE_CONTINUE;
    }
    grove_send(self, st->main, grove_pack("done"));
    return grove_stop(self, NULL);
}

static void ping_free(void *state)
{
    ping_state *st = state;
    grove_term_destroy(&st->ping);
    grove_term_destroy(&st->answer);
    free(st);
}

static const grove_behaviour ping_behaviour = {
    .name = "ping", .init = ping_init, .handle = ping_handle, .free_state = ping_free};

int main(int argc, char **argv)
{
    long n = bench_arg_n(argc, argv, 1000000);
    s_copy = bench_has_flag(argc, argv, "--copy");
    grove_node *node = bench_node();
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid pong;
    grove_spawn(node, &pong_behaviour, NULL, NULL, &pong);

    double t0 = bench_now();
    grove_spawn(node, &ping_behaviour,
                grove_pack("{~p, ~p, ~l}", pong, grove_waiter_pid(w), (int64_t)n), NULL, NULL);
    bench_wait(w, "done");
    double t1 = bench_now();
    grove_send(node, pong, grove_pack("stop"));

    bench_out(s_copy ? "pingpong_copy" : "pingpong", (double)n / (t1 - t0), "trips/s");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    return 0;
}
