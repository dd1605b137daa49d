/*
 * transport.h - sessions between nodes over encrypted ZeroMQ.
 *
 * A transport is one node's end of the cluster: it listens on one ROUTER,
 * keeps a session with every other member (two DEALERs each: control lane
 * and data lane), authenticates every link with CURVE + ZAP, detects dead
 * peers with heartbeats, finds the members through seeds and membership
 * exchange, and carries envelopes (tp_env.h) between nodes in order. The
 * wire is docs/protocol.md; the decisions are docs/transport.md.
 *
 * One I/O thread owns every socket. The layer above talks to it through:
 *
 *   - calls, from any thread: gv_tp_send (hand over an envelope),
 *     gv_tp_members, gv_tp_load_of, gv_tp_stats_get;
 *   - callbacks (gv_tp_ops), always on the I/O thread, one at a time:
 *     on_nodeup, on_nodedown, on_envelope, load.
 *
 * Callbacks must not block for long (a blocked callback stops heartbeats
 * to every peer) and must not call gv_tp_destroy. They may call gv_tp_send
 * (it never blocks).
 *
 * Guarantees:
 *   - Envelopes sent to one node in one session arrive in the order they
 *     were accepted by gv_tp_send (one session, one sequence). So all
 *     signals from one process to another stay in order.
 *   - Delivery is at most once. An envelope is lost only when its session
 *     ends, and then on_nodedown is called for that node: after the
 *     session's DEALERs are closed and after every on_envelope of that
 *     session. No envelope accepted in one session is delivered in a later
 *     one.
 *   - on_nodeup and on_nodedown alternate for a node, starting with
 *     on_nodeup; each on_nodeup starts a new session.
 */
#ifndef GV_TRANSPORT_H
#define GV_TRANSPORT_H

#include <grove/err.h>
#include <grove/term.h>

#include "transport/tp_crypto.h"
#include "transport/tp_env.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gv_tp gv_tp;

/* Capabilities a node announces in its hello (docs/protocol.md). A node
 * never sends an envelope kind its peer did not announce. */
#define GV_TP_CAP_SPAWN (1ull << 0)    /* spawn_request / spawn_reply */
#define GV_TP_CAP_REGISTRY (1ull << 1) /* reg_* */
#define GV_TP_CAP_INSPECT (1ull << 2)  /* inspect_* */
#define GV_TP_CAP_UNLINK_ID (1ull << 3)
#define GV_TP_CAP_DEFAULT (GV_TP_CAP_SPAWN | GV_TP_CAP_UNLINK_ID)

#define GV_TP_DEFAULT_PORT 7946

/* Why a session ended. */
typedef enum gv_tp_down_reason {
    GV_TP_DOWN_CONNECTION_CLOSED = 1, /* a disconnect on one of our DEALERs */
    GV_TP_DOWN_HEARTBEAT_TIMEOUT,     /* nothing heard for nodedown_ms */
    GV_TP_DOWN_SEQUENCE_GAP,          /* a data batch out of sequence */
    GV_TP_DOWN_PROTOCOL_ERROR,        /* a frame that does not decode */
    GV_TP_DOWN_GOODBYE,               /* the peer stopped or left gracefully */
    GV_TP_DOWN_RECONNECTED,           /* the peer opened a new session */
    GV_TP_DOWN_RESTARTED,             /* the peer came back as a new incarnation */
    GV_TP_DOWN_AUTH_FAILED,           /* the peer refused our key */
    GV_TP_DOWN_STOPPED,               /* this transport is stopping */
} gv_tp_down_reason;

/* The reason as an Erlang-style atom text ("connection_closed",
 * "net_tick_timeout", "sequence_gap", "protocol_error", "shutdown",
 * "reconnected", "restarted", "auth_failed", "transport_stopped"). */
const char *gv_tp_down_reason_name(gv_tp_down_reason r);

typedef struct gv_tp_nodeinfo {
    const char *name;    /* "name@host" */
    const char *address; /* "host:port" its ROUTER listens on */
    uint32_t creation;
    uint64_t capabilities;
    bool hidden;
} gv_tp_nodeinfo;

typedef struct gv_tp_load {
    uint64_t run_queue; /* processes waiting to run */
    uint64_t processes; /* live processes */
} gv_tp_load;

/* Callbacks, all on the I/O thread. Any may be NULL. */
typedef struct gv_tp_ops {
    void *ctx;
    /* A session with `node` is up. info is borrowed for the call. */
    void (*on_nodeup)(void *ctx, grove_nodename node, uint32_t creation,
                      const gv_tp_nodeinfo *info);
    /* The session with `node` has ended (its DEALERs are closed). */
    void (*on_nodedown)(void *ctx, grove_nodename node, gv_tp_down_reason reason);
    /* A data envelope from `from`. env (and what it points to) is
     * borrowed for the call; implicit pid nodes are `from` (S) or this
     * node (R), see docs/protocol.md. */
    void (*on_envelope)(void *ctx, grove_nodename from, const gv_tp_env *env);
    /* This node's load, read before each round of heartbeats. */
    void (*load)(void *ctx, gv_tp_load *out);
} gv_tp_ops;

typedef struct gv_tp_config {
    const char *node;  /* this node, "name@host"; required */
    uint32_t creation; /* this incarnation, non-zero; required */
    /* Where the ROUTER listens: "host:port", "*:port", ":port" or "port"
     * (port 0: any free port). NULL: "*:7946". */
    const char *listen;
    /* "host:port" peers dial. NULL: the listen address, or when that is
     * a wildcard, the host part of the node name with the bound port. */
    const char *advertise;
    /* Seeds, separated by commas or spaces: "host[:port]" (port default
     * 7946; DNS names are resolved by ZeroMQ on every attempt) or
     * "name@host[:port]" (a named seed, required with per-node keys).
     * NULL: none. */
    const char *seeds;
    const gv_tp_keys *keys; /* required; borrowed, must outlive the transport */
    unsigned heartbeat_ms;  /* 0: 250 */
    unsigned nodedown_ms;   /* 0: 1500 (also the handshake timeout) */
    unsigned forget_ms;     /* 0: 60000; a member down this long is forgotten */
    unsigned seed_ms;       /* 0: 2000; seeds are probed this often while alone */
    size_t max_payload;     /* 0: 16 MiB; a bigger payload fails with GROVE_E2BIG */
    size_t out_buffer;      /* 0: 16 MiB; per-peer bytes queued before GROVE_EAGAIN */
    uint64_t capabilities;  /* 0: GV_TP_CAP_DEFAULT */
    bool hidden;            /* a hidden member (tools): left out of membership */
} gv_tp_config;

/* Reads GROVE_LISTEN, GROVE_ADVERTISE, GROVE_SEEDS, GROVE_HEARTBEAT_MS,
 * GROVE_NODEDOWN_MS and GROVE_FORGET_MS into the fields of *cfg that are
 * still 0/NULL. The strings point into the environment. GROVE_EINVAL for a
 * number that does not parse (with a log line). */
grove_err gv_tp_config_from_env(gv_tp_config *cfg);

/* Starts a transport: binds the ZAP handler, then the ROUTER, then starts
 * the I/O thread, which begins probing the seeds. Returns GROVE_EINVAL for
 * a bad configuration, GROVE_EIO when a socket cannot be made, bound or
 * secured (ZMQ_ZAP_ENFORCE_DOMAIN refused included), with a log line
 * saying why. Caller owns *out. Blocks while binding. */
grove_err gv_tp_new(const gv_tp_config *cfg, const gv_tp_ops *ops, gv_tp **out);

/* Stops gracefully: every live session gets a Goodbye (after the data
 * already queued), on_nodedown(GV_TP_DOWN_STOPPED) is called for each, the
 * I/O thread ends and every socket is closed. Waits up to about
 * min(nodedown_ms, 1000) ms for the goodbyes to leave. Sets *tp to NULL;
 * safe on NULL. Must not be called from a callback; no other thread may
 * use the transport once it is called. */
void gv_tp_destroy(gv_tp **tp);

/* Hands env to the I/O thread for `to`. env is encoded at once: the caller
 * keeps ownership of env and everything it points to. Never blocks. Any
 * thread.
 *   GROVE_OK       accepted: it will be delivered in order, or its session
 *                  ends (on_nodedown follows).
 *   GROVE_ENOCONN  no session with `to` is up.
 *   GROVE_EAGAIN   the peer's outbound buffer is full (out_buffer bytes
 *                  waiting); only for send, send_name, spawn_request,
 *                  inspect_*: other kinds are always accepted, because
 *                  losing a link, exit, monitor or down signal would break
 *                  the noconnection guarantee. Retry later.
 *   GROVE_E2BIG    a payload (or argument, reason) over max_payload.
 *   GROVE_EINVAL   env is not a data envelope or misses a required field.
 *   GROVE_ECLOSED  the transport is stopping. */
grove_err gv_tp_send(gv_tp *tp, grove_nodename to, const gv_tp_env *env);

/* Called from on_envelope only (the I/O thread): the envelope from
 * `node` carries something the layer above refuses (a payload that does
 * not decode). The rest of its batch is dropped and the session ends
 * with GV_TP_DOWN_PROTOCOL_ERROR (on_nodedown follows), as for a frame
 * that does not decode; other peers and the node go on. */
void gv_tp_refuse(gv_tp *tp, grove_nodename node);

typedef struct gv_tp_member {
    grove_nodename node;
    uint32_t creation;
} gv_tp_member;

/* Fills out[0..cap) with the nodes that have a session up now and returns
 * how many there are (which may exceed cap). Any thread; a snapshot. */
size_t gv_tp_members(gv_tp *tp, gv_tp_member *out, size_t cap);

/* The load `node` reported in its last heartbeat. GROVE_ENOCONN when no
 * session with it is up. Any thread. */
grove_err gv_tp_load_of(gv_tp *tp, grove_nodename node, gv_tp_load *out);

/* The address this node advertises ("host:port"). Lives as long as tp. */
const char *gv_tp_address(const gv_tp *tp);

/* Counters, read without stopping anything (for benchmarks and tests). */
typedef struct gv_tp_stats {
    uint64_t batches_sent;   /* data-lane ZeroMQ messages sent */
    uint64_t envelopes_sent; /* data envelopes in them */
    uint64_t batches_received;
    uint64_t envelopes_received;
    uint64_t sessions_opened; /* on_nodeup calls */
    uint64_t sessions_closed; /* on_nodedown calls */
    uint64_t protocol_errors; /* frames refused (bad bytes, gaps, ...) */
    uint64_t zap_refused;     /* clients ZAP turned away */
} gv_tp_stats;

void gv_tp_stats_get(gv_tp *tp, gv_tp_stats *out);

#endif
