/*
 * session_test.c - two or three transports in one process on 127.0.0.1:
 * handshake and full mesh from one seed, ordered delivery, refusal of a
 * wrong key, failure detection, graceful stop, restarts, crossed dials
 * (a welcome overtaken by data), backpressure and limits. The I/O threads
 * record; this thread asserts (tp_harness.h).
 *
 * Times: lower bounds are asserted exactly; upper bounds only as generous
 * timeouts (ten times the configured value).
 */
#include "tp_harness.h"

#include "base/gv_alloc.h"
#include "transport/tp_crypto.h"

#include <zmq.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

/* Nodes live here, not on a test's stack, so that the teardown can stop
 * what a failed test left running. */
static tnode s_n[3];

static gv_tp_keys s_keys;  /* the cluster's */
static gv_tp_keys s_other; /* another cluster's */

static int s_setup(void **state)
{
    (void)state;
    if (gv_tp_keys_from_secret(&s_keys, "5f2a9c1e7b3d4f6a8c0e2b4d6f8a1c3e", 32, false, NULL, 0) ||
        gv_tp_keys_from_secret(&s_other, "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", 32, false, NULL, 0))
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    gv_tp_keys_fini(&s_keys);
    gv_tp_keys_fini(&s_other);
    return 0;
}

static int s_stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        tn_fini(&s_n[i]);
    return 0;
}

static tn_opts s_opts(const char *seeds)
{
    return (tn_opts){.seeds = seeds, .heartbeat_ms = 50, .nodedown_ms = 500, .keys = &s_keys};
}

static void s_start(tnode *n, const char *name, const char *seeds)
{
    tn_opts o = s_opts(seeds);
    assert_int_equal(tn_start(n, name, &o), GROVE_OK);
}

static bool s_has_member(gv_tp *tp, grove_nodename node, uint32_t creation)
{
    gv_tp_member m[8];
    size_t n = gv_tp_members(tp, m, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (m[i].node == node && (creation == 0 || m[i].creation == creation))
            return true;
    return false;
}

/* Waits until a and b see each other up. */
static void s_wait_pair(tnode *a, tnode *b)
{
    assert_true(tn_wait_events(a, TN_UP, b->nn, 1, 10000));
    assert_true(tn_wait_events(b, TN_UP, a->nn, 1, 10000));
}

static void test_three_nodes_form_a_full_mesh_from_one_seed(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b = &s_n[1], *c = &s_n[2];
    s_start(a, "a@127.0.0.1", NULL);
    s_start(b, "b@127.0.0.1", gv_tp_address(a->tp));
    s_start(c, "c@127.0.0.1", gv_tp_address(a->tp));
    s_wait_pair(a, b);
    s_wait_pair(a, c);
    /* b and c never named each other: they met through a's membership. */
    s_wait_pair(b, c);
    assert_true(s_has_member(a->tp, b->nn, b->creation));
    assert_true(s_has_member(a->tp, c->nn, c->creation));
    assert_true(s_has_member(b->tp, c->nn, c->creation));
    assert_true(s_has_member(c->tp, a->nn, a->creation));
    assert_false(s_has_member(a->tp, a->nn, 0));
    gv_tp_member m[8];
    assert_int_equal(gv_tp_members(a->tp, m, 8), 2);
    /* Heartbeats carry the peer's load. */
    gv_tp_load load;
    for (int i = 0; i < 1000; i++) {
        if (gv_tp_load_of(b->tp, a->nn, &load) == GROVE_OK && load.processes == 42)
            break;
        gv_sleep_ms(5);
    }
    assert_int_equal(gv_tp_load_of(b->tp, a->nn, &load), GROVE_OK);
    assert_int_equal(load.run_queue, 7);
    assert_int_equal(load.processes, 42);
    /* Each saw each other exactly once up and never down. */
    tnode snap1 = tn_snap(a);
    assert_int_equal(tn_count(&snap1, TN_UP, 0), 2);
    assert_int_equal(tn_count(&snap1, TN_DOWN, 0), 0);
    assert_int_equal(tn_last(&snap1, TN_UP, b->nn)->creation, b->creation);
    tn_fini(c);
    tn_fini(b);
    tn_fini(a);
}

typedef struct sender_arg {
    tnode *from;
    grove_nodename to;
    uint32_t id;
    uint32_t count;
    uint64_t errors; /* results other than OK and EAGAIN */
    grove_err first_error;
    uint64_t eagain;
} sender_arg;

static void *s_sender(void *p)
{
    sender_arg *a = p;
    uint8_t payload[6];
    for (uint32_t i = 0; i < a->count;) {
        tn_payload(payload, i);
        gv_tp_env e = tn_send_env(a->id, payload);
        grove_err rc = gv_tp_send(a->from->tp, a->to, &e);
        if (rc == GROVE_EAGAIN) {
            a->eagain++;
            gv_thread_yield();
            continue;
        }
        if (rc != GROVE_OK && a->errors++ == 0)
            a->first_error = rc;
        i++;
    }
    return NULL;
}

static void test_envelopes_arrive_in_order_per_sender(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b = &s_n[1];
    s_start(a, "a@127.0.0.1", NULL);
    s_start(b, "b@127.0.0.1", gv_tp_address(a->tp));
    s_wait_pair(a, b);

    sender_arg s1 = {.from = a, .to = b->nn, .id = 1, .count = 100000};
    sender_arg s2 = {.from = a, .to = b->nn, .id = 2, .count = 20000};
    sender_arg s3 = {.from = b, .to = a->nn, .id = 3, .count = 20000};
    gv_thread t1, t2, t3;
    assert_true(gv_thread_start(&t1, "send1", s_sender, &s1));
    assert_true(gv_thread_start(&t2, "send2", s_sender, &s2));
    assert_true(gv_thread_start(&t3, "send3", s_sender, &s3));
    gv_thread_join(&t1);
    gv_thread_join(&t2);
    gv_thread_join(&t3);
    if (s1.errors + s2.errors + s3.errors)
        fail_msg("send failed: %s %s %s", grove_errname(s1.first_error),
                 grove_errname(s2.first_error), grove_errname(s3.first_error));
    assert_true(tn_wait_received(b, 120000, 60000));
    assert_true(tn_wait_received(a, 20000, 60000));

    tnode snap2 = tn_snap(b);
    assert_int_equal(snap2.received, 120000);
    assert_int_equal(snap2.order_errors, 0);
    assert_int_equal(snap2.bad_envelopes, 0);
    assert_int_equal(snap2.expect[1], 100000);
    assert_int_equal(snap2.expect[2], 20000);
    assert_int_equal(tn_count(&snap2, TN_DOWN, 0), 0);
    tnode snap3 = tn_snap(a);
    assert_int_equal(snap3.order_errors, 0);
    assert_int_equal(snap3.expect[3], 20000);

    gv_tp_stats st;
    gv_tp_stats_get(a->tp, &st);
    assert_int_equal(st.envelopes_sent, 120000);
    assert_true(st.batches_sent >= 1 && st.batches_sent <= st.envelopes_sent);
    gv_tp_stats_get(b->tp, &st);
    assert_int_equal(st.envelopes_received, 120000);
    assert_int_equal(st.protocol_errors, 0);
    tn_fini(b);
    tn_fini(a);
}

/* A raw CURVE DEALER with the right server key and a wrong client key. */
static void test_wrong_client_key_fails_auth_and_delivers_nothing(void **state)
{
    (void)state;
    tnode *a = &s_n[0];
    s_start(a, "a@127.0.0.1", NULL);
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, "c:evil@127.0.0.1:0000000000000001", 33);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, s_keys.public_z85, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, s_other.public_z85, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, s_other.secret_z85, 40);
    assert_int_equal(zmq_socket_monitor(d, "inproc://raw-mon", ZMQ_EVENT_ALL), 0);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://raw-mon"), 0);
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s", gv_tp_address(a->tp));
    assert_int_equal(zmq_connect(d, ep), 0);
    /* A well-formed hello, queued: it must never reach the node. */
    gv_tp_env hello;
    memset(&hello, 0, sizeof hello);
    hello.kind = GV_TP_HELLO;
    hello.u.hello.version = GV_TP_PROTO_VERSION;
    hello.u.hello.node = "evil@127.0.0.1";
    hello.u.hello.creation = 9;
    hello.u.hello.session = 1;
    hello.u.hello.address = "127.0.0.1:1";
    uint8_t *buf;
    size_t len;
    assert_int_equal(gv_tp_encode_batch(0, &hello, 1, &buf, &len), GROVE_OK);
    zmq_send(d, buf, len, ZMQ_DONTWAIT);
    gv_free(buf);

    bool auth_failed = false, succeeded = false;
    uint64_t deadline = gv_now_ms() + 10000;
    while (!auth_failed && gv_now_ms() < deadline) {
        zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, mon, 0);
        uint16_t ev = 0;
        memcpy(&ev, zmq_msg_data(&m), 2);
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        zmq_msg_recv(&m, mon, 0);
        zmq_msg_close(&m);
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            auth_failed = true;
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            succeeded = true;
    }
    assert_true(auth_failed);
    assert_false(succeeded);
    gv_tp_stats st;
    for (int i = 0; i < 1000; i++) {
        gv_tp_stats_get(a->tp, &st);
        if (st.zap_refused >= 1)
            break;
        gv_sleep_ms(2);
    }
    assert_true(st.zap_refused >= 1);

    /* A whole transport with another cluster's key is refused too. */
    tnode *x = &s_n[2];
    tn_opts o = s_opts(gv_tp_address(a->tp));
    o.keys = &s_other;
    assert_int_equal(tn_start(x, "x@127.0.0.1", &o), GROVE_OK);
    gv_sleep_ms(1000);
    tnode snap4 = tn_snap(a);
    assert_int_equal(snap4.n_ev, 0);
    assert_int_equal(snap4.received, 0);
    tnode snap5 = tn_snap(x);
    assert_int_equal(snap5.n_ev, 0);
    tn_fini(x);

    zmq_socket_monitor(d, NULL, 0);
    zmq_close(d);
    zmq_close(mon);
    zmq_ctx_term(ctx);
    tn_fini(a);
}

static void test_silent_peer_is_down_after_nodedown_ms_then_returns(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b = &s_n[1];
    s_start(a, "a@127.0.0.1", NULL);
    s_start(b, "b@127.0.0.1", gv_tp_address(a->tp));
    s_wait_pair(a, b);
    const unsigned nodedown = 500;

    /* b's I/O thread stops inside a heartbeat round: nothing more leaves
     * it. Its last heartbeat left in the round before. */
    assert_true(tn_freeze(b, 5000));
    tnode snap6 = tn_snap(b);
    uint64_t last_beat = snap6.rounds[0];
    uint64_t frozen_at = snap6.rounds[1];

    assert_true(tn_wait_events(a, TN_DOWN, b->nn, 1, 10 * nodedown));
    tnode snap7 = tn_snap(a);
    const tn_event *down = tn_last(&snap7, TN_DOWN, b->nn);
    assert_int_equal(down->reason, GV_TP_DOWN_HEARTBEAT_TIMEOUT);
    uint64_t at = down->at_ms;
    assert_true(at >= last_beat + nodedown); /* never before the silence lasted */
    assert_true(at < frozen_at + 10 * nodedown);
    assert_false(s_has_member(a->tp, b->nn, 0));
    gv_tp_env e = tn_send_env(1, (const uint8_t *)"\x83\x62\0\0\0\0");
    assert_int_equal(gv_tp_send(a->tp, b->nn, &e), GROVE_ENOCONN);

    /* b wakes up: the two meet again in a new session. */
    tn_thaw(b);
    assert_true(tn_wait_events(a, TN_UP, b->nn, 2, 10000));
    assert_true(tn_wait_events(b, TN_DOWN, a->nn, 1, 10000));
    assert_true(tn_wait_events(b, TN_UP, a->nn, 2, 10000));
    assert_true(s_has_member(a->tp, b->nn, b->creation));
    tn_fini(b);
    tn_fini(a);
}

static void test_graceful_stop_says_goodbye_after_the_last_envelope(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b = &s_n[1];
    s_start(a, "a@127.0.0.1", NULL);
    s_start(b, "b@127.0.0.1", gv_tp_address(a->tp));
    s_wait_pair(a, b);
    uint8_t payload[6];
    for (uint32_t i = 0; i < 5000;) {
        tn_payload(payload, i);
        gv_tp_env e = tn_send_env(4, payload);
        grove_err rc = gv_tp_send(b->tp, a->nn, &e);
        if (rc == GROVE_EAGAIN) {
            gv_thread_yield();
            continue;
        }
        assert_int_equal(rc, GROVE_OK);
        i++;
    }
    tn_stop(b); /* no wait: the goodbye must follow the data */
    assert_true(tn_wait_events(a, TN_DOWN, b->nn, 1, 10000));
    tnode snap8 = tn_snap(a);
    const tn_event *down = tn_last(&snap8, TN_DOWN, b->nn);
    assert_int_equal(down->reason, GV_TP_DOWN_GOODBYE);
    assert_int_equal(down->received, 5000); /* every envelope before nodedown */
    assert_int_equal(snap8.order_errors, 0);
    tnode snap9 = tn_snap(b);
    const tn_event *mine = tn_last(&snap9, TN_DOWN, a->nn);
    assert_non_null(mine);
    assert_int_equal(mine->reason, GV_TP_DOWN_STOPPED);
    /* b left: a does not dial it again. */
    gv_sleep_ms(600);
    tnode snap10 = tn_snap(a);
    assert_int_equal(tn_count(&snap10, TN_UP, b->nn), 1);
    tn_fini(b);
    tn_fini(a);
}

static void test_restarted_peer_opens_a_new_incarnation(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b1 = &s_n[1], *b2 = &s_n[2];
    s_start(a, "a@127.0.0.1", NULL);
    s_start(b1, "b@127.0.0.1", gv_tp_address(a->tp));
    s_wait_pair(a, b1);
    uint32_t first = b1->creation;
    tn_fini(b1);
    assert_true(tn_wait_events(a, TN_DOWN, b1->nn, 1, 10000));
    s_start(b2, "b@127.0.0.1", gv_tp_address(a->tp));
    assert_true(b2->creation != first);
    assert_true(tn_wait_events(a, TN_UP, b2->nn, 2, 10000));
    tnode snap11 = tn_snap(a);
    assert_int_equal(tn_last(&snap11, TN_UP, b2->nn)->creation, b2->creation);
    assert_true(s_has_member(a->tp, b2->nn, b2->creation));
    tn_fini(b2);
    tn_fini(a);
}

static void test_seed_that_is_this_node_is_refused(void **state)
{
    (void)state;
    /* Learn a free port, then start a node that listens there and names
     * that same address as its seed: every probe comes back to itself. */
    tnode *a = &s_n[0];
    s_start(a, "a@127.0.0.1", NULL);
    char addr[300];
    snprintf(addr, sizeof addr, "%s", gv_tp_address(a->tp));
    tn_fini(a);
    tnode *self = &s_n[1];
    memset(self, 0, sizeof *self);
    assert_int_equal(grove_nodename_intern("a@127.0.0.1", 11, &self->nn), GROVE_OK);
    gv_mutex_init(&self->mu);
    gv_cond_init(&self->cv);
    self->inited = true;
    gv_tp_config cfg = {.node = "a@127.0.0.1",
                        .creation = 77,
                        .listen = addr,
                        .seeds = addr,
                        .keys = &s_keys,
                        .heartbeat_ms = 50,
                        .nodedown_ms = 300,
                        .seed_ms = 100};
    gv_tp_ops ops = {.ctx = self,
                     .on_nodeup = tn_on_nodeup,
                     .on_nodedown = tn_on_nodedown,
                     .on_envelope = tn_on_envelope};
    assert_int_equal(gv_tp_new(&cfg, &ops, &self->tp), GROVE_OK);
    gv_sleep_ms(800); /* several probe rounds */
    tnode snap12 = tn_snap(self);
    assert_int_equal(snap12.n_ev, 0);
    gv_tp_member m[4];
    assert_int_equal(gv_tp_members(self->tp, m, 4), 0);
    tn_fini(self);
}

/* ---- a raw peer: hand-made frames over real CURVE sessions ------------------ */

typedef struct raw_peer {
    void *ctx;
    void *router; /* where the node dials back */
    void *ctl, *data;
    char address[64];
    uint64_t sid;      /* our session id */
    uint64_t node_sid; /* the node's, from its welcome */
} raw_peer;

#define RAW_NAME "evil@127.0.0.1"

static void s_raw_init(raw_peer *r)
{
    memset(r, 0, sizeof *r);
    r->ctx = zmq_ctx_new();
    r->router = zmq_socket(r->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(r->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(r->router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(r->router, ZMQ_CURVE_SECRETKEY, s_keys.secret_z85, 40);
    assert_int_equal(zmq_bind(r->router, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t len = sizeof ep;
    zmq_getsockopt(r->router, ZMQ_LAST_ENDPOINT, ep, &len);
    snprintf(r->address, sizeof r->address, "%s", ep + strlen("tcp://"));
    r->sid = 0x100;
}

static void *s_raw_dealer(raw_peer *r, char lane, const char *node_address)
{
    void *d = zmq_socket(r->ctx, ZMQ_DEALER);
    char rid[64];
    int n = snprintf(rid, sizeof rid, "%c:%s:%016llx", lane, RAW_NAME, (unsigned long long)r->sid);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, (size_t)n);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, s_keys.public_z85, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, s_keys.public_z85, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, s_keys.secret_z85, 40);
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s", node_address);
    assert_int_equal(zmq_connect(d, ep), 0);
    return d;
}

static void s_raw_send_env(void *sock, uint64_t base, const gv_tp_env *e)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(gv_tp_encode_batch(base, e, 1, &buf, &len), GROVE_OK);
    assert_true(zmq_send(sock, buf, len, 0) >= 0);
    gv_free(buf);
}

/* Opens a new session with the node at node_address, as RAW_NAME: hello,
 * wait for its welcome, heartbeat back. */
static void s_raw_session(raw_peer *r, const char *node_address)
{
    if (r->ctl)
        zmq_close(r->ctl);
    if (r->data)
        zmq_close(r->data);
    r->sid++;
    r->node_sid = 0;
    r->ctl = s_raw_dealer(r, 'c', node_address);
    r->data = s_raw_dealer(r, 'd', node_address);
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_HELLO;
    e.u.hello.version = GV_TP_PROTO_VERSION;
    e.u.hello.node = RAW_NAME;
    e.u.hello.creation = 99;
    e.u.hello.session = r->sid;
    e.u.hello.address = r->address;
    s_raw_send_env(r->ctl, 0, &e);
    gv_tp_decoder dec;
    gv_tp_decoder_init(&dec);
    uint64_t deadline = gv_now_ms() + 10000;
    while (!r->node_sid && gv_now_ms() < deadline) {
        zmq_pollitem_t it = {.socket = r->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        zmq_msg_recv(&id, r->router, 0);
        zmq_msg_recv(&body, r->router, 0);
        const char *rid = zmq_msg_data(&id);
        gv_tp_batch b;
        if (zmq_msg_size(&id) > 0 && rid[0] == 'c' &&
            gv_tp_decode(&dec, GV_TP_LANE_CONTROL, zmq_msg_data(&body), zmq_msg_size(&body), &b,
                         NULL) == GROVE_OK) {
            for (size_t i = 0; i < b.n; i++)
                if (b.envs[i].kind == GV_TP_WELCOME && b.envs[i].u.hello.echo == r->sid)
                    r->node_sid = b.envs[i].u.hello.session;
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    gv_tp_decoder_fini(&dec);
    assert_true(r->node_sid != 0);
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_HEARTBEAT;
    e.u.heartbeat.echo = r->node_sid;
    s_raw_send_env(r->ctl, 0, &e);
}

static void s_raw_fini(raw_peer *r)
{
    if (r->ctl)
        zmq_close(r->ctl);
    if (r->data)
        zmq_close(r->data);
    zmq_close(r->router);
    zmq_ctx_term(r->ctx);
}

/* Checks that a and b still talk: one envelope each way. */
static void s_still_talking(tnode *a, tnode *b, uint32_t sender, uint32_t seq)
{
    uint8_t payload[6];
    tn_payload(payload, seq);
    gv_tp_env e = tn_send_env(sender, payload);
    uint64_t before_b, before_a;
    tnode snap13 = tn_snap(b);
    before_b = snap13.received;
    tnode snap14 = tn_snap(a);
    before_a = snap14.received;
    assert_int_equal(gv_tp_send(a->tp, b->nn, &e), GROVE_OK);
    assert_int_equal(gv_tp_send(b->tp, a->nn, &e), GROVE_OK);
    assert_true(tn_wait_received(b, before_b + 1, 10000));
    assert_true(tn_wait_received(a, before_a + 1, 10000));
}

static void test_bad_frames_from_an_authenticated_peer_end_only_its_session(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b = &s_n[1];
    tn_opts o = s_opts(NULL);
    o.max_payload = 1000; /* ZMQ_MAXMSGSIZE becomes 1000 + 64 KiB */
    assert_int_equal(tn_start(a, "a@127.0.0.1", &o), GROVE_OK);
    s_start(b, "b@127.0.0.1", gv_tp_address(a->tp));
    s_wait_pair(a, b);
    grove_nodename evil;
    assert_int_equal(grove_nodename_intern(RAW_NAME, strlen(RAW_NAME), &evil), GROVE_OK);
    raw_peer r;
    s_raw_init(&r);

    /* A well-behaved first batch is delivered. */
    s_raw_session(&r, gv_tp_address(a->tp));
    assert_true(tn_wait_events(a, TN_UP, evil, 1, 10000));
    uint8_t payload[6];
    tn_payload(payload, 0);
    gv_tp_env ok = tn_send_env(6, payload);
    s_raw_send_env(r.data, 1, &ok);
    assert_true(tn_wait_received(a, 1, 10000));

    struct {
        const char *what;
        gv_tp_down_reason reason;
    } rounds[] = {
        {"garbage", GV_TP_DOWN_PROTOCOL_ERROR},
        {"truncated", GV_TP_DOWN_PROTOCOL_ERROR},
        {"out of sequence", GV_TP_DOWN_SEQUENCE_GAP},
        {"two frames", GV_TP_DOWN_PROTOCOL_ERROR},
        {"control kind on the data lane", GV_TP_DOWN_PROTOCOL_ERROR},
    };
    for (int i = 0; i < (int)(sizeof rounds / sizeof rounds[0]); i++) {
        if (i > 0) {
            s_raw_session(&r, gv_tp_address(a->tp));
            assert_true(tn_wait_events(a, TN_UP, evil, i + 1, 10000));
        }
        uint8_t *buf;
        size_t len;
        assert_int_equal(gv_tp_encode_batch(1, &ok, 1, &buf, &len), GROVE_OK);
        if (i == 0) {
            static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0xff, 0x12, 0x34};
            zmq_send(r.data, garbage, sizeof garbage, 0);
        } else if (i == 1) {
            zmq_send(r.data, buf, len - 3, 0);
        } else if (i == 2) {
            s_raw_send_env(r.data, 5, &ok);
        } else if (i == 3) {
            zmq_send(r.data, buf, len, ZMQ_SNDMORE);
            zmq_send(r.data, buf, len, 0);
        } else {
            gv_tp_env hb;
            memset(&hb, 0, sizeof hb);
            hb.kind = GV_TP_HEARTBEAT;
            s_raw_send_env(r.data, 1, &hb);
        }
        gv_free(buf);
        assert_true(tn_wait_events(a, TN_DOWN, evil, i + 1, 10000));
        tnode snap15 = tn_snap(a);
        gv_tp_down_reason reason = tn_last(&snap15, TN_DOWN, evil)->reason;
        if (reason != rounds[i].reason)
            fail_msg("%s: reason %s", rounds[i].what, gv_tp_down_reason_name(reason));
        s_still_talking(a, b, 7, (uint32_t)i);
    }

    /* An oversized frame: ZeroMQ drops the connection; the session then
     * dies of silence, and the node goes on. */
    s_raw_session(&r, gv_tp_address(a->tp));
    assert_true(tn_wait_events(a, TN_UP, evil, 6, 10000));
    size_t huge = 200 * 1024;
    uint8_t *big = gv_calloc(1, huge);
    zmq_send(r.data, big, huge, 0);
    gv_free(big);
    assert_true(tn_wait_events(a, TN_DOWN, evil, 6, 10000));
    s_still_talking(a, b, 7, 5);

    tnode snap16 = tn_snap(a);
    assert_int_equal(tn_count(&snap16, TN_DOWN, b->nn), 0);
    assert_int_equal(snap16.order_errors, 0);
    gv_tp_stats st;
    gv_tp_stats_get(a->tp, &st);
    assert_true(st.protocol_errors >= 5);
    s_raw_fini(&r);
    tn_fini(b);
    tn_fini(a);
}

static void test_node_keys_admit_only_allow_listed_names(void **state)
{
    (void)state;
    char pa[41], sa[41], pb[41], sb[41], pc[41], sc[41];
    gv_tp_keygen(pa, sa);
    gv_tp_keygen(pb, sb);
    gv_tp_keygen(pc, sc);
    char allow[512], allow_c[512];
    snprintf(allow, sizeof allow, "grove-allowlist 1\na@127.0.0.1 %s\nb@127.0.0.1 %s\n", pa, pb);
    /* c believes it belongs, but a's list does not name it */
    snprintf(allow_c, sizeof allow_c, "grove-allowlist 1\na@127.0.0.1 %s\nc@127.0.0.1 %s\n", pa,
             pc);
    gv_tp_keys ka, kb, kc;
    assert_int_equal(gv_tp_keys_for_node(&ka, "a@127.0.0.1", sa, 40, allow, strlen(allow), NULL, 0),
                     GROVE_OK);
    assert_int_equal(gv_tp_keys_for_node(&kb, "b@127.0.0.1", sb, 40, allow, strlen(allow), NULL, 0),
                     GROVE_OK);
    assert_int_equal(
        gv_tp_keys_for_node(&kc, "c@127.0.0.1", sc, 40, allow_c, strlen(allow_c), NULL, 0),
        GROVE_OK);
    tnode *a = &s_n[0], *b = &s_n[1], *c = &s_n[2];
    tn_opts o = s_opts(NULL);
    o.keys = &ka;
    assert_int_equal(tn_start(a, "a@127.0.0.1", &o), GROVE_OK);
    /* With per-node keys a seed names its node. */
    char seed[300];
    snprintf(seed, sizeof seed, "a@%s", gv_tp_address(a->tp));
    o = s_opts("127.0.0.1:1");
    o.keys = &kb;
    assert_int_equal(tn_start(b, "b@127.0.0.1", &o), GROVE_EINVAL); /* an unnamed seed */
    tn_fini(b);
    o = s_opts(seed);
    o.keys = &kb;
    assert_int_equal(tn_start(b, "b@127.0.0.1", &o), GROVE_OK);
    s_wait_pair(a, b);
    s_still_talking(a, b, 1, 0);

    o.keys = &kc;
    assert_int_equal(tn_start(c, "c@127.0.0.1", &o), GROVE_OK);
    /* b's key with c's name: ZAP admits the key as b, the hello says c. */
    raw_peer r;
    s_raw_init(&r);
    void *d = zmq_socket(r.ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, "c:c@127.0.0.1:0000000000000001", 30);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, pa, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pb, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sb, 40);
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s", gv_tp_address(a->tp));
    assert_int_equal(zmq_connect(d, ep), 0);
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_HELLO;
    e.u.hello.version = GV_TP_PROTO_VERSION;
    e.u.hello.node = "c@127.0.0.1";
    e.u.hello.creation = 5;
    e.u.hello.session = 1;
    e.u.hello.address = r.address;
    s_raw_send_env(d, 0, &e);
    gv_sleep_ms(1000);
    tnode sa_ = tn_snap(a);
    assert_int_equal(tn_count(&sa_, TN_UP, c->nn), 0);
    assert_int_equal(tn_count(&sa_, TN_UP, 0), 1);
    assert_int_equal(tn_count(&sa_, TN_DOWN, 0), 0);
    tnode sc_ = tn_snap(c);
    assert_int_equal(sc_.n_ev, 0);
    gv_tp_stats st;
    gv_tp_stats_get(a->tp, &st);
    assert_true(st.zap_refused >= 1);
    zmq_close(d);
    s_raw_fini(&r);
    tn_fini(c);
    tn_fini(b);
    tn_fini(a);
    gv_tp_keys_fini(&ka);
    gv_tp_keys_fini(&kb);
    gv_tp_keys_fini(&kc);
}

static void test_incompatible_version_is_refused(void **state)
{
    (void)state;
    tnode *a = &s_n[0];
    s_start(a, "a@127.0.0.1", NULL);
    raw_peer r;
    s_raw_init(&r);
    r.sid++;
    r.ctl = s_raw_dealer(&r, 'c', gv_tp_address(a->tp));
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_HELLO;
    e.u.hello.version = GV_TP_PROTO_VERSION + 1;
    e.u.hello.node = RAW_NAME;
    e.u.hello.creation = 99;
    e.u.hello.session = r.sid;
    e.u.hello.address = r.address;
    s_raw_send_env(r.ctl, 0, &e);
    /* Nothing comes back: a does not dial a peer it refused. */
    zmq_pollitem_t it = {.socket = r.router, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&it, 1, 1000), 0);
    tnode sa_ = tn_snap(a);
    assert_int_equal(sa_.n_ev, 0);
    gv_tp_member m[2];
    assert_int_equal(gv_tp_members(a->tp, m, 2), 0);
    s_raw_fini(&r);
    tn_fini(a);
}

/* One frame the raw peer's ROUTER received from the node. */
typedef struct raw_frame {
    uint64_t sid;           /* the node's session id, from the routing id */
    uint64_t base_seq;      /* data frames */
    size_t n;               /* envelopes in the frame */
    uint32_t seq[4];        /* data frames: the first send envelopes' numbers */
    uint64_t session, echo; /* the hello or welcome looked for */
    bool probe;
} raw_frame;

/* Waits up to ms on the raw peer's ROUTER for the next frame on the data
 * lane (lane 'd'), or for a control frame holding an envelope of `kind`
 * (lane 'c'; other control frames, such as heartbeats and membership, are
 * passed over). Frames must come from the node named `from`. */
static bool s_raw_await(raw_peer *r, gv_tp_decoder *dec, const char *from, char lane,
                        gv_tp_kind kind, raw_frame *out, uint64_t ms)
{
    uint64_t deadline = gv_now_ms() + ms;
    bool found = false;
    while (!found && gv_now_ms() < deadline) {
        zmq_pollitem_t it = {.socket = r->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&id, r->router, 0) >= 0);
        assert_true(zmq_msg_more(&id));
        assert_true(zmq_msg_recv(&body, r->router, 0) >= 0);
        assert_false(zmq_msg_more(&body));
        /* "<lane>:<node>:<16 hex digits>" */
        char rid[300];
        size_t len = zmq_msg_size(&id);
        assert_true(len > 2 + 17 && len < sizeof rid);
        memcpy(rid, zmq_msg_data(&id), len);
        rid[len] = 0;
        assert_true((rid[0] == 'c' || rid[0] == 'd') && rid[1] == ':' && rid[len - 17] == ':');
        rid[len - 17] = 0;
        assert_string_equal(rid + 2, from);
        memset(out, 0, sizeof *out);
        out->sid = strtoull(rid + len - 16, NULL, 16);
        gv_tp_batch b;
        assert_int_equal(gv_tp_decode(dec, rid[0] == 'c' ? GV_TP_LANE_CONTROL : GV_TP_LANE_DATA,
                                      zmq_msg_data(&body), zmq_msg_size(&body), &b, NULL),
                         GROVE_OK);
        if (rid[0] == 'd' && lane == 'd') {
            out->base_seq = b.base_seq;
            out->n = b.n;
            for (size_t i = 0; i < b.n && i < 4; i++) {
                const gv_tp_env *e = &b.envs[i];
                assert_int_equal(e->kind, GV_TP_SEND);
                assert_int_equal(e->u.send.payload.len, 6);
                const uint8_t *p = e->u.send.payload.data + 2;
                out->seq[i] =
                    (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            }
            found = true;
        } else if (rid[0] == 'c' && lane == 'c') {
            for (size_t i = 0; i < b.n && !found; i++) {
                if (b.envs[i].kind != kind)
                    continue;
                out->n = b.n;
                out->session = b.envs[i].u.hello.session;
                out->echo = b.envs[i].u.hello.echo;
                out->probe = b.envs[i].u.hello.probe;
                found = true;
            }
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    return found;
}

/* The raw peer's hello (echo 0) or welcome (echo: the session answered). */
static gv_tp_env s_raw_hello(const raw_peer *r, gv_tp_kind kind, uint64_t echo)
{
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.u.hello.version = GV_TP_PROTO_VERSION;
    e.u.hello.node = RAW_NAME;
    e.u.hello.creation = 99;
    e.u.hello.session = r->sid;
    e.u.hello.address = r->address;
    e.u.hello.echo = echo;
    return e;
}

/* Both sides dial at once and the peer's welcome is overtaken by its first
 * data batch (another TCP connection): the batch brings the session up at
 * the node, and the late welcome must not bring it up again (a second
 * nodeup, envelopes of the session dropped, sequence numbers restarted). */
static void test_welcome_after_first_data_batch_keeps_the_session(void **state)
{
    (void)state;
    tnode *a = &s_n[0];
    grove_nodename evil;
    assert_int_equal(grove_nodename_intern(RAW_NAME, strlen(RAW_NAME), &evil), GROVE_OK);
    raw_peer r;
    s_raw_init(&r);
    r.sid++;
    /* The raw peer is a named seed, so the node dials it with an ordinary
     * hello. A long nodedown: the raw peer sends one heartbeat only. */
    char seed[128];
    snprintf(seed, sizeof seed, "evil@%s", r.address); /* RAW_NAME at r.address */
    tn_opts o = s_opts(seed);
    o.nodedown_ms = 10000;
    assert_int_equal(tn_start(a, "a@127.0.0.1", &o), GROVE_OK);
    gv_tp_decoder dec;
    gv_tp_decoder_init(&dec);
    raw_frame f;

    /* 1. The node's hello arrives on its link to the raw peer. */
    assert_true(s_raw_await(&r, &dec, a->name, 'c', GV_TP_HELLO, &f, 10000));
    assert_false(f.probe);
    assert_true(f.session != 0);
    assert_true(f.sid == f.session);
    uint64_t node_sid = f.session;

    /* 2. The raw peer's hello crosses it: the node, still dialling, answers
     * with a welcome on the link it already has. */
    r.ctl = s_raw_dealer(&r, 'c', gv_tp_address(a->tp));
    r.data = s_raw_dealer(&r, 'd', gv_tp_address(a->tp));
    gv_tp_env e = s_raw_hello(&r, GV_TP_HELLO, 0);
    s_raw_send_env(r.ctl, 0, &e);
    assert_true(s_raw_await(&r, &dec, a->name, 'c', GV_TP_WELCOME, &f, 10000));
    assert_true(f.echo == r.sid);
    assert_true(f.session == node_sid);
    r.node_sid = node_sid;
    tnode snap = tn_snap(a);
    assert_int_equal(tn_count(&snap, TN_UP, evil), 0); /* handshaking */

    /* 3. The raw peer's first data batch comes before its welcome: it is
     * the node's proof that the raw peer knows its session. */
    uint8_t payload[6];
    tn_payload(payload, 0);
    e = tn_send_env(6, payload);
    s_raw_send_env(r.data, 1, &e);
    assert_true(tn_wait_events(a, TN_UP, evil, 1, 10000));
    assert_true(tn_wait_received(a, 1, 10000));
    /* The node sends in that session: its first data envelope is 1. */
    e = tn_send_env(1, payload);
    assert_int_equal(gv_tp_send(a->tp, evil, &e), GROVE_OK);
    assert_true(s_raw_await(&r, &dec, a->name, 'd', 0, &f, 10000));
    assert_true(f.sid == node_sid);
    assert_int_equal(f.base_seq, 1);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.seq[0], 0);

    /* 4. The welcome answering the node's hello arrives last, while an
     * envelope accepted in this session waits in the node's queue: the node
     * is frozen, the welcome and a heartbeat carrying a marker load are
     * sent and left time to reach its ROUTER (read before the queue). */
    assert_true(tn_freeze(a, 10000));
    e = s_raw_hello(&r, GV_TP_WELCOME, node_sid);
    s_raw_send_env(r.ctl, 0, &e);
    gv_tp_env hb;
    memset(&hb, 0, sizeof hb);
    hb.kind = GV_TP_HEARTBEAT;
    hb.u.heartbeat.echo = node_sid;
    hb.u.heartbeat.run_queue = 4242;
    hb.u.heartbeat.processes = 17;
    s_raw_send_env(r.ctl, 0, &hb);
    tn_payload(payload, 1);
    e = tn_send_env(1, payload);
    assert_int_equal(gv_tp_send(a->tp, evil, &e), GROVE_OK);
    gv_sleep_ms(100);
    tn_thaw(a);
    /* The heartbeat follows the welcome on the control lane: once its load
     * shows, the welcome has been handled. */
    gv_tp_load load = {0};
    for (int i = 0; i < 5000; i++) {
        if (gv_tp_load_of(a->tp, evil, &load) == GROVE_OK && load.run_queue == 4242)
            break;
        gv_sleep_ms(2);
    }
    assert_int_equal(load.run_queue, 4242);
    assert_int_equal(load.processes, 17);
    snap = tn_snap(a);
    assert_int_equal(tn_count(&snap, TN_UP, evil), 1);
    assert_int_equal(tn_count(&snap, TN_DOWN, evil), 0);

    /* 5. The same session goes on, both ways, with numbers running on. */
    assert_true(s_raw_await(&r, &dec, a->name, 'd', 0, &f, 10000));
    assert_true(f.sid == node_sid);
    assert_int_equal(f.base_seq, 2);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.seq[0], 1);
    tn_payload(payload, 2);
    e = tn_send_env(1, payload);
    assert_int_equal(gv_tp_send(a->tp, evil, &e), GROVE_OK);
    assert_true(s_raw_await(&r, &dec, a->name, 'd', 0, &f, 10000));
    assert_true(f.sid == node_sid);
    assert_int_equal(f.base_seq, 3);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.seq[0], 2);
    for (uint32_t i = 1; i <= 2; i++) {
        tn_payload(payload, i);
        e = tn_send_env(6, payload);
        s_raw_send_env(r.data, 1 + i, &e);
    }
    assert_true(tn_wait_received(a, 3, 10000));

    snap = tn_snap(a);
    assert_int_equal(tn_count(&snap, TN_UP, evil), 1);
    assert_int_equal(tn_count(&snap, TN_DOWN, 0), 0);
    assert_int_equal(snap.received, 3);
    assert_int_equal(snap.expect[6], 3);
    assert_int_equal(snap.order_errors, 0);
    assert_int_equal(snap.bad_envelopes, 0);
    gv_tp_stats st;
    gv_tp_stats_get(a->tp, &st);
    assert_int_equal(st.sessions_opened, 1);
    assert_int_equal(st.protocol_errors, 0);
    assert_int_equal(st.envelopes_sent, 3);
    gv_tp_decoder_fini(&dec);
    tn_fini(a);
    s_raw_fini(&r);
}

static void test_send_limits_and_backpressure(void **state)
{
    (void)state;
    tnode *a = &s_n[0], *b = &s_n[1];
    /* A long nodedown: b must not give up on a while a is frozen below. */
    tn_opts o = s_opts(NULL);
    o.out_buffer = 4096;
    o.max_payload = 1000;
    o.nodedown_ms = 5000;
    assert_int_equal(tn_start(a, "a@127.0.0.1", &o), GROVE_OK);
    tn_opts ob = s_opts(gv_tp_address(a->tp));
    ob.nodedown_ms = 5000;
    assert_int_equal(tn_start(b, "b@127.0.0.1", &ob), GROVE_OK);
    s_wait_pair(a, b);

    uint8_t big[1001];
    memset(big, 0, sizeof big);
    big[0] = 131;
    big[1] = 109;
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_SEND;
    e.u.send.to = (gv_tp_pid){.id = 1, .creation = 1};
    e.u.send.payload = (gv_tp_bytes){big, sizeof big};
    assert_int_equal(gv_tp_send(a->tp, b->nn, &e), GROVE_E2BIG);
    grove_nodename nobody;
    assert_int_equal(grove_nodename_intern("nobody@nowhere", 14, &nobody), GROVE_OK);
    uint8_t payload[6];
    tn_payload(payload, 0);
    e = tn_send_env(5, payload);
    assert_int_equal(gv_tp_send(a->tp, nobody, &e), GROVE_ENOCONN);
    gv_tp_env ctl;
    memset(&ctl, 0, sizeof ctl);
    ctl.kind = GV_TP_HEARTBEAT;
    assert_int_equal(gv_tp_send(a->tp, b->nn, &ctl), GROVE_EINVAL);

    /* a's I/O thread stops: what senders hand over piles up, and past
     * out_buffer bytes messages are refused but links are not. */
    assert_true(tn_freeze(a, 5000));
    uint32_t accepted = 0;
    grove_err rc = GROVE_OK;
    while (accepted < 100000) {
        tn_payload(payload, accepted);
        e = tn_send_env(5, payload);
        rc = gv_tp_send(a->tp, b->nn, &e);
        if (rc != GROVE_OK)
            break;
        accepted++;
    }
    assert_int_equal(rc, GROVE_EAGAIN);
    assert_true(accepted > 0);
    gv_tp_env link;
    memset(&link, 0, sizeof link);
    link.kind = GV_TP_LINK;
    link.u.link.from = (gv_tp_pid){.id = 9, .creation = 1};
    link.u.link.to = (gv_tp_pid){.id = 10, .creation = 1};
    assert_int_equal(gv_tp_send(a->tp, b->nn, &link), GROVE_OK);
    tn_thaw(a);
    /* Everything accepted arrives, in order; then sending works again. */
    assert_true(tn_wait_received(b, accepted + 1, 10000));
    tnode snap17 = tn_snap(b);
    assert_int_equal(snap17.order_errors, 0);
    assert_int_equal(snap17.expect[5], accepted);
    tn_payload(payload, accepted);
    e = tn_send_env(5, payload);
    assert_int_equal(gv_tp_send(a->tp, b->nn, &e), GROVE_OK);
    assert_true(tn_wait_received(b, accepted + 2, 10000));
    tn_fini(b);
    tn_fini(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_three_nodes_form_a_full_mesh_from_one_seed, s_stop_all),
        cmocka_unit_test_teardown(test_envelopes_arrive_in_order_per_sender, s_stop_all),
        cmocka_unit_test_teardown(test_wrong_client_key_fails_auth_and_delivers_nothing,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_silent_peer_is_down_after_nodedown_ms_then_returns,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_graceful_stop_says_goodbye_after_the_last_envelope,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_restarted_peer_opens_a_new_incarnation, s_stop_all),
        cmocka_unit_test_teardown(test_seed_that_is_this_node_is_refused, s_stop_all),
        cmocka_unit_test_teardown(test_bad_frames_from_an_authenticated_peer_end_only_its_session,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_node_keys_admit_only_allow_listed_names, s_stop_all),
        cmocka_unit_test_teardown(test_incompatible_version_is_refused, s_stop_all),
        cmocka_unit_test_teardown(test_welcome_after_first_data_batch_keeps_the_session,
                                  s_stop_all),
        cmocka_unit_test_teardown(test_send_limits_and_backpressure, s_stop_all),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
