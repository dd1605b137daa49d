/*
 * runq.h - run queues: a worker's bounded local queue and the node's
 * injection queue.
 *
 * The local queue has Tokio's shape: a ring of GV_RUNQ_CAP slots, a tail
 * only its owner writes, and a head word packing two positions,
 * (steal << 32 | real). The owner pushes at the tail and pops at `real`;
 * a thief claims half of what is queued by moving `real` forward while
 * leaving `steal` behind, copies the claimed slots, then closes the claim
 * by setting steal = real. While a claim is open the owner neither
 * overwrites claimed slots (it counts room from `steal`) nor lets a second
 * thief in. When the ring is full the owner moves half of it, plus the
 * new entry, to the injection queue in one batch.
 *
 * The injection queue is a mutex-protected intrusive list (through
 * grove_proc.rq_next) with an atomic length so that "is it empty?" costs
 * no lock. It takes work from threads that are not workers and overflow
 * from full local queues.
 */
#ifndef GV_RUNQ_H
#define GV_RUNQ_H

#include "base/gv_thread.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct grove_proc grove_proc;

#define GV_RUNQ_CAP 256u
#define GV_RUNQ_MASK (GV_RUNQ_CAP - 1)

typedef struct gv_inject {
    gv_mutex mu;
    grove_proc *first;
    grove_proc *last;
    _Atomic uint64_t len;
} gv_inject;

void gv_inject_init(gv_inject *q);
void gv_inject_fini(gv_inject *q);
/* Appends a chain first..last (linked through rq_next) of n processes. */
void gv_inject_push_chain(gv_inject *q, grove_proc *first, grove_proc *last, uint32_t n);
void gv_inject_push(gv_inject *q, grove_proc *p);
/* Takes the oldest, or NULL. */
grove_proc *gv_inject_pop(gv_inject *q);
static inline bool gv_inject_empty(gv_inject *q)
{
    /* seq_cst: part of the sleep/wake handshake (see sched.c). */
    return atomic_load_explicit(&q->len, memory_order_seq_cst) == 0;
}

typedef struct gv_runq {
    _Atomic uint64_t head; /* steal (32) | real (32) */
    _Atomic uint32_t tail; /* written by the owner only */
    grove_proc *_Atomic buf[GV_RUNQ_CAP];
} gv_runq;

void gv_runq_init(gv_runq *q);

/* Owner: appends p; on overflow moves half the queue to inj. */
void gv_runq_push(gv_runq *q, grove_proc *p, gv_inject *inj);

/* Owner: takes the oldest, or NULL. */
grove_proc *gv_runq_pop(gv_runq *q);

/* Thief: moves about half of src into dst (owned by the caller) and
 * returns one of them to run now, or NULL if there was nothing to take. */
grove_proc *gv_runq_steal(gv_runq *src, gv_runq *dst);

/* Any thread: a snapshot of the length. */
uint32_t gv_runq_len(gv_runq *q);

#endif
