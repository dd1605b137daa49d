/*
 * registry_test.c - global names on a local node (a cluster of one):
 * register, whereis, unregister, epochs, a holder's exit, sending by
 * name, the asynchronous forms, gen_servers started with a global name,
 * and the registry process started on first use. Only this thread
 * asserts; processes report to a waiter.
 */
#include <grove/grove.h>

#include "base/gv_clock.h"
#include "base/gv_thread.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS 20000

static grove_node *s_node;
static grove_waiter *s_w;

static int s_setup(void **state)
{
    (void)state;
    s_node = grove_node_start(&(grove_node_opts){.schedulers = 2});
    if (!s_node || grove_waiter_new(s_node, &s_w) != GROVE_OK)
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    grove_waiter_destroy(&s_w);
    grove_node_stop(&s_node);
    return 0;
}

static grove_term *s_expect(const char *pattern)
{
    grove_term *t = NULL;
    grove_err e = grove_waiter_recv_match(s_w, pattern, WAIT_MS, &t);
    if (e != GROVE_OK)
        fail_msg("no message matching %s (%s)", pattern, grove_errname(e));
    return t;
}

static void s_expect_free(const char *pattern)
{
    grove_term *t = s_expect(pattern);
    grove_term_destroy(&t);
}

/* ---- a process that does what it is told and reports --------------------- */

/* {register, Name}: grove_global_register from a worker (must refuse);
 * {register_async, Name}: the asynchronous form, answer forwarded;
 * {send, Name, Msg}: grove_global_send; stop; anything else is reported
 * as {got, Self, Msg}. The argument is the waiter's pid. */
static grove_err agent_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid *to = malloc(sizeof *to);
    if (!to || !grove_match(arg, "~p", to)) {
        free(to);
        return GROVE_EBADARG;
    }
    *state = to;
    return GROVE_OK;
}

static grove_ret agent_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid to = *(grove_pid *)state;
    char name[64];
    grove_term *x = NULL;
    grove_ref ref;
    if (grove_match(msg, "{register, ~a}", name, sizeof name)) {
        grove_err e = grove_global_register(grove_proc_node(self), name, grove_self(self), NULL);
        grove_send(self, to, grove_pack("{blocking, ~a}", grove_errname(e)));
    } else if (grove_match(msg, "{register_async, ~a}", name, sizeof name)) {
        grove_err e = grove_global_register_async(self, name, grove_self(self), &ref);
        grove_send(self, to, grove_pack("{asked, ~a, ~r}", grove_errname(e), ref));
    } else if (grove_match(msg, "{send, ~a, ~t}", name, sizeof name, &x)) {
        grove_err e = grove_global_send(self, name, x);
        grove_send(self, to, grove_pack("{sent, ~a}", grove_errname(e)));
    } else if (grove_match(msg, "stop")) {
        return grove_stop(self, NULL);
    } else {
        grove_send(self, to, grove_pack("{got, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    }
    return GROVE_CONTINUE;
}

static void agent_free(void *state)
{
    free(state);
}

static const grove_behaviour s_agent = {
    .name = "agent", .init = agent_init, .handle = agent_handle, .free_state = agent_free};

static grove_pid s_spawn_agent(void)
{
    grove_pid pid;
    assert_int_equal(
        grove_spawn(s_node, &s_agent, grove_pack("~p", grove_waiter_pid(s_w)), NULL, &pid),
        GROVE_OK);
    return pid;
}

static void s_wait_gone(const char *name)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (grove_global_whereis(s_node, name, NULL, NULL) == GROVE_OK) {
        if (gv_now_ms() > deadline)
            fail_msg("%s is still registered", name);
        gv_sleep_ms(1);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_register_whereis_unregister(void **state)
{
    (void)state;
    grove_pid a = s_spawn_agent(), b = s_spawn_agent(), where;
    uint64_t epoch = 0, seen = 0;
    assert_int_equal(grove_global_whereis(s_node, "bank", &where, NULL), GROVE_ENOTFOUND);
    assert_int_equal(grove_global_register(s_node, "bank", a, &epoch), GROVE_OK);
    assert_true(epoch >= 1);
    assert_int_equal(grove_global_whereis(s_node, "bank", &where, &seen), GROVE_OK);
    assert_true(grove_pid_equal(where, a));
    assert_int_equal(seen, epoch);
    /* taken, whoever asks */
    assert_int_equal(grove_global_register(s_node, "bank", b, NULL), GROVE_EEXIST);
    assert_int_equal(grove_global_register(s_node, "bank", a, NULL), GROVE_EEXIST);
    /* a process may hold several names */
    assert_int_equal(grove_global_register(s_node, "vault", a, NULL), GROVE_OK);
    grove_global_name list[4];
    assert_int_equal(grove_global_names(s_node, list, 4), 2);
    assert_string_equal(list[0].name, "bank");
    assert_string_equal(list[1].name, "vault");
    assert_true(grove_pid_equal(list[1].pid, a));
    assert_int_equal(grove_global_unregister(s_node, "bank"), GROVE_OK);
    assert_int_equal(grove_global_whereis(s_node, "bank", &where, NULL), GROVE_ENOTFOUND);
    assert_int_equal(grove_global_unregister(s_node, "bank"), GROVE_ENOTFOUND);
    assert_int_equal(grove_global_whereis(s_node, "vault", &where, NULL), GROVE_OK);
    assert_int_equal(grove_global_names(s_node, NULL, 0), 1);
}

static void test_bad_requests_get_clear_errors(void **state)
{
    (void)state;
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    grove_pid a = s_spawn_agent();
    assert_int_equal(grove_global_register(s_node, "", a, NULL), GROVE_EINVAL);
    assert_int_equal(grove_global_register(s_node, longname, a, NULL), GROVE_EINVAL);
    assert_int_equal(grove_global_register(s_node, NULL, a, NULL), GROVE_EINVAL);
    assert_int_equal(grove_global_whereis(s_node, longname, NULL, NULL), GROVE_EINVAL);
    assert_int_equal(grove_global_unregister(s_node, ""), GROVE_EINVAL);
    assert_int_equal(grove_global_set_resolution(s_node, (grove_global_resolution)7), GROVE_EINVAL);
    /* a dead process, and a pid that never lived */
    grove_ref mon;
    assert_int_equal(grove_waiter_monitor(s_w, a, &mon), GROVE_OK);
    grove_send(s_node, a, grove_atom("stop"));
    s_expect_free("{'DOWN', _, process, _, normal}");
    assert_int_equal(grove_global_register(s_node, "ghost", a, NULL), GROVE_ENOPROC);
    grove_pid never = a;
    never.serial += 1000;
    assert_int_equal(grove_global_register(s_node, "ghost", never, NULL), GROVE_ENOPROC);
    assert_int_equal(grove_global_whereis(s_node, "ghost", NULL, NULL), GROVE_ENOTFOUND);
    /* a pid of a node that is not connected */
    grove_nodename other;
    assert_int_equal(grove_nodename_intern("other@nowhere", 13, &other), GROVE_OK);
    grove_pid far = {.node = other, .id = 1, .serial = 1, .creation = 7};
    assert_int_equal(grove_global_register(s_node, "far", far, NULL), GROVE_ENOCONN);
    /* sending to nobody */
    assert_int_equal(grove_global_send(s_node, "nobody", grove_atom("x")), GROVE_ENOTFOUND);
}

static void test_epochs_grow_across_registrations(void **state)
{
    (void)state;
    uint64_t last = 0, e = 0;
    for (int i = 0; i < 5; i++) {
        grove_pid p = s_spawn_agent();
        assert_int_equal(grove_global_register(s_node, "leader", p, &e), GROVE_OK);
        assert_true(e > last);
        last = e;
        if (i % 2 == 0) {
            assert_int_equal(grove_global_unregister(s_node, "leader"), GROVE_OK);
        } else { /* the holder's exit frees it too */
            grove_send(s_node, p, grove_atom("stop"));
            s_wait_gone("leader");
        }
    }
    /* another name starts its own count */
    assert_int_equal(grove_global_register(s_node, "other", s_spawn_agent(), &e), GROVE_OK);
    assert_int_equal(e, 1);
}

static void test_holder_exit_removes_the_name(void **state)
{
    (void)state;
    grove_pid a = s_spawn_agent();
    assert_int_equal(grove_global_register(s_node, "worker", a, NULL), GROVE_OK);
    assert_int_equal(grove_global_register(s_node, "worker2", a, NULL), GROVE_OK);
    grove_exit(s_node, a, grove_atom("kill"));
    s_wait_gone("worker");
    s_wait_gone("worker2");
    grove_pid b = s_spawn_agent();
    assert_int_equal(grove_global_register(s_node, "worker", b, NULL), GROVE_OK);
}

static void test_send_by_global_name_and_by_local_name_at_a_node(void **state)
{
    (void)state;
    grove_pid a = s_spawn_agent(), b = s_spawn_agent();
    assert_int_equal(grove_global_register(s_node, "echo", a, NULL), GROVE_OK);
    assert_int_equal(grove_global_send(s_node, "echo", grove_pack("{hello, 1}")), GROVE_OK);
    grove_term *m = s_expect("{got, _, {hello, 1}}");
    grove_pid from;
    assert_true(grove_match(m, "{got, ~p, _}", &from));
    assert_true(grove_pid_equal(from, a));
    grove_term_destroy(&m);
    /* from a process */
    grove_send(s_node, b, grove_pack("{send, echo, {hello, 2}}"));
    s_expect_free("{sent, 'GROVE_OK'}");
    s_expect_free("{got, _, {hello, 2}}");
    /* {Name, Node} ! Msg on the own node is a local send by name */
    grove_nodename me = grove_node_name(s_node);
    assert_int_equal(grove_register(s_node, "local_echo", b), GROVE_OK);
    assert_int_equal(grove_send_name_at(s_node, me, "local_echo", grove_pack("{hello, 3}")),
                     GROVE_OK);
    m = s_expect("{got, _, {hello, 3}}");
    assert_true(grove_match(m, "{got, ~p, _}", &from));
    assert_true(grove_pid_equal(from, b));
    grove_term_destroy(&m);
    assert_int_equal(grove_send_name_at(s_node, me, "nobody_here", grove_atom("x")),
                     GROVE_ENOTFOUND);
    grove_nodename other;
    assert_int_equal(grove_nodename_intern("other@nowhere", 13, &other), GROVE_OK);
    assert_int_equal(grove_send_name_at(s_node, other, "local_echo", grove_atom("x")),
                     GROVE_ENOCONN);
    assert_int_equal(grove_send_name_at(s_node, me, "", grove_atom("x")), GROVE_EINVAL);
}

static void test_processes_register_asynchronously_never_blocking(void **state)
{
    (void)state;
    grove_pid a = s_spawn_agent(), b = s_spawn_agent();
    /* blocking on a worker is refused */
    grove_send(s_node, a, grove_pack("{register, blocked}"));
    s_expect_free("{blocking, 'GROVE_EWOULDBLOCK'}");
    grove_send(s_node, a, grove_pack("{register_async, async_name}"));
    grove_term *m = s_expect("{asked, _, _}");
    grove_ref ref, r2;
    assert_true(grove_match(m, "{asked, 'GROVE_OK', ~r}", &ref));
    grove_term_destroy(&m);
    m = s_expect("{got, _, {global_registered, _, _, _}}");
    uint64_t epoch;
    assert_true(grove_match(m, "{got, _, {global_registered, ~r, ok, ~u}}", &r2, &epoch));
    assert_true(grove_ref_equal(&ref, &r2));
    assert_int_equal(epoch, 1);
    grove_term_destroy(&m);
    /* the second one learns who holds it */
    grove_send(s_node, b, grove_pack("{register_async, async_name}"));
    s_expect_free("{asked, 'GROVE_OK', _}");
    m = s_expect("{got, _, {global_registered, _, _, _}}");
    grove_pid holder;
    assert_true(grove_match(m, "{got, _, {global_registered, _, error, {already_registered, ~p}}}",
                            &holder));
    assert_true(grove_pid_equal(holder, a));
    grove_term_destroy(&m);
}

/* ---- gen_servers with a global name -------------------------------------- */

static grove_err gs_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid *to = malloc(sizeof *to);
    char mode[16];
    if (!to || !grove_match(arg, "{~p, ~a}", to, mode, sizeof mode)) {
        free(to);
        return GROVE_EBADARG;
    }
    grove_pid where;
    bool named = grove_global_whereis(grove_proc_node(self), "gs", &where, NULL) == GROVE_OK &&
                 grove_pid_equal(where, grove_self(self));
    grove_send(self, *to, grove_pack("{init, ~a}", named ? "named" : "unnamed"));
    if (strcmp(mode, "fail") == 0) {
        free(to);
        return GROVE_EBADARG;
    }
    *state = to;
    return GROVE_OK;
}

static grove_ret gs_info(grove_proc *self, const grove_term *msg, void *state)
{
    grove_send(self, *(grove_pid *)state, grove_pack("{info, ~t}", grove_term_copy(msg)));
    return GROVE_CONTINUE;
}

static grove_ret gs_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                         grove_term **reply)
{
    *reply = grove_pack("{pong, ~t}", grove_term_copy(req));
    return GROVE_REPLY;
}

static void gs_free(void *state)
{
    free(state);
}

static const grove_gen_server s_gs = {.name = "gs",
                                      .init = gs_init,
                                      .handle_call = gs_call,
                                      .handle_info = gs_info,
                                      .free_state = gs_free};

/* Starts a gen_server with the global name "gs", then sends it two
 * messages at once: they must wait for its init (which runs holding the
 * name) and arrive in order. */
static grove_err starter_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid *to = malloc(sizeof *to);
    if (!to || !grove_match(arg, "~p", to)) {
        free(to);
        return GROVE_EBADARG;
    }
    *state = to;
    grove_pid pid;
    grove_ref ack;
    grove_start_opts o = {.name = "gs", .scope = GROVE_NAME_GLOBAL};
    grove_err e =
        grove_gen_server_start_async(self, &s_gs, grove_pack("{~p, ok}", *to), &o, &pid, &ack);
    if (e != GROVE_OK)
        return e;
    grove_send(self, pid, grove_pack("{early, 1}"));
    grove_send(self, pid, grove_pack("{early, 2}"));
    return GROVE_OK;
}

static grove_ret starter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid pid;
    grove_err result;
    if (grove_start_ack(msg, NULL, &pid, &result, NULL))
        grove_send(self, *(grove_pid *)state,
                   grove_pack("{started, ~p, ~a}", pid, grove_errname(result)));
    return GROVE_CONTINUE;
}

static const grove_behaviour s_starter = {
    .name = "starter", .init = starter_init, .handle = starter_handle, .free_state = gs_free};

/* The next message that is not the starter's report. */
static grove_term *s_next_from_server(void)
{
    for (;;) {
        grove_term *t = NULL;
        grove_err e = grove_waiter_recv(s_w, WAIT_MS, &t);
        if (e != GROVE_OK)
            fail_msg("no message (%s)", grove_errname(e));
        if (!grove_match(t, "{started, _, _}"))
            return t;
        grove_term_destroy(&t);
    }
}

static void test_gen_server_with_global_name_runs_init_holding_it(void **state)
{
    (void)state;
    grove_pid starter;
    assert_int_equal(
        grove_spawn(s_node, &s_starter, grove_pack("~p", grove_waiter_pid(s_w)), NULL, &starter),
        GROVE_OK);
    /* init ran holding the name, before the messages sent at once */
    grove_term *m = s_next_from_server();
    if (!grove_match(m, "{init, named}"))
        fail_msg("init did not come first holding the name");
    grove_term_destroy(&m);
    m = s_next_from_server();
    assert_true(grove_match(m, "{info, {early, 1}}"));
    grove_term_destroy(&m);
    m = s_next_from_server();
    assert_true(grove_match(m, "{info, {early, 2}}"));
    grove_term_destroy(&m);
    grove_pid gs;
    assert_int_equal(grove_global_whereis(s_node, "gs", &gs, NULL), GROVE_OK);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(s_node, gs, grove_atom("ping"), WAIT_MS, &reply), GROVE_OK);
    assert_true(grove_match(reply, "{pong, ping}"));
    grove_term_destroy(&reply);

    /* a second start with the name: already started, and who has it */
    grove_pid other;
    grove_term *why = NULL;
    grove_start_opts o = {.name = "gs", .scope = GROVE_NAME_GLOBAL, .reason = &why};
    assert_int_equal(grove_gen_server_start(
                         s_node, &s_gs, grove_pack("{~p, ok}", grove_waiter_pid(s_w)), &o, &other),
                     GROVE_EEXIST);
    assert_true(grove_pid_equal(other, gs));
    grove_pid in_reason;
    assert_true(grove_match(why, "{already_started, ~p}", &in_reason));
    assert_true(grove_pid_equal(in_reason, gs));
    grove_term_destroy(&why);
    /* its init never ran */
    grove_term *t = NULL;
    assert_int_equal(grove_waiter_recv_match(s_w, "{init, _}", 50, &t), GROVE_ETIMEDOUT);

    /* stopping it frees the name for the next one, at a higher epoch */
    uint64_t e1, e2;
    assert_int_equal(grove_global_whereis(s_node, "gs", NULL, &e1), GROVE_OK);
    assert_int_equal(grove_gen_server_stop(s_node, gs, NULL, WAIT_MS), GROVE_OK);
    s_wait_gone("gs");
    o.reason = NULL;
    assert_int_equal(grove_gen_server_start(
                         s_node, &s_gs, grove_pack("{~p, ok}", grove_waiter_pid(s_w)), &o, &other),
                     GROVE_OK);
    s_expect_free("{init, named}");
    assert_int_equal(grove_global_whereis(s_node, "gs", &gs, &e2), GROVE_OK);
    assert_true(grove_pid_equal(gs, other));
    assert_true(e2 > e1);
    assert_int_equal(grove_gen_server_stop(s_node, gs, NULL, WAIT_MS), GROVE_OK);
}

static void test_gen_server_whose_init_fails_gives_the_name_back(void **state)
{
    (void)state;
    grove_pid pid;
    grove_term *why = NULL;
    grove_start_opts o = {.name = "gs", .scope = GROVE_NAME_GLOBAL, .reason = &why};
    assert_int_equal(grove_gen_server_start(
                         s_node, &s_gs, grove_pack("{~p, fail}", grove_waiter_pid(s_w)), &o, &pid),
                     GROVE_EBADARG);
    assert_true(grove_match(why, "{init_failed, 'GROVE_EBADARG'}"));
    grove_term_destroy(&why);
    s_expect_free("{init, named}"); /* it did hold the name while init ran */
    s_wait_gone("gs");
    o.reason = NULL;
    assert_int_equal(grove_gen_server_start(
                         s_node, &s_gs, grove_pack("{~p, ok}", grove_waiter_pid(s_w)), &o, &pid),
                     GROVE_OK);
    s_expect_free("{init, named}");
    assert_int_equal(grove_gen_server_stop(s_node, pid, NULL, WAIT_MS), GROVE_OK);
}

/* A local node starts its registry process on first use: a node that
 * never uses global names runs none of its own. */
static void test_registry_process_starts_on_first_use(void **state)
{
    (void)state;
    grove_node_stats st;
    grove_node_stats_get(s_node, &st);
    assert_int_equal(st.processes, 0);
    assert_int_equal(grove_global_whereis(s_node, "x", NULL, NULL), GROVE_ENOTFOUND);
    assert_int_equal(grove_global_send(s_node, "x", grove_atom("x")), GROVE_ENOTFOUND);
    grove_node_stats_get(s_node, &st);
    assert_int_equal(st.processes, 0);
    grove_pid a = s_spawn_agent();
    assert_int_equal(grove_global_register(s_node, "x", a, NULL), GROVE_OK);
    grove_node_stats_get(s_node, &st);
    assert_int_equal(st.processes, 2);
    grove_pid srv;
    assert_int_equal(grove_whereis(s_node, "grove_global", &srv), GROVE_OK);
    grove_proc_info info;
    assert_int_equal(grove_proc_info_get(s_node, srv, &info), GROVE_OK);
    assert_string_equal(info.behaviour, "grove_global");
}

/* Registrations from many threads at once, many names: each name gets
 * exactly one holder. */
#define RACERS 4
#define RACE_NAMES 50

typedef struct racer {
    grove_pid pid;
    int won[RACE_NAMES];
    int errors;
} racer;

static racer s_racers[RACERS];

static void *s_race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < RACE_NAMES; i++) {
        char name[32];
        snprintf(name, sizeof name, "race%d", i);
        grove_err e = grove_global_register(s_node, name, r->pid, NULL);
        if (e == GROVE_OK)
            r->won[i] = 1;
        else if (e != GROVE_EEXIST)
            r->errors++;
    }
    return NULL;
}

static void test_concurrent_registrations_have_one_winner_each(void **state)
{
    (void)state;
    gv_thread th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        memset(&s_racers[i], 0, sizeof s_racers[i]);
        s_racers[i].pid = s_spawn_agent();
    }
    for (int i = 0; i < RACERS; i++)
        assert_true(gv_thread_start(&th[i], "racer", s_race, &s_racers[i]));
    for (int i = 0; i < RACERS; i++)
        gv_thread_join(&th[i]);
    for (int n = 0; n < RACE_NAMES; n++) {
        int winners = 0, who = -1;
        for (int i = 0; i < RACERS; i++)
            if (s_racers[i].won[n]) {
                winners++;
                who = i;
            }
        assert_int_equal(winners, 1);
        char name[32];
        snprintf(name, sizeof name, "race%d", n);
        grove_pid where;
        assert_int_equal(grove_global_whereis(s_node, name, &where, NULL), GROVE_OK);
        assert_true(grove_pid_equal(where, s_racers[who].pid));
    }
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(s_racers[i].errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry_process_starts_on_first_use, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_register_whereis_unregister, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests_get_clear_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_epochs_grow_across_registrations, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_holder_exit_removes_the_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_send_by_global_name_and_by_local_name_at_a_node,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_processes_register_asynchronously_never_blocking,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gen_server_with_global_name_runs_init_holding_it,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gen_server_whose_init_fails_gives_the_name_back,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_registrations_have_one_winner_each, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
