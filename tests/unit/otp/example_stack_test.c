/* The stack example: last in, first out; an empty stack says so. */
#include "otp_test.h"

#include "examples/stack/stack.h"

static void test_pop_returns_the_last_pushed_first(void **state)
{
    grove_node *node = ot_node();
    grove_pid s;
    assert_int_equal(stack_start(node, grove_pack("[hello]"), &s), GROVE_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(stack_push(node, s, grove_int(i)), GROVE_OK);
    size_t n;
    assert_int_equal(stack_size(node, s, &n), GROVE_OK);
    assert_int_equal(n, 11);
    for (int i = 9; i >= 0; i--) {
        grove_term *item = NULL;
        assert_int_equal(stack_pop(node, s, &item), GROVE_OK);
        int64_t v;
        assert_true(grove_match(item, "~l", &v));
        assert_int_equal(v, i);
        grove_term_destroy(&item);
    }
    grove_term *item = NULL;
    assert_int_equal(stack_pop(node, s, &item), GROVE_OK);
    ot_assert_match(item, "hello");
    grove_term_destroy(&item);
    assert_int_equal(stack_pop(node, s, &item), GROVE_ENOTFOUND);
    assert_null(item);
    assert_int_equal(stack_size(node, s, &n), GROVE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(stack_start(node, grove_atom("not_a_list"), &s), GROVE_EBADARG);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pop_returns_the_last_pushed_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
