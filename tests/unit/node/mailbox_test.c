/* The in-queue (lock-free MPSC with "was idle"), the private queues, the
 * run queues and the timing wheel, tested directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/gv_alloc.h"
#include "base/gv_thread.h"
#include "node/mailbox.h"
#include "node/proc.h"
#include "node/runq.h"
#include "node/wheel.h"

#include <string.h>

typedef struct item {
    gv_sig hdr;
    uint32_t producer;
    uint32_t seq;
} item;

static item *s_item(uint32_t producer, uint32_t seq)
{
    item *it = gv_calloc(1, sizeof *it);
    it->producer = producer;
    it->seq = seq;
    return it;
}

static void test_push_to_idle_mailbox_reports_was_idle_once(void **state)
{
    (void)state;
    gv_mailbox mb;
    gv_sig *tail;
    gv_mbox_init(&mb, &tail);
    assert_true(gv_mbox_empty(&mb, tail));
    assert_null(gv_mbox_pop(&mb, &tail));
    assert_true(gv_mbox_try_idle(&mb, tail)); /* owner goes idle */
    item *a = s_item(0, 1), *b = s_item(0, 2);
    assert_true(gv_mbox_push(&mb, &a->hdr));  /* the one that schedules */
    assert_false(gv_mbox_push(&mb, &b->hdr)); /* already scheduled */
    assert_ptr_equal(gv_mbox_pop(&mb, &tail), &a->hdr);
    assert_ptr_equal(gv_mbox_pop(&mb, &tail), &b->hdr);
    assert_null(gv_mbox_pop(&mb, &tail));
    assert_true(gv_mbox_try_idle(&mb, tail));
    gv_free(a);
    gv_free(b);
}

static void test_push_to_running_mailbox_does_not_schedule_and_blocks_idle(void **state)
{
    (void)state;
    gv_mailbox mb;
    gv_sig *tail;
    gv_mbox_init(&mb, &tail); /* a new mailbox is "running" */
    item *a = s_item(0, 1);
    assert_false(gv_mbox_push(&mb, &a->hdr));
    assert_false(gv_mbox_try_idle(&mb, tail)); /* cannot idle with work queued */
    assert_ptr_equal(gv_mbox_pop(&mb, &tail), &a->hdr);
    /* a popped node is free to be relinked: the queue no longer holds it */
    gv_sigq q;
    gv_sigq_init(&q);
    gv_sigq_put(&q, &a->hdr);
    assert_true(gv_mbox_empty(&mb, tail));
    assert_true(gv_mbox_try_idle(&mb, tail));
    assert_ptr_equal(gv_sigq_take(&q), &a->hdr);
    gv_free(a);
}

#define PRODUCERS 4
#define PER_PRODUCER 50000

typedef struct mpsc_ctx {
    gv_mailbox mb;
    _Atomic uint32_t schedules;
    _Atomic int go;
} mpsc_ctx;

typedef struct prod_arg {
    mpsc_ctx *ctx;
    uint32_t id;
} prod_arg;

static void *s_producer(void *arg)
{
    prod_arg *pa = arg;
    while (!atomic_load_explicit(&pa->ctx->go, memory_order_acquire)) {
    }
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        item *it = s_item(pa->id, i);
        if (gv_mbox_push(&pa->ctx->mb, &it->hdr))
            atomic_fetch_add_explicit(&pa->ctx->schedules, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_four_producers_keep_per_producer_order_and_schedule_once_per_idle(void **state)
{
    (void)state;
    mpsc_ctx ctx;
    gv_sig *tail;
    gv_mbox_init(&ctx.mb, &tail);
    atomic_init(&ctx.schedules, 0);
    atomic_init(&ctx.go, 0);
    gv_thread th[PRODUCERS];
    prod_arg args[PRODUCERS];
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        args[i] = (prod_arg){&ctx, i};
        assert_true(gv_thread_start(&th[i], "producer", s_producer, &args[i]));
    }
    uint32_t next[PRODUCERS] = {0};
    uint32_t got = 0, idles = 0, bad_order = 0;
    bool idle = false;
    atomic_store_explicit(&ctx.go, 1, memory_order_release);
    while (got < PRODUCERS * PER_PRODUCER) {
        gv_sig *s = gv_mbox_pop(&ctx.mb, &tail);
        if (!s) {
            /* Go idle now and then, as a process does; a producer's push
             * then reports it, and we "get scheduled" again. */
            if (!idle && gv_mbox_try_idle(&ctx.mb, tail)) {
                idle = true;
                idles++;
            }
            if (idle && !gv_mbox_is_idle(&ctx.mb))
                idle = false;
            continue;
        }
        item *it = (item *)s;
        if (it->seq != next[it->producer])
            bad_order++;
        next[it->producer] = it->seq + 1;
        got++;
        gv_free(it);
    }
    for (uint32_t i = 0; i < PRODUCERS; i++)
        gv_thread_join(&th[i]);
    assert_int_equal(bad_order, 0);
    for (uint32_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(next[i], PER_PRODUCER);
    /* every time we went idle exactly one push saw it (the last idle may
     * still be pending if no push came after it) */
    uint32_t sched = atomic_load_explicit(&ctx.schedules, memory_order_relaxed);
    assert_true(sched == idles || sched + 1 == idles);
    assert_null(gv_mbox_pop(&ctx.mb, &tail));
}

static void test_unstash_puts_messages_back_in_front_in_order(void **state)
{
    (void)state;
    gv_sigq q, stash;
    gv_sigq_init(&q);
    gv_sigq_init(&stash);
    item *it[5];
    for (uint32_t i = 0; i < 5; i++)
        it[i] = s_item(0, i);
    gv_sigq_put(&stash, &it[0]->hdr);
    gv_sigq_put(&stash, &it[1]->hdr);
    gv_sigq_put(&q, &it[2]->hdr);
    gv_sigq_put(&q, &it[3]->hdr);
    gv_sigq_prepend(&q, &stash);
    gv_sigq_put(&q, &it[4]->hdr);
    assert_int_equal(q.len, 5);
    assert_null(stash.first);
    for (uint32_t i = 0; i < 5; i++) {
        item *x = (item *)gv_sigq_take(&q);
        assert_int_equal(x->seq, i);
        gv_free(x);
    }
    assert_null(gv_sigq_take(&q));
}

/* ---- run queues ------------------------------------------------------------ */

static void test_runq_is_fifo_and_overflows_half_into_injection_queue(void **state)
{
    (void)state;
    gv_runq *q = gv_calloc(1, sizeof *q);
    gv_runq_init(q);
    gv_inject inj;
    gv_inject_init(&inj);
    grove_proc *procs = gv_calloc(GV_RUNQ_CAP + 1, sizeof(grove_proc));
    for (uint32_t i = 0; i < GV_RUNQ_CAP; i++)
        gv_runq_push(q, &procs[i], &inj);
    assert_int_equal(gv_runq_len(q), GV_RUNQ_CAP);
    assert_true(gv_inject_empty(&inj));
    gv_runq_push(q, &procs[GV_RUNQ_CAP], &inj); /* full: half + the new one move */
    assert_int_equal(gv_runq_len(q), GV_RUNQ_CAP / 2);
    assert_int_equal(atomic_load(&inj.len), GV_RUNQ_CAP / 2 + 1);
    for (uint32_t i = 0; i < GV_RUNQ_CAP / 2; i++)
        assert_ptr_equal(gv_inject_pop(&inj), &procs[i]);
    assert_ptr_equal(gv_inject_pop(&inj), &procs[GV_RUNQ_CAP]);
    for (uint32_t i = GV_RUNQ_CAP / 2; i < GV_RUNQ_CAP; i++)
        assert_ptr_equal(gv_runq_pop(q), &procs[i]);
    assert_null(gv_runq_pop(q));
    gv_free(procs);
    gv_inject_fini(&inj);
    gv_free(q);
}

static void test_thief_takes_half(void **state)
{
    (void)state;
    gv_runq *a = gv_calloc(1, sizeof *a), *b = gv_calloc(1, sizeof *b);
    gv_runq_init(a);
    gv_runq_init(b);
    gv_inject inj;
    gv_inject_init(&inj);
    grove_proc *procs = gv_calloc(10, sizeof(grove_proc));
    for (uint32_t i = 0; i < 10; i++)
        gv_runq_push(a, &procs[i], &inj);
    grove_proc *got = gv_runq_steal(a, b);
    assert_non_null(got);
    assert_int_equal(gv_runq_len(a), 5);
    assert_int_equal(gv_runq_len(b), 4); /* 5 taken, one returned to run */
    assert_ptr_equal(got, &procs[4]);
    assert_ptr_equal(gv_runq_pop(a), &procs[5]);
    assert_ptr_equal(gv_runq_pop(b), &procs[0]);
    gv_free(procs);
    gv_inject_fini(&inj);
    gv_free(a);
    gv_free(b);
}

#define STEAL_TOTAL 50000

typedef struct steal_ctx {
    gv_runq *q;
    gv_runq *mine;
    grove_proc *procs;
    _Atomic int done;
    uint32_t got;
    uint8_t *seen;
} steal_ctx;

static void *s_thief(void *arg)
{
    steal_ctx *c = arg;
    for (;;) {
        bool done = atomic_load_explicit(&c->done, memory_order_acquire);
        grove_proc *p = gv_runq_steal(c->q, c->mine);
        if (!p && done)
            break;
        while (p) {
            c->seen[p - c->procs]++;
            c->got++;
            p = gv_runq_pop(c->mine);
        }
    }
    return NULL;
}

static void test_owner_and_thief_together_see_every_entry_once(void **state)
{
    (void)state;
    gv_runq *q = gv_calloc(1, sizeof *q), *tq = gv_calloc(1, sizeof *tq);
    gv_runq_init(q);
    gv_runq_init(tq);
    gv_inject inj;
    gv_inject_init(&inj);
    grove_proc *procs = gv_calloc(STEAL_TOTAL, sizeof *procs);
    uint8_t *seen_owner = gv_calloc(STEAL_TOTAL, 1);
    steal_ctx c = {.q = q, .mine = tq, .procs = procs, .seen = gv_calloc(STEAL_TOTAL, 1)};
    atomic_init(&c.done, 0);
    gv_thread th;
    assert_true(gv_thread_start(&th, "thief", s_thief, &c));
    uint32_t owner_got = 0;
    for (uint32_t i = 0; i < STEAL_TOTAL; i++) {
        gv_runq_push(q, &procs[i], &inj);
        if (i % 3 == 0) {
            grove_proc *p = gv_runq_pop(q);
            if (p) {
                seen_owner[p - procs]++;
                owner_got++;
            }
        }
    }
    grove_proc *p;
    while ((p = gv_runq_pop(q))) {
        seen_owner[p - procs]++;
        owner_got++;
    }
    atomic_store_explicit(&c.done, 1, memory_order_release);
    gv_thread_join(&th);
    while ((p = gv_inject_pop(&inj))) { /* overflow, if the thief lagged */
        seen_owner[p - procs]++;
        owner_got++;
    }
    for (uint32_t i = 0; i < STEAL_TOTAL; i++)
        assert_int_equal(seen_owner[i] + c.seen[i], 1);
    assert_int_equal(owner_got + c.got, STEAL_TOTAL);
    gv_free(procs);
    gv_free(seen_owner);
    gv_free(c.seen);
    gv_inject_fini(&inj);
    gv_free(q);
    gv_free(tq);
}

/* ---- timing wheel ------------------------------------------------------------- */

typedef struct fired {
    uint64_t at[64];
    uintptr_t what[64];
    unsigned n;
    uint64_t now;
} fired;

static void s_fire(void *payload, void *arg)
{
    fired *f = arg;
    f->at[f->n] = f->now;
    f->what[f->n++] = (uintptr_t)payload;
}

static void test_wheel_fires_in_deadline_order_across_levels(void **state)
{
    (void)state;
    gv_wheel w;
    gv_wheel_init(&w, 1000);
    uint64_t deadlines[] = {1000 + 5, 1000 + 70, 1000 + 5000, 1000 + 300000,
                            1000 + 1, 1000 + 64, 1000 + 4096, 1000 + 5};
    for (uintptr_t i = 0; i < 8; i++)
        gv_wheel_insert(&w, deadlines[i], (void *)(i + 1));
    fired f = {.n = 0};
    for (uint64_t t = 1000; t <= 1000 + 300000 && f.n < 8; t += 1) {
        f.now = t;
        gv_wheel_advance(&w, t, s_fire, &f);
    }
    assert_int_equal(f.n, 8);
    for (unsigned i = 0; i < f.n; i++)
        assert_int_equal(f.at[i], deadlines[f.what[i] - 1]); /* fired exactly on time */
    for (unsigned i = 1; i < f.n; i++)
        assert_true(f.at[i - 1] <= f.at[i]);
    assert_int_equal(f.what[1], 1); /* equal deadlines: insertion order */
    assert_int_equal(f.what[2], 8);
    assert_int_equal(w.count, 0);
    gv_wheel_fini(&w, NULL);
}

static void test_wheel_jumps_far_ahead_and_cancel_is_exact(void **state)
{
    (void)state;
    gv_wheel w;
    gv_wheel_init(&w, 0);
    uint64_t h1 = gv_wheel_insert(&w, 10, (void *)1);
    uint64_t h2 = gv_wheel_insert(&w, 100000, (void *)2);
    uint64_t h3 = gv_wheel_insert(&w, 100000, (void *)3);
    assert_int_equal(gv_wheel_next(&w), 10);
    assert_ptr_equal(gv_wheel_cancel(&w, h1), (void *)1);
    assert_null(gv_wheel_cancel(&w, h1)); /* stale */
    assert_ptr_equal(gv_wheel_cancel(&w, h3), (void *)3);
    fired f = {.n = 0, .now = 99999};
    gv_wheel_advance(&w, 99999, s_fire, &f);
    assert_int_equal(f.n, 0);
    f.now = 250000;
    gv_wheel_advance(&w, 250000, s_fire, &f); /* one big jump */
    assert_int_equal(f.n, 1);
    assert_int_equal(f.what[0], 2);
    assert_null(gv_wheel_cancel(&w, h2));
    assert_int_equal(gv_wheel_next(&w), GV_WHEEL_NONE);
    uint64_t h4 = gv_wheel_insert(&w, 5, (void *)4); /* in the past: due now */
    f.now = 250000;
    gv_wheel_advance(&w, 250000, s_fire, &f);
    assert_int_equal(f.n, 2);
    assert_null(gv_wheel_cancel(&w, h4));
    gv_wheel_fini(&w, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_to_idle_mailbox_reports_was_idle_once),
        cmocka_unit_test(test_push_to_running_mailbox_does_not_schedule_and_blocks_idle),
        cmocka_unit_test(test_four_producers_keep_per_producer_order_and_schedule_once_per_idle),
        cmocka_unit_test(test_unstash_puts_messages_back_in_front_in_order),
        cmocka_unit_test(test_runq_is_fifo_and_overflows_half_into_injection_queue),
        cmocka_unit_test(test_thief_takes_half),
        cmocka_unit_test(test_owner_and_thief_together_see_every_entry_once),
        cmocka_unit_test(test_wheel_fires_in_deadline_order_across_levels),
        cmocka_unit_test(test_wheel_jumps_far_ahead_and_cancel_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
