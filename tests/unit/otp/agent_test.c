/* Agents: start, get, update, get_and_update, cast, stop, names, a function
 * that returns nothing, agents under a supervisor. */
#include "otp_test.h"

static grove_term *add(const grove_term *state, const grove_term *arg)
{
    int64_t n, k;
    if (!grove_match(state, "~l", &n) || !grove_match(arg, "~l", &k))
        return NULL;
    return grove_pack("~l", n + k);
}

static grove_term *times_ten(const grove_term *state, const grove_term *arg)
{
    int64_t n;
    grove_match(state, "~l", &n);
    return grove_pack("~l", n * 10);
}

/* Pops the head of a list: returns it, keeps the tail. */
static grove_term *pop(const grove_term *state, const grove_term *arg, grove_term **next)
{
    grove_term *head = NULL;
    if (!grove_match(state, "[~t | ~t]", &head, next)) {
        *next = grove_term_copy(state);
        return grove_atom("empty");
    }
    return head;
}

static grove_term *nothing(const grove_term *state, const grove_term *arg)
{
    return NULL;
}

static void test_get_update_and_get_and_update(void **state)
{
    grove_node *node = ot_node();
    grove_pid agent;
    assert_int_equal(grove_agent_start(node, grove_int(0), NULL, &agent), GROVE_OK);
    grove_term *v = NULL;
    assert_int_equal(grove_agent_get(node, agent, NULL, NULL, OT_TIMEOUT_MS, &v), GROVE_OK);
    ot_assert_match(v, "0");
    grove_term_destroy(&v);
    assert_int_equal(grove_agent_update(node, agent, add, grove_int(5), OT_TIMEOUT_MS), GROVE_OK);
    assert_int_equal(grove_agent_get(node, agent, times_ten, NULL, OT_TIMEOUT_MS, &v), GROVE_OK);
    ot_assert_match(v, "50");
    grove_term_destroy(&v);
    /* Casts are applied in order, before a later get. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(grove_agent_cast(node, agent, add, grove_int(1)), GROVE_OK);
    assert_int_equal(grove_agent_get(node, agent, NULL, NULL, OT_TIMEOUT_MS, &v), GROVE_OK);
    ot_assert_match(v, "15");
    grove_term_destroy(&v);
    assert_int_equal(grove_agent_stop(node, agent, NULL, OT_TIMEOUT_MS), GROVE_OK);
    assert_int_equal(grove_agent_get(node, agent, NULL, NULL, OT_TIMEOUT_MS, &v), GROVE_ENOPROC);
    grove_term_destroy(&v);
    /* get_and_update: a stack popped from the front. */
    assert_int_equal(grove_agent_start(node, grove_pack("[a, b]"), NULL, &agent), GROVE_OK);
    const char *want[] = {"a", "b", "empty"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(grove_agent_get_and_update(node, agent, pop, NULL, OT_TIMEOUT_MS, &v),
                         GROVE_OK);
        ot_assert_match(v, want[i]);
        grove_term_destroy(&v);
    }
    assert_int_equal(grove_agent_get(node, agent, NULL, NULL, OT_TIMEOUT_MS, &v), GROVE_OK);
    ot_assert_match(v, "[]");
    grove_term_destroy(&v);
    grove_node_stop(&node);
}

static void test_a_function_returning_nothing_stops_the_agent(void **state)
{
    grove_node *node = ot_node();
    grove_pid agent;
    assert_int_equal(grove_agent_start(node, grove_int(1), NULL, &agent), GROVE_OK);
    grove_term *v = NULL;
    assert_int_equal(grove_agent_update(node, agent, nothing, NULL, OT_TIMEOUT_MS), GROVE_ENOPROC);
    assert_false(ot_alive(node, agent));
    assert_int_equal(grove_agent_start(node, grove_int(1), NULL, &agent), GROVE_OK);
    assert_int_equal(grove_agent_get(node, agent, nothing, NULL, OT_TIMEOUT_MS, &v), GROVE_ENOPROC);
    ot_assert_match(v, "bad_return_value");
    grove_term_destroy(&v);
    assert_int_equal(grove_agent_update(node, agent, NULL, NULL, OT_TIMEOUT_MS), GROVE_EINVAL);
    grove_node_stop(&node);
}

static void test_named_agent_under_a_supervisor_restarts_with_its_initial_state(void **state)
{
    grove_node *node = ot_node();
    grove_pid sup;
    assert_int_equal(grove_dynsup_start(node, NULL, NULL, &sup), GROVE_OK);
    grove_pid agent;
    assert_int_equal(grove_dynsup_start_child(node, sup,
                                              &(grove_child_spec){.gen_server = &grove_agent_server,
                                                                  .arg = grove_int(100),
                                                                  .name = "counter"},
                                              &agent),
                     GROVE_OK);
    assert_int_equal(grove_agent_update(node, agent, add, grove_int(1), OT_TIMEOUT_MS), GROVE_OK);
    grove_term *v = NULL;
    assert_int_equal(grove_call_name(node, "counter", grove_pack("{'$agent', get, 0, noarg}"),
                                     OT_TIMEOUT_MS, &v),
                     GROVE_OK);
    ot_assert_match(v, "101");
    grove_term_destroy(&v);
    grove_waiter *w = ot_waiter(node);
    grove_node_exit(node, agent, grove_atom("kill"));
    grove_term *reason = ot_wait_down(w, agent);
    grove_term_destroy(&reason);
    grove_pid again;
    uint64_t end = gv_now_ms() + OT_TIMEOUT_MS;
    while (grove_whereis(node, "counter", &again) != GROVE_OK || grove_pid_equal(again, agent)) {
        assert_true(gv_now_ms() < end);
        gv_sleep_ms(1);
    }
    assert_int_equal(grove_agent_get(node, again, NULL, NULL, OT_TIMEOUT_MS, &v), GROVE_OK);
    ot_assert_match(v, "100");
    grove_term_destroy(&v);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_update_and_get_and_update),
        cmocka_unit_test(test_a_function_returning_nothing_stops_the_agent),
        cmocka_unit_test(test_named_agent_under_a_supervisor_restarts_with_its_initial_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
