/*
 * grove/node.h - a node: the runtime that hosts processes.
 *
 * A node owns a set of scheduler threads (workers) that run processes, a
 * process table, timer wheels and a watchdog. Start one from main():
 *
 *   grove_node *node = grove_node_start(NULL);      // defaults + GROVE_*
 *   ...
 *   grove_node_stop(&node);
 *
 * Processes are described in grove/process.h. Code outside the node's
 * workers (main(), tests, tools, other threads) talks to processes with
 * the grove_node_* calls and waits for answers with a waiter (below).
 *
 * Environment (read by grove_node_start when the option is 0/NULL):
 *   GROVE_NODE        node name, "name@host" (default "nonode@nohost")
 *   GROVE_SCHEDULERS  number of workers (default: online CPUs)
 *   GROVE_LOG         log level: error, warn, info, debug, trace
 *   GROVE_SEED        deterministic mode with this seed (decimal)
 *   GROVE_LISTEN, GROVE_ADVERTISE, GROVE_SEEDS, GROVE_COOKIE(_FILE),
 *   GROVE_INSECURE, GROVE_HEARTBEAT_MS, GROVE_NODEDOWN_MS: clustering
 *                     (below, and docs/cluster.md)
 */
#ifndef GROVE_NODE_H
#define GROVE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grove/err.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grove_node grove_node;
typedef struct grove_proc grove_proc;

typedef struct grove_node_opts {
    const char *name;     /* "name@host"; NULL: GROVE_NODE or "nonode@nohost" */
    unsigned schedulers;  /* workers; 0: GROVE_SCHEDULERS or online CPUs */
    unsigned batch;       /* messages per run before yielding; 0: 100 */
    unsigned watchdog_ms; /* log a handler running longer; 0: 2000 */
    /* Deterministic mode: one worker, which picks the next process to run
     * (and the batch size) from a generator seeded with `seed`, so a run
     * can be replayed. `seed` 0 draws a seed; grove_node_seed() tells it.
     * Work from outside the node (sends from main(), timers) still arrives
     * in real time: keep such tests inside processes. */
    bool deterministic;
    uint64_t seed;
    /* Clustering (docs/cluster.md). With no listen address and no seeds
     * (here or in GROVE_LISTEN / GROVE_SEEDS) the node is local: no
     * transport, no secret needed. Otherwise it listens (default
     * "*:7946"; ":0" any free port), joins the seeds, and needs the
     * cluster secret: `cookie`, else GROVE_COOKIE_FILE / GROVE_COOKIE (or
     * per-node keys, docs/transport.md); without one it refuses to start
     * unless `insecure` (or GROVE_INSECURE=1). */
    const char *listen;    /* "host:port"; NULL: GROVE_LISTEN */
    const char *advertise; /* "host:port" peers dial; NULL: GROVE_ADVERTISE */
    const char *seeds;     /* "host:port,..."; NULL: GROVE_SEEDS */
    const char *cookie;    /* the cluster secret; NULL: from the environment */
    bool insecure;         /* allow the well-known demo secret */
    unsigned heartbeat_ms; /* 0: GROVE_HEARTBEAT_MS or 250 */
    unsigned nodedown_ms;  /* 0: GROVE_NODEDOWN_MS or 1500 */
} grove_node_opts;

/* Starts a node. opts may be NULL (all defaults). Returns NULL (and logs
 * why) if threads cannot be started or the name is invalid. The caller
 * owns the node and must stop it. Any thread that is not one of another
 * node's workers; blocks while the workers start. */
grove_node *grove_node_start(const grove_node_opts *opts);

/* Stops the node: every live process is killed (reason `shutdown`, its
 * terminate callback runs), workers finish, timers are dropped, and all
 * memory is freed. Sets *node to NULL; safe on NULL. Blocks; must not be
 * called from the node's own workers. */
void grove_node_stop(grove_node **node);

/* The "host:port" a clustered node advertises (peers put it in their
 * seeds), or NULL for a local node. Lives while the node runs. */
const char *grove_node_address(const grove_node *node);

/* The node's interned name and creation (a random non-zero value drawn
 * at start). Any thread. */
grove_nodename grove_node_name(const grove_node *node);
uint32_t grove_node_creation(const grove_node *node);

/* The deterministic mode's seed (0 when not deterministic). */
uint64_t grove_node_seed(const grove_node *node);

/* A new reference, unique on this node's incarnation. Any thread. */
grove_ref grove_node_make_ref(grove_node *node);

/* True when the calling thread is one of this node's workers. */
bool grove_node_on_worker(const grove_node *node);

/* Node statistics, read without stopping anything (each figure is a
 * snapshot; together they are not one consistent instant). */
typedef struct grove_node_stats {
    uint64_t processes; /* live processes */
    uint64_t spawned;   /* processes ever spawned */
    uint64_t exited;    /* processes that have exited */
    uint64_t timers;    /* pending timers */
    unsigned workers;
    uint64_t runq[64]; /* run-queue length per worker (first `workers`) */
    uint64_t injected; /* processes waiting in the injection queue */
} grove_node_stats;

void grove_node_stats_get(grove_node *node, grove_node_stats *out);

/* Distribution statistics of a clustered node: cumulative counters since
 * it started, each a snapshot. The data lane batches: whatever envelopes
 * gather while the transport's I/O thread is busy leave as one ZeroMQ
 * message, so envelopes_sent / batches_sent is the mean batch. */
typedef struct grove_dist_stats {
    uint64_t batches_sent;       /* ZeroMQ messages carrying envelopes */
    uint64_t envelopes_sent;     /* envelopes (signals) in them */
    uint64_t batches_received;   /* ZeroMQ messages received with envelopes */
    uint64_t envelopes_received; /* envelopes in them */
    uint64_t sessions_opened;    /* nodeups */
    uint64_t sessions_closed;    /* nodedowns */
    uint64_t protocol_errors;    /* frames refused (bad bytes, gaps, ...) */
    uint64_t zap_refused;        /* peers refused at the CURVE handshake */
    /* Messages dropped because the peer's outbound buffer was full or the
     * message was over the payload limit (docs/cluster.md, "Busy
     * peers"); the sender is not told, as with Erlang's `!`. */
    uint64_t messages_dropped;
    /* Node monitors (grove_monitor_node) and grove_monitor_nodes
     * subscriptions in place; a process's go when it exits. */
    uint64_t node_watchers;
} grove_dist_stats;

/* Fills *out for a clustered node. GROVE_ENOCONN for a local node (no
 * transport) or one whose transport has stopped; *out is zeroed then.
 * Any thread, while the node runs. */
grove_err grove_node_dist_stats(grove_node *node, grove_dist_stats *out);

/* ---- waiting from outside --------------------------------------------- */

/* A waiter is a mailbox with a pid, owned by one thread that is not a
 * worker, so main() and tests can receive replies, DOWN messages and
 * timer messages:
 *
 *   grove_waiter *w;
 *   grove_waiter_new(node, &w);
 *   grove_node_send(node, server, grove_pack("{ping, ~p}", grove_waiter_pid(w)));
 *   grove_term *reply;
 *   if (grove_waiter_recv(w, 5000, &reply) == GROVE_OK) ...
 *   grove_waiter_destroy(&w);
 *
 * A waiter ignores exit signals and refuses links (the linker gets
 * `noproc`); it may monitor processes. */
typedef struct grove_waiter grove_waiter;

/* Creates a waiter. GROVE_ECLOSED if the node is stopping. Any thread. */
grove_err grove_waiter_new(grove_node *node, grove_waiter **out);

/* The waiter's pid. */
grove_pid grove_waiter_pid(const grove_waiter *w);

/* Waits up to timeout_ms (negative: forever) for the next message and
 * hands it over (caller owns *out). GROVE_ETIMEDOUT when none came,
 * GROVE_EWOULDBLOCK when called on a scheduler thread (never blocks a
 * worker). Only the thread that owns the waiter. */
grove_err grove_waiter_recv(grove_waiter *w, int64_t timeout_ms, grove_term **out);

/* As grove_waiter_recv, but takes the first message matching `pattern`
 * (grove_match syntax, no captures), leaving the others queued in order. */
grove_err grove_waiter_recv_match(grove_waiter *w, const char *pattern, int64_t timeout_ms,
                                  grove_term **out);

/* Monitors pid: a {'DOWN', Ref, process, Pid, Reason} message arrives
 * when it exits (at once, `noproc`, if it is not alive). */
grove_err grove_waiter_monitor(grove_waiter *w, grove_pid pid, grove_ref *ref);

/* Monitors the process registered as name on node (0: this node), as
 * grove_monitor_name: the DOWN names {Name, Node}. */
grove_err grove_waiter_monitor_name(grove_waiter *w, const char *name, grove_nodename node,
                                    grove_ref *ref);

/* Removes a monitor; a DOWN not yet received is dropped. */
grove_err grove_waiter_demonitor(grove_waiter *w, grove_ref ref);

/* As grove_waiter_recv, but takes the first message for which
 * select(msg, arg) returns true, leaving the others queued in order.
 * A blocking call (OTP's gen_server:call) is: monitor the server, send
 * the request with a fresh reference, then select either the reply
 * carrying that reference or the monitor's DOWN. */
grove_err grove_waiter_recv_select(grove_waiter *w,
                                   bool (*select)(const grove_term *msg, void *arg), void *arg,
                                   int64_t timeout_ms, grove_term **out);

/* A blocking call, as OTP's gen:call: monitors `to`, sends the request
 * build(self, ref, arg) returns (built with the waiter's pid and a fresh
 * reference, consumed), then waits for a reply {Ref, Reply} and hands
 * Reply over (caller owns *reply). GROVE_ENOPROC if `to` exits (or was
 * dead) first, GROVE_ENOCONN if its node is not connected,
 * GROVE_ETIMEDOUT after timeout_ms (a late reply is dropped later by
 * grove_waiter_recv* callers that select on their own references),
 * GROVE_EWOULDBLOCK on a scheduler thread, GROVE_EINVAL if build returns
 * NULL. Only the thread that owns the waiter. */
grove_err grove_waiter_call(grove_waiter *w, grove_pid to,
                            grove_term *(*build)(grove_pid self, grove_ref ref, void *arg),
                            void *arg, int64_t timeout_ms, grove_term **reply);

/* Frees the waiter and any messages it holds; its monitors are removed
 * and processes monitoring it see `normal`. Sets *w to NULL; safe on
 * NULL. Must happen before grove_node_stop. */
void grove_waiter_destroy(grove_waiter **w);

#ifdef __cplusplus
}
#endif
#endif
