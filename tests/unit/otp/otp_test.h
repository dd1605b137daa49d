/*
 * otp_test.h - helpers for the OTP tests.
 *
 * Processes report what they see as messages to a waiter owned by the test
 * thread, which does all the asserting (cmocka asserts only from the
 * test's own thread).
 */
#ifndef OTP_TEST_H
#define OTP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grove/grove.h>

#include "base/gv_alloc.h"
#include "base/gv_clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wunused-function"

/* Generous: a timeout only catches a hang, it never measures speed. */
#define OT_TIMEOUT_MS 20000

/* Timers count whole milliseconds of the node's clock, so one can fire up
 * to a millisecond before its time in real terms: lower bounds on
 * timer-driven durations allow for that tick. */
#define OT_TICK_MS 1

static grove_node *ot_node(void)
{
    grove_node *node = grove_node_start(&(grove_node_opts){.schedulers = 2});
    assert_non_null(node);
    return node;
}

static grove_waiter *ot_waiter(grove_node *node)
{
    grove_waiter *w = NULL;
    assert_int_equal(grove_waiter_new(node, &w), GROVE_OK);
    return w;
}

static char *ot_text(const grove_term *t)
{
    return t ? grove_term_format(t) : strdup("NULL");
}

/* Waits for a message matching pattern; fails the test on timeout. */
static grove_term *ot_expect(grove_waiter *w, const char *pattern)
{
    grove_term *t = NULL;
    grove_err err = grove_waiter_recv_match(w, pattern, OT_TIMEOUT_MS, &t);
    if (err != GROVE_OK)
        fail_msg("no message matching %s: %s", pattern, grove_errname(err));
    return t;
}

static void ot_expect_free(grove_waiter *w, const char *pattern)
{
    grove_term *t = ot_expect(w, pattern);
    grove_term_destroy(&t);
}

/* Asserts that nothing matching pattern arrives within ms. */
static void ot_expect_none(grove_waiter *w, const char *pattern, int64_t ms)
{
    grove_term *t = NULL;
    if (grove_waiter_recv_match(w, pattern, ms, &t) == GROVE_OK) {
        char *s = ot_text(t);
        grove_term_destroy(&t);
        fail_msg("unexpected message %s (pattern %s)", s, pattern);
    }
}

/* The next message whatever it is (fails on timeout). */
static grove_term *ot_next(grove_waiter *w)
{
    grove_term *t = NULL;
    grove_err err = grove_waiter_recv(w, OT_TIMEOUT_MS, &t);
    if (err != GROVE_OK)
        fail_msg("no message: %s", grove_errname(err));
    return t;
}

static void ot_assert_match(const grove_term *t, const char *pattern)
{
    if (!grove_match(t, pattern)) {
        char *s = ot_text(t);
        fail_msg("%s does not match %s", s, pattern);
    }
}

/* Waits for the DOWN of the monitor ref; returns the reason (caller owns). */
static grove_term *ot_wait_down_ref(grove_waiter *w, grove_ref ref)
{
    for (;;) {
        grove_term *t = ot_expect(w, "{'DOWN', _, process, _, _}");
        grove_ref r;
        grove_term *reason = NULL;
        assert_true(grove_match(t, "{'DOWN', ~r, process, _, ~t}", &r, &reason));
        grove_term_destroy(&t);
        if (grove_ref_equal(&r, &ref))
            return reason;
        grove_term_destroy(&reason);
    }
}

/* Waits until the process exits; returns its reason (caller owns), which
 * is noproc if it was already gone. */
static grove_term *ot_wait_down(grove_waiter *w, grove_pid pid)
{
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(w, pid, &ref), GROVE_OK);
    return ot_wait_down_ref(w, ref);
}

static bool ot_alive(grove_node *node, grove_pid pid)
{
    grove_proc_info info;
    return grove_proc_info_get(node, pid, &info) == GROVE_OK && info.status != GROVE_PROC_EXITING;
}

/* Polls an atomic flag until it is set; fails after the timeout. */
static void ot_wait_flag(_Atomic int *flag, int value)
{
    uint64_t end = gv_now_ms() + OT_TIMEOUT_MS;
    while (atomic_load(flag) != value) {
        if (gv_now_ms() > end)
            fail_msg("flag never reached %d (is %d)", value, atomic_load(flag));
        gv_sleep_ms(1);
    }
}

#endif
