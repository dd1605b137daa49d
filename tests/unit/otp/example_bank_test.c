/* The bank example: balance by call, deposit by cast, a refused
 * withdrawal, and a crashed account restarted by its supervisor. */
#include "otp_test.h"

#include "examples/bank/account.h"

static int64_t s_balance(grove_node *node, const char *who)
{
    int64_t b = -1;
    uint64_t end = gv_now_ms() + OT_TIMEOUT_MS;
    grove_err err;
    while ((err = account_balance(node, who, &b)) == GROVE_ENOPROC && gv_now_ms() < end)
        gv_sleep_ms(1); /* between a crash and the restart */
    assert_int_equal(err, GROVE_OK);
    return b;
}

static void test_deposits_and_withdrawals(void **state)
{
    grove_node *node = ot_node();
    grove_pid sup;
    assert_int_equal(bank_start(node, &sup), GROVE_OK);
    assert_int_equal(s_balance(node, "alice"), 100);
    assert_int_equal(account_deposit(node, "alice", 50), GROVE_OK);
    assert_int_equal(s_balance(node, "alice"), 150);
    assert_int_equal(account_withdraw(node, "bob", 80), GROVE_ERANGE);
    assert_int_equal(account_withdraw(node, "bob", 30), GROVE_OK);
    assert_int_equal(s_balance(node, "bob"), 20);
    assert_int_equal(account_deposit(node, "carol", 5), GROVE_ENOTFOUND);
    assert_int_equal(grove_supervisor_stop(node, sup, NULL, OT_TIMEOUT_MS), GROVE_OK);
    grove_node_stop(&node);
}

static void test_a_crashed_account_is_restarted_with_its_opening_balance(void **state)
{
    grove_node *node = ot_node();
    grove_pid sup;
    assert_int_equal(bank_start(node, &sup), GROVE_OK);
    account_deposit(node, "alice", 25);
    account_deposit(node, "bob", 7);
    assert_int_equal(s_balance(node, "alice"), 125);
    grove_pid before, after, bob_before, bob_after;
    assert_int_equal(grove_whereis(node, "alice", &before), GROVE_OK);
    assert_int_equal(grove_whereis(node, "bob", &bob_before), GROVE_OK);
    grove_waiter *w = ot_waiter(node);
    grove_ref mon;
    assert_int_equal(grove_waiter_monitor(w, before, &mon), GROVE_OK);
    grove_cast_name(node, "alice", grove_atom("crash"));
    grove_term *reason = ot_wait_down_ref(w, mon);
    ot_assert_match(reason, "{bug, 125}");
    grove_term_destroy(&reason);
    assert_int_equal(s_balance(node, "alice"), 100);
    assert_int_equal(grove_whereis(node, "alice", &after), GROVE_OK);
    assert_false(grove_pid_equal(before, after));
    /* one_for_one: bob kept his process and his money. */
    assert_int_equal(grove_whereis(node, "bob", &bob_after), GROVE_OK);
    assert_true(grove_pid_equal(bob_before, bob_after));
    assert_int_equal(s_balance(node, "bob"), 57);
    grove_waiter_destroy(&w);
    assert_int_equal(grove_supervisor_stop(node, sup, NULL, OT_TIMEOUT_MS), GROVE_OK);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deposits_and_withdrawals),
        cmocka_unit_test(test_a_crashed_account_is_restarted_with_its_opening_balance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
