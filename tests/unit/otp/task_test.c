/* Tasks: async/await, timeouts and cancellation, failures, fire and forget,
 * async_stream (order, concurrency bound, timeouts), a pool that grows when
 * tasks wait on tasks, gen_servers that stay responsive while tasks block,
 * tasks owned by processes, task supervisors. */
#include "otp_test.h"

#include <semaphore.h>

/* ---- task functions --------------------------------------------------------------------- */

static grove_term *square(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    int64_t n;
    if (!grove_match(arg, "~l", &n))
        return NULL;
    return grove_pack("~l", n * n);
}

static grove_term *fail_fn(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    return NULL;
}

/* Runs until cancelled; the flag in udata says 1 once it runs, 2 once it
 * has seen the cancellation. */
static grove_term *until_cancelled(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    _Atomic int *saw = udata;
    atomic_store(saw, 1);
    while (!grove_task_cancelled(ctx))
        gv_sleep_ms(1);
    atomic_store(saw, 2);
    return grove_atom("cancelled");
}

static grove_term *post(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    sem_post(udata);
    return grove_atom("posted");
}

static grove_term *wait_sem(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    sem_wait(udata);
    return grove_atom("released");
}

/* Tracks how many run at once. */
typedef struct gauge {
    _Atomic int running;
    _Atomic int max;
} gauge;

static grove_term *measured_square(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    gauge *g = udata;
    int now = atomic_fetch_add(&g->running, 1) + 1;
    int seen = atomic_load(&g->max);
    while (now > seen && !atomic_compare_exchange_weak(&g->max, &seen, now)) {
    }
    int64_t n;
    grove_match(arg, "~l", &n);
    gv_sleep_ms((uint64_t)(1 + (n * 7) % 5)); /* uneven: answers come out of order */
    atomic_fetch_sub(&g->running, 1);
    return grove_pack("~l", n * n);
}

static grove_term *sleepy(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    int64_t ms = 0;
    grove_match(arg, "~l", &ms);
    for (int64_t i = 0; i < ms && !grove_task_cancelled(ctx); i++)
        gv_sleep_ms(1);
    return grove_pack("~l", ms);
}

/* Starts a task of its own and awaits it: needs a second pool thread. */
static grove_term *outer(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    grove_task *inner = NULL;
    if (grove_task_async(grove_task_node(ctx), square, grove_term_copy(arg), NULL, &inner))
        return NULL;
    gv_sleep_ms(20); /* let every outer task take its thread first */
    grove_term *r = NULL;
    if (grove_task_await(&inner, OT_TIMEOUT_MS, &r) != GROVE_OK)
        return NULL;
    return r;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_async_and_await_return_the_result(void **state)
{
    grove_node *node = ot_node();
    grove_task *t = NULL;
    assert_int_equal(grove_task_async(node, square, grove_int(7), NULL, &t), GROVE_OK);
    grove_term *r = NULL;
    assert_int_equal(grove_task_await(&t, OT_TIMEOUT_MS, &r), GROVE_OK);
    assert_null(t);
    ot_assert_match(r, "49");
    grove_term_destroy(&r);
    /* A failure comes back as the task's exit reason. */
    assert_int_equal(grove_task_async(node, fail_fn, NULL, NULL, &t), GROVE_OK);
    assert_int_equal(grove_task_await(&t, OT_TIMEOUT_MS, &r), GROVE_ENOPROC);
    ot_assert_match(r, "failed");
    grove_term_destroy(&r);
    grove_node_stop(&node);
}

static void test_await_timeout_cancels_the_task(void **state)
{
    grove_node *node = ot_node();
    _Atomic int saw = 0;
    grove_task *t = NULL;
    assert_int_equal(grove_task_async(node, until_cancelled, NULL, &saw, &t), GROVE_OK);
    grove_pid pid = grove_task_pid(t);
    ot_wait_flag(&saw, 1); /* running (a task cancelled before it starts never runs) */
    grove_term *r = NULL;
    uint64_t t0 = gv_now_ms();
    assert_int_equal(grove_task_await(&t, 30, &r), GROVE_ETIMEDOUT);
    assert_true(gv_now_ms() - t0 >= 30);
    assert_null(r);
    ot_wait_flag(&saw, 2); /* the function saw the cancellation */
    assert_false(ot_alive(node, pid));
    grove_node_stop(&node);
}

static void test_yield_keeps_the_task_when_time_runs_out(void **state)
{
    grove_node *node = ot_node();
    grove_task *t = NULL;
    assert_int_equal(grove_task_async(node, sleepy, grove_int(50), NULL, &t), GROVE_OK);
    grove_term *r = NULL;
    assert_int_equal(grove_task_yield(t, 1, &r), GROVE_ETIMEDOUT);
    assert_int_equal(grove_task_yield(t, OT_TIMEOUT_MS, &r), GROVE_OK);
    ot_assert_match(r, "50");
    grove_term_destroy(&r);
    grove_task_shutdown(&t);
    assert_null(t);
    grove_node_stop(&node);
}

static void test_start_runs_without_an_owner(void **state)
{
    grove_node *node = ot_node();
    sem_t sem;
    sem_init(&sem, 0, 0);
    grove_pid pid;
    assert_int_equal(grove_task_start(node, post, NULL, &sem, &pid), GROVE_OK);
    sem_wait(&sem);
    grove_waiter *w = ot_waiter(node);
    grove_term *reason = ot_wait_down(w, pid);
    ot_assert_match(reason, "_"); /* normal, or noproc if already gone */
    grove_term_destroy(&reason);
    grove_waiter_destroy(&w);
    sem_destroy(&sem);
    grove_node_stop(&node);
}

static void test_async_stream_keeps_input_order_and_bounds_concurrency(void **state)
{
    setenv("GROVE_TASK_THREADS", "16", 1); /* more threads than the bound */
    grove_node *node = ot_node();
    enum { N = 100 };
    grove_term *inputs[N], *results[N];
    for (int i = 0; i < N; i++)
        inputs[i] = grove_int(i);
    gauge g = {0};
    assert_int_equal(grove_task_async_stream(
                         node, measured_square, inputs, N, &g,
                         &(grove_stream_opts){.max_concurrency = 10, .timeout_ms = OT_TIMEOUT_MS},
                         results),
                     GROVE_OK);
    for (int i = 0; i < N; i++) {
        int64_t v;
        if (!grove_match(results[i], "{ok, ~l}", &v) || v != (int64_t)i * i) {
            char *s = ot_text(results[i]);
            fail_msg("result %d: %s", i, s);
        }
        grove_term_destroy(&results[i]);
        grove_term_destroy(&inputs[i]);
    }
    assert_true(atomic_load(&g.max) <= 10);
    assert_true(atomic_load(&g.max) >= 2); /* it did run tasks side by side */
    unsetenv("GROVE_TASK_THREADS");
    grove_node_stop(&node);
}

static void test_async_stream_reports_timeouts_and_failures_in_place(void **state)
{
    grove_node *node = ot_node();
    grove_term *inputs[4] = {grove_int(1), grove_int(100000), grove_atom("bad"), grove_int(2)};
    grove_term *results[4];
    assert_int_equal(grove_task_async_stream(node, sleepy, inputs, 4, NULL,
                                             &(grove_stream_opts){.timeout_ms = 50}, results),
                     GROVE_OK);
    ot_assert_match(results[0], "{ok, 1}");
    ot_assert_match(results[1], "{exit, timeout}");
    ot_assert_match(results[2], "{ok, _}"); /* sleepy takes no time for a non-number */
    ot_assert_match(results[3], "{ok, 2}");
    for (int i = 0; i < 4; i++) {
        grove_term_destroy(&results[i]);
        grove_term_destroy(&inputs[i]);
    }
    grove_term *in[2] = {grove_int(3), grove_atom("x")}, *out[2];
    assert_int_equal(grove_task_async_stream(node, square, in, 2, NULL, NULL, out), GROVE_OK);
    ot_assert_match(out[0], "{ok, 9}");
    ot_assert_match(out[1], "{exit, failed}");
    for (int i = 0; i < 2; i++) {
        grove_term_destroy(&out[i]);
        grove_term_destroy(&in[i]);
    }
    grove_node_stop(&node);
}

static void test_pool_grows_when_tasks_await_tasks(void **state)
{
    setenv("GROVE_TASK_THREADS", "2", 1);
    grove_node *node = ot_node();
    enum { N = 6 }; /* three times the pool: each waits on an inner task */
    grove_task *t[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(grove_task_async(node, outer, grove_int(i), NULL, &t[i]), GROVE_OK);
    for (int i = 0; i < N; i++) {
        grove_term *r = NULL;
        assert_int_equal(grove_task_await(&t[i], OT_TIMEOUT_MS, &r), GROVE_OK);
        int64_t v;
        assert_true(grove_match(r, "~l", &v));
        assert_int_equal(v, (int64_t)i * i);
        grove_term_destroy(&r);
    }
    unsetenv("GROVE_TASK_THREADS");
    grove_node_stop(&node);
}

/* ---- gen_servers and tasks ----------------------------------------------------------------------
 */

typedef struct owner {
    grove_pid report;
    grove_task_ref task;
    bool has_task;
    int64_t calls;
} owner;

static grove_err owner_init(grove_proc *self, const grove_term *arg, void **state)
{
    owner *o = gv_calloc(1, sizeof *o);
    grove_match(arg, "~p", &o->report);
    *state = o;
    return GROVE_OK;
}

static grove_ret owner_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                            grove_term **reply)
{
    owner *o = state;
    o->calls++;
    *reply = grove_pack("{calls, ~l}", o->calls);
    return GROVE_REPLY;
}

static grove_ret owner_cast(grove_proc *self, const grove_term *msg, void *state)
{
    owner *o = state;
    uint64_t sem;
    int64_t n;
    if (grove_match(msg, "{block_on, ~u}", &sem)) {
        grove_task_async(self, wait_sem, NULL, (void *)(uintptr_t)sem, &o->task);
        o->has_task = true;
    } else if (grove_match(msg, "{square, ~l}", &n)) {
        grove_task_async(self, square, grove_pack("~l", n), NULL, &o->task);
        o->has_task = true;
    } else if (grove_match(msg, "fail")) {
        grove_task_async(self, fail_fn, NULL, NULL, &o->task);
        o->has_task = true;
    } else if (grove_match(msg, "{cancel_loop, ~u}", &sem)) {
        grove_task_async(self, until_cancelled, NULL, (void *)(uintptr_t)sem, &o->task);
        o->has_task = true;
    } else if (grove_match(msg, "cancel")) {
        grove_task_cancel(self, &o->task);
        o->has_task = false;
    } else if (grove_match(msg, "die")) {
        return grove_stop(self, grove_atom("normal"));
    }
    return GROVE_NOREPLY;
}

static grove_ret owner_info(grove_proc *self, const grove_term *msg, void *state)
{
    owner *o = state;
    grove_term *r = NULL;
    if (o->has_task) {
        grove_err err = grove_task_result(self, &o->task, msg, &r);
        if (err != GROVE_ENOTFOUND) {
            o->has_task = false;
            grove_send(self, o->report, grove_pack("{task, ~a, ~t}", grove_errname(err), r));
            return GROVE_NOREPLY;
        }
    }
    grove_send(self, o->report, grove_pack("{stray, ~t}", grove_term_copy(msg)));
    return GROVE_NOREPLY;
}

static const grove_gen_server owner_server = {
    .name = "owner",
    .init = owner_init,
    .handle_call = owner_call,
    .handle_cast = owner_cast,
    .handle_info = owner_info,
    .free_state = gv_free,
};

static void test_gen_server_answers_calls_while_tasks_block_on_a_semaphore(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    sem_t sem;
    sem_init(&sem, 0, 0);
    grove_pid server;
    assert_int_equal(grove_gen_server_start(node, &owner_server,
                                            grove_pack("~p", grove_waiter_pid(w)), NULL, &server),
                     GROVE_OK);
    /* The server's own task and more, blocked on a semaphore the test
     * holds: more blocked functions than the pool has threads. */
    grove_cast(node, server, grove_pack("{block_on, ~u}", (uint64_t)(uintptr_t)&sem));
    enum { N = 6 };
    grove_task *t[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(grove_task_async(node, wait_sem, NULL, &sem, &t[i]), GROVE_OK);
    for (int64_t i = 1; i <= 100; i++) {
        grove_term *reply = NULL;
        assert_int_equal(grove_call(node, server, grove_atom("count"), OT_TIMEOUT_MS, &reply),
                         GROVE_OK);
        int64_t n;
        assert_true(grove_match(reply, "{calls, ~l}", &n));
        assert_int_equal(n, i);
        grove_term_destroy(&reply);
    }
    for (int i = 0; i < N + 1; i++)
        sem_post(&sem);
    grove_term *r = ot_expect(w, "{task, _, _}");
    ot_assert_match(r, "{task, 'GROVE_OK', released}");
    grove_term_destroy(&r);
    for (int i = 0; i < N; i++) {
        assert_int_equal(grove_task_await(&t[i], OT_TIMEOUT_MS, &r), GROVE_OK);
        grove_term_destroy(&r);
    }
    sem_destroy(&sem);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_process_owned_tasks_report_results_and_failures(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid server;
    assert_int_equal(grove_gen_server_start(node, &owner_server,
                                            grove_pack("~p", grove_waiter_pid(w)), NULL, &server),
                     GROVE_OK);
    grove_cast(node, server, grove_pack("{square, 12}"));
    grove_term *r = ot_expect(w, "{task, _, _}");
    ot_assert_match(r, "{task, 'GROVE_OK', 144}");
    grove_term_destroy(&r);
    grove_cast(node, server, grove_atom("fail"));
    r = ot_expect(w, "{task, _, _}");
    ot_assert_match(r, "{task, 'GROVE_ENOPROC', failed}");
    grove_term_destroy(&r);
    /* Cancelled on request: the function sees it, no message follows. */
    _Atomic int saw = 0;
    grove_cast(node, server, grove_pack("{cancel_loop, ~u}", (uint64_t)(uintptr_t)&saw));
    ot_wait_flag(&saw, 1);
    grove_cast(node, server, grove_atom("cancel"));
    ot_wait_flag(&saw, 2);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, server, grove_atom("sync"), OT_TIMEOUT_MS, &reply), GROVE_OK);
    grove_term_destroy(&reply);
    ot_expect_none(w, "_", 50);
    /* An owner that exits cancels its task. */
    atomic_store(&saw, 0);
    grove_cast(node, server, grove_pack("{cancel_loop, ~u}", (uint64_t)(uintptr_t)&saw));
    ot_wait_flag(&saw, 1);
    grove_cast(node, server, grove_atom("die"));
    ot_wait_flag(&saw, 2);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- task supervisors
 * --------------------------------------------------------------------------------- */

static void test_task_supervisor_runs_and_stops_its_tasks(void **state)
{
    grove_node *node = ot_node();
    grove_pid sup;
    assert_int_equal(grove_task_sup_start(node, NULL, NULL, &sup), GROVE_OK);
    grove_task *t = NULL;
    assert_int_equal(grove_task_sup_async(node, sup, square, grove_int(5), NULL, &t), GROVE_OK);
    grove_term *r = NULL;
    assert_int_equal(grove_task_await(&t, OT_TIMEOUT_MS, &r), GROVE_OK);
    ot_assert_match(r, "25");
    grove_term_destroy(&r);
    sem_t sem;
    sem_init(&sem, 0, 0);
    grove_pid pid;
    assert_int_equal(grove_task_sup_start_child(node, sup, post, NULL, &sem, &pid), GROVE_OK);
    sem_wait(&sem);
    /* Stopping the supervisor cancels a task still running. */
    _Atomic int saw = 0;
    assert_int_equal(grove_task_sup_async(node, sup, until_cancelled, NULL, &saw, &t), GROVE_OK);
    ot_wait_flag(&saw, 1);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(node, sup, &counts), GROVE_OK);
    assert_true(counts.active >= 1);
    assert_int_equal(grove_supervisor_stop(node, sup, NULL, OT_TIMEOUT_MS), GROVE_OK);
    ot_wait_flag(&saw, 2);
    assert_int_equal(grove_task_await(&t, OT_TIMEOUT_MS, &r), GROVE_ENOPROC);
    ot_assert_match(r, "shutdown");
    grove_term_destroy(&r);
    sem_destroy(&sem);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_and_await_return_the_result),
        cmocka_unit_test(test_await_timeout_cancels_the_task),
        cmocka_unit_test(test_yield_keeps_the_task_when_time_runs_out),
        cmocka_unit_test(test_start_runs_without_an_owner),
        cmocka_unit_test(test_async_stream_keeps_input_order_and_bounds_concurrency),
        cmocka_unit_test(test_async_stream_reports_timeouts_and_failures_in_place),
        cmocka_unit_test(test_pool_grows_when_tasks_await_tasks),
        cmocka_unit_test(test_gen_server_answers_calls_while_tasks_block_on_a_semaphore),
        cmocka_unit_test(test_process_owned_tasks_report_results_and_failures),
        cmocka_unit_test(test_task_supervisor_runs_and_stops_its_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
