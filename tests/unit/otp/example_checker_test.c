/* The concurrent checker example: 100 slow checks, at most ten at a time,
 * results in input order. */
#include "otp_test.h"

#include "examples/checker/checker.h"

static void test_checks_run_ten_at_a_time_and_come_back_in_order(void **state)
{
    setenv("GROVE_TASK_THREADS", "16", 1); /* more threads than the bound */
    grove_node *node = ot_node();
    int64_t inputs[100];
    grove_term *results[100];
    for (int i = 0; i < 100; i++)
        inputs[i] = 100 - i; /* descending: the order is the input's */
    checker_stats stats = {0};
    uint64_t t0 = gv_now_ms();
    assert_int_equal(checker_run(node, inputs, 100, 10, 20, &stats, results), GROVE_OK);
    uint64_t took = gv_now_ms() - t0;
    int primes = 0;
    for (int i = 0; i < 100; i++) {
        int64_t n;
        char kind[16];
        assert_true(grove_match(results[i], "{ok, {~l, ~a}}", &n, kind, sizeof kind));
        assert_int_equal(n, inputs[i]);
        primes += strcmp(kind, "prime") == 0;
        grove_term_destroy(&results[i]);
    }
    assert_int_equal(primes, 25);
    assert_true(atomic_load(&stats.max_running) <= 10);
    assert_true(atomic_load(&stats.max_running) >= 2);
    /* Ten at a time, 20 ms each: 100 checks cannot take less than 200 ms. */
    assert_true(took >= 200);
    unsetenv("GROVE_TASK_THREADS");
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks_run_ten_at_a_time_and_come_back_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
