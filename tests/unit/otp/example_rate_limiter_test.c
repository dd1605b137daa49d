/* The rate limiter example: N per window per client, 5 concurrent clients
 * of 20 requests each, and a window that slides. */
#include "otp_test.h"

#include "examples/rate_limiter/rate_limiter.h"

static void test_five_concurrent_clients_each_get_their_limit(void **state)
{
    grove_node *node = ot_node();
    grove_pid l;
    assert_int_equal(rate_limiter_start(node, 10, 60000, &l), GROVE_OK);
    unsigned allowed[5];
    assert_int_equal(rate_limiter_storm(node, l, 5, 20, allowed), GROVE_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(allowed[i], 10);
    /* Within the minute, nothing more for them; a new client has its own. */
    bool ok;
    assert_int_equal(rate_limiter_check(node, l, "client-3", &ok), GROVE_OK);
    assert_false(ok);
    assert_int_equal(rate_limiter_check(node, l, "newcomer", &ok), GROVE_OK);
    assert_true(ok);
    grove_node_stop(&node);
}

static void test_the_window_slides(void **state)
{
    grove_node *node = ot_node();
    grove_pid l;
    assert_int_equal(rate_limiter_start(node, 3, 100, &l), GROVE_OK);
    bool ok;
    uint64_t t0 = gv_now_ms();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rate_limiter_check(node, l, "c", &ok), GROVE_OK);
        assert_true(ok);
    }
    assert_int_equal(rate_limiter_check(node, l, "c", &ok), GROVE_OK);
    if (gv_now_ms() - t0 < 100) /* still inside the window (it is 100 ms) */
        assert_false(ok);
    uint64_t end = gv_now_ms() + OT_TIMEOUT_MS;
    do {
        gv_sleep_ms(5);
        assert_int_equal(rate_limiter_check(node, l, "c", &ok), GROVE_OK);
        assert_true(gv_now_ms() < end);
    } while (!ok);
    assert_true(gv_now_ms() - t0 >= 100 - OT_TICK_MS); /* room only once the window moved */
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_five_concurrent_clients_each_get_their_limit),
        cmocka_unit_test(test_the_window_slides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
