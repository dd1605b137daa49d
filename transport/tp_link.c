#include "transport/tp_link.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const int s_monitor_events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;

static void s_setopt(void *s, int opt, const void *v, size_t len, const char *name)
{
    /* These options are valid for a DEALER; a refusal is a bug. */
    if (zmq_setsockopt(s, opt, v, len) != 0)
        gv_panic("zmq_setsockopt(%s): %s", name, zmq_strerror(errno));
}

static void s_setint(void *s, int opt, int v, const char *name)
{
    s_setopt(s, opt, &v, sizeof v, name);
}

/* A DEALER with routing id "<lane>:<node>:<sid>" dialling address with
 * CURVE, and the PAIR that receives its monitor events. */
static bool s_dealer(gv_tp *tp, char lane, uint64_t sid, const char *server_key,
                     const char *address, void **sock, void **mon)
{
    *sock = *mon = NULL;
    void *s = zmq_socket(tp->zctx, ZMQ_DEALER);
    if (!s) {
        gv_log(GV_LOG_ERROR, "transport", "socket_failed", "error=\"%s\"", zmq_strerror(errno));
        return false;
    }
    char rid[GV_TP_MAX_NODE_BYTES + 24];
    int n = snprintf(rid, sizeof rid, "%c:%s:%016" PRIx64, lane, tp->node, sid);
    s_setopt(s, ZMQ_ROUTING_ID, rid, (size_t)n, "ZMQ_ROUTING_ID");
    s_setint(s, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
    s_setint(s, ZMQ_LINGER, 0, "ZMQ_LINGER");
    s_setint(s, ZMQ_SNDHWM, GV_TP_DEALER_HWM, "ZMQ_SNDHWM");
    /* A DEALER never receives: a server that talks back is cut off (the
     * bound must still admit CURVE's handshake commands). */
    s_setint(s, ZMQ_RCVHWM, 1, "ZMQ_RCVHWM");
    int64_t small = 64 * 1024;
    s_setopt(s, ZMQ_MAXMSGSIZE, &small, sizeof small, "ZMQ_MAXMSGSIZE");
    s_setint(s, ZMQ_HANDSHAKE_IVL, (int)tp->nodedown_ms, "ZMQ_HANDSHAKE_IVL");
    s_setopt(s, ZMQ_CURVE_SERVERKEY, server_key, GV_TP_Z85_LEN, "ZMQ_CURVE_SERVERKEY");
    s_setopt(s, ZMQ_CURVE_PUBLICKEY, tp->keys->public_z85, GV_TP_Z85_LEN, "ZMQ_CURVE_PUBLICKEY");
    s_setopt(s, ZMQ_CURVE_SECRETKEY, tp->keys->secret_z85, GV_TP_Z85_LEN, "ZMQ_CURVE_SECRETKEY");

    char ep[64];
    snprintf(ep, sizeof ep, "inproc://gv-mon-%c-%016" PRIx64, lane, sid);
    if (zmq_socket_monitor(s, ep, s_monitor_events) != 0)
        gv_panic("zmq_socket_monitor: %s", zmq_strerror(errno));
    void *m = zmq_socket(tp->zctx, ZMQ_PAIR);
    if (!m || zmq_connect(m, ep) != 0)
        gv_panic("monitor PAIR: %s", zmq_strerror(errno));
    s_setint(m, ZMQ_LINGER, 0, "ZMQ_LINGER");

    char target[GV_TP_ADDR_MAX + 8];
    snprintf(target, sizeof target, "tcp://%s", address);
    if (zmq_connect(s, target) != 0) {
        gv_log(GV_LOG_WARN, "transport", "connect_failed", "address=%s error=\"%s\"", address,
               zmq_strerror(errno));
        zmq_socket_monitor(s, NULL, 0);
        zmq_close(s);
        zmq_close(m);
        return false;
    }
    *sock = s;
    *mon = m;
    return true;
}

static void s_close_dealer(void **sock, void **mon, int linger_ms)
{
    if (*sock) {
        zmq_socket_monitor(*sock, NULL, 0);
        if (linger_ms > 0)
            zmq_setsockopt(*sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zmq_close(*sock);
        *sock = NULL;
    }
    if (*mon) {
        zmq_close(*mon);
        *mon = NULL;
    }
}

void gv_tp_link_close(gv_tp *tp, gv_tp_link *link, int linger_ms)
{
    s_close_dealer(&link->ctl, &link->ctl_mon, linger_ms);
    s_close_dealer(&link->data, &link->data_mon, linger_ms);
    while (link->ctl_head) {
        gv_tp_frame *f = link->ctl_head;
        link->ctl_head = f->next;
        gv_free(f);
    }
    link->ctl_tail = NULL;
    if (link->has_blocked) {
        zmq_msg_close(&link->blocked);
        link->has_blocked = false;
    }
    link->open = false;
    tp->poll_dirty = true;
}

/* The key a peer's ROUTER proves: the cluster key, or its allow-listed
 * key. NULL when it has none. */
static const char *s_server_key(gv_tp *tp, const char *name)
{
    if (!tp->keys->node_keys)
        return tp->keys->public_z85;
    return name ? gv_tp_allowlist_key_of(tp->keys->allow, name) : NULL;
}

bool gv_tp_link_open(gv_tp *tp, gv_tp_link *link, const char *peer_name, const char *address,
                     bool with_data)
{
    memset(link, 0, sizeof *link);
    const char *key = s_server_key(tp, peer_name);
    if (!key) {
        gv_log(GV_LOG_WARN, "transport", "dial_refused", "peer=%s reason=not_allow_listed",
               peer_name ? peer_name : "?");
        return false;
    }
    link->sid = ++tp->next_sid;
    if (!s_dealer(tp, 'c', link->sid, key, address, &link->ctl, &link->ctl_mon))
        return false;
    if (with_data && !s_dealer(tp, 'd', link->sid, key, address, &link->data, &link->data_mon)) {
        s_close_dealer(&link->ctl, &link->ctl_mon, 0);
        return false;
    }
    link->open = true;
    tp->poll_dirty = true;
    return true;
}

void gv_tp_link_pump(gv_tp *tp, gv_tp_link *link)
{
    while (link->ctl_head && link->ctl) {
        gv_tp_frame *f = link->ctl_head;
        if (zmq_send(link->ctl, f->data, f->len, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            gv_log(GV_LOG_WARN, "transport", "send_failed", "lane=c error=\"%s\"",
                   zmq_strerror(errno));
        }
        link->ctl_head = f->next;
        if (!link->ctl_head)
            link->ctl_tail = NULL;
        gv_free(f);
    }
    if (link->has_blocked && link->data) {
        if (zmq_msg_send(&link->blocked, link->data, ZMQ_DONTWAIT) >= 0) {
            link->has_blocked = false;
        } else if (errno != EAGAIN && errno != EINTR) {
            gv_log(GV_LOG_WARN, "transport", "send_failed", "lane=d error=\"%s\"",
                   zmq_strerror(errno));
            zmq_msg_close(&link->blocked);
            link->has_blocked = false;
        }
    }
}

/* Queues one control envelope on link and tries to send it. */
void gv_tp_link_send_control(gv_tp *tp, gv_tp_link *link, const gv_tp_env *env)
{
    uint8_t *buf;
    size_t len;
    if (gv_tp_encode_batch(0, env, 1, &buf, &len) != GROVE_OK)
        gv_panic("transport: cannot encode its own %s envelope", gv_tp_kind_name(env->kind));
    gv_tp_frame *f = gv_malloc(sizeof *f + len);
    f->next = NULL;
    f->len = len;
    memcpy(f->data, buf, len);
    gv_free(buf);
    if (link->ctl_tail)
        link->ctl_tail->next = f;
    else
        link->ctl_head = f;
    link->ctl_tail = f;
    gv_tp_link_pump(tp, link);
}

void gv_tp_item_free(gv_tp *tp, gv_tp_item *item)
{
    if (item->charged) {
        gv_tp_slot *slot = gv_tp_slot_find(tp, item->to);
        if (slot)
            /* Relaxed: the count is a bound for senders, not a fence. */
            atomic_fetch_sub_explicit(&slot->queued, (int64_t)item->len, memory_order_relaxed);
    }
    gv_free(item);
}

void gv_tp_peer_drop_pending(gv_tp *tp, gv_tp_peer *p)
{
    while (p->out_head) {
        gv_tp_item *it = p->out_head;
        p->out_head = it->next;
        gv_tp_item_free(tp, it);
    }
    p->out_tail = NULL;
}

void gv_tp_out_enqueue(gv_tp *tp, gv_tp_item *item)
{
    gv_tp_slot *slot = gv_tp_slot_find(tp, item->to);
    gv_tp_peer *p = slot ? slot->peer : NULL;
    if (!p || p->state != GV_TP_PEER_UP || item->gen != p->gen) {
        /* Accepted in a session that has ended since: lost with it (its
         * nodedown has been or will be told). */
        gv_tp_item_free(tp, item);
        return;
    }
    item->next = NULL;
    if (p->out_tail)
        p->out_tail->next = item;
    else
        p->out_head = item;
    p->out_tail = item;
    if (!p->in_flush_list) {
        p->in_flush_list = true;
        p->flush_next = tp->flush_list;
        tp->flush_list = p;
    }
}

/* Packs what p has waiting into batches and hands them to its data DEALER
 * until ZeroMQ refuses one (which is kept and retried first). */
void gv_tp_peer_flush(gv_tp *tp, gv_tp_peer *p)
{
    gv_tp_link *link = &p->link;
    if (link->has_blocked)
        gv_tp_link_pump(tp, link);
    while (p->out_head && !link->has_blocked && link->data) {
        uint8_t header[GV_TP_BATCH_HEADER_MAX];
        size_t hlen = gv_tp_batch_header(header, p->tx_seq);
        size_t size = hlen, count = 0;
        gv_tp_item *end = p->out_head;
        while (end && (count == 0 || size + end->len <= GV_TP_BATCH_BYTES)) {
            size += end->len;
            count++;
            end = end->next;
        }
        zmq_msg_t msg;
        if (zmq_msg_init_size(&msg, size) != 0)
            gv_panic("zmq_msg_init_size(%zu): %s", size, zmq_strerror(errno));
        uint8_t *out = zmq_msg_data(&msg);
        memcpy(out, header, hlen);
        size_t off = hlen;
        while (p->out_head != end) {
            gv_tp_item *it = p->out_head;
            p->out_head = it->next;
            memcpy(out + off, it->data, it->len);
            off += it->len;
            gv_tp_item_free(tp, it);
        }
        if (!p->out_head)
            p->out_tail = NULL;
        p->tx_seq += count;
        atomic_fetch_add_explicit(&tp->stats.batches_sent, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&tp->stats.envelopes_sent, count, memory_order_relaxed);
        if (zmq_msg_send(&msg, link->data, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                zmq_msg_init(&link->blocked);
                zmq_msg_move(&link->blocked, &msg);
                link->has_blocked = true;
                link->blocked_seq = p->tx_seq - count;
            } else {
                gv_log(GV_LOG_WARN, "transport", "send_failed", "peer=%s lane=d error=\"%s\"",
                       p->name, zmq_strerror(errno));
            }
            zmq_msg_close(&msg);
        }
    }
}

void gv_tp_out_flush(gv_tp *tp)
{
    gv_tp_peer *p = tp->flush_list;
    tp->flush_list = NULL;
    while (p) {
        gv_tp_peer *next = p->flush_next;
        p->in_flush_list = false;
        p->flush_next = NULL;
        if (p->state == GV_TP_PEER_UP)
            gv_tp_peer_flush(tp, p);
        else
            gv_tp_peer_drop_pending(tp, p);
        if (p->out_head && !p->in_flush_list) {
            /* Blocked: retried when the DEALER can take more. */
            p->in_flush_list = true;
            p->flush_next = tp->flush_list;
            tp->flush_list = p;
        }
        p = next;
    }
}

/* Hands everything p has waiting to its data DEALER, waiting for room
 * until deadline. Returns the sequence number of the last data envelope
 * ZeroMQ has taken. */
uint64_t gv_tp_peer_drain(gv_tp *tp, gv_tp_peer *p, uint64_t deadline)
{
    gv_tp_link *link = &p->link;
    for (;;) {
        gv_tp_peer_flush(tp, p);
        if (!link->has_blocked || !link->data)
            return p->tx_seq - 1;
        uint64_t now = gv_now_ms();
        if (now >= deadline)
            return link->blocked_seq - 1;
        zmq_pollitem_t it = {.socket = link->data, .events = ZMQ_POLLOUT};
        long wait = (long)(deadline - now);
        zmq_poll(&it, 1, wait < 10 ? wait : 10);
    }
}
