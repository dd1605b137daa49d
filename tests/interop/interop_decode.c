/*
 * interop_decode.c - Erlang's terms through Grove (interoperability, one
 * direction).
 *
 *   interop_decode FILE
 *
 * FILE holds terms written by Erlang's term_to_binary/1 (gen_terms.escript),
 * each as a 4-byte big-endian length and then the bytes. For every term:
 *   - grove_term_decode accepts it, and grove_term_bytes gives the very same
 *     bytes back (Grove's canonical form is Erlang's);
 *   - grove_term_format then grove_term_parse gives the same bytes again,
 *     and formatting the parsed term gives the same text;
 *   - grove_term_copy is equal, and the reader walks the term to its end.
 * Prints the first few failures in detail and exits 1 if there was any.
 * Uses only the public API.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grove/term.h>

#define SHOW_AT_MOST 5

static size_t s_failures;

static void s_hex(const char *label, const uint8_t *b, size_t len, size_t around)
{
    size_t from = around > 24 ? around - 24 : 0;
    fprintf(stderr, "  %s (%zu bytes) [%zu..]:", label, len, from);
    for (size_t i = from; i < len && i < from + 64; i++) {
        fprintf(stderr, "%s%u", i == around ? " >" : " ", b[i]);
    }
    fprintf(stderr, "%s\n", len > from + 64 ? " ..." : "");
}

static size_t s_first_difference(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        i++;
    }
    return i;
}

static void s_text(const char *label, const char *s)
{
    size_t n = strlen(s);
    fprintf(stderr, "  %s (%zu bytes): %.400s%s\n", label, n, s, n > 400 ? " ..." : "");
}

/* Starts a failure report; false when enough have been shown. */
static bool s_fail(size_t index, const char *what)
{
    s_failures++;
    if (s_failures > SHOW_AT_MOST) {
        return false;
    }
    fprintf(stderr, "FAIL term #%zu (0-based): %s\n", index, what);
    return true;
}

static void s_check_one(size_t index, const uint8_t *erl, size_t len)
{
    grove_term *t = NULL, *p = NULL, *c = NULL;
    char *text = NULL, *text2 = NULL;
    grove_term_error err;
    memset(&err, 0, sizeof err);

    grove_err rc = grove_term_decode(erl, len, &t, &err);
    if (rc != GROVE_OK) {
        if (s_fail(index, "grove_term_decode refused Erlang's bytes")) {
            fprintf(stderr, "  %s at byte %zu: %s\n", grove_errname(rc), err.offset, err.message);
            s_hex("Erlang", erl, len, err.offset);
        }
        goto out;
    }
    size_t glen;
    const uint8_t *g = grove_term_bytes(t, &glen);
    if (glen != len || memcmp(g, erl, len) != 0) {
        if (s_fail(index, "Grove's bytes differ from Erlang's")) {
            size_t at = s_first_difference(erl, len, g, glen);
            fprintf(stderr, "  first difference at byte %zu\n", at);
            s_hex("Erlang", erl, len, at);
            s_hex("Grove ", g, glen, at);
            char *s = grove_term_format(t);
            s_text("term", s);
            free(s);
        }
        goto out;
    }

    text = grove_term_format(t);
    if (text == NULL) {
        s_fail(index, "grove_term_format returned NULL");
        goto out;
    }
    rc = grove_term_parse(text, strlen(text), &p, &err);
    if (rc != GROVE_OK) {
        if (s_fail(index, "grove_term_parse refused grove_term_format's text")) {
            fprintf(stderr, "  %s at byte %zu: %s\n", grove_errname(rc), err.offset, err.message);
            s_text("text", text);
            s_hex("bytes", erl, len, 0);
        }
        goto out;
    }
    size_t plen;
    const uint8_t *pb = grove_term_bytes(p, &plen);
    if (plen != len || memcmp(pb, erl, len) != 0) {
        if (s_fail(index, "parse(format(t)) has other bytes than t")) {
            size_t at = s_first_difference(erl, len, pb, plen);
            s_text("text", text);
            s_hex("t     ", erl, len, at);
            s_hex("parsed", pb, plen, at);
        }
        goto out;
    }
    text2 = grove_term_format(p);
    if (text2 == NULL || strcmp(text, text2) != 0) {
        if (s_fail(index, "the text is not stable: format(parse(format(t))) != format(t)")) {
            s_text("first ", text);
            s_text("second", text2 ? text2 : "(NULL)");
        }
        goto out;
    }
    if (!grove_term_equal(t, p) || grove_term_compare(t, p) != 0) {
        s_fail(index, "t and parse(format(t)) have the same bytes but are not equal terms");
        goto out;
    }

    c = grove_term_copy(t);
    size_t clen;
    const uint8_t *cb = grove_term_bytes(c, &clen);
    if (clen != len || memcmp(cb, erl, len) != 0 || !grove_term_equal(t, c)) {
        s_fail(index, "grove_term_copy differs from the original");
        goto out;
    }

    grove_reader r = grove_reader_of(t);
    if (!grove_reader_skip(&r) || grove_reader_skip(&r)) {
        s_fail(index, "the reader does not skip exactly one top-level value");
        goto out;
    }
    r = grove_reader_of(t);
    grove_value v;
    size_t values = 0;
    while (grove_reader_next(&r, &v) && values <= len) {
        values++;
    }
    if (values == 0 || values > len) {
        if (s_fail(index, "the reader's walk does not end well")) {
            fprintf(stderr, "  %zu values seen in %zu bytes\n", values, len);
        }
    }

out:
    free(text);
    free(text2);
    grove_term_destroy(&t);
    grove_term_destroy(&p);
    grove_term_destroy(&c);
}

static uint8_t *s_read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            break;
        }
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        perror(path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 64;
    }
    size_t len = 0;
    uint8_t *data = s_read_all(argv[1], &len);
    if (data == NULL) {
        return 1;
    }
    clock_t start = clock();
    size_t pos = 0, count = 0;
    while (pos < len) {
        if (len - pos < 4) {
            fprintf(stderr, "FAIL: %s is cut short at byte %zu\n", argv[1], pos);
            free(data);
            return 1;
        }
        size_t n = (size_t)data[pos] << 24 | (size_t)data[pos + 1] << 16 |
                   (size_t)data[pos + 2] << 8 | data[pos + 3];
        pos += 4;
        if (n > len - pos) {
            fprintf(stderr, "FAIL: term #%zu runs past the end of %s\n", count, argv[1]);
            free(data);
            return 1;
        }
        s_check_one(count, data + pos, n);
        pos += n;
        count++;
    }
    free(data);
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("interop_decode: %zu Erlang terms checked in %.2f s CPU, %zu failures\n", count, secs,
           s_failures);
    if (count == 0) {
        fprintf(stderr, "FAIL: no terms in %s\n", argv[1]);
        return 1;
    }
    return s_failures == 0 ? 0 : 1;
}
