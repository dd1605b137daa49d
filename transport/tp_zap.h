/*
 * tp_zap.h - the ZAP handler (ZeroMQ RFC 27) that decides who may connect.
 *
 * libzmq asks a handler bound at inproc://zeromq.zap.01 in the socket's
 * context about every CURVE client of a server socket whose ZAP domain is
 * set. Grove's handler is a REP socket owned and polled by the transport's
 * I/O thread (the handshake itself runs in libzmq's threads, so answering
 * from the I/O loop never deadlocks). It must be bound before any CURVE
 * server socket exists; gv_tp_zap_secure_router then sets the ZAP domain
 * and ZMQ_ZAP_ENFORCE_DOMAIN (option 93), and fails if libzmq refuses it,
 * so a client can never slip in unauthenticated.
 *
 * It admits:
 *   - with a cluster secret: clients whose public key is the cluster key
 *     (User-Id "cluster");
 *   - with per-node keys: clients whose key is in the allow-list, with
 *     User-Id set to the allow-listed node name;
 * and refuses everything else with status 400 (another domain, another
 * mechanism, a malformed request: 500/400 as RFC 27 says).
 *
 * Threads: only the thread that owns the sockets (the I/O thread).
 */
#ifndef GV_TP_ZAP_H
#define GV_TP_ZAP_H

#include <grove/err.h>

#include "transport/tp_crypto.h"

#include <stdatomic.h>
#include <stdint.h>

#define GV_TP_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define GV_TP_ZAP_DOMAIN "grove"
/* ZMQ_ZAP_ENFORCE_DOMAIN: a DRAFT option, so zmq.h hides its name. */
#define GV_TP_ZMQ_ZAP_ENFORCE_DOMAIN 93
/* The User-Id ZAP gives clients that prove the cluster key. */
#define GV_TP_ZAP_CLUSTER_USER "cluster"

typedef struct gv_tp_zap {
    void *sock;                /* REP bound at GV_TP_ZAP_ENDPOINT */
    const gv_tp_keys *keys;    /* borrowed; outlives the handler */
    _Atomic uint64_t admitted; /* written by the I/O thread, read by anyone */
    _Atomic uint64_t refused;
} gv_tp_zap;

/* Binds the handler in context zctx. GROVE_EIO (and a log line) if the
 * endpoint cannot be bound (another handler in the same context). */
grove_err gv_tp_zap_start(gv_tp_zap *z, void *zctx, const gv_tp_keys *keys);

/* Answers every request waiting on the socket, without blocking. */
void gv_tp_zap_handle(gv_tp_zap *z);

/* Closes the socket. Safe to call twice. */
void gv_tp_zap_stop(gv_tp_zap *z);

/* Makes `router` a CURVE server with keys, in Grove's ZAP domain, with the
 * domain enforced. GROVE_EIO with a log line when libzmq refuses an
 * option (ZMQ_ZAP_ENFORCE_DOMAIN included): the node must not start. */
grove_err gv_tp_zap_secure_router(void *router, const gv_tp_keys *keys);

#endif
