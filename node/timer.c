/*
 * timer.c - timers on the workers' wheels.
 *
 * A timer belongs to one worker's wheel: the caller's own worker when
 * started from a process (no cross-thread traffic), else one picked round
 * robin. Other threads insert and cancel under the wheel's lock, then
 * unpark the owner so it re-computes how long it may sleep. The owner
 * polls without the lock while nothing is due (wheel_next).
 *
 * A handle packs (worker: 8 bits, slab index: 24 bits, generation: 32
 * bits); a fired or cancelled handle is stale and detected.
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"

typedef struct s_timer {
    grove_pid to;
    gv_sig *sig;
    struct s_timer *next; /* firing list */
} s_timer;

uint64_t gv_node_clock_ms(const grove_node *node)
{
    return gv_now_ms() - node->start_ms;
}

static void s_update_next(gv_worker *w)
{
    gv_mutex_assert_held(&w->wheel_mu);
    /* Relaxed: a hint. A stale value makes the owner poll once more or
     * late; a late poll is bounded because inserters unpark the owner
     * after storing (the unpark/park pair orders this store). */
    atomic_store_explicit(&w->wheel_next, gv_wheel_next(&w->wheel), memory_order_relaxed);
}

grove_timer gv_timer_start(grove_node *node, uint64_t ms, grove_pid to, gv_sig *sig)
{
    gv_worker *w = gv_sched_current(node);
    bool own = w != NULL;
    if (!w)
        w = &node->workers[atomic_fetch_add_explicit(&node->timer_rr, 1, memory_order_relaxed) %
                           node->nworkers];
    s_timer *t = gv_malloc(sizeof *t);
    t->to = to;
    t->sig = sig;
    t->next = NULL;
    /* The wheel counts whole milliseconds and "now" lies somewhere inside
     * the current one, so now + ms could fire up to a tick before ms have
     * passed. One more tick makes a timer never early (as Erlang's
     * timers; it may fire up to a tick later than before). 0 stays "at
     * the next poll". */
    uint64_t deadline = gv_node_clock_ms(node) + ms + (ms ? 1 : 0);
    gv_mutex_lock(&w->wheel_mu);
    uint64_t h = gv_wheel_insert(&w->wheel, deadline, t);
    s_update_next(w);
    gv_mutex_unlock(&w->wheel_mu);
    if (!own)
        gv_parker_unpark(&w->parker);
    if ((uint32_t)h > 0xffffffu)
        gv_panic("too many timers on one worker");
    return (grove_timer)w->index << 56 | (h & 0xffffffu) << 32 | (h >> 32);
}

bool gv_timer_cancel(grove_node *node, grove_timer t)
{
    unsigned wi = (unsigned)(t >> 56);
    if (!t || wi >= node->nworkers)
        return false;
    gv_worker *w = &node->workers[wi];
    uint64_t h = (t & 0xffffffffu) << 32 | ((t >> 32) & 0xffffffu);
    gv_mutex_lock(&w->wheel_mu);
    s_timer *tm = gv_wheel_cancel(&w->wheel, h);
    if (tm)
        s_update_next(w);
    gv_mutex_unlock(&w->wheel_mu);
    if (!tm)
        return false;
    gv_sig_free(tm->sig);
    gv_free(tm);
    return true;
}

typedef struct s_list {
    s_timer *first, *last;
} s_list;

static void s_collect(void *payload, void *arg)
{
    s_list *l = arg;
    s_timer *t = payload;
    t->next = NULL; /* keep firing order: append */
    if (l->last)
        l->last->next = t;
    else
        l->first = t;
    l->last = t;
}

uint64_t gv_timer_poll(gv_worker *w)
{
    grove_node *node = w->node;
    uint64_t next = atomic_load_explicit(&w->wheel_next, memory_order_relaxed);
    /* No timer: no clock read (a clock_gettime costs ~50 ns in a VM, as
     * much as a whole message). */
    if (next == GV_WHEEL_NONE)
        return next;
    uint64_t now = gv_node_clock_ms(node);
    if (next > now)
        return next;
    s_list l = {NULL, NULL};
    gv_mutex_lock(&w->wheel_mu);
    gv_wheel_advance(&w->wheel, now, s_collect, &l);
    s_update_next(w);
    next = gv_wheel_next(&w->wheel);
    gv_mutex_unlock(&w->wheel_mu);
    while (l.first) {
        s_timer *t = l.first;
        l.first = t->next;
        gv_deliver(node, t->to, t->sig, false);
        gv_free(t);
    }
    return next;
}

static void s_drop(void *payload)
{
    s_timer *t = payload;
    gv_sig_free(t->sig);
    gv_free(t);
}

void gv_timer_fini(gv_worker *w)
{
    gv_wheel_fini(&w->wheel, s_drop);
}

uint64_t gv_timer_count(grove_node *node)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < node->nworkers; i++) {
        gv_worker *w = &node->workers[i];
        gv_mutex_lock(&w->wheel_mu);
        n += w->wheel.count;
        gv_mutex_unlock(&w->wheel_mu);
    }
    return n;
}
