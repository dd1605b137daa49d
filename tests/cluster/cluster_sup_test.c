/*
 * cluster_sup_test.c - the cluster-wide supervisor (docs/otp.md, "The
 * cluster-wide supervisor") on three whole nodes in one process on
 * 127.0.0.1 (random ports, a test secret): initial children spread over
 * the members with global names, one view of them on every node, a
 * crash restarted on its host, start_child and terminate_child from any
 * node, and the node that started the supervisor first stopped: its
 * children restart on the survivors, no earlier than twice the nodedown
 * time, under the same global names, the same way in two runs, and no
 * child ever runs twice (each child counts its live copies in this
 * process's memory). Only this thread asserts.
 */
#include <grove/grove.h>

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "inproc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SECRET "3c8e1f5a9b2d7e4f6a0c3b5d8e1f2a4c"
#define WAIT_MS 20000
#define NODES 3
#define HB_MS 100
#define ND_MS 500
#define KIDS 9          /* initial children k0..k8, global names g0..g8 */
#define EXTRA KIDS      /* the child added by start_child */
#define SUP "csup_test" /* the supervisor's name */

static grove_node *s_node[NODES];
static grove_nodename s_names[NODES];

/* ---- the children: they count their live copies -----------------------------------------------
 */

static _Atomic int s_live[KIDS + 1];
static _Atomic bool s_twice;                 /* some child had two live copies */
static _Atomic uint64_t s_init_ms[KIDS + 1]; /* when each last ran its init */
static _Atomic unsigned s_inits[KIDS + 1];

typedef struct kid {
    int idx;
} kid;

static grove_err kid_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)self;
    int idx;
    if (!grove_match(arg, "~i", &idx) || idx < 0 || idx > KIDS)
        return GROVE_EBADARG;
    if (atomic_fetch_add(&s_live[idx], 1) != 0)
        atomic_store(&s_twice, true);
    atomic_store(&s_init_ms[idx], gv_now_ms());
    atomic_fetch_add(&s_inits[idx], 1);
    kid *k = gv_calloc(1, sizeof *k);
    k->idx = idx;
    *state = k;
    return GROVE_OK;
}

static grove_ret kid_cast(grove_proc *self, const grove_term *msg, void *state)
{
    (void)state;
    if (grove_match(msg, "crash"))
        return grove_stop(self, grove_atom("crash"));
    return GROVE_NOREPLY;
}

static void kid_free(void *state)
{
    kid *k = state;
    atomic_fetch_sub(&s_live[k->idx], 1);
    gv_free(k);
}

static const grove_gen_server kid_server = {
    .name = "csup_kid",
    .init = kid_init,
    .handle_cast = kid_cast,
    .free_state = kid_free,
};

/* Never registered by name: refused as a cluster child. */
static const grove_gen_server unregistered_server = {.name = "csup_unregistered", .init = kid_init};

/* ---- nodes ------------------------------------------------------------------------------------
 */

static void s_stop_nodes(void)
{
    inproc_stop(s_node, NULL, NODES);
}

static int s_teardown(void **state)
{
    (void)state;
    s_stop_nodes();
    return 0;
}

static void s_start_nodes(void)
{
    inproc_cluster(s_node, NODES, "cs", SECRET, HB_MS, ND_MS, WAIT_MS);
    for (int i = 0; i < NODES; i++)
        s_names[i] = grove_node_name(s_node[i]);
}

static int s_node_index(grove_nodename n)
{
    for (int i = 0; i < NODES; i++)
        if (s_names[i] == n)
            return i;
    return -1;
}

static const grove_cluster_sup_opts s_opts = {
    .name = SUP, .heartbeat_ms = HB_MS, .nodedown_ms = ND_MS, .forget_ms = 60000};

/* The initial specs: k0..k8 with global names g0..g8. */
typedef struct kid_specs {
    grove_child_spec specs[KIDS];
    char ids[KIDS][8], names[KIDS][8];
} kid_specs;

static void s_kid_specs(kid_specs *ks)
{
    for (int k = 0; k < KIDS; k++) {
        snprintf(ks->ids[k], sizeof ks->ids[k], "k%d", k);
        snprintf(ks->names[k], sizeof ks->names[k], "g%d", k);
        ks->specs[k] = (grove_child_spec){.id = ks->ids[k],
                                          .gen_server = &kid_server,
                                          .arg = grove_pack("~i", k),
                                          .name = ks->names[k],
                                          .shutdown_ms = 1000};
    }
}

static void s_start_members(void)
{
    for (int i = 0; i < NODES; i++) {
        kid_specs ks;
        s_kid_specs(&ks);
        grove_child_spec *specs = ks.specs;
        grove_pid member;
        assert_int_equal(grove_cluster_sup_start(s_node[i], &s_opts, specs, KIDS, &member),
                         GROVE_OK);
        assert_int_equal(member.node, s_names[i]);
    }
}

/* ---- views --------------------------------------------------------------------------------------
 */

static int s_idx_of(const char *id)
{
    if (strcmp(id, "extra") == 0)
        return EXTRA;
    return id[0] == 'k' ? atoi(id + 1) : -1;
}

/* True when every node in `on` lists exactly `n` children, all running
 * on nodes of `on`, with the same pids everywhere, each holding its
 * global name there. The first node's list goes to out. */
static bool s_agree(const int *on, int non, size_t n, grove_cluster_child *out)
{
    grove_cluster_child mine[KIDS + 2];
    for (int a = 0; a < non; a++) {
        grove_cluster_child *v = a == 0 ? out : mine;
        size_t got = grove_cluster_sup_which_children(s_node[on[a]], SUP, v, KIDS + 2);
        if (got != n)
            return false;
        for (size_t c = 0; c < n; c++) {
            if (!v[c].running)
                return false;
            bool live_node = false;
            for (int b = 0; b < non; b++)
                live_node |= v[c].pid.node == s_names[on[b]];
            if (!live_node)
                return false;
            if (a > 0 &&
                (strcmp(v[c].id, out[c].id) != 0 || !grove_pid_equal(v[c].pid, out[c].pid)))
                return false;
            int idx = s_idx_of(v[c].id);
            char gname[16];
            snprintf(gname, sizeof gname, idx == EXTRA ? "gextra" : "g%d", idx);
            grove_pid holder;
            if (grove_global_whereis(s_node[on[a]], gname, &holder, NULL) != GROVE_OK ||
                !grove_pid_equal(holder, v[c].pid))
                return false;
        }
    }
    return true;
}

static void s_wait_agree(const int *on, int non, size_t n, grove_cluster_child *out)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (!s_agree(on, non, n, out)) {
        if (gv_now_ms() >= deadline)
            fail_msg("the members did not agree on %zu running children", n);
        gv_sleep_ms(20);
    }
    assert_false(atomic_load(&s_twice));
}

static const grove_cluster_child *s_find(const grove_cluster_child *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            return &v[i];
    return NULL;
}

/* ---- the scenario, run twice -------------------------------------------------------------------
 */

typedef struct placement {
    int first[KIDS]; /* node index of each child after the start */
    int after[KIDS]; /* after node 0 stopped */
} placement;

static void s_scenario(placement *pl)
{
    for (int k = 0; k <= KIDS; k++) {
        atomic_store(&s_live[k], 0);
        atomic_store(&s_inits[k], 0);
    }
    atomic_store(&s_twice, false);
    s_start_nodes();
    s_start_members();
    static const int all[NODES] = {0, 1, 2};
    grove_cluster_child v[KIDS + 2];
    s_wait_agree(all, NODES, KIDS, v);

    /* spread over the three: the fewest children first, so 3 each */
    int per[NODES] = {0};
    for (int k = 0; k < KIDS; k++) {
        int at = s_node_index(v[k].pid.node);
        assert_true(at >= 0);
        pl->first[s_idx_of(v[k].id)] = at;
        per[at]++;
    }
    for (int i = 0; i < NODES; i++)
        assert_int_equal(per[i], KIDS / NODES);
    for (int k = 0; k < KIDS; k++)
        assert_int_equal(atomic_load(&s_inits[k]), 1);

    /* a crash is restarted on its host */
    const grove_cluster_child *c = s_find(v, KIDS, "k4");
    assert_non_null(c);
    grove_pid old = c->pid;
    int host = s_node_index(old.node);
    assert_int_equal(grove_cast(s_node[host], old, grove_atom("crash")), GROVE_OK);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    for (;;) {
        if (s_agree(all, NODES, KIDS, v)) {
            c = s_find(v, KIDS, "k4");
            if (!grove_pid_equal(c->pid, old))
                break;
        }
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(20);
    }
    assert_int_equal(s_node_index(c->pid.node), host);
    assert_int_equal(atomic_load(&s_inits[4]), 2);

    /* start_child from node 2: runs somewhere, seen everywhere */
    grove_pid extra;
    assert_int_equal(
        grove_cluster_sup_start_child(s_node[2], SUP,
                                      &(grove_child_spec){.id = "extra",
                                                          .gen_server = &kid_server,
                                                          .arg = grove_pack("~i", EXTRA),
                                                          .name = "gextra"},
                                      &extra),
        GROVE_OK);
    assert_true(s_node_index(extra.node) >= 0);
    assert_int_equal(atomic_load(&s_live[EXTRA]), 1);
    s_wait_agree(all, NODES, KIDS + 1, v);
    assert_true(grove_pid_equal(s_find(v, KIDS + 1, "extra")->pid, extra));
    /* an id taken, a target not registered by name */
    assert_int_equal(
        grove_cluster_sup_start_child(s_node[1], SUP,
                                      &(grove_child_spec){.id = "extra",
                                                          .gen_server = &kid_server,
                                                          .arg = grove_pack("~i", EXTRA)},
                                      NULL),
        GROVE_EEXIST);
    assert_int_equal(
        grove_cluster_sup_start_child(s_node[1], SUP,
                                      &(grove_child_spec){.id = "unreg",
                                                          .gen_server = &unregistered_server,
                                                          .arg = grove_pack("~i", EXTRA)},
                                      NULL),
        GROVE_EINVAL);

    /* terminate_child from node 1 removes it everywhere */
    assert_int_equal(grove_cluster_sup_terminate_child(s_node[1], SUP, "extra"), GROVE_OK);
    assert_int_equal(grove_cluster_sup_terminate_child(s_node[1], SUP, "extra"), GROVE_ENOTFOUND);
    s_wait_agree(all, NODES, KIDS, v);
    deadline = gv_now_ms() + WAIT_MS;
    while (atomic_load(&s_live[EXTRA]) != 0 ||
           grove_global_whereis(s_node[0], "gextra", NULL, NULL) != GROVE_ENOTFOUND) {
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(20);
    }

    /* the node that started the supervisor first stops */
    uint64_t stopped = gv_now_ms();
    grove_node_stop(&s_node[0]);
    static const int survivors[2] = {1, 2};
    s_wait_agree(survivors, 2, KIDS, v);
    for (int k = 0; k < KIDS; k++) {
        int idx = s_idx_of(v[k].id);
        int at = s_node_index(v[k].pid.node);
        assert_true(at == 1 || at == 2);
        pl->after[idx] = at;
        if (pl->first[idx] == 0) {
            /* restarted, no earlier than twice the nodedown time (timers
             * count whole milliseconds: one may fire a millisecond early) */
            assert_true(atomic_load(&s_init_ms[idx]) + 2 >= stopped + 2 * ND_MS);
            assert_int_equal(atomic_load(&s_inits[idx]), 2);
        } else {
            assert_int_equal(at, pl->first[idx]); /* the others stayed where they ran */
        }
        assert_int_equal(atomic_load(&s_live[idx]), 1);
    }
    assert_false(atomic_load(&s_twice));
    s_stop_nodes();
}

static void test_children_spread_restart_and_move_when_the_first_node_stops(void **state)
{
    (void)state;
    placement one, two;
    s_scenario(&one);
    s_scenario(&two);
    /* the division is deterministic */
    for (int k = 0; k < KIDS; k++) {
        assert_int_equal(one.first[k], two.first[k]);
        assert_int_equal(one.after[k], two.after[k]);
    }
    /* node 0's children went to both survivors (3 each way: 4 and 5) */
    int per[NODES] = {0};
    for (int k = 0; k < KIDS; k++)
        per[one.after[k]]++;
    assert_true(per[1] >= 4 && per[2] >= 4);
}

/* The member as a child of a local supervisor. */
static grove_err member_sup_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                                 grove_children *children)
{
    (void)self, (void)arg, (void)flags;
    kid_specs ks;
    s_kid_specs(&ks);
    return grove_cluster_sup_add_member(children, &s_opts, ks.specs, KIDS);
}

static const grove_supervisor s_member_sup = {.name = "csup_member_sup", .init = member_sup_init};

/* A member under a local supervisor that is killed comes back: its
 * supervisor restarts it, it gets the table from the others and starts
 * its children again, under the same global names, and no child ever
 * runs twice. Its supervisor's shutdown then stops its children, and the
 * others take them over. */
static void test_a_supervised_member_that_crashes_comes_back(void **state)
{
    (void)state;
    for (int k = 0; k <= KIDS; k++) {
        atomic_store(&s_live[k], 0);
        atomic_store(&s_inits[k], 0);
    }
    atomic_store(&s_twice, false);
    s_start_nodes();
    grove_pid sups[NODES];
    for (int i = 0; i < NODES; i++)
        assert_int_equal(grove_supervisor_start(s_node[i], &s_member_sup, NULL, NULL, &sups[i]),
                         GROVE_OK);
    static const int all[NODES] = {0, 1, 2};
    grove_cluster_child v[KIDS + 2];
    s_wait_agree(all, NODES, KIDS, v);
    grove_pid before[KIDS];
    for (int k = 0; k < KIDS; k++)
        before[s_idx_of(v[k].id)] = v[k].pid;

    grove_pid old, now;
    assert_int_equal(grove_whereis(s_node[1], "grove_csup:" SUP, &old), GROVE_OK);
    assert_int_equal(grove_node_exit(s_node[1], old, grove_atom("kill")), GROVE_OK);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    for (;;) { /* back, with every child of node 1 running again */
        bool back = grove_whereis(s_node[1], "grove_csup:" SUP, &now) == GROVE_OK &&
                    !grove_pid_equal(now, old) && s_agree(all, NODES, KIDS, v);
        for (int k = 0; back && k < KIDS; k++) {
            int idx = s_idx_of(v[k].id);
            if (before[idx].node == s_names[1])
                back = !grove_pid_equal(v[k].pid, before[idx]);
        }
        if (back)
            break;
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(20);
    }
    for (int k = 0; k < KIDS; k++) {
        assert_int_equal(atomic_load(&s_live[k]), 1);
        int idx = s_idx_of(v[k].id);
        if (before[idx].node != s_names[1])
            assert_true(grove_pid_equal(v[k].pid, before[idx])); /* the others kept running */
    }
    assert_false(atomic_load(&s_twice));

    /* node 1's supervisor stops: its member stops its children, leaves,
     * and the other two run them */
    assert_int_equal(grove_supervisor_stop(s_node[1], sups[1], NULL, WAIT_MS), GROVE_OK);
    assert_int_equal(grove_whereis(s_node[1], "grove_csup:" SUP, &now), GROVE_ENOTFOUND);
    static const int two[2] = {0, 2};
    s_wait_agree(two, 2, KIDS, v);
    for (int k = 0; k < KIDS; k++)
        assert_int_equal(atomic_load(&s_live[k]), 1);
    assert_false(atomic_load(&s_twice));
}

static void test_bad_arguments_are_refused(void **state)
{
    (void)state;
    grove_node *n = grove_node_start(&(grove_node_opts){.schedulers = 1});
    assert_non_null(n);
    s_node[0] = n;
    grove_child_spec dup[2] = {
        {.id = "a", .gen_server = &kid_server, .arg = grove_pack("~i", 0)},
        {.id = "a", .gen_server = &kid_server, .arg = grove_pack("~i", 1)},
    };
    assert_int_equal(
        grove_cluster_sup_start(n, &(grove_cluster_sup_opts){.name = "x"}, dup, 2, NULL),
        GROVE_EINVAL);
    assert_int_equal(
        grove_cluster_sup_start(n, &(grove_cluster_sup_opts){.name = ""}, NULL, 0, NULL),
        GROVE_EINVAL);
    assert_int_equal(
        grove_cluster_sup_start_child(
            n, "nobody",
            &(grove_child_spec){.id = "a", .gen_server = &kid_server, .arg = grove_pack("~i", 0)},
            NULL),
        GROVE_ENOTFOUND);
    assert_int_equal(grove_cluster_sup_which_children(n, "nobody", NULL, 0), 0);
    /* a local node is a cluster of one: its member has the majority */
    grove_pid member, again, child;
    assert_int_equal(
        grove_cluster_sup_start(n, &(grove_cluster_sup_opts){.name = "solo", .nodedown_ms = 200},
                                NULL, 0, &member),
        GROVE_OK);
    assert_int_equal(
        grove_cluster_sup_start(n, &(grove_cluster_sup_opts){.name = "solo"}, NULL, 0, &again),
        GROVE_EEXIST);
    assert_true(grove_pid_equal(member, again));
    assert_int_equal(grove_cluster_sup_start_child(n, "solo",
                                                   &(grove_child_spec){.id = "one",
                                                                       .gen_server = &kid_server,
                                                                       .arg = grove_pack("~i", 0),
                                                                       .name = "solo_one"},
                                                   &child),
                     GROVE_OK);
    grove_cluster_child out[2];
    assert_int_equal(grove_cluster_sup_which_children(n, "solo", out, 2), 1);
    assert_string_equal(out[0].id, "one");
    assert_true(out[0].running && grove_pid_equal(out[0].pid, child));
    assert_int_equal(grove_cluster_sup_stop(n, "solo"), GROVE_OK);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (atomic_load(&s_live[0]) != 0) {
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(5);
    }
    assert_int_equal(grove_cluster_sup_which_children(n, "solo", out, 2), 0);
    s_stop_nodes();
}

int main(void)
{
    if (grove_gen_server_register(&kid_server) != GROVE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_arguments_are_refused, s_teardown),
        cmocka_unit_test_teardown(test_a_supervised_member_that_crashes_comes_back, s_teardown),
        cmocka_unit_test_teardown(test_children_spread_restart_and_move_when_the_first_node_stops,
                                  s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
