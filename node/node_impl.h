/*
 * node_impl.h - the node object and its workers (internal).
 */
#ifndef GV_NODE_IMPL_H
#define GV_NODE_IMPL_H

#include <grove/node.h>
#include <grove/process.h>

#include "base/gv_alloc.h"
#include "base/gv_parker.h"
#include "base/gv_rand.h"
#include "base/gv_spin.h"
#include "base/gv_thread.h"
#include "node/ops.h"
#include "node/ptab.h"
#include "node/runq.h"
#include "node/wheel.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gv_worker gv_worker;

/* The send cache (proc.c): local processes the worker's processes sent to
 * lately, each with a table reference held. */
#define GV_SEND_CACHE 2
#define GV_SEND_CACHE_RUNS 64
typedef struct gv_send_ent {
    grove_proc *p; /* NULL: empty */
    uint32_t id, serial;
} gv_send_ent;

/* Laid out by who writes what (STYLE.md 7): the run queue, which thieves
 * touch, then the owner's own fields, then what other threads write (the
 * parker, the timer wheel, the watchdog's notes), each group on lines of
 * its own. Workers are allocated cache-line aligned (gv_calloc_aligned). */
struct gv_worker {
    gv_runq rq; /* first: thieves touch it */

    /* -- the owner's -- */
    _Alignas(GV_CACHE_LINE) grove_node *node;
    unsigned index;
    grove_proc *lifo;   /* the "next" slot (owner only) */
    unsigned lifo_uses; /* consecutive runs from the next slot */
    gv_send_ent sends[GV_SEND_CACHE];
    unsigned sends_next; /* the entry a miss replaces */
    unsigned sends_runs; /* runs since the cache was last dropped */
    bool searching;
    gv_spin spin; /* how long to spin when idle */
    uint64_t tick;
    gv_rng rng;
    /* deterministic mode: the runnable set, picked from at random */
    grove_proc **bag;
    uint32_t bag_len, bag_cap;
    /* watchdog: runs are counted, not timed (a clock read per run would
     * cost as much as a message); the watchdog samples the count */
    _Atomic uint64_t run_seq; /* odd while a process runs */
    _Atomic uint64_t run_pid; /* id << 32 | serial of the run */
    /* utilization: time out of park, timed per busy spell, not per run */
    bool busy;
    uint64_t busy_since;
    _Atomic uint64_t busy_ns;
    gv_thread thread;

    /* -- written by other threads -- */
    _Alignas(GV_CACHE_LINE) gv_parker parker; /* wakers */
    uint64_t wd_seq;                          /* the watchdog's own: the run it saw last, */
    uint64_t wd_since;                        /* when it first saw it (ns), */
    uint64_t wd_reported;                     /* and the last run it reported */
    /* timers: the wheel is the worker's; others insert and cancel under
     * the lock */
    _Alignas(GV_CACHE_LINE) gv_mutex wheel_mu;
    gv_wheel wheel;
    _Atomic uint64_t wheel_next; /* earliest deadline, for a lock-free check */
};

/* Local names and the duplicate-key registry (names.c). */
typedef struct gv_names {
    gv_mutex mu;
    struct gv_name_ent **nb;
    size_t ncap, ncount;
    struct gv_reg_ent **rb;
    size_t rcap, rcount;
} gv_names;

void gv_names_init(gv_names *t);
void gv_names_fini(gv_names *t);
/* The exit path: drops p's name and registry entries (after ptab_kill). */
void gv_names_exit(grove_proc *p);

/* Laid out by who writes what (STYLE.md 7), each group on lines of its
 * own; allocated cache-line aligned (gv_calloc_aligned). */
struct grove_node {
    /* -- fixed at start, read by every send and every worker loop -- */
    grove_nodename name;
    uint32_t creation;
    unsigned nworkers;
    unsigned batch;
    unsigned watchdog_ms;
    bool deterministic;
    uint64_t seed;
    uint64_t start_ms;
    gv_worker *workers;
    const grove_trace_hooks *_Atomic trace; /* set rarely, read by every send */
    _Atomic bool stopping;                  /* no new spawns */
    _Atomic bool shutdown;                  /* workers leave */
    _Atomic bool names_used;                /* set once a name or key was ever used */
    gv_ops ops;
    gv_ptab ptab; /* its directory here; its counters on a line of their own */

    /* -- pushed and popped by every worker -- */
    _Alignas(GV_CACHE_LINE) gv_inject inject;

    /* -- idle workers (see sched.c): every wake-up check reads and writes it -- */
    _Alignas(GV_CACHE_LINE) _Atomic uint32_t idle_state; /* unparked (16) | searching (16) */
    unsigned n_sleepers;
    unsigned *sleepers;
    gv_mutex idle_mu;

    /* -- counters bumped on every spawn and exit -- */
    _Alignas(GV_CACHE_LINE) _Atomic uint64_t spawned;
    _Atomic uint64_t exited, procs, waiters;
    _Atomic uint64_t next_ref;
    _Atomic uint32_t timer_rr;
    _Atomic uint64_t watchdog_reports;

    gv_thread watchdog;
    gv_parker watchdog_parker;
    gv_names names;
};

/* The installed trace hooks, or NULL (one acquire load, free on x86: the table
 * is immutable once installed, and its contents were written before
 * grove_node_set_trace's release store). */
static inline const grove_trace_hooks *gv_trace(const grove_node *node)
{
    return atomic_load_explicit(&((grove_node *)node)->trace, memory_order_acquire);
}

/* The calling thread's worker, if it is one of node's workers (else NULL). */
gv_worker *gv_sched_current(const grove_node *node);

/* True when the calling thread is any node's worker. */
bool gv_sched_on_any_worker(void);

/* Makes p runnable. lifo: p was woken by the process running on this
 * worker (use the next slot). Any thread. */
void gv_sched_schedule(grove_node *node, grove_proc *p, bool lifo);

/* The process running on w is sending a second message in its run:
 * whoever its first send put in the next slot would wait for the rest of
 * that run, so it moves to the (stealable) run queue and an idle worker is
 * told. Worker thread of w only. */
void gv_sched_unpin_next(gv_worker *w);

/* gv_sched_schedule from a process running on w (saves finding w). */
void gv_sched_schedule_on(gv_worker *w, grove_proc *p, bool lifo);

/* Starts and stops the workers and the watchdog. */
bool gv_sched_start(grove_node *node);
void gv_sched_stop(grove_node *node);

/* Timers: `sig` (a message or a control signal) is delivered to `to`
 * after ms. Returns the handle. */
grove_timer gv_timer_start(grove_node *node, uint64_t ms, grove_pid to, gv_sig *sig);
/* Cancels; returns true if it was pending. */
bool gv_timer_cancel(grove_node *node, grove_timer t);
/* Worker: fires due timers, returns the next deadline (ms on the node
 * clock) or GV_WHEEL_NONE. */
uint64_t gv_timer_poll(gv_worker *w);
void gv_timer_fini(gv_worker *w);
uint64_t gv_timer_count(grove_node *node);
uint64_t gv_node_clock_ms(const grove_node *node);

#endif
