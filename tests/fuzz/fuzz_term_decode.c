/*
 * fuzz_term_decode.c - grove_term_decode on arbitrary bytes.
 *
 * Refused input: GROVE_EDECODE, a message, no term. Accepted input: the
 * canonical bytes decode to themselves, the text round-trips to the same
 * bytes, and the rest of fuzz_check_term. Seeds: tests/fuzz/corpus/
 * fuzz_term_decode/ (the golden vectors and bad inputs).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grove_term *t = NULL;
    grove_term_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = grove_term_decode(data, size, &t, &err);
    if (rc != GROVE_OK) {
        fuzz_check_failure(rc, GROVE_EDECODE, GROVE_EDECODE, t, &err, size);
        return 0;
    }
    FUZZ_CHECK(t != NULL, "decode succeeded without a term");
    /* Decoding is deterministic and never keeps non-canonical bytes. */
    size_t len;
    const uint8_t *b = grove_term_bytes(t, &len);
    FUZZ_CHECK(len <= 4 * size + 64 || size < 16, "the canonical form grew from %zu to %zu", size,
               len);
    (void)b;
    fuzz_check_term(t);
    grove_term_destroy(&t);
    return 0;
}
