/*
 * sup_remote_test.c - supervisors with children on other nodes
 * (docs/otp.md, "Children on other nodes"): two or three nodes in one
 * process on 127.0.0.1 (random ports, a test secret), started with
 * grove_node_start, plus, for the tests of a node that does not know a
 * child's target, a node in a separate process running this same binary
 * in a bare mode (its registrations differ, as another program's would).
 * Only this thread asserts; children report to a waiter on node 0.
 */
#include <grove/grove.h>

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "inproc.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

#define SECRET "5f2a9c1e7b3d4f6a8c0e2b4d6f8a1c3e"
#define WAIT_MS 20000
#define NODES 3
#define HB_MS 50
#define ND_MS 1000

static grove_node *s_node[NODES];
static grove_waiter *s_w; /* on node 0: every report comes here */
static pid_t s_bare = -1; /* a node in another process */
static int s_bare_stdin = -1;

static void s_stop_bare(void)
{
    if (s_bare_stdin >= 0)
        close(s_bare_stdin); /* the bare node stops when its stdin closes */
    s_bare_stdin = -1;
    if (s_bare > 0) {
        int status;
        waitpid(s_bare, &status, 0);
    }
    s_bare = -1;
}

static int s_stop_all(void **state)
{
    (void)state;
    grove_waiter_destroy(&s_w);
    s_stop_bare();
    inproc_stop(s_node, NULL, NODES);
    return 0;
}

static grove_node_opts s_opts(const char *name, const char *seeds)
{
    return (grove_node_opts){.name = name,
                             .schedulers = 2,
                             .listen = "127.0.0.1:0",
                             .seeds = seeds,
                             .cookie = SECRET,
                             .heartbeat_ms = HB_MS,
                             .nodedown_ms = ND_MS};
}

static grove_nodename s_name(int i)
{
    return grove_node_name(s_node[i]);
}

/* Starts nodes 0..n-1, each seeded with node 0, waits for the mesh, and
 * starts a waiter on node 0. */
static void s_cluster(int n)
{
    inproc_cluster(s_node, n, "s", SECRET, HB_MS, ND_MS, WAIT_MS);
    assert_int_equal(grove_waiter_new(s_node[0], &s_w), GROVE_OK);
}

static grove_term *s_expect(const char *pattern)
{
    grove_term *m = NULL;
    grove_err e = grove_waiter_recv_match(s_w, pattern, WAIT_MS, &m);
    if (e != GROVE_OK)
        fail_msg("no message matching %s (%s)", pattern, grove_errname(e));
    return m;
}

static char *s_text(const grove_term *t)
{
    return t ? grove_term_format(t) : strdup("NULL");
}

/* ---- children ----------------------------------------------------------------------------- */

typedef struct worker {
    grove_pid report;
    char id[32];
} worker;

/* arg {Report, Id}: reports {init, Id, Pid} and, at exit, {terminate, Id,
 * Pid, Reason}; cast {stop, R} stops it with R; call where answers its
 * node. */
static grove_err worker_init(grove_proc *self, const grove_term *arg, void **state)
{
    worker *w = gv_calloc(1, sizeof *w);
    if (!grove_match(arg, "{~p, ~a}", &w->report, w->id, sizeof w->id)) {
        gv_free(w);
        return GROVE_EBADARG;
    }
    grove_send(self, w->report, grove_pack("{init, ~a, ~p}", w->id, grove_self(self)));
    *state = w;
    return GROVE_OK;
}

static grove_ret worker_cast(grove_proc *self, const grove_term *msg, void *state)
{
    (void)state;
    grove_term *r = NULL;
    if (grove_match(msg, "{stop, ~t}", &r))
        return grove_stop(self, r);
    return GROVE_NOREPLY;
}

static grove_ret worker_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                             grove_term **reply)
{
    (void)req, (void)from, (void)state;
    *reply = grove_pack("{node, ~a}", grove_nodename_str(grove_node_name(grove_proc_node(self))));
    return GROVE_REPLY;
}

static void worker_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    worker *w = state;
    grove_send(
        self, w->report,
        grove_pack("{terminate, ~a, ~p, ~t}", w->id, grove_self(self), grove_term_copy(reason)));
}

static const grove_gen_server worker_server = {
    .name = "rworker",
    .init = worker_init,
    .handle_call = worker_call,
    .handle_cast = worker_cast,
    .terminate = worker_terminate,
    .free_state = gv_free,
};

/* Registered only in the bare node's program (so its table differs). */
static const grove_gen_server other_server = {.name = "other", .init = worker_init};

/* A plain behaviour child: reports like the worker. */
static grove_ret pinger_handle(grove_proc *self, const grove_term *msg, void *state)
{
    worker *w = state;
    if (grove_match(msg, "ping"))
        grove_send(self, w->report, grove_pack("{pong, ~a, ~p}", w->id, grove_self(self)));
    return GROVE_CONTINUE;
}

static const grove_behaviour pinger = {
    .name = "pinger", .init = worker_init, .handle = pinger_handle, .free_state = gv_free};

/* A supervisor module, also started remotely by name.
 * arg {Report, Intensity, [{Id, Where, Node}]}: gen_server children,
 * Where local | node | any | named (on Node, registered there under its
 * Id) | pinger (a plain behaviour on Node). */
static grove_err rsup_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                           grove_children *children)
{
    (void)self;
    grove_pid report;
    int intensity;
    grove_term *list = NULL, *head = NULL, *rest = NULL;
    if (!grove_match(arg, "{~p, ~i, ~t}", &report, &intensity, &list))
        return GROVE_EBADARG;
    flags->strategy = GROVE_ONE_FOR_ONE;
    flags->intensity = intensity;
    flags->period_ms = 60000;
    grove_err err = GROVE_OK;
    while (!err && grove_match(list, "[~t | ~t]", &head, &rest)) {
        char id[32], where[16], node[64];
        if (!grove_match(head, "{~a, ~a, ~a}", id, sizeof id, where, sizeof where, node,
                         sizeof node)) {
            err = GROVE_EBADARG;
        } else {
            grove_child_spec spec = {
                .id = id, .gen_server = &worker_server, .arg = grove_pack("{~p, ~a}", report, id)};
            if (strcmp(where, "node") == 0)
                spec.placement = (grove_placement){.where = GROVE_PLACE_NODE, .node = node};
            else if (strcmp(where, "any") == 0)
                spec.placement = (grove_placement){.where = GROVE_PLACE_ANY};
            else if (strcmp(where, "named") == 0) {
                spec.placement = (grove_placement){.where = GROVE_PLACE_NODE, .node = node};
                spec.name = id;
            } else if (strcmp(where, "pinger") == 0) {
                spec.gen_server = NULL;
                spec.behaviour = &pinger;
                spec.placement = (grove_placement){.where = GROVE_PLACE_NODE, .node = node};
            }
            err = grove_sup_add(children, &spec);
        }
        grove_term_destroy(&head);
        grove_term_destroy(&list);
        list = rest;
        rest = NULL;
    }
    grove_term_destroy(&list);
    return err;
}

static const grove_supervisor rsup = {.name = "rsup", .init = rsup_init};

/* {Id, Where, Node} for the child list. */
static grove_term *s_kid(const char *id, const char *where, int node)
{
    return grove_pack("{~a, ~a, ~a}", id, where,
                      node >= 0 ? grove_nodename_str(s_name(node)) : "none");
}

static grove_term *s_kids(grove_term **kids, int n)
{
    grove_term *list = grove_pack("[]");
    for (int i = n; i-- > 0;)
        list = grove_pack("[~t | ~t]", kids[i], list);
    return list;
}

static grove_pid s_start_sup(int intensity, grove_term *kids)
{
    grove_pid sup;
    grove_term *why = NULL;
    grove_err e = grove_supervisor_start(
        s_node[0], &rsup, grove_pack("{~p, ~i, ~t}", grove_waiter_pid(s_w), intensity, kids),
        &(grove_start_opts){.reason = &why}, &sup);
    if (e != GROVE_OK) {
        char *t = s_text(why);
        fail_msg("supervisor start: %s %s", grove_errname(e), t);
    }
    return sup;
}

/* Waits for {init, Id, Pid} and returns Pid. */
static grove_pid s_init_of(const char *id)
{
    char pattern[96];
    snprintf(pattern, sizeof pattern, "{init, '%s', _}", id);
    grove_term *m = s_expect(pattern);
    grove_pid pid;
    assert_true(grove_match(m, "{init, _, ~p}", &pid));
    grove_term_destroy(&m);
    return pid;
}

static grove_child_info *s_children(grove_pid sup, size_t *n)
{
    grove_child_info *info = NULL;
    assert_int_equal(grove_supervisor_which_children(s_node[0], sup, &info, n), GROVE_OK);
    return info;
}

static grove_pid s_child_pid(grove_pid sup, const char *id)
{
    size_t n;
    grove_child_info *info = s_children(sup, &n);
    grove_pid pid = {0};
    for (size_t i = 0; i < n; i++)
        if (strcmp(info[i].id, id) == 0 && info[i].running)
            pid = info[i].pid;
    free(info);
    if (!pid.node)
        fail_msg("child %s is not running", id);
    return pid;
}

static int s_node_index(grove_nodename n)
{
    for (int i = 0; i < NODES; i++)
        if (s_node[i] && s_name(i) == n)
            return i;
    return -1;
}

static bool s_gone_on(int i, grove_pid pid)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    grove_proc_info info;
    while (grove_proc_info_get(s_node[i], pid, &info) == GROVE_OK) {
        if (gv_now_ms() > deadline)
            return false;
        gv_sleep_ms(2);
    }
    return true;
}

/* ---- tests --------------------------------------------------------------------------------------
 */

static void test_a_child_placed_on_a_named_node_runs_and_restarts_there(void **state)
{
    (void)state;
    s_cluster(2);
    grove_term *kids[] = {s_kid("here", "local", -1), s_kid("there", "node", 1),
                          s_kid("ping", "pinger", 1), s_kid("tagged", "named", 1)};
    grove_pid sup = s_start_sup(5, s_kids(kids, 4));
    grove_pid here = s_init_of("here"), there = s_init_of("there"), ping = s_init_of("ping");
    /* a local name of a remote child is registered on its node */
    grove_pid tagged = s_init_of("tagged"), found;
    assert_true(tagged.node == s_name(1));
    assert_int_equal(grove_whereis(s_node[1], "tagged", &found), GROVE_OK);
    assert_true(grove_pid_equal(found, tagged));
    assert_int_equal(grove_whereis(s_node[0], "tagged", &found), GROVE_ENOTFOUND);
    assert_true(here.node == s_name(0));
    assert_true(there.node == s_name(1));
    assert_true(ping.node == s_name(1));
    /* which_children shows the remote pids; the child runs its code there */
    assert_true(grove_pid_equal(s_child_pid(sup, "there"), there));
    assert_true(grove_pid_equal(s_child_pid(sup, "ping"), ping));
    grove_term *reply = NULL;
    assert_int_equal(grove_call(s_node[0], there, grove_atom("where"), WAIT_MS, &reply), GROVE_OK);
    assert_true(grove_match(reply, "{node, 's1@127.0.0.1'}"));
    grove_term_destroy(&reply);
    grove_node_send(s_node[0], ping, grove_atom("ping"));
    grove_term *m = s_expect("{pong, ping, _}");
    grove_term_destroy(&m);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(s_node[0], sup, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 4);
    assert_int_equal(counts.active, 4);
    assert_int_equal(counts.workers, 4);

    /* a crash there: restarted there, a new pid */
    grove_node_cast(s_node[0], there, grove_pack("{stop, boom}"));
    m = s_expect("{terminate, there, _, boom}");
    grove_term_destroy(&m);
    grove_pid again = s_init_of("there");
    assert_true(again.node == s_name(1));
    assert_false(grove_pid_equal(again, there));
    assert_true(grove_pid_equal(s_child_pid(sup, "there"), again));
    assert_true(s_gone_on(1, there));
    /* a named one re-registers its name there at its restart */
    grove_node_cast(s_node[0], tagged, grove_pack("{stop, bang}"));
    grove_pid tagged2 = s_init_of("tagged");
    assert_true(tagged2.node == s_name(1));
    assert_false(grove_pid_equal(tagged2, tagged));
    assert_int_equal(grove_whereis(s_node[1], "tagged", &found), GROVE_OK);
    assert_true(grove_pid_equal(found, tagged2));
    /* the other children were left alone */
    assert_true(grove_pid_equal(s_child_pid(sup, "here"), here));
    assert_true(grove_pid_equal(s_child_pid(sup, "ping"), ping));

    /* terminate_child and restart_child work on a remote child too */
    assert_int_equal(grove_supervisor_terminate_child(s_node[0], sup, "there"), GROVE_OK);
    m = s_expect("{terminate, there, _, shutdown}");
    grove_term_destroy(&m);
    assert_true(s_gone_on(1, again));
    grove_pid third;
    assert_int_equal(grove_supervisor_restart_child(s_node[0], sup, "there", &third), GROVE_OK);
    assert_true(third.node == s_name(1));
    assert_true(grove_pid_equal(s_init_of("there"), third));
    assert_int_equal(grove_supervisor_stop(s_node[0], sup, NULL, WAIT_MS), GROVE_OK);
}

static void test_a_nested_supervisor_and_dynamic_children_on_another_node(void **state)
{
    (void)state;
    s_cluster(2);
    /* a supervisor started by name on node 1, whose own children are local
     * to it (so on node 1) */
    grove_pid top;
    assert_int_equal(grove_dynsup_start(s_node[0], NULL, NULL, &top), GROVE_OK);
    grove_term *kids[] = {s_kid("inner", "local", -1)};
    grove_pid nested;
    assert_int_equal(
        grove_dynsup_start_child(
            s_node[0], top,
            &(grove_child_spec){
                .supervisor = &rsup,
                .arg = grove_pack("{~p, 3, ~t}", grove_waiter_pid(s_w), s_kids(kids, 1)),
                .placement = {.where = GROVE_PLACE_NODE, .node = "s1@127.0.0.1"}},
            &nested),
        GROVE_OK);
    assert_true(nested.node == s_name(1));
    grove_pid inner = s_init_of("inner");
    assert_true(inner.node == s_name(1));
    /* the nested supervisor answers management calls across nodes */
    assert_true(grove_pid_equal(s_child_pid(nested, "inner"), inner));
    /* a dynamic gen_server child there, and a dynamic supervisor by name */
    grove_pid dyn;
    assert_int_equal(
        grove_dynsup_start_child(
            s_node[0], top,
            &(grove_child_spec){.gen_server = &worker_server,
                                .arg = grove_pack("{~p, dyn}", grove_waiter_pid(s_w)),
                                .placement = {.where = GROVE_PLACE_NODE, .node = "s1@127.0.0.1"}},
            &dyn),
        GROVE_OK);
    assert_true(dyn.node == s_name(1));
    assert_true(grove_pid_equal(s_init_of("dyn"), dyn));
    grove_pid dsup;
    assert_int_equal(
        grove_dynsup_start_child(
            s_node[0], top,
            &(grove_child_spec){.supervisor = &grove_dynamic_supervisor,
                                .placement = {.where = GROVE_PLACE_NODE, .node = "s1@127.0.0.1"}},
            &dsup),
        GROVE_OK);
    assert_true(dsup.node == s_name(1));
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(s_node[0], top, &counts), GROVE_OK);
    assert_int_equal(counts.active, 3);
    assert_int_equal(counts.supervisors, 2);
    /* stopping the top supervisor stops them all on node 1, the nested
     * supervisor's own child included */
    assert_int_equal(grove_supervisor_stop(s_node[0], top, NULL, WAIT_MS), GROVE_OK);
    grove_term *m = s_expect("{terminate, inner, _, shutdown}");
    grove_term_destroy(&m);
    m = s_expect("{terminate, dyn, _, shutdown}");
    grove_term_destroy(&m);
    assert_true(s_gone_on(1, nested));
    assert_true(s_gone_on(1, inner));
    assert_true(s_gone_on(1, dyn));
    assert_true(s_gone_on(1, dsup));
}

#define SPREAD 30

static void test_thirty_any_children_on_three_idle_nodes_land_ten_each(void **state)
{
    (void)state;
    s_cluster(3);
    grove_term *kids[SPREAD];
    char ids[SPREAD][16];
    for (int i = 0; i < SPREAD; i++) {
        snprintf(ids[i], sizeof ids[i], "k%d", i);
        kids[i] = s_kid(ids[i], "any", -1);
    }
    grove_pid sup = s_start_sup(3, s_kids(kids, SPREAD));
    size_t n;
    grove_child_info *info = s_children(sup, &n);
    assert_int_equal(n, SPREAD);
    int per[NODES] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(info[i].running);
        int k = s_node_index(info[i].pid.node);
        assert_true(k >= 0);
        per[k]++;
    }
    free(info);
    print_message("placement: %d / %d / %d\n", per[0], per[1], per[2]);
    for (int k = 0; k < NODES; k++)
        assert_int_equal(per[k], SPREAD / NODES);
    for (int i = 0; i < SPREAD; i++)
        (void)s_init_of(ids[i]);
    assert_int_equal(grove_supervisor_stop(s_node[0], sup, NULL, WAIT_MS), GROVE_OK);
}

#define LOST 9

static void test_a_lost_node_s_children_restart_on_the_survivors(void **state)
{
    (void)state;
    s_cluster(3);
    grove_term *kids[LOST];
    char ids[LOST][16];
    for (int i = 0; i < LOST; i++) {
        snprintf(ids[i], sizeof ids[i], "k%d", i);
        kids[i] = s_kid(ids[i], "any", -1);
    }
    /* each lost child is one restart: the intensity allows them */
    grove_pid sup = s_start_sup(20, s_kids(kids, LOST));
    size_t n;
    grove_child_info *before = s_children(sup, &n);
    assert_int_equal(n, LOST);
    int on2 = 0;
    for (size_t i = 0; i < n; i++)
        on2 += before[i].pid.node == s_name(2);
    assert_int_equal(on2, LOST / NODES);
    grove_ref mon;
    assert_int_equal(grove_waiter_monitor(s_w, sup, &mon), GROVE_OK);

    grove_nodename lost = s_name(2);
    grove_node_stop(&s_node[2]);

    /* every child runs again, none on the lost node; those elsewhere
     * were left alone */
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    grove_child_info *after = NULL;
    for (;;) {
        after = s_children(sup, &n);
        assert_int_equal(n, LOST);
        bool done = true;
        for (size_t i = 0; i < n; i++)
            done = done && after[i].running && after[i].pid.node != lost;
        if (done)
            break;
        free(after);
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(10);
    }
    int per[NODES] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(after[i].id, before[i].id);
        if (before[i].pid.node != lost)
            assert_true(grove_pid_equal(after[i].pid, before[i].pid));
        else
            assert_false(grove_pid_equal(after[i].pid, before[i].pid));
        int k = s_node_index(after[i].pid.node);
        assert_true(k == 0 || k == 1);
        per[k]++;
    }
    /* 3 + 3 before, the 3 lost ones spread over the two survivors */
    assert_true(per[0] >= 4 && per[1] >= 4);
    free(before);
    free(after);
    /* the supervisor is still up, within its intensity */
    grove_term *m = NULL;
    assert_int_equal(grove_waiter_recv_match(s_w, "{'DOWN', _, process, _, _}", 200, &m),
                     GROVE_ETIMEDOUT);
    assert_int_equal(grove_supervisor_stop(s_node[0], sup, NULL, WAIT_MS), GROVE_OK);
}

static void test_a_child_pinned_to_a_lost_node_fails_its_restarts(void **state)
{
    (void)state;
    s_cluster(2);
    grove_term *kids[] = {s_kid("here", "local", -1), s_kid("pinned", "node", 1)};
    grove_pid sup = s_start_sup(2, s_kids(kids, 2));
    grove_pid here = s_init_of("here");
    (void)s_init_of("pinned");
    grove_ref mon;
    assert_int_equal(grove_waiter_monitor(s_w, sup, &mon), GROVE_OK);
    grove_node_stop(&s_node[1]);
    /* noconnection is a crash; each restart fails (noconnection): over
     * the intensity the supervisor stops its children and exits */
    grove_term *m = s_expect("{terminate, here, _, shutdown}");
    grove_term_destroy(&m);
    m = s_expect("{'DOWN', _, process, _, _}");
    grove_ref got;
    grove_term *why = NULL;
    assert_true(grove_match(m, "{'DOWN', ~r, process, _, ~t}", &got, &why));
    assert_true(grove_ref_equal(&got, &mon));
    assert_true(grove_match(why, "shutdown"));
    grove_term_destroy(&why);
    grove_term_destroy(&m);
    assert_true(s_gone_on(0, here));
}

static void test_supervisor_shutdown_stops_remote_children(void **state)
{
    (void)state;
    s_cluster(3);
    grove_term *kids[] = {s_kid("a", "node", 1), s_kid("b", "node", 2), s_kid("c", "any", -1),
                          s_kid("d", "any", -1)};
    grove_pid sup = s_start_sup(3, s_kids(kids, 4));
    grove_pid p[4];
    const char *ids[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        p[i] = s_init_of(ids[i]);
    assert_true(p[0].node == s_name(1));
    assert_true(p[1].node == s_name(2));
    /* a and b hold nodes 1 and 2: the ANY children spread over the rest */
    assert_true(p[2].node == s_name(0));
    assert_true(p[3].node == s_name(1) || p[3].node == s_name(2));
    assert_int_equal(grove_supervisor_stop(s_node[0], sup, NULL, WAIT_MS), GROVE_OK);
    /* stopped in reverse order, each with shutdown, and gone on its node */
    for (int i = 3; i >= 0; i--) {
        grove_term *m = s_expect("{terminate, _, _, _}");
        char id[8];
        grove_pid pid;
        grove_term *why = NULL;
        assert_true(grove_match(m, "{terminate, ~a, ~p, ~t}", id, sizeof id, &pid, &why));
        assert_string_equal(id, ids[i]);
        assert_true(grove_pid_equal(pid, p[i]));
        assert_true(grove_match(why, "shutdown"));
        grove_term_destroy(&why);
        grove_term_destroy(&m);
        assert_true(s_gone_on(s_node_index(p[i].node), p[i]));
    }
}

/* ---- a node that does not know the target -------------------------------------------------- */

/* Starts this binary as a bare node ("bare@127.0.0.1", seeded with node
 * 0) that registers `what` (other: another gen_server only; none:
 * nothing), and waits until node 0 sees it. */
static void s_start_bare(const char *what)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(len > 0);
    self[len] = '\0';
    char seed[128];
    snprintf(seed, sizeof seed, "%s", grove_node_address(s_node[0]));
    char *argv[] = {self, "--bare-node", (char *)what, seed, NULL};
    int rc = posix_spawn(&s_bare, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    assert_int_equal(rc, 0);
    s_bare_stdin = fds[1];
    fcntl(s_bare_stdin, F_SETFD, FD_CLOEXEC);
    grove_nodename bare;
    assert_int_equal(grove_nodename_intern("bare@127.0.0.1", 14, &bare), GROVE_OK);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (!inproc_sees(s_node[0], bare)) {
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(10);
    }
}

static int s_bare_main(const char *what, const char *seed)
{
    if (strcmp(what, "other") == 0 && grove_gen_server_register(&other_server) != GROVE_OK)
        return 2;
    grove_node_opts o = s_opts("bare@127.0.0.1", seed);
    grove_node *node = grove_node_start(&o);
    if (!node)
        return 3;
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    grove_node_stop(&node);
    return 0;
}

static void s_expect_start_failure(const char *reason_pattern, grove_err code)
{
    grove_term *kids[] = {s_kid("here", "local", -1), grove_pack("{w, node, 'bare@127.0.0.1'}")};
    grove_pid sup;
    grove_term *why = NULL;
    grove_err e = grove_supervisor_start(
        s_node[0], &rsup, grove_pack("{~p, 3, ~t}", grove_waiter_pid(s_w), s_kids(kids, 2)),
        &(grove_start_opts){.reason = &why}, &sup);
    assert_int_equal(e, GROVE_ENOPROC);
    char pattern[160];
    snprintf(pattern, sizeof pattern, "{shutdown, {failed_to_start_child, <<\"w\">>, %s}}",
             reason_pattern);
    if (!grove_match(why, pattern)) {
        char *t = s_text(why);
        fail_msg("reason %s does not match %s", t, pattern);
    }
    grove_term_destroy(&why);
    /* the child started before it was stopped again */
    grove_term *m = s_expect("{terminate, here, _, shutdown}");
    grove_term_destroy(&m);
    /* and a dynamic supervisor's start_child reads it as an error code */
    grove_pid dyn, child;
    assert_int_equal(grove_dynsup_start(s_node[0], NULL, NULL, &dyn), GROVE_OK);
    assert_int_equal(
        grove_dynsup_start_child(
            s_node[0], dyn,
            &(grove_child_spec){.gen_server = &worker_server,
                                .arg = grove_pack("{~p, w}", grove_waiter_pid(s_w)),
                                .placement = {.where = GROVE_PLACE_NODE, .node = "bare@127.0.0.1"}},
            &child),
        code);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(s_node[0], dyn, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 0);
    assert_int_equal(grove_supervisor_stop(s_node[0], dyn, NULL, WAIT_MS), GROVE_OK);
}

static void test_a_target_not_registered_on_the_remote_node_fails_the_start(void **state)
{
    (void)state;
    s_cluster(1);
    s_start_bare("other");
    s_expect_start_failure("{not_registered, gen_server, <<\"rworker\">>}", GROVE_ENOTFOUND);
}

static void test_a_node_without_the_otp_entry_fails_the_start(void **state)
{
    (void)state;
    s_cluster(1);
    s_start_bare("none");
    s_expect_start_failure("{remote_spawn_failed, 'bare@127.0.0.1', unknown_behaviour}",
                           GROVE_ENOTFOUND);
}

static void test_an_unconnected_node_fails_the_start_with_noconnection(void **state)
{
    (void)state;
    s_cluster(1);
    grove_pid dyn, child;
    assert_int_equal(grove_dynsup_start(s_node[0], NULL, NULL, &dyn), GROVE_OK);
    assert_int_equal(grove_dynsup_start_child(
                         s_node[0], dyn,
                         &(grove_child_spec){
                             .gen_server = &worker_server,
                             .arg = grove_pack("{~p, w}", grove_waiter_pid(s_w)),
                             .placement = {.where = GROVE_PLACE_NODE, .node = "ghost@127.0.0.1"}},
                         &child),
                     GROVE_ENOCONN);
    assert_int_equal(grove_supervisor_stop(s_node[0], dyn, NULL, WAIT_MS), GROVE_OK);
}

/* A remote placement needs a target registered by name. */
static grove_ret unregistered_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)self, (void)msg, (void)state;
    return GROVE_CONTINUE;
}

static const grove_gen_server unregistered_server = {.name = "unregistered"};
static const grove_behaviour unregistered_behaviour = {.name = "unregistered_b",
                                                       .handle = unregistered_handle};

static grove_err bad_sup_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                              grove_children *children)
{
    (void)self, (void)flags;
    grove_pid report;
    if (!grove_match(arg, "~p", &report))
        return GROVE_EBADARG;
    grove_err e[5];
    e[0] = grove_sup_add(children, &(grove_child_spec){.id = "a",
                                                       .gen_server = &unregistered_server,
                                                       .arg = grove_atom("consumed"),
                                                       .placement = {.where = GROVE_PLACE_ANY}});
    e[1] = grove_sup_add(children, &(grove_child_spec){.id = "b",
                                                       .behaviour = &unregistered_behaviour,
                                                       .placement = {.where = GROVE_PLACE_NODE,
                                                                     .node = "s0@127.0.0.1"}});
    e[2] = grove_sup_add(children, &(grove_child_spec){.id = "c",
                                                       .gen_server = &worker_server,
                                                       .placement = {.where = GROVE_PLACE_NODE}});
    e[3] = grove_sup_add(children, &(grove_child_spec){.id = "d",
                                                       .gen_server = &worker_server,
                                                       .placement = {.where = (grove_place)7}});
    /* the same target placed locally needs no registration */
    e[4] =
        grove_sup_add(children, &(grove_child_spec){.id = "e", .gen_server = &unregistered_server});
    grove_send(self, report,
               grove_pack("{adds, ~a, ~a, ~a, ~a, ~a}", grove_errname(e[0]), grove_errname(e[1]),
                          grove_errname(e[2]), grove_errname(e[3]), grove_errname(e[4])));
    return GROVE_OK;
}

static const grove_supervisor bad_sup = {.name = "bad_sup", .init = bad_sup_init};

static void test_a_remote_placement_needs_a_registered_target(void **state)
{
    (void)state;
    s_cluster(1);
    grove_pid sup;
    assert_int_equal(grove_supervisor_start(s_node[0], &bad_sup,
                                            grove_pack("~p", grove_waiter_pid(s_w)), NULL, &sup),
                     GROVE_OK);
    grove_term *m = s_expect("{adds, _, _, _, _, _}");
    if (!grove_match(m, "{adds, 'GROVE_EINVAL', 'GROVE_EINVAL', 'GROVE_EINVAL', 'GROVE_EINVAL', "
                        "'GROVE_OK'}")) {
        char *t = s_text(m);
        fail_msg("adds: %s", t);
    }
    grove_term_destroy(&m);
    assert_int_equal(grove_supervisor_stop(s_node[0], sup, NULL, WAIT_MS), GROVE_OK);
    /* registration: by name, once per table */
    static const grove_gen_server twin = {.name = "rworker"};
    assert_int_equal(grove_gen_server_register(&worker_server), GROVE_OK);
    assert_int_equal(grove_gen_server_register(&twin), GROVE_EEXIST);
    assert_int_equal(grove_gen_server_register(&(grove_gen_server){.name = NULL}), GROVE_EINVAL);
    assert_int_equal(grove_supervisor_register(&(grove_supervisor){.name = "x"}), GROVE_EINVAL);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--bare-node") == 0)
        return s_bare_main(argv[2], argv[3]);
    if (grove_gen_server_register(&worker_server) != GROVE_OK ||
        grove_supervisor_register(&rsup) != GROVE_OK ||
        grove_child_behaviour_register(&pinger) != GROVE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_a_child_placed_on_a_named_node_runs_and_restarts_there,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_a_nested_supervisor_and_dynamic_children_on_another_node,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_thirty_any_children_on_three_idle_nodes_land_ten_each,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_a_lost_node_s_children_restart_on_the_survivors, s_stop_all),
        cmocka_unit_test_teardown(test_a_child_pinned_to_a_lost_node_fails_its_restarts,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_supervisor_shutdown_stops_remote_children, s_stop_all),
        cmocka_unit_test_teardown(test_a_target_not_registered_on_the_remote_node_fails_the_start,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_a_node_without_the_otp_entry_fails_the_start, s_stop_all),
        cmocka_unit_test_teardown(test_an_unconnected_node_fails_the_start_with_noconnection,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_a_remote_placement_needs_a_registered_target, s_stop_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
