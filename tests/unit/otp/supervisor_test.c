/* Supervisors: strategies, restart types, intensity, start order, shutdown
 * order and timeouts, management calls, nesting, start failures, dynamic
 * supervisors. */
#include "otp_test.h"

#include "otp/otp_impl.h"

/* ---- children ------------------------------------------------------------------------------ */

static _Atomic int64_t s_seq; /* orders init spans across processes */

typedef struct child {
    grove_pid report;
    char id[32];
} child;

/* arg: {Report, Id, Mode}; Mode: plain | slow | trap | fail */
static grove_err worker_init(grove_proc *self, const grove_term *arg, void **state)
{
    child *c = gv_calloc(1, sizeof *c);
    char mode[16];
    if (!grove_match(arg, "{~p, ~a, ~a}", &c->report, c->id, sizeof c->id, mode, sizeof mode)) {
        gv_free(c);
        return GROVE_EBADARG;
    }
    int64_t b = atomic_fetch_add(&s_seq, 1);
    if (strcmp(mode, "slow") == 0)
        gv_sleep_ms(20); /* test-only: a slow init */
    int64_t e = atomic_fetch_add(&s_seq, 1);
    if (strcmp(mode, "fail") == 0) {
        gv_free(c);
        return GROVE_EBADARG;
    }
    if (strcmp(mode, "trap") == 0)
        grove_trap_exit(self, true);
    grove_send(self, c->report,
               grove_pack("{init, ~a, ~p, ~l, ~l}", c->id, grove_self(self), b, e));
    *state = c;
    return GROVE_OK;
}

static grove_ret worker_cast(grove_proc *self, const grove_term *msg, void *state)
{
    grove_term *r = NULL;
    if (grove_match(msg, "{stop, ~t}", &r))
        return grove_stop(self, r);
    return GROVE_NOREPLY;
}

static void worker_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    child *c = state;
    grove_send(self, c->report,
               grove_pack("{terminate, ~a, ~p, ~t, ~u}", c->id, grove_self(self),
                          grove_term_copy(reason), gv_now_ms()));
}

static const grove_gen_server worker_server = {
    .name = "worker",
    .init = worker_init,
    .handle_cast = worker_cast,
    .terminate = worker_terminate,
    .free_state = gv_free,
};

/* A plain behaviour that traps exits and ignores `shutdown`. */
static grove_err stubborn_init(grove_proc *self, const grove_term *arg, void **state)
{
    grove_trap_exit(self, true);
    return worker_init(self, arg, state);
}

static grove_ret stubborn_handle(grove_proc *self, const grove_term *msg, void *state)
{
    child *c = state;
    if (grove_match(msg, "{'EXIT', _, _}"))
        grove_send(self, c->report, grove_pack("{ignored_exit, ~a, ~u}", c->id, gv_now_ms()));
    return GROVE_CONTINUE;
}

static const grove_behaviour stubborn_behaviour = {
    .name = "stubborn",
    .init = stubborn_init,
    .handle = stubborn_handle,
    .terminate = worker_terminate,
    .free_state = gv_free,
};

/* ---- a configurable supervisor ------------------------------------------------------------------
 */

/* arg: {Report, Strategy, Intensity, [{Id, Kind, Mode, Restart, ShutdownMs}]}
 * Kind: worker | stubborn | sup (then Mode is the nested child list). */
static const grove_supervisor test_sup;

static grove_restart s_restart(const char *r)
{
    return strcmp(r, "transient") == 0   ? GROVE_TRANSIENT
           : strcmp(r, "temporary") == 0 ? GROVE_TEMPORARY
                                         : GROVE_PERMANENT;
}

static grove_err test_sup_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                               grove_children *children)
{
    grove_pid report;
    char strategy[16];
    int intensity;
    grove_term *list = NULL;
    if (!grove_match(arg, "{~p, ~a, ~i, ~t}", &report, strategy, sizeof strategy, &intensity,
                     &list))
        return GROVE_EBADARG;
    flags->strategy = strcmp(strategy, "one_for_all") == 0    ? GROVE_ONE_FOR_ALL
                      : strcmp(strategy, "rest_for_one") == 0 ? GROVE_REST_FOR_ONE
                                                              : GROVE_ONE_FOR_ONE;
    flags->intensity = intensity;
    flags->period_ms = 10000;
    grove_term *head = NULL, *rest = NULL;
    grove_err err = GROVE_OK;
    while (!err && grove_match(list, "[~t | ~t]", &head, &rest)) {
        char id[32], kind[16], restart[16];
        grove_term *mode = NULL;
        int64_t shutdown;
        if (!grove_match(head, "{~a, ~a, ~t, ~a, ~l}", id, sizeof id, kind, sizeof kind, &mode,
                         restart, sizeof restart, &shutdown))
            err = GROVE_EBADARG;
        grove_child_spec spec = {.id = id, .restart = s_restart(restart), .shutdown_ms = shutdown};
        if (err) {
        } else if (strcmp(kind, "sup") == 0) {
            spec.supervisor = &test_sup;
            spec.arg = grove_pack("{~p, one_for_one, 3, ~t}", report, grove_term_copy(mode));
        } else {
            spec.arg = grove_pack("{~p, ~a, ~t}", report, id, grove_term_copy(mode));
            if (strcmp(kind, "stubborn") == 0)
                spec.behaviour = &stubborn_behaviour;
            else
                spec.gen_server = &worker_server;
        }
        if (!err)
            err = grove_sup_add(children, &spec);
        grove_term_destroy(&mode);
        grove_term_destroy(&head);
        grove_term_destroy(&list);
        list = rest;
        rest = NULL;
    }
    grove_term_destroy(&list);
    return err;
}

static const grove_supervisor test_sup = {.name = "test_sup", .init = test_sup_init};

static grove_pid s_start_sup(grove_node *node, grove_waiter *w, const char *strategy, int intensity,
                             const char *children)
{
    grove_term *list = NULL;
    assert_int_equal(grove_term_parse(children, strlen(children), &list, NULL), GROVE_OK);
    grove_pid sup;
    grove_term *reason = NULL;
    grove_err err = grove_supervisor_start(
        node, &test_sup,
        grove_pack("{~p, ~a, ~i, ~t}", grove_waiter_pid(w), strategy, intensity, list),
        &(grove_start_opts){.reason = &reason}, &sup);
    if (err) {
        char *s = ot_text(reason);
        fail_msg("supervisor start: %s %s", grove_errname(err), s);
    }
    return sup;
}

/* Waits for {init, Id, Pid, _, _} and returns Pid. */
static grove_pid s_expect_init(grove_waiter *w, const char *id)
{
    char pattern[96];
    snprintf(pattern, sizeof pattern, "{init, '%s', _, _, _}", id);
    grove_term *t = ot_expect(w, pattern);
    grove_pid pid;
    assert_true(grove_match(t, "{_, _, ~p, _, _}", &pid));
    grove_term_destroy(&t);
    return pid;
}

/* The next init or terminate event, as "init:a" / "terminate:a". */
static void s_next_event(grove_waiter *w, char *out, size_t cap)
{
    for (;;) {
        grove_term *t = ot_next(w);
        char tag[16], id[32];
        if (grove_match(t, "{~a, ~a, _, _, _}", tag, sizeof tag, id, sizeof id) &&
            (strcmp(tag, "init") == 0 || strcmp(tag, "terminate") == 0)) {
            snprintf(out, cap, "%s:%s", tag, id);
            grove_term_destroy(&t);
            return;
        }
        grove_term_destroy(&t);
    }
}

static void s_expect_events(grove_waiter *w, const char *const *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char got[64];
        s_next_event(w, got, sizeof got);
        if (strcmp(got, events[i]) != 0)
            fail_msg("event %zu: expected %s, got %s", i, events[i], got);
    }
}

#define FOUR                                                               \
    "[{a, worker, plain, permanent, 0}, {b, worker, plain, permanent, 0}," \
    " {c, worker, plain, permanent, 0}, {d, worker, plain, permanent, 0}]"

/* The pid of the child with this id. */
static grove_pid s_child_pid(grove_node *node, grove_pid sup, const char *id)
{
    grove_child_info *kids;
    size_t n;
    assert_int_equal(grove_supervisor_which_children(node, sup, &kids, &n), GROVE_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kids[i].id, id) == 0 && kids[i].running) {
            grove_pid pid = kids[i].pid;
            free(kids);
            return pid;
        }
    }
    free(kids);
    fail_msg("no running child %s", id);
    return (grove_pid){0};
}

static void s_crash(grove_node *node, grove_pid sup, const char *id, const char *reason)
{
    grove_term *r = NULL;
    assert_int_equal(grove_term_parse(reason, strlen(reason), &r, NULL), GROVE_OK);
    grove_cast(node, s_child_pid(node, sup, id), grove_pack("{stop, ~t}", r));
}

static void s_stop_sup(grove_node *node, grove_pid sup)
{
    assert_int_equal(grove_supervisor_stop(node, sup, NULL, OT_TIMEOUT_MS), GROVE_OK);
}

/* ---- strategies
 * ------------------------------------------------------------------------------------- */

static void test_one_for_one_restarts_only_the_crashed_child(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup = s_start_sup(node, w, "one_for_one", 3, FOUR);
    s_expect_events(w, (const char *const[]){"init:a", "init:b", "init:c", "init:d"}, 4);
    grove_pid a = s_child_pid(node, sup, "a"), b = s_child_pid(node, sup, "b");
    s_crash(node, sup, "b", "crash");
    s_expect_events(w, (const char *const[]){"terminate:b", "init:b"}, 2);
    assert_false(grove_pid_equal(s_child_pid(node, sup, "b"), b));
    assert_true(grove_pid_equal(s_child_pid(node, sup, "a"), a));
    ot_expect_none(w, "{_, _, _, _, _}", 100);
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_rest_for_one_restarts_the_crashed_child_and_those_after_it(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup = s_start_sup(node, w, "rest_for_one", 3, FOUR);
    s_expect_events(w, (const char *const[]){"init:a", "init:b", "init:c", "init:d"}, 4);
    grove_pid a = s_child_pid(node, sup, "a");
    s_crash(node, sup, "b", "crash");
    s_expect_events(w,
                    (const char *const[]){"terminate:b", "terminate:d", "terminate:c", "init:b",
                                          "init:c", "init:d"},
                    6);
    ot_expect_none(w, "{_, a, _, _, _}", 100);
    assert_true(grove_pid_equal(s_child_pid(node, sup, "a"), a));
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_one_for_all_restarts_every_child_in_order(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup =
        s_start_sup(node, w, "one_for_all", 3,
                    "[{a, worker, plain, permanent, 0}, {b, worker, plain, permanent, 0},"
                    " {c, worker, plain, permanent, 0}]");
    s_expect_events(w, (const char *const[]){"init:a", "init:b", "init:c"}, 3);
    s_crash(node, sup, "b", "crash");
    s_expect_events(w,
                    (const char *const[]){"terminate:b", "terminate:c", "terminate:a", "init:a",
                                          "init:b", "init:c"},
                    6);
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- restart types and intensity
 * ------------------------------------------------------------------ */

static void test_exceeding_intensity_stops_the_supervisor_and_its_children(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup =
        s_start_sup(node, w, "one_for_one", 2,
                    "[{a, worker, plain, permanent, 0}, {b, worker, plain, permanent, 0}]");
    s_expect_events(w, (const char *const[]){"init:a", "init:b"}, 2);
    grove_ref mon;
    grove_waiter_monitor(w, sup, &mon);
    for (int i = 0; i < 2; i++) { /* two restarts are allowed */
        s_crash(node, sup, "b", "crash");
        s_expect_events(w, (const char *const[]){"terminate:b", "init:b"}, 2);
    }
    s_crash(node, sup, "b", "crash"); /* the third is one too many */
    s_expect_events(w, (const char *const[]){"terminate:b", "terminate:a"}, 2);
    grove_term *t = ot_expect(w, "{'DOWN', _, process, _, _}");
    ot_assert_match(t, "{'DOWN', _, process, _, shutdown}");
    grove_term_destroy(&t);
    ot_expect_none(w, "{init, _, _, _, _}", 100);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_transient_child_restarts_only_after_an_abnormal_exit(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup =
        s_start_sup(node, w, "one_for_one", 10,
                    "[{t, worker, plain, transient, 0}, {u, worker, plain, transient, 0},"
                    " {v, worker, plain, transient, 0}]");
    s_expect_events(w, (const char *const[]){"init:t", "init:u", "init:v"}, 3);
    s_crash(node, sup, "t", "normal");
    s_crash(node, sup, "u", "{shutdown, done}");
    s_crash(node, sup, "v", "crash");
    ot_expect_free(w, "{init, v, _, _, _}");
    ot_expect_none(w, "{init, _, _, _, _}", 150);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(node, sup, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 3); /* transient specs are kept */
    assert_int_equal(counts.active, 1);
    assert_int_equal(counts.workers, 3);
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_temporary_child_never_restarts(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup =
        s_start_sup(node, w, "one_for_one", 10,
                    "[{t, worker, plain, temporary, 0}, {p, worker, plain, permanent, 0}]");
    s_expect_events(w, (const char *const[]){"init:t", "init:p"}, 2);
    s_crash(node, sup, "t", "crash");
    ot_expect_free(w, "{terminate, t, _, crash, _}");
    ot_expect_none(w, "{init, _, _, _, _}", 150);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(node, sup, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 1); /* a temporary child's spec goes with it */
    assert_int_equal(counts.active, 1);
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- start order, shutdown order
 * ------------------------------------------------------------------ */

static void test_each_child_starts_after_the_previous_init_returned(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup =
        s_start_sup(node, w, "one_for_one", 3,
                    "[{a, worker, slow, permanent, 0}, {b, worker, slow, permanent, 0},"
                    " {c, worker, slow, permanent, 0}, {d, worker, slow, permanent, 0}]");
    int64_t prev_end = -1;
    const char *ids[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        char pattern[64];
        snprintf(pattern, sizeof pattern, "{init, %s, _, _, _}", ids[i]);
        grove_term *t = ot_expect(w, pattern);
        int64_t b, e;
        assert_true(grove_match(t, "{_, _, _, ~l, ~l}", &b, &e));
        assert_true(b > prev_end); /* began after the previous one ended */
        prev_end = e;
        grove_term_destroy(&t);
    }
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_shutdown_is_in_reverse_order_and_respects_each_timeout(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup = s_start_sup(node, w, "one_for_one", 3,
                                "[{a, worker, trap, permanent, 0},"      /* default: 5000 */
                                " {b, stubborn, plain, permanent, 100}," /* ignores shutdown */
                                " {c, worker, trap, permanent, -2},"     /* brutal_kill */
                                " {d, worker, trap, permanent, -1}]");   /* infinity */
    s_expect_events(w, (const char *const[]){"init:a", "init:b", "init:c", "init:d"}, 4);
    s_stop_sup(node, sup);
    /* Every report, in the order it arrived. */
    const char *want[] = {"terminate d shutdown", "terminate c killed", "ignored_exit b",
                          "terminate b killed", "terminate a shutdown"};
    /* b's stop (and its timer) begins after c has gone, so after c's
     * terminate: b is killed no sooner than 100 ms after that. */
    uint64_t c_gone = 0;
    for (size_t i = 0; i < 5; i++) {
        grove_term *t = ot_next(w);
        char tag[16], id[8], reason[16] = "", got[64];
        uint64_t at;
        if (grove_match(t, "{~a, ~a, _, ~a, ~u}", tag, sizeof tag, id, sizeof id, reason,
                        sizeof reason, &at)) {
            snprintf(got, sizeof got, "%s %s %s", tag, id, reason);
            if (strcmp(id, "c") == 0)
                c_gone = at;
            if (strcmp(id, "b") == 0) /* killed only after its shutdown time */
                assert_true(at - c_gone >= 100 - OT_TICK_MS);
        } else if (grove_match(t, "{ignored_exit, ~a, _}", id, sizeof id)) {
            snprintf(got, sizeof got, "ignored_exit %s", id);
        } else {
            char *txt = ot_text(t);
            fail_msg("unexpected %s", txt);
        }
        grove_term_destroy(&t);
        if (strcmp(got, want[i]) != 0)
            fail_msg("report %zu: expected %s, got %s", i, want[i], got);
    }
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_shutdown_order_events_arrive_in_reverse(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup = s_start_sup(node, w, "one_for_one", 3, FOUR);
    s_expect_events(w, (const char *const[]){"init:a", "init:b", "init:c", "init:d"}, 4);
    s_stop_sup(node, sup);
    s_expect_events(
        w, (const char *const[]){"terminate:d", "terminate:c", "terminate:b", "terminate:a"}, 4);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- management
 * ------------------------------------------------------------------------------------- */

static void test_terminate_restart_and_delete_child(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup =
        s_start_sup(node, w, "one_for_one", 3,
                    "[{a, worker, plain, permanent, 0}, {b, worker, plain, permanent, 0}]");
    s_expect_events(w, (const char *const[]){"init:a", "init:b"}, 2);
    assert_int_equal(grove_supervisor_terminate_child(node, sup, "a"), GROVE_OK);
    ot_expect_free(w, "{terminate, a, _, shutdown, _}");
    ot_expect_none(w, "{init, a, _, _, _}", 100); /* stopped on purpose: not restarted */
    grove_child_info *kids;
    size_t n;
    assert_int_equal(grove_supervisor_which_children(node, sup, &kids, &n), GROVE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(kids[0].id, "a");
    assert_false(kids[0].running);
    assert_true(kids[1].running);
    assert_false(kids[1].supervisor);
    free(kids);
    assert_int_equal(grove_supervisor_delete_child(node, sup, "b"), GROVE_EEXIST); /* running */
    assert_int_equal(grove_supervisor_restart_child(node, sup, "b", NULL), GROVE_EEXIST);
    assert_int_equal(grove_supervisor_terminate_child(node, sup, "zz"), GROVE_ENOTFOUND);
    grove_pid a;
    assert_int_equal(grove_supervisor_restart_child(node, sup, "a", &a), GROVE_OK);
    assert_true(grove_pid_equal(s_expect_init(w, "a"), a));
    assert_int_equal(grove_supervisor_terminate_child(node, sup, "a"), GROVE_OK);
    assert_int_equal(grove_supervisor_delete_child(node, sup, "a"), GROVE_OK);
    assert_int_equal(grove_supervisor_restart_child(node, sup, "a", NULL), GROVE_ENOTFOUND);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(node, sup, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 1);
    /* start_child adds a spec and starts it; the id must be new. */
    grove_pid c;
    assert_int_equal(
        grove_supervisor_start_child(
            node, sup,
            &(grove_child_spec){.id = "c",
                                .gen_server = &worker_server,
                                .arg = grove_pack("{~p, c, plain}", grove_waiter_pid(w))},
            &c),
        GROVE_OK);
    assert_true(grove_pid_equal(s_expect_init(w, "c"), c));
    assert_int_equal(
        grove_supervisor_start_child(
            node, sup,
            &(grove_child_spec){.id = "c",
                                .gen_server = &worker_server,
                                .arg = grove_pack("{~p, c, plain}", grove_waiter_pid(w))},
            &c),
        GROVE_EEXIST);
    /* A child whose start fails is not kept. */
    assert_int_equal(
        grove_supervisor_start_child(
            node, sup,
            &(grove_child_spec){.id = "f",
                                .gen_server = &worker_server,
                                .arg = grove_pack("{~p, f, fail}", grove_waiter_pid(w))},
            &c),
        GROVE_EBADARG);
    assert_int_equal(grove_supervisor_count_children(node, sup, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 2);
    /* A bad spec is refused before any call. */
    assert_int_equal(grove_supervisor_start_child(
                         node, sup, &(grove_child_spec){.id = "x", .arg = grove_int(1)}, &c),
                     GROVE_EINVAL);
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

static void test_a_failing_child_fails_the_supervisor_start(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_term *list = NULL;
    const char *text = "[{a, worker, plain, permanent, 0}, {b, worker, fail, permanent, 0},"
                       " {c, worker, plain, permanent, 0}]";
    assert_int_equal(grove_term_parse(text, strlen(text), &list, NULL), GROVE_OK);
    grove_pid sup;
    grove_term *reason = NULL;
    assert_int_equal(
        grove_supervisor_start(node, &test_sup,
                               grove_pack("{~p, one_for_one, 3, ~t}", grove_waiter_pid(w), list),
                               &(grove_start_opts){.reason = &reason}, &sup),
        GROVE_ENOPROC);
    ot_assert_match(
        reason, "{shutdown, {failed_to_start_child, <<\"b\">>, {init_failed, 'GROVE_EBADARG'}}}");
    grove_term_destroy(&reason);
    s_expect_events(w, (const char *const[]){"init:a", "terminate:a"}, 2);
    ot_expect_none(w, "{init, c, _, _, _}", 100);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- nesting
 * ------------------------------------------------------------------------------------------ */

static void test_nested_supervisors_restart_and_stop_as_a_tree(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid top = s_start_sup(node, w, "one_for_one", 3,
                                "[{x, worker, plain, permanent, 0},"
                                " {sub, sup, [{y, worker, plain, permanent, 0},"
                                "             {z, worker, plain, permanent, 0}], permanent, 0},"
                                " {w, worker, plain, permanent, 0}]");
    s_expect_events(w, (const char *const[]){"init:x", "init:y", "init:z", "init:w"}, 4);
    grove_child_info *kids;
    size_t n;
    assert_int_equal(grove_supervisor_which_children(node, top, &kids, &n), GROVE_OK);
    assert_int_equal(n, 3);
    assert_true(kids[1].supervisor);
    grove_pid sub = kids[1].pid;
    free(kids);
    /* A crash inside the subtree is the sub-supervisor's business. */
    s_crash(node, sub, "y", "crash");
    s_expect_events(w, (const char *const[]){"terminate:y", "init:y"}, 2);
    /* Killing the sub-supervisor: its children die with it, the top
     * restarts it, and it starts its children again. */
    grove_node_exit(node, sub, grove_atom("kill"));
    ot_expect_free(w, "{terminate, y, _, killed, _}");
    ot_expect_free(w, "{terminate, z, _, killed, _}");
    ot_expect_free(w, "{init, y, _, _, _}");
    ot_expect_free(w, "{init, z, _, _, _}");
    grove_pid sub2 = s_child_pid(node, top, "sub");
    assert_false(grove_pid_equal(sub, sub2));
    /* Stopping the top stops everything, last started first, depth first. */
    s_stop_sup(node, top);
    s_expect_events(
        w, (const char *const[]){"terminate:w", "terminate:z", "terminate:y", "terminate:x"}, 4);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* ---- dynamic supervisors
 * --------------------------------------------------------------------------------- */

static void test_dynamic_supervisor_starts_terminates_and_caps_children(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup;
    assert_int_equal(grove_dynsup_start(node, &(grove_sup_flags){.max_children = 2}, NULL, &sup),
                     GROVE_OK);
    grove_pid p1, p2, p3;
    assert_int_equal(
        grove_dynsup_start_child(
            node, sup,
            &(grove_child_spec){.gen_server = &worker_server,
                                .arg = grove_pack("{~p, one, plain}", grove_waiter_pid(w))},
            &p1),
        GROVE_OK);
    assert_true(grove_pid_equal(s_expect_init(w, "one"), p1));
    assert_int_equal(
        grove_dynsup_start_child(
            node, sup,
            &(grove_child_spec){.gen_server = &worker_server,
                                .arg = grove_pack("{~p, two, plain}", grove_waiter_pid(w))},
            &p2),
        GROVE_OK);
    s_expect_init(w, "two");
    assert_int_equal(
        grove_dynsup_start_child(
            node, sup,
            &(grove_child_spec){.gen_server = &worker_server,
                                .arg = grove_pack("{~p, three, plain}", grove_waiter_pid(w))},
            &p3),
        GROVE_EAGAIN);
    /* A permanent child is restarted. */
    grove_cast(node, p1, grove_pack("{stop, crash}"));
    grove_pid p1b = s_expect_init(w, "one");
    assert_false(grove_pid_equal(p1, p1b));
    /* terminate_child stops it and forgets it. */
    assert_int_equal(grove_dynsup_terminate_child(node, sup, p2), GROVE_OK);
    ot_expect_free(w, "{terminate, two, _, shutdown, _}");
    assert_int_equal(grove_dynsup_terminate_child(node, sup, p2), GROVE_ENOTFOUND);
    grove_child_counts counts;
    assert_int_equal(grove_supervisor_count_children(node, sup, &counts), GROVE_OK);
    assert_int_equal(counts.specs, 1);
    assert_int_equal(counts.active, 1);
    grove_child_info *kids;
    size_t n;
    assert_int_equal(grove_supervisor_which_children(node, sup, &kids, &n), GROVE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(kids[0].id, "");
    assert_true(grove_pid_equal(kids[0].pid, p1b));
    free(kids);
    /* Room again. */
    assert_int_equal(
        grove_dynsup_start_child(
            node, sup,
            &(grove_child_spec){.gen_server = &worker_server,
                                .restart = GROVE_TEMPORARY,
                                .arg = grove_pack("{~p, three, plain}", grove_waiter_pid(w))},
            &p3),
        GROVE_OK);
    s_expect_init(w, "three");
    s_stop_sup(node, sup);
    ot_expect_free(w, "{terminate, three, _, shutdown, _}");
    ot_expect_free(w, "{terminate, one, _, shutdown, _}");
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

/* A supervisor busy starting a slow child sets calls aside and answers them
 * afterwards, in order: none is lost, none overtakes the start. */
static void test_calls_made_while_a_child_starts_are_answered_afterwards(void **state)
{
    grove_node *node = ot_node();
    grove_waiter *w = ot_waiter(node);
    grove_pid sup;
    assert_int_equal(grove_dynsup_start(node, NULL, NULL, &sup), GROVE_OK);
    grove_err err;
    grove_term *spec =
        gv_spec_pack(&(grove_child_spec){.gen_server = &worker_server,
                                         .arg = grove_pack("{~p, s, slow}", grove_waiter_pid(w))},
                     false, &err);
    assert_non_null(spec);
    /* The requests the management calls make, sent back to back. */
    grove_pid me = grove_waiter_pid(w);
    grove_ref r[4];
    const char *req[4] = {NULL, "count_children", "which_children", "count_children"};
    for (int i = 0; i < 4; i++) {
        r[i] = grove_node_make_ref(node);
        grove_term *q = i == 0 ? grove_pack("{start_child, ~t}", spec) : grove_atom(req[i]);
        grove_send(node, sup, grove_pack("{'$gen_call', {~p, ~r}, ~t}", me, r[i], q));
    }
    grove_term *t = ot_next(w);
    ot_assert_match(t, "{init, s, _, _, _}"); /* the start completes first */
    grove_term_destroy(&t);
    for (int i = 0; i < 4; i++) {
        t = ot_next(w);
        grove_ref got;
        assert_true(grove_match(t, "{~r, _}", &got));
        assert_true(grove_ref_equal(&got, &r[i]));
        if (i == 0)
            ot_assert_match(t, "{_, {ok, _}}");
        if (i == 1 || i == 3)
            ot_assert_match(t, "{_, #{active => 1}}");
        grove_term_destroy(&t);
    }
    s_stop_sup(node, sup);
    grove_waiter_destroy(&w);
    grove_node_stop(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_for_one_restarts_only_the_crashed_child),
        cmocka_unit_test(test_rest_for_one_restarts_the_crashed_child_and_those_after_it),
        cmocka_unit_test(test_one_for_all_restarts_every_child_in_order),
        cmocka_unit_test(test_exceeding_intensity_stops_the_supervisor_and_its_children),
        cmocka_unit_test(test_transient_child_restarts_only_after_an_abnormal_exit),
        cmocka_unit_test(test_temporary_child_never_restarts),
        cmocka_unit_test(test_each_child_starts_after_the_previous_init_returned),
        cmocka_unit_test(test_shutdown_is_in_reverse_order_and_respects_each_timeout),
        cmocka_unit_test(test_shutdown_order_events_arrive_in_reverse),
        cmocka_unit_test(test_terminate_restart_and_delete_child),
        cmocka_unit_test(test_a_failing_child_fails_the_supervisor_start),
        cmocka_unit_test(test_nested_supervisors_restart_and_stop_as_a_tree),
        cmocka_unit_test(test_dynamic_supervisor_starts_terminates_and_caps_children),
        cmocka_unit_test(test_calls_made_while_a_child_starts_are_answered_afterwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
