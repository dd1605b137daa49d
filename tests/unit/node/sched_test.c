/* The scheduler: many processes across workers, the deterministic mode,
 * the watchdog, shutdown. */
#include "rt_probe.h"

#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "node/node_impl.h"

#include <unistd.h>

/* ---- a ring of 100,000 processes ---------------------------------------------- */

#define RING 100000

static grove_ret ring_handle(grove_proc *self, const grove_term *msg, void *state)
{
    grove_pid *next = state;
    int64_t hops;
    if (grove_match(msg, "{token, ~l}", &hops))
        grove_send(self, *next, grove_pack("{token, ~l}", hops + 1));
    return GROVE_CONTINUE;
}

static grove_err ring_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid *next = gv_malloc(sizeof *next);
    if (!grove_match(arg, "~p", next)) {
        gv_free(next);
        return GROVE_EBADARG;
    }
    *state = next;
    return GROVE_OK;
}

static const grove_behaviour ring_behaviour = {
    .name = "ring", .init = ring_init, .handle = ring_handle, .free_state = gv_free};

static void test_a_token_crosses_a_ring_of_100000_processes_twice(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    /* The ring's last process sends to the waiter; the first lap ends
     * there, and the test sends the token round again. */
    grove_pid next = grove_waiter_pid(w), first = next;
    for (int i = 0; i < RING; i++) {
        assert_int_equal(grove_spawn(node, &ring_behaviour, grove_pack("~p", next), NULL, &first),
                         GROVE_OK);
        next = first;
    }
    grove_node_stats st;
    grove_node_stats_get(node, &st);
    assert_true(st.processes >= RING);
    for (int lap = 1; lap <= 2; lap++) {
        grove_send(node, first, grove_pack("{token, 0}"));
        grove_term *t = NULL;
        assert_int_equal(grove_waiter_recv(w, 60000, &t), GROVE_OK);
        int64_t hops;
        assert_true(grove_match(t, "{token, ~l}", &hops));
        assert_int_equal(hops, RING);
        grove_term_destroy(&t);
    }
    grove_waiter_destroy(&w);
    grove_node_stop(&node); /* kills 100,000 processes, frees everything */
}

/* ---- wake-ups: a worker that parks is always woken ------------------------------ */

static void test_round_trips_with_an_outside_thread_never_lose_a_wakeup(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p = rt_spawn_probe(node, w, false);
    for (int i = 0; i < 5000; i++) {
        /* each round trip lets both workers go idle and park */
        grove_send(node, p, grove_atom("ping"));
        grove_term *t = NULL;
        assert_int_equal(grove_waiter_recv(w, 30000, &t), GROVE_OK);
        grove_term_destroy(&t);
    }
    grove_exit(node, p, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- deterministic mode ------------------------------------------------------------- */

#define CHILDREN 8
#define EACH 3

typedef struct collector {
    grove_pid report;
    uint8_t order[CHILDREN * EACH];
    unsigned n;
} collector;

static grove_err collector_init(grove_proc *self, const grove_term *arg, void **state)
{
    collector *c = gv_calloc(1, sizeof *c);
    grove_match(arg, "~p", &c->report);
    *state = c;
    return GROVE_OK;
}

static grove_ret collector_handle(grove_proc *self, const grove_term *msg, void *state)
{
    collector *c = state;
    int child, j;
    if (grove_match(msg, "{c, ~i, ~i}", &child, &j)) {
        c->order[c->n++] = (uint8_t)(child * EACH + j);
        if (c->n == CHILDREN * EACH) {
            grove_send(self, c->report, grove_pack("{order, ~b}", c->order, sizeof c->order));
            return grove_stop(self, NULL);
        }
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour collector_behaviour = {
    .name = "collector", .init = collector_init, .handle = collector_handle, .free_state = gv_free};

static grove_err chatter_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid to;
    int me;
    if (!grove_match(arg, "{~p, ~i}", &to, &me))
        return GROVE_EBADARG;
    for (int j = 0; j < EACH; j++) {
        /* yield between sends so that the others get picked in between */
        grove_send(self, to, grove_pack("{c, ~i, ~i}", me, j));
    }
    return GROVE_OK;
}

static grove_ret chatter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    return grove_stop(self, NULL);
}

static const grove_behaviour chatter_behaviour = {
    .name = "chatter", .init = chatter_init, .handle = chatter_handle};

/* Everything happens inside the node, started by one spawn: nothing from
 * outside can change the order. */
static grove_err root_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_pid report, col;
    grove_match(arg, "~p", &report);
    grove_spawn(self, &collector_behaviour, grove_pack("~p", report), NULL, &col);
    for (int i = 0; i < CHILDREN; i++)
        grove_spawn(self, &chatter_behaviour, grove_pack("{~p, ~i}", col, i), NULL, NULL);
    return GROVE_OK;
}

static grove_ret root_handle(grove_proc *self, const grove_term *msg, void *state)
{
    return GROVE_CONTINUE;
}

static const grove_behaviour root_behaviour = {
    .name = "root", .init = root_init, .handle = root_handle};

static void s_order(uint64_t seed, uint8_t out[CHILDREN * EACH])
{
    grove_node *node = rt_node(seed);
    assert_int_equal(grove_node_seed(node), seed);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid root;
    grove_spawn(node, &root_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &root);
    grove_term *t = rt_expect(w, "{order, _}");
    const void *bytes;
    size_t len;
    assert_true(grove_match(t, "{order, ~b}", &bytes, &len));
    assert_int_equal(len, CHILDREN * EACH);
    memcpy(out, bytes, len);
    grove_term_destroy(&t);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_same_seed_gives_same_order_and_different_seeds_differ(void **state)
{
    (void)state;
    uint8_t a[CHILDREN * EACH], b[CHILDREN * EACH];
    unsigned distinct = 0;
    uint8_t first[CHILDREN * EACH];
    for (uint64_t seed = 1; seed <= 10; seed++) {
        s_order(seed * 1000003, a);
        s_order(seed * 1000003, b);
        if (memcmp(a, b, sizeof a) != 0)
            fail_msg("seed %llu gave two orders", (unsigned long long)(seed * 1000003));
        if (seed == 1)
            memcpy(first, a, sizeof a);
        else if (memcmp(first, a, sizeof a) != 0)
            distinct++;
        /* each child's own messages stay in order whatever the seed */
        for (int c = 0; c < CHILDREN; c++) {
            int last = -1;
            for (int i = 0; i < CHILDREN * EACH; i++) {
                if (a[i] / EACH == c) {
                    assert_true((int)(a[i] % EACH) > last);
                    last = a[i] % EACH;
                }
            }
        }
    }
    assert_true(distinct >= 5); /* different seeds, different orders */
}

/* ---- watchdog ------------------------------------------------------------------------ */

static grove_ret sleeper_handle(grove_proc *self, const grove_term *msg, void *state)
{
    gv_sleep_ms(300); /* far too long for a handler */
    return grove_stop(self, NULL);
}

static const grove_behaviour sleeper_behaviour = {.name = "sleeper", .handle = sleeper_handle};

static void test_watchdog_logs_a_handler_running_far_too_long(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    gv_log_set_fd(fds[1]);
    grove_node *node = grove_node_start(&(grove_node_opts){.schedulers = 2, .watchdog_ms = 50});
    assert_non_null(node);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid p;
    grove_spawn(node, &sleeper_behaviour, NULL, NULL, &p);
    grove_ref ref;
    grove_waiter_monitor(w, p, &ref);
    grove_send(node, p, grove_atom("zzz"));
    rt_expect_free(w, "{'DOWN', _, _, _, _}");
    uint64_t reports = atomic_load(&node->watchdog_reports);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    gv_log_set_fd(-1);
    close(fds[1]);
    char buf[4096] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(reports >= 1);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "warn sched long_handler"));
}

/* ---- shutdown and configuration ------------------------------------------------------ */

static _Atomic int s_terminated;

static void counting_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    if (grove_match(reason, "shutdown"))
        atomic_fetch_add(&s_terminated, 1);
}

static grove_ret idle_handle(grove_proc *self, const grove_term *msg, void *state)
{
    return GROVE_CONTINUE;
}

static grove_err idle_init(grove_proc *self, const grove_term *arg, void **state)
{
    return GROVE_OK;
}

static const grove_behaviour idle_behaviour = {
    .name = "idle", .init = idle_init, .handle = idle_handle, .terminate = counting_terminate};

static void test_node_stop_shuts_down_every_process_with_terminate(void **state)
{
    (void)state;
    atomic_store(&s_terminated, 0);
    setenv("GROVE_SCHEDULERS", "3", 1);
    grove_node *node = grove_node_start(NULL);
    unsetenv("GROVE_SCHEDULERS");
    assert_non_null(node);
    grove_node_stats st;
    grove_node_stats_get(node, &st);
    assert_int_equal(st.workers, 3);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    for (int i = 0; i < 1000; i++) {
        grove_pid p;
        grove_spawn(node, &idle_behaviour, NULL, NULL, &p);
        grove_send(node, p, grove_atom("hello"));
    }
    /* wait until every init ran: a process killed before init has no
     * terminate to run */
    for (int i = 0; i < 10000; i++) {
        grove_node_stats_get(node, &st);
        bool idle = st.injected == 0;
        for (unsigned k = 0; k < st.workers; k++)
            idle = idle && st.runq[k] == 0;
        if (idle)
            break;
        gv_sleep_ms(1);
    }
    gv_sleep_ms(20);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    assert_null(node);
    assert_int_equal(atomic_load(&s_terminated), 1000);
    grove_node_stop(&node); /* idempotent */
    grove_pid p;
    grove_node *n2 = rt_node(0);
    grove_node_stop(&n2);
    (void)p;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_token_crosses_a_ring_of_100000_processes_twice),
        cmocka_unit_test(test_round_trips_with_an_outside_thread_never_lose_a_wakeup),
        cmocka_unit_test(test_same_seed_gives_same_order_and_different_seeds_differ),
        cmocka_unit_test(test_watchdog_logs_a_handler_running_far_too_long),
        cmocka_unit_test(test_node_stop_shuts_down_every_process_with_terminate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
