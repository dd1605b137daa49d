#include "transport/transport.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_rand.h"
#include "transport/tp_impl.h"
#include "transport/tp_io.h"
#include "transport/tp_link.h"
#include "transport/tp_session.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_HEARTBEAT_MS 250u
#define DEFAULT_NODEDOWN_MS 1500u
#define DEFAULT_FORGET_MS 60000u
#define DEFAULT_SEED_MS 2000u
#define DEFAULT_MAX_PAYLOAD (16u * 1024u * 1024u)
#define DEFAULT_OUT_BUFFER (16u * 1024u * 1024u)

const char *gv_tp_down_reason_name(gv_tp_down_reason r)
{
    switch (r) {
    case GV_TP_DOWN_CONNECTION_CLOSED:
        return "connection_closed";
    case GV_TP_DOWN_HEARTBEAT_TIMEOUT:
        return "net_tick_timeout";
    case GV_TP_DOWN_SEQUENCE_GAP:
        return "sequence_gap";
    case GV_TP_DOWN_PROTOCOL_ERROR:
        return "protocol_error";
    case GV_TP_DOWN_GOODBYE:
        return "shutdown";
    case GV_TP_DOWN_RECONNECTED:
        return "reconnected";
    case GV_TP_DOWN_RESTARTED:
        return "restarted";
    case GV_TP_DOWN_AUTH_FAILED:
        return "auth_failed";
    case GV_TP_DOWN_STOPPED:
        return "transport_stopped";
    }
    return "unknown";
}

/* ======================================================================== */
/* the slot table                                                            */
/* ======================================================================== */

static uint32_t s_slot_hash(grove_nodename node)
{
    return (node * 2654435761u) & (GV_TP_SLOTS - 1);
}

gv_tp_slot *gv_tp_slot_find(gv_tp *tp, grove_nodename node)
{
    if (node == 0)
        return NULL;
    for (uint32_t i = s_slot_hash(node), probes = 0; probes < GV_TP_SLOTS;
         i = (i + 1) & (GV_TP_SLOTS - 1), probes++) {
        /* Acquire: pairs with the release store in gv_tp_slot_claim, so
         * the slot's fields are initialised when its key is seen. */
        uint32_t key = atomic_load_explicit(&tp->slots[i].key, memory_order_acquire);
        if (key == node)
            return &tp->slots[i];
        if (key == 0)
            return NULL;
    }
    return NULL;
}

gv_tp_slot *gv_tp_slot_claim(gv_tp *tp, grove_nodename node)
{
    gv_tp_slot *found = gv_tp_slot_find(tp, node);
    if (found)
        return found;
    for (uint32_t i = s_slot_hash(node), probes = 0; probes < GV_TP_SLOTS;
         i = (i + 1) & (GV_TP_SLOTS - 1), probes++) {
        gv_tp_slot *s = &tp->slots[i];
        if (atomic_load_explicit(&s->key, memory_order_relaxed) != 0)
            continue;
        atomic_store_explicit(&s->state, 0, memory_order_relaxed);
        atomic_store_explicit(&s->creation, 0, memory_order_relaxed);
        atomic_store_explicit(&s->queued, 0, memory_order_relaxed);
        atomic_store_explicit(&s->run_queue, 0, memory_order_relaxed);
        atomic_store_explicit(&s->processes, 0, memory_order_relaxed);
        s->peer = NULL;
        /* Release: publishes the fields above (see gv_tp_slot_find). */
        atomic_store_explicit(&s->key, node, memory_order_release);
        return s;
    }
    return NULL;
}

/* ======================================================================== */
/* configuration                                                             */
/* ======================================================================== */

static bool s_port_ok(const char *p, size_t len)
{
    if (len == 0 || len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

/* Splits "host:port" (host may be "[v6]"), ":port" or "port". */
static bool s_split(const char *text, char *host, size_t host_cap, char *port, size_t port_cap,
                    const char *default_host, const char *default_port)
{
    size_t len = strlen(text);
    const char *colon = strrchr(text, ':');
    const char *bracket = text[0] == '[' ? strchr(text, ']') : NULL;
    if (colon && bracket && colon < bracket)
        colon = NULL; /* "[v6]" without a port */
    const char *h = text, *p = NULL;
    size_t hlen = len, plen = 0;
    if (colon) {
        hlen = (size_t)(colon - text);
        p = colon + 1;
        plen = len - hlen - 1;
    } else if (s_port_ok(text, len)) {
        hlen = 0;
        p = text;
        plen = len;
    }
    if (hlen == 0) {
        h = default_host;
        hlen = strlen(default_host);
    }
    if (!p) {
        p = default_port;
        plen = strlen(default_port);
    }
    if (hlen == 0 || hlen >= host_cap || !s_port_ok(p, plen) || plen >= port_cap)
        return false;
    for (size_t i = 0; i < hlen; i++)
        if (isspace((unsigned char)h[i]) || h[i] == '/')
            return false;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    memcpy(port, p, plen);
    port[plen] = 0;
    return true;
}

static bool s_wildcard(const char *host)
{
    return strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0;
}

/* One seed: "host[:port]" or "name@host[:port]". */
static bool s_parse_seed(const char *tok, size_t len, gv_tp_seed *out)
{
    char buf[GV_TP_ADDR_MAX + GV_TP_MAX_NODE_BYTES];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, tok, len);
    buf[len] = 0;
    memset(out, 0, sizeof *out);
    char *at = strchr(buf, '@');
    const char *hostport = buf;
    char port_default[8];
    snprintf(port_default, sizeof port_default, "%d", GV_TP_DEFAULT_PORT);
    char host[GV_TP_ADDR_MAX - 8], port[8];
    if (at) {
        /* name@host[:port]: the node name is name@host. */
        hostport = at + 1;
        if (!s_split(hostport, host, sizeof host, port, sizeof port, "", port_default))
            return false;
        size_t name_len = (size_t)(at - buf) + 1 + strlen(host);
        if (!gv_tp_valid_node_name(buf, name_len) || name_len >= sizeof out->name)
            return false;
        memcpy(out->name, buf, name_len);
        out->name[name_len] = 0;
    } else if (!s_split(hostport, host, sizeof host, port, sizeof port, "", port_default)) {
        return false;
    }
    snprintf(out->address, sizeof out->address, "%s:%s", host, port);
    return true;
}

static grove_err s_parse_seeds(gv_tp *tp, const char *text)
{
    if (!text)
        return GROVE_OK;
    size_t cap = 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0)
            continue;
        if (tp->n_seeds == cap) {
            cap = cap ? cap * 2 : 4;
            tp->seeds = gv_realloc(tp->seeds, cap * sizeof *tp->seeds);
        }
        gv_tp_seed *s = &tp->seeds[tp->n_seeds];
        if (!s_parse_seed(start, len, s)) {
            gv_log(GV_LOG_ERROR, "transport", "bad_seed", "seed=\"%.*s\"", (int)len, start);
            return GROVE_EINVAL;
        }
        if (tp->keys->node_keys && !s->name[0]) {
            gv_log(GV_LOG_ERROR, "transport", "bad_seed",
                   "seed=\"%.*s\" reason=\"with per-node keys a seed must be name@host[:port]\"",
                   (int)len, start);
            return GROVE_EINVAL;
        }
        tp->n_seeds++;
    }
    return GROVE_OK;
}

static bool s_env_uint(const char *name, unsigned *out)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return true;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n == 0 || n > 86400000ul) {
        gv_log(GV_LOG_ERROR, "transport", "bad_config", "variable=%s value=\"%s\"", name, v);
        return false;
    }
    if (*out == 0)
        *out = (unsigned)n;
    return true;
}

static void s_env_str(const char *name, const char **out)
{
    const char *v = getenv(name);
    if (!*out && v && *v)
        *out = v;
}

grove_err gv_tp_config_from_env(gv_tp_config *cfg)
{
    s_env_str("GROVE_LISTEN", &cfg->listen);
    s_env_str("GROVE_ADVERTISE", &cfg->advertise);
    s_env_str("GROVE_SEEDS", &cfg->seeds);
    bool ok = s_env_uint("GROVE_HEARTBEAT_MS", &cfg->heartbeat_ms) &&
              s_env_uint("GROVE_NODEDOWN_MS", &cfg->nodedown_ms) &&
              s_env_uint("GROVE_FORGET_MS", &cfg->forget_ms);
    return ok ? GROVE_OK : GROVE_EINVAL;
}

/* ======================================================================== */
/* start and stop                                                            */
/* ======================================================================== */

static void s_free(gv_tp *tp)
{
    if (tp->dec.arena.pb.alloc)
        gv_tp_decoder_fini(&tp->dec);
    if (tp->wake_r >= 0)
        close(tp->wake_r);
    if (tp->wake_w >= 0)
        close(tp->wake_w);
    for (size_t i = 0; i < tp->n_peers; i++)
        gv_free(tp->peers[i]);
    gv_free(tp->peers);
    gv_free(tp->probes);
    gv_free(tp->seeds);
    free(tp->slots);
    gv_free_aligned(tp);
}

static grove_err s_open_sockets(gv_tp *tp, const char *listen)
{
    char host[GV_TP_ADDR_MAX - 8], port[8];
    char port_default[8];
    snprintf(port_default, sizeof port_default, "%d", GV_TP_DEFAULT_PORT);
    if (!s_split(listen, host, sizeof host, port, sizeof port, "*", port_default)) {
        gv_log(GV_LOG_ERROR, "transport", "bad_config", "listen=\"%s\"", listen);
        return GROVE_EINVAL;
    }
    tp->zctx = zmq_ctx_new();
    if (!tp->zctx)
        return GROVE_EIO;
    /* The ZAP handler first: no CURVE socket may exist without it. */
    grove_err rc = gv_tp_zap_start(&tp->zap, tp->zctx, tp->keys);
    if (rc)
        return rc;
    tp->router = zmq_socket(tp->zctx, ZMQ_ROUTER);
    if (!tp->router)
        return GROVE_EIO;
    int one = 1, zero = 0;
    int64_t max = (int64_t)(tp->max_payload + GV_TP_FRAME_SLACK);
    if (zmq_setsockopt(tp->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) ||
        zmq_setsockopt(tp->router, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(tp->router, ZMQ_MAXMSGSIZE, &max, sizeof max)) {
        gv_log(GV_LOG_ERROR, "transport", "sockopt_refused", "error=\"%s\"", zmq_strerror(errno));
        return GROVE_EIO;
    }
    if (host[0] == '[')
        zmq_setsockopt(tp->router, ZMQ_IPV6, &one, sizeof one);
    rc = gv_tp_zap_secure_router(tp->router, tp->keys);
    if (rc)
        return rc;
    char ep[GV_TP_ADDR_MAX + 16];
    snprintf(ep, sizeof ep, "tcp://%s:%s", host, strcmp(port, "0") == 0 ? "*" : port);
    if (zmq_bind(tp->router, ep) != 0) {
        gv_log(GV_LOG_ERROR, "transport", "bind_failed", "endpoint=%s error=\"%s\"", ep,
               zmq_strerror(errno));
        return GROVE_EIO;
    }
    char last[GV_TP_ADDR_MAX + 16];
    size_t last_len = sizeof last;
    if (zmq_getsockopt(tp->router, ZMQ_LAST_ENDPOINT, last, &last_len) != 0)
        return GROVE_EIO;
    const char *colon = strrchr(last, ':');
    char bound_port[8];
    if (!colon || !s_port_ok(colon + 1, strlen(colon + 1)))
        return GROVE_EIO;
    snprintf(bound_port, sizeof bound_port, "%s", colon + 1);
    if (s_wildcard(host)) {
        /* Peers dial the host part of the node name (as Erlang's name@host). */
        const char *node_host = strchr(tp->node, '@') + 1;
        snprintf(tp->address, sizeof tp->address, "%.*s:%s", (int)(sizeof tp->address - 9),
                 node_host, bound_port);
    } else {
        snprintf(tp->address, sizeof tp->address, "%s:%s", host, bound_port);
    }
    return GROVE_OK;
}

static void s_close_sockets(gv_tp *tp)
{
    gv_tp_zap_stop(&tp->zap);
    if (tp->router) {
        zmq_close(tp->router);
        tp->router = NULL;
    }
    if (tp->zctx) {
        zmq_ctx_term(tp->zctx);
        tp->zctx = NULL;
    }
}

grove_err gv_tp_new(const gv_tp_config *cfg, const gv_tp_ops *ops, gv_tp **out)
{
    *out = NULL;
    if (!cfg || !cfg->node || !gv_tp_valid_node_name(cfg->node, strlen(cfg->node)) ||
        !cfg->creation || !cfg->keys) {
        gv_log(GV_LOG_ERROR, "transport", "bad_config",
               "reason=\"node (name@host), creation and keys are required\"");
        return GROVE_EINVAL;
    }
    gv_tp *tp = gv_calloc_aligned(sizeof *tp); /* alignas(64) members */
    tp->wake_r = tp->wake_w = -1;
    tp->node_len = strlen(cfg->node);
    memcpy(tp->node, cfg->node, tp->node_len + 1);
    tp->creation = cfg->creation;
    tp->keys = cfg->keys;
    if (ops)
        tp->ops = *ops;
    tp->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
    tp->nodedown_ms = cfg->nodedown_ms ? cfg->nodedown_ms : DEFAULT_NODEDOWN_MS;
    tp->forget_ms = cfg->forget_ms ? cfg->forget_ms : DEFAULT_FORGET_MS;
    tp->seed_ms = cfg->seed_ms ? cfg->seed_ms : DEFAULT_SEED_MS;
    tp->max_payload = cfg->max_payload ? cfg->max_payload : DEFAULT_MAX_PAYLOAD;
    tp->out_buffer = cfg->out_buffer ? cfg->out_buffer : DEFAULT_OUT_BUFFER;
    tp->caps = cfg->capabilities ? cfg->capabilities : GV_TP_CAP_DEFAULT;
    tp->hidden = cfg->hidden;
    if (grove_nodename_intern(tp->node, tp->node_len, &tp->self) != GROVE_OK) {
        gv_free_aligned(tp);
        return GROVE_EINVAL;
    }

    void *slots = NULL;
    if (posix_memalign(&slots, 64, GV_TP_SLOTS * sizeof(gv_tp_slot)) != 0)
        gv_panic("out of memory (transport slots)");
    memset(slots, 0, GV_TP_SLOTS * sizeof(gv_tp_slot));
    tp->slots = slots;
    tp->peers = gv_calloc(GV_TP_MAX_PEERS, sizeof *tp->peers);
    gv_tp_queue_init(&tp->queue);
    gv_tp_decoder_init(&tp->dec);
    /* Session ids: a random start, then a counter, so ids of one
     * incarnation only grow (stale hellos are recognised). */
    tp->next_sid = (gv_random_seed() >> 2) | 1u;

    grove_err rc = s_parse_seeds(tp, cfg->seeds);
    int fds[2];
    if (rc == GROVE_OK) {
        if (pipe(fds) != 0) {
            rc = GROVE_EIO;
        } else {
            tp->wake_r = fds[0];
            tp->wake_w = fds[1];
            for (int i = 0; i < 2; i++) {
                fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
                fcntl(fds[i], F_SETFD, FD_CLOEXEC);
            }
        }
    }
    if (rc == GROVE_OK)
        rc = s_open_sockets(tp, cfg->listen ? cfg->listen : "*:7946");
    if (rc == GROVE_OK && cfg->advertise) {
        char host[GV_TP_ADDR_MAX - 8], port[8];
        if (!s_split(cfg->advertise, host, sizeof host, port, sizeof port, "", "") ||
            strcmp(port, "0") == 0) {
            gv_log(GV_LOG_ERROR, "transport", "bad_config", "advertise=\"%s\"", cfg->advertise);
            rc = GROVE_EINVAL;
        } else {
            snprintf(tp->address, sizeof tp->address, "%s:%s", host, port);
        }
    }
    if (rc == GROVE_OK && !gv_thread_start(&tp->thread, "grove-io", gv_tp_io_main, tp))
        rc = GROVE_EIO;
    if (rc != GROVE_OK) {
        s_close_sockets(tp);
        s_free(tp);
        return rc;
    }
    gv_log(GV_LOG_INFO, "transport", "listening", "node=%s address=%s seeds=%zu keys=%s", tp->node,
           tp->address, tp->n_seeds, tp->keys->node_keys ? "node" : "cluster");
    *out = tp;
    return GROVE_OK;
}

void gv_tp_destroy(gv_tp **tpp)
{
    if (!tpp || !*tpp)
        return;
    gv_tp *tp = *tpp;
    *tpp = NULL;
    atomic_store_explicit(&tp->stopping, true, memory_order_release);
    gv_tp_io_kick(tp);
    gv_thread_join(&tp->thread);
    /* The I/O thread closed its sockets; lingering goodbyes finish here. */
    zmq_ctx_term(tp->zctx);
    tp->zctx = NULL;
    bool busy;
    gv_tp_qnode *n;
    while ((n = gv_tp_queue_pop(&tp->queue, &busy)) != NULL || busy)
        if (n)
            gv_tp_item_free(tp, (gv_tp_item *)n);
    s_free(tp);
}

/* ======================================================================== */
/* calls from any thread                                                     */
/* ======================================================================== */

static bool s_too_big(const gv_tp *tp, const gv_tp_env *env)
{
    size_t max = tp->max_payload;
    const union gv_tp_env_u *u = &env->u;
    switch (env->kind) {
    case GV_TP_SEND:
        return u->send.payload.len > max;
    case GV_TP_SEND_NAME:
        return u->send_name.payload.len > max;
    case GV_TP_EXIT:
        return u->exit.reason.len > max;
    case GV_TP_DOWN:
        return u->down.reason.len > max;
    case GV_TP_SPAWN_REQUEST:
        return u->spawn_request.arg.len > max;
    case GV_TP_SPAWN_REPLY:
        return u->spawn_reply.error.len > max;
    case GV_TP_INSPECT_REQUEST:
        return u->inspect_request.args.len > max;
    case GV_TP_INSPECT_REPLY:
        return u->inspect_reply.result.len > max;
    case GV_TP_REG_SYNC:
        return u->reg_sync.n > GV_TP_MAX_ITEMS;
    default:
        return false;
    }
}

static bool s_limited(gv_tp_kind k)
{
    return k == GV_TP_SEND || k == GV_TP_SEND_NAME || k == GV_TP_SPAWN_REQUEST ||
           k == GV_TP_INSPECT_REQUEST || k == GV_TP_INSPECT_REPLY;
}

grove_err gv_tp_send(gv_tp *tp, grove_nodename to, const gv_tp_env *env)
{
    if (atomic_load_explicit(&tp->stopping, memory_order_acquire))
        return GROVE_ECLOSED;
    if (!env || !gv_tp_kind_is_data(env->kind))
        return GROVE_EINVAL;
    if (s_too_big(tp, env))
        return GROVE_E2BIG;
    gv_tp_slot *slot = gv_tp_slot_find(tp, to);
    if (!slot)
        return GROVE_ENOCONN;
    /* Acquire: pairs with the release stores in s_up / session end. */
    uint64_t state = atomic_load_explicit(&slot->state, memory_order_acquire);
    if (!(state & 1u))
        return GROVE_ENOCONN;
    if (s_limited(env->kind) &&
        atomic_load_explicit(&slot->queued, memory_order_relaxed) >= (int64_t)tp->out_buffer)
        return GROVE_EAGAIN;
    gv_tp_packer p;
    size_t size;
    if (gv_tp_pack_begin(&p, env, &size) != GROVE_OK)
        return GROVE_EINVAL;
    gv_tp_item *it = gv_malloc(sizeof *it + size);
    gv_tp_pack_end(&p, it->data);
    it->next = NULL;
    it->to = to;
    it->gen = (uint32_t)(state >> 1);
    it->len = (uint32_t)size;
    it->charged = true;
    /* Relaxed: a bound for other senders; the item itself is published by
     * the queue push. */
    atomic_fetch_add_explicit(&slot->queued, (int64_t)size, memory_order_relaxed);
    gv_tp_queue_push(&tp->queue, &it->q);
    gv_tp_io_wake(tp);
    return GROVE_OK;
}

size_t gv_tp_members(gv_tp *tp, gv_tp_member *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < GV_TP_SLOTS; i++) {
        gv_tp_slot *s = &tp->slots[i];
        uint32_t key = atomic_load_explicit(&s->key, memory_order_acquire);
        if (!key || !(atomic_load_explicit(&s->state, memory_order_acquire) & 1u))
            continue;
        if (n < cap) {
            out[n].node = key;
            out[n].creation = atomic_load_explicit(&s->creation, memory_order_relaxed);
        }
        n++;
    }
    return n;
}

grove_err gv_tp_load_of(gv_tp *tp, grove_nodename node, gv_tp_load *out)
{
    gv_tp_slot *s = gv_tp_slot_find(tp, node);
    if (!s || !(atomic_load_explicit(&s->state, memory_order_acquire) & 1u))
        return GROVE_ENOCONN;
    out->run_queue = atomic_load_explicit(&s->run_queue, memory_order_relaxed);
    out->processes = atomic_load_explicit(&s->processes, memory_order_relaxed);
    return GROVE_OK;
}

const char *gv_tp_address(const gv_tp *tp)
{
    return tp->address;
}

void gv_tp_stats_get(gv_tp *tp, gv_tp_stats *out)
{
    out->batches_sent = atomic_load_explicit(&tp->stats.batches_sent, memory_order_relaxed);
    out->envelopes_sent = atomic_load_explicit(&tp->stats.envelopes_sent, memory_order_relaxed);
    out->batches_received = atomic_load_explicit(&tp->stats.batches_received, memory_order_relaxed);
    out->envelopes_received =
        atomic_load_explicit(&tp->stats.envelopes_received, memory_order_relaxed);
    out->sessions_opened = atomic_load_explicit(&tp->stats.sessions_opened, memory_order_relaxed);
    out->sessions_closed = atomic_load_explicit(&tp->stats.sessions_closed, memory_order_relaxed);
    out->protocol_errors = atomic_load_explicit(&tp->stats.protocol_errors, memory_order_relaxed);
    out->zap_refused = atomic_load_explicit(&tp->zap.refused, memory_order_relaxed);
}
