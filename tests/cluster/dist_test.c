/*
 * dist_test.c - remote signals with Erlang's semantics: two or three
 * nodes in one process on 127.0.0.1 (random ports, a test secret),
 * started with grove_node_start like any program's, talking through
 * processes and waiters. Only this thread asserts; processes report to
 * waiters. Times are asserted as lower bounds (and generous timeouts).
 */
#include <grove/gen_server.h>
#include <grove/names.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "inproc.h"
#include "tp_harness.h"
#include "transport/tp_crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SECRET "5f2a9c1e7b3d4f6a8c0e2b4d6f8a1c3e"
#define WAIT_MS 10000
#define HB_MS 50
#define ND_MS 1000

static grove_node *s_node[3];
static grove_waiter *s_w[3];

static int s_stop_all(void **state)
{
    (void)state;
    inproc_stop(s_node, s_w, 3);
    return 0;
}

static void s_start(int i, const char *seeds)
{
    s_node[i] = inproc_start_nth("d", i, SECRET, seeds, HB_MS, ND_MS);
    assert_int_equal(grove_waiter_new(s_node[i], &s_w[i]), GROVE_OK);
}

static bool s_connected(grove_node *a, grove_node *b)
{
    return inproc_sees(a, grove_node_name(b));
}

/* Starts nodes 0..n-1, each seeded with node 0, waits for the mesh, and
 * gives each a waiter. */
static void s_cluster(int n)
{
    inproc_cluster(s_node, n, "d", SECRET, HB_MS, ND_MS, WAIT_MS);
    for (int i = 0; i < n; i++)
        assert_int_equal(grove_waiter_new(s_node[i], &s_w[i]), GROVE_OK);
}

static grove_term *s_recv(int i, const char *pattern, int64_t ms)
{
    grove_term *m = NULL;
    grove_err e = grove_waiter_recv_match(s_w[i], pattern, ms, &m);
    if (e != GROVE_OK)
        fail_msg("node %d: no message matching %s (%s)", i, pattern, grove_errname(e));
    return m;
}

static void s_expect_none(int i, int64_t ms)
{
    grove_term *m = NULL;
    assert_int_equal(grove_waiter_recv(s_w[i], ms, &m), GROVE_ETIMEDOUT);
}

/* ---- behaviours ---- */

/* target: {crash, Reason} makes it exit with Reason; {echo, To, X} sends X. */
static grove_ret target_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)state;
    grove_term *reason = NULL;
    grove_pid to;
    grove_term *x = NULL;
    if (grove_match(msg, "{crash, ~t}", &reason))
        return grove_stop(self, reason);
    if (grove_match(msg, "{echo, ~p, ~t}", &to, &x))
        grove_proc_send(self, to, x);
    return GROVE_CONTINUE;
}

static const grove_behaviour s_target = {.name = "target", .handle = target_handle};

/* watcher: arg {Target, Report, Flags}; flags: 1 trap exits, 2 link to
 * Target, 4 monitor Target, 8 monitor_node(Target's node), 16
 * monitor_nodes. Reports {ready, Self} then {got, Msg} for each message. */
enum { W_TRAP = 1, W_LINK = 2, W_MON = 4, W_MON_NODE = 8, W_MON_NODES = 16, W_SPAWN = 32 };
/* W_SPAWN: spawn_request "target" on Target's node, linked and monitored. */

typedef struct watcher_state {
    grove_pid report;
} watcher_state;

static grove_err watcher_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid target, report;
    int flags;
    if (!grove_match(arg, "{~p, ~p, ~i}", &target, &report, &flags))
        return GROVE_EINVAL;
    watcher_state *st = gv_malloc(sizeof *st);
    st->report = report;
    *state = st;
    if (flags & W_TRAP)
        grove_trap_exit(self, true);
    if (flags & W_MON_NODES)
        grove_monitor_nodes(self, true);
    if (flags & W_MON_NODE)
        grove_monitor_node(self, target.node);
    if (flags & W_LINK)
        grove_link(self, target);
    if (flags & W_MON)
        grove_monitor(self, target, NULL);
    if (flags & W_SPAWN) {
        grove_spawn_opts o = {.link = true, .monitor = true};
        grove_ref ref;
        grove_spawn_request(self, target.node, "target", NULL, &o, &ref);
    }
    grove_proc_send(self, report, grove_pack("{ready, ~p}", grove_self(self)));
    return GROVE_OK;
}

static grove_ret watcher_handle(grove_proc *self, const grove_term *msg, void *state)
{
    watcher_state *st = state;
    grove_pid pid;
    if (grove_match(msg, "{unlink, ~p}", &pid)) {
        grove_unlink(self, pid);
        grove_proc_send(self, st->report, grove_pack("unlinked"));
        return GROVE_CONTINUE;
    }
    grove_proc_send(self, st->report, grove_pack("{got, ~t}", grove_term_copy(msg)));
    return GROVE_CONTINUE;
}

static void watcher_free(void *state)
{
    gv_free(state);
}

static const grove_behaviour s_watcher = {
    .name = "watcher", .init = watcher_init, .handle = watcher_handle, .free_state = watcher_free};

/* blaster: arg {To, N}: sends {seq, 0..N-1} to To, in one go. */
static grove_err blaster_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)state;
    grove_pid to;
    int n;
    if (!grove_match(arg, "{~p, ~i}", &to, &n))
        return GROVE_EINVAL;
    for (int i = 0; i < n; i++)
        grove_proc_send(self, to, grove_pack("{seq, ~i}", i));
    return GROVE_OK;
}

static grove_ret blaster_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)self, (void)msg, (void)state;
    return GROVE_CONTINUE;
}

static const grove_behaviour s_blaster = {
    .name = "blaster", .init = blaster_init, .handle = blaster_handle};

/* greeter: arg {To}: its first act (init) sends {hello, Self} to To. */
static grove_err greeter_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)state;
    grove_pid to;
    if (!grove_match(arg, "{~p}", &to))
        return GROVE_EINVAL;
    grove_proc_send(self, to, grove_pack("{hello, ~p}", grove_self(self)));
    return GROVE_OK;
}

static const grove_behaviour s_greeter = {
    .name = "greeter", .init = greeter_init, .handle = blaster_handle};

/* spawner: arg {N, Report, There}: N spawn_requests of a greeter on
 * There's node at once; every message it gets goes to Report as
 * {got, Msg}. */
static grove_err spawner_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid report, there;
    int n;
    char what[32] = "greeter";
    if (!grove_match(arg, "{~i, ~p, ~p}", &n, &report, &there) &&
        !grove_match(arg, "{~i, ~p, ~p, ~a}", &n, &report, &there, what, sizeof what))
        return GROVE_EINVAL;
    grove_pid *st = gv_malloc(sizeof *st);
    *st = report;
    *state = st;
    grove_spawn_opts monitored = {.monitor = true};
    for (int i = 0; i < n; i++) {
        grove_ref ref;
        grove_spawn_request(self, there.node, what, grove_pack("{~p}", grove_self(self)),
                            strcmp(what, "greeter") ? &monitored : NULL, &ref);
    }
    return GROVE_OK;
}

static grove_ret spawner_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_proc_send(self, *(grove_pid *)state, grove_pack("{got, ~t}", grove_term_copy(msg)));
    return GROVE_CONTINUE;
}

static const grove_behaviour s_spawner = {
    .name = "spawner", .init = spawner_init, .handle = spawner_handle, .free_state = watcher_free};

/* namewatch: arg {Report}. {monitor, Name, There} monitors {Name,
 * There's node} and reports {monitored, Ref}; {demonitor, Ref} reports
 * demonitored; anything else goes to Report as {got, Msg}. */
static grove_err namewatch_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)self;
    grove_pid report;
    if (!grove_match(arg, "{~p}", &report))
        return GROVE_EINVAL;
    grove_pid *st = gv_malloc(sizeof *st);
    *st = report;
    *state = st;
    return GROVE_OK;
}

static grove_ret namewatch_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid report = *(grove_pid *)state, there;
    char name[64];
    grove_ref ref;
    if (grove_match(msg, "{monitor, ~a, ~p}", name, sizeof name, &there)) {
        grove_err e = grove_monitor_name(self, name, there.node, &ref);
        grove_proc_send(self, report, grove_pack("{monitored, ~a, ~r}", grove_errname(e), ref));
    } else if (grove_match(msg, "{demonitor, ~r}", &ref)) {
        grove_err e = grove_demonitor(self, ref, false);
        grove_proc_send(self, report, grove_pack("{demonitored, ~a}", grove_errname(e)));
    } else {
        grove_proc_send(self, report, grove_pack("{got, ~t}", grove_term_copy(msg)));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour s_namewatch = {.name = "namewatch",
                                            .init = namewatch_init,
                                            .handle = namewatch_handle,
                                            .free_state = watcher_free};

static grove_pid s_spawn(int i, const grove_behaviour *b, grove_term *arg)
{
    grove_pid pid;
    assert_int_equal(grove_node_spawn(s_node[i], b, arg, NULL, &pid), GROVE_OK);
    return pid;
}

/* A watcher on node i of target, reporting to node i's waiter; waits
 * until it has set up. */
static grove_pid s_watch(int i, grove_pid target, int flags)
{
    grove_pid w =
        s_spawn(i, &s_watcher, grove_pack("{~p, ~p, ~i}", target, grove_waiter_pid(s_w[i]), flags));
    grove_term *m = s_recv(i, "{ready, _}", WAIT_MS);
    grove_term_destroy(&m);
    return w;
}

/* ---- tests ---- */

static void test_local_node_needs_no_secret(void **state)
{
    (void)state;
    s_node[0] = grove_node_start(NULL);
    assert_non_null(s_node[0]);
    assert_null(grove_node_address(s_node[0]));
    grove_nodename out[2];
    assert_int_equal(grove_nodes(s_node[0], out, 2), 0);
}

static void test_listening_node_refuses_to_start_without_a_secret(void **state)
{
    (void)state;
    unsetenv("GROVE_COOKIE");
    unsetenv("GROVE_COOKIE_FILE");
    grove_node_opts o = {.name = "nosecret@127.0.0.1", .schedulers = 1, .listen = "127.0.0.1:0"};
    assert_null(grove_node_start(&o));
}

static void test_message_to_remote_pid_arrives(void **state)
{
    (void)state;
    s_cluster(2);
    /* from outside any process, and process to process, both ways */
    grove_node_send(s_node[0], grove_waiter_pid(s_w[1]), grove_pack("{hello, 1}"));
    grove_term *m = s_recv(1, "{hello, 1}", WAIT_MS);
    grove_term_destroy(&m);
    grove_pid t = s_spawn(1, &s_target, NULL);
    grove_node_send(
        s_node[0], t,
        grove_pack("{echo, ~p, {pong, <<\"x\">>, #{a => [1, 2.5]}}}", grove_waiter_pid(s_w[0])));
    m = s_recv(0, "{pong, <<\"x\">>, #{a => [1, 2.5]}}", WAIT_MS);
    grove_term_destroy(&m);
}

static void test_remote_crash_kills_linked_process_and_reaches_trapping_one(void **state)
{
    (void)state;
    s_cluster(2);
    grove_pid t = s_spawn(1, &s_target, NULL);
    grove_pid plain = s_watch(0, t, W_LINK);
    grove_pid trap = s_watch(0, t, W_LINK | W_TRAP);
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w[0], plain, &ref), GROVE_OK);
    grove_node_send(s_node[0], t, grove_pack("{crash, {boom, 42}}"));
    grove_term *m = s_recv(0, "{got, {'EXIT', _, {boom, 42}}}", WAIT_MS);
    grove_pid from;
    assert_true(grove_match(m, "{got, {'EXIT', ~p, _}}", &from));
    assert_true(grove_pid_equal(from, t));
    grove_term_destroy(&m);
    m = s_recv(0, "{'DOWN', _, process, _, {boom, 42}}", WAIT_MS);
    grove_pid dead;
    assert_true(grove_match(m, "{'DOWN', _, process, ~p, _}", &dead));
    assert_true(grove_pid_equal(dead, plain));
    grove_term_destroy(&m);
    (void)trap;
}

static void test_remote_monitor_gets_the_real_reason(void **state)
{
    (void)state;
    s_cluster(2);
    grove_pid t = s_spawn(1, &s_target, NULL);
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w[0], t, &ref), GROVE_OK);
    /* and a monitor from a process, demonitored: no DOWN for that one */
    grove_pid w = s_watch(0, t, W_MON);
    (void)w;
    grove_node_send(s_node[0], t, grove_pack("{crash, {badarith, [x]}}"));
    grove_term *m = s_recv(0, "{'DOWN', _, process, _, {badarith, [x]}}", WAIT_MS);
    grove_ref got;
    grove_pid dead;
    assert_true(grove_match(m, "{'DOWN', ~r, process, ~p, _}", &got, &dead));
    assert_true(grove_ref_equal(&got, &ref));
    assert_true(grove_pid_equal(dead, t));
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {'DOWN', _, process, _, {badarith, [x]}}}", WAIT_MS);
    grove_term_destroy(&m);
    /* a monitor of the dead pid: noproc, from its own node */
    assert_int_equal(grove_waiter_monitor(s_w[0], t, &ref), GROVE_OK);
    m = s_recv(0, "{'DOWN', _, process, _, noproc}", WAIT_MS);
    grove_term_destroy(&m);
}

static void test_remote_unlink_and_demonitor_take_effect(void **state)
{
    (void)state;
    s_cluster(2);
    grove_pid t = s_spawn(1, &s_target, NULL);
    grove_pid w = s_watch(0, t, W_LINK | W_TRAP);
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w[0], t, &ref), GROVE_OK);
    assert_int_equal(grove_waiter_demonitor(s_w[0], ref), GROVE_OK);
    grove_node_send(s_node[0], w, grove_pack("{unlink, ~p}", t));
    grove_term *m = s_recv(0, "unlinked", WAIT_MS);
    grove_term_destroy(&m);
    /* a marker through the target after the unlink: the unlink (and its
     * ack) has crossed by the time the echo comes back */
    grove_node_send(s_node[0], t, grove_pack("{echo, ~p, marker}", grove_waiter_pid(s_w[0])));
    m = s_recv(0, "marker", WAIT_MS);
    grove_term_destroy(&m);
    grove_node_send(s_node[0], t, grove_pack("{crash, gone}"));
    /* a second monitor, set after, does see it: so the first would have */
    assert_int_equal(grove_waiter_monitor(s_w[0], t, &ref), GROVE_OK);
    m = s_recv(0, "{'DOWN', _, process, _, _}", WAIT_MS);
    grove_ref got;
    assert_true(grove_match(m, "{'DOWN', ~r, _, _, _}", &got));
    assert_true(grove_ref_equal(&got, &ref));
    grove_term_destroy(&m);
    /* nothing else: no EXIT for the unlinked watcher, no DOWN for the
     * removed monitor */
    s_expect_none(0, 300);
}

static void test_monitor_of_unconnected_node_is_noconnection_at_once(void **state)
{
    (void)state;
    s_cluster(2);
    grove_nodename ghost;
    assert_int_equal(grove_nodename_intern("ghost@127.0.0.1", 15, &ghost), GROVE_OK);
    grove_pid p = {.node = ghost, .id = 85, .serial = 1, .creation = 7};
    grove_ref ref;
    uint64_t t0 = gv_now_ms();
    assert_int_equal(grove_waiter_monitor(s_w[0], p, &ref), GROVE_OK);
    grove_term *m = s_recv(0, "{'DOWN', _, process, _, noconnection}", WAIT_MS);
    grove_term_destroy(&m);
    (void)t0;
    /* a link from a trapping process too, and monitor_node */
    grove_pid w = s_watch(0, p, W_LINK | W_TRAP | W_MON_NODE);
    m = s_recv(0, "{got, {'EXIT', _, noconnection}}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {nodedown, 'ghost@127.0.0.1'}}", WAIT_MS);
    grove_term_destroy(&m);
    (void)w;
}

static void test_stopping_a_node_fires_noconnection_across(void **state)
{
    (void)state;
    s_cluster(3);
    grove_pid t = s_spawn(1, &s_target, NULL);
    grove_pid trap = s_watch(0, t, W_LINK | W_TRAP | W_MON | W_MON_NODE | W_MON_NODES);
    grove_pid plain = s_watch(0, t, W_LINK);
    grove_ref ref_plain, ref_t;
    assert_int_equal(grove_waiter_monitor(s_w[0], plain, &ref_plain), GROVE_OK);
    assert_int_equal(grove_waiter_monitor(s_w[0], t, &ref_t), GROVE_OK);
    /* a link the other way: a watcher on node 1 linked to a target on 0 */
    grove_pid t0 = s_spawn(0, &s_target, NULL);
    s_watch(1, t0, W_LINK | W_TRAP);
    /* a message sent before the stop arrives before the nodedown */
    grove_node_send(s_node[1], trap, grove_pack("last_words"));
    uint64_t before = gv_now_ms();
    grove_waiter_destroy(&s_w[1]);
    grove_node_stop(&s_node[1]);
    grove_term *m = s_recv(0, "{got, last_words}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {'EXIT', _, noconnection}}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {'DOWN', _, process, _, noconnection}}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {nodedown, 'd1@127.0.0.1'}}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {nodedown, 'd1@127.0.0.1', [{nodedown_reason, _}]}}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{'DOWN', _, process, _, noconnection}", WAIT_MS);
    grove_ref got;
    assert_true(grove_match(m, "{'DOWN', ~r, _, _, _}", &got));
    assert_true(grove_ref_equal(&got, &ref_t) || grove_ref_equal(&got, &ref_plain));
    grove_term_destroy(&m);
    m = s_recv(0, "{'DOWN', _, process, _, noconnection}", WAIT_MS);
    grove_term_destroy(&m);
    (void)before;
    /* node 2 is still connected and a message still goes through */
    assert_true(s_connected(s_node[0], s_node[2]));
    grove_node_send(s_node[2], grove_waiter_pid(s_w[0]), grove_pack("still_here"));
    m = s_recv(0, "still_here", WAIT_MS);
    grove_term_destroy(&m);
}

static void test_nodeup_is_reported_to_monitor_nodes(void **state)
{
    (void)state;
    s_start(0, NULL);
    grove_pid none = grove_waiter_pid(s_w[0]);
    s_watch(0, none, W_MON_NODES);
    char seed[128];
    snprintf(seed, sizeof seed, "%s", grove_node_address(s_node[0]));
    s_start(1, seed);
    grove_term *m = s_recv(0, "{got, {nodeup, 'd1@127.0.0.1', _}}", WAIT_MS);
    grove_term_destroy(&m);
}

static uint64_t s_node_watchers(int i)
{
    grove_dist_stats st;
    assert_int_equal(grove_node_dist_stats(s_node[i], &st), GROVE_OK);
    return st.node_watchers;
}

/* Erlang drops a process's node monitors when it exits: 50 watchers of
 * node 1 (monitor_node and monitor_nodes each) exit, and node 0 holds
 * none of their registrations any more, while node 1 is still up. */
static void test_node_monitors_go_with_their_process(void **state)
{
    (void)state;
    s_cluster(2);
    uint64_t before = s_node_watchers(0);
    grove_pid target = s_spawn(1, &s_target, NULL);
    grove_pid w[50];
    for (int k = 0; k < 50; k++)
        w[k] = s_watch(0, target, W_MON_NODE | W_MON_NODES);
    assert_int_equal(s_node_watchers(0), before + 100);
    for (int k = 0; k < 50; k++) {
        grove_ref ref;
        assert_int_equal(grove_waiter_monitor(s_w[0], w[k], &ref), GROVE_OK);
        grove_node_exit(s_node[0], w[k], grove_atom("kill"));
        grove_term *m = s_recv(0, "{'DOWN', _, process, _, killed}", WAIT_MS);
        grove_term_destroy(&m);
    }
    assert_int_equal(s_node_watchers(0), before);
    assert_true(s_connected(s_node[0], s_node[1]));
}

/* A raw transport (tp_harness.h) in the cluster, sending a payload that
 * is not a term: node 0 ends that session (noconnection for what crosses
 * it) and goes on with the others. */
static tnode s_raw;

static bool s_has_event(tnode *n, const void *arg)
{
    int kind = *(const int *)arg;
    for (int i = 0; i < n->n_ev; i++)
        if (n->ev[i].kind == kind)
            return true;
    return false;
}

static int s_stop_raw(void **state)
{
    tn_fini(&s_raw);
    return s_stop_all(state);
}

static void test_bad_payload_ends_only_that_session(void **state)
{
    (void)state;
    s_cluster(2);
    gv_tp_keys keys;
    assert_int_equal(gv_tp_keys_from_secret(&keys, SECRET, strlen(SECRET), false, NULL, 0),
                     GROVE_OK);
    tn_opts o = {.seeds = grove_node_address(s_node[0]),
                 .heartbeat_ms = 50,
                 .nodedown_ms = 1000,
                 .keys = &keys};
    assert_int_equal(tn_start(&s_raw, "raw@127.0.0.1", &o), GROVE_OK);
    int up = TN_UP, down = TN_DOWN;
    assert_true(tn_wait(&s_raw, s_has_event, &up, WAIT_MS));
    /* node 0 sees it too; then a monitor of a pid on it, and a good
     * message first */
    grove_pid rp = {.node = s_raw.nn, .id = 1, .serial = 1, .creation = s_raw.creation};
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    grove_nodename out[8];
    for (;;) {
        size_t n = grove_nodes(s_node[0], out, 8);
        bool seen = false;
        for (size_t i = 0; i < n && i < 8; i++)
            seen = seen || out[i] == s_raw.nn;
        if (seen)
            break;
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(5);
    }
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w[0], rp, &ref), GROVE_OK);
    grove_pid to = grove_waiter_pid(s_w[0]);
    gv_tp_env env;
    memset(&env, 0, sizeof env);
    env.kind = GV_TP_SEND;
    env.u.send.to = (gv_tp_pid){.id = to.id, .serial = to.serial, .creation = to.creation};
    grove_term *good = grove_pack("{good, 1}");
    env.u.send.payload.data = grove_term_bytes(good, &env.u.send.payload.len);
    assert_int_equal(gv_tp_send(s_raw.tp, s_node[0] ? grove_node_name(s_node[0]) : 0, &env),
                     GROVE_OK);
    static const uint8_t bad[] = {131, 0xff, 0xff, 0xff};
    env.u.send.payload.data = bad;
    env.u.send.payload.len = sizeof bad;
    assert_int_equal(gv_tp_send(s_raw.tp, grove_node_name(s_node[0]), &env), GROVE_OK);
    grove_term_destroy(&good);
    grove_term *m = s_recv(0, "{good, 1}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{'DOWN', _, process, _, noconnection}", WAIT_MS);
    grove_term_destroy(&m);
    assert_true(tn_wait(&s_raw, s_has_event, &down, WAIT_MS));
    /* node 0 goes on with node 1 */
    assert_true(s_connected(s_node[0], s_node[1]));
    grove_node_send(s_node[1], grove_waiter_pid(s_w[0]), grove_pack("fine"));
    m = s_recv(0, "fine", WAIT_MS);
    grove_term_destroy(&m);
    tn_fini(&s_raw);
    gv_tp_keys_fini(&keys);
}

static void test_remote_spawn_by_behaviour_name(void **state)
{
    (void)state;
    s_cluster(2);
    grove_nodename n1 = grove_node_name(s_node[1]);
    grove_pid pid;
    assert_int_equal(grove_node_spawn_on(s_node[0], n1, "target", NULL, WAIT_MS, &pid), GROVE_OK);
    assert_true(pid.node == n1);
    grove_node_send(s_node[0], pid, grove_pack("{echo, ~p, spawned}", grove_waiter_pid(s_w[0])));
    grove_term *m = s_recv(0, "spawned", WAIT_MS);
    grove_term_destroy(&m);
    assert_int_equal(grove_node_spawn_on(s_node[0], n1, "no_such", NULL, WAIT_MS, &pid),
                     GROVE_ENOTFOUND);
    grove_nodename ghost;
    assert_int_equal(grove_nodename_intern("ghost@127.0.0.1", 15, &ghost), GROVE_OK);
    assert_int_equal(grove_node_spawn_on(s_node[0], ghost, "target", NULL, WAIT_MS, &pid),
                     GROVE_ENOCONN);
    /* here, by name, too */
    assert_int_equal(
        grove_node_spawn_on(s_node[0], grove_node_name(s_node[0]), "target", NULL, WAIT_MS, &pid),
        GROVE_OK);
    assert_true(pid.node == grove_node_name(s_node[0]));

    /* spawn_request from a process, linked and monitored */
    s_watch(0, grove_waiter_pid(s_w[1]), W_TRAP | W_SPAWN);
    m = s_recv(0, "{got, {spawn_reply, _, ok, _}}", WAIT_MS);
    grove_pid child;
    grove_ref ref;
    assert_true(grove_match(m, "{got, {spawn_reply, ~r, ok, ~p}}", &ref, &child));
    assert_true(child.node == n1);
    grove_term_destroy(&m);
    grove_node_send(s_node[0], child, grove_pack("{crash, spawned_and_gone}"));
    m = s_recv(0, "{got, {'EXIT', _, spawned_and_gone}}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {'DOWN', _, process, _, spawned_and_gone}}", WAIT_MS);
    grove_ref got;
    assert_true(grove_match(m, "{got, {'DOWN', ~r, _, _, _}}", &got));
    assert_true(grove_ref_equal(&got, &ref));
    grove_term_destroy(&m);
}

/* As Erlang's spawn_reply: the reply to a spawn_request reaches the
 * requester before anything the new process sends it, from another node
 * and from this one; 200 requests at once, each greeter saying hello as
 * its very first act. */
#define GREETERS 200

static void s_expect_reply_before_hello(int on)
{
    s_spawn(
        0, &s_spawner,
        grove_pack("{~i, ~p, ~p}", GREETERS, grove_waiter_pid(s_w[0]), grove_waiter_pid(s_w[on])));
    grove_pid replied[GREETERS];
    int n_replied = 0, n_hello = 0;
    while (n_hello < GREETERS) {
        grove_term *m = s_recv(0, "{got, _}", WAIT_MS);
        grove_pid pid;
        if (grove_match(m, "{got, {spawn_reply, _, ok, ~p}}", &pid)) {
            assert_true(n_replied < GREETERS);
            replied[n_replied++] = pid;
        } else if (grove_match(m, "{got, {hello, ~p}}", &pid)) {
            bool seen = false;
            for (int k = 0; k < n_replied && !seen; k++)
                seen = grove_pid_equal(replied[k], pid);
            if (!seen)
                fail_msg("hello from a greeter before its spawn_reply (node %d)", on);
            n_hello++;
        } else {
            fail_msg("unexpected message");
        }
        grove_term_destroy(&m);
    }
    assert_int_equal(n_replied, GREETERS);
}

static void test_spawn_reply_comes_before_what_the_child_sends(void **state)
{
    (void)state;
    s_cluster(2);
    s_expect_reply_before_hello(1);
    s_expect_reply_before_hello(0);
}

/* A monitored spawn_request that fails leaves no monitor behind (and
 * sends no DOWN), from another node and from this one. */
static void test_failed_monitored_spawn_leaves_no_monitor(void **state)
{
    (void)state;
    s_cluster(2);
    for (int on = 1; on >= 0; on--) {
        grove_pid p = s_spawn(0, &s_spawner,
                              grove_pack("{~i, ~p, ~p, no_such}", 3, grove_waiter_pid(s_w[0]),
                                         grove_waiter_pid(s_w[on])));
        for (int k = 0; k < 3; k++) {
            grove_term *m = s_recv(0, "{got, {spawn_reply, _, error, unknown_behaviour}}", WAIT_MS);
            grove_term_destroy(&m);
        }
        grove_proc_info info;
        assert_int_equal(grove_proc_info_get(s_node[0], p, &info), GROVE_OK);
        assert_int_equal(info.monitors, 0);
        s_expect_none(0, 100);
    }
}

/* namewatch w (on node 0) monitors {Name, node `on`}; returns the ref. */
static grove_ref s_monitor_name(grove_pid w, const char *name, int on)
{
    grove_node_send(s_node[0], w, grove_pack("{monitor, ~a, ~p}", name, grove_waiter_pid(s_w[on])));
    grove_term *m = s_recv(0, "{monitored, _, _}", WAIT_MS);
    grove_ref ref;
    assert_true(grove_match(m, "{monitored, 'GROVE_OK', ~r}", &ref));
    grove_term_destroy(&m);
    return ref;
}

/* Waits until t (on node `on`) is watched by n monitors. */
static void s_wait_watched(int on, grove_pid t, uint32_t n)
{
    grove_proc_info info;
    for (int k = 0; k < 2500; k++) { /* the (DE)MONITOR travels */
        assert_int_equal(grove_proc_info_get(s_node[on], t, &info), GROVE_OK);
        if (info.monitored_by == n)
            return;
        gv_sleep_ms(2);
    }
    fail_msg("node %d: monitored_by stays %u, not %u", on, (unsigned)info.monitored_by,
             (unsigned)n);
}

/* erlang:monitor(process, {Name, Node}), on another node and on this
 * one: the DOWN names {Name, Node} and carries the real reason; noproc at
 * once for a name nobody has; demonitor leaves nothing behind on either
 * side; the session ending is noconnection. */
static void test_monitor_by_name_names_the_name(void **state)
{
    (void)state;
    s_cluster(2);
    grove_pid w = s_spawn(0, &s_namewatch, grove_pack("{~p}", grove_waiter_pid(s_w[0])));
    for (int on = 1; on >= 0; on--) {
        char pat[160];
        const char *node = on ? "d1@127.0.0.1" : "d0@127.0.0.1";
        grove_pid t = s_spawn(on, &s_target, NULL);
        assert_int_equal(grove_register(s_node[on], "named_target", t), GROVE_OK);
        grove_ref ref = s_monitor_name(w, "named_target", on);
        s_wait_watched(on, t, 1); /* else the name may be gone first: noproc */
        grove_node_send(s_node[on], t, grove_pack("{crash, boom}"));
        snprintf(pat, sizeof pat, "{got, {'DOWN', _, process, {named_target, '%s'}, boom}}", node);
        grove_term *m = s_recv(0, pat, WAIT_MS);
        grove_ref got;
        assert_true(grove_match(m, "{got, {'DOWN', ~r, _, _, _}}", &got));
        assert_true(grove_ref_equal(&got, &ref));
        grove_term_destroy(&m);

        s_monitor_name(w, "nobody_has_this", on);
        snprintf(pat, sizeof pat, "{got, {'DOWN', _, process, {nobody_has_this, '%s'}, noproc}}",
                 node);
        m = s_recv(0, pat, WAIT_MS);
        grove_term_destroy(&m);

        /* demonitor: the target is no longer watched, and its exit is quiet */
        t = s_spawn(on, &s_target, NULL);
        assert_int_equal(grove_register(s_node[on], "named_again", t), GROVE_OK);
        ref = s_monitor_name(w, "named_again", on);
        s_wait_watched(on, t, 1);
        grove_node_send(s_node[0], w, grove_pack("{demonitor, ~r}", ref));
        m = s_recv(0, "{demonitored, 'GROVE_OK'}", WAIT_MS);
        grove_term_destroy(&m);
        s_wait_watched(on, t, 0);
        grove_node_send(s_node[on], t, grove_pack("{crash, quietly}"));
        s_expect_none(0, 200);
    }
    /* the session ends: noconnection, naming the name */
    grove_pid t = s_spawn(1, &s_target, NULL);
    assert_int_equal(grove_register(s_node[1], "named_last", t), GROVE_OK);
    s_monitor_name(w, "named_last", 1);
    s_wait_watched(1, t, 1);
    grove_waiter_destroy(&s_w[1]);
    grove_node_stop(&s_node[1]);
    grove_term *m = s_recv(
        0, "{got, {'DOWN', _, process, {named_last, 'd1@127.0.0.1'}, noconnection}}", WAIT_MS);
    grove_term_destroy(&m);
    /* and to a node not connected: noconnection at once */
    grove_node_send(s_node[0], w, grove_pack("{monitor, far_away, ~p}", t));
    m = s_recv(0, "{monitored, 'GROVE_OK', _}", WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv(0, "{got, {'DOWN', _, process, {far_away, 'd1@127.0.0.1'}, noconnection}}", WAIT_MS);
    grove_term_destroy(&m);
}

/* echo server: a call answers {echo, Request, Node}. */
static grove_ret echo_call(grove_proc *self, const grove_term *request, grove_from from,
                           void *state, grove_term **reply)
{
    (void)from, (void)state;
    *reply = grove_pack("{echo, ~t, ~a}", grove_term_copy(request),
                        grove_nodename_str(grove_self(self).node));
    return GROVE_REPLY;
}

static const grove_gen_server s_echo = {.name = "echo", .handle_call = echo_call};

/* gen_server:call({Name, Node}, Request): the reply from the server
 * registered there; noproc for a name nobody has; noconnection for a node
 * not connected, or lost during the call. */
static void test_call_to_a_name_on_a_node(void **state)
{
    (void)state;
    s_cluster(2);
    grove_start_opts o = {.name = "echo_here"};
    assert_int_equal(grove_gen_server_start(s_node[1], &s_echo, NULL, &o, NULL), GROVE_OK);
    assert_int_equal(grove_gen_server_start(s_node[0], &s_echo, NULL, &o, NULL), GROVE_OK);
    grove_nodename n1 = grove_node_name(s_node[1]);
    grove_term *reply = NULL;
    assert_int_equal(
        grove_call_name_at(s_node[0], n1, "echo_here", grove_pack("hi"), WAIT_MS, &reply),
        GROVE_OK);
    assert_true(grove_match(reply, "{echo, hi, 'd1@127.0.0.1'}"));
    grove_term_destroy(&reply);
    /* this node, by its name and by 0 */
    assert_int_equal(
        grove_call_name_at(s_node[0], 0, "echo_here", grove_pack("hi"), WAIT_MS, &reply), GROVE_OK);
    assert_true(grove_match(reply, "{echo, hi, 'd0@127.0.0.1'}"));
    grove_term_destroy(&reply);
    for (int on = 1; on >= 0; on--) {
        assert_int_equal(grove_call_name_at(s_node[0], grove_node_name(s_node[on]), "nobody",
                                            grove_pack("hi"), WAIT_MS, &reply),
                         GROVE_ENOPROC);
        assert_true(grove_match(reply, "noproc"));
        grove_term_destroy(&reply);
    }
    assert_int_equal(grove_call_name_at(s_node[0], n1, "", grove_pack("hi"), WAIT_MS, &reply),
                     GROVE_EINVAL);
    grove_waiter_destroy(&s_w[1]);
    grove_node_stop(&s_node[1]);
    assert_int_equal(
        grove_call_name_at(s_node[0], n1, "echo_here", grove_pack("hi"), WAIT_MS, &reply),
        GROVE_ENOCONN);
    assert_true(grove_match(reply, "noconnection"));
    grove_term_destroy(&reply);
}

#define ORDER_N 100000

static void test_per_pair_order_over_100000_messages(void **state)
{
    (void)state;
    s_cluster(2);
    uint64_t t0 = gv_now_ms();
    s_spawn(0, &s_blaster, grove_pack("{~p, ~i}", grove_waiter_pid(s_w[1]), ORDER_N));
    for (int i = 0; i < ORDER_N; i++) {
        grove_term *m = NULL;
        assert_int_equal(grove_waiter_recv(s_w[1], 30000, &m), GROVE_OK);
        int seq = -1;
        assert_true(grove_match(m, "{seq, ~i}", &seq));
        assert_int_equal(seq, i);
        grove_term_destroy(&m);
    }
    s_expect_none(1, 10);
    print_message("100000 ordered messages in %llu ms\n", (unsigned long long)(gv_now_ms() - t0));
}

int main(void)
{
    if (grove_behaviour_register(&s_greeter) != GROVE_OK)
        return 1;
    if (grove_behaviour_register(&s_target) != GROVE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_local_node_needs_no_secret, s_stop_all),
        cmocka_unit_test_teardown(test_listening_node_refuses_to_start_without_a_secret,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_message_to_remote_pid_arrives, s_stop_all),
        cmocka_unit_test_teardown(test_remote_crash_kills_linked_process_and_reaches_trapping_one,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_remote_monitor_gets_the_real_reason, s_stop_all),
        cmocka_unit_test_teardown(test_remote_unlink_and_demonitor_take_effect, s_stop_all),
        cmocka_unit_test_teardown(test_monitor_of_unconnected_node_is_noconnection_at_once,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_stopping_a_node_fires_noconnection_across, s_stop_all),
        cmocka_unit_test_teardown(test_nodeup_is_reported_to_monitor_nodes, s_stop_all),
        cmocka_unit_test_teardown(test_node_monitors_go_with_their_process, s_stop_all),
        cmocka_unit_test_teardown(test_per_pair_order_over_100000_messages, s_stop_all),
        cmocka_unit_test_teardown(test_bad_payload_ends_only_that_session, s_stop_raw),
        cmocka_unit_test_teardown(test_remote_spawn_by_behaviour_name, s_stop_all),
        cmocka_unit_test_teardown(test_spawn_reply_comes_before_what_the_child_sends, s_stop_all),
        cmocka_unit_test_teardown(test_failed_monitored_spawn_leaves_no_monitor, s_stop_all),
        cmocka_unit_test_teardown(test_monitor_by_name_names_the_name, s_stop_all),
        cmocka_unit_test_teardown(test_call_to_a_name_on_a_node, s_stop_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
