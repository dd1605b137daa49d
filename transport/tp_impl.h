/*
 * tp_impl.h - the transport's insides, shared by transport.c (the API and
 * the peer table), tp_link.c (DEALERs and the outbound path), tp_session.c
 * (handshake, heartbeats, membership) and tp_io.c (the I/O thread's loop).
 * Nothing outside transport/ includes it.
 *
 * Ownership: everything here belongs to the I/O thread, except
 *   - the queue (any thread pushes, the I/O thread pops),
 *   - the slots' atomic fields (any thread reads; the I/O thread writes,
 *     except `queued`, which senders add to),
 *   - `asleep`, `stopping` and the stats counters,
 * which are the only state other threads touch.
 */
#ifndef GV_TP_IMPL_H
#define GV_TP_IMPL_H

#include "base/gv_thread.h"
#include "transport/tp_codec.h"
#include "transport/tp_queue.h"
#include "transport/tp_zap.h"
#include "transport/transport.h"

#include <zmq.h>

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* At most this many peers, ever, per transport (the slot table has twice
 * as many entries, so probing stays short). */
#define GV_TP_MAX_PEERS 1024u
#define GV_TP_SLOTS (2u * GV_TP_MAX_PEERS)
#define GV_TP_ADDR_MAX 256u
/* A data batch is cut after this many bytes of records (a single bigger
 * envelope travels alone). */
#define GV_TP_BATCH_BYTES (256u * 1024u)
/* ZeroMQ messages a DEALER queues before refusing (ZMQ_SNDHWM). */
#define GV_TP_DEALER_HWM 64
/* Room for a batch's framing on top of the largest payload. */
#define GV_TP_FRAME_SLACK (64u * 1024u)

/* One outbound data envelope on its way to the I/O thread: the record
 * bytes (tp_codec.h) and where they go. One allocation per send. */
typedef struct gv_tp_item {
    gv_tp_qnode q;           /* MPSC link (must stay first) */
    struct gv_tp_item *next; /* the peer's pending list (I/O thread) */
    grove_nodename to;
    uint32_t gen; /* the session generation it was accepted in */
    uint32_t len; /* bytes of data[] */
    bool charged; /* counted in the slot's `queued` */
    uint8_t data[];
} gv_tp_item;

/* A peer's entry in the lock-free table senders read. Written once
 * (key, with release) by the I/O thread; never removed. */
typedef struct gv_tp_slot {
    alignas(64) _Atomic uint32_t key; /* grove_nodename; 0 = free */
    /* (session generation << 1) | up. The generation grows by one at each
     * nodeup; senders stamp items with it so that an envelope accepted in
     * one session is never delivered in the next. */
    _Atomic uint64_t state;
    _Atomic uint32_t creation;
    _Atomic int64_t queued; /* bytes accepted by gv_tp_send, not yet given to ZeroMQ */
    _Atomic uint64_t run_queue;
    _Atomic uint64_t processes;
    struct gv_tp_peer *peer; /* I/O thread only */
} gv_tp_slot;

/* A control frame (one encoded batch) waiting for its DEALER. */
typedef struct gv_tp_frame {
    struct gv_tp_frame *next;
    size_t len;
    uint8_t data[];
} gv_tp_frame;

/* Our two DEALERs toward a peer (or one, for a probe), and their
 * monitors. */
typedef struct gv_tp_link {
    uint64_t sid; /* our session id, in the routing ids */
    void *ctl, *ctl_mon;
    void *data, *data_mon;
    gv_tp_frame *ctl_head, *ctl_tail; /* control frames not yet taken by ZeroMQ */
    zmq_msg_t blocked;                /* a data batch ZeroMQ refused (HWM) */
    bool has_blocked;
    uint64_t blocked_seq; /* the blocked batch's base_seq */
    bool open;
} gv_tp_link;

typedef enum gv_tp_peer_state {
    GV_TP_PEER_IDLE = 0,  /* no link */
    GV_TP_PEER_DIALING,   /* our hello sent (or queued); nothing heard */
    GV_TP_PEER_HANDSHAKE, /* we know its session; waiting for proof it knows ours */
    GV_TP_PEER_UP,        /* nodeup told */
    GV_TP_PEER_LEAVING,   /* goodbye received; waiting for its last data */
} gv_tp_peer_state;

typedef struct gv_tp_peer {
    char name[GV_TP_MAX_NODE_BYTES + 1];
    size_t name_len;
    grove_nodename nodename;
    gv_tp_slot *slot;
    char address[GV_TP_ADDR_MAX]; /* where its ROUTER listens */
    uint32_t creation;            /* of the current (or last) session */
    uint32_t retired_creation;    /* an incarnation superseded: ignored */
    uint64_t caps;
    bool hidden;
    bool member;  /* a known member: redialled while down, until forgotten */
    bool refused; /* the layer above refused an envelope (gv_tp_refuse) */

    gv_tp_peer_state state;
    gv_tp_link link;
    uint64_t sid_in;     /* its session id (0: none) */
    uint64_t sid_in_max; /* the highest it has used with this creation */
    uint64_t tx_seq;     /* next data sequence number to send */
    uint64_t rx_seq;     /* next data sequence number expected */
    uint64_t goodbye_seq;
    uint64_t probe_echo; /* our next hello answers this probe */
    uint32_t gen;        /* session generation (see gv_tp_slot.state) */

    uint64_t last_rx_ms;
    uint64_t deadline_ms; /* handshake or goodbye deadline */
    uint64_t redial_ms;   /* IDLE members: when to dial again */
    uint64_t down_since_ms;
    unsigned backoff_ms;

    gv_tp_item *out_head, *out_tail; /* data waiting for the next flush */
    bool in_flush_list;
    struct gv_tp_peer *flush_next;
} gv_tp_peer;

/* An anonymous dial to a seed address: one control DEALER sending a probe
 * hello, closed when answered or after nodedown_ms. */
typedef struct gv_tp_probe {
    char address[GV_TP_ADDR_MAX];
    gv_tp_link link;
    uint64_t deadline_ms;
    size_t seed; /* index in seeds */
} gv_tp_probe;

typedef struct gv_tp_seed {
    char address[GV_TP_ADDR_MAX];        /* host:port */
    char name[GV_TP_MAX_NODE_BYTES + 1]; /* named seed, or "" */
    bool probing;
} gv_tp_seed;

struct gv_tp {
    /* ---- configuration (immutable after gv_tp_new) ---- */
    char node[GV_TP_MAX_NODE_BYTES + 1];
    size_t node_len;
    grove_nodename self;
    uint32_t creation;
    char address[GV_TP_ADDR_MAX]; /* advertised */
    unsigned heartbeat_ms, nodedown_ms, forget_ms, seed_ms;
    size_t max_payload, out_buffer;
    uint64_t caps;
    bool hidden;
    const gv_tp_keys *keys;
    gv_tp_ops ops;
    gv_tp_seed *seeds;
    size_t n_seeds;

    /* ---- shared with other threads ---- */
    gv_tp_queue queue;
    alignas(64) _Atomic bool asleep; /* the I/O thread is (about to be) in zmq_poll */
    _Atomic bool stopping;
    int wake_r, wake_w; /* a pipe: senders write a byte when asleep */
    gv_tp_slot *slots;  /* GV_TP_SLOTS entries */
    struct {
        _Atomic uint64_t batches_sent, envelopes_sent, batches_received, envelopes_received,
            sessions_opened, sessions_closed, protocol_errors;
    } stats;

    /* ---- the I/O thread's own ---- */
    void *zctx;
    void *router;
    gv_tp_zap zap;
    gv_thread thread;
    gv_tp_decoder dec;
    gv_tp_peer **peers;
    size_t n_peers;
    gv_tp_probe **probes;
    size_t n_probes, cap_probes;
    gv_tp_peer *flush_list; /* peers with data waiting */
    uint64_t next_sid;
    uint64_t next_hb_ms;
    uint64_t next_seed_ms;
    gv_tp_load load; /* ours, as of the last heartbeat round */
    bool poll_dirty;
};

/* ---- transport.c: the slot table -------------------------------------------- */

/* The slot of node, or NULL. Any thread. */
gv_tp_slot *gv_tp_slot_find(gv_tp *tp, grove_nodename node);
/* The slot of node, claimed if new; NULL when the table is full. I/O
 * thread only. */
gv_tp_slot *gv_tp_slot_claim(gv_tp *tp, grove_nodename node);

#endif
