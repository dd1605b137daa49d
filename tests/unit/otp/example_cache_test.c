/* The cache example: entries expire after their own time to live, not
 * before; a key put again lives by its new time; delete. */
#include "otp_test.h"

#include "examples/cache/cache.h"

/* Polls until key is gone; returns when (ms). */
static uint64_t s_wait_gone(grove_node *node, grove_pid c, const char *key)
{
    uint64_t end = gv_now_ms() + OT_TIMEOUT_MS;
    for (;;) {
        grove_term *v = NULL;
        grove_err err = cache_get(node, c, key, &v);
        grove_term_destroy(&v);
        if (err == GROVE_ENOTFOUND)
            return gv_now_ms();
        assert_int_equal(err, GROVE_OK);
        assert_true(gv_now_ms() < end);
        gv_sleep_ms(2);
    }
}

static void test_entries_expire_after_their_ttl(void **state)
{
    grove_node *node = ot_node();
    grove_pid c;
    assert_int_equal(cache_start(node, &c), GROVE_OK);
    uint64_t t0 = gv_now_ms();
    assert_int_equal(cache_put(node, c, "short", grove_atom("a"), 50), GROVE_OK);
    assert_int_equal(cache_put(node, c, "long", grove_atom("b"), 60000), GROVE_OK);
    assert_int_equal(cache_put(node, c, "forever", grove_atom("c"), 0), GROVE_OK);
    grove_term *v = NULL;
    assert_int_equal(cache_get(node, c, "short", &v), GROVE_OK);
    ot_assert_match(v, "a");
    grove_term_destroy(&v);
    uint64_t gone = s_wait_gone(node, c, "short");
    assert_true(gone - t0 >= 50 - OT_TICK_MS); /* not before its time */
    assert_int_equal(cache_get(node, c, "long", &v), GROVE_OK);
    grove_term_destroy(&v);
    assert_int_equal(cache_get(node, c, "forever", &v), GROVE_OK);
    grove_term_destroy(&v);
    size_t n;
    assert_int_equal(cache_size(node, c, &n), GROVE_OK);
    assert_int_equal(n, 2);
    grove_node_stop(&node);
}

static void test_a_key_put_again_lives_by_its_new_ttl(void **state)
{
    grove_node *node = ot_node();
    grove_pid c;
    assert_int_equal(cache_start(node, &c), GROVE_OK);
    assert_int_equal(cache_put(node, c, "k", grove_atom("old"), 30), GROVE_OK);
    assert_int_equal(cache_put(node, c, "k", grove_atom("new"), 60000), GROVE_OK);
    gv_sleep_ms(100); /* well past the first ttl */
    grove_term *v = NULL;
    assert_int_equal(cache_get(node, c, "k", &v), GROVE_OK);
    ot_assert_match(v, "new");
    grove_term_destroy(&v);
    /* Shorter again: the long timer must not keep it alive. */
    uint64_t t0 = gv_now_ms();
    assert_int_equal(cache_put(node, c, "k", grove_atom("brief"), 20), GROVE_OK);
    assert_true(s_wait_gone(node, c, "k") - t0 >= 20 - OT_TICK_MS);
    assert_int_equal(cache_put(node, c, "d", grove_atom("x"), 0), GROVE_OK);
    assert_int_equal(cache_delete(node, c, "d"), GROVE_OK);
    assert_int_equal(cache_get(node, c, "d", &v), GROVE_ENOTFOUND);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_expire_after_their_ttl),
        cmocka_unit_test(test_a_key_put_again_lives_by_its_new_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
