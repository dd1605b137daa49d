/* The circuit breaker example: five failures in a row open it; an open
 * breaker refuses without running the operation; after the delay one
 * trial decides. */
#include "otp_test.h"

#include "examples/circuit_breaker/breaker.h"

static _Atomic int s_calls;

static grove_term *s_op(const grove_term *arg, void *udata)
{
    atomic_fetch_add(&s_calls, 1);
    return grove_match(arg, "up") ? grove_atom("pong") : NULL;
}

static grove_err s_run(grove_node *node, grove_pid b, const char *health)
{
    grove_term *arg = grove_atom(health), *r = NULL;
    grove_err err = breaker_run(node, b, s_op, arg, NULL, &r);
    grove_term_destroy(&arg);
    grove_term_destroy(&r);
    return err;
}

static breaker_state s_state(grove_node *node, grove_pid b)
{
    breaker_state st;
    assert_int_equal(breaker_get_state(node, b, &st), GROVE_OK);
    return st;
}

static void s_wait_state(grove_node *node, grove_pid b, breaker_state want)
{
    uint64_t end = gv_now_ms() + OT_TIMEOUT_MS;
    while (s_state(node, b) != want) {
        assert_true(gv_now_ms() < end);
        gv_sleep_ms(2);
    }
}

static void test_opens_after_five_failures_in_a_row(void **state)
{
    grove_node *node = ot_node();
    grove_pid b;
    assert_int_equal(breaker_start(node, 5, 60000, &b), GROVE_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s_run(node, b, "down"), GROVE_EIO);
    assert_int_equal(s_run(node, b, "up"), GROVE_OK); /* a success resets the count */
    for (int i = 0; i < 4; i++)
        assert_int_equal(s_run(node, b, "down"), GROVE_EIO);
    assert_int_equal(s_state(node, b), BREAKER_CLOSED);
    assert_int_equal(s_run(node, b, "down"), GROVE_EIO);
    assert_int_equal(s_state(node, b), BREAKER_OPEN);
    int before = atomic_load(&s_calls);
    assert_int_equal(s_run(node, b, "up"), GROVE_EAGAIN);
    assert_int_equal(atomic_load(&s_calls), before); /* refused without running */
    grove_node_stop(&node);
}

static void test_half_opens_after_the_delay_and_one_trial_decides(void **state)
{
    grove_node *node = ot_node();
    grove_pid b;
    assert_int_equal(breaker_start(node, 5, 50, &b), GROVE_OK);
    uint64_t opened = gv_now_ms();
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_run(node, b, "down"), GROVE_EIO);
    s_wait_state(node, b, BREAKER_HALF_OPEN);
    assert_true(gv_now_ms() - opened >= 50 - OT_TICK_MS);
    /* One trial at a time: while it is out, others are refused. */
    grove_term *r = NULL;
    assert_int_equal(grove_call(node, b, grove_atom("ask"), OT_TIMEOUT_MS, &r), GROVE_OK);
    ot_assert_match(r, "ok");
    grove_term_destroy(&r);
    assert_int_equal(grove_call(node, b, grove_atom("ask"), OT_TIMEOUT_MS, &r), GROVE_OK);
    ot_assert_match(r, "open");
    grove_term_destroy(&r);
    grove_cast(node, b, grove_pack("{report, failed}")); /* the trial failed: open again */
    assert_int_equal(s_state(node, b), BREAKER_OPEN);
    s_wait_state(node, b, BREAKER_HALF_OPEN);
    assert_int_equal(s_run(node, b, "up"), GROVE_OK); /* this trial succeeds */
    assert_int_equal(s_state(node, b), BREAKER_CLOSED);
    assert_int_equal(s_run(node, b, "up"), GROVE_OK);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_five_failures_in_a_row),
        cmocka_unit_test(test_half_opens_after_the_delay_and_one_trial_decides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
