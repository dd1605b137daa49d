/*
 * queue_test.c - the transport's MPSC queue (transport/tp_queue.h): every
 * node pushed comes out once, in each producer's order, with producers
 * racing the consumer. The producers record nothing; this thread checks.
 */
#include "base/gv_alloc.h"
#include "base/gv_thread.h"
#include "transport/tp_queue.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

typedef struct item {
    gv_tp_qnode q; /* first: the queue hands back this pointer */
    uint32_t producer;
    uint32_t seq;
} item;

enum { PRODUCERS = 4, PER_PRODUCER = 100000 };

typedef struct prod_arg {
    gv_tp_queue *q;
    uint32_t id;
} prod_arg;

static void *s_produce(void *p)
{
    prod_arg *a = p;
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        item *it = gv_malloc(sizeof *it);
        it->producer = a->id;
        it->seq = i;
        gv_tp_queue_push(a->q, &it->q);
    }
    return NULL;
}

static void test_empty_queue_pops_nothing(void **state)
{
    (void)state;
    gv_tp_queue q;
    gv_tp_queue_init(&q);
    bool busy = true;
    assert_null(gv_tp_queue_pop(&q, &busy));
    assert_false(busy);
    assert_true(gv_tp_queue_empty(&q));
    item a = {.seq = 1}, b = {.seq = 2};
    gv_tp_queue_push(&q, &a.q);
    assert_false(gv_tp_queue_empty(&q));
    gv_tp_queue_push(&q, &b.q);
    assert_ptr_equal(gv_tp_queue_pop(&q, &busy), &a.q);
    assert_ptr_equal(gv_tp_queue_pop(&q, &busy), &b.q);
    assert_null(gv_tp_queue_pop(&q, &busy));
    assert_false(busy);
    assert_true(gv_tp_queue_empty(&q));
    /* and again after it emptied (the stub goes round) */
    gv_tp_queue_push(&q, &a.q);
    assert_ptr_equal(gv_tp_queue_pop(&q, &busy), &a.q);
    assert_true(gv_tp_queue_empty(&q));
}

static void test_racing_producers_keep_their_order(void **state)
{
    (void)state;
    gv_tp_queue q;
    gv_tp_queue_init(&q);
    gv_thread t[PRODUCERS];
    prod_arg args[PRODUCERS];
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        args[i] = (prod_arg){&q, i};
        assert_true(gv_thread_start(&t[i], "producer", s_produce, &args[i]));
    }
    uint32_t next[PRODUCERS] = {0};
    uint64_t total = 0, out_of_order = 0;
    while (total < (uint64_t)PRODUCERS * PER_PRODUCER) {
        bool busy;
        item *it = (item *)gv_tp_queue_pop(&q, &busy);
        if (!it) {
            gv_thread_yield();
            continue;
        }
        if (it->seq != next[it->producer])
            out_of_order++;
        next[it->producer] = it->seq + 1;
        total++;
        gv_free(it);
    }
    for (int i = 0; i < PRODUCERS; i++)
        gv_thread_join(&t[i]);
    bool busy;
    assert_null(gv_tp_queue_pop(&q, &busy));
    assert_true(gv_tp_queue_empty(&q));
    assert_int_equal(out_of_order, 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(next[i], PER_PRODUCER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_queue_pops_nothing),
        cmocka_unit_test(test_racing_producers_keep_their_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
