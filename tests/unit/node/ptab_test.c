/* The process table: stale pids are detected, never dereferenced; blocks
 * are reclaimed under concurrent senders; the id space is recycled. */
#include "rt_probe.h"

#include "base/gv_clock.h"
#include "base/gv_rand.h"
#include "base/gv_thread.h"
#include "node/node_impl.h"

static void s_wait_exited(grove_node *node, uint64_t n)
{
    grove_node_stats st;
    for (int i = 0; i < 10000; i++) {
        grove_node_stats_get(node, &st);
        if (st.exited >= n)
            return;
        gv_sleep_ms(1);
    }
    fail_msg("processes did not finish exiting");
}

static void test_stale_pid_is_detected_after_its_slot_is_reused(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    grove_pid a = rt_spawn_probe(node, w, false);
    rt_sync(node, w, a);
    grove_exit(node, a, grove_atom("kill"));
    rt_expect_terminated(w, a, "killed");
    s_wait_exited(node, 1);
    grove_pid b = rt_spawn_probe(node, w, false);
    assert_int_equal(b.id, a.id);             /* the slot came back ... */
    assert_true(b.serial != a.serial);        /* ... with a new generation */
    grove_send(node, a, grove_atom("for_a")); /* dropped, never reaches b */
    grove_proc_info info;
    assert_int_equal(grove_proc_info_get(node, a, &info), GROVE_ENOPROC);
    assert_int_equal(grove_proc_info_get(node, b, &info), GROVE_OK);
    rt_sync(node, w, b);
    rt_expect_no_tag(w, "got", b, 50);
    /* a pid of an earlier incarnation of this node is dead too */
    grove_pid old = b;
    old.creation ^= 1;
    grove_ref ref;
    grove_waiter_monitor(w, old, &ref);
    rt_expect_free(w, "{'DOWN', _, process, _, noproc}");
    grove_exit(node, b, grove_atom("kill"));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- four threads sending to processes that keep exiting ----------------- */

#define POOL 256
#define SENDERS 4
#define SENDS_PER_THREAD 60000

static _Atomic uint64_t s_pool[POOL]; /* id << 32 | serial; 0 = none */
static _Atomic uint64_t s_violations, s_received;
static _Atomic int s_stop_spawning;
static _Atomic int s_primed; /* the spawner has filled the pool once */

typedef struct quitter_state {
    unsigned left;
} quitter_state;

static grove_err quitter2_init(grove_proc *self, const grove_term *arg, void **state)
{
    quitter_state *q = gv_malloc(sizeof *q);
    q->left = 1 + (unsigned)(grove_self(self).id % 7);
    *state = q;
    return GROVE_OK;
}

static grove_ret quitter2_handle(grove_proc *self, const grove_term *msg, void *state)
{
    quitter_state *q = state;
    grove_pid to;
    atomic_fetch_add_explicit(&s_received, 1, memory_order_relaxed);
    if (!grove_match(msg, "{to, ~p}", &to) || !grove_pid_equal(to, grove_self(self)))
        atomic_fetch_add_explicit(&s_violations, 1, memory_order_relaxed);
    if (--q->left == 0)
        return grove_stop(self, NULL);
    return GROVE_CONTINUE;
}

static const grove_behaviour quitter_behaviour = {
    .name = "quitter", .init = quitter2_init, .handle = quitter2_handle, .free_state = gv_free};

typedef struct sender_arg {
    grove_node *node;
    uint64_t seed;
} sender_arg;

static void *s_sender(void *arg)
{
    sender_arg *a = arg;
    gv_rng rng;
    gv_rng_seed(&rng, a->seed);
    /* Start once there is someone to send to (else a slow first spawn
     * lets every send find an empty pool). */
    for (int i = 0; i < 10000 && !atomic_load_explicit(&s_primed, memory_order_acquire); i++)
        gv_sleep_ms(1);
    for (int i = 0; i < SENDS_PER_THREAD; i++) {
        uint64_t v = atomic_load_explicit(&s_pool[gv_rng_below(&rng, POOL)], memory_order_relaxed);
        if (!v)
            continue;
        grove_pid to = {.node = grove_node_name(a->node),
                        .id = (uint32_t)(v >> 32),
                        .serial = (uint32_t)v,
                        .creation = grove_node_creation(a->node)};
        grove_send(a->node, to, grove_pack("{to, ~p}", to));
    }
    return NULL;
}

static void *s_spawner(void *arg)
{
    grove_node *node = arg;
    gv_rng rng;
    gv_rng_seed(&rng, 99);
    for (unsigned n = 0; !atomic_load_explicit(&s_stop_spawning, memory_order_relaxed); n++) {
        grove_pid p;
        if (grove_spawn(node, &quitter_behaviour, NULL, NULL, &p) != GROVE_OK)
            break;
        /* The first round fills every slot. */
        unsigned at = n < POOL ? n : gv_rng_below(&rng, POOL);
        atomic_store_explicit(&s_pool[at], (uint64_t)p.id << 32 | p.serial, memory_order_relaxed);
        if (n + 1 == POOL)
            atomic_store_explicit(&s_primed, 1, memory_order_release);
        gv_thread_yield();
    }
    return NULL;
}

static void test_four_threads_sending_to_exiting_processes_never_misdeliver(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    for (int i = 0; i < POOL; i++)
        atomic_store(&s_pool[i], 0);
    atomic_store(&s_violations, 0);
    atomic_store(&s_received, 0);
    atomic_store(&s_stop_spawning, 0);
    atomic_store(&s_primed, 0);
    gv_thread spawner, senders[SENDERS];
    sender_arg args[SENDERS];
    assert_true(gv_thread_start(&spawner, "spawner", s_spawner, node));
    for (int i = 0; i < SENDERS; i++) {
        args[i] = (sender_arg){node, (uint64_t)i + 1};
        assert_true(gv_thread_start(&senders[i], "sender", s_sender, &args[i]));
    }
    for (int i = 0; i < SENDERS; i++)
        gv_thread_join(&senders[i]);
    atomic_store(&s_stop_spawning, 1);
    gv_thread_join(&spawner);
    grove_node_stats st;
    grove_node_stats_get(node, &st);
    grove_node_stop(&node);
    assert_true(atomic_load(&s_primed));
    assert_int_equal(atomic_load(&s_violations), 0);
    assert_true(atomic_load(&s_received) > 0);
    assert_true(st.exited > 0); /* processes did exit under the senders */
}

static void test_id_space_is_recycled(void **state)
{
    (void)state;
    grove_node *node = rt_node(0);
    grove_waiter *w;
    grove_waiter_new(node, &w);
    uint64_t exited = 0;
    for (int round = 0; round < 50; round++) {
        grove_pid pids[100];
        for (int i = 0; i < 100; i++) {
            pids[i] = rt_spawn_probe(node, w, false);
        }
        for (int i = 0; i < 100; i++)
            grove_send(node, pids[i], grove_pack("{stop, normal}"));
        exited += 100;
        s_wait_exited(node, exited);
    }
    uint32_t extent = gv_ptab_extent(&node->ptab);
    assert_true(extent <= 220); /* 5,000 processes lived in about 100 slots */
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_pid_is_detected_after_its_slot_is_reused),
        cmocka_unit_test(test_four_threads_sending_to_exiting_processes_never_misdeliver),
        cmocka_unit_test(test_id_space_is_recycled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
