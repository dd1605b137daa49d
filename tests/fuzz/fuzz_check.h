/*
 * fuzz_check.h - the properties every accepted term must have, shared by
 * the fuzz targets. Only the public API (grove/term.h).
 *
 * A failed property prints what broke and aborts, which libFuzzer (and
 * the corpus replay in tests/golden/) reports as a crash.
 */
#ifndef GROVE_FUZZ_CHECK_H
#define GROVE_FUZZ_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grove/term.h>

#define FUZZ_CHECK(cond, ...)                                                             \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property broken: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static inline bool fuzz_same_bytes(const grove_term *a, const grove_term *b)
{
    size_t alen, blen;
    const uint8_t *ab = grove_term_bytes(a, &alen);
    const uint8_t *bb = grove_term_bytes(b, &blen);
    return alen == blen && memcmp(ab, bb, alen) == 0;
}

/* A failed decode or parse: the expected code, a message, no term. */
static inline void fuzz_check_failure(grove_err rc, grove_err want, grove_err also,
                                      const grove_term *t, const grove_term_error *err, size_t len)
{
    FUZZ_CHECK(rc == want || rc == also, "returned %s", grove_errname(rc));
    FUZZ_CHECK(t == NULL, "failed with %s but set *out", grove_errname(rc));
    FUZZ_CHECK(err->code == rc, "err.code %s, returned %s", grove_errname(err->code),
               grove_errname(rc));
    FUZZ_CHECK(memchr(err->message, 0, sizeof err->message) != NULL && err->message[0] != 0,
               "the message is empty or not terminated");
    FUZZ_CHECK(err->offset <= len, "offset %zu past the input (%zu bytes)", err->offset, len);
}

/* Everything that must hold for a term Grove accepted:
 *   - its bytes start with 131 and decode to themselves (canonical);
 *   - its text parses back to the same bytes, and prints the same again;
 *   - a copy is equal; compare and equal agree with themselves;
 *   - the reader skips exactly one value, and walks to the end. */
static inline void fuzz_check_term(const grove_term *t)
{
    size_t len;
    const uint8_t *b = grove_term_bytes(t, &len);
    FUZZ_CHECK(b != NULL && len >= 2 && b[0] == 131, "bad bytes (len %zu)", len);

    grove_term *again = NULL;
    grove_term_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = grove_term_decode(b, len, &again, &err);
    FUZZ_CHECK(rc == GROVE_OK, "canonical bytes refused: %s at %zu: %s", grove_errname(rc),
               err.offset, err.message);
    FUZZ_CHECK(fuzz_same_bytes(t, again), "decode(bytes(t)) is not canonical");
    FUZZ_CHECK(grove_term_equal(t, again) && grove_term_compare(t, again) == 0,
               "a term is not equal to itself");

    char *text = grove_term_format(t);
    FUZZ_CHECK(text != NULL, "format returned NULL");
    FUZZ_CHECK(strchr(text, '\n') == NULL, "the text is not one line: %s", text);
    grove_term *parsed = NULL;
    rc = grove_term_parse(text, strlen(text), &parsed, &err);
    FUZZ_CHECK(rc == GROVE_OK, "parse(format(t)) refused: %s at %zu: %s\n  text: %.500s",
               grove_errname(rc), err.offset, err.message, text);
    FUZZ_CHECK(fuzz_same_bytes(t, parsed), "parse(format(t)) has other bytes\n  text: %.500s",
               text);
    char *text2 = grove_term_format(parsed);
    FUZZ_CHECK(text2 != NULL && strcmp(text, text2) == 0,
               "the text is not stable\n  first:  %.300s\n  second: %.300s", text,
               text2 ? text2 : "(NULL)");

    grove_term *copy = grove_term_copy(t);
    FUZZ_CHECK(copy != NULL && fuzz_same_bytes(t, copy) && grove_term_equal(t, copy),
               "the copy differs");

    grove_reader r = grove_reader_of(t);
    FUZZ_CHECK(grove_reader_skip(&r), "the reader cannot skip the top value");
    FUZZ_CHECK(!grove_reader_skip(&r), "the reader finds a second top value");
    r = grove_reader_of(t);
    grove_value v;
    size_t values = 0;
    while (grove_reader_next(&r, &v)) {
        values++;
        FUZZ_CHECK(values <= len, "the reader does not stop (%zu values in %zu bytes)", values,
                   len);
    }
    FUZZ_CHECK(values > 0, "the reader sees no value");

    free(text);
    free(text2);
    grove_term_destroy(&again);
    grove_term_destroy(&parsed);
    grove_term_destroy(&copy);
}

#endif
