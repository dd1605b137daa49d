/*
 * ring - a token passed around a ring of 10,000 processes, 1,000,000 hops
 * (DESIGN.md section 10; Erlang: anchors_local.erl `ring`).
 *
 * Every ring node waits for {next, Pid}, then passes {token, K} on as
 * {token, K - 1}; the one that sees {token, 0} tells main and sends
 * `stop` around the ring. As in the Erlang program the clock runs from
 * main's first send of the token until `ring_done` arrives; building the
 * ring is timed apart.
 *
 *   ring [-n HOPS] [--size N]
 *
 * Prints `ring <hops/s> hops/s` and `ring_setup <s> s`.
 */
#include "bench.h"

typedef struct ring_state {
    grove_pid main, next;
    int linked; /* {next, Pid} has arrived */
} ring_state;

static grove_err ring_init(grove_proc *self, const grove_term *arg, void **state)
{
    ring_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "~p", &st->main)) {
        free(st);
        return GROVE_EBADARG;
    }
    *state = st;
    return GROVE_OK;
}

static grove_ret ring_handle(grove_proc *self, const grove_term *msg, void *state)
{
    ring_state *st = state;
    int64_t k;
    if (!st->linked) {
        if (grove_match(msg, "{next, ~p}", &st->next))
            st->linked = 1;
        return GROVE_CONTINUE;
    }
    if (grove_match(msg, "{token, ~l}", &k)) {
        if (k == 0) {
            grove_send(self, st->main, grove_pack("ring_done"));
            grove_send(self, st->next, grove_pack("stop"));
            return grove_stop(self, NULL);
        }
        grove_send(self, st->next, grove_pack("{token, ~l}", k - 1));
        return GROVE_CONTINUE;
    }
    if (grove_match(msg, "stop")) {
        grove_send(self, st->next, grove_pack("stop"));
        return grove_stop(self, NULL);
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour ring_behaviour = {
    .name = "ring", .init = ring_init, .handle = ring_handle, .free_state = free};

int main(int argc, char **argv)
{
    long hops = bench_arg_n(argc, argv, 1000000);
    long size = 10000;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--size") == 0)
            size = atol(argv[i + 1]);
    grove_node *node = bench_node();
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid me = grove_waiter_pid(w);

    double s0 = bench_now();
    grove_pid *pids = malloc((size_t)size * sizeof *pids);
    for (long i = 0; i < size; i++)
        grove_spawn(node, &ring_behaviour, grove_pack("~p", me), NULL, &pids[i]);
    for (long i = 0; i < size; i++)
        grove_send(node, pids[i], grove_pack("{next, ~p}", pids[(i + 1) % size]));
    double s1 = bench_now();

    double t0 = bench_now();
    grove_send(node, pids[0], grove_pack("{token, ~l}", (int64_t)hops));
    bench_wait(w, "ring_done");
    double t1 = bench_now();

    bench_out("ring", (double)hops / (t1 - t0), "hops/s");
    bench_out("ring_setup", s1 - s0, "s");
    free(pids);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    return 0;
}
