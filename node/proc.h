/*
 * proc.h - the process control block and the runtime's internal process
 * operations.
 *
 * Layout: the first 64 bytes hold what senders touch (the mailbox head
 * and stub) with fields that never change after spawn; everything the
 * owner writes while running follows. Without user state the block stays
 * well under 256 bytes (a static assert checks it).
 */
#ifndef GV_PROC_H
#define GV_PROC_H

#include <grove/process.h>

#include "node/mailbox.h"
#include "node/signal.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gv_worker gv_worker;
typedef struct gv_rels gv_rels;

/* flags (owner writes, others may read relaxed) */
enum {
    GV_PF_TRAP_EXIT = 1u << 0,
    GV_PF_INIT_PENDING = 1u << 1, /* init has not run yet */
    GV_PF_INIT_DONE = 1u << 2,    /* init succeeded: terminate will run */
    GV_PF_EXITING = 1u << 3,      /* decided to exit; exit_reason is set */
    GV_PF_DEAD = 1u << 4,         /* exit path done */
    GV_PF_EXTERNAL = 1u << 5,     /* a waiter: run by its own thread */
    GV_PF_STOP_SET = 1u << 6,     /* grove_stop was called in this handler */
    GV_PF_IN_RUN = 1u << 7,       /* inside gv_proc_run, on the worker in bits 8-15 */
    GV_PF_NODE_WATCH = 1u << 16,  /* called monitor_node(s): the exit path tells the ops */
};
/* Bits 8-15 of the flags: the index of the worker running the process,
 * while GV_PF_IN_RUN (kept in the flags, not as a pointer, so the block
 * stays 232 bytes). */
#define GV_PF_WORKER_SHIFT 8u
#define GV_PF_WORKER_MASK (0xffu << GV_PF_WORKER_SHIFT)

struct grove_proc {
    /* -- senders' line: mailbox, then fields fixed at spawn -- */
    gv_mailbox mbox;
    grove_node *node;
    grove_pid pid;
    const grove_behaviour *beh;
    const char *name;

    /* -- owner's fields -- */
    gv_sig *mbox_tail; /* consumer end of the in-queue */
    gv_sigq msgq;      /* messages moved out of the in-queue */
    gv_sigq stash;     /* postponed messages */
    void *state;
    gv_sig *current; /* message being handled (before init: the spawn arg) */
    grove_term *exit_reason;
    gv_rels *rels;       /* links and monitors, allocated on first use */
    grove_proc *rq_next; /* injection queue link */
    grove_pid parent;
    grove_timer rt_timer; /* pending receive timeout */
    uint32_t rt_seq;      /* bumps on every message: stale timeouts are ignored */
    uint32_t run_sends;   /* messages sent in the current run: part of its budget */
    _Atomic uint64_t handled;
    /* (the 32-bit fields together, so the block has no padding: 232 bytes
     * is a 240-byte glibc chunk, 240 bytes would be a 256-byte one) */
    _Atomic uint32_t flags;
    _Atomic uint32_t n_links, n_monitors, n_watchers; /* for inspection */
    char *reg_name;       /* registered name, a copy (names.c; under the names lock) */
    struct gv_keys *keys; /* registry keys joined (owner only) */
};

/* A waiter: a process block driven by the thread that owns it. */
#include "base/gv_parker.h"
struct grove_waiter {
    struct grove_proc p; /* first: the block is freed as a whole */
    gv_parker parker;
};

/* Result of one run of a process on a worker. */
typedef enum gv_run_result {
    GV_RUN_IDLE,  /* marked idle: the next push schedules it */
    GV_RUN_AGAIN, /* a push raced with going idle: requeue */
    GV_RUN_YIELD, /* used its whole budget and has more to do: requeue */
    GV_RUN_DEAD,  /* exited; do not touch it again */
} gv_run_result;

static inline uint32_t gv_proc_flags(const grove_proc *p)
{
    return atomic_load_explicit(&((grove_proc *)p)->flags, memory_order_relaxed);
}

/* Only the thread running the process writes its flags (spawn and
 * grove_waiter_new write them before the block is published), so setting
 * and clearing need no locked read-modify-write: a relaxed load and a
 * relaxed store keep the word whole for readers on other threads, which
 * read it relaxed (inspection) or read bits fixed before the block was
 * published (GV_PF_EXTERNAL, ordered by the table's release/acquire). */
static inline void gv_proc_set(grove_proc *p, uint32_t f)
{
    uint32_t old = atomic_load_explicit(&p->flags, memory_order_relaxed);
    atomic_store_explicit(&p->flags, old | f, memory_order_relaxed);
}

static inline void gv_proc_clear(grove_proc *p, uint32_t f)
{
    uint32_t old = atomic_load_explicit(&p->flags, memory_order_relaxed);
    if (old & f)
        atomic_store_explicit(&p->flags, old & ~f, memory_order_relaxed);
}

/* Runs p for a budget of `batch` units (worker thread): a message handled
 * is one unit and so is a message sent, as sends cost reductions in
 * Erlang, so a process that sends much yields as often as one that
 * receives much. A process that finds a backlog of B messages may handle
 * up to B/2 in the run (not in the deterministic mode), so a receiver fed
 * by several senders catches up instead of its mailbox growing without
 * bound. */
gv_run_result gv_proc_run(grove_proc *p, gv_worker *w, unsigned batch);

/* Drops the table references w's send cache holds (proc.c): when w finds
 * nothing to run, every GV_SEND_CACHE_RUNS runs, and when it stops.
 * Worker thread of w only. */
void gv_send_cache_drop(gv_worker *w);

/* Delivers a signal to `to`, from any thread; consumes s. Undeliverable
 * signals are answered as Erlang does (a LINK with an exit `noproc`, a
 * MONITOR with a DOWN `noproc`, ...). */
bool gv_deliver(grove_node *node, grove_pid to, gv_sig *s, bool lifo);
/* (gv_deliver returns false when `to` could not take it.) */

/* links.c */
void gv_proc_ctl(grove_proc *p, gv_sig_ctl *c);
void gv_proc_die(grove_proc *p, grove_term *reason);
/* Answers signal s sent to `dead` (p: its block while still in the exit
 * path, else NULL) as Erlang does, with `reason`; frees s. */
void gv_dead_signal(grove_node *node, grove_proc *p, grove_pid dead, gv_sig *s,
                    const grove_term *reason);
void gv_rels_add_link(grove_proc *p, grove_pid pid);
void gv_rels_add_monitor(grove_proc *p, grove_ref ref, grove_pid target);
void gv_rels_add_watcher(grove_proc *p, grove_ref ref, grove_pid watcher);
/* Sends exit signals, DOWNs and DEMONITORs for an exiting p; frees rels. */
void gv_rels_exit(grove_proc *p, const grove_term *reason);
grove_err gv_monitor(grove_proc *self, grove_pid pid, grove_ref *out);
grove_err gv_demonitor(grove_proc *self, grove_ref ref, bool flush);
void gv_send_force_exit(grove_node *node, grove_pid pid, grove_term *reason);

/* Frees a dead block once nobody references it (ptab said "last"). */
void gv_proc_finalize(grove_proc *p);

/* Moves every in-queue signal of p to its queues, handling control
 * signals (owner thread). Returns false once p has decided to exit. */
bool gv_proc_drain(grove_proc *p);

/* The exit path (owner thread): terminate, notify links and monitors,
 * drop the process's own reference. */
void gv_proc_exit(grove_proc *p);

/* A new process block (not yet in the table). */
grove_proc *gv_proc_alloc(grove_node *node, size_t size);

/* Spawns as grove_proc_spawn (parent non-NULL) or grove_node_spawn, but
 * holds the process: its pid is valid and signals to it queue, but it
 * does not run until gv_spawn_release(*held). A spawn_request's reply
 * goes out in between, so it comes before anything the child sends (as
 * Erlang's spawn_reply does). */
grove_err gv_spawn_held(grove_node *node, grove_proc *parent, const grove_behaviour *b,
                        grove_term *arg, const grove_spawn_opts *opts, grove_pid *out,
                        grove_proc **held);
void gv_spawn_release(grove_proc *held);

/* Reason atoms, shared read-only terms built at first use. */
bool gv_term_is_atom(const grove_term *t, const char *name);

/* Local-pid checks. */
bool gv_pid_is_local(const grove_node *node, grove_pid pid);
/* The node's own pid (id 0, serial 0): the sender of signals from outside
 * any process. Never a live process. */
grove_pid gv_null_pid(const grove_node *node);

#endif
