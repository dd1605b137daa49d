/*
 * mailbox.h - a process's in-queue: intrusive, lock-free, many producers,
 * one consumer.
 *
 * The shape is Dmitry Vyukov's intrusive MPSC queue with an embedded stub
 * node, plus ponyc's trick of tagging the head pointer's low bit to say
 * "the owner is idle":
 *
 *   - gv_mbox_push is wait-free (one exchange and one store) and reports
 *     whether the mailbox was idle. Exactly one pusher sees that, and that
 *     pusher schedules the process.
 *   - gv_mbox_try_idle is the owner's one atomic step from "running" to
 *     "idle": it succeeds only if nothing was pushed since the queue was
 *     last seen empty, so a push never schedules a process that is still
 *     running and no push is ever stranded.
 *   - The stub is re-pushed by the consumer whenever the last real node is
 *     taken, so a node handed out by gv_mbox_pop is no longer referenced
 *     by the queue: its `next` field is free to link it elsewhere (the
 *     private message queue, the stash).
 *
 * gv_mbox_pop may return NULL while a producer is between its exchange and
 * its store (the queue is briefly unlinked); try_idle then fails too, and
 * the owner simply runs again. A mailbox whose owner has died is never
 * marked idle again, so pushes to it never schedule anything.
 *
 * Threads: push from any thread; pop, try_idle and the private queues only
 * from the thread running the owner.
 */
#ifndef GV_MAILBOX_H
#define GV_MAILBOX_H

#include "node/sig_hdr.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gv_mailbox {
    gv_sig *_Atomic head; /* producers' end; low bit set: owner idle */
    gv_sig stub;          /* always in the queue when it is empty */
} gv_mailbox;

#define GV_MBOX_IDLE ((uintptr_t)1)

/* Starts empty and NOT idle: the creator schedules the new owner. *tail is
 * the consumer's end, kept by the owner (apart so producers' cache line is
 * not written by the consumer). */
static inline void gv_mbox_init(gv_mailbox *mb, gv_sig **tail)
{
    atomic_init(&mb->stub.next, NULL);
    mb->stub.kind = 0xffff;
    mb->stub.flags = 0;
    mb->stub.aux = 0;
    atomic_init(&mb->head, &mb->stub);
    *tail = &mb->stub;
}

static inline bool s_mbox_link(gv_mailbox *mb, gv_sig *s)
{
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    /* acq_rel: release publishes s's contents (and the NULL above) to the
     * consumer that later follows prev->next; acquire pairs with the
     * owner's release CAS in gv_mbox_try_idle (and earlier pushes), so the
     * pusher that schedules the owner sees everything the owner did
     * before going idle, and hands that on to the next worker. */
    gv_sig *prev = atomic_exchange_explicit(&mb->head, s, memory_order_acq_rel);
    bool was_idle = ((uintptr_t)prev & GV_MBOX_IDLE) != 0;
    prev = (gv_sig *)((uintptr_t)prev & ~GV_MBOX_IDLE);
    /* Release: pairs with the acquire loads of `next` in gv_mbox_pop. */
    atomic_store_explicit(&prev->next, s, memory_order_release);
    return was_idle;
}

/* Appends s. Returns true when the owner was idle: the caller must then
 * schedule it. Any thread. */
static inline bool gv_mbox_push(gv_mailbox *mb, gv_sig *s)
{
    return s_mbox_link(mb, s);
}

/* Takes the oldest signal, or NULL when the queue is empty or a push is in
 * progress. Owner only. */
static inline gv_sig *gv_mbox_pop(gv_mailbox *mb, gv_sig **tailp)
{
    gv_sig *tail = *tailp;
    /* Acquire: pairs with the release store of prev->next in push. */
    gv_sig *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &mb->stub) {
        if (!next)
            return NULL;
        *tailp = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        *tailp = next;
        return tail;
    }
    /* tail is the newest node we can see. Acquire: pairs with the
     * exchange in push. */
    gv_sig *head = atomic_load_explicit(&mb->head, memory_order_acquire);
    if (tail != head)
        return NULL; /* a producer is linking a node behind tail */
    /* Put the stub behind the last node so that node can leave. The owner
     * is running, so this push cannot report "idle". */
    s_mbox_link(mb, &mb->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        *tailp = next;
        return tail;
    }
    return NULL;
}

/* True when nothing is queued (a push in progress counts as something).
 * Owner only. */
static inline bool gv_mbox_empty(gv_mailbox *mb, gv_sig *tail)
{
    return tail == &mb->stub && atomic_load_explicit(&mb->head, memory_order_acquire) == &mb->stub;
}

/* The owner's step to idle: succeeds only when the queue is empty and no
 * push has begun. On failure the owner must run again. Owner only. */
static inline bool gv_mbox_try_idle(gv_mailbox *mb, gv_sig *tail)
{
    if (tail != &mb->stub)
        return false;
    gv_sig *expect = &mb->stub;
    /* acq_rel: release pairs with the acquire exchange of the push that
     * finds the tag (the owner's writes reach whoever schedules it next);
     * acquire on failure is not needed, the owner just runs again. */
    return atomic_compare_exchange_strong_explicit(&mb->head, &expect,
                                                   (gv_sig *)((uintptr_t)&mb->stub | GV_MBOX_IDLE),
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* Is the owner idle right now? A racy snapshot for statistics only. */
static inline bool gv_mbox_is_idle(gv_mailbox *mb)
{
    return ((uintptr_t)atomic_load_explicit(&mb->head, memory_order_relaxed) & GV_MBOX_IDLE) != 0;
}

/* ---- private FIFO queues (owner only) --------------------------------- */

/* A plain singly linked FIFO through gv_sig.next, used for the message
 * queue and the stash once signals have left the in-queue. The links are
 * only ever touched by the owner, so relaxed accesses suffice. */
typedef struct gv_sigq {
    gv_sig *first;
    gv_sig *last;
    uint32_t len;
} gv_sigq;

static inline void gv_sigq_init(gv_sigq *q)
{
    q->first = q->last = NULL;
    q->len = 0;
}

static inline void gv_sigq_put(gv_sigq *q, gv_sig *s)
{
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    if (q->last)
        atomic_store_explicit(&q->last->next, s, memory_order_relaxed);
    else
        q->first = s;
    q->last = s;
    q->len++;
}

static inline gv_sig *gv_sigq_take(gv_sigq *q)
{
    gv_sig *s = q->first;
    if (!s)
        return NULL;
    q->first = atomic_load_explicit(&s->next, memory_order_relaxed);
    if (!q->first)
        q->last = NULL;
    q->len--;
    return s;
}

/* Moves all of `from` in front of `to`, keeping both orders. */
static inline void gv_sigq_prepend(gv_sigq *to, gv_sigq *from)
{
    if (!from->first)
        return;
    atomic_store_explicit(&from->last->next, to->first, memory_order_relaxed);
    if (!to->first)
        to->last = from->last;
    to->first = from->first;
    to->len += from->len;
    gv_sigq_init(from);
}

#endif
