/*
 * config_test.c - starting a transport: configuration from the
 * environment, refused configurations, listen and advertise addresses
 * (transport/transport.h).
 */
#include "transport/transport.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static gv_tp_keys s_keys;

static int s_setup(void **state)
{
    (void)state;
    return gv_tp_keys_from_secret(&s_keys, "a3f09c2d4e5b6a7c8d9e0f1a2b3c4d5e", 32, false, NULL, 0)
               ? -1
               : 0;
}

static int s_teardown(void **state)
{
    (void)state;
    gv_tp_keys_fini(&s_keys);
    return 0;
}

static void test_environment_fills_what_is_unset(void **state)
{
    (void)state;
    setenv("GROVE_LISTEN", "127.0.0.1:0", 1);
    setenv("GROVE_SEEDS", "x@h1:1,h2", 1);
    setenv("GROVE_HEARTBEAT_MS", "100", 1);
    setenv("GROVE_NODEDOWN_MS", "900", 1);
    unsetenv("GROVE_ADVERTISE");
    gv_tp_config cfg = {.nodedown_ms = 700};
    assert_int_equal(gv_tp_config_from_env(&cfg), GROVE_OK);
    assert_string_equal(cfg.listen, "127.0.0.1:0");
    assert_string_equal(cfg.seeds, "x@h1:1,h2");
    assert_null(cfg.advertise);
    assert_int_equal(cfg.heartbeat_ms, 100);
    assert_int_equal(cfg.nodedown_ms, 700); /* set by the caller: kept */
    setenv("GROVE_HEARTBEAT_MS", "fast", 1);
    gv_tp_config bad = {0};
    assert_int_equal(gv_tp_config_from_env(&bad), GROVE_EINVAL);
    unsetenv("GROVE_LISTEN");
    unsetenv("GROVE_SEEDS");
    unsetenv("GROVE_HEARTBEAT_MS");
    unsetenv("GROVE_NODEDOWN_MS");
}

static grove_err s_try(const char *node, const char *listen, const char *seeds,
                       const char *advertise, gv_tp **out)
{
    gv_tp_config cfg = {.node = node,
                        .creation = 3,
                        .listen = listen,
                        .seeds = seeds,
                        .advertise = advertise,
                        .keys = &s_keys};
    return gv_tp_new(&cfg, NULL, out);
}

static void test_bad_configurations_are_refused(void **state)
{
    (void)state;
    gv_tp *tp = NULL;
    assert_int_equal(s_try("no-host", "127.0.0.1:0", NULL, NULL, &tp), GROVE_EINVAL);
    assert_int_equal(s_try("a@h", "127.0.0.1:99999", NULL, NULL, &tp), GROVE_EINVAL);
    assert_int_equal(s_try("a@h", "127.0.0.1:0", "h:notaport", NULL, &tp), GROVE_EINVAL);
    assert_int_equal(s_try("a@h", "127.0.0.1:0", "@h:1", NULL, &tp), GROVE_EINVAL);
    assert_int_equal(s_try("a@h", "127.0.0.1:0", NULL, "nohostport", &tp), GROVE_EINVAL);
    assert_null(tp);
    gv_tp_config cfg = {.node = "a@h", .creation = 0, .keys = &s_keys};
    assert_int_equal(gv_tp_new(&cfg, NULL, &tp), GROVE_EINVAL);
    cfg.creation = 1;
    cfg.keys = NULL;
    assert_int_equal(gv_tp_new(&cfg, NULL, &tp), GROVE_EINVAL);
    /* a port in use */
    gv_tp *first = NULL;
    assert_int_equal(s_try("a@127.0.0.1", "127.0.0.1:0", NULL, NULL, &first), GROVE_OK);
    assert_int_equal(s_try("b@127.0.0.1", gv_tp_address(first), NULL, NULL, &tp), GROVE_EIO);
    gv_tp_destroy(&first);
    assert_null(first);
    gv_tp_destroy(&first); /* idempotent */
}

static void test_advertised_address(void **state)
{
    (void)state;
    gv_tp *tp = NULL;
    /* a concrete listen host is advertised as it is */
    assert_int_equal(s_try("a@example", "127.0.0.1:0", "10.0.0.1:7946 b@h2", NULL, &tp), GROVE_OK);
    assert_int_equal(strncmp(gv_tp_address(tp), "127.0.0.1:", 10), 0);
    assert_true(atoi(gv_tp_address(tp) + 10) > 0);
    gv_tp_destroy(&tp);
    /* a wildcard listen address advertises the node name's host */
    assert_int_equal(s_try("a@localhost", "*:0", NULL, NULL, &tp), GROVE_OK);
    assert_int_equal(strncmp(gv_tp_address(tp), "localhost:", 10), 0);
    gv_tp_destroy(&tp);
    /* an explicit advertise address wins */
    assert_int_equal(s_try("a@localhost", "127.0.0.1:0", NULL, "grove1:7946", &tp), GROVE_OK);
    assert_string_equal(gv_tp_address(tp), "grove1:7946");
    gv_tp_member m[2];
    assert_int_equal(gv_tp_members(tp, m, 2), 0);
    grove_nodename other;
    assert_int_equal(grove_nodename_intern("z@h", 3, &other), GROVE_OK);
    gv_tp_load load;
    assert_int_equal(gv_tp_load_of(tp, other, &load), GROVE_ENOCONN);
    gv_tp_destroy(&tp);
    assert_string_equal(gv_tp_down_reason_name(GV_TP_DOWN_HEARTBEAT_TIMEOUT), "net_tick_timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_fills_what_is_unset),
        cmocka_unit_test(test_bad_configurations_are_refused),
        cmocka_unit_test(test_advertised_address),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
