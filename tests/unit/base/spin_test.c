/*
 * spin_test.c - the learned spin budget (base/gv_spin.h): gaps within the
 * longest spin restore it, longer ones halve it down to nothing, and a
 * short gap after it reached nothing turns it on again.
 */
#include "base/gv_spin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_starts_at_the_longest_spin(void **state)
{
    (void)state;
    gv_spin s;
    gv_spin_init(&s, 30000);
    assert_int_equal(s.ns, 30000);
    assert_int_equal(s.max, 30000);
}

static void test_long_gaps_halve_it_down_to_nothing(void **state)
{
    (void)state;
    gv_spin s;
    gv_spin_init(&s, 32000);
    gv_spin_learn(&s, 100000);
    assert_int_equal(s.ns, 16000);
    gv_spin_learn(&s, 32001); /* just over the longest spin: a miss */
    assert_int_equal(s.ns, 8000);
    for (int i = 0; i < 4 && s.ns; i++)
        gv_spin_learn(&s, UINT64_MAX);
    assert_int_equal(s.ns, 0);
    gv_spin_learn(&s, UINT64_MAX); /* stays off */
    assert_int_equal(s.ns, 0);
}

static void test_a_gap_within_the_longest_spin_restores_it(void **state)
{
    (void)state;
    gv_spin s;
    gv_spin_init(&s, 30000);
    for (int i = 0; i < 10; i++)
        gv_spin_learn(&s, 1000000);
    assert_int_equal(s.ns, 0);
    gv_spin_learn(&s, 30000); /* exactly the longest spin: it would have paid */
    assert_int_equal(s.ns, 30000);
    gv_spin_learn(&s, 5);
    assert_int_equal(s.ns, 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_at_the_longest_spin),
        cmocka_unit_test(test_long_gaps_halve_it_down_to_nothing),
        cmocka_unit_test(test_a_gap_within_the_longest_spin_restores_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
