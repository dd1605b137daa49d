/*
 * fuzz_envelope.c - the transport's batch decoder (transport/tp_codec.h)
 * on arbitrary bytes.
 *
 * The first input byte picks the lane (even: control, odd: data); the
 * rest is the frame. Properties:
 *   - refused input: GROVE_EPROTO with a reason, nothing else;
 *   - accepted input: every envelope passes the encoder's own checks (the
 *     decoder accepts nothing the encoder would refuse to write), and
 *     encode(decode(x)) decodes to envelopes that encode to the same bytes
 *     again (a fixed point after one round).
 * Seeds: tests/fuzz/corpus/fuzz_envelope/, written by
 * GROVE_ENVELOPE_CORPUS=<dir> tests/unit/transport_codec_test (one batch
 * per envelope kind, both lanes, and a few bad frames).
 */
#include "base/gv_alloc.h"
#include "transport/tp_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                             \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property broken: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    gv_tp_lane lane = (data[0] & 1) ? GV_TP_LANE_DATA : GV_TP_LANE_CONTROL;
    gv_tp_decoder d1, d2;
    gv_tp_decoder_init(&d1);
    gv_tp_decoder_init(&d2);
    gv_tp_batch b;
    gv_tp_proto_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = gv_tp_decode(&d1, lane, data + 1, size - 1, &b, &err);
    if (rc != GROVE_OK) {
        FUZZ_CHECK(rc == GROVE_EPROTO, "returned %s", grove_errname(rc));
        FUZZ_CHECK(err.reason[0] != 0 && memchr(err.reason, 0, sizeof err.reason),
                   "no reason given");
        goto out;
    }
    FUZZ_CHECK(b.n > 0, "an accepted batch without envelopes");
    uint8_t *once = NULL, *twice = NULL;
    size_t once_len = 0, twice_len = 0;
    rc = gv_tp_encode_batch(b.base_seq, b.envs, b.n, &once, &once_len);
    FUZZ_CHECK(rc == GROVE_OK, "the encoder refuses a decoded batch (%s)", grove_errname(rc));
    gv_tp_batch b2;
    rc = gv_tp_decode(&d2, lane, once, once_len, &b2, &err);
    FUZZ_CHECK(rc == GROVE_OK, "re-encoded batch refused: %s", err.reason);
    FUZZ_CHECK(b2.n == b.n && b2.base_seq == b.base_seq, "re-encoded batch differs");
    rc = gv_tp_encode_batch(b2.base_seq, b2.envs, b2.n, &twice, &twice_len);
    FUZZ_CHECK(rc == GROVE_OK, "second encoding refused");
    FUZZ_CHECK(once_len == twice_len && memcmp(once, twice, once_len) == 0,
               "encode(decode(x)) is not a fixed point (%zu vs %zu bytes)", once_len, twice_len);
    gv_free(once);
    gv_free(twice);
out:
    gv_tp_decoder_fini(&d1);
    gv_tp_decoder_fini(&d2);
    return 0;
}
