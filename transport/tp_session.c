#include "transport/tp_session.h"

#include "transport/tp_link.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The longest wait between redials of a known member. */
#define REDIAL_MAX_MS 5000u
/* While alone, seeds are probed every seed_ms; once in a cluster, this
 * many times less often (to heal partitions whose members were forgotten). */
#define SEED_SLOWDOWN 15u

static bool s_live(const gv_tp_peer *p)
{
    return p->state == GV_TP_PEER_UP || p->state == GV_TP_PEER_LEAVING;
}

static const char *s_state_name(gv_tp_peer_state s)
{
    switch (s) {
    case GV_TP_PEER_IDLE:
        return "idle";
    case GV_TP_PEER_DIALING:
        return "dialing";
    case GV_TP_PEER_HANDSHAKE:
        return "handshake";
    case GV_TP_PEER_UP:
        return "up";
    case GV_TP_PEER_LEAVING:
        return "leaving";
    }
    return "?";
}

/* ======================================================================== */
/* peers                                                                     */
/* ======================================================================== */

gv_tp_peer *gv_tp_peer_find(gv_tp *tp, const char *name, size_t len, bool create)
{
    for (size_t i = 0; i < tp->n_peers; i++) {
        gv_tp_peer *p = tp->peers[i];
        if (p->name_len == len && memcmp(p->name, name, len) == 0)
            return p;
    }
    if (!create || !gv_tp_valid_node_name(name, len))
        return NULL;
    if (tp->n_peers >= GV_TP_MAX_PEERS) {
        gv_log(GV_LOG_ERROR, "transport", "too_many_peers", "max=%u", GV_TP_MAX_PEERS);
        return NULL;
    }
    grove_nodename nn;
    if (grove_nodename_intern(name, len, &nn) != GROVE_OK)
        return NULL;
    gv_tp_slot *slot = gv_tp_slot_claim(tp, nn);
    if (!slot)
        return NULL;
    gv_tp_peer *p = gv_calloc(1, sizeof *p);
    memcpy(p->name, name, len);
    p->name[len] = 0;
    p->name_len = len;
    p->nodename = nn;
    p->slot = slot;
    p->backoff_ms = tp->heartbeat_ms;
    slot->peer = p;
    tp->peers[tp->n_peers++] = p;
    return p;
}

static void s_hello_env(gv_tp *tp, gv_tp_env *e, gv_tp_kind kind, uint64_t session)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->u.hello.version = GV_TP_PROTO_VERSION;
    e->u.hello.minor = GV_TP_PROTO_MINOR;
    e->u.hello.node = tp->node;
    e->u.hello.creation = tp->creation;
    e->u.hello.session = session;
    e->u.hello.capabilities = tp->caps;
    e->u.hello.address = tp->address;
    e->u.hello.hidden = tp->hidden;
}

/* ======================================================================== */
/* session lifecycle                                                         */
/* ======================================================================== */

static void s_probe_close_sid(gv_tp *tp, uint64_t sid);

void gv_tp_session_end(gv_tp *tp, gv_tp_peer *p, gv_tp_down_reason reason)
{
    if (p->state == GV_TP_PEER_IDLE && !p->link.open)
        return;
    bool was_up = s_live(p);
    gv_tp_peer_state old = p->state;
    gv_tp_link_close(tp, &p->link, 0);
    gv_tp_peer_drop_pending(tp, p);
    uint64_t now = gv_now_ms();
    p->state = GV_TP_PEER_IDLE;
    p->sid_in = 0;
    p->goodbye_seq = 0;
    p->probe_echo = 0;
    if (p->member) {
        p->redial_ms = now + p->backoff_ms;
        p->backoff_ms = p->backoff_ms * 2 > REDIAL_MAX_MS ? REDIAL_MAX_MS : p->backoff_ms * 2;
        if (was_up || !p->down_since_ms)
            p->down_since_ms = now;
    }
    if (!was_up) {
        gv_log(GV_LOG_DEBUG, "transport", "handshake_abandoned", "peer=%s state=%s reason=%s",
               p->name, s_state_name(old), gv_tp_down_reason_name(reason));
        return;
    }
    /* Senders see the session gone before nodedown is told. Release:
     * pairs with the acquire load in gv_tp_send. */
    atomic_store_explicit(&p->slot->state, (uint64_t)p->gen << 1, memory_order_release);
    gv_log(GV_LOG_INFO, "transport", "nodedown", "peer=%s reason=%s", p->name,
           gv_tp_down_reason_name(reason));
    atomic_fetch_add_explicit(&tp->stats.sessions_closed, 1, memory_order_relaxed);
    if (tp->ops.on_nodedown)
        tp->ops.on_nodedown(tp->ops.ctx, p->nodename, reason);
}

static void s_send_heartbeat(gv_tp *tp, gv_tp_peer *p)
{
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_HEARTBEAT;
    e.u.heartbeat.echo = p->sid_in;
    e.u.heartbeat.run_queue = tp->load.run_queue;
    e.u.heartbeat.processes = tp->load.processes;
    gv_tp_link_send_control(tp, &p->link, &e);
}

static void s_send_membership(gv_tp *tp, gv_tp_peer *to)
{
    gv_tp_member_info *m = gv_malloc((tp->n_peers + 1) * sizeof *m);
    size_t n = 0;
    for (size_t i = 0; i < tp->n_peers; i++) {
        gv_tp_peer *p = tp->peers[i];
        if (p == to || p->state != GV_TP_PEER_UP || p->hidden || !p->address[0])
            continue;
        m[n].node = p->name;
        m[n].address = p->address;
        m[n].creation = p->creation;
        n++;
    }
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_MEMBERSHIP;
    e.u.membership.n = n;
    e.u.membership.members = m;
    gv_tp_link_send_control(tp, &to->link, &e);
    gv_free(m);
}

static void s_up(gv_tp *tp, gv_tp_peer *p)
{
    uint64_t now = gv_now_ms();
    p->state = GV_TP_PEER_UP;
    p->gen++;
    p->tx_seq = 1;
    p->rx_seq = 1;
    p->last_rx_ms = now;
    p->member = true;
    p->down_since_ms = 0;
    p->backoff_ms = tp->heartbeat_ms;
    atomic_store_explicit(&p->slot->creation, p->creation, memory_order_relaxed);
    /* Release: pairs with the acquire load in gv_tp_send, so a sender that
     * sees the session up also sees its generation. */
    atomic_store_explicit(&p->slot->state, ((uint64_t)p->gen << 1) | 1u, memory_order_release);
    /* The heartbeat is the peer's proof that we know its session. */
    s_send_heartbeat(tp, p);
    s_send_membership(tp, p);
    gv_log(GV_LOG_INFO, "transport", "nodeup", "peer=%s address=%s creation=%u", p->name,
           p->address, (unsigned)p->creation);
    atomic_fetch_add_explicit(&tp->stats.sessions_opened, 1, memory_order_relaxed);
    if (tp->ops.on_nodeup) {
        gv_tp_nodeinfo info = {.name = p->name,
                               .address = p->address,
                               .creation = p->creation,
                               .capabilities = p->caps,
                               .hidden = p->hidden};
        tp->ops.on_nodeup(tp->ops.ctx, p->nodename, p->creation, &info);
    }
}

/* Opens our link to p and sends a hello (answering probe_echo, if any). */
static void s_dial(gv_tp *tp, gv_tp_peer *p)
{
    if (p->link.open || !p->address[0])
        return;
    uint64_t now = gv_now_ms();
    if (!gv_tp_link_open(tp, &p->link, p->name, p->address, true)) {
        p->redial_ms = now + p->backoff_ms;
        p->backoff_ms = p->backoff_ms * 2 > REDIAL_MAX_MS ? REDIAL_MAX_MS : p->backoff_ms * 2;
        return;
    }
    gv_tp_env e;
    s_hello_env(tp, &e, GV_TP_HELLO, p->link.sid);
    e.u.hello.probe_echo = p->probe_echo;
    p->probe_echo = 0;
    gv_tp_link_send_control(tp, &p->link, &e);
    p->state = GV_TP_PEER_DIALING;
    p->deadline_ms = now + tp->nodedown_ms;
    gv_log(GV_LOG_DEBUG, "transport", "dial", "peer=%s address=%s session=%016" PRIx64, p->name,
           p->address, p->link.sid);
}

static bool s_user_ok(gv_tp *tp, const char *node, size_t len, const char *user)
{
    if (!tp->keys->node_keys)
        return true;
    if (user && strlen(user) == len && memcmp(user, node, len) == 0)
        return true;
    gv_log(GV_LOG_WARN, "transport", "identity_mismatch", "claimed=%.*s key_of=%s", (int)len, node,
           user ? user : "?");
    return false;
}

static void s_copy_address(gv_tp_peer *p, const char *address)
{
    if (address && address[0] && strlen(address) < sizeof p->address)
        snprintf(p->address, sizeof p->address, "%s", address);
}

static void s_on_hello(gv_tp *tp, const char *node, size_t len, uint64_t sid, const char *user,
                       const gv_tp_env *env)
{
    const struct gv_tp_hello *h = &env->u.hello;
    bool welcome = env->kind == GV_TP_WELCOME;
    if (strlen(h->node) != len || memcmp(h->node, node, len) != 0 || h->session != sid) {
        atomic_fetch_add_explicit(&tp->stats.protocol_errors, 1, memory_order_relaxed);
        gv_log(GV_LOG_WARN, "transport", "hello_mismatch",
               "routing_node=%.*s hello_node=%s reason=\"routing id and hello disagree\"", (int)len,
               node, h->node);
        return;
    }
    if (!s_user_ok(tp, node, len, user))
        return;
    if (h->version != GV_TP_PROTO_VERSION) {
        gv_log(GV_LOG_WARN, "transport", "peer_refused",
               "peer=%s reason=version version=%u supported=%u", h->node, (unsigned)h->version,
               GV_TP_PROTO_VERSION);
        return;
    }
    if (len == tp->node_len && memcmp(node, tp->node, len) == 0) {
        if (h->creation == tp->creation) {
            /* Our own probe or hello came back: a seed is this node. */
            s_probe_close_sid(tp, sid);
            gv_log(GV_LOG_DEBUG, "transport", "seed_is_self", "session=%016" PRIx64, sid);
        } else {
            gv_log(GV_LOG_ERROR, "transport", "peer_refused",
                   "peer=%s reason=\"another node uses this node's name\"", h->node);
        }
        return;
    }
    if (!h->address[0]) {
        gv_log(GV_LOG_WARN, "transport", "peer_refused", "peer=%s reason=\"no address\"", h->node);
        return;
    }
    gv_tp_peer *p = gv_tp_peer_find(tp, node, len, true);
    if (!p)
        return;
    if (h->creation == p->retired_creation)
        return; /* an incarnation that has been replaced */
    if (h->creation == p->creation && sid < p->sid_in_max)
        return; /* an older session of the same incarnation */

    if (!welcome && h->probe) {
        /* A probe: dial back unless already connected to this incarnation. */
        if (p->state != GV_TP_PEER_IDLE && h->creation == p->creation)
            return;
        if (p->state != GV_TP_PEER_IDLE) {
            p->retired_creation = p->creation;
            gv_tp_session_end(tp, p, GV_TP_DOWN_RESTARTED);
        }
        s_copy_address(p, h->address);
        p->hidden = h->hidden;
        p->member = true;
        p->probe_echo = sid;
        s_dial(tp, p);
        return;
    }
    if (welcome && (!p->link.open || h->echo != p->link.sid))
        return; /* answers a link we have closed */
    if (!welcome && sid == p->sid_in && p->state != GV_TP_PEER_IDLE)
        return; /* a repeated hello */

    bool new_incarnation = p->creation && h->creation != p->creation;
    bool new_session = p->sid_in != 0 && sid != p->sid_in;
    if ((new_incarnation || new_session) && s_live(p)) {
        /* The peer has moved to a new session, or restarted. */
        if (new_incarnation)
            p->retired_creation = p->creation;
        gv_tp_session_end(tp, p, new_incarnation ? GV_TP_DOWN_RESTARTED : GV_TP_DOWN_RECONNECTED);
        if (welcome)
            return; /* it answered the link that just closed; the redial starts over */
    } else if (new_incarnation) {
        /* Still handshaking: nothing was sent on the data lane, so the new
         * incarnation simply takes over the handshake. */
        p->retired_creation = p->creation;
    }

    uint64_t now = gv_now_ms();
    p->sid_in = sid;
    if (h->creation != p->creation)
        p->sid_in_max = 0;
    if (sid > p->sid_in_max)
        p->sid_in_max = sid;
    p->creation = h->creation;
    p->caps = h->capabilities;
    p->hidden = h->hidden;
    p->last_rx_ms = now;
    s_copy_address(p, h->address);

    if (welcome) {
        /* It knows our session (echo) and we now know its: up, unless its
         * first data batch or heartbeat on this session already said so
         * (both sides dialled at once and the welcome came last). */
        if (!s_live(p))
            s_up(tp, p);
        return;
    }
    if (h->probe_echo)
        s_probe_close_sid(tp, h->probe_echo);
    if (!p->link.open) {
        if (!gv_tp_link_open(tp, &p->link, p->name, p->address, true)) {
            p->sid_in = 0;
            return;
        }
    }
    gv_tp_env w;
    s_hello_env(tp, &w, GV_TP_WELCOME, p->link.sid);
    w.u.hello.echo = sid;
    gv_tp_link_send_control(tp, &p->link, &w);
    p->state = GV_TP_PEER_HANDSHAKE;
    p->deadline_ms = now + tp->nodedown_ms;
}

static void s_on_membership(gv_tp *tp, gv_tp_peer *from, const gv_tp_env *env)
{
    for (size_t i = 0; i < env->u.membership.n; i++) {
        const gv_tp_member_info *m = &env->u.membership.members[i];
        size_t len = strlen(m->node);
        if (len == tp->node_len && memcmp(m->node, tp->node, len) == 0)
            continue;
        gv_tp_peer *p = gv_tp_peer_find(tp, m->node, len, true);
        if (!p || p->state != GV_TP_PEER_IDLE || m->creation == p->retired_creation)
            continue;
        if (tp->keys->node_keys && !gv_tp_allowlist_key_of(tp->keys->allow, p->name))
            continue;
        s_copy_address(p, m->address);
        p->member = true;
        gv_log(GV_LOG_DEBUG, "transport", "member_learned", "peer=%s from=%s", p->name, from->name);
        s_dial(tp, p);
    }
}

static void s_on_goodbye(gv_tp *tp, gv_tp_peer *p, const gv_tp_env *env)
{
    p->member = false; /* it left: do not redial */
    gv_log(GV_LOG_INFO, "transport", "goodbye_received", "peer=%s last_seq=%" PRIu64, p->name,
           env->u.goodbye.last_seq);
    if (p->state != GV_TP_PEER_UP || p->rx_seq > env->u.goodbye.last_seq) {
        gv_tp_session_end(tp, p, GV_TP_DOWN_GOODBYE);
        return;
    }
    /* Its last data may still be on the data lane: wait for it. */
    p->state = GV_TP_PEER_LEAVING;
    p->goodbye_seq = env->u.goodbye.last_seq;
    p->deadline_ms = gv_now_ms() + tp->nodedown_ms;
}

void gv_tp_session_control(gv_tp *tp, const char *node, size_t len, uint64_t sid, const char *user,
                           const gv_tp_env *env)
{
    if (env->kind == GV_TP_HELLO || env->kind == GV_TP_WELCOME) {
        s_on_hello(tp, node, len, sid, user, env);
        return;
    }
    gv_tp_peer *p = gv_tp_peer_find(tp, node, len, false);
    if (!p || p->sid_in != sid || p->state == GV_TP_PEER_IDLE || p->state == GV_TP_PEER_DIALING)
        return; /* not a session we know: ignored until a new hello */
    if (!s_user_ok(tp, node, len, user))
        return;
    p->last_rx_ms = gv_now_ms();
    switch (env->kind) {
    case GV_TP_HEARTBEAT:
        atomic_store_explicit(&p->slot->run_queue, env->u.heartbeat.run_queue,
                              memory_order_relaxed);
        atomic_store_explicit(&p->slot->processes, env->u.heartbeat.processes,
                              memory_order_relaxed);
        if (p->state == GV_TP_PEER_HANDSHAKE && env->u.heartbeat.echo == p->link.sid)
            s_up(tp, p);
        break;
    case GV_TP_MEMBERSHIP:
        s_on_membership(tp, p, env);
        break;
    case GV_TP_GOODBYE:
        s_on_goodbye(tp, p, env);
        break;
    default:
        break;
    }
}

void gv_tp_session_bad_frame(gv_tp *tp, const char *node, size_t len, uint64_t sid,
                             const char *reason)
{
    atomic_fetch_add_explicit(&tp->stats.protocol_errors, 1, memory_order_relaxed);
    gv_tp_peer *p = gv_tp_peer_find(tp, node, len, false);
    bool current = p && p->sid_in == sid && p->state != GV_TP_PEER_IDLE;
    gv_log(GV_LOG_WARN, "transport", "bad_frame",
           "peer=%.*s session=%016" PRIx64 " current=%d reason=\"%s\"", (int)len, node, sid,
           current, reason);
    if (current)
        gv_tp_session_end(tp, p, GV_TP_DOWN_PROTOCOL_ERROR);
}

void gv_tp_session_data(gv_tp *tp, const char *node, size_t len, uint64_t sid, const char *user,
                        const void *body, size_t size)
{
    gv_tp_peer *p = gv_tp_peer_find(tp, node, len, false);
    if (!p || p->sid_in != sid || (p->state != GV_TP_PEER_HANDSHAKE && !s_live(p)))
        return; /* not a live session: ignored until a new hello */
    if (!s_user_ok(tp, node, len, user))
        return;
    gv_tp_batch b;
    gv_tp_proto_error err;
    if (gv_tp_decode(&tp->dec, GV_TP_LANE_DATA, body, size, &b, &err) != GROVE_OK) {
        char reason[200];
        snprintf(reason, sizeof reason, "envelope %zu: %s", err.index, err.reason);
        gv_tp_session_bad_frame(tp, node, len, sid, reason);
        return;
    }
    if (p->state == GV_TP_PEER_HANDSHAKE)
        s_up(tp, p); /* it sends data only once its side is up */
    if (b.base_seq != p->rx_seq) {
        atomic_fetch_add_explicit(&tp->stats.protocol_errors, 1, memory_order_relaxed);
        gv_log(GV_LOG_WARN, "transport", "sequence_gap",
               "peer=%s expected=%" PRIu64 " got=%" PRIu64, p->name, p->rx_seq, b.base_seq);
        gv_tp_session_end(tp, p, GV_TP_DOWN_SEQUENCE_GAP);
        return;
    }
    p->rx_seq += b.n;
    p->last_rx_ms = gv_now_ms();
    atomic_fetch_add_explicit(&tp->stats.batches_received, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tp->stats.envelopes_received, b.n, memory_order_relaxed);
    p->refused = false;
    if (tp->ops.on_envelope)
        for (size_t i = 0; i < b.n && !p->refused; i++)
            tp->ops.on_envelope(tp->ops.ctx, p->nodename, &b.envs[i]);
    if (p->refused) { /* a payload the layer above could not take */
        p->refused = false;
        atomic_fetch_add_explicit(&tp->stats.protocol_errors, 1, memory_order_relaxed);
        gv_tp_session_end(tp, p, GV_TP_DOWN_PROTOCOL_ERROR);
        return;
    }
    if (p->state == GV_TP_PEER_LEAVING && p->rx_seq > p->goodbye_seq)
        gv_tp_session_end(tp, p, GV_TP_DOWN_GOODBYE);
}

/* ======================================================================== */
/* monitor events                                                            */
/* ======================================================================== */

static void s_probe_close(gv_tp *tp, gv_tp_probe *probe);

void gv_tp_session_link_event(gv_tp *tp, gv_tp_peer *p, gv_tp_probe *probe, uint16_t event)
{
    bool failed = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                  event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                  event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (probe) {
        if (failed) {
            gv_log(GV_LOG_WARN, "transport", "seed_refused",
                   "address=%s reason=\"CURVE handshake failed (another cluster's key?)\"",
                   probe->address);
            s_probe_close(tp, probe);
        }
        return;
    }
    if (!p || !p->link.open)
        return;
    if (failed) {
        gv_log(GV_LOG_WARN, "transport", "peer_refused_key",
               "peer=%s address=%s reason=\"CURVE handshake failed\"", p->name, p->address);
        gv_tp_session_end(tp, p, GV_TP_DOWN_AUTH_FAILED);
    } else if (event == ZMQ_EVENT_DISCONNECTED && p->state != GV_TP_PEER_LEAVING) {
        gv_tp_session_end(tp, p, GV_TP_DOWN_CONNECTION_CLOSED);
    }
}

/* ======================================================================== */
/* probes                                                                    */
/* ======================================================================== */

static void s_probe_open(gv_tp *tp, size_t seed)
{
    gv_tp_probe *probe = gv_calloc(1, sizeof *probe);
    snprintf(probe->address, sizeof probe->address, "%s", tp->seeds[seed].address);
    probe->seed = seed;
    if (!gv_tp_link_open(tp, &probe->link, NULL, probe->address, false)) {
        gv_free(probe);
        return;
    }
    gv_tp_env e;
    s_hello_env(tp, &e, GV_TP_HELLO, probe->link.sid);
    e.u.hello.probe = true;
    gv_tp_link_send_control(tp, &probe->link, &e);
    probe->deadline_ms = gv_now_ms() + tp->nodedown_ms;
    tp->seeds[seed].probing = true;
    if (tp->n_probes == tp->cap_probes) {
        tp->cap_probes = tp->cap_probes ? tp->cap_probes * 2 : 4;
        tp->probes = gv_realloc(tp->probes, tp->cap_probes * sizeof *tp->probes);
    }
    tp->probes[tp->n_probes++] = probe;
    gv_log(GV_LOG_DEBUG, "transport", "probe", "address=%s session=%016" PRIx64, probe->address,
           probe->link.sid);
}

static void s_probe_close(gv_tp *tp, gv_tp_probe *probe)
{
    gv_tp_link_close(tp, &probe->link, 0);
    tp->seeds[probe->seed].probing = false;
    for (size_t i = 0; i < tp->n_probes; i++) {
        if (tp->probes[i] == probe) {
            tp->probes[i] = tp->probes[--tp->n_probes];
            break;
        }
    }
    gv_free(probe);
}

static void s_probe_close_sid(gv_tp *tp, uint64_t sid)
{
    for (size_t i = 0; i < tp->n_probes; i++) {
        if (tp->probes[i]->link.sid == sid) {
            s_probe_close(tp, tp->probes[i]);
            return;
        }
    }
}

static bool s_any_up(gv_tp *tp)
{
    for (size_t i = 0; i < tp->n_peers; i++)
        if (s_live(tp->peers[i]))
            return true;
    return false;
}

static void s_seed_round(gv_tp *tp)
{
    for (size_t i = 0; i < tp->n_seeds; i++) {
        gv_tp_seed *s = &tp->seeds[i];
        if (s->name[0]) {
            if (strcmp(s->name, tp->node) == 0)
                continue;
            gv_tp_peer *p = gv_tp_peer_find(tp, s->name, strlen(s->name), true);
            if (!p || p->state != GV_TP_PEER_IDLE || gv_now_ms() < p->redial_ms)
                continue;
            if (!p->address[0])
                s_copy_address(p, s->address);
            p->member = true;
            s_dial(tp, p);
        } else if (!s->probing) {
            s_probe_open(tp, i);
        }
    }
}

/* ======================================================================== */
/* timers                                                                    */
/* ======================================================================== */

static uint64_t s_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t gv_tp_session_timers(gv_tp *tp, uint64_t now, bool inbound_drained)
{
    uint64_t next = now + 1000;
    if (now >= tp->next_hb_ms) {
        if (tp->ops.load)
            tp->ops.load(tp->ops.ctx, &tp->load);
        for (size_t i = 0; i < tp->n_peers; i++)
            if (tp->peers[i]->state == GV_TP_PEER_UP)
                s_send_heartbeat(tp, tp->peers[i]);
        tp->next_hb_ms = now + tp->heartbeat_ms;
    }
    next = s_min(next, tp->next_hb_ms);

    for (size_t i = 0; i < tp->n_peers; i++) {
        gv_tp_peer *p = tp->peers[i];
        switch (p->state) {
        case GV_TP_PEER_DIALING:
        case GV_TP_PEER_HANDSHAKE:
            if (now >= p->deadline_ms) {
                gv_log(GV_LOG_INFO, "transport", "handshake_timeout", "peer=%s address=%s", p->name,
                       p->address);
                gv_tp_session_end(tp, p, GV_TP_DOWN_HEARTBEAT_TIMEOUT);
            } else {
                next = s_min(next, p->deadline_ms);
            }
            break;
        case GV_TP_PEER_UP:
            if (inbound_drained && now - p->last_rx_ms >= tp->nodedown_ms)
                gv_tp_session_end(tp, p, GV_TP_DOWN_HEARTBEAT_TIMEOUT);
            else
                next = s_min(next, p->last_rx_ms + tp->nodedown_ms);
            break;
        case GV_TP_PEER_LEAVING:
            if (now >= p->deadline_ms)
                gv_tp_session_end(tp, p, GV_TP_DOWN_GOODBYE);
            else
                next = s_min(next, p->deadline_ms);
            break;
        case GV_TP_PEER_IDLE:
            break;
        }
        if (p->state == GV_TP_PEER_IDLE && p->member) {
            /* (down_since_ms can be a little later than `now`, which was
             * read before this pass ended sessions: no subtraction.) */
            if (p->down_since_ms && now >= p->down_since_ms + tp->forget_ms) {
                p->member = false;
                gv_log(GV_LOG_INFO, "transport", "member_forgotten", "peer=%s", p->name);
            } else if (now >= p->redial_ms) {
                s_dial(tp, p);
            } else {
                next = s_min(next, p->redial_ms);
            }
        }
    }

    for (size_t i = 0; i < tp->n_probes;) {
        gv_tp_probe *probe = tp->probes[i];
        if (now >= probe->deadline_ms) {
            gv_log(GV_LOG_DEBUG, "transport", "probe_unanswered", "address=%s", probe->address);
            s_probe_close(tp, probe); /* moves the last probe to i */
        } else {
            next = s_min(next, probe->deadline_ms);
            i++;
        }
    }

    if (tp->n_seeds && now >= tp->next_seed_ms) {
        bool alone = !s_any_up(tp);
        s_seed_round(tp);
        tp->next_seed_ms = now + (alone ? tp->seed_ms : tp->seed_ms * SEED_SLOWDOWN);
    }
    if (tp->n_seeds)
        next = s_min(next, tp->next_seed_ms);
    return next;
}

/* ======================================================================== */
/* stopping                                                                  */
/* ======================================================================== */

void gv_tp_session_stop_all(gv_tp *tp, int linger_ms)
{
    uint64_t deadline = gv_now_ms() + (uint64_t)linger_ms;
    for (size_t i = 0; i < tp->n_peers; i++) {
        gv_tp_peer *p = tp->peers[i];
        bool was_up = s_live(p);
        if (p->state == GV_TP_PEER_UP) {
            /* The goodbye names the last envelope that left, so the peer
             * reports nodedown only after it has delivered it. */
            gv_tp_env e;
            memset(&e, 0, sizeof e);
            e.kind = GV_TP_GOODBYE;
            e.u.goodbye.reason = GV_TP_GOODBYE_SHUTDOWN;
            e.u.goodbye.last_seq = gv_tp_peer_drain(tp, p, deadline);
            e.u.goodbye.detail = "stopping";
            gv_tp_link_send_control(tp, &p->link, &e);
        }
        gv_tp_link_close(tp, &p->link, was_up ? linger_ms : 0);
        gv_tp_peer_drop_pending(tp, p);
        p->state = GV_TP_PEER_IDLE;
        p->sid_in = 0;
        if (was_up) {
            atomic_store_explicit(&p->slot->state, (uint64_t)p->gen << 1, memory_order_release);
            atomic_fetch_add_explicit(&tp->stats.sessions_closed, 1, memory_order_relaxed);
            gv_log(GV_LOG_INFO, "transport", "nodedown", "peer=%s reason=%s", p->name,
                   gv_tp_down_reason_name(GV_TP_DOWN_STOPPED));
            if (tp->ops.on_nodedown)
                tp->ops.on_nodedown(tp->ops.ctx, p->nodename, GV_TP_DOWN_STOPPED);
        }
    }
    while (tp->n_probes)
        s_probe_close(tp, tp->probes[0]);
    tp->flush_list = NULL;
    for (size_t i = 0; i < tp->n_peers; i++)
        tp->peers[i]->in_flush_list = false;
}

void gv_tp_refuse(gv_tp *tp, grove_nodename node)
{
    const char *name = grove_nodename_str(node);
    gv_tp_peer *p = gv_tp_peer_find(tp, name, strlen(name), false);
    if (p)
        p->refused = true;
}
