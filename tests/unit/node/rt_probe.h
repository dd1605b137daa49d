/*
 * rt_probe.h - a scriptable test process and helpers for runtime tests.
 *
 * The probe runs commands sent as messages and reports what it sees to a
 * waiter owned by the test thread, which does all the asserting (cmocka
 * asserts only from the test's own thread).
 *
 *   {link, Pid} {unlink, Pid} {monitor, Pid} {demonitor, Ref}
 *   {exit, Pid, Reason} {stop, Reason} {send, Pid, Msg} {trap, true|false}
 *   spawn_link          -> {spawned, Child}
 *   ping                -> {pong, Self}
 *   anything else       -> {got, Self, Msg}
 *   on exit             -> {terminated, Self, Reason}
 */
#ifndef RT_PROBE_H
#define RT_PROBE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include "base/gv_alloc.h"
#include "base/gv_clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each test file uses some of the helpers below. */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct probe_state {
    grove_pid report;
} probe_state;

static const grove_behaviour probe_behaviour;

static void probe_report(grove_proc *self, probe_state *st, grove_term *t)
{
    grove_send(self, st->report, t);
}

static grove_err probe_init(grove_proc *self, const grove_term *arg, void **state)
{
    probe_state *st = gv_calloc(1, sizeof *st);
    if (!grove_match(arg, "~p", &st->report)) {
        gv_free(st);
        return GROVE_EBADARG;
    }
    *state = st;
    return GROVE_OK;
}

static grove_ret probe_handle(grove_proc *self, const grove_term *msg, void *state)
{
    probe_state *st = state;
    grove_pid pid;
    grove_ref ref;
    grove_term *t = NULL;
    if (grove_match(msg, "{link, ~p}", &pid)) {
        grove_link(self, pid);
    } else if (grove_match(msg, "{unlink, ~p}", &pid)) {
        grove_unlink(self, pid);
    } else if (grove_match(msg, "{monitor, ~p}", &pid)) {
        grove_monitor(self, pid, &ref);
        probe_report(self, st, grove_pack("{monitoring, ~r}", ref));
    } else if (grove_match(msg, "{demonitor, ~r}", &ref)) {
        grove_demonitor(self, ref, true);
    } else if (grove_match(msg, "{exit, ~p, ~t}", &pid, &t)) {
        grove_exit(self, pid, t);
    } else if (grove_match(msg, "{stop, ~t}", &t)) {
        return grove_stop(self, t);
    } else if (grove_match(msg, "{send, ~p, ~t}", &pid, &t)) {
        grove_send(self, pid, t);
    } else if (grove_match(msg, "{trap, true}")) {
        grove_trap_exit(self, true);
    } else if (grove_match(msg, "{trap, false}")) {
        grove_trap_exit(self, false);
    } else if (grove_match(msg, "spawn_link")) {
        grove_pid child;
        grove_spawn(self, &probe_behaviour, grove_pack("~p", st->report),
                    &(grove_spawn_opts){.link = true}, &child);
        probe_report(self, st, grove_pack("{spawned, ~p}", child));
    } else if (grove_match(msg, "ping")) {
        probe_report(self, st, grove_pack("{pong, ~p}", grove_self(self)));
    } else {
        probe_report(self, st, grove_pack("{got, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    }
    return GROVE_CONTINUE;
}

static void probe_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    probe_state *st = state;
    probe_report(self, st,
                 grove_pack("{terminated, ~p, ~t}", grove_self(self), grove_term_copy(reason)));
}

static const grove_behaviour probe_behaviour = {
    .name = "probe",
    .init = probe_init,
    .handle = probe_handle,
    .terminate = probe_terminate,
    .free_state = gv_free,
};

/* ---- test-thread helpers --------------------------------------------------- */

#define RT_TIMEOUT_MS 10000

/* The deterministic seed of the current run (0: not deterministic),
 * printed with every failure so the run can be replayed. */
static uint64_t rt_seed;

static grove_pid rt_spawn_probe(grove_node *node, grove_waiter *w, bool trap)
{
    grove_pid pid;
    assert_int_equal(grove_spawn(node, &probe_behaviour, grove_pack("~p", grove_waiter_pid(w)),
                                 &(grove_spawn_opts){.trap_exit = trap}, &pid),
                     GROVE_OK);
    return pid;
}

/* Waits for a message matching pattern; fails the test on timeout. */
static grove_term *rt_expect(grove_waiter *w, const char *pattern)
{
    grove_term *t = NULL;
    grove_err err = grove_waiter_recv_match(w, pattern, RT_TIMEOUT_MS, &t);
    if (err != GROVE_OK)
        fail_msg("no message matching %s: %s (seed %llu)", pattern, grove_errname(err),
                 (unsigned long long)rt_seed);
    return t;
}

static void rt_expect_free(grove_waiter *w, const char *pattern)
{
    grove_term *t = rt_expect(w, pattern);
    grove_term_destroy(&t);
}

/* Asserts that nothing matching pattern arrives within ms. */
static void rt_expect_none(grove_waiter *w, const char *pattern, int64_t ms)
{
    grove_term *t = NULL;
    grove_err err = grove_waiter_recv_match(w, pattern, ms, &t);
    if (err == GROVE_OK) {
        char *s = grove_term_format(t);
        grove_term_destroy(&t);
        fail_msg("unexpected message %s (seed %llu)", s, (unsigned long long)rt_seed);
    }
}

/* Round trip: when {pong, Pid} is back, every signal sent to pid before
 * the ping has been handled. */
static void rt_sync(grove_node *node, grove_waiter *w, grove_pid pid)
{
    grove_send(node, pid, grove_atom("ping"));
    grove_term *t = NULL;
    for (;;) {
        assert_int_equal(grove_waiter_recv_match(w, "{pong, _}", RT_TIMEOUT_MS, &t), GROVE_OK);
        grove_pid from;
        assert_true(grove_match(t, "{pong, ~p}", &from));
        grove_term_destroy(&t);
        if (grove_pid_equal(from, pid))
            return;
    }
}

/* A node for the test: deterministic when seed != 0. */
static grove_node *rt_node(uint64_t seed)
{
    grove_node_opts o = {.schedulers = 2};
    if (seed) {
        o.deterministic = true;
        o.seed = seed;
    }
    grove_node *node = grove_node_start(&o);
    assert_non_null(node);
    rt_seed = grove_node_seed(node);
    return node;
}

#endif

/* ---- selecting reports by tag and pid ---------------------------------------- */

typedef struct rt_sel {
    const char *tag;
    grove_pid pid;
} rt_sel;

static bool rt_select_tag_pid(const grove_term *t, void *arg)
{
    rt_sel *s = arg;
    char tag[64];
    grove_pid pid;
    return grove_match(t, "{~a, ~p, _}", tag, sizeof tag, &pid) && strcmp(tag, s->tag) == 0 &&
           grove_pid_equal(pid, s->pid);
}

/* Waits for {Tag, Pid, X} and returns X (caller owns). */
static grove_term *rt_expect_tag(grove_waiter *w, const char *tag, grove_pid pid)
{
    rt_sel s = {tag, pid};
    grove_term *t = NULL;
    grove_err err = grove_waiter_recv_select(w, rt_select_tag_pid, &s, RT_TIMEOUT_MS, &t);
    if (err != GROVE_OK)
        fail_msg("no {%s, <%u.%u>, _}: %s (seed %llu)", tag, pid.id, pid.serial, grove_errname(err),
                 (unsigned long long)rt_seed);
    grove_term *x = NULL;
    assert_true(grove_match(t, "{_, _, ~t}", &x));
    grove_term_destroy(&t);
    return x;
}

/* Asserts that {Tag, Pid, _} does not arrive within ms. */
static void rt_expect_no_tag(grove_waiter *w, const char *tag, grove_pid pid, int64_t ms)
{
    rt_sel s = {tag, pid};
    grove_term *t = NULL;
    if (grove_waiter_recv_select(w, rt_select_tag_pid, &s, ms, &t) == GROVE_OK) {
        char *txt = grove_term_format(t);
        grove_term_destroy(&t);
        fail_msg("unexpected %s (seed %llu)", txt, (unsigned long long)rt_seed);
    }
}

/* Asserts that the term matches pattern, printing it when it does not. */
static void rt_assert_match(grove_term *t, const char *pattern)
{
    if (!grove_match(t, pattern)) {
        char *txt = grove_term_format(t);
        fail_msg("%s does not match %s (seed %llu)", txt ? txt : "NULL", pattern,
                 (unsigned long long)rt_seed);
    }
}

static void rt_expect_terminated(grove_waiter *w, grove_pid pid, const char *reason_pattern)
{
    grove_term *r = rt_expect_tag(w, "terminated", pid);
    rt_assert_match(r, reason_pattern);
    grove_term_destroy(&r);
}

/* Seeds for deterministic runs: GROVE_TEST_SEEDS (default n). */
static unsigned rt_seed_count(unsigned n)
{
    const char *v = getenv("GROVE_TEST_SEEDS");
    return v && atoi(v) > 0 ? (unsigned)atoi(v) : n;
}
