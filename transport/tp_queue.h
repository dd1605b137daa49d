/*
 * tp_queue.h - an intrusive multi-producer, single-consumer queue (Dmitry
 * Vyukov's non-blocking design): any thread pushes with one atomic
 * exchange, one consumer pops. Carries outbound envelopes from workers to
 * the transport's I/O thread.
 *
 * A push is two steps (swap the head, then link the old head to the new
 * node); between them the consumer sees the queue as "busy": not empty,
 * but the next node not linked yet. gv_tp_queue_pop then returns NULL and
 * sets *busy, and the consumer simply tries again (the producer is one
 * store away from finishing).
 */
#ifndef GV_TP_QUEUE_H
#define GV_TP_QUEUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct gv_tp_qnode {
    _Atomic(struct gv_tp_qnode *) next;
} gv_tp_qnode;

typedef struct gv_tp_queue {
    /* Producers' end, on its own cache line. */
    alignas(64) _Atomic(gv_tp_qnode *) head;
    /* Consumer's end. */
    alignas(64) gv_tp_qnode *tail;
    gv_tp_qnode stub;
} gv_tp_queue;

void gv_tp_queue_init(gv_tp_queue *q);

/* Appends n. Any thread; never blocks. */
void gv_tp_queue_push(gv_tp_queue *q, gv_tp_qnode *n);

/* Takes the oldest node, or returns NULL: *busy is then true when a push
 * is half done (try again soon) and false when the queue is empty. Only
 * the consumer thread. */
gv_tp_qnode *gv_tp_queue_pop(gv_tp_queue *q, bool *busy);

/* True when nothing has been pushed that the consumer has not popped.
 * Sequentially consistent, so the consumer can pair it with a "sleeping"
 * flag (Dekker's pattern, see tp_io.c). Only the consumer thread. */
bool gv_tp_queue_empty(gv_tp_queue *q);

#endif
