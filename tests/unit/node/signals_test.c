/* Links, monitors and exit signals, as Erlang defines them. Each scenario
 * runs on a normal 2-worker node and, for replayable coverage of
 * interleavings, on deterministic nodes over many seeds. */
#include "rt_probe.h"

typedef void (*scenario)(grove_node *node, grove_waiter *w);

/* A links to B through A itself, then pings B through A, so B has
 * handled the LINK (pairwise order A->B) when the pong arrives. */
static void s_link(grove_node *node, grove_waiter *w, grove_pid a, grove_pid b)
{
    grove_send(node, a, grove_pack("{link, ~p}", b));
    grove_send(node, a, grove_pack("{send, ~p, ping}", b));
    rt_expect_free(w, "{pong, _}");
    rt_sync(node, w, a);
}

static void sc_link_propagates_abnormal_exit(grove_node *node, grove_waiter *w)
{
    grove_pid a = rt_spawn_probe(node, w, false);
    grove_pid b = rt_spawn_probe(node, w, false);
    s_link(node, w, a, b);
    grove_send(node, b, grove_pack("{stop, boom}"));
    rt_expect_terminated(w, b, "boom");
    rt_expect_terminated(w, a, "boom");
}

static void sc_trap_exit_converts_exit_signal_to_message(grove_node *node, grove_waiter *w)
{
    grove_pid a = rt_spawn_probe(node, w, true);
    grove_pid b = rt_spawn_probe(node, w, false);
    s_link(node, w, a, b);
    grove_send(node, b, grove_pack("{stop, {shutdown, why}}"));
    rt_expect_terminated(w, b, "{shutdown, why}");
    grove_term *m = rt_expect_tag(w, "got", a);
    grove_pid from;
    assert_true(grove_match(m, "{'EXIT', ~p, {shutdown, why}}", &from));
    assert_true(grove_pid_equal(from, b));
    grove_term_destroy(&m);
    rt_sync(node, w, a); /* still alive */
    grove_send(node, a, grove_pack("{stop, normal}"));
    rt_expect_terminated(w, a, "normal");
}

static void sc_kill_is_untrappable_and_links_see_killed(grove_node *node, grove_waiter *w)
{
    grove_pid a = rt_spawn_probe(node, w, true); /* traps, yet dies */
    grove_pid b = rt_spawn_probe(node, w, false);
    grove_pid c = rt_spawn_probe(node, w, true);
    s_link(node, w, a, b);
    s_link(node, w, a, c);
    grove_exit(node, a, grove_atom("kill"));
    rt_expect_terminated(w, a, "killed");
    rt_expect_terminated(w, b, "killed");
    grove_term *m = rt_expect_tag(w, "got", c);
    grove_pid from;
    assert_true(grove_match(m, "{'EXIT', ~p, killed}", &from));
    assert_true(grove_pid_equal(from, a));
    grove_term_destroy(&m);
    grove_exit(node, c, grove_atom("kill"));
    rt_expect_terminated(w, c, "killed");
}

static void sc_normal_exit_does_not_kill_linked_processes(grove_node *node, grove_waiter *w)
{
    grove_pid a = rt_spawn_probe(node, w, false);
    grove_pid b = rt_spawn_probe(node, w, false);
    grove_pid c = rt_spawn_probe(node, w, true);
    s_link(node, w, a, b);
    s_link(node, w, c, b);
    grove_send(node, b, grove_pack("{stop, normal}"));
    rt_expect_terminated(w, b, "normal");
    grove_term *m = rt_expect_tag(w, "got", c);
    rt_assert_match(m, "{'EXIT', _, normal}");
    grove_term_destroy(&m);
    rt_sync(node, w, a);
    rt_expect_no_tag(w, "terminated", a, 50);
    /* exit/2 with normal is ignored too; a trapping target sees it. */
    grove_exit(node, a, grove_atom("normal"));
    grove_exit(node, c, grove_atom("normal"));
    m = rt_expect_tag(w, "got", c);
    rt_assert_match(m, "{'EXIT', _, normal}");
    grove_term_destroy(&m);
    rt_sync(node, w, a);
    /* ... unless a process sends it to itself. */
    grove_send(node, a, grove_pack("{exit, ~p, normal}", a));
    rt_expect_terminated(w, a, "normal");
    grove_exit(node, c, grove_atom("custom"));
    m = rt_expect_tag(w, "got", c);
    rt_assert_match(m, "{'EXIT', _, custom}");
    grove_term_destroy(&m);
    grove_send(node, c, grove_pack("{trap, false}"));
    rt_sync(node, w, c); /* an exit signal would overtake the message */
    grove_exit(node, c, grove_atom("custom"));
    rt_expect_terminated(w, c, "custom");
}

static void sc_every_down_reason(grove_node *node, grove_waiter *w)
{
    const char *reasons[] = {"normal", "boom", "{shutdown, x}"};
    for (unsigned i = 0; i < 3; i++) {
        grove_pid p = rt_spawn_probe(node, w, false);
        grove_ref ref, got;
        assert_int_equal(grove_waiter_monitor(w, p, &ref), GROVE_OK);
        char cmd[64];
        snprintf(cmd, sizeof cmd, "{stop, %s}", reasons[i]);
        grove_send(node, p, grove_pack(cmd));
        rt_expect_terminated(w, p, reasons[i]);
        grove_term *d = rt_expect(w, "{'DOWN', _, process, _, _}");
        grove_term *reason = NULL;
        grove_pid who;
        assert_true(grove_match(d, "{'DOWN', ~r, process, ~p, ~t}", &got, &who, &reason));
        assert_true(grove_ref_equal(&got, &ref));
        assert_true(grove_pid_equal(who, p));
        rt_assert_match(reason, reasons[i]);
        grove_term_destroy(&reason);
        grove_term_destroy(&d);
    }
    /* killed */
    grove_pid k = rt_spawn_probe(node, w, false);
    grove_ref ref;
    grove_waiter_monitor(w, k, &ref);
    rt_sync(node, w, k); /* killed before init, it would not report */
    grove_exit(node, k, grove_atom("kill"));
    grove_term *d = rt_expect(w, "{'DOWN', _, process, _, killed}");
    grove_term_destroy(&d);
    rt_expect_free(w, "{terminated, _, killed}");
    /* noproc at once for a dead pid */
    grove_waiter_monitor(w, k, &ref);
    d = rt_expect(w, "{'DOWN', _, process, _, noproc}");
    grove_term_destroy(&d);
    /* noconnection for a pid on a node that is not connected */
    grove_nodename other;
    assert_int_equal(grove_nodename_intern("other@nowhere", 13, &other), GROVE_OK);
    grove_pid far = {.node = other, .id = 1, .serial = 1, .creation = 7};
    grove_waiter_monitor(w, far, &ref);
    d = rt_expect(w, "{'DOWN', _, process, _, noconnection}");
    grove_term_destroy(&d);
    /* from a process, too */
    grove_pid p = rt_spawn_probe(node, w, false);
    grove_pid q = rt_spawn_probe(node, w, false);
    grove_send(node, p, grove_pack("{monitor, ~p}", q));
    grove_term *r = rt_expect(w, "{monitoring, _}");
    grove_term_destroy(&r);
    grove_send(node, q, grove_pack("{stop, boom}"));
    grove_term *m = rt_expect_tag(w, "got", p);
    grove_pid who;
    assert_true(grove_match(m, "{'DOWN', _, process, ~p, boom}", &who));
    assert_true(grove_pid_equal(who, q));
    grove_term_destroy(&m);
    grove_exit(node, p, grove_atom("kill"));
    rt_expect_terminated(w, p, "killed");
}

static void sc_link_to_dead_pid_gives_noproc(grove_node *node, grove_waiter *w)
{
    grove_pid dead = rt_spawn_probe(node, w, false);
    grove_send(node, dead, grove_pack("{stop, normal}"));
    rt_expect_terminated(w, dead, "normal");
    grove_pid a = rt_spawn_probe(node, w, true);
    grove_send(node, a, grove_pack("{link, ~p}", dead));
    grove_term *m = rt_expect_tag(w, "got", a);
    grove_pid from;
    assert_true(grove_match(m, "{'EXIT', ~p, noproc}", &from));
    assert_true(grove_pid_equal(from, dead));
    grove_term_destroy(&m);
    grove_pid b = rt_spawn_probe(node, w, false);
    grove_send(node, b, grove_pack("{link, ~p}", dead));
    rt_expect_terminated(w, b, "noproc");
    grove_exit(node, a, grove_atom("kill"));
    rt_expect_terminated(w, a, "killed");
}

static void sc_unlink_and_demonitor_stop_signals(grove_node *node, grove_waiter *w)
{
    grove_pid a = rt_spawn_probe(node, w, false);
    grove_pid b = rt_spawn_probe(node, w, false);
    s_link(node, w, a, b);
    grove_send(node, a, grove_pack("{unlink, ~p}", b));
    grove_send(node, a, grove_pack("{send, ~p, ping}", b));
    rt_expect_free(w, "{pong, _}");
    grove_ref ref;
    grove_waiter_monitor(w, b, &ref);
    assert_int_equal(grove_waiter_demonitor(w, ref), GROVE_OK);
    assert_int_equal(grove_waiter_demonitor(w, ref), GROVE_ENOTFOUND);
    grove_send(node, b, grove_pack("{stop, boom}"));
    rt_expect_terminated(w, b, "boom");
    rt_sync(node, w, a);
    rt_expect_no_tag(w, "terminated", a, 50);
    rt_expect_none(w, "{'DOWN', _, _, _, _}", 20);
    grove_send(node, a, grove_pack("{stop, normal}"));
    rt_expect_terminated(w, a, "normal");
}

static void sc_spawn_link_child_dies_with_parent(grove_node *node, grove_waiter *w)
{
    grove_pid parent = rt_spawn_probe(node, w, false);
    grove_send(node, parent, grove_atom("spawn_link"));
    grove_term *t = rt_expect(w, "{spawned, _}");
    grove_pid child;
    assert_true(grove_match(t, "{spawned, ~p}", &child));
    grove_term_destroy(&t);
    rt_sync(node, w, child); /* killed before init, it would not report */
    grove_exit(node, parent, grove_atom("boom"));
    rt_expect_terminated(w, parent, "boom");
    rt_expect_terminated(w, child, "boom");
}

static void sc_message_before_down_from_one_sender(grove_node *node, grove_waiter *w)
{
    grove_pid p = rt_spawn_probe(node, w, false);
    grove_pid q = rt_spawn_probe(node, w, false);
    grove_send(node, p, grove_pack("{monitor, ~p}", q));
    grove_term *r = rt_expect(w, "{monitoring, _}");
    grove_term_destroy(&r);
    /* q sends to p, then dies: p sees the message, then the DOWN. */
    grove_send(node, q, grove_pack("{send, ~p, hello}", p));
    grove_send(node, q, grove_pack("{stop, boom}"));
    grove_term *m1 = rt_expect_tag(w, "got", p);
    grove_term *m2 = rt_expect_tag(w, "got", p);
    rt_assert_match(m1, "hello");
    rt_assert_match(m2, "{'DOWN', _, process, _, boom}");
    grove_term_destroy(&m1);
    grove_term_destroy(&m2);
    rt_expect_terminated(w, q, "boom");
    grove_send(node, p, grove_pack("{stop, normal}"));
    rt_expect_terminated(w, p, "normal");
}

static const struct {
    const char *name;
    scenario fn;
} s_scenarios[] = {
    {"link_propagates_abnormal_exit", sc_link_propagates_abnormal_exit},
    {"trap_exit_converts_exit_signal_to_message", sc_trap_exit_converts_exit_signal_to_message},
    {"kill_is_untrappable_and_links_see_killed", sc_kill_is_untrappable_and_links_see_killed},
    {"normal_exit_does_not_kill_linked_processes", sc_normal_exit_does_not_kill_linked_processes},
    {"every_down_reason", sc_every_down_reason},
    {"link_to_dead_pid_gives_noproc", sc_link_to_dead_pid_gives_noproc},
    {"unlink_and_demonitor_stop_signals", sc_unlink_and_demonitor_stop_signals},
    {"spawn_link_child_dies_with_parent", sc_spawn_link_child_dies_with_parent},
    {"message_before_down_from_one_sender", sc_message_before_down_from_one_sender},
};

static void s_run(scenario fn, uint64_t seed)
{
    grove_node *node = rt_node(seed);
    grove_waiter *w;
    assert_int_equal(grove_waiter_new(node, &w), GROVE_OK);
    fn(node, w);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    assert_null(node);
}

#define SCENARIO_TEST(name)               \
    static void test_##name(void **state) \
    {                                     \
        (void)state;                      \
        s_run(sc_##name, 0);              \
    }
SCENARIO_TEST(link_propagates_abnormal_exit)
SCENARIO_TEST(trap_exit_converts_exit_signal_to_message)
SCENARIO_TEST(kill_is_untrappable_and_links_see_killed)
SCENARIO_TEST(normal_exit_does_not_kill_linked_processes)
SCENARIO_TEST(every_down_reason)
SCENARIO_TEST(link_to_dead_pid_gives_noproc)
SCENARIO_TEST(unlink_and_demonitor_stop_signals)
SCENARIO_TEST(spawn_link_child_dies_with_parent)
SCENARIO_TEST(message_before_down_from_one_sender)

static void test_signal_scenarios_hold_over_many_deterministic_seeds(void **state)
{
    (void)state;
    unsigned seeds = rt_seed_count(12);
    for (uint64_t seed = 1; seed <= seeds; seed++)
        for (unsigned i = 0; i < sizeof s_scenarios / sizeof s_scenarios[0]; i++)
            s_run(s_scenarios[i].fn, seed * 7919);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_propagates_abnormal_exit),
        cmocka_unit_test(test_trap_exit_converts_exit_signal_to_message),
        cmocka_unit_test(test_kill_is_untrappable_and_links_see_killed),
        cmocka_unit_test(test_normal_exit_does_not_kill_linked_processes),
        cmocka_unit_test(test_every_down_reason),
        cmocka_unit_test(test_link_to_dead_pid_gives_noproc),
        cmocka_unit_test(test_unlink_and_demonitor_stop_signals),
        cmocka_unit_test(test_spawn_link_child_dies_with_parent),
        cmocka_unit_test(test_message_before_down_from_one_sender),
        cmocka_unit_test(test_signal_scenarios_hold_over_many_deterministic_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
