/*
 * tp_link.h - our DEALERs toward a peer, and the outbound data path.
 *
 * A link is one control DEALER and one data DEALER (a probe has only the
 * control one), each with routing id "<lane>:<this node>:<session id>",
 * ZMQ_IMMEDIATE, ZMQ_LINGER 0, CURVE client keys, and a monitor PAIR that
 * receives its socket events. Control frames wait in the link until the
 * DEALER takes them; data waits on the peer as items until a flush packs
 * them into one batch per peer (docs/transport.md, "Batching").
 *
 * Everything here runs on the I/O thread.
 */
#ifndef GV_TP_LINK_H
#define GV_TP_LINK_H

#include "transport/tp_impl.h"

/* Opens a link to address (a fresh session id; both lanes when
 * with_data). The server key is the cluster key, or peer_name's
 * allow-listed key. False (logged) when it cannot be made. */
bool gv_tp_link_open(gv_tp *tp, gv_tp_link *link, const char *peer_name, const char *address,
                     bool with_data);

/* Closes both DEALERs and their monitors; what they hold lingers up to
 * linger_ms (0: dropped), and what the link still holds is dropped. */
void gv_tp_link_close(gv_tp *tp, gv_tp_link *link, int linger_ms);

/* Queues one control envelope (encoded as a one-envelope batch) and tries
 * to send it. */
void gv_tp_link_send_control(gv_tp *tp, gv_tp_link *link, const gv_tp_env *env);

/* Retries control frames and a blocked data batch on link's DEALERs. */
void gv_tp_link_pump(gv_tp *tp, gv_tp_link *link);

/* Takes an item from the MPSC queue: queued on its peer, or freed if the
 * session it was accepted in is gone. */
void gv_tp_out_enqueue(gv_tp *tp, gv_tp_item *item);

/* One batch per peer with data waiting (more when the batch limit cuts). */
void gv_tp_out_flush(gv_tp *tp);

/* Packs p's waiting items into batches until ZeroMQ refuses one (kept
 * and retried first). */
void gv_tp_peer_flush(gv_tp *tp, gv_tp_peer *p);

/* Flushes p, waiting for room until deadline; returns the sequence number
 * of the last data envelope ZeroMQ has taken (for the goodbye). */
uint64_t gv_tp_peer_drain(gv_tp *tp, gv_tp_peer *p, uint64_t deadline);

/* Frees what p has waiting. */
void gv_tp_peer_drop_pending(gv_tp *tp, gv_tp_peer *p);

/* Frees an item, taking its bytes off its peer's count. */
void gv_tp_item_free(gv_tp *tp, gv_tp_item *item);

#endif
