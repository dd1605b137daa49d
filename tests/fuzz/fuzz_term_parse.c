/*
 * fuzz_term_parse.c - grove_term_parse on arbitrary text.
 *
 * Refused text: GROVE_ESYNTAX or GROVE_ERANGE, a message, no term.
 * Accepted text: the term's bytes decode to themselves, format -> parse
 * gives the same bytes, and the rest of fuzz_check_term. Seeds:
 * tests/fuzz/corpus/fuzz_term_parse/ (the golden texts).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grove_term *t = NULL;
    grove_term_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = grove_term_parse((const char *)data, size, &t, &err);
    if (rc != GROVE_OK) {
        fuzz_check_failure(rc, GROVE_ESYNTAX, GROVE_ERANGE, t, &err, size);
        return 0;
    }
    FUZZ_CHECK(t != NULL, "parse succeeded without a term");
    fuzz_check_term(t);
    grove_term_destroy(&t);
    return 0;
}
