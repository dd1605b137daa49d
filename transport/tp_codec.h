/*
 * tp_codec.h - envelopes to wire bytes and back (docs/protocol.md).
 *
 * A ZeroMQ message is one Batch: a base sequence number and envelopes.
 * Encoding works per envelope: gv_tp_pack_begin/gv_tp_pack_end write one
 * envelope as a "record", the bytes of Batch's field 2 (tag, length,
 * Envelope), so a batch is a header followed by records laid end to end and
 * whoever assembles it never re-encodes anything. Senders encode on their
 * own thread; the I/O thread only concatenates.
 *
 * Decoding takes a whole batch: protobuf-c unpacks it into an arena (one
 * chunk in the steady state, not one allocation per envelope), then every
 * envelope is checked (its kind belongs to the lane, required fields are
 * present, lengths are within the limits below) and turned into a
 * gv_tp_env. Bad bytes give GROVE_EPROTO and a reason, never a crash.
 * Send envelopes, the hot path, are encoded by hand, and data batches of
 * send envelopes in the encoder's own shape are decoded by hand, with the
 * same bytes and results as protobuf-c (docs/transport.md, "Cost per
 * message").
 *
 * Threads: a packer or a decoder belongs to one thread at a time. Nothing
 * here blocks.
 */
#ifndef GV_TP_CODEC_H
#define GV_TP_CODEC_H

#include <grove/err.h>

#include "proto/grove.pb-c.h"
#include "transport/tp_arena.h"
#include "transport/tp_env.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The protocol this code speaks (Hello.version, Hello.minor). */
#define GV_TP_PROTO_VERSION 1u
#define GV_TP_PROTO_MINOR 0u

/* Limits (docs/protocol.md, "Limits"). A transport node name must fit a
 * routing id ("c:" name ":" 16 hex digits, at most 255 bytes). */
#define GV_TP_MAX_NODE_BYTES 236u
#define GV_TP_MAX_TEXT_BYTES 1024u   /* other strings: names, behaviours, pid nodes */
#define GV_TP_MAX_ITEMS 65536u       /* members or registry entries in one envelope */
#define GV_TP_MAX_ENVELOPES 1000000u /* envelopes in one batch */

/* The lane a batch travels on: the first byte of its routing id. */
typedef enum gv_tp_lane {
    GV_TP_LANE_CONTROL = 'c',
    GV_TP_LANE_DATA = 'd',
} gv_tp_lane;

/* Why bytes were refused: the envelope's index in the batch (or the
 * number of envelopes when the batch as a whole is at fault) and a
 * sentence. */
typedef struct gv_tp_proto_error {
    size_t index;
    char reason[128];
} gv_tp_proto_error;

/* ---- encoding ------------------------------------------------------------- */

/* Tag byte of Batch.envelopes (field 2, length-delimited). */
#define GV_TP_RECORD_TAG 0x12u
/* The longest batch header: tag of base_seq + a 10-byte varint. */
#define GV_TP_BATCH_HEADER_MAX 11u

/* Writes a Batch header for base_seq to out (nothing for 0, which proto3
 * leaves out); returns its length. */
size_t gv_tp_batch_header(uint8_t out[GV_TP_BATCH_HEADER_MAX], uint64_t base_seq);

/* Scratch space to encode one envelope: the protobuf-c view of it. Lives
 * on the caller's stack. */
typedef struct gv_tp_packer {
    Grove__Envelope env;
    union {
        Grove__Send send;
        Grove__SendName send_name;
        Grove__Link link;
        Grove__Unlink unlink;
        Grove__UnlinkAck unlink_ack;
        Grove__Exit exit;
        Grove__Monitor monitor;
        Grove__Demonitor demonitor;
        Grove__Down down;
        Grove__SpawnRequest spawn_request;
        Grove__SpawnReply spawn_reply;
        Grove__RegClaim reg_claim;
        Grove__RegClaimReply reg_claim_reply;
        Grove__RegRelease reg_release;
        Grove__RegSync reg_sync;
        Grove__InspectRequest inspect_request;
        Grove__InspectReply inspect_reply;
        Grove__Hello hello;
        Grove__Welcome welcome;
        Grove__Heartbeat heartbeat;
        Grove__Membership membership;
        Grove__Goodbye goodbye;
    } m;
    Grove__Pid pid[3];
    Grove__Ref ref;
    void *heap; /* arrays for membership and registry sync */
    size_t env_size;
    /* A send envelope is written by hand (the same bytes protobuf-c
     * writes, in one pass): the envelope and its parts' sizes. */
    const gv_tp_env *send;
    size_t to_size, from_size, send_size;
} gv_tp_packer;

/* Prepares env for encoding and stores the size of its record in
 * *record_size. GROVE_EINVAL when a required field is absent or a value
 * is over a limit (then nothing needs releasing). On GROVE_OK the caller
 * must call gv_tp_pack_end or gv_tp_pack_abort. env and everything it
 * points to must stay unchanged until then. */
grove_err gv_tp_pack_begin(gv_tp_packer *p, const gv_tp_env *env, size_t *record_size);

/* Writes exactly *record_size bytes to out and releases the packer. */
void gv_tp_pack_end(gv_tp_packer *p, uint8_t *out);

/* Releases the packer without writing. */
void gv_tp_pack_abort(gv_tp_packer *p);

/* Encodes a whole batch (header and n records) into a new buffer.
 * Caller owns *out (free with gv_free). GROVE_EINVAL as gv_tp_pack_begin. */
grove_err gv_tp_encode_batch(uint64_t base_seq, const gv_tp_env *envs, size_t n, uint8_t **out,
                             size_t *out_len);

/* ---- decoding ------------------------------------------------------------- */

typedef struct gv_tp_decoder {
    gv_tp_arena arena;
} gv_tp_decoder;

/* A decoded batch; everything points into the decoder's arena and stays
 * valid until the next gv_tp_decode or gv_tp_decoder_fini. */
typedef struct gv_tp_batch {
    uint64_t base_seq;
    size_t n;
    const gv_tp_env *envs;
} gv_tp_batch;

void gv_tp_decoder_init(gv_tp_decoder *d);
void gv_tp_decoder_fini(gv_tp_decoder *d);

/* Decodes one batch received on `lane`. Control batches carry base_seq 0
 * and control kinds only; data batches carry base_seq >= 1 and data kinds
 * only. A batch holds at least one envelope. On failure returns
 * GROVE_EPROTO and fills *err (which may be NULL); *out is then untouched. */
grove_err gv_tp_decode(gv_tp_decoder *d, gv_tp_lane lane, const void *buf, size_t len,
                       gv_tp_batch *out, gv_tp_proto_error *err);

/* gv_tp_decode without its hand-written path for data batches of send
 * envelopes: protobuf-c for everything. The two must agree on every input
 * (tests/unit/transport/codec_fast_test.c compares them). */
grove_err gv_tp_decode_generic(gv_tp_decoder *d, gv_tp_lane lane, const void *buf, size_t len,
                               gv_tp_batch *out, gv_tp_proto_error *err);

/* True when text is an acceptable transport node name: UTF-8, 1 to
 * GV_TP_MAX_NODE_BYTES bytes, "name@host" with both parts non-empty, no
 * control characters or spaces. */
bool gv_tp_valid_node_name(const char *text, size_t len);

#endif
