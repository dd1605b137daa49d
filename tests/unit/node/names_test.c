/* Local names (unique) and the duplicate-key registry. */
#include "rt_probe.h"

#include <grove/names.h>

static void test_unique_name_conflicts_and_vanishes_when_its_process_exits(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid a = rt_spawn_probe(node, w, false);
    grove_pid b = rt_spawn_probe(node, w, false);
    assert_int_equal(grove_register(node, "alice", a), GROVE_OK);
    assert_int_equal(grove_register(node, "alice", b), GROVE_EEXIST); /* name taken */
    assert_int_equal(grove_register(node, "alias", a), GROVE_EEXIST); /* one name each */
    assert_int_equal(grove_register(node, "", b), GROVE_EINVAL);
    grove_pid got;
    assert_int_equal(grove_whereis(node, "alice", &got), GROVE_OK);
    assert_true(grove_pid_equal(got, a));
    assert_int_equal(grove_send_name(node, "alice", grove_atom("hi")), GROVE_OK);
    grove_term *t = rt_expect_tag(w, "got", a);
    rt_assert_match(t, "hi");
    grove_term_destroy(&t);
    assert_int_equal(grove_send_name(node, "nobody", grove_atom("hi")), GROVE_ENOTFOUND);
    /* unregister, then register again */
    assert_int_equal(grove_unregister(node, "alice"), GROVE_OK);
    assert_int_equal(grove_unregister(node, "alice"), GROVE_ENOTFOUND);
    assert_int_equal(grove_whereis(node, "alice", &got), GROVE_ENOTFOUND);
    assert_int_equal(grove_register(node, "alice", b), GROVE_OK);
    assert_int_equal(grove_register(node, "alias", a), GROVE_OK);
    /* the name goes with the process */
    rt_sync(node, w, b); /* killed before init, it would not report */
    grove_exit(node, b, grove_atom("kill"));
    rt_expect_terminated(w, b, "killed");
    for (int i = 0; i < 1000 && grove_whereis(node, "alice", &got) == GROVE_OK; i++)
        gv_sleep_ms(1);
    assert_int_equal(grove_whereis(node, "alice", &got), GROVE_ENOTFOUND);
    assert_int_equal(grove_register(node, "bob", b), GROVE_ENOPROC);  /* dead pid */
    assert_int_equal(grove_register(node, "alice", a), GROVE_EEXIST); /* a has "alias" */
    grove_exit(node, a, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* A member joins a key on command and reports. */
static grove_ret member_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid report;
    char key[64];
    if (grove_match(msg, "{join, ~a, ~p}", key, sizeof key, &report)) {
        grove_registry_join(self, key);
        grove_send(self, report, grove_pack("{joined, ~p, x}", grove_self(self)));
    } else if (grove_match(msg, "{leave, ~a, ~p}", key, sizeof key, &report)) {
        grove_err err = grove_registry_leave(self, key);
        grove_send(self, report,
                   grove_pack("{left, ~p, ~a}", grove_self(self), grove_errname(err)));
    } else if (grove_match(msg, "{news, ~p, _}", &report)) {
        grove_send(self, report, grove_pack("{news, ~p, x}", grove_self(self)));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour member_behaviour = {.name = "member", .handle = member_handle};

static void s_join(grove_node *node, grove_waiter *w, grove_pid p, const char *key)
{
    grove_send(node, p, grove_pack("{join, ~a, ~p}", key, grove_waiter_pid(w)));
    grove_term *t = rt_expect_tag(w, "joined", p);
    grove_term_destroy(&t);
}

static void test_duplicate_keys_hold_many_processes_and_forget_the_dead(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid m[3];
    for (int i = 0; i < 3; i++)
        grove_spawn(node, &member_behaviour, NULL, NULL, &m[i]);
    s_join(node, w, m[0], "room");
    s_join(node, w, m[1], "room");
    s_join(node, w, m[2], "room");
    s_join(node, w, m[0], "other");
    grove_pid out[8];
    assert_int_equal(grove_registry_lookup(node, "room", out, 8), 3);
    for (int i = 0; i < 3; i++)
        assert_true(grove_pid_equal(out[i], m[i]));                   /* join order */
    assert_int_equal(grove_registry_lookup(node, "room", out, 1), 3); /* count beyond cap */
    size_t n = 0;
    assert_int_equal(grove_registry_dispatch(
                         node, "room", grove_pack("{news, ~p, hello}", grove_waiter_pid(w)), &n),
                     GROVE_OK);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        grove_term *t = rt_expect_tag(w, "news", m[i]);
        grove_term_destroy(&t);
    }
    /* leave */
    grove_send(node, m[1], grove_pack("{leave, room, ~p}", grove_waiter_pid(w)));
    grove_term *t = rt_expect_tag(w, "left", m[1]);
    rt_assert_match(t, "'GROVE_OK'");
    grove_term_destroy(&t);
    assert_int_equal(grove_registry_lookup(node, "room", out, 8), 2);
    /* the dead are forgotten */
    grove_ref ref;
    grove_waiter_monitor(w, m[0], &ref);
    grove_exit(node, m[0], grove_atom("kill"));
    rt_expect_free(w, "{'DOWN', _, _, _, killed}");
    for (int i = 0; i < 1000 && grove_registry_lookup(node, "room", out, 8) != 1; i++)
        gv_sleep_ms(1);
    assert_int_equal(grove_registry_lookup(node, "room", out, 8), 1);
    assert_true(grove_pid_equal(out[0], m[2]));
    assert_int_equal(grove_registry_lookup(node, "other", out, 8), 0);
    assert_int_equal(grove_registry_lookup(node, "none", out, 8), 0);
    grove_exit(node, m[1], grove_atom("kill"));
    grove_exit(node, m[2], grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique_name_conflicts_and_vanishes_when_its_process_exits),
        cmocka_unit_test(test_duplicate_keys_hold_many_processes_and_forget_the_dead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
