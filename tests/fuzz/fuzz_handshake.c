/*
 * fuzz_handshake.c - the session layer's handshake (transport/tp_session.c)
 * fed with adversarial sequences of control and data frames from
 * authenticated peers.
 *
 * One real transport node runs per process (127.0.0.1, the cluster key of
 * the session tests), with a pool of raw DEALERs speaking to it as the
 * peers "f0@127.0.0.1", "f1@127.0.0.1" and the node's own name, each with
 * two session ids on both lanes. An input is a sequence of 8-byte steps:
 *
 *   byte 0  what to send: hello, welcome, heartbeat, membership, goodbye,
 *           send (data lane), raw bytes, or a pause (a few ms, or until
 *           the node sends the fuzz peers a new session id, at most 20 ms)
 *   byte 1  which DEALER (name, session slot) and whether to use the
 *           wrong lane
 *   2..7    field values, each drawn from a few interesting ones: protocol
 *           version, creation, session and echo ids (the DEALER's own, the
 *           other slot's, 0, the last ids the node used in frames it sent
 *           to the fuzz peers' ROUTER), probe flags, names (incl. the
 *           node's own), addresses
 *
 * Addresses are always 127.0.0.1: a ROUTER this harness owns (where the
 * node dials fuzz peers back), a closed port, or empty. Raw-bytes steps
 * take their bytes from the input after the step.
 *
 * Properties, after each input: the node is alive and its callbacks saw
 * nodeup and nodedown alternate for every node, never about itself; its
 * members are distinct, known names, never itself; every frame it sent us
 * decodes; it counts no more sessions closed than opened. Every
 * FUZZ_HANDSHAKE_CHECK_EVERY inputs (every input in the corpus replay), a
 * fresh well-behaved peer "good@127.0.0.1" completes a handshake (hello,
 * welcome, heartbeat echo), a data envelope goes each way, and its goodbye
 * ends the session. ASan's leak check at exit covers the node: it is
 * stopped and every socket closed in an atexit handler.
 */
#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_thread.h"
#include "transport/tp_codec.h"
#include "transport/tp_crypto.h"
#include "transport/transport.h"

#include "fuzz_check.h"

#include <zmq.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef FUZZ_HANDSHAKE_CHECK_EVERY
#define FUZZ_HANDSHAKE_CHECK_EVERY 8
#endif

#define NODE_NAME "h@127.0.0.1"
#define GOOD_NAME "good@127.0.0.1"
#define N_NAMES 3 /* peers with DEALERs: f0, f1, the node's own name */
#define N_SLOTS 2 /* session ids per name */
#define N_SEEN 4  /* session ids the node used lately */
#define MAX_STEPS 32
#define WAIT_MS 10000 /* generous: a well-behaved handshake takes milliseconds */

static const char *const s_names[] = {"f0@127.0.0.1", "f1@127.0.0.1", NODE_NAME, "x@127.0.0.1"};
static const uint64_t s_slot_sid[N_SLOTS] = {0x1000, 0x2000};

/* ---- what the node's callbacks saw (I/O thread, under s_mu) ---- */

typedef struct track {
    grove_nodename node;
    bool up;
    uint64_t ups, downs;
} track;

static gv_mutex s_mu;
static track s_track[8];
static int s_n_track;
static int s_violations; /* nodeup/nodedown out of turn, or about this node */
static char s_violation[160];
static uint64_t s_good_envelopes;

static struct {
    bool started;
    gv_tp_keys keys;
    gv_tp *tp;
    grove_nodename self, good;
    uint32_t creation;
    void *ctx;
    void *router;      /* fuzz peers' address: the node dials them back here */
    void *good_router; /* the well-behaved peer's address */
    char router_addr[64], good_addr[64], closed_addr[64];
    void *dealer[N_NAMES][N_SLOTS][2]; /* [name][slot][lane: 0 control, 1 data] */
    uint64_t seen[N_SEEN];
    unsigned n_seen;
    gv_tp_decoder dec;
    uint64_t inputs;
    uint64_t good_sid;
} S;

static track *s_track_of(grove_nodename node)
{
    for (int i = 0; i < s_n_track; i++)
        if (s_track[i].node == node)
            return &s_track[i];
    if (s_n_track == (int)(sizeof s_track / sizeof s_track[0]))
        return NULL;
    s_track[s_n_track] = (track){.node = node};
    return &s_track[s_n_track++];
}

static void s_violate(const char *what, grove_nodename node)
{
    if (s_violations++ == 0)
        snprintf(s_violation, sizeof s_violation, "%s: %s", what, grove_nodename_str(node));
}

static void s_on_nodeup(void *ctx, grove_nodename node, uint32_t creation,
                        const gv_tp_nodeinfo *info)
{
    (void)ctx;
    (void)creation;
    (void)info;
    gv_mutex_lock(&s_mu);
    track *t = s_track_of(node);
    if (node == S.self)
        s_violate("nodeup about this node", node);
    else if (!t)
        s_violate("nodeup about too many nodes", node);
    else if (t->up)
        s_violate("nodeup twice", node);
    if (t) {
        t->up = true;
        t->ups++;
    }
    gv_mutex_unlock(&s_mu);
}

static void s_on_nodedown(void *ctx, grove_nodename node, gv_tp_down_reason reason)
{
    (void)ctx;
    (void)reason;
    gv_mutex_lock(&s_mu);
    track *t = s_track_of(node);
    if (!t || !t->up)
        s_violate("nodedown without nodeup", node);
    if (t) {
        t->up = false;
        t->downs++;
    }
    gv_mutex_unlock(&s_mu);
}

static void s_on_envelope(void *ctx, grove_nodename from, const gv_tp_env *env)
{
    (void)ctx;
    (void)env;
    gv_mutex_lock(&s_mu);
    if (from == S.good)
        s_good_envelopes++;
    gv_mutex_unlock(&s_mu);
}

static void s_load(void *ctx, gv_tp_load *out)
{
    (void)ctx;
    out->run_queue = 1;
    out->processes = 1;
}

/* ---- sockets ---- */

static void *s_router(char *addr, size_t cap)
{
    void *r = zmq_socket(S.ctx, ZMQ_ROUTER);
    FUZZ_CHECK(r != NULL, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    int one = 1, zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, S.keys.secret_z85, 40);
    FUZZ_CHECK(zmq_bind(r, "tcp://127.0.0.1:*") == 0, "bind: %s", zmq_strerror(zmq_errno()));
    char ep[64];
    size_t len = sizeof ep;
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &len);
    snprintf(addr, cap, "%s", ep + strlen("tcp://"));
    return r;
}

static void *s_dealer(char lane, const char *name, uint64_t sid)
{
    void *d = zmq_socket(S.ctx, ZMQ_DEALER);
    FUZZ_CHECK(d != NULL, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    char rid[300];
    int n = snprintf(rid, sizeof rid, "%c:%s:%016llx", lane, name, (unsigned long long)sid);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, (size_t)n);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, S.keys.public_z85, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, S.keys.public_z85, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, S.keys.secret_z85, 40);
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s", gv_tp_address(S.tp));
    FUZZ_CHECK(zmq_connect(d, ep) == 0, "connect: %s", zmq_strerror(zmq_errno()));
    return d;
}

/* A loopback port nothing listens on (bound, then released). */
static void s_closed_port(char *addr, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(fd >= 0, "socket");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    FUZZ_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                   getsockname(fd, (struct sockaddr *)&sa, &sl) == 0,
               "bind a loopback port");
    snprintf(addr, cap, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    close(fd);
}

static void s_send(void *sock, const uint8_t *buf, size_t len)
{
    /* Never blocks the fuzzer: a full queue drops the frame. */
    zmq_send(sock, buf, len, ZMQ_DONTWAIT);
}

static bool s_send_env(void *sock, uint64_t base, const gv_tp_env *e)
{
    uint8_t *buf;
    size_t len;
    if (gv_tp_encode_batch(base, e, 1, &buf, &len) != GROVE_OK)
        return false; /* a value the encoder refuses: not sendable */
    s_send(sock, buf, len);
    gv_free(buf);
    return true;
}

/* One frame from a router: routing id and body. */
typedef struct frame {
    char lane;
    char name[260];
    uint64_t sid;
    gv_tp_batch b;
} frame;

/* Reads one frame from r within ms; checks it is well formed: a routing id
 * "<lane>:<this node>:<16 hex digits>" and a body that decodes. */
static bool s_recv(void *r, frame *f, long ms)
{
    zmq_pollitem_t it = {.socket = r, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, ms) <= 0)
        return false;
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    FUZZ_CHECK(zmq_msg_recv(&id, r, 0) >= 0 && zmq_msg_more(&id), "routing id frame");
    FUZZ_CHECK(zmq_msg_recv(&body, r, 0) >= 0 && !zmq_msg_more(&body), "one body frame");
    size_t len = zmq_msg_size(&id);
    const char *rid = zmq_msg_data(&id);
    FUZZ_CHECK(len > 2 + 17 && len < sizeof f->name + 19, "routing id of %zu bytes", len);
    FUZZ_CHECK((rid[0] == 'c' || rid[0] == 'd') && rid[1] == ':' && rid[len - 17] == ':',
               "routing id %.*s", (int)len, rid);
    f->lane = rid[0];
    memcpy(f->name, rid + 2, len - 19);
    f->name[len - 19] = 0;
    FUZZ_CHECK(strcmp(f->name, NODE_NAME) == 0, "a frame from %s", f->name);
    char hex[17];
    memcpy(hex, rid + len - 16, 16);
    hex[16] = 0;
    f->sid = strtoull(hex, NULL, 16);
    gv_tp_proto_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = gv_tp_decode(&S.dec, f->lane == 'c' ? GV_TP_LANE_CONTROL : GV_TP_LANE_DATA,
                                zmq_msg_data(&body), zmq_msg_size(&body), &f->b, &err);
    FUZZ_CHECK(rc == GROVE_OK, "the node sent a frame it cannot decode: %s", err.reason);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return true;
}

/* Reads what the node sent to the fuzz peers' ROUTER, remembering the
 * session ids it used (for echoes). */
static bool s_drain_one(frame *f, long ms)
{
    if (!s_recv(S.router, f, ms))
        return false;
    if (S.n_seen == 0 || S.seen[(S.n_seen - 1) % N_SEEN] != f->sid)
        S.seen[S.n_seen++ % N_SEEN] = f->sid;
    return true;
}

static void s_drain(void)
{
    frame f;
    while (s_drain_one(&f, 0)) {
    }
}

/* ---- start and stop ---- */

static void s_stop(void)
{
    if (!S.started)
        return;
    gv_tp_destroy(&S.tp);
    for (int n = 0; n < N_NAMES; n++)
        for (int s = 0; s < N_SLOTS; s++)
            for (int l = 0; l < 2; l++)
                zmq_close(S.dealer[n][s][l]);
    zmq_close(S.router);
    zmq_close(S.good_router);
    zmq_ctx_term(S.ctx);
    gv_tp_decoder_fini(&S.dec);
    gv_tp_keys_fini(&S.keys);
    gv_mutex_fini(&s_mu);
    S.started = false;
}

static void s_start(void)
{
    if (!getenv("GROVE_LOG"))
        gv_log_set_level(GV_LOG_ERROR); /* refusals are expected here */
    gv_mutex_init(&s_mu);
    FUZZ_CHECK(gv_tp_keys_from_secret(&S.keys, "5f2a9c1e7b3d4f6a8c0e2b4d6f8a1c3e", 32, false, NULL,
                                      0) == GROVE_OK,
               "cluster keys");
    FUZZ_CHECK(grove_nodename_intern(NODE_NAME, strlen(NODE_NAME), &S.self) == GROVE_OK &&
                   grove_nodename_intern(GOOD_NAME, strlen(GOOD_NAME), &S.good) == GROVE_OK,
               "node names");
    S.creation = 0x5eed;
    gv_tp_config cfg = {
        .node = NODE_NAME,
        .creation = S.creation,
        .listen = "127.0.0.1:0",
        .keys = &S.keys,
        .heartbeat_ms = 100,
        .nodedown_ms = 1500, /* the well-behaved peer heartbeats once per session */
        .seed_ms = 200,
    };
    gv_tp_ops ops = {.on_nodeup = s_on_nodeup,
                     .on_nodedown = s_on_nodedown,
                     .on_envelope = s_on_envelope,
                     .load = s_load};
    FUZZ_CHECK(gv_tp_new(&cfg, &ops, &S.tp) == GROVE_OK, "the node starts");
    S.ctx = zmq_ctx_new();
    FUZZ_CHECK(S.ctx != NULL, "zmq context");
    S.router = s_router(S.router_addr, sizeof S.router_addr);
    S.good_router = s_router(S.good_addr, sizeof S.good_addr);
    s_closed_port(S.closed_addr, sizeof S.closed_addr);
    for (int n = 0; n < N_NAMES; n++)
        for (int s = 0; s < N_SLOTS; s++)
            for (int l = 0; l < 2; l++)
                S.dealer[n][s][l] = s_dealer(l ? 'd' : 'c', s_names[n], s_slot_sid[s]);
    gv_tp_decoder_init(&S.dec);
    gv_sleep_ms(100); /* once: the DEALERs' CURVE handshakes, so early steps reach the node */
    S.good_sid = 0x7000000;
    S.started = true;
    atexit(s_stop);
}

/* ---- the well-behaved peer ---- */

static uint64_t s_good_ups(void)
{
    gv_mutex_lock(&s_mu);
    track *t = s_track_of(S.good);
    uint64_t n = t ? t->ups : 0;
    gv_mutex_unlock(&s_mu);
    return n;
}

static bool s_good_up(void)
{
    gv_mutex_lock(&s_mu);
    track *t = s_track_of(S.good);
    bool up = t && t->up;
    gv_mutex_unlock(&s_mu);
    return up;
}

static uint64_t s_good_received(void)
{
    gv_mutex_lock(&s_mu);
    uint64_t n = s_good_envelopes;
    gv_mutex_unlock(&s_mu);
    return n;
}

static gv_tp_env s_hello(gv_tp_kind kind, const char *node, uint32_t creation, uint64_t session,
                         const char *address)
{
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.u.hello.version = GV_TP_PROTO_VERSION;
    e.u.hello.node = node;
    e.u.hello.creation = creation;
    e.u.hello.session = session;
    e.u.hello.address = address;
    return e;
}

static gv_tp_env s_send_envelope(const uint8_t payload[6])
{
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_SEND;
    e.u.send.to = (gv_tp_pid){.id = 1, .serial = 0, .creation = 1};
    e.u.send.from = (gv_tp_pid){.id = 2, .serial = 0, .creation = 7};
    e.u.send.payload = (gv_tp_bytes){payload, 6};
    return e;
}

/* A new session of GOOD_NAME: hello, welcome, heartbeat echo, an envelope
 * each way, goodbye. */
static void s_good_peer(void)
{
    uint64_t sid = ++S.good_sid;
    uint64_t ups = s_good_ups(), received = s_good_received();
    FUZZ_CHECK(!s_good_up(), "the well-behaved peer is still up from its last session");
    void *ctl = s_dealer('c', GOOD_NAME, sid);
    void *data = s_dealer('d', GOOD_NAME, sid);
    gv_tp_env e = s_hello(GV_TP_HELLO, GOOD_NAME, 7, sid, S.good_addr);
    FUZZ_CHECK(s_send_env(ctl, 0, &e), "encode hello");

    /* The welcome, on the node's link to us. */
    uint64_t node_sid = 0, deadline = gv_now_ms() + WAIT_MS;
    frame f;
    while (!node_sid && gv_now_ms() < deadline) {
        if (!s_recv(S.good_router, &f, 20))
            continue;
        for (size_t i = 0; i < f.b.n; i++)
            if (f.lane == 'c' && f.b.envs[i].kind == GV_TP_WELCOME &&
                f.b.envs[i].u.hello.echo == sid) {
                node_sid = f.b.envs[i].u.hello.session;
                FUZZ_CHECK(node_sid == f.sid, "welcome session %llx on link %llx",
                           (unsigned long long)node_sid, (unsigned long long)f.sid);
                FUZZ_CHECK(strcmp(f.b.envs[i].u.hello.node, NODE_NAME) == 0 &&
                               f.b.envs[i].u.hello.creation == S.creation,
                           "welcome from %s", f.b.envs[i].u.hello.node);
            }
    }
    FUZZ_CHECK(node_sid != 0, "no welcome for a well-behaved hello within %d ms", WAIT_MS);
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_HEARTBEAT;
    e.u.heartbeat.echo = node_sid;
    FUZZ_CHECK(s_send_env(ctl, 0, &e), "encode heartbeat");

    /* Up, and our data envelope arrives. */
    uint8_t payload[6] = {131, 98, 0, 0, 0, 1};
    e = s_send_envelope(payload);
    FUZZ_CHECK(s_send_env(data, 1, &e), "encode send");
    deadline = gv_now_ms() + WAIT_MS;
    while ((s_good_ups() == ups || s_good_received() == received) && gv_now_ms() < deadline)
        gv_sleep_ms(1);
    FUZZ_CHECK(s_good_ups() == ups + 1, "no nodeup for a completed handshake");
    FUZZ_CHECK(s_good_received() == received + 1, "our envelope was not delivered");

    /* The node's data envelope arrives, first of this session. */
    FUZZ_CHECK(gv_tp_send(S.tp, S.good, &e) == GROVE_OK, "the node refuses to send");
    bool got = false;
    deadline = gv_now_ms() + WAIT_MS;
    while (!got && gv_now_ms() < deadline) {
        if (!s_recv(S.good_router, &f, 20) || f.lane != 'd')
            continue;
        FUZZ_CHECK(f.sid == node_sid && f.b.base_seq == 1 && f.b.n == 1 &&
                       f.b.envs[0].kind == GV_TP_SEND && f.b.envs[0].u.send.payload.len == 6 &&
                       memcmp(f.b.envs[0].u.send.payload.data, payload, 6) == 0,
                   "data frame on link %llx, base %llu, %zu envelopes", (unsigned long long)f.sid,
                   (unsigned long long)f.b.base_seq, f.b.n);
        got = true;
    }
    FUZZ_CHECK(got, "the node's envelope did not arrive within %d ms", WAIT_MS);

    /* Goodbye ends the session. */
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_GOODBYE;
    e.u.goodbye.reason = GV_TP_GOODBYE_LEAVE;
    e.u.goodbye.last_seq = 1;
    FUZZ_CHECK(s_send_env(ctl, 0, &e), "encode goodbye");
    deadline = gv_now_ms() + WAIT_MS;
    while (s_good_up() && gv_now_ms() < deadline)
        gv_sleep_ms(1);
    FUZZ_CHECK(!s_good_up(), "no nodedown after goodbye");
    zmq_close(ctl);
    zmq_close(data);
    while (s_recv(S.good_router, &f, 0)) {
    }
}

/* ---- invariants ---- */

static void s_check_invariants(void)
{
    gv_mutex_lock(&s_mu);
    int violations = s_violations;
    char why[sizeof s_violation];
    memcpy(why, s_violation, sizeof why);
    gv_mutex_unlock(&s_mu);
    FUZZ_CHECK(violations == 0, "%s", why);

    gv_tp_member m[16];
    size_t n = gv_tp_members(S.tp, m, 16);
    FUZZ_CHECK(n <= 4, "%zu members (at most f0, f1, x, good)", n);
    for (size_t i = 0; i < n; i++) {
        const char *name = grove_nodename_str(m[i].node);
        FUZZ_CHECK(m[i].node != S.self, "this node is its own member");
        FUZZ_CHECK(strcmp(name, s_names[0]) == 0 || strcmp(name, s_names[1]) == 0 ||
                       strcmp(name, s_names[3]) == 0 || strcmp(name, GOOD_NAME) == 0,
                   "member %s", name);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(m[j].node != m[i].node, "member %s twice", name);
    }
    gv_tp_stats st;
    gv_tp_stats_get(S.tp, &st);
    FUZZ_CHECK(st.sessions_closed <= st.sessions_opened, "%llu sessions closed, %llu opened",
               (unsigned long long)st.sessions_closed, (unsigned long long)st.sessions_opened);
}

/* ---- one input ---- */

static const char *s_address(unsigned v)
{
    switch (v % 4) {
    case 0:
    case 1:
        return S.router_addr;
    case 2:
        return S.closed_addr;
    default:
        return "";
    }
}

static uint64_t s_pick_sid(unsigned v, uint64_t own, uint64_t other)
{
    switch (v % 8) {
    case 0:
    case 1:
        return own;
    case 2:
        return other;
    case 3:
        return 0;
    case 4:
        return UINT64_MAX;
    default:
        return S.seen[(S.n_seen + N_SEEN - 1 - (v - 5) % 8) % N_SEEN]; /* 0: the newest */
    }
}

static uint32_t s_pick_creation(unsigned v)
{
    static const uint32_t c[4] = {1, 2, 99, 0};
    return (v % 4) == 3 ? S.creation : c[v % 4];
}

static void s_step(const uint8_t *s, const uint8_t **rest, size_t *rest_len)
{
    unsigned name = (s[1] & 3) % N_NAMES, slot = (s[1] >> 2) & 1, wrong_lane = (s[1] >> 3) & 1;
    uint64_t own = s_slot_sid[slot], other = s_slot_sid[slot ^ 1];
    void *ctl = S.dealer[name][slot][wrong_lane];
    void *data = S.dealer[name][slot][!wrong_lane];
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    gv_tp_member_info members[3];
    switch (s[0] % 8) {
    case 0: /* hello */
    case 1: /* welcome */
        e.kind = (s[0] % 8) ? GV_TP_WELCOME : GV_TP_HELLO;
        e.u.hello.version =
            (s[2] & 3) == 3 ? (s[2] >> 2 & 1 ? 0 : GV_TP_PROTO_VERSION + 1) : GV_TP_PROTO_VERSION;
        e.u.hello.minor = (s[2] >> 3) & 1;
        e.u.hello.node = (s[2] >> 4) & 1 ? s_names[s[3] % 4] : s_names[name];
        e.u.hello.creation = s_pick_creation(s[3] >> 2);
        e.u.hello.session = s_pick_sid(s[4], own, other);
        e.u.hello.address = s_address(s[3] >> 4);
        e.u.hello.capabilities = s[5] & 0x0f;
        e.u.hello.hidden = (s[5] >> 4) & 1;
        if (e.kind == GV_TP_HELLO) {
            e.u.hello.probe = (s[5] >> 5) & 1;
            e.u.hello.probe_echo = (s[5] >> 6) & 1 ? s_pick_sid(s[6], own, other) : 0;
        } else {
            e.u.hello.echo = s_pick_sid(s[6], own, other);
        }
        s_send_env(ctl, 0, &e);
        break;
    case 2: /* heartbeat */
        e.kind = GV_TP_HEARTBEAT;
        e.u.heartbeat.echo = s_pick_sid(s[2], own, other);
        e.u.heartbeat.run_queue = s[3];
        e.u.heartbeat.processes = s[4];
        s_send_env(ctl, 0, &e);
        break;
    case 3: /* membership */
        e.kind = GV_TP_MEMBERSHIP;
        e.u.membership.n = s[2] % 4;
        for (size_t i = 0; i < e.u.membership.n; i++)
            members[i] = (gv_tp_member_info){.node = s_names[(s[3 + i] >> 2) % 4],
                                             .address = s_address(s[3 + i] >> 4),
                                             .creation = s_pick_creation(s[3 + i])};
        e.u.membership.members = members;
        s_send_env(ctl, 0, &e);
        break;
    case 4: /* goodbye */
        e.kind = GV_TP_GOODBYE;
        e.u.goodbye.reason = s[2] % 3;
        e.u.goodbye.last_seq = (s[3] & 1) ? s[4] : ((s[3] & 2) ? UINT64_MAX : 0);
        e.u.goodbye.detail = (s[3] & 4) ? "fuzz" : NULL;
        s_send_env(ctl, 0, &e);
        break;
    case 5: { /* send, on the data lane (or the control lane) */
        uint8_t payload[6] = {131, 98, 0, 0, 0, s[3]};
        e = s_send_envelope(payload);
        const uint64_t bases[4] = {1, 2, (uint64_t)(s[2] >> 2), UINT64_MAX};
        uint64_t base = bases[s[2] & 3];
        s_send_env(data, base, &e);
        break;
    }
    case 6: { /* raw bytes from the rest of the input */
        size_t len = s[2] % 64;
        if (len > *rest_len)
            len = *rest_len;
        s_send(s[3] & 1 ? data : ctl, *rest, len);
        *rest += len;
        *rest_len -= len;
        break;
    }
    default: /* a pause: a few ms, or until the node sends the fuzz peers something */
        if ((s[2] & 0x0c) == 0x04) {
            frame f;
            uint64_t deadline = gv_now_ms() + 20;
            unsigned seen = S.n_seen;
            while (S.n_seen == seen && gv_now_ms() < deadline)
                s_drain_one(&f, 5);
        } else {
            gv_sleep_ms(1 + s[2] % 4);
        }
        s_drain();
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!S.started)
        s_start();
    const uint8_t *p = data;
    size_t left = size;
    for (int i = 0; i < MAX_STEPS && left >= 8; i++) {
        const uint8_t *step = p;
        p += 8;
        left -= 8;
        s_step(step, &p, &left);
    }
    gv_sleep_ms(2); /* the node's I/O thread reads what was sent */
    s_drain();
    s_check_invariants();
    if (S.inputs++ % FUZZ_HANDSHAKE_CHECK_EVERY == 0) {
        s_good_peer();
        s_check_invariants();
    }
    return 0;
}
