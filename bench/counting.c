/*
 * counting - one receiver counts 5,000,000 messages from 2 senders
 * (DESIGN.md section 10; Erlang: anchors_local.erl `counting2`).
 *
 * The counter takes `inc` N times, then tells main `counted`. Each sender
 * sends N/2 `inc`s. As in the Erlang program the clock runs from before
 * the counter is spawned until `counted` arrives.
 *
 * A Grove handler is never preempted, so a sender does not send its
 * 2,500,000 messages in one handler (that would hold a worker for the
 * whole run): it sends a slice of 1,000, then sends itself `more` and
 * returns, as a well-behaved process does. Erlang preempts its senders
 * every few thousand reductions, to much the same effect.
 *
 *   counting [-n N] [--senders S] [--slice K] [--copy]
 *
 * Prints `counting <msgs/s> msgs/s`. With --copy the `inc` is built once
 * and copied with grove_term_copy, and recognised with grove_term_equal
 * (`counting_copy`).
 */
#include "bench.h"

#include <stdatomic.h>

static int s_copy;
static long s_slice = 1000;
static double s_sender_done[64]; /* --trace: when each sender finished */
static _Atomic long s_counted;   /* --trace: the counter's progress */
static int s_trace;
static double s_t0;

typedef struct counter_state {
    grove_pid main;
    int64_t left;
    grove_term *inc; /* --copy: to compare with */
} counter_state;

static grove_err counter_init(grove_proc *self, const grove_term *arg, void **state)
{
    counter_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "{~p, ~l}", &st->main, &st->left)) {
        free(st);
        return GROVE_EBADARG;
    }
    st->inc = grove_atom("inc");
    *state = st;
    return GROVE_OK;
}

static grove_ret counter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    counter_state *st = state;
    if (s_copy ? grove_term_equal(msg, st->inc) : grove_match(msg, "inc")) {
        if (s_trace)
            atomic_store_explicit(&s_counted, st->left, memory_order_relaxed);
        if (--st->left == 0) {
            grove_send(self, st->main, grove_pack("counted"));
            return grove_stop(self, NULL);
        }
    }
    return GROVE_CONTINUE;
}

static void counter_free(void *state)
{
    counter_state *st = state;
    grove_term_destroy(&st->inc);
    free(st);
}

static const grove_behaviour counter_behaviour = {
    .name = "counter", .init = counter_init, .handle = counter_handle, .free_state = counter_free};

typedef struct sender_state {
    int index;
    grove_pid to;
    int64_t left;
    grove_term *inc; /* --copy: built once */
} sender_state;

static void s_send_slice(grove_proc *self, sender_state *st)
{
    for (long i = 0; i < s_slice && st->left > 0; i++, st->left--)
        grove_send(self, st->to, s_copy ? grove_term_copy(st->inc) : grove_pack("inc"));
    if (st->left > 0)
        grove_send(self, grove_self(self), grove_pack("more"));
}

static grove_err sender_init(grove_proc *self, const grove_term *arg, void **state)
{
    sender_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "{~i, ~p, ~l}", &st->index, &st->to, &st->left)) {
        free(st);
        return GROVE_EBADARG;
    }
    st->inc = grove_atom("inc");
    *state = st;
    s_send_slice(self, st);
    return GROVE_OK;
}

static grove_ret sender_handle(grove_proc *self, const grove_term *msg, void *state)
{
    sender_state *st = state;
    if (grove_match(msg, "more"))
        s_send_slice(self, st);
    if (st->left > 0)
        return GROVE_CONTINUE;
    if (s_trace) {
        s_sender_done[st->index] = bench_now();
        fprintf(stderr, "sender %d done at %.3f s, counter has %ld left\n", st->index,
                s_sender_done[st->index] - s_t0, atomic_load(&s_counted));
    }
    return grove_stop(self, NULL);
}

static void sender_free(void *state)
{
    sender_state *st = state;
    grove_term_destroy(&st->inc);
    free(st);
}

static const grove_behaviour sender_behaviour = {
    .name = "sender", .init = sender_init, .handle = sender_handle, .free_state = sender_free};

int main(int argc, char **argv)
{
    long n = bench_arg_n(argc, argv, 5000000);
    long senders = 2;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--senders") == 0)
            senders = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--slice") == 0)
            s_slice = atol(argv[i + 1]);
    }
    s_copy = bench_has_flag(argc, argv, "--copy");
    s_trace = bench_has_flag(argc, argv, "--trace");
    grove_node *node = bench_node();
    grove_waiter *w;
    grove_waiter_new(node, &w);

    double t0 = s_t0 = bench_now();
    grove_pid counter;
    grove_spawn(node, &counter_behaviour, grove_pack("{~p, ~l}", grove_waiter_pid(w), (int64_t)n),
                NULL, &counter);
    for (long i = 0; i < senders; i++)
        grove_spawn(node, &sender_behaviour,
                    grove_pack("{~i, ~p, ~l}", (int)i, counter, (int64_t)(n / senders)), NULL,
                    NULL);
    bench_wait(w, "counted");
    double t1 = bench_now();

    bench_out(s_copy ? "counting_copy" : "counting", (double)n / (t1 - t0), "msgs/s");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    return 0;
}
