/*
 * codec_test.c - envelopes to wire bytes and back (transport/tp_codec.h).
 */
#include "base/gv_alloc.h"
#include "base/gv_rand.h"
#include "transport/tp_codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ETF for the atom `ok` and for {ok, 1}. */
static const uint8_t s_ok[] = {131, 119, 2, 'o', 'k'};
static const uint8_t s_tuple[] = {131, 104, 2, 119, 2, 'o', 'k', 97, 1};

#define BYTES(a) ((gv_tp_bytes){.data = (a), .len = sizeof(a)})

static gv_tp_pid s_pid(uint32_t id, const char *node)
{
    return (gv_tp_pid){.id = id, .serial = id + 1, .creation = 0x1234u + id, .node = node};
}

static gv_tp_ref s_ref(uint32_t w)
{
    gv_tp_ref r = {.creation = 77, .len = 3, .id = {w, w + 1, w + 2}, .node = NULL};
    return r;
}

static const gv_tp_member_info s_members[] = {
    {.node = "a@h1", .address = "h1:7946", .creation = 11},
    {.node = "b@h2", .address = "10.0.0.2:7946", .creation = 12},
};

static const gv_tp_reg_entry s_entries[] = {
    {.name = "bank", .pid = {.id = 5, .serial = 0, .creation = 9, .node = "a@h1"}, .epoch = 3},
    {.name = "log", .pid = {.id = 6, .serial = 1, .creation = 9, .node = "b@h2"}, .epoch = 1},
};

/* One valid envelope of kind k, touching every field it has. */
static gv_tp_env s_sample(gv_tp_kind k)
{
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = k;
    switch (k) {
    case GV_TP_SEND:
        e.u.send.to = s_pid(1, NULL);
        e.u.send.from = s_pid(2, NULL);
        e.u.send.payload = BYTES(s_tuple);
        break;
    case GV_TP_SEND_NAME:
        e.u.send_name.name = "bank";
        e.u.send_name.payload = BYTES(s_ok);
        e.u.send_name.from = s_pid(3, "c@third");
        break;
    case GV_TP_LINK:
    case GV_TP_UNLINK:
    case GV_TP_UNLINK_ACK:
        e.u.link.from = s_pid(4, NULL);
        e.u.link.to = s_pid(5, NULL);
        e.u.link.id = k == GV_TP_LINK ? 0 : 99;
        break;
    case GV_TP_EXIT:
        e.u.exit.from = s_pid(6, NULL);
        e.u.exit.to = s_pid(7, NULL);
        e.u.exit.reason = BYTES(s_ok);
        e.u.exit.link = true;
        break;
    case GV_TP_MONITOR:
        e.u.monitor.from = s_pid(8, NULL);
        e.u.monitor.to = s_pid(9, NULL);
        e.u.monitor.ref = s_ref(100);
        break;
    case GV_TP_DEMONITOR:
        e.u.monitor.from = s_pid(8, NULL);
        e.u.monitor.name = "registered";
        e.u.monitor.ref = s_ref(200);
        break;
    case GV_TP_DOWN:
        e.u.down.ref = s_ref(300);
        e.u.down.from = s_pid(10, NULL);
        e.u.down.to = s_pid(11, NULL);
        e.u.down.reason = BYTES(s_tuple);
        break;
    case GV_TP_SPAWN_REQUEST:
        e.u.spawn_request.ref = s_ref(400);
        e.u.spawn_request.from = s_pid(12, NULL);
        e.u.spawn_request.behaviour = "account";
        e.u.spawn_request.arg = BYTES(s_tuple);
        e.u.spawn_request.link = true;
        e.u.spawn_request.monitor = true;
        e.u.spawn_request.trap_exit = true;
        e.u.spawn_request.name = "acct";
        break;
    case GV_TP_SPAWN_REPLY:
        e.u.spawn_reply.ref = s_ref(500);
        e.u.spawn_reply.to = s_pid(13, NULL);
        e.u.spawn_reply.pid = s_pid(14, NULL);
        e.u.spawn_reply.link = true;
        break;
    case GV_TP_REG_CLAIM:
    case GV_TP_REG_RELEASE:
        e.u.reg_claim.request = k == GV_TP_REG_CLAIM ? 42 : 0;
        e.u.reg_claim.name = "bank";
        e.u.reg_claim.pid = s_pid(15, "a@h1");
        e.u.reg_claim.epoch = 7;
        break;
    case GV_TP_REG_CLAIM_REPLY:
        e.u.reg_claim_reply.request = 42;
        e.u.reg_claim_reply.accepted = false;
        e.u.reg_claim_reply.owner = s_pid(16, "b@h2");
        e.u.reg_claim_reply.epoch = 8;
        break;
    case GV_TP_REG_SYNC:
        e.u.reg_sync.n = 2;
        e.u.reg_sync.entries = s_entries;
        e.u.reg_sync.last = true;
        break;
    case GV_TP_INSPECT_REQUEST:
        e.u.inspect_request.request = 5;
        e.u.inspect_request.what = "ps";
        e.u.inspect_request.args = BYTES(s_ok);
        e.u.inspect_request.reply_to = s_pid(17, NULL);
        break;
    case GV_TP_INSPECT_REPLY:
        e.u.inspect_reply.request = 5;
        e.u.inspect_reply.result = BYTES(s_tuple);
        e.u.inspect_reply.last = true;
        break;
    case GV_TP_HELLO:
    case GV_TP_WELCOME:
        e.u.hello.version = GV_TP_PROTO_VERSION;
        e.u.hello.minor = 3;
        e.u.hello.node = "alpha@host";
        e.u.hello.creation = 0xdeadbeefu;
        e.u.hello.session = 0x0102030405060708ull;
        e.u.hello.capabilities = 0x5;
        e.u.hello.address = "127.0.0.1:7946";
        if (k == GV_TP_HELLO) {
            e.u.hello.probe = true;
            e.u.hello.probe_echo = 0xffffffffffffffffull;
        } else {
            e.u.hello.echo = 0x1111222233334444ull;
        }
        e.u.hello.hidden = true;
        break;
    case GV_TP_HEARTBEAT:
        e.u.heartbeat.echo = 0x99;
        e.u.heartbeat.run_queue = 3;
        e.u.heartbeat.processes = 1000000;
        break;
    case GV_TP_MEMBERSHIP:
        e.u.membership.n = 2;
        e.u.membership.members = s_members;
        break;
    case GV_TP_GOODBYE:
        e.u.goodbye.reason = GV_TP_GOODBYE_LEAVE;
        e.u.goodbye.last_seq = 123456789;
        e.u.goodbye.detail = "bye";
        break;
    default:
        fail_msg("no sample for kind %d", k);
    }
    return e;
}

static const char *s_s(const char *s)
{
    return s ? s : "";
}

static void s_same_pid(const gv_tp_pid *a, const gv_tp_pid *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->serial, b->serial);
    assert_int_equal(a->creation, b->creation);
    if (a->creation || b->creation)
        assert_string_equal(s_s(a->node), s_s(b->node));
}

static void s_same_ref(const gv_tp_ref *a, const gv_tp_ref *b)
{
    assert_int_equal(a->creation, b->creation);
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->id, b->id, a->len * sizeof a->id[0]);
    assert_string_equal(s_s(a->node), s_s(b->node));
}

static void s_same_bytes(gv_tp_bytes a, gv_tp_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.data, b.data, a.len);
}

/* Every field of a equals b's (a is what was sent, b what was decoded). */
static void s_same_env(const gv_tp_env *a, const gv_tp_env *b)
{
    assert_int_equal(a->kind, b->kind);
    const union gv_tp_env_u *x = &a->u, *y = &b->u;
    switch (a->kind) {
    case GV_TP_SEND:
        s_same_pid(&x->send.to, &y->send.to);
        s_same_pid(&x->send.from, &y->send.from);
        s_same_bytes(x->send.payload, y->send.payload);
        break;
    case GV_TP_SEND_NAME:
        assert_string_equal(x->send_name.name, y->send_name.name);
        s_same_pid(&x->send_name.from, &y->send_name.from);
        s_same_bytes(x->send_name.payload, y->send_name.payload);
        break;
    case GV_TP_LINK:
    case GV_TP_UNLINK:
    case GV_TP_UNLINK_ACK:
        s_same_pid(&x->link.from, &y->link.from);
        s_same_pid(&x->link.to, &y->link.to);
        assert_int_equal(x->link.id, y->link.id);
        break;
    case GV_TP_EXIT:
        s_same_pid(&x->exit.from, &y->exit.from);
        s_same_pid(&x->exit.to, &y->exit.to);
        s_same_bytes(x->exit.reason, y->exit.reason);
        assert_int_equal(x->exit.link, y->exit.link);
        break;
    case GV_TP_MONITOR:
    case GV_TP_DEMONITOR:
        s_same_pid(&x->monitor.from, &y->monitor.from);
        s_same_pid(&x->monitor.to, &y->monitor.to);
        assert_string_equal(s_s(x->monitor.name), s_s(y->monitor.name));
        s_same_ref(&x->monitor.ref, &y->monitor.ref);
        break;
    case GV_TP_DOWN:
        s_same_ref(&x->down.ref, &y->down.ref);
        s_same_pid(&x->down.from, &y->down.from);
        assert_string_equal(s_s(x->down.name), s_s(y->down.name));
        s_same_pid(&x->down.to, &y->down.to);
        s_same_bytes(x->down.reason, y->down.reason);
        break;
    case GV_TP_SPAWN_REQUEST:
        s_same_ref(&x->spawn_request.ref, &y->spawn_request.ref);
        s_same_pid(&x->spawn_request.from, &y->spawn_request.from);
        assert_string_equal(x->spawn_request.behaviour, y->spawn_request.behaviour);
        s_same_bytes(x->spawn_request.arg, y->spawn_request.arg);
        assert_int_equal(x->spawn_request.link, y->spawn_request.link);
        assert_int_equal(x->spawn_request.monitor, y->spawn_request.monitor);
        assert_int_equal(x->spawn_request.trap_exit, y->spawn_request.trap_exit);
        assert_string_equal(s_s(x->spawn_request.name), s_s(y->spawn_request.name));
        break;
    case GV_TP_SPAWN_REPLY:
        s_same_ref(&x->spawn_reply.ref, &y->spawn_reply.ref);
        s_same_pid(&x->spawn_reply.to, &y->spawn_reply.to);
        s_same_pid(&x->spawn_reply.pid, &y->spawn_reply.pid);
        s_same_bytes(x->spawn_reply.error, y->spawn_reply.error);
        assert_int_equal(x->spawn_reply.link, y->spawn_reply.link);
        assert_int_equal(x->spawn_reply.monitor, y->spawn_reply.monitor);
        break;
    case GV_TP_REG_CLAIM:
    case GV_TP_REG_RELEASE:
        assert_int_equal(x->reg_claim.request, y->reg_claim.request);
        assert_string_equal(x->reg_claim.name, y->reg_claim.name);
        s_same_pid(&x->reg_claim.pid, &y->reg_claim.pid);
        assert_int_equal(x->reg_claim.epoch, y->reg_claim.epoch);
        break;
    case GV_TP_REG_CLAIM_REPLY:
        assert_int_equal(x->reg_claim_reply.request, y->reg_claim_reply.request);
        assert_int_equal(x->reg_claim_reply.accepted, y->reg_claim_reply.accepted);
        s_same_pid(&x->reg_claim_reply.owner, &y->reg_claim_reply.owner);
        assert_int_equal(x->reg_claim_reply.epoch, y->reg_claim_reply.epoch);
        break;
    case GV_TP_REG_SYNC:
        assert_int_equal(x->reg_sync.n, y->reg_sync.n);
        assert_int_equal(x->reg_sync.last, y->reg_sync.last);
        for (size_t i = 0; i < x->reg_sync.n; i++) {
            assert_string_equal(x->reg_sync.entries[i].name, y->reg_sync.entries[i].name);
            s_same_pid(&x->reg_sync.entries[i].pid, &y->reg_sync.entries[i].pid);
            assert_int_equal(x->reg_sync.entries[i].epoch, y->reg_sync.entries[i].epoch);
        }
        break;
    case GV_TP_INSPECT_REQUEST:
        assert_int_equal(x->inspect_request.request, y->inspect_request.request);
        assert_string_equal(x->inspect_request.what, y->inspect_request.what);
        s_same_bytes(x->inspect_request.args, y->inspect_request.args);
        s_same_pid(&x->inspect_request.reply_to, &y->inspect_request.reply_to);
        break;
    case GV_TP_INSPECT_REPLY:
        assert_int_equal(x->inspect_reply.request, y->inspect_reply.request);
        s_same_bytes(x->inspect_reply.result, y->inspect_reply.result);
        assert_int_equal(x->inspect_reply.last, y->inspect_reply.last);
        break;
    case GV_TP_HELLO:
    case GV_TP_WELCOME:
        assert_int_equal(x->hello.version, y->hello.version);
        assert_int_equal(x->hello.minor, y->hello.minor);
        assert_string_equal(x->hello.node, y->hello.node);
        assert_int_equal(x->hello.creation, y->hello.creation);
        assert_int_equal(x->hello.session, y->hello.session);
        assert_int_equal(x->hello.capabilities, y->hello.capabilities);
        assert_string_equal(x->hello.address, y->hello.address);
        assert_int_equal(x->hello.probe, y->hello.probe);
        assert_int_equal(x->hello.probe_echo, y->hello.probe_echo);
        assert_int_equal(x->hello.echo, y->hello.echo);
        assert_int_equal(x->hello.hidden, y->hello.hidden);
        break;
    case GV_TP_HEARTBEAT:
        assert_int_equal(x->heartbeat.echo, y->heartbeat.echo);
        assert_int_equal(x->heartbeat.run_queue, y->heartbeat.run_queue);
        assert_int_equal(x->heartbeat.processes, y->heartbeat.processes);
        break;
    case GV_TP_MEMBERSHIP:
        assert_int_equal(x->membership.n, y->membership.n);
        for (size_t i = 0; i < x->membership.n; i++) {
            assert_string_equal(x->membership.members[i].node, y->membership.members[i].node);
            assert_string_equal(x->membership.members[i].address, y->membership.members[i].address);
            assert_int_equal(x->membership.members[i].creation, y->membership.members[i].creation);
        }
        break;
    case GV_TP_GOODBYE:
        assert_int_equal(x->goodbye.reason, y->goodbye.reason);
        assert_int_equal(x->goodbye.last_seq, y->goodbye.last_seq);
        assert_string_equal(x->goodbye.detail, y->goodbye.detail);
        break;
    default:
        fail_msg("unexpected kind %d", a->kind);
    }
}

static gv_tp_lane s_lane_of(gv_tp_kind k)
{
    return gv_tp_kind_is_data(k) ? GV_TP_LANE_DATA : GV_TP_LANE_CONTROL;
}

static void test_every_kind_round_trips(void **state)
{
    (void)state;
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    for (int k = GV_TP_NONE + 1; k < GV_TP_KIND_COUNT_; k++) {
        gv_tp_env e = s_sample((gv_tp_kind)k);
        gv_tp_lane lane = s_lane_of(e.kind);
        uint64_t base = lane == GV_TP_LANE_DATA ? 1000 + (uint64_t)k : 0;
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(gv_tp_encode_batch(base, &e, 1, &buf, &len), GROVE_OK);
        gv_tp_batch b;
        gv_tp_proto_error err = {0};
        grove_err rc = gv_tp_decode(&d, lane, buf, len, &b, &err);
        if (rc != GROVE_OK)
            fail_msg("kind %s: %s", gv_tp_kind_name(e.kind), err.reason);
        assert_int_equal(b.n, 1);
        assert_int_equal(b.base_seq, base);
        s_same_env(&e, &b.envs[0]);
        gv_free(buf);
    }
    gv_tp_decoder_fini(&d);
}

static void test_absent_fields_decode_as_absent(void **state)
{
    (void)state;
    /* A send without `from`, a spawn reply with an error, a down by name,
     * a claim reply without owner. */
    gv_tp_env e[4];
    memset(e, 0, sizeof e);
    e[0].kind = GV_TP_SEND;
    e[0].u.send.to = s_pid(1, NULL);
    e[0].u.send.payload = BYTES(s_ok);
    e[1].kind = GV_TP_SPAWN_REPLY;
    e[1].u.spawn_reply.ref = s_ref(1);
    e[1].u.spawn_reply.to = s_pid(2, NULL);
    e[1].u.spawn_reply.error = BYTES(s_tuple);
    e[2].kind = GV_TP_DOWN;
    e[2].u.down.ref = s_ref(2);
    e[2].u.down.name = "bank";
    e[2].u.down.to = s_pid(3, NULL);
    e[2].u.down.reason = BYTES(s_ok);
    e[3].kind = GV_TP_REG_CLAIM_REPLY;
    e[3].u.reg_claim_reply.accepted = true;
    e[3].u.reg_claim_reply.epoch = 4;
    uint8_t *buf;
    size_t len;
    assert_int_equal(gv_tp_encode_batch(1, e, 4, &buf, &len), GROVE_OK);
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    gv_tp_batch b;
    assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_DATA, buf, len, &b, NULL), GROVE_OK);
    assert_int_equal(b.n, 4);
    for (int i = 0; i < 4; i++)
        s_same_env(&e[i], &b.envs[i]);
    assert_int_equal(b.envs[0].u.send.from.creation, 0);
    assert_non_null(b.envs[0].u.send.from.node);
    assert_int_equal(b.envs[1].u.spawn_reply.pid.creation, 0);
    assert_int_equal(b.envs[2].u.down.from.creation, 0);
    assert_int_equal(b.envs[3].u.reg_claim_reply.owner.creation, 0);
    gv_tp_decoder_fini(&d);
    gv_free(buf);
}

static void test_records_concatenate_into_one_batch(void **state)
{
    (void)state;
    /* What the I/O thread does: a header, then records packed one by one. */
    enum { N = 1000 };
    gv_tp_env e[N];
    uint8_t payload[N][16];
    size_t sizes[N], total = 0;
    gv_tp_packer p;
    for (int i = 0; i < N; i++) {
        memset(&e[i], 0, sizeof e[i]);
        payload[i][0] = 131;
        payload[i][1] = 97; /* SMALL_INTEGER_EXT */
        payload[i][2] = (uint8_t)i;
        e[i].kind = GV_TP_SEND;
        e[i].u.send.to = s_pid((uint32_t)i, NULL);
        e[i].u.send.payload = (gv_tp_bytes){payload[i], 3};
        assert_int_equal(gv_tp_pack_begin(&p, &e[i], &sizes[i]), GROVE_OK);
        gv_tp_pack_abort(&p);
        total += sizes[i];
    }
    uint8_t header[GV_TP_BATCH_HEADER_MAX];
    size_t hlen = gv_tp_batch_header(header, 5000000000ull);
    uint8_t *buf = gv_malloc(hlen + total);
    memcpy(buf, header, hlen);
    size_t off = hlen;
    for (int i = 0; i < N; i++) {
        size_t size;
        assert_int_equal(gv_tp_pack_begin(&p, &e[i], &size), GROVE_OK);
        assert_int_equal(size, sizes[i]);
        gv_tp_pack_end(&p, buf + off);
        off += size;
    }
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    gv_tp_batch b;
    assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_DATA, buf, off, &b, NULL), GROVE_OK);
    assert_int_equal(b.base_seq, 5000000000ull);
    assert_int_equal(b.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(b.envs[i].u.send.to.id, (uint32_t)i);
        assert_int_equal(b.envs[i].u.send.payload.data[2], (uint8_t)i);
    }
    /* The arena settles: decoding the same batch again costs no malloc. */
    uint64_t before = d.arena.mallocs;
    for (int round = 0; round < 10; round++)
        assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_DATA, buf, off, &b, NULL), GROVE_OK);
    assert_true(d.arena.mallocs - before <= 1);
    assert_true(before <= 8); /* a few chunks for 1000 envelopes, not thousands */
    gv_tp_decoder_fini(&d);
    gv_free(buf);
}

static void s_expect_eproto(gv_tp_decoder *d, gv_tp_lane lane, const void *buf, size_t len,
                            const char *needle)
{
    gv_tp_batch b;
    gv_tp_proto_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = gv_tp_decode(d, lane, buf, len, &b, &err);
    if (rc != GROVE_EPROTO)
        fail_msg("expected EPROTO (%s), got %s", needle, grove_errname(rc));
    assert_true(err.reason[0] != 0);
    if (needle && !strstr(err.reason, needle))
        fail_msg("reason '%s' does not mention '%s'", err.reason, needle);
}

static void test_lanes_and_sequence_rules_are_enforced(void **state)
{
    (void)state;
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    gv_tp_env send = s_sample(GV_TP_SEND), hb = s_sample(GV_TP_HEARTBEAT);
    uint8_t *buf;
    size_t len;

    assert_int_equal(gv_tp_encode_batch(1, &send, 1, &buf, &len), GROVE_OK);
    s_expect_eproto(&d, GV_TP_LANE_CONTROL, buf, len, "base_seq");
    gv_free(buf);

    assert_int_equal(gv_tp_encode_batch(0, &send, 1, &buf, &len), GROVE_OK);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "base_seq");
    s_expect_eproto(&d, GV_TP_LANE_CONTROL, buf, len, "control lane");
    gv_free(buf);

    assert_int_equal(gv_tp_encode_batch(7, &hb, 1, &buf, &len), GROVE_OK);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "data lane");
    gv_free(buf);

    /* base_seq + n would pass 2^64. */
    gv_tp_env two[2] = {send, send};
    assert_int_equal(gv_tp_encode_batch(UINT64_MAX, two, 2, &buf, &len), GROVE_OK);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "base_seq");
    gv_free(buf);

    /* An empty batch, and an empty frame. */
    uint8_t header[GV_TP_BATCH_HEADER_MAX];
    size_t hlen = gv_tp_batch_header(header, 3);
    s_expect_eproto(&d, GV_TP_LANE_DATA, header, hlen, "no envelope");
    s_expect_eproto(&d, GV_TP_LANE_DATA, header, 0, "empty");
    gv_tp_decoder_fini(&d);
}

/* Packs a protobuf-c Envelope made by hand (to build what our encoder
 * refuses to write) as a one-envelope batch. */
static size_t s_pack_raw(const Grove__Envelope *e, uint64_t base, uint8_t *out, size_t cap)
{
    Grove__Batch b = GROVE__BATCH__INIT;
    Grove__Envelope *ptr = (Grove__Envelope *)e;
    b.base_seq = base;
    b.n_envelopes = 1;
    b.envelopes = &ptr;
    size_t n = grove__batch__get_packed_size(&b);
    assert_true(n <= cap);
    return grove__batch__pack(&b, out);
}

static void test_missing_or_bad_fields_are_refused(void **state)
{
    (void)state;
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    uint8_t buf[512];
    size_t len;
    Grove__Envelope e = GROVE__ENVELOPE__INIT;
    Grove__Send send = GROVE__SEND__INIT;
    Grove__Pid pid = GROVE__PID__INIT;
    e.kind_case = GROVE__ENVELOPE__KIND_SEND;
    e.send = &send;

    /* send without `to` */
    send.payload.data = (uint8_t *)s_ok;
    send.payload.len = sizeof s_ok;
    len = s_pack_raw(&e, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "send.to is missing");

    /* a pid with creation 0 */
    send.to = &pid;
    pid.id = 1;
    len = s_pack_raw(&e, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "creation 0");

    /* a payload that is not ETF */
    pid.creation = 5;
    static const uint8_t not_etf[] = {1, 2, 3};
    send.payload.data = (uint8_t *)not_etf;
    send.payload.len = sizeof not_etf;
    len = s_pack_raw(&e, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "ETF");

    /* a pid node that is not UTF-8 */
    send.payload.data = (uint8_t *)s_ok;
    send.payload.len = sizeof s_ok;
    char bad_utf8[] = {'a', (char)0xff, '@', 'b', 0};
    pid.node = bad_utf8;
    len = s_pack_raw(&e, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "UTF-8");
    pid.node = (char *)"";

    /* a reference of six words */
    Grove__Envelope me = GROVE__ENVELOPE__INIT;
    Grove__Monitor mon = GROVE__MONITOR__INIT;
    Grove__Ref ref = GROVE__REF__INIT;
    uint32_t words[6] = {1, 2, 3, 4, 5, 6};
    me.kind_case = GROVE__ENVELOPE__KIND_MONITOR;
    me.monitor = &mon;
    mon.from = &pid;
    mon.target_case = GROVE__MONITOR__TARGET_TO;
    mon.to = &pid;
    mon.ref = &ref;
    ref.creation = 1;
    ref.n_id = 6;
    ref.id = words;
    len = s_pack_raw(&me, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "words");
    /* ... and a monitor without target */
    ref.n_id = 2;
    mon.target_case = GROVE__MONITOR__TARGET__NOT_SET;
    len = s_pack_raw(&me, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "no target");

    /* a hello whose node is not name@host, or whose session is 0 */
    Grove__Envelope he = GROVE__ENVELOPE__INIT;
    Grove__Hello hello = GROVE__HELLO__INIT;
    he.kind_case = GROVE__ENVELOPE__KIND_HELLO;
    he.hello = &hello;
    hello.node = (char *)"nohost";
    hello.creation = 1;
    hello.session = 1;
    len = s_pack_raw(&he, 0, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_CONTROL, buf, len, "name@host");
    hello.node = (char *)"a@b";
    hello.session = 0;
    len = s_pack_raw(&he, 0, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_CONTROL, buf, len, "session");
    hello.session = 9;
    len = s_pack_raw(&he, 0, buf, sizeof buf);
    gv_tp_batch b;
    assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_CONTROL, buf, len, &b, NULL), GROVE_OK);

    /* an envelope with no kind */
    Grove__Envelope none = GROVE__ENVELOPE__INIT;
    len = s_pack_raw(&none, 1, buf, sizeof buf);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, "unknown envelope kind");
    gv_tp_decoder_fini(&d);
}

static void test_unknown_fields_are_ignored_and_unknown_kinds_refused(void **state)
{
    (void)state;
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    gv_tp_env hb = s_sample(GV_TP_HEARTBEAT);
    uint8_t *enc;
    size_t len;
    assert_int_equal(gv_tp_encode_batch(0, &hb, 1, &enc, &len), GROVE_OK);
    /* enc = 12 <len> 92 01 <hb len> <hb...>: append an unknown varint
     * field 15 (0x78 0x01) to the Heartbeat, and to the Batch (field 9). */
    assert_int_equal(enc[0], GV_TP_RECORD_TAG);
    size_t hb_len = enc[4];
    uint8_t buf[128];
    size_t n = 0;
    buf[n++] = GV_TP_RECORD_TAG;
    buf[n++] = (uint8_t)(enc[1] + 2);
    buf[n++] = enc[2];
    buf[n++] = enc[3];
    buf[n++] = (uint8_t)(hb_len + 2);
    memcpy(buf + n, enc + 5, hb_len);
    n += hb_len;
    buf[n++] = 0x78;
    buf[n++] = 0x01;
    buf[n++] = 0x48; /* Batch field 9, varint */
    buf[n++] = 0x05;
    gv_tp_batch b;
    gv_tp_proto_error err = {0};
    if (gv_tp_decode(&d, GV_TP_LANE_CONTROL, buf, n, &b, &err) != GROVE_OK)
        fail_msg("unknown fields refused: %s", err.reason);
    assert_int_equal(b.n, 1);
    s_same_env(&hb, &b.envs[0]);

    /* An Envelope holding only field 60 (a kind from the future). */
    uint8_t future[] = {0x08, 0x01, GV_TP_RECORD_TAG, 3, 0xe0, 0x03, 0x01};
    s_expect_eproto(&d, GV_TP_LANE_DATA, future, sizeof future, "unknown envelope kind");
    gv_free(enc);
    gv_tp_decoder_fini(&d);
}

static void test_every_truncation_and_corruption_fails_cleanly(void **state)
{
    (void)state;
    gv_tp_env all[GV_TP_KIND_COUNT_];
    size_t n_data = 0;
    for (int k = 1; k < GV_TP_FIRST_CONTROL; k++)
        all[n_data++] = s_sample((gv_tp_kind)k);
    uint8_t *buf;
    size_t len;
    assert_int_equal(gv_tp_encode_batch(17, all, n_data, &buf, &len), GROVE_OK);
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    gv_tp_batch b;
    gv_tp_proto_error err;
    assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_DATA, buf, len, &b, &err), GROVE_OK);
    assert_int_equal(b.n, n_data);

    /* Every strict prefix: refused with a reason (a prefix that ends
     * between two whole records is a valid shorter batch). */
    for (size_t cut = 0; cut < len; cut++) {
        memset(&err, 0, sizeof err);
        grove_err rc = gv_tp_decode(&d, GV_TP_LANE_DATA, buf, cut, &b, &err);
        if (rc == GROVE_OK)
            assert_true(b.n < n_data);
        else
            assert_true(rc == GROVE_EPROTO && err.reason[0]);
    }
    /* Random byte flips: never a crash, always OK or EPROTO + reason. */
    gv_rng rng;
    gv_rng_seed(&rng, 12345);
    uint8_t *copy = gv_malloc(len);
    size_t refused = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, buf, len);
        int flips = 1 + (int)gv_rng_below(&rng, 4);
        for (int f = 0; f < flips; f++)
            copy[gv_rng_below(&rng, (uint32_t)len)] = (uint8_t)gv_rng_next(&rng);
        memset(&err, 0, sizeof err);
        grove_err rc = gv_tp_decode(&d, GV_TP_LANE_DATA, copy, len, &b, &err);
        if (rc != GROVE_OK) {
            assert_int_equal(rc, GROVE_EPROTO);
            assert_true(err.reason[0] != 0);
            refused++;
        }
    }
    assert_true(refused > 0);
    /* Pure noise. */
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + gv_rng_below(&rng, 300);
        for (size_t i = 0; i < n; i++)
            copy[i % len] = (uint8_t)gv_rng_next(&rng);
        grove_err rc = gv_tp_decode(&d, GV_TP_LANE_DATA, copy, n < len ? n : len, &b, &err);
        assert_true(rc == GROVE_OK || rc == GROVE_EPROTO);
    }
    gv_free(copy);
    gv_free(buf);
    gv_tp_decoder_fini(&d);
}

static void test_many_empty_envelopes_are_refused_without_harm(void **state)
{
    (void)state;
    /* 500,000 empty Envelope records (2 bytes each): protobuf-c makes an
     * object per record inside the arena's limit, and the decoder refuses
     * the kindless envelopes. */
    size_t n = 500000;
    uint8_t *buf = gv_malloc(2 * n + 2);
    size_t len = gv_tp_batch_header(buf, 1);
    for (size_t i = 0; i < n; i++) {
        buf[len++] = GV_TP_RECORD_TAG;
        buf[len++] = 0;
    }
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    s_expect_eproto(&d, GV_TP_LANE_DATA, buf, len, NULL);
    gv_tp_decoder_fini(&d);
    gv_free(buf);
}

static void test_encoder_refuses_incomplete_envelopes(void **state)
{
    (void)state;
    gv_tp_packer p;
    size_t size;
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL); /* kind NONE */
    e.kind = GV_TP_SEND;
    e.u.send.payload = BYTES(s_ok);
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL); /* no to */
    e.u.send.to = s_pid(1, NULL);
    e.u.send.payload.len = 0;
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL); /* no payload */
    e = s_sample(GV_TP_MONITOR);
    e.u.monitor.ref.len = 0;
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL);
    e = s_sample(GV_TP_REG_CLAIM);
    e.u.reg_claim.pid.node = NULL; /* registry pids name their node */
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL);
    e = s_sample(GV_TP_HELLO);
    e.u.hello.node = "no-at-sign";
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL);
    e = s_sample(GV_TP_MEMBERSHIP);
    gv_tp_member_info bad[2] = {s_members[0], {.node = "x@y", .address = "", .creation = 1}};
    e.u.membership.members = bad;
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_EINVAL);
}

static void test_node_names(void **state)
{
    (void)state;
    assert_true(gv_tp_valid_node_name("a@b", 3));
    assert_true(gv_tp_valid_node_name("grove1@10.0.0.1", 15));
    assert_false(gv_tp_valid_node_name("ab", 2));
    assert_false(gv_tp_valid_node_name("@b", 2));
    assert_false(gv_tp_valid_node_name("a@", 2));
    assert_false(gv_tp_valid_node_name("a b@c", 5));
    char long_name[GV_TP_MAX_NODE_BYTES + 2];
    memset(long_name, 'x', sizeof long_name);
    long_name[1] = '@';
    assert_true(gv_tp_valid_node_name(long_name, GV_TP_MAX_NODE_BYTES));
    assert_false(gv_tp_valid_node_name(long_name, GV_TP_MAX_NODE_BYTES + 1));
    assert_string_equal(gv_tp_kind_name(GV_TP_SEND), "send");
    assert_string_equal(gv_tp_kind_name((gv_tp_kind)999), "?");
}

/* GROVE_ENVELOPE_CORPUS=<dir>: writes the seed corpus of
 * tests/fuzz/fuzz_envelope.c (a lane byte, then a batch) and exits. */
static int s_write_corpus(const char *dir)
{
    for (int k = GV_TP_NONE + 1; k < GV_TP_KIND_COUNT_; k++) {
        gv_tp_env e = s_sample((gv_tp_kind)k);
        bool data = gv_tp_kind_is_data(e.kind);
        uint8_t *buf;
        size_t len;
        if (gv_tp_encode_batch(data ? 1 : 0, &e, 1, &buf, &len) != GROVE_OK)
            return 1;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, gv_tp_kind_name(e.kind));
        FILE *f = fopen(path, "wb");
        if (!f)
            return 1;
        fputc(data ? 1 : 0, f);
        fwrite(buf, 1, len, f);
        if (data) { /* and a truncated copy */
            fclose(f);
            snprintf(path, sizeof path, "%s/bad_truncated_%s", dir, gv_tp_kind_name(e.kind));
            f = fopen(path, "wb");
            if (!f)
                return 1;
            fputc(1, f);
            fwrite(buf, 1, len / 2, f);
        }
        fclose(f);
        gv_free(buf);
    }
    return 0;
}

int main(void)
{
    const char *corpus = getenv("GROVE_ENVELOPE_CORPUS");
    if (corpus)
        return s_write_corpus(corpus);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips),
        cmocka_unit_test(test_absent_fields_decode_as_absent),
        cmocka_unit_test(test_records_concatenate_into_one_batch),
        cmocka_unit_test(test_lanes_and_sequence_rules_are_enforced),
        cmocka_unit_test(test_missing_or_bad_fields_are_refused),
        cmocka_unit_test(test_unknown_fields_are_ignored_and_unknown_kinds_refused),
        cmocka_unit_test(test_every_truncation_and_corruption_fails_cleanly),
        cmocka_unit_test(test_many_empty_envelopes_are_refused_without_harm),
        cmocka_unit_test(test_encoder_refuses_incomplete_envelopes),
        cmocka_unit_test(test_node_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
