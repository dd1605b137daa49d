/*
 * registry_cluster_test.c - global names across whole nodes in one
 * process on 127.0.0.1 (random ports, a test secret), started with
 * grove_node_start like any program's: lookups and sends from every
 * node, a registration race from three nodes, a holder's exit and a
 * node's stop seen everywhere, a joining node receiving the table,
 * epochs that only grow, and a partition healing (two clusters of two
 * nodes started apart, each registering names, then joined by a fifth
 * node seeded with both) under each resolution. Only this thread
 * asserts; processes report to waiters and threads record what they saw.
 */
#include <grove/grove.h>

#include "base/gv_clock.h"
#include "inproc.h"
#include "registry/registry.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SECRET "9d41c7a2e8b05f3c6a1d4e7b2c9f0a58"
#define WAIT_MS 20000
#define NODES 5
#define HB_MS 50
#define ND_MS 1000

static grove_node *s_node[NODES];
static grove_waiter *s_w[NODES];

static int s_stop_all(void **state)
{
    (void)state;
    inproc_stop(s_node, s_w, NODES);
    return 0;
}

static void s_start(int i, const char *seeds)
{
    s_node[i] = inproc_start_nth("r", i, SECRET, seeds, HB_MS, ND_MS);
    assert_int_equal(grove_waiter_new(s_node[i], &s_w[i]), GROVE_OK);
}

/* Waits until the nodes of idx[0..n) are all connected and each one's
 * registry knows the n-1 others' (so every claim asks all of them). */
static void s_mesh(const int *idx, int n)
{
    grove_node *nodes[NODES];
    for (int i = 0; i < n; i++)
        nodes[i] = s_node[idx[i]];
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    for (;;) {
        bool all = inproc_meshed(nodes, n);
        for (int i = 0; i < n; i++)
            if (gv_registry_members(gv_registry_of(nodes[i])) != (unsigned)n - 1)
                all = false;
        if (all)
            return;
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(5);
    }
}

/* Nodes 0..n-1, each seeded with node 0 and with a waiter, meshed. */
static void s_cluster(int n)
{
    inproc_cluster(s_node, n, "r", SECRET, HB_MS, ND_MS, WAIT_MS);
    for (int i = 0; i < n; i++)
        assert_int_equal(grove_waiter_new(s_node[i], &s_w[i]), GROVE_OK);
    int idx[NODES] = {0, 1, 2, 3, 4};
    s_mesh(idx, n);
}

static grove_term *s_recv(int i, const char *pattern)
{
    grove_term *m = NULL;
    grove_err e = grove_waiter_recv_match(s_w[i], pattern, WAIT_MS, &m);
    if (e != GROVE_OK)
        fail_msg("node %d: no message matching %s (%s)", i, pattern, grove_errname(e));
    return m;
}

/* Waits until node i holds name as (pid, epoch); epoch 0: any. */
static void s_wait_holds(int i, const char *name, grove_pid pid, uint64_t epoch)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    for (;;) {
        grove_pid p;
        uint64_t e;
        if (grove_global_whereis(s_node[i], name, &p, &e) == GROVE_OK && grove_pid_equal(p, pid) &&
            (epoch == 0 || e == epoch))
            return;
        if (gv_now_ms() > deadline)
            fail_msg("node %d does not hold %s as expected", i, name);
        gv_sleep_ms(1);
    }
}

static void s_wait_gone(int i, const char *name)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (grove_global_whereis(s_node[i], name, NULL, NULL) == GROVE_OK) {
        if (gv_now_ms() > deadline)
            fail_msg("node %d still holds %s", i, name);
        gv_sleep_ms(1);
    }
}

/* ---- an agent: traps exits, reports every message to its node's waiter ---- */

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
    if (grove_match(msg, "stop"))
        return grove_stop(self, NULL);
    grove_send(self, *(grove_pid *)state,
               grove_pack("{got, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    return GROVE_CONTINUE;
}

static void agent_free(void *state)
{
    free(state);
}

static const grove_behaviour s_agent = {
    .name = "agent", .init = agent_init, .handle = agent_handle, .free_state = agent_free};

static grove_pid s_agent_on(int i)
{
    grove_pid pid;
    assert_int_equal(grove_spawn(s_node[i], &s_agent, grove_pack("~p", grove_waiter_pid(s_w[i])),
                                 &(grove_spawn_opts){.trap_exit = true}, &pid),
                     GROVE_OK);
    return pid;
}

/* ---- tests --------------------------------------------------------------- */

static void test_every_node_finds_and_reaches_a_name(void **state)
{
    (void)state;
    s_cluster(3);
    grove_pid a = s_agent_on(1);
    uint64_t epoch = 0;
    /* registered from node 0, for a process of node 1: node 1 does it */
    assert_int_equal(grove_global_register(s_node[0], "bank", a, &epoch), GROVE_OK);
    assert_int_equal(epoch, 1);
    grove_pid where;
    assert_int_equal(grove_global_whereis(s_node[0], "bank", &where, NULL), GROVE_OK);
    assert_true(grove_pid_equal(where, a)); /* visible where it was asked at once */
    for (int i = 0; i < 3; i++)
        s_wait_holds(i, "bank", a, epoch);
    /* taken, from any node */
    grove_pid b = s_agent_on(2);
    assert_int_equal(grove_global_register(s_node[2], "bank", b, NULL), GROVE_EEXIST);
    assert_int_equal(grove_global_register(s_node[0], "bank", b, NULL), GROVE_EEXIST);
    /* send by name from every node */
    for (int i = 0; i < 3; i++)
        assert_int_equal(grove_global_send(s_node[i], "bank", grove_pack("{deposit, ~i}", i)),
                         GROVE_OK);
    for (int i = 0; i < 3; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "{got, _, {deposit, %d}}", i);
        grove_term *m = s_recv(1, pat);
        grove_term_destroy(&m);
    }
    /* {Name, Node} ! Msg: a local name on another node */
    assert_int_equal(grove_register(s_node[2], "clerk", b), GROVE_OK);
    assert_int_equal(
        grove_send_name_at(s_node[0], grove_node_name(s_node[2]), "clerk", grove_pack("{hi, 0}")),
        GROVE_OK);
    grove_term *m = s_recv(2, "{got, _, {hi, 0}}");
    grove_term_destroy(&m);
    /* nobody has that name there: dropped silently, as Erlang does */
    assert_int_equal(
        grove_send_name_at(s_node[0], grove_node_name(s_node[2]), "nobody", grove_pack("{hi, 1}")),
        GROVE_OK);
    /* unregistered from node 2, which does not hold it: node 1 does it */
    assert_int_equal(grove_global_unregister(s_node[2], "bank"), GROVE_OK);
    assert_int_equal(grove_global_whereis(s_node[2], "bank", NULL, NULL), GROVE_ENOTFOUND);
    for (int i = 0; i < 3; i++)
        s_wait_gone(i, "bank");
    assert_int_equal(grove_global_unregister(s_node[0], "bank"), GROVE_ENOTFOUND);
}

/* ---- the race ------------------------------------------------------------ */

#define ROUNDS 100

typedef struct race_arg {
    int node;
    grove_pid pid;
    grove_err result[ROUNDS];
    uint64_t epoch[ROUNDS];
} race_arg;

static pthread_barrier_t s_go, s_done;
static race_arg s_ra[3];

static void *s_racer(void *p)
{
    race_arg *a = p;
    for (int r = 0; r < ROUNDS; r++) {
        char name[32];
        snprintf(name, sizeof name, "round%d", r);
        pthread_barrier_wait(&s_go);
        a->result[r] = grove_global_register(s_node[a->node], name, a->pid, &a->epoch[r]);
        pthread_barrier_wait(&s_done);
    }
    return NULL;
}

static void test_three_nodes_race_for_a_name_100_times(void **state)
{
    (void)state;
    s_cluster(3);
    pthread_t th[3];
    assert_int_equal(pthread_barrier_init(&s_go, NULL, 4), 0);
    assert_int_equal(pthread_barrier_init(&s_done, NULL, 4), 0);
    for (int i = 0; i < 3; i++) {
        memset(&s_ra[i], 0, sizeof s_ra[i]);
        s_ra[i].node = i;
        s_ra[i].pid = s_agent_on(i);
        assert_int_equal(pthread_create(&th[i], NULL, s_racer, &s_ra[i]), 0);
    }
    int wins[3] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&s_go);
        pthread_barrier_wait(&s_done);
        int winner = -1, n = 0;
        for (int i = 0; i < 3; i++) {
            if (s_ra[i].result[r] == GROVE_OK) {
                winner = i;
                n++;
            } else if (s_ra[i].result[r] != GROVE_EEXIST) {
                fail_msg("round %d node %d: %s", r, i, grove_errname(s_ra[i].result[r]));
            }
        }
        if (n != 1)
            fail_msg("round %d: %d winners", r, n);
        wins[winner]++;
        char name[32];
        snprintf(name, sizeof name, "round%d", r);
        for (int i = 0; i < 3; i++) /* every node agrees: same pid, same epoch */
            s_wait_holds(i, name, s_ra[winner].pid, s_ra[winner].epoch[r]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&s_go);
    pthread_barrier_destroy(&s_done);
    print_message("race winners by node: %d %d %d\n", wins[0], wins[1], wins[2]);
}

static void test_holder_exit_and_node_stop_remove_names_everywhere(void **state)
{
    (void)state;
    s_cluster(3);
    grove_pid a = s_agent_on(2), b = s_agent_on(2), c = s_agent_on(1);
    assert_int_equal(grove_global_register(s_node[2], "short_lived", a, NULL), GROVE_OK);
    assert_int_equal(grove_global_register(s_node[2], "on_node_2", b, NULL), GROVE_OK);
    assert_int_equal(grove_global_register(s_node[1], "on_node_1", c, NULL), GROVE_OK);
    for (int i = 0; i < 3; i++) {
        s_wait_holds(i, "short_lived", a, 0);
        s_wait_holds(i, "on_node_2", b, 0);
        s_wait_holds(i, "on_node_1", c, 0);
    }
    grove_exit(s_node[0], a, grove_atom("kill")); /* from another node */
    for (int i = 0; i < 3; i++)
        s_wait_gone(i, "short_lived");
    grove_waiter_destroy(&s_w[2]);
    grove_node_stop(&s_node[2]);
    for (int i = 0; i < 2; i++) {
        s_wait_gone(i, "on_node_2");
        s_wait_holds(i, "on_node_1", c, 0);
    }
    /* the name is free for the survivors, at a higher epoch */
    uint64_t e1 = 0;
    assert_int_equal(grove_global_register(s_node[0], "on_node_2", s_agent_on(0), &e1), GROVE_OK);
    assert_int_equal(e1, 2);
}

static void test_joining_node_receives_the_table(void **state)
{
    (void)state;
    s_cluster(2);
    grove_pid a = s_agent_on(0), b = s_agent_on(1);
    uint64_t ea, eb;
    assert_int_equal(grove_global_register(s_node[0], "alpha", a, &ea), GROVE_OK);
    assert_int_equal(grove_global_register(s_node[1], "beta", b, NULL), GROVE_OK);
    assert_int_equal(grove_global_unregister(s_node[1], "beta"), GROVE_OK);
    assert_int_equal(grove_global_register(s_node[1], "beta", b, &eb), GROVE_OK);
    assert_int_equal(eb, 2);
    /* a name used twice and released before the join */
    grove_pid r = s_agent_on(0);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(grove_global_register(s_node[0], "released", r, NULL), GROVE_OK);
        assert_int_equal(grove_global_unregister(s_node[0], "released"), GROVE_OK);
    }
    for (int i = 0; i < 2; i++)
        s_wait_gone(i, "released");
    char seed[128];
    snprintf(seed, sizeof seed, "%s", grove_node_address(s_node[1]));
    s_start(2, seed);
    int idx[3] = {0, 1, 2};
    s_mesh(idx, 3);
    s_wait_holds(2, "alpha", a, ea);
    s_wait_holds(2, "beta", b, eb);
    assert_int_equal(grove_global_names(s_node[2], NULL, 0), 2);
    /* and it takes part from then on */
    assert_int_equal(grove_global_register(s_node[2], "alpha", s_agent_on(2), NULL), GROVE_EEXIST);
    grove_pid g = s_agent_on(2);
    assert_int_equal(grove_global_register(s_node[2], "gamma", g, NULL), GROVE_OK);
    for (int i = 0; i < 3; i++)
        s_wait_holds(i, "gamma", g, 1);
    /* it never saw "released", but its epochs go on from the others' */
    uint64_t er = 0;
    assert_int_equal(grove_global_register(s_node[2], "released", g, &er), GROVE_OK);
    assert_int_equal(er, 3);
}

static void test_epochs_only_grow_whoever_registers(void **state)
{
    (void)state;
    s_cluster(3);
    uint64_t last = 0, e = 0;
    for (int k = 0; k < 6; k++) {
        int on = k % 3;
        grove_pid p = s_agent_on(on);
        assert_int_equal(grove_global_register(s_node[(k + 1) % 3], "lease", p, &e), GROVE_OK);
        assert_true(e > last);
        last = e;
        for (int i = 0; i < 3; i++)
            s_wait_holds(i, "lease", p, e);
        if (k % 2) {
            grove_exit(s_node[on], p, grove_atom("kill"));
        } else {
            assert_int_equal(grove_global_unregister(s_node[(k + 2) % 3], "lease"), GROVE_OK);
        }
        for (int i = 0; i < 3; i++)
            s_wait_gone(i, "lease");
    }
}

/* ---- partitions healing -------------------------------------------------- */

/* Side X is nodes 0 and 1, side Y nodes 2 and 3; node 4 joins both. */
#define BRIDGE 4

typedef struct side_name {
    const char *name;
    int on_x, on_y;   /* the node of each side that registers it (-1: none) */
    int ups_x, ups_y; /* registrations there (the last one is held) */
    grove_pid px, py;
    uint64_t ex, ey;
} side_name;

/* Registers name `times` times on node i (dropping the earlier ones), so
 * its epoch there is `times`; returns the holder. */
static grove_pid s_register_n(int i, const char *name, int times, uint64_t *epoch)
{
    grove_pid p = {0};
    for (int k = 0; k < times; k++) {
        if (k)
            assert_int_equal(grove_global_unregister(s_node[i], name), GROVE_OK);
        p = s_agent_on(i);
        assert_int_equal(grove_global_register(s_node[i], name, p, epoch), GROVE_OK);
    }
    return p;
}

/* The rule, as the test reads DESIGN.md: the higher epoch, then the
 * greater node name. */
static bool s_x_wins(const side_name *s)
{
    if (s->on_y < 0)
        return true;
    if (s->on_x < 0)
        return false;
    if (s->ex != s->ey)
        return s->ex > s->ey;
    return strcmp(grove_nodename_str(s->px.node), grove_nodename_str(s->py.node)) > 0;
}

/* The two sides start apart, each meshed, and register the names; then
 * the bridge starts seeded with both, and the partition heals. */
static void s_heal(grove_global_resolution res, side_name *names, int n)
{
    s_start(0, NULL);
    s_start(2, NULL);
    char seed[128];
    snprintf(seed, sizeof seed, "%s", grove_node_address(s_node[0]));
    s_start(1, seed);
    snprintf(seed, sizeof seed, "%s", grove_node_address(s_node[2]));
    s_start(3, seed);
    int x[2] = {0, 1}, y[2] = {2, 3};
    s_mesh(x, 2);
    s_mesh(y, 2);
    for (int i = 0; i < BRIDGE; i++)
        assert_int_equal(grove_global_set_resolution(s_node[i], res), GROVE_OK);
    for (int k = 0; k < n; k++) {
        side_name *s = &names[k];
        grove_ref mon; /* a DOWN reaches the side's waiter if one dies */
        if (s->on_x >= 0) {
            s->px = s_register_n(s->on_x, s->name, s->ups_x, &s->ex);
            assert_int_equal(grove_waiter_monitor(s_w[s->on_x], s->px, &mon), GROVE_OK);
        }
        if (s->on_y >= 0) {
            s->py = s_register_n(s->on_y, s->name, s->ups_y, &s->ey);
            assert_int_equal(grove_waiter_monitor(s_w[s->on_y], s->py, &mon), GROVE_OK);
        }
    }
    /* each side agrees on its own table before the heal */
    for (int k = 0; k < n; k++) {
        if (names[k].on_x >= 0)
            for (int i = 0; i < 2; i++)
                s_wait_holds(x[i], names[k].name, names[k].px, names[k].ex);
        if (names[k].on_y >= 0)
            for (int i = 0; i < 2; i++)
                s_wait_holds(y[i], names[k].name, names[k].py, names[k].ey);
    }
    char seeds[300];
    snprintf(seeds, sizeof seeds, "%s,%s", grove_node_address(s_node[0]),
             grove_node_address(s_node[2]));
    s_start(BRIDGE, seeds);
    assert_int_equal(grove_global_set_resolution(s_node[BRIDGE], res), GROVE_OK);
    int all[NODES] = {0, 1, 2, 3, 4};
    s_mesh(all, NODES);
}

/* Waits until every replica is the same; returns it in out. */
static size_t s_agreed(grove_global_name *out, size_t cap)
{
    grove_global_name *t = calloc(NODES * cap, sizeof *t);
    assert_non_null(t);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    size_t n[NODES];
    for (;;) {
        bool same = true;
        for (int k = 0; k < NODES; k++) {
            n[k] = grove_global_names(s_node[k], t + k * cap, cap);
            same = same && n[k] == n[0] && n[k] <= cap;
        }
        for (size_t i = 0; same && i < n[0]; i++)
            for (int k = 1; k < NODES; k++) {
                grove_global_name *a = &t[i], *b = &t[k * cap + i];
                same = same && strcmp(a->name, b->name) == 0 && grove_pid_equal(a->pid, b->pid) &&
                       a->epoch == b->epoch;
            }
        if (same)
            break;
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(2);
    }
    memcpy(out, t, n[0] * sizeof *out);
    free(t);
    return n[0];
}

static const grove_global_name *s_find(const grove_global_name *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* Waits for the exit signal {name_conflict, Name, Other} at pid on node i. */
static void s_expect_conflict(int i, grove_pid pid, const char *name, const grove_pid *other)
{
    for (;;) {
        grove_term *m = s_recv(i, "{got, _, {'EXIT', _, {name_conflict, _, _}}}");
        grove_pid who, o;
        const void *nm;
        size_t len;
        assert_true(
            grove_match(m, "{got, ~p, {'EXIT', _, {name_conflict, ~b, ~p}}}", &who, &nm, &len, &o));
        bool mine = grove_pid_equal(who, pid) && len == strlen(name) && !memcmp(nm, name, len);
        if (mine && other)
            assert_true(grove_pid_equal(o, *other));
        grove_term_destroy(&m);
        if (mine)
            return;
    }
}

static bool s_alive(int i, grove_pid pid)
{
    grove_proc_info info;
    return grove_proc_info_get(s_node[i], pid, &info) == GROVE_OK;
}

static void test_partition_heals_to_one_owner_per_name(void **state)
{
    (void)state;
    side_name names[] = {
        /* the same epoch: the greater node name wins */
        {.name = "tie", .on_x = 0, .on_y = 2, .ups_x = 1, .ups_y = 1},
        {.name = "tie_too", .on_x = 1, .on_y = 3, .ups_x = 1, .ups_y = 1},
        /* otherwise the higher epoch */
        {.name = "x_newer", .on_x = 1, .on_y = 2, .ups_x = 3, .ups_y = 1},
        {.name = "y_newer", .on_x = 0, .on_y = 3, .ups_x = 1, .ups_y = 2},
        /* names on one side only stay */
        {.name = "only_x", .on_x = 1, .on_y = -1, .ups_x = 1},
        {.name = "only_y", .on_x = -1, .on_y = 2, .ups_y = 2},
    };
    int n = (int)(sizeof names / sizeof names[0]);
    s_heal(GROVE_GLOBAL_NOTIFY, names, n);
    grove_global_name t[16];
    size_t k = s_agreed(t, 16);
    assert_int_equal(k, (size_t)n);
    for (int i = 0; i < n; i++) {
        side_name *s = &names[i];
        const grove_global_name *g = s_find(t, k, s->name);
        assert_non_null(g);
        bool x_wins = s_x_wins(s);
        grove_pid winner = x_wins ? s->px : s->py;
        int wnode = x_wins ? s->on_x : s->on_y;
        assert_true(grove_pid_equal(g->pid, winner));
        /* epochs never went back on either side */
        assert_true(g->epoch >= s->ex && g->epoch >= s->ey);
        assert_int_equal(g->epoch, x_wins ? s->ex : s->ey);
        assert_true(s_alive(wnode, winner));
        if (s->on_x >= 0 && s->on_y >= 0) { /* the loser was told, with the winner, and lives on */
            int lnode = x_wins ? s->on_y : s->on_x;
            grove_pid loser = x_wins ? s->py : s->px;
            s_expect_conflict(lnode, loser, s->name, &winner);
            assert_true(s_alive(lnode, loser));
        }
    }
    /* one owner each from now on: a new claim anywhere is refused */
    for (int i = 0; i < n; i++)
        assert_int_equal(
            grove_global_register(s_node[i % NODES], names[i].name, s_agent_on(i % NODES), NULL),
            GROVE_EEXIST);
}

static void test_partition_heal_can_kill_the_loser(void **state)
{
    (void)state;
    side_name names[] = {{.name = "tie", .on_x = 1, .on_y = 3, .ups_x = 1, .ups_y = 1}};
    s_heal(GROVE_GLOBAL_KILL, names, 1);
    bool x_wins = s_x_wins(&names[0]);
    grove_term *m = s_recv(x_wins ? 3 : 1, "{'DOWN', _, process, _, killed}");
    grove_term_destroy(&m);
    grove_global_name t[4];
    size_t k = s_agreed(t, 4);
    assert_int_equal(k, 1);
    assert_true(grove_pid_equal(t[0].pid, x_wins ? names[0].px : names[0].py));
}

static void test_partition_heal_can_drop_both(void **state)
{
    (void)state;
    side_name names[] = {{.name = "tie", .on_x = 0, .on_y = 3, .ups_x = 1, .ups_y = 1},
                         {.name = "kept", .on_x = 1, .on_y = -1, .ups_x = 1}};
    s_heal(GROVE_GLOBAL_DROP_BOTH, names, 2);
    s_expect_conflict(0, names[0].px, "tie", &names[0].py);
    s_expect_conflict(3, names[0].py, "tie", &names[0].px);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    grove_global_name t[4];
    size_t k;
    while ((k = s_agreed(t, 4)) != 1) {
        assert_true(gv_now_ms() < deadline);
        gv_sleep_ms(2);
    }
    assert_string_equal(t[0].name, "kept");
    assert_true(s_alive(0, names[0].px) && s_alive(3, names[0].py));
    /* and the name is free again, above both epochs */
    uint64_t e;
    assert_int_equal(grove_global_register(s_node[BRIDGE], "tie", s_agent_on(BRIDGE), &e),
                     GROVE_OK);
    assert_int_equal(e, 2);
}

int main(void)
{
    if (grove_behaviour_register(&s_agent) != GROVE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_node_finds_and_reaches_a_name, s_stop_all),
        cmocka_unit_test_teardown(test_three_nodes_race_for_a_name_100_times, s_stop_all),
        cmocka_unit_test_teardown(test_holder_exit_and_node_stop_remove_names_everywhere,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_joining_node_receives_the_table, s_stop_all),
        cmocka_unit_test_teardown(test_epochs_only_grow_whoever_registers, s_stop_all),
        cmocka_unit_test_teardown(test_partition_heals_to_one_owner_per_name, s_stop_all),
        cmocka_unit_test_teardown(test_partition_heal_can_kill_the_loser, s_stop_all),
        cmocka_unit_test_teardown(test_partition_heal_can_drop_both, s_stop_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
