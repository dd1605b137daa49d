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

/* ---- a receiver dying while a sender streams to it ------------------------------- */

static _Atomic int s_first_sent, s_victim_dead, s_streamed;

/* {stream, To, N}: one message, then (once the test has killed To) N more,
 * all in one run, then s_streamed (a flag, not a message: the last send of
 * the run goes to To). */
static grove_ret streamer_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid to;
    int64_t n;
    if (grove_match(msg, "{stream, ~p, ~l}", &to, &n)) {
        grove_send(self, to, grove_pack("{n, ~l}", (int64_t)0));
        atomic_store_explicit(&s_first_sent, 1, memory_order_release);
        for (int i = 0; i < 10000 && !atomic_load_explicit(&s_victim_dead, memory_order_acquire);
             i++)
            gv_sleep_ms(1); /* a test-only long handler */
        for (int64_t i = 1; i <= n; i++)
            grove_send(self, to, grove_pack("{n, ~l}", i));
        atomic_store_explicit(&s_streamed, 1, memory_order_release);
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour streamer_behaviour = {.name = "streamer", .handle = streamer_handle};

static bool s_wait_flag(_Atomic int *flag)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load_explicit(flag, memory_order_acquire))
            return true;
        gv_sleep_ms(1);
    }
    return false;
}

/* A sender's worker keeps what it needs to reach the receiver (a table
 * reference; docs/runtime.md, "The send cache"). The receiver dies while
 * the sender streams to it in one run: what is sent to it afterwards is
 * dropped, and its control block is reclaimed once the worker lets go (the
 * node's process count falls back; ASan checks nothing leaks). */
static void test_a_receiver_killed_while_a_sender_streams_to_it_is_reclaimed(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    atomic_store(&s_release_blocker, 0);
    atomic_store(&s_first_sent, 0);
    atomic_store(&s_victim_dead, 0);
    atomic_store(&s_streamed, 0);
    grove_pid victim, streamer;
    grove_spawn(node, &counter_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &victim);
    grove_send(node, victim, grove_atom("block")); /* busy: sends to it wake nobody */
    grove_term *t = rt_expect_tag(w, "blocked", victim);
    grove_term_destroy(&t);
    grove_spawn(node, &streamer_behaviour, NULL, NULL, &streamer);
    grove_send(node, streamer, grove_pack("{stream, ~p, ~l}", victim, (int64_t)1000));
    assert_true(s_wait_flag(&s_first_sent));

    grove_exit(node, victim, grove_atom("boom"));
    atomic_store_explicit(&s_release_blocker, 1, memory_order_release);
    grove_term *n = rt_expect_tag(w, "count", victim);
    uint64_t handled;
    assert_true(grove_match(n, "~u", &handled));
    assert_int_equal(handled, 0); /* the exit overtook the first message */
    grove_term_destroy(&n);
    rt_expect_terminated(w, victim, "boom");
    grove_proc_info info;
    assert_int_equal(grove_proc_info_get(node, victim, &info), GROVE_ENOPROC);
    atomic_store_explicit(&s_victim_dead, 1, memory_order_release);

    assert_true(s_wait_flag(&s_streamed));
    grove_node_stats st;
    for (int i = 0; i < 10000; i++) {
        grove_node_stats_get(node, &st);
        if (st.processes == 1)
            break;
        gv_sleep_ms(1);
    }
    assert_int_equal(st.processes, 1); /* the streamer alone */
    assert_int_equal(st.exited, 1);
    grove_exit(node, streamer, grove_atom("kill"));
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

/* ---- demonitor with flush --------------------------------------------------------- */

typedef struct holder {
    grove_pid report;
    bool holding;
} holder;

static grove_err holder_init(grove_proc *self, const grove_term *arg, void **state)
{
    holder *h = gv_calloc(1, sizeof *h);
    grove_match(arg, "~p", &h->report);
    h->holding = true;
    *state = h;
    return GROVE_OK;
}

/* {monitor, Pid} -> {monitoring, Self, Ref}; while holding, DOWNs are
 * postponed; {demonitor, Ref, Flush} -> {demonitored, Self, Result}, then
 * stops holding; a DOWN seen afterwards -> {down, Self, Ref}. */
static grove_ret holder_handle(grove_proc *self, const grove_term *msg, void *state)
{
    holder *h = state;
    grove_pid pid;
    grove_ref ref;
    if (grove_match(msg, "{monitor, ~p}", &pid)) {
        grove_monitor(self, pid, &ref);
        grove_send(self, h->report, grove_pack("{monitoring, ~p, ~r}", grove_self(self), ref));
    } else if (grove_match(msg, "{'DOWN', ~r, _, _, _}", &ref)) {
        if (h->holding)
            grove_postpone(self);
        else
            grove_send(self, h->report, grove_pack("{down, ~p, ~r}", grove_self(self), ref));
    } else if (grove_match(msg, "{demonitor, ~r, true}", &ref) ||
               grove_match(msg, "{demonitor, ~r, false}", &ref)) {
        bool flush = grove_match(msg, "{demonitor, _, true}");
        grove_err e = grove_demonitor(self, ref, flush);
        grove_send(self, h->report,
                   grove_pack("{demonitored, ~p, ~a}", grove_self(self), grove_errname(e)));
        h->holding = false;
        grove_unstash_all(self);
    } else if (grove_match(msg, "ping")) {
        grove_send(self, h->report, grove_pack("{pong, ~p}", grove_self(self)));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour holder_behaviour = {
    .name = "holder", .init = holder_init, .handle = holder_handle, .free_state = gv_free};

/* The monitored process has died and its DOWN waits, postponed, in the
 * monitoring process: demonitor with flush removes it (the monitor has
 * fired, yet the call succeeds); without flush it arrives. */
static void test_demonitor_flush_removes_a_down_that_is_already_queued(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    for (int flush = 1; flush >= 0; flush--) {
        grove_pid hp, target;
        grove_spawn(node, &holder_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &hp);
        target = rt_spawn_probe(node, w, false);
        grove_send(node, hp, grove_pack("{monitor, ~p}", target));
        grove_term *t = rt_expect_tag(w, "monitoring", hp);
        grove_ref ref;
        assert_true(grove_match(t, "~r", &ref));
        grove_term_destroy(&t);
        grove_ref wref;
        assert_int_equal(grove_waiter_monitor(w, target, &wref), GROVE_OK);
        grove_exit(node, target, grove_atom("kill"));
        /* The target sends its DOWNs in monitor order: once the waiter's
         * is here, the holder's was pushed before the ping below. */
        rt_expect_free(w, "{'DOWN', _, process, _, killed}");
        rt_sync(node, w, hp); /* the DOWN is now postponed */
        grove_send(node, hp, grove_pack("{demonitor, ~r, ~a}", ref, flush ? "true" : "false"));
        t = rt_expect_tag(w, "demonitored", hp);
        assert_true(grove_match(t, flush ? "'GROVE_OK'" : "'GROVE_ENOTFOUND'"));
        grove_term_destroy(&t);
        if (flush) {
            rt_sync(node, w, hp);
            rt_expect_no_tag(w, "down", hp, 100);
        } else {
            t = rt_expect_tag(w, "down", hp);
            grove_ref got;
            assert_true(grove_match(t, "~r", &got));
            assert_true(grove_ref_equal(&got, &ref));
            grove_term_destroy(&t);
        }
        grove_exit(node, hp, grove_atom("kill"));
    }
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- timers are never early ---------------------------------------------------- */

#define TIMED_ROUNDS 150

typedef struct timekeeper {
    grove_pid report;
    int round;
    uint64_t armed_ns, want_ms;
    uint64_t early, fired;
} timekeeper;

static grove_err timekeeper_init(grove_proc *self, const grove_term *arg, void **state)
{
    timekeeper *k = gv_calloc(1, sizeof *k);
    grove_match(arg, "~p", &k->report);
    *state = k;
    return GROVE_OK;
}

/* Arms the next timer: a send_after on even rounds, a receive timeout on
 * odd ones, 1 to 3 ms, armed at whatever point of a millisecond the
 * previous one fired at. */
static void s_arm_next(grove_proc *self, timekeeper *k)
{
    k->want_ms = 1 + (uint64_t)(k->round % 3);
    k->armed_ns = gv_now_ns();
    if (k->round % 2 == 0)
        grove_send_after(self, k->want_ms, grove_self(self), grove_atom("tick"), NULL);
    else
        grove_set_timeout(self, (int64_t)k->want_ms);
}

static grove_ret timekeeper_handle(grove_proc *self, const grove_term *msg, void *state)
{
    timekeeper *k = state;
    if (grove_match(msg, "start")) {
        s_arm_next(self, k);
        return GROVE_CONTINUE;
    }
    if (!grove_match(msg, "tick") && !grove_match(msg, "timeout"))
        return GROVE_CONTINUE;
    if (gv_now_ns() - k->armed_ns < k->want_ms * 1000000u)
        k->early++;
    k->fired++;
    if (++k->round < TIMED_ROUNDS)
        s_arm_next(self, k);
    else
        grove_send(self, k->report, grove_pack("{timed, ~u, ~u}", k->fired, k->early));
    return GROVE_CONTINUE;
}

static const grove_behaviour timekeeper_behaviour = {.name = "timekeeper",
                                                     .init = timekeeper_init,
                                                     .handle = timekeeper_handle,
                                                     .free_state = gv_free};

/* The wheel ticks in whole milliseconds: a timer armed late in a tick must
 * still wait its whole duration (a lower bound, checked 150 times). */
static void test_timers_and_receive_timeouts_never_fire_early(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p;
    grove_spawn(node, &timekeeper_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &p);
    grove_send(node, p, grove_atom("start"));
    grove_term *t = rt_expect(w, "{timed, _, _}");
    uint64_t fired, early;
    assert_true(grove_match(t, "{timed, ~u, ~u}", &fired, &early));
    assert_int_equal(fired, TIMED_ROUNDS);
    assert_int_equal(early, 0);
    grove_term_destroy(&t);
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

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
        cmocka_unit_test(test_a_receiver_killed_while_a_sender_streams_to_it_is_reclaimed),
        cmocka_unit_test(test_postponed_messages_come_back_in_order_before_later_ones),
        cmocka_unit_test(test_receive_timeout_fires_after_silence_and_a_message_cancels_it),
        cmocka_unit_test(test_timers_fire_in_deadline_order_and_cancel),
        cmocka_unit_test(test_timers_and_receive_timeouts_never_fire_early),
        cmocka_unit_test(test_demonitor_flush_removes_a_down_that_is_already_queued),
        cmocka_unit_test(test_blocking_receive_on_a_worker_returns_ewouldblock),
        cmocka_unit_test(test_failed_init_exits_with_init_failed),
        cmocka_unit_test(test_proc_info_and_node_stats_read_live_figures),
        cmocka_unit_test(test_waiter_call_gets_the_reply_or_the_exit_or_times_out),
        cmocka_unit_test(test_trace_hooks_see_spawn_send_receive_and_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
