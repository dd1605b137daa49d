#include "transport/tp_queue.h"

#include <stddef.h>

void gv_tp_queue_init(gv_tp_queue *q)
{
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head, &q->stub, memory_order_relaxed);
    q->tail = &q->stub;
}

void gv_tp_queue_push(gv_tp_queue *q, gv_tp_qnode *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* seq_cst: the exchange publishes n's contents (release, paired with
     * the consumer's acquire load of prev->next) and takes part in the
     * store/load ordering with the I/O thread's sleeping flag (tp_io.c). */
    gv_tp_qnode *prev = atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
    /* Pairs with the acquire loads of ->next in gv_tp_queue_pop. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

gv_tp_qnode *gv_tp_queue_pop(gv_tp_queue *q, bool *busy)
{
    *busy = false;
    gv_tp_qnode *tail = q->tail;
    gv_tp_qnode *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next) {
            /* Empty, or a push has swapped the head but not linked yet. */
            *busy = atomic_load_explicit(&q->head, memory_order_acquire) != &q->stub;
            return NULL;
        }
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    /* tail is the last linked node. If it is also the head, put the stub
     * behind it so tail can be handed out; otherwise a push is half done. */
    gv_tp_qnode *head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail != head) {
        *busy = true;
        return NULL;
    }
    gv_tp_queue_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    *busy = true;
    return NULL;
}

bool gv_tp_queue_empty(gv_tp_queue *q)
{
    return q->tail == &q->stub && atomic_load_explicit(&q->head, memory_order_seq_cst) == &q->stub;
}
