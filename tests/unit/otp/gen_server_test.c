/* gen_server: calls, casts, infos, continues, timeouts, stop, names, start
 * failures, replies from anywhere, timeouts that leave nothing behind,
 * asynchronous calls, blocking calls on a scheduler thread. */
#include "otp_test.h"

#include "base/gv_thread.h"

/* ---- a test server ----------------------------------------------------------------------- */

typedef struct tsrv {
    grove_pid report;
    int64_t count;
    bool has_from;
    grove_from from;
} tsrv;

/* A from kept for a reply made by another thread. */
static grove_from s_thread_from;
static _Atomic int s_thread_from_set;

static void s_report(grove_proc *self, tsrv *s, grove_term *t)
{
    grove_send(self, s->report, t);
}

static const grove_gen_server tsrv_server;

static grove_term *s_noop_task(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    return grove_atom("ok");
}

static grove_err tsrv_init(grove_proc *self, const grove_term *arg, void **state)
{
    tsrv *s = gv_calloc(1, sizeof *s);
    char mode[32] = "plain";
    if (!grove_match(arg, "{~p, ~a}", &s->report, mode, sizeof mode)) {
        gv_free(s);
        return GROVE_EBADARG;
    }
    grove_send(self, s->report, grove_pack("{init, ~p}", grove_self(self)));
    if (strcmp(mode, "fail") == 0) {
        gv_free(s);
        return GROVE_EBADARG;
    }
    if (strcmp(mode, "stop_custom") == 0) {
        gv_free(s);
        grove_stop(self, grove_pack("{custom, 1}"));
        return GROVE_EINVAL;
    }
    if (strcmp(mode, "slow") == 0)
        gv_sleep_ms(50); /* a test-only slow init */
    if (strcmp(mode, "silence") == 0)
        grove_set_timeout(self, 50);
    if (strcmp(mode, "continue") == 0)
        grove_continue(self, grove_pack("{step, 1}"));
    *state = s;
    return GROVE_OK;
}

static grove_ret tsrv_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                           grove_term **reply)
{
    tsrv *s = state;
    int64_t ms;
    grove_term *x = NULL;
    if (grove_match(req, "get")) {
        *reply = grove_pack("{count, ~l}", s->count);
    } else if (grove_match(req, "{echo, ~t}", &x)) {
        *reply = x;
    } else if (grove_match(req, "{slow, ~l, ~t}", &ms, &x)) {
        s->from = from;
        s->has_from = true;
        grove_send_after(self, (uint64_t)ms, grove_self(self), grove_pack("{release, ~t}", x),
                         NULL);
        return GROVE_NOREPLY;
    } else if (grove_match(req, "{crash_later, ~l}", &ms)) {
        grove_send_after(self, (uint64_t)ms, grove_self(self), grove_atom("crash_now"), NULL);
        return GROVE_NOREPLY;
    } else if (grove_match(req, "crash")) {
        return grove_stop(self, grove_pack("{boom, 1}"));
    } else if (grove_match(req, "reply_and_stop")) {
        *reply = grove_atom("bye");
        return grove_stop(self, grove_atom("normal"));
    } else if (grove_match(req, "thread_reply")) {
        s_thread_from = from;
        atomic_store(&s_thread_from_set, 1);
        return GROVE_NOREPLY;
    } else if (grove_match(req, "bad_reply")) {
        return GROVE_REPLY;
    } else if (grove_match(req, "blocking")) {
        grove_term *r = NULL;
        grove_err e1 =
            grove_call(grove_proc_node(self), grove_self(self), grove_atom("get"), 100, &r);
        grove_term_destroy(&r);
        grove_pid p;
        grove_err e2 =
            grove_gen_server_start(grove_proc_node(self), &tsrv_server, grove_atom("x"), NULL, &p);
        grove_task *t = NULL;
        grove_err e3 = grove_node_task_async(grove_proc_node(self), s_noop_task, NULL, NULL, &t);
        *reply =
            grove_pack("{~a, ~a, ~a}", grove_errname(e1), grove_errname(e2), grove_errname(e3));
    } else {
        *reply = grove_pack("{error, unknown}");
    }
    return GROVE_REPLY;
}

static grove_ret tsrv_cast(grove_proc *self, const grove_term *msg, void *state)
{
    tsrv *s = state;
    grove_term *x = NULL, *req = NULL;
    grove_pid server;
    int64_t timeout;
    if (grove_match(msg, "inc")) {
        s->count++;
    } else if (grove_match(msg, "{stop, ~t}", &x)) {
        return grove_stop(self, x);
    } else if (grove_match(msg, "{async_call, ~p, ~t, ~l}", &server, &req, &timeout)) {
        grove_ref ref;
        grove_err err = grove_call_async(self, server, req, timeout, &ref);
        s_report(self, s, grove_pack("{async_ref, ~r, ~a}", ref, grove_errname(err)));
    } else if (grove_match(msg, "ping")) {
        s_report(self, s, grove_pack("{pong, ~p}", grove_self(self)));
    }
    return GROVE_NOREPLY;
}

static grove_ret tsrv_info(grove_proc *self, const grove_term *msg, void *state)
{
    tsrv *s = state;
    grove_term *x = NULL;
    if (grove_match(msg, "{release, ~t}", &x) && s->has_from) {
        s->has_from = false;
        grove_reply(s->from, grove_term_copy(x));
        s_report(self, s, grove_pack("{replied, ~t}", x));
        return GROVE_NOREPLY;
    }
    grove_term_destroy(&x);
    if (grove_match(msg, "crash_now"))
        return grove_stop(self, grove_pack("{boom, 2}"));
    if (grove_match(msg, "timeout")) {
        s_report(self, s, grove_pack("{timeout, ~p, ~u}", grove_self(self), gv_now_ms()));
        return GROVE_NOREPLY;
    }
    s_report(self, s, grove_pack("{info, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    return GROVE_NOREPLY;
}

static grove_ret tsrv_continue(grove_proc *self, const grove_term *arg, void *state)
{
    tsrv *s = state;
    int64_t n;
    if (grove_match(arg, "{step, ~l}", &n)) {
        s_report(self, s, grove_pack("{continue, ~l}", n));
        if (n < 3)
            grove_continue(self, grove_pack("{step, ~l}", n + 1));
    }
    return GROVE_NOREPLY;
}

static void tsrv_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    tsrv *s = state;
    s_report(self, s, grove_pack("{terminate, ~p, ~t}", grove_self(self), grove_term_copy(reason)));
}

static const grove_gen_server tsrv_server = {
    .name = "tsrv",
    .init = tsrv_init,
    .handle_call = tsrv_call,
    .handle_cast = tsrv_cast,
    .handle_info = tsrv_info,
    .handle_continue = tsrv_continue,
    .terminate = tsrv_terminate,
    .free_state = gv_free,
};

static grove_pid s_start(grove_node *node, grove_waiter *w, const char *mode,
                         const grove_start_opts *opts)
{
    grove_pid pid;
    grove_err err = grove_gen_server_start(
        node, &tsrv_server, grove_pack("{~p, ~a}", grove_waiter_pid(w), mode), opts, &pid);
    assert_int_equal(err, GROVE_OK);
    ot_expect_free(w, "{init, _}");
    return pid;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_call_cast_and_info_reach_their_callbacks(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(grove_cast(node, pid, grove_atom("inc")), GROVE_OK);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_atom("get"), GROVE_CALL_TIMEOUT, &reply),
                     GROVE_OK);
    ot_assert_match(reply, "{count, 5}"); /* casts before the call are handled first */
    grove_term_destroy(&reply);
    grove_send(node, pid, grove_pack("{hello, 1}"));
    grove_term *t = ot_expect(w, "{info, _, _}");
    ot_assert_match(t, "{info, _, {hello, 1}}");
    grove_term_destroy(&t);
    assert_int_equal(grove_gen_server_stop(node, pid, NULL, OT_TIMEOUT_MS), GROVE_OK);
    ot_expect_free(w, "{terminate, _, normal}");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_reply_later_from_the_server_itself(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    uint64_t t0 = gv_now_ms();
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_pack("{slow, 30, later}"), OT_TIMEOUT_MS, &reply),
                     GROVE_OK);
    ot_assert_match(reply, "later");
    assert_true(gv_now_ms() - t0 >= 30 - OT_TICK_MS);
    grove_term_destroy(&reply);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void *s_replier(void *arg)
{
    ot_wait_flag(&s_thread_from_set, 1);
    grove_reply(s_thread_from, grove_atom("from_a_thread"));
    return NULL;
}

static void test_reply_from_another_thread(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    atomic_store(&s_thread_from_set, 0);
    gv_thread th;
    assert_true(gv_thread_start(&th, "replier", s_replier, NULL));
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_atom("thread_reply"), OT_TIMEOUT_MS, &reply),
                     GROVE_OK);
    ot_assert_match(reply, "from_a_thread");
    grove_term_destroy(&reply);
    gv_thread_join(&th);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_call_to_a_dead_server_returns_noproc(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    assert_int_equal(grove_gen_server_stop(node, pid, NULL, OT_TIMEOUT_MS), GROVE_OK);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_atom("get"), GROVE_CALL_TIMEOUT, &reply),
                     GROVE_ENOPROC);
    ot_assert_match(reply, "noproc");
    grove_term_destroy(&reply);
    assert_int_equal(grove_call_name(node, "nobody", grove_atom("get"), GROVE_CALL_TIMEOUT, &reply),
                     GROVE_ENOPROC);
    ot_assert_match(reply, "noproc");
    grove_term_destroy(&reply);
    assert_int_equal(grove_gen_server_stop(node, pid, NULL, 1000), GROVE_ENOPROC);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_call_to_a_crashing_server_gives_its_exit_reason(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_atom("crash"), GROVE_CALL_TIMEOUT, &reply),
                     GROVE_ENOPROC);
    ot_assert_match(reply, "{boom, 1}");
    grove_term_destroy(&reply);
    ot_expect_free(w, "{terminate, _, {boom, 1}}");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_reply_then_stop_answers_the_caller_first(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    grove_term *reply = NULL;
    assert_int_equal(
        grove_call(node, pid, grove_atom("reply_and_stop"), GROVE_CALL_TIMEOUT, &reply), GROVE_OK);
    ot_assert_match(reply, "bye");
    grove_term_destroy(&reply);
    ot_expect_free(w, "{terminate, _, normal}");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_reply_without_a_term_stops_the_server(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_atom("bad_reply"), GROVE_CALL_TIMEOUT, &reply),
                     GROVE_ENOPROC);
    ot_assert_match(reply, "{bad_return_value, {reply_without_term, bad_reply}}");
    grove_term_destroy(&reply);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_timed_out_call_drops_the_late_reply(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_pack("{slow, 200, first}"), 20, &reply),
                     GROVE_ETIMEDOUT);
    assert_null(reply);
    ot_expect_free(w, "{replied, first}"); /* the server did answer, late */
    assert_int_equal(grove_call(node, pid, grove_pack("{echo, second}"), OT_TIMEOUT_MS, &reply),
                     GROVE_OK);
    ot_assert_match(reply, "second");
    grove_term_destroy(&reply);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* A client that calls asynchronously and reports every message it gets. */
static void test_async_call_timeout_leaves_nothing_in_the_callers_mailbox(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid server = s_start(node, w, "plain", NULL);
    grove_pid client = s_start(node, w, "plain", NULL);
    grove_cast(node, client, grove_pack("{async_call, ~p, {slow, 200, late}, 20}", server));
    grove_term *t = ot_expect(w, "{async_ref, _, _}");
    grove_ref ref;
    assert_true(grove_match(t, "{async_ref, ~r, 'GROVE_OK'}", &ref));
    grove_term_destroy(&t);
    t = ot_expect(w, "{info, _, _}");
    grove_term *msg = NULL;
    assert_true(grove_match(t, "{info, _, ~t}", &msg));
    grove_term_destroy(&t);
    grove_ref got;
    grove_err err;
    grove_term *r = NULL;
    assert_true(grove_call_response(msg, &got, &err, &r));
    assert_true(grove_ref_equal(&got, &ref));
    assert_int_equal(err, GROVE_ETIMEDOUT);
    assert_null(r);
    grove_term_destroy(&msg);
    ot_expect_free(w, "{replied, late}"); /* the late reply has been sent */
    /* Sync with the client: anything sent to it before now is handled. */
    grove_cast(node, client, grove_atom("ping"));
    ot_expect_free(w, "{pong, _}");
    ot_expect_none(w, "{info, _, _}", 100);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_async_call_delivers_reply_and_exit(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid server = s_start(node, w, "plain", NULL);
    grove_pid client = s_start(node, w, "plain", NULL);
    /* A reply. */
    grove_cast(node, client, grove_pack("{async_call, ~p, {echo, hi}, 5000}", server));
    ot_expect_free(w, "{async_ref, _, 'GROVE_OK'}");
    grove_term *t = ot_expect(w, "{info, _, {'$gen_response', _, _}}");
    grove_term *msg = NULL, *r = NULL;
    grove_err err;
    assert_true(grove_match(t, "{info, _, ~t}", &msg));
    assert_true(grove_call_response(msg, NULL, &err, &r));
    assert_int_equal(err, GROVE_OK);
    ot_assert_match(r, "hi");
    grove_term_destroy(&r);
    grove_term_destroy(&msg);
    grove_term_destroy(&t);
    /* A crash before answering: the exit reason comes back. (The server
     * lives on a little, so the helper's monitor is in place; a server
     * that dies at once may be reported as noproc, docs/otp.md.) */
    grove_cast(node, client, grove_pack("{async_call, ~p, {crash_later, 50}, -1}", server));
    ot_expect_free(w, "{async_ref, _, 'GROVE_OK'}");
    t = ot_expect(w, "{info, _, {'$gen_response', _, _}}");
    assert_true(grove_match(t, "{info, _, ~t}", &msg));
    assert_true(grove_call_response(msg, NULL, &err, &r));
    assert_int_equal(err, GROVE_ENOPROC);
    ot_assert_match(r, "{boom, 2}");
    grove_term_destroy(&r);
    grove_term_destroy(&msg);
    grove_term_destroy(&t);
    /* A dead server. */
    grove_cast(node, client, grove_pack("{async_call, ~p, get, -1}", server));
    t = ot_expect(w, "{info, _, {'$gen_response', _, _}}");
    assert_true(grove_match(t, "{info, _, ~t}", &msg));
    assert_true(grove_call_response(msg, NULL, &err, &r));
    assert_int_equal(err, GROVE_ENOPROC);
    ot_assert_match(r, "noproc");
    grove_term_destroy(&r);
    grove_term_destroy(&msg);
    grove_term_destroy(&t);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_blocking_calls_on_a_scheduler_return_ewouldblock(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    grove_term *reply = NULL;
    assert_int_equal(grove_call(node, pid, grove_atom("blocking"), OT_TIMEOUT_MS, &reply),
                     GROVE_OK);
    ot_assert_match(reply, "{'GROVE_EWOULDBLOCK', 'GROVE_EWOULDBLOCK', 'GROVE_EWOULDBLOCK'}");
    grove_term_destroy(&reply);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_timeout_after_silence_reaches_handle_info(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    uint64_t t0 = gv_now_ms();
    s_start(node, w, "silence", NULL);
    grove_term *t = ot_expect(w, "{timeout, _, _}");
    uint64_t at;
    assert_true(grove_match(t, "{timeout, _, ~u}", &at));
    assert_true(at - t0 >= 50 - OT_TICK_MS);
    grove_term_destroy(&t);
    ot_expect_none(w, "{timeout, _, _}", 150); /* once: no handler set it again */
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_continue_runs_before_any_message(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "continue", NULL);
    grove_send(node, pid, grove_atom("first_message"));
    for (int64_t i = 1; i <= 3; i++) {
        grove_term *t = ot_next(w);
        int64_t n;
        if (!grove_match(t, "{continue, ~l}", &n) || n != i) {
            char *s = ot_text(t);
            fail_msg("expected continue %lld, got %s", (long long)i, s);
        }
        grove_term_destroy(&t);
    }
    ot_expect_free(w, "{info, _, first_message}");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_stop_with_a_reason_reaches_terminate_and_monitors(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", NULL);
    grove_ref ref;
    grove_waiter_monitor(w, pid, &ref);
    grove_cast(node, pid, grove_pack("{stop, {shutdown, done}}"));
    ot_expect_free(w, "{terminate, _, {shutdown, done}}");
    ot_expect_free(w, "{'DOWN', _, process, _, {shutdown, done}}");
    pid = s_start(node, w, "plain", NULL);
    assert_int_equal(grove_gen_server_stop(node, pid, grove_atom("bye"), OT_TIMEOUT_MS), GROVE_OK);
    ot_expect_free(w, "{terminate, _, bye}");
    assert_false(ot_alive(node, pid));
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_named_server_is_reachable_and_unique(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid = s_start(node, w, "plain", &(grove_start_opts){.name = "alice"});
    grove_pid where;
    assert_int_equal(grove_whereis(node, "alice", &where), GROVE_OK);
    assert_true(grove_pid_equal(where, pid));
    grove_cast_name(node, "alice", grove_atom("inc"));
    grove_term *reply = NULL;
    assert_int_equal(grove_call_name(node, "alice", grove_atom("get"), OT_TIMEOUT_MS, &reply),
                     GROVE_OK);
    ot_assert_match(reply, "{count, 1}");
    grove_term_destroy(&reply);
    /* The same name again: already started, and we learn who has it. */
    grove_pid other;
    grove_term *reason = NULL;
    assert_int_equal(
        grove_gen_server_start(node, &tsrv_server, grove_pack("{~p, plain}", grove_waiter_pid(w)),
                               &(grove_start_opts){.name = "alice", .reason = &reason}, &other),
        GROVE_EEXIST);
    assert_true(grove_pid_equal(other, pid));
    ot_assert_match(reason, "{already_started, _}");
    grove_term_destroy(&reason);
    /* A global name: a local node is a cluster of one (docs/registry.md). */
    assert_int_equal(grove_gen_server_start(
                         node, &tsrv_server, grove_pack("{~p, plain}", grove_waiter_pid(w)),
                         &(grove_start_opts){.name = "bob", .scope = GROVE_NAME_GLOBAL}, &other),
                     GROVE_OK);
    assert_int_equal(grove_global_whereis(node, "bob", &where, NULL), GROVE_OK);
    assert_true(grove_pid_equal(where, other));
    assert_int_equal(grove_gen_server_stop(node, other, NULL, OT_TIMEOUT_MS), GROVE_OK);
    assert_int_equal(grove_gen_server_stop(node, pid, NULL, OT_TIMEOUT_MS), GROVE_OK);
    assert_int_equal(grove_whereis(node, "alice", &where), GROVE_ENOTFOUND);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_failed_init_fails_the_start_with_its_error(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid pid;
    grove_term *reason = NULL;
    assert_int_equal(grove_gen_server_start(node, &tsrv_server,
                                            grove_pack("{~p, fail}", grove_waiter_pid(w)),
                                            &(grove_start_opts){.reason = &reason}, &pid),
                     GROVE_EBADARG);
    ot_assert_match(reason, "{init_failed, 'GROVE_EBADARG'}");
    grove_term_destroy(&reason);
    assert_int_equal(grove_gen_server_start(node, &tsrv_server,
                                            grove_pack("{~p, stop_custom}", grove_waiter_pid(w)),
                                            &(grove_start_opts){.reason = &reason}, &pid),
                     GROVE_ENOPROC);
    ot_assert_match(reason, "{custom, 1}");
    grove_term_destroy(&reason);
    /* A bad argument: init itself refuses it. */
    assert_int_equal(grove_gen_server_start(node, &tsrv_server, grove_atom("nonsense"), NULL, &pid),
                     GROVE_EBADARG);
    /* init that takes too long: killed, timed out. */
    assert_int_equal(grove_gen_server_start(node, &tsrv_server,
                                            grove_pack("{~p, slow}", grove_waiter_pid(w)),
                                            &(grove_start_opts){.timeout_ms = 5}, &pid),
                     GROVE_ETIMEDOUT);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- starting from a process
 * ---------------------------------------------------------------------- */

typedef struct starter {
    grove_pid report;
    grove_pid child;
} starter;

static grove_err starter_init(grove_proc *self, const grove_term *arg, void **state)
{
    starter *s = gv_calloc(1, sizeof *s);
    grove_match(arg, "~p", &s->report);
    grove_trap_exit(self, true);
    grove_ref ack;
    grove_err err =
        grove_gen_server_start_async(self, &tsrv_server, grove_pack("{~p, slow}", s->report),
                                     &(grove_start_opts){.link = true}, &s->child, &ack);
    grove_send(self, s->report, grove_pack("{spawned, ~a, ~p}", grove_errname(err), s->child));
    *state = s;
    return GROVE_OK;
}

static grove_ret starter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    starter *s = state;
    grove_pid pid;
    grove_err res;
    if (grove_start_ack(msg, NULL, &pid, &res, NULL))
        grove_send(self, s->report, grove_pack("{acked, ~p, ~a}", pid, grove_errname(res)));
    else
        grove_send(self, s->report, grove_pack("{starter_got, ~t}", grove_term_copy(msg)));
    return GROVE_CONTINUE;
}

static const grove_behaviour starter_behaviour = {
    .name = "starter", .init = starter_init, .handle = starter_handle, .free_state = gv_free};

static void test_start_async_acknowledges_after_init_and_links(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid parent;
    grove_spawn(node, &starter_behaviour, grove_pack("~p", grove_waiter_pid(w)), NULL, &parent);
    grove_term *t = ot_expect(w, "{spawned, _, _}");
    grove_pid child;
    assert_true(grove_match(t, "{spawned, 'GROVE_OK', ~p}", &child));
    grove_term_destroy(&t);
    /* init reports before it acknowledges: the report comes first. */
    t = ot_next(w);
    ot_assert_match(t, "{init, _}");
    grove_term_destroy(&t);
    t = ot_expect(w, "{acked, _, _}");
    grove_pid acked;
    assert_true(grove_match(t, "{acked, ~p, 'GROVE_OK'}", &acked));
    assert_true(grove_pid_equal(acked, child));
    grove_term_destroy(&t);
    /* Linked: the child's crash reaches the (trapping) parent. */
    grove_cast(node, child, grove_pack("{stop, oops}"));
    ot_expect_free(w, "{starter_got, {'EXIT', _, oops}}");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_cast_and_info_reach_their_callbacks),
        cmocka_unit_test(test_reply_later_from_the_server_itself),
        cmocka_unit_test(test_reply_from_another_thread),
        cmocka_unit_test(test_call_to_a_dead_server_returns_noproc),
        cmocka_unit_test(test_call_to_a_crashing_server_gives_its_exit_reason),
        cmocka_unit_test(test_reply_then_stop_answers_the_caller_first),
        cmocka_unit_test(test_reply_without_a_term_stops_the_server),
        cmocka_unit_test(test_timed_out_call_drops_the_late_reply),
        cmocka_unit_test(test_async_call_timeout_leaves_nothing_in_the_callers_mailbox),
        cmocka_unit_test(test_async_call_delivers_reply_and_exit),
        cmocka_unit_test(test_blocking_calls_on_a_scheduler_return_ewouldblock),
        cmocka_unit_test(test_timeout_after_silence_reaches_handle_info),
        cmocka_unit_test(test_continue_runs_before_any_message),
        cmocka_unit_test(test_stop_with_a_reason_reaches_terminate_and_monitors),
        cmocka_unit_test(test_named_server_is_reachable_and_unique),
        cmocka_unit_test(test_failed_init_fails_the_start_with_its_error),
        cmocka_unit_test(test_start_async_acknowledges_after_init_and_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
