/* Processes: ordering under load, exit signals overtaking queued
 * messages, postpone, receive timeouts, timers, blocking calls on
 * workers, init failure, inspection. */
#include "rt_probe.h"

#include "base/gv_clock.h"

/* ---- pairwise ordering under load ------------------------------------------ */

#define SENDERS 4
#define PER_SENDER 10000

typedef struct orderer {
    grove_pid report;
    grove_pid from[SENDERS];
    uint32_t next[SENDERS];
    unsigned nfrom, done;
    uint64_t total, violations;
} orderer;

static grove_err orderer_init(grove_proc *self, const grove_term *arg, void **state)
{
    orderer *o = gv_calloc(1, sizeof *o);
    grove_match(arg, "~p", &o->report);
    *state = o;
    return GROVE_OK;
}

static unsigned s_slot_of(orderer *o, grove_pid from)
{
    for (unsigned i = 0; i < o->nfrom; i++)
        if (grove_pid_equal(o->from[i], from))
            return i;
    o->from[o->nfrom] = from;
    return o->nfrom++;
}

static grove_ret orderer_handle(grove_proc *self, const grove_term *msg, void *state)
{
    orderer *o = state;
    grove_pid from;
    int64_t i;
    if (grove_match(msg, "{seq, ~p, ~l}", &from, &i)) {
        unsigned k = s_slot_of(o, from);
        if ((uint32_t)i != o->next[k])
            o->violations++;
        o->next[k] = (uint32_t)i + 1;
        o->total++;
    } else if (grove_match(msg, "{last, ~p}", &from)) {
        if (++o->done == SENDERS)
            grove_send(self, o->report, grove_pack("{ordered, ~u, ~u}", o->total, o->violations));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour orderer_behaviour = {
    .name = "orderer", .init = orderer_init, .handle = orderer_handle, .free_state = gv_free};

static grove_ret blaster_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid to;
    int64_t n;
    if (grove_match(msg, "{blast, ~p, ~l}", &to, &n)) {
        for (int64_t i = 0; i < n; i++)
            grove_send(self, to, grove_pack("{seq, ~p, ~l}", grove_self(self), i));
        grove_send(self, to, grove_pack("{last, ~p}", grove_self(self)));
        return grove_stop(self, NULL);
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour blaster_behaviour = {.name = "blaster", .handle = blaster_handle};

static void test_messages_from_each_sender_arrive_in_order_under_load(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid rx;
    grove_spawn(node, &orderer_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &rx);
    for (int i = 0; i < SENDERS; i++) {
        grove_pid b;
        grove_spawn(node, &blaster_behaviour, NULL, NULL, &b);
        grove_send(node, b, grove_pack("{blast, ~p, ~l}", rx, (int64_t)PER_SENDER));
    }
    grove_term *t = NULL;
    assert_int_equal(grove_waiter_recv_match(w, "{ordered, _, _}", 60000, &t), GROVE_OK);
    uint64_t total, violations;
    assert_true(grove_match(t, "{ordered, ~u, ~u}", &total, &violations));
    assert_int_equal(total, (uint64_t)SENDERS * PER_SENDER);
    assert_int_equal(violations, 0);
    grove_term_destroy(&t);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- an exit signal overtakes a long queue ------------------------------------ */

static _Atomic int s_release_blocker;

typedef struct counter {
    grove_pid report;
    uint64_t n;
} counter;

static grove_err counter_init(grove_proc *self, const grove_term *arg, void **state)
{
    counter *c = gv_calloc(1, sizeof *c);
    grove_match(arg, "~p", &c->report);
    *state = c;
    return GROVE_OK;
}

static grove_ret counter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    counter *c = state;
    if (grove_match(msg, "block")) {
        grove_send(self, c->report, grove_pack("{blocked, ~p, x}", grove_self(self)));
        while (!atomic_load_explicit(&s_release_blocker, memory_order_acquire))
            gv_sleep_ms(1); /* a test-only misbehaving handler */
        return GROVE_CONTINUE;
    }
    c->n++;
    return GROVE_CONTINUE;
}

static void counter_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    counter *c = state;
    grove_send(self, c->report, grove_pack("{count, ~p, ~u}", grove_self(self), c->n));
    grove_send(self, c->report,
               grove_pack("{terminated, ~p, ~t}", grove_self(self), grove_term_copy(reason)));
}

static const grove_behaviour counter_behaviour = {.name = "counter",
                                                  .init = counter_init,
                                                  .handle = counter_handle,
                                                  .terminate = counter_terminate,
                                                  .free_state = gv_free};

static void test_exit_signal_overtakes_a_million_queued_messages(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    atomic_store(&s_release_blocker, 0);
    grove_pid p;
    grove_spawn(node, &counter_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &p);
    grove_send(node, p, grove_atom("block"));
    grove_term *t = rt_expect_tag(w, "blocked", p);
    grove_term_destroy(&t);
    for (int i = 0; i < 1000000; i++)
        grove_send(node, p, grove_atom("m"));
    grove_exit(node, p, grove_atom("boom"));
    atomic_store_explicit(&s_release_blocker, 1, memory_order_release);
    grove_term *n = rt_expect_tag(w, "count", p);
    uint64_t handled;
    assert_true(grove_match(n, "~u", &handled));
    assert_int_equal(handled, 0); /* not one of the million ran first */
    grove_term_destroy(&n);
    rt_expect_terminated(w, p, "boom");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- postpone -------------------------------------------------------------------- */

typedef struct stasher {
    grove_pid report;
    bool ready;
} stasher;

static grove_err stasher_init(grove_proc *self, const grove_term *arg, void **state)
{
    stasher *s = gv_calloc(1, sizeof *s);
    grove_match(arg, "~p", &s->report);
    *state = s;
    return GROVE_OK;
}

static grove_ret stasher_handle(grove_proc *self, const grove_term *msg, void *state)
{
    stasher *s = state;
    if (grove_match(msg, "ready")) {
        s->ready = true;
        grove_unstash_all(self);
    } else if (!s->ready) {
        grove_postpone(self);
    } else {
        grove_send(self, s->report,
                   grove_pack("{got, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour stasher_behaviour = {
    .name = "stasher", .init = stasher_init, .handle = stasher_handle, .free_state = gv_free};

static void test_postponed_messages_come_back_in_order_before_later_ones(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p;
    grove_spawn(node, &stasher_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &p);
    for (int i = 1; i <= 5; i++)
        grove_send(node, p, grove_pack("{data, ~i}", i));
    grove_send(node, p, grove_atom("ready"));
    for (int i = 6; i <= 7; i++)
        grove_send(node, p, grove_pack("{data, ~i}", i));
    for (int i = 1; i <= 7; i++) {
        grove_term *t = rt_expect_tag(w, "got", p);
        int got;
        assert_true(grove_match(t, "{data, ~i}", &got));
        assert_int_equal(got, i);
        grove_term_destroy(&t);
    }
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- receive timeout and timers -------------------------------------------------- */

typedef struct timeouter {
    grove_pid report;
    uint64_t armed_at;
} timeouter;

static grove_err timeouter_init(grove_proc *self, const grove_term *arg, void **state)
{
    timeouter *t = gv_calloc(1, sizeof *t);
    grove_match(arg, "~p", &t->report);
    *state = t;
    return GROVE_OK;
}

static grove_ret timeouter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    timeouter *t = state;
    int64_t ms;
    grove_pid to;
    grove_term *m = NULL;
    if (grove_match(msg, "{arm, ~l}", &ms)) {
        t->armed_at = gv_now_ms();
        grove_set_timeout(self, ms);
    } else if (grove_match(msg, "timeout")) {
        grove_send(self, t->report,
                   grove_pack("{timeout, ~p, ~u}", grove_self(self), gv_now_ms() - t->armed_at));
    } else if (grove_match(msg, "{send_after, ~l, ~p, ~t}", &ms, &to, &m)) {
        grove_timer tm;
        grove_send_after(self, (uint64_t)ms, to, m, &tm);
    } else {
        grove_send(self, t->report,
                   grove_pack("{got, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour timeouter_behaviour = {
    .name = "timeouter", .init = timeouter_init, .handle = timeouter_handle, .free_state = gv_free};

static void test_receive_timeout_fires_after_silence_and_a_message_cancels_it(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p;
    grove_spawn(node, &timeouter_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &p);
    grove_send(node, p, grove_pack("{arm, 100}"));
    grove_term *t = rt_expect_tag(w, "timeout", p);
    uint64_t elapsed;
    assert_true(grove_match(t, "~u", &elapsed));
    assert_true(elapsed >= 100);
    grove_term_destroy(&t);
    /* armed, then a message within the window: no timeout */
    grove_send(node, p, grove_pack("{arm, 1000}"));
    grove_send(node, p, grove_atom("hello"));
    t = rt_expect_tag(w, "got", p);
    grove_term_destroy(&t);
    rt_expect_no_tag(w, "timeout", p, 1500);
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_timers_fire_in_deadline_order_and_cancel(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid me = grove_waiter_pid(w);
    uint64_t t0 = gv_now_ms();
    grove_timer a, b, c, d;
    /* gaps wide enough that a slow test thread cannot reorder them */
    assert_int_equal(grove_send_after(node, 800, me, grove_pack("{t, 800}"), &a), GROVE_OK);
    assert_int_equal(grove_send_after(node, 30, me, grove_pack("{t, 30}"), &b), GROVE_OK);
    assert_int_equal(grove_send_after(node, 400, me, grove_pack("{t, 400}"), &c), GROVE_OK);
    assert_int_equal(grove_send_after(node, 200, me, grove_pack("{t, 200}"), &d), GROVE_OK);
    assert_int_equal(grove_cancel_timer(node, d), GROVE_OK);
    assert_int_equal(grove_cancel_timer(node, d), GROVE_ENOTFOUND);
    int expect[] = {30, 400, 800};
    for (int i = 0; i < 3; i++) {
        grove_term *t = NULL;
        assert_int_equal(grove_waiter_recv(w, RT_TIMEOUT_MS, &t), GROVE_OK);
        int ms;
        assert_true(grove_match(t, "{t, ~i}", &ms));
        assert_int_equal(ms, expect[i]);
        assert_true(gv_now_ms() - t0 >= (uint64_t)ms);
        grove_term_destroy(&t);
    }
    assert_int_equal(grove_cancel_timer(node, a), GROVE_ENOTFOUND); /* fired */
    /* from a process, on its worker's wheel */
    grove_pid p;
    grove_spawn(node, &timeouter_behaviour, grove_pack("~p", me), NULL, &p);
    grove_send(node, p, grove_pack("{send_after, 300, ~p, {t, 300}}", me));
    grove_send(node, p, grove_pack("{send_after, 10, ~p, {t, 10}}", me));
    grove_term *t = rt_expect(w, "{t, _}");
    rt_assert_match(t, "{t, 10}");
    grove_term_destroy(&t);
    t = rt_expect(w, "{t, _}");
    rt_assert_match(t, "{t, 300}");
    grove_term_destroy(&t);
    /* a pending timer at stop is freed with the node */
    grove_send_after(node, 100000, me, grove_atom("never"), NULL);
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- blocking on a worker ------------------------------------------------------- */

static grove_waiter *s_foreign_waiter;

static grove_ret blocker_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid to;
    if (grove_match(msg, "{attempt, ~p}", &to)) {
        grove_term *t = NULL;
        grove_err err = grove_waiter_recv(s_foreign_waiter, 1000, &t);
        grove_send(self, to, grove_pack("{result, ~p, ~a}", grove_self(self), grove_errname(err)));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour blocker_behaviour = {.name = "blocker", .handle = blocker_handle};

static void test_blocking_receive_on_a_worker_returns_ewouldblock(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_waiter_new(node, &s_foreign_waiter);
    grove_pid p;
    grove_spawn(node, &blocker_behaviour, NULL, NULL, &p);
    grove_send(node, p, grove_pack("{attempt, ~p}", grove_waiter_pid(w)));
    grove_term *t = rt_expect_tag(w, "result", p);
    rt_assert_match(t, "'GROVE_EWOULDBLOCK'");
    grove_term_destroy(&t);
    grove_term *none = NULL;
    assert_int_equal(grove_waiter_recv(w, 10, &none), GROVE_ETIMEDOUT);
    grove_waiter_destroy(&s_foreign_waiter);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- init failure, inspection ---------------------------------------------------- */

static void test_failed_init_exits_with_init_failed(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p = rt_spawn_probe(node, w, false);
    /* the probe spawns one with a bad argument, monitored */
    grove_send(node, p, grove_pack("{send, ~p, ping}", p));
    rt_sync(node, w, p);
    grove_pid bad;
    grove_spawn(node, &probe_behaviour, grove_int(42), NULL, &bad);
    grove_ref ref;
    grove_waiter_monitor(w, bad, &ref);
    grove_term *d = rt_expect(w, "{'DOWN', _, process, _, _}");
    grove_term *reason = NULL;
    assert_true(grove_match(d, "{'DOWN', _, process, _, ~t}", &reason));
    /* it may have died before the monitor came: then noproc */
    assert_true(grove_match(reason, "{init_failed, 'GROVE_EBADARG'}") ||
                grove_match(reason, "noproc"));
    grove_term_destroy(&reason);
    grove_term_destroy(&d);
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_proc_info_and_node_stats_read_live_figures(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p = rt_spawn_probe(node, w, true);
    grove_pid q = rt_spawn_probe(node, w, false);
    grove_send(node, p, grove_pack("{link, ~p}", q));
    grove_send(node, p, grove_pack("{monitor, ~p}", q));
    rt_expect_free(w, "{monitoring, _}");
    rt_sync(node, w, p);
    grove_proc_info info;
    assert_int_equal(grove_proc_info_get(node, p, &info), GROVE_OK);
    assert_string_equal(info.behaviour, "probe");
    assert_string_equal(info.name, "probe");
    assert_true(info.handled >= 2); /* the third is counted after its reply */
    assert_int_equal(info.links, 1);
    assert_int_equal(info.monitors, 1);
    assert_true(info.trap_exit);
    assert_int_equal(info.parent.serial, 0);
    grove_node_stats st;
    grove_node_stats_get(node, &st);
    assert_int_equal(st.workers, 2);
    assert_true(st.processes >= 2);
    assert_true(st.spawned >= 2);
    rt_sync(node, w, q); /* killed before init, it would not report */
    grove_exit(node, q, grove_atom("kill"));
    rt_expect_terminated(w, q, "killed");
    rt_expect_free(w, "{got, _, {'EXIT', _, killed}}");
    assert_int_equal(grove_proc_info_get(node, q, &info), GROVE_ENOPROC);
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- blocking calls from outside ---------------------------------------------------- */

static grove_ret server_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid from;
    grove_ref ref;
    grove_term *req = NULL;
    if (grove_match(msg, "{call, ~p, ~r, ~t}", &from, &ref, &req)) {
        if (grove_match(req, "die"))
            return grove_stop(self, req);
        if (!grove_match(req, "ignore"))
            grove_send(self, from, grove_pack("{~r, {echo, ~t}}", ref, grove_term_copy(req)));
        grove_term_destroy(&req);
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour server_behaviour = {.name = "server", .handle = server_handle};

static grove_term *s_build(grove_pid self, grove_ref ref, void *arg)
{
    return grove_pack("{call, ~p, ~r, ~a}", self, ref, (const char *)arg);
}

static void test_waiter_call_gets_the_reply_or_the_exit_or_times_out(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid srv;
    grove_spawn(node, &server_behaviour, NULL, NULL, &srv);
    grove_term *reply = NULL;
    assert_int_equal(grove_waiter_call(w, srv, s_build, "hello", 10000, &reply), GROVE_OK);
    rt_assert_match(reply, "{echo, hello}");
    grove_term_destroy(&reply);
    assert_int_equal(grove_waiter_call(w, srv, s_build, "ignore", 50, &reply), GROVE_ETIMEDOUT);
    assert_null(reply);
    assert_int_equal(grove_waiter_call(w, srv, s_build, "die", 10000, &reply), GROVE_ENOPROC);
    assert_int_equal(grove_waiter_call(w, srv, s_build, "hello", 10000, &reply), GROVE_ENOPROC);
    grove_term *left = NULL;
    assert_int_equal(grove_waiter_recv(w, 20, &left), GROVE_ETIMEDOUT); /* nothing stray */
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- trace hooks ------------------------------------------------------------------ */

static _Atomic int s_spawns, s_sends, s_receives, s_exits;

static void tr_spawn(void *ctx, grove_pid parent, grove_pid child, const char *name)
{
    if (name && strcmp(name, "probe") == 0)
        atomic_fetch_add(&s_spawns, 1);
}

static void tr_send(void *ctx, grove_pid from, grove_pid to, const grove_term *msg)
{
    atomic_fetch_add(&s_sends, 1);
}

static void tr_receive(void *ctx, grove_pid self, const grove_term *msg)
{
    if (grove_match(msg, "ping"))
        atomic_fetch_add(&s_receives, 1);
}

static void tr_exit(void *ctx, grove_pid self, const grove_term *reason)
{
    if (grove_match(reason, "killed"))
        atomic_fetch_add(&s_exits, 1);
}

static const grove_trace_hooks s_hooks = {
    .on_spawn = tr_spawn, .on_send = tr_send, .on_receive = tr_receive, .on_exit = tr_exit};

static void test_trace_hooks_see_spawn_send_receive_and_exit(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_node_set_trace(node, &s_hooks);
    grove_pid p = rt_spawn_probe(node, w, false);
    rt_sync(node, w, p); /* one ping sent, received; one pong sent */
    grove_ref ref;
    grove_waiter_monitor(w, p, &ref);
    grove_exit(node, p, grove_atom("kill"));
    rt_expect_terminated(w, p, "killed");
    rt_expect_free(w, "{'DOWN', _, _, _, killed}"); /* the exit hook ran before it */
    grove_node_set_trace(node, NULL);
    grove_pid q = rt_spawn_probe(node, w, false); /* not traced */
    rt_sync(node, w, q);
    assert_int_equal(atomic_load(&s_spawns), 1);
    assert_int_equal(atomic_load(&s_receives), 1);
    assert_true(atomic_load(&s_sends) >= 3); /* ping, pong, terminated */
    assert_int_equal(atomic_load(&s_exits), 1);
    grove_exit(node, q, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_from_each_sender_arrive_in_order_under_load),
        cmocka_unit_test(test_exit_signal_overtakes_a_million_queued_messages),
        cmocka_unit_test(test_postponed_messages_come_back_in_order_before_later_ones),
        cmocka_unit_test(test_receive_timeout_fires_after_silence_and_a_message_cancels_it),
        cmocka_unit_test(test_timers_fire_in_deadline_order_and_cancel),
        cmocka_unit_test(test_blocking_receive_on_a_worker_returns_ewouldblock),
        cmocka_unit_test(test_failed_init_exits_with_init_failed),
        cmocka_unit_test(test_proc_info_and_node_stats_read_live_figures),
        cmocka_unit_test(test_waiter_call_gets_the_reply_or_the_exit_or_times_out),
        cmocka_unit_test(test_trace_hooks_see_spawn_send_receive_and_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
