/*
 * codec_fast_test.c - the hand-written send path of the codec
 * (transport/tp_encode.c, tp_decode.c) against protobuf-c: the encoder
 * must write exactly protobuf-c's bytes, and the decoder must give exactly
 * the generic decoder's result (gv_tp_decode_generic) on every input,
 * well-formed, reordered, padded or corrupted.
 */
#include "base/gv_alloc.h"
#include "base/gv_rand.h"
#include "proto/grove.pb-c.h"
#include "transport/tp_codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ROUNDS 3000
#define MAX_BATCH 12

static uint64_t s_state;

static uint64_t s_next(void)
{
    /* splitmix64 */
    uint64_t z = (s_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t s_below(uint32_t n)
{
    return (uint32_t)(s_next() % n);
}

static void s_seed(void)
{
    s_state = gv_random_seed();
    print_message("seed %llu\n", (unsigned long long)s_state);
}

/* A uint32 spread over every varint length, zero included. */
static uint32_t s_u32(void)
{
    switch (s_below(5)) {
    case 0:
        return 0;
    case 1:
        return s_below(128);
    case 2:
        return s_below(1u << 14);
    case 3:
        return (uint32_t)s_next();
    default:
        return UINT32_MAX - s_below(3);
    }
}

typedef struct owned {
    char node[2][300];
    uint8_t payload[400];
} owned;

static void s_random_pid(gv_tp_pid *pid, char *node, bool may_be_absent)
{
    memset(pid, 0, sizeof *pid);
    pid->id = s_u32();
    pid->serial = s_u32();
    pid->creation = may_be_absent && s_below(3) == 0 ? 0 : s_u32() | 1u;
    size_t len = s_below(4) == 0 ? 1 + s_below(200) : 0;
    for (size_t i = 0; i < len; i++)
        node[i] = (char)('a' + s_below(26));
    node[len] = 0;
    /* Sometimes a 2-byte UTF-8 character, so lengths cross 127. */
    if (len >= 2 && s_below(2)) {
        node[0] = (char)0xc3;
        node[1] = (char)0xa9;
    }
    pid->node = len ? node : (s_below(2) ? "" : NULL);
}

static void s_random_send(gv_tp_env *env, owned *o)
{
    memset(env, 0, sizeof *env);
    env->kind = GV_TP_SEND;
    s_random_pid(&env->u.send.to, o->node[0], false);
    s_random_pid(&env->u.send.from, o->node[1], true);
    size_t len = 2 + s_below(s_below(4) == 0 ? sizeof o->payload - 2 : 100);
    o->payload[0] = 131;
    for (size_t i = 1; i < len; i++)
        o->payload[i] = (uint8_t)s_next();
    env->u.send.payload = (gv_tp_bytes){.data = o->payload, .len = len};
}

static Grove__Pid *s_pb_pid(Grove__Pid *slot, const gv_tp_pid *in)
{
    if (!in->creation)
        return NULL;
    grove__pid__init(slot);
    slot->id = in->id;
    slot->serial = in->serial;
    slot->creation = in->creation;
    slot->node = (char *)(in->node ? in->node : "");
    return slot;
}

/* The batch as protobuf-c packs it. */
static uint8_t *s_pb_batch(uint64_t base_seq, const gv_tp_env *envs, size_t n, size_t *len)
{
    Grove__Batch b;
    grove__batch__init(&b);
    b.base_seq = base_seq;
    Grove__Envelope e[MAX_BATCH], *ep[MAX_BATCH];
    Grove__Send s[MAX_BATCH];
    Grove__Pid pid[MAX_BATCH][2];
    for (size_t i = 0; i < n; i++) {
        grove__envelope__init(&e[i]);
        grove__send__init(&s[i]);
        s[i].to = s_pb_pid(&pid[i][0], &envs[i].u.send.to);
        s[i].from = s_pb_pid(&pid[i][1], &envs[i].u.send.from);
        s[i].payload.data = (uint8_t *)envs[i].u.send.payload.data;
        s[i].payload.len = envs[i].u.send.payload.len;
        e[i].kind_case = GROVE__ENVELOPE__KIND_SEND;
        e[i].send = &s[i];
        ep[i] = &e[i];
    }
    b.n_envelopes = n;
    b.envelopes = ep;
    *len = grove__batch__get_packed_size(&b);
    uint8_t *out = gv_malloc(*len);
    assert_int_equal(grove__batch__pack(&b, out), *len);
    return out;
}

static void s_pid_equal(const gv_tp_pid *a, const gv_tp_pid *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->serial, b->serial);
    assert_int_equal(a->creation, b->creation);
    assert_string_equal(a->node, b->node);
}

static void s_bytes_equal(gv_tp_bytes a, gv_tp_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.data, b.data, a.len);
}

/* Both decoders on the same bytes: the same verdict, the same envelopes. */
static void s_same_decoding(gv_tp_lane lane, const uint8_t *buf, size_t len)
{
    gv_tp_decoder fast, slow;
    gv_tp_decoder_init(&fast);
    gv_tp_decoder_init(&slow);
    gv_tp_batch a, b;
    gv_tp_proto_error ea, eb;
    grove_err ra = gv_tp_decode(&fast, lane, buf, len, &a, &ea);
    grove_err rb = gv_tp_decode_generic(&slow, lane, buf, len, &b, &eb);
    assert_int_equal(ra, rb);
    if (ra != GROVE_OK) {
        assert_int_equal(ea.index, eb.index);
        assert_string_equal(ea.reason, eb.reason);
    } else {
        assert_int_equal(a.base_seq, b.base_seq);
        assert_int_equal(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
            const gv_tp_env *x = &a.envs[i], *y = &b.envs[i];
            assert_int_equal(x->kind, y->kind);
            if (x->kind != GV_TP_SEND)
                continue; /* only the generic path makes other kinds, in both */
            s_pid_equal(&x->u.send.to, &y->u.send.to);
            s_pid_equal(&x->u.send.from, &y->u.send.from);
            s_bytes_equal(x->u.send.payload, y->u.send.payload);
        }
    }
    gv_tp_decoder_fini(&fast);
    gv_tp_decoder_fini(&slow);
}

static void test_send_encoding_is_protobuf_c_byte_for_byte(void **state)
{
    (void)state;
    s_seed();
    static owned o[MAX_BATCH];
    gv_tp_env envs[MAX_BATCH];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + s_below(MAX_BATCH);
        uint64_t base_seq = s_below(2) ? 1 + s_below(1000) : s_next() >> s_below(64);
        if (base_seq == 0)
            base_seq = 1;
        for (size_t i = 0; i < n; i++)
            s_random_send(&envs[i], &o[i]);
        uint8_t *ours;
        size_t ours_len, theirs_len;
        assert_int_equal(gv_tp_encode_batch(base_seq, envs, n, &ours, &ours_len), GROVE_OK);
        uint8_t *theirs = s_pb_batch(base_seq, envs, n, &theirs_len);
        assert_int_equal(ours_len, theirs_len);
        assert_memory_equal(ours, theirs, ours_len);

        /* And back: the fast decoder returns what went in. */
        gv_tp_decoder d;
        gv_tp_decoder_init(&d);
        gv_tp_batch b;
        assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_DATA, ours, ours_len, &b, NULL), GROVE_OK);
        assert_int_equal(b.base_seq, base_seq);
        assert_int_equal(b.n, n);
        for (size_t i = 0; i < n; i++) {
            gv_tp_pid to = envs[i].u.send.to, from = envs[i].u.send.from;
            if (!to.node)
                to.node = "";
            if (!from.node || !from.creation)
                from.node = "";
            if (!from.creation)
                from.id = from.serial = 0;
            s_pid_equal(&b.envs[i].u.send.to, &to);
            s_pid_equal(&b.envs[i].u.send.from, &from);
            s_bytes_equal(b.envs[i].u.send.payload, envs[i].u.send.payload);
        }
        gv_tp_decoder_fini(&d);
        s_same_decoding(GV_TP_LANE_DATA, ours, ours_len);
        s_same_decoding(GV_TP_LANE_CONTROL, ours, ours_len);
        gv_free(ours);
        gv_free(theirs);
    }
}

static void test_encoder_refuses_what_the_generic_encoder_refused(void **state)
{
    (void)state;
    static const uint8_t payload[] = {131, 106};
    char long_node[GV_TP_MAX_TEXT_BYTES + 2];
    memset(long_node, 'x', sizeof long_node - 1);
    long_node[sizeof long_node - 1] = 0;
    gv_tp_env e = {.kind = GV_TP_SEND};
    e.u.send.to = (gv_tp_pid){.id = 1, .creation = 1};
    e.u.send.payload = (gv_tp_bytes){.data = payload, .len = sizeof payload};
    gv_tp_packer p;
    size_t size;
    assert_int_equal(gv_tp_pack_begin(&p, &e, &size), GROVE_OK);
    gv_tp_pack_abort(&p);
    gv_tp_env bad = e;
    bad.u.send.to.creation = 0; /* no destination */
    assert_int_equal(gv_tp_pack_begin(&p, &bad, &size), GROVE_EINVAL);
    bad = e;
    bad.u.send.payload.len = 0;
    assert_int_equal(gv_tp_pack_begin(&p, &bad, &size), GROVE_EINVAL);
    bad = e;
    bad.u.send.to.node = long_node;
    assert_int_equal(gv_tp_pack_begin(&p, &bad, &size), GROVE_EINVAL);
    bad = e;
    bad.u.send.from = (gv_tp_pid){.creation = 2, .node = long_node};
    assert_int_equal(gv_tp_pack_begin(&p, &bad, &size), GROVE_EINVAL);
}

/* Valid batches changed the ways a fast path could get wrong: every
 * single-byte change, cuts, inserted bytes, fields written in another
 * order or twice, zeros written out. Both decoders must agree each time. */
static void test_decoders_agree_on_altered_batches(void **state)
{
    (void)state;
    s_seed();
    static owned o[3];
    gv_tp_env envs[3];
    for (int round = 0; round < 60; round++) {
        size_t n = 1 + s_below(3);
        for (size_t i = 0; i < n; i++)
            s_random_send(&envs[i], &o[i]);
        uint8_t *buf;
        size_t len;
        assert_int_equal(gv_tp_encode_batch(1 + s_below(5), envs, n, &buf, &len), GROVE_OK);
        uint8_t *copy = gv_malloc(len + 16);
        for (size_t at = 0; at < len; at++) {
            static const uint8_t values[] = {0x00, 0x01, 0x08, 0x0a, 0x10, 0x12, 0x18,
                                             0x1a, 0x22, 0x7f, 0x80, 0x83, 0xc3, 0xff};
            for (size_t v = 0; v < sizeof values; v++) {
                memcpy(copy, buf, len);
                copy[at] = values[v];
                s_same_decoding(GV_TP_LANE_DATA, copy, len);
            }
            s_same_decoding(GV_TP_LANE_DATA, buf, at); /* cut */
            /* An inserted byte (a zero field, a longer varint, junk). */
            memcpy(copy, buf, at);
            copy[at] = (uint8_t)s_next();
            memcpy(copy + at + 1, buf + at, len - at);
            s_same_decoding(GV_TP_LANE_DATA, copy, len + 1);
        }
        gv_free(copy);
        gv_free(buf);
    }

    /* Hand-made shapes protobuf-c accepts and Grove never writes. */
    static const uint8_t shapes[][40] = {
        /* base_seq 1; send {to {creation 1} payload 131 106} */
        {0x08, 0x01, 0x12, 0x0a, 0x0a, 0x08, 0x0a, 0x02, 0x18, 0x01, 0x12, 0x02, 0x83, 0x6a},
        /* payload before to */
        {0x08, 0x01, 0x12, 0x0a, 0x0a, 0x08, 0x12, 0x02, 0x83, 0x6a, 0x0a, 0x02, 0x18, 0x01},
        /* id 0 written out */
        {0x08, 0x01, 0x12, 0x0c, 0x0a, 0x0a, 0x0a, 0x04, 0x08, 0x00, 0x18, 0x01, 0x12, 0x02, 0x83,
         0x6a},
        /* to written twice (merged by protobuf-c) */
        {0x08, 0x01, 0x12, 0x0e, 0x0a, 0x0c, 0x0a, 0x02, 0x08, 0x05, 0x0a, 0x02, 0x18, 0x01, 0x12,
         0x02, 0x83, 0x6a},
        /* a non-minimal length (2 bytes for 2) */
        {0x08, 0x01, 0x12, 0x0b, 0x0a, 0x09, 0x0a, 0x82, 0x00, 0x18, 0x01, 0x12, 0x02, 0x83, 0x6a},
        /* base_seq after the envelope */
        {0x12, 0x0a, 0x0a, 0x08, 0x0a, 0x02, 0x18, 0x01, 0x12, 0x02, 0x83, 0x6a, 0x08, 0x07},
        /* creation 2^32 + 1 (protobuf-c keeps the low 32 bits) */
        {0x08, 0x01, 0x12, 0x0e, 0x0a, 0x0c, 0x0a, 0x06, 0x18, 0x81, 0x80, 0x80, 0x80, 0x10, 0x12,
         0x02, 0x83, 0x6a},
        /* an unknown field in Send */
        {0x08, 0x01, 0x12, 0x0c, 0x0a, 0x0a, 0x0a, 0x02, 0x18, 0x01, 0x12, 0x02, 0x83, 0x6a, 0x78,
         0x01},
    };
    static const size_t lens[] = {14, 14, 16, 18, 15, 14, 18, 16};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        s_same_decoding(GV_TP_LANE_DATA, shapes[i], lens[i]);
    /* The first is what Grove writes: the fast path's own shape. */
    gv_tp_decoder d;
    gv_tp_decoder_init(&d);
    gv_tp_batch b;
    assert_int_equal(gv_tp_decode(&d, GV_TP_LANE_DATA, shapes[0], lens[0], &b, NULL), GROVE_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.envs[0].u.send.to.creation, 1);
    gv_tp_decoder_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_encoding_is_protobuf_c_byte_for_byte),
        cmocka_unit_test(test_encoder_refuses_what_the_generic_encoder_refused),
        cmocka_unit_test(test_decoders_agree_on_altered_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
