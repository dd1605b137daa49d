/*
 * tp_session.h - sessions with peers: links (our DEALERs), the handshake,
 * sequence numbers, heartbeats, goodbyes, membership and seed probes
 * (docs/protocol.md, "Sessions"). Everything here runs on the I/O thread.
 *
 * A peer's session is two one-way links: ours (our DEALERs to its
 * ROUTER, session id `link.sid`) and its own (its DEALERs to our ROUTER,
 * session id `sid_in`). The session is up when we know its session id and
 * have proof that it knows ours: a welcome or heartbeat echoing ours, or
 * a data batch (it sends data only once its side is up).
 */
#ifndef GV_TP_SESSION_H
#define GV_TP_SESSION_H

#include "transport/tp_impl.h"

/* The peer named name[0..len), or NULL; with create, made if new (NULL
 * when the table is full or the name cannot be interned). */
gv_tp_peer *gv_tp_peer_find(gv_tp *tp, const char *name, size_t len, bool create);

/* A control envelope arrived on the ROUTER from routing id
 * "c:<node>:<sid>", with ZAP's User-Id `user`. */
void gv_tp_session_control(gv_tp *tp, const char *node, size_t node_len, uint64_t sid,
                           const char *user, const gv_tp_env *env);

/* A frame from "<lane>:<node>:<sid>" is malformed: it ends that session
 * if it is the peer's current one; otherwise it is only counted and
 * logged. */
void gv_tp_session_bad_frame(gv_tp *tp, const char *node, size_t node_len, uint64_t sid,
                             const char *reason);

/* A data frame arrived from "d:<node>:<sid>". */
void gv_tp_session_data(gv_tp *tp, const char *node, size_t node_len, uint64_t sid,
                        const char *user, const void *body, size_t len);

/* A monitor event on one of our DEALERs: of peer's link, or of a probe. */
void gv_tp_session_link_event(gv_tp *tp, gv_tp_peer *peer, gv_tp_probe *probe, uint16_t event);

/* Ends peer's session (or abandons its handshake) for reason. */
void gv_tp_session_end(gv_tp *tp, gv_tp_peer *peer, gv_tp_down_reason reason);

/* Heartbeats, deadlines, redials and seed probes due at now; returns the
 * next time anything is due. Heartbeat silence is judged only when
 * inbound_drained (the ROUTER was read empty): frames still waiting there
 * may be the very heartbeats that prove the peer alive. */
uint64_t gv_tp_session_timers(gv_tp *tp, uint64_t now, bool inbound_drained);

/* Stopping: flushes and says goodbye to every live session, calls
 * on_nodedown(STOPPED) for each, closes every link (goodbyes linger up to
 * linger_ms) and every probe. */
void gv_tp_session_stop_all(gv_tp *tp, int linger_ms);

#endif
