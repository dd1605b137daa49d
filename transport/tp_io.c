#include "transport/tp_io.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_spin.h"
#include "base/gv_thread.h"
#include "transport/tp_link.h"
#include "transport/tp_session.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Work per loop turn: at most this many ROUTER messages or items taken
 * from the outbound queue, and at most BURST_MS of either, so neither
 * direction starves the other and timers (heartbeats) run often. */
#define ROUTER_BURST 256
#define QUEUE_BURST 16384
#define BURST_MS 20
/* After handing inbound messages to mailboxes the thread spins up to this
 * long for the answers before it sleeps (learned, base/gv_spin.h): in a
 * request/response the answer comes back ~10-20 us later, and catching
 * it spinning saves the worker a wake-up write and this thread a sleep
 * and a wake-up, the largest part of a remote round trip after ZeroMQ's
 * own. */
#define REPLY_SPIN_NS 40000u

/* What a poll item is. */
enum { POLL_WAKE, POLL_ZAP, POLL_ROUTER, POLL_MON, POLL_OUT };

/*
 * The loop waits in poll(2) on the wake-up pipe and on each ZeroMQ
 * socket's ZMQ_FD, not in zmq_poll: zmq_poll asks every socket for
 * ZMQ_EVENTS twice per call (each a getpid and a poll of its own), which
 * cost more than the rest of a quiet turn. ZMQ_FD only says "this socket
 * has commands to process", so a socket is waited on by its fd only while
 * it is *armed*: ZMQ_EVENTS (or a receive that failed with EAGAIN) last
 * found nothing of interest, and nothing has touched the socket since.
 * From then on anything new reaches it as a command and wakes the fd. A
 * socket whose fd fired, or that was used and not read empty, is asked
 * for ZMQ_EVENTS again before the thread may sleep. The DEALERs' POLLOUT
 * items (rare: output blocked) are asked every turn.
 */
typedef struct poll_tag {
    int what;
    gv_tp_peer *peer;   /* POLL_MON / POLL_OUT of a peer link */
    gv_tp_probe *probe; /* ... or of a probe */
    void *sock;         /* NULL: a plain fd (the pipe) */
    short events;       /* ZMQ_POLLIN / ZMQ_POLLOUT wanted */
    short revents;      /* of those, what ZMQ_EVENTS last reported */
    bool armed;
} poll_tag;

typedef struct poll_set {
    struct pollfd *fds;
    poll_tag *tags;
    size_t n, cap;
    size_t n_base; /* items kept across turns (pipe, ZAP, ROUTER, monitors) */
} poll_set;

static void s_add(poll_set *ps, void *sock, int fd, short events, poll_tag tag)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->fds = gv_realloc(ps->fds, ps->cap * sizeof *ps->fds);
        ps->tags = gv_realloc(ps->tags, ps->cap * sizeof *ps->tags);
    }
    if (sock) {
        size_t len = sizeof fd;
        if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
            gv_panic("zmq_getsockopt(ZMQ_FD): %s", zmq_strerror(errno));
    }
    ps->fds[ps->n] = (struct pollfd){.fd = fd, .events = POLLIN};
    tag.sock = sock;
    tag.events = events;
    tag.revents = 0;
    tag.armed = false;
    ps->tags[ps->n] = tag;
    ps->n++;
}

static void s_add_monitors(poll_set *ps, gv_tp_link *link, gv_tp_peer *peer, gv_tp_probe *probe)
{
    if (!link->open)
        return;
    poll_tag mon = {.what = POLL_MON, .peer = peer, .probe = probe};
    if (link->ctl_mon)
        s_add(ps, link->ctl_mon, 0, ZMQ_POLLIN, mon);
    if (link->data_mon)
        s_add(ps, link->data_mon, 0, ZMQ_POLLIN, mon);
}

static void s_add_outputs(poll_set *ps, gv_tp_link *link, gv_tp_peer *peer, gv_tp_probe *probe)
{
    if (!link->open)
        return;
    poll_tag out = {.what = POLL_OUT, .peer = peer, .probe = probe};
    if (link->ctl && link->ctl_head)
        s_add(ps, link->ctl, 0, ZMQ_POLLOUT, out);
    if (link->data && link->has_blocked)
        s_add(ps, link->data, 0, ZMQ_POLLOUT, out);
}

/* The items that stay from turn to turn: rebuilt (and disarmed) when a
 * link opened or closed. */
static void s_build_base(gv_tp *tp, poll_set *ps)
{
    ps->n = 0;
    s_add(ps, NULL, tp->wake_r, 0, (poll_tag){.what = POLL_WAKE});
    s_add(ps, tp->zap.sock, 0, ZMQ_POLLIN, (poll_tag){.what = POLL_ZAP});
    s_add(ps, tp->router, 0, ZMQ_POLLIN, (poll_tag){.what = POLL_ROUTER});
    for (size_t i = 0; i < tp->n_peers; i++)
        s_add_monitors(ps, &tp->peers[i]->link, tp->peers[i], NULL);
    for (size_t i = 0; i < tp->n_probes; i++)
        s_add_monitors(ps, &tp->probes[i]->link, NULL, tp->probes[i]);
    ps->n_base = ps->n;
    tp->poll_dirty = false;
}

/* The base items, then this turn's DEALERs with output waiting. */
static void s_build(gv_tp *tp, poll_set *ps)
{
    if (tp->poll_dirty)
        s_build_base(tp, ps);
    ps->n = ps->n_base;
    for (size_t i = 0; i < tp->n_peers; i++)
        s_add_outputs(ps, &tp->peers[i]->link, tp->peers[i], NULL);
    for (size_t i = 0; i < tp->n_probes; i++)
        s_add_outputs(ps, &tp->probes[i]->link, NULL, tp->probes[i]);
}

/* Asks a socket for ZMQ_EVENTS (which also processes its commands): sets
 * revents, and arms it when nothing wanted is there. */
static void s_refresh(poll_tag *tag)
{
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt(tag->sock, ZMQ_EVENTS, &ev, &len) != 0)
        ev = 0; /* a closing context: nothing more will come */
    tag->revents = (short)(ev & tag->events);
    tag->armed = tag->revents == 0;
}

void gv_tp_io_wake(gv_tp *tp)
{
    /* seq_cst load and exchange: with the I/O thread's store of `asleep`
     * and its seq_cst emptiness check (and the push's seq_cst exchange),
     * either the thread sees the new item or this sees it asleep. The
     * exchange makes one sender, not all, pay for the write. */
    if (atomic_load_explicit(&tp->asleep, memory_order_seq_cst) &&
        atomic_exchange_explicit(&tp->asleep, false, memory_order_seq_cst))
        gv_tp_io_kick(tp);
}

void gv_tp_io_kick(gv_tp *tp)
{
    char b = 1;
    /* A full pipe already holds a wake-up. */
    ssize_t n = write(tp->wake_w, &b, 1);
    (void)n;
}

static void s_drain_pipe(gv_tp *tp)
{
    char buf[64];
    while (read(tp->wake_r, buf, sizeof buf) > 0) {
    }
}

/* ---- the ROUTER ------------------------------------------------------------ */

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<lane>:<node>:<16 hex digits>" */
static bool s_parse_rid(const uint8_t *rid, size_t len, char *lane, const char **node,
                        size_t *node_len, uint64_t *sid)
{
    if (len < 2 + 3 + 1 + 16 || (rid[0] != 'c' && rid[0] != 'd') || rid[1] != ':' ||
        rid[len - 17] != ':')
        return false;
    uint64_t v = 0;
    for (size_t i = len - 16; i < len; i++) {
        int h = s_hex((char)rid[i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint64_t)h;
    }
    if (v == 0)
        return false;
    *lane = (char)rid[0];
    *node = (const char *)rid + 2;
    *node_len = len - 2 - 17;
    *sid = v;
    return gv_tp_valid_node_name(*node, *node_len);
}

static void s_on_control(gv_tp *tp, const char *node, size_t node_len, uint64_t sid,
                         const char *user, const void *body, size_t size)
{
    gv_tp_batch b;
    gv_tp_proto_error err;
    if (gv_tp_decode(&tp->dec, GV_TP_LANE_CONTROL, body, size, &b, &err) != GROVE_OK) {
        char reason[200];
        snprintf(reason, sizeof reason, "control envelope %zu: %s", err.index, err.reason);
        gv_tp_session_bad_frame(tp, node, node_len, sid, reason);
        return;
    }
    for (size_t i = 0; i < b.n; i++)
        gv_tp_session_control(tp, node, node_len, sid, user, &b.envs[i]);
}

/* Reads one message from the ROUTER; false when none is waiting. */
static bool s_router_one(gv_tp *tp)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, tp->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return false;
    }
    zmq_msg_init(&body);
    bool have_body = false, extra = false;
    if (zmq_msg_more(&id)) {
        have_body = zmq_msg_recv(&body, tp->router, 0) >= 0;
        /* More frames: a protocol error; drain them. */
        bool more = have_body && zmq_msg_more(&body);
        extra = more;
        while (more) {
            zmq_msg_t junk;
            zmq_msg_init(&junk);
            more = zmq_msg_recv(&junk, tp->router, 0) >= 0 && zmq_msg_more(&junk);
            zmq_msg_close(&junk);
        }
    }
    char lane;
    const char *node;
    size_t node_len;
    uint64_t sid;
    if (!s_parse_rid(zmq_msg_data(&id), zmq_msg_size(&id), &lane, &node, &node_len, &sid)) {
        atomic_fetch_add_explicit(&tp->stats.protocol_errors, 1, memory_order_relaxed);
        gv_log(GV_LOG_WARN, "transport", "bad_routing_id", "bytes=%zu", zmq_msg_size(&id));
    } else if (!have_body || extra) {
        gv_tp_session_bad_frame(tp, node, node_len, sid,
                                extra ? "more than one frame" : "no frame");
    } else {
        const char *user = zmq_msg_gets(&body, "User-Id");
        if (!user)
            user = "";
        if (gv_log_enabled(GV_LOG_TRACE))
            gv_log(GV_LOG_TRACE, "transport", "frame",
                   "lane=%c peer=%.*s session=%016" PRIx64 " bytes=%zu user=%s", lane,
                   (int)node_len, node, sid, zmq_msg_size(&body), user);
        if (lane == 'c')
            s_on_control(tp, node, node_len, sid, user, zmq_msg_data(&body), zmq_msg_size(&body));
        else
            gv_tp_session_data(tp, node, node_len, sid, user, zmq_msg_data(&body),
                               zmq_msg_size(&body));
    }
    zmq_msg_close(&body);
    zmq_msg_close(&id);
    return true;
}

/* ---- monitors ------------------------------------------------------------------- */

static void s_monitor(gv_tp *tp, const poll_tag *tag)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, tag->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&m) >= 6)
            memcpy(&event, zmq_msg_data(&m), sizeof event);
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (more) { /* the endpoint frame */
            zmq_msg_init(&m);
            zmq_msg_recv(&m, tag->sock, 0);
            zmq_msg_close(&m);
        }
        if (gv_log_enabled(GV_LOG_TRACE))
            gv_log(GV_LOG_TRACE, "transport", "socket_event", "peer=%s event=0x%x",
                   tag->peer ? tag->peer->name : "(probe)", (unsigned)event);
        if (event == ZMQ_EVENT_CONNECTED || event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            continue;
        if (event == ZMQ_EVENT_DISCONNECTED && tag->peer && tag->peer->link.open) {
            /* A peer that stops sends its goodbye before it closes, but
             * ZeroMQ may tell us of the closed connection before we have
             * read the goodbye off the ROUTER: read what has arrived
             * first, so the session ends as `shutdown`, not as a lost
             * connection. That may close this very link. */
            uint64_t sid = tag->peer->link.sid;
            for (int i = 0; i < ROUTER_BURST && s_router_one(tp); i++)
                ;
            if (!tag->peer->link.open || tag->peer->link.sid != sid)
                return;
        }
        gv_tp_session_link_event(tp, tag->peer, tag->probe, event);
        /* The event may have closed this link (and its monitor). */
        if (tp->poll_dirty)
            return;
    }
}

/* ---- the loop ---------------------------------------------------------------------- */

/* Reads what waits on the ROUTER, within the budget; *read: whether it
 * read anything. Returns true when the ROUTER is empty (everything peers
 * sent so far has been seen). */
static bool s_router_burst(gv_tp *tp, bool *read)
{
    uint64_t until = gv_now_ms() + BURST_MS;
    *read = false;
    for (int i = 0; i < ROUTER_BURST; i++) {
        if (!s_router_one(tp))
            return true;
        *read = true;
        if (gv_now_ms() >= until)
            return false;
    }
    return false;
}

/* Moves what workers queued to the peers' outbound buffers, within the
 * budget. Returns whether it took anything. */
static bool s_take_queue(gv_tp *tp)
{
    uint64_t until = gv_now_ms() + BURST_MS;
    for (int taken = 0; taken < QUEUE_BURST;) {
        if ((taken & 255) == 255 && gv_now_ms() >= until)
            return true;
        bool busy;
        gv_tp_qnode *n = gv_tp_queue_pop(&tp->queue, &busy);
        if (!n) {
            if (!busy)
                return taken > 0;
            /* A sender is between its two stores: it finishes in a few
             * instructions unless descheduled, so yield rather than spin. */
            gv_thread_yield();
            continue;
        }
        gv_tp_out_enqueue(tp, (gv_tp_item *)n);
        taken++;
    }
    return true;
}

/* Before sleeping: the answers to what was just delivered (at
 * *delivered_ns) may come within the learned spin; wait for them here.
 * Returns whether the outbound queue has something. A spin that ran out
 * counts as a miss (it only watches the queue, so a steady inbound stream
 * with no answers must not keep it spinning). */
static bool s_spin_for_reply(gv_tp *tp, gv_spin *spin, uint64_t *delivered_ns)
{
    if (!*delivered_ns || !spin->ns)
        return false;
    uint64_t until = *delivered_ns + spin->ns;
    for (unsigned i = 1;; i++) {
        if (!gv_tp_queue_empty(&tp->queue))
            return true;
        gv_cpu_relax();
        if (i % 16 == 0 && gv_now_ns() >= until) {
            gv_spin_learn(spin, UINT64_MAX);
            *delivered_ns = 0;
            return false;
        }
    }
}

void *gv_tp_io_main(void *arg)
{
    gv_tp *tp = arg;
    poll_set ps = {0};
    tp->poll_dirty = true;
    tp->next_hb_ms = gv_now_ms() + tp->heartbeat_ms;
    tp->next_seed_ms = gv_now_ms();
    /* Whether the last turn read the ROUTER empty: silence is judged only
     * then, so a busy node does not mistake its own backlog for a silent
     * peer. */
    bool drained = true;
    /* When inbound messages were last handed over with no outbound since
     * (0: none waiting for an answer), and how long to spin for one. */
    uint64_t delivered_ns = 0;
    gv_spin reply_spin;
    gv_spin_init(&reply_spin, REPLY_SPIN_NS);
    while (!atomic_load_explicit(&tp->stopping, memory_order_acquire)) {
        uint64_t now = gv_now_ms();
        uint64_t next = gv_tp_session_timers(tp, now, drained);
        s_build(tp, &ps);
        /* Sockets not armed may hold something already: ask them first. */
        bool ready = false;
        for (size_t i = 1; i < ps.n; i++) {
            if (!ps.tags[i].armed)
                s_refresh(&ps.tags[i]);
            ready = ready || ps.tags[i].revents;
        }
        long timeout = next > now ? (long)(next - now) : 0;
        if (!drained || ready || (timeout && s_spin_for_reply(tp, &reply_spin, &delivered_ns)))
            timeout = 0;
        /* Dekker with gv_tp_io_wake: announce sleep, then look again. */
        atomic_store_explicit(&tp->asleep, true, memory_order_seq_cst);
        if (!gv_tp_queue_empty(&tp->queue))
            timeout = 0;
        int rc = poll(ps.fds, (nfds_t)ps.n, timeout > INT_MAX ? INT_MAX : (int)timeout);
        atomic_store_explicit(&tp->asleep, false, memory_order_seq_cst);
        if (rc < 0) {
            if (errno != EINTR) {
                gv_log(GV_LOG_ERROR, "transport", "poll_failed", "error=\"%s\"", strerror(errno));
                gv_sleep_ms(10);
            }
            continue;
        }
        if (ps.fds[0].revents)
            s_drain_pipe(tp);
        for (size_t i = 1; i < ps.n; i++)
            if (ps.fds[i].revents)
                s_refresh(&ps.tags[i]);
        if (ps.tags[1].revents) {
            gv_tp_zap_handle(&tp->zap); /* reads until EAGAIN: armed again */
            ps.tags[1].revents = 0;
            ps.tags[1].armed = true;
        }
        drained = true;
        if (ps.tags[2].revents) {
            bool read;
            drained = s_router_burst(tp, &read);
            if (read) {
                /* a delivery that had no answer at all: a long gap */
                uint64_t t = gv_now_ns();
                if (delivered_ns && t - delivered_ns > reply_spin.max)
                    gv_spin_learn(&reply_spin, t - delivered_ns);
                delivered_ns = t;
            }
            /* Read empty: armed. Not empty: asked again next turn. */
            ps.tags[2].revents = 0;
            ps.tags[2].armed = drained;
        }
        bool monitored = false;
        for (size_t i = 3; i < ps.n && !tp->poll_dirty; i++) {
            poll_tag *tag = &ps.tags[i];
            if (!tag->revents)
                continue;
            tag->revents = 0;
            if (tag->what == POLL_MON) {
                /* Read until EAGAIN; an event may read the ROUTER too. */
                s_monitor(tp, tag);
                tag->armed = true;
                monitored = true;
            } else if (tag->what == POLL_OUT) {
                gv_tp_link *link = tag->peer ? &tag->peer->link : &tag->probe->link;
                gv_tp_link_pump(tp, link);
                if (tag->peer && tag->peer->out_head && !tag->peer->in_flush_list) {
                    tag->peer->in_flush_list = true;
                    tag->peer->flush_next = tp->flush_list;
                    tp->flush_list = tag->peer;
                }
            }
        }
        if (monitored)
            ps.tags[2].armed = false;
        uint64_t t_router = gv_now_ms();
        if (s_take_queue(tp) && delivered_ns) {
            gv_spin_learn(&reply_spin, gv_now_ns() - delivered_ns);
            delivered_ns = 0;
        }
        uint64_t t_queue = gv_now_ms();
        gv_tp_out_flush(tp);
        uint64_t t_end = gv_now_ms();
        if (t_end - now > tp->heartbeat_ms && gv_log_enabled(GV_LOG_DEBUG))
            gv_log(GV_LOG_DEBUG, "transport", "slow_turn",
                   "ms=%" PRIu64 " io=%" PRIu64 " queue=%" PRIu64 " flush=%" PRIu64, t_end - now,
                   t_router - now, t_queue - t_router, t_end - t_queue);
    }

    /* Stopping: what is queued goes out first, then the goodbyes. */
    (void)s_take_queue(tp);
    int linger = tp->nodedown_ms < 1000 ? (int)tp->nodedown_ms : 1000;
    gv_tp_session_stop_all(tp, linger);
    gv_tp_zap_stop(&tp->zap);
    zmq_close(tp->router);
    tp->router = NULL;
    gv_free(ps.fds);
    gv_free(ps.tags);
    return NULL;
}
