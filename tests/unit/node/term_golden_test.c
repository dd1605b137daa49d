/*
 * term_golden_test.c - Grove's terms against vectors made by a real Erlang.
 *
 * tests/erlang/make_golden.escript writes the vectors with Erlang/OTP 25's
 * term_to_binary/1 into tests/data/golden/ (GROVE_GOLDEN_DIR):
 *
 *   NAME.etf          canonical bytes          NAME.txt   the term as text
 *   NAME.input.etf    non-canonical bytes that must decode to NAME.etf
 *   NAME.input.txt    another spelling in Erlang's syntax: parses to NAME.etf
 *   bad/NAME.etf      bytes that must be refused with GROVE_EDECODE
 *   bad_text/NAME.txt text that must be refused with GROVE_ESYNTAX/ERANGE
 *
 * Each test walks every case and reports every failure (with the bytes or
 * the text, expected and actual) before it fails, so one run shows the
 * whole picture rather than the first broken case.
 *
 * Only the public API (grove/term.h) is used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grove/term.h>

#ifndef GROVE_GOLDEN_DIR
#error "GROVE_GOLDEN_DIR must name tests/data/golden"
#endif

/* ---- files ---------------------------------------------------------- */

typedef struct blob {
    uint8_t *data; /* NUL-terminated for convenience; len excludes it */
    size_t len;
} blob;

static bool s_read(const char *path, blob *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    assert_non_null(data);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    bool ok = !ferror(f);
    fclose(f);
    data[len] = 0;
    out->data = data;
    out->len = len;
    return ok;
}

static blob s_load(const char *sub, const char *name, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s%s", GROVE_GOLDEN_DIR, sub, name, suffix);
    blob b = {0};
    if (!s_read(path, &b)) {
        fail_msg("cannot read %s", path);
    }
    return b;
}

static bool s_exists(const char *sub, const char *name, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s%s", GROVE_GOLDEN_DIR, sub, name, suffix);
    FILE *f = fopen(path, "rb");
    if (f != NULL) {
        fclose(f);
    }
    return f != NULL;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The case names in GROVE_GOLDEN_DIR/sub: files ending in `suffix` but not
 * in `except`, with the suffix cut off, sorted. */
typedef struct names {
    char **v;
    size_t n;
} names;

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static names s_list(const char *sub, const char *suffix, const char *except)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", GROVE_GOLDEN_DIR, sub);
    DIR *d = opendir(path);
    if (d == NULL) {
        fail_msg("cannot open %s", path);
    }
    names out = {0};
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!s_ends_with(e->d_name, suffix) || (except && s_ends_with(e->d_name, except))) {
            continue;
        }
        if (out.n == cap) {
            cap = cap ? cap * 2 : 64;
            out.v = realloc(out.v, cap * sizeof *out.v);
            assert_non_null(out.v);
        }
        size_t len = strlen(e->d_name) - strlen(suffix);
        out.v[out.n] = strndup(e->d_name, len);
        assert_non_null(out.v[out.n]);
        out.n++;
    }
    closedir(d);
    qsort(out.v, out.n, sizeof *out.v, s_cmp_str);
    return out;
}

static void s_names_free(names *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        free(ns->v[i]);
    }
    free(ns->v);
    ns->v = NULL;
    ns->n = 0;
}

/* ---- reporting -------------------------------------------------------- */

/* Prints up to 48 bytes of a and b around their first difference. */
static void s_show_bytes_diff(const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen)
{
    size_t i = 0;
    while (i < wlen && i < glen && want[i] == got[i]) {
        i++;
    }
    size_t from = i > 16 ? i - 16 : 0;
    char line[512];
    const uint8_t *bufs[2] = {want, got};
    size_t lens[2] = {wlen, glen};
    const char *labels[2] = {"expected", "actual  "};
    print_error("    lengths: expected %zu, actual %zu; first difference at byte %zu\n", wlen, glen,
                i);
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        n += (size_t)snprintf(line + n, sizeof line - n, "    %s [%zu..]:", labels[k], from);
        for (size_t j = from; j < lens[k] && j < from + 48 && n < sizeof line - 8; j++) {
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%u", j == i ? " >" : " ",
                                  bufs[k][j]);
        }
        print_error("%s\n", line);
    }
}

static void s_show_text(const char *label, const char *text, size_t len)
{
    if (len > 300) {
        print_error("    %s (%zu bytes, first 300): %.300s...\n", label, len, text);
    } else {
        print_error("    %s: %.*s\n", label, (int)len, text);
    }
}

static void s_show_text_diff(const char *want, size_t wlen, const char *got, size_t glen)
{
    size_t i = 0;
    while (i < wlen && i < glen && want[i] == got[i]) {
        i++;
    }
    if (wlen > 300 || glen > 300) {
        size_t from = i > 40 ? i - 40 : 0;
        print_error("    texts differ at byte %zu (lengths %zu, %zu)\n", i, wlen, glen);
        s_show_text("expected (from there)", want + from, wlen - from > 120 ? 120 : wlen - from);
        s_show_text("actual   (from there)", got + from, glen - from > 120 ? 120 : glen - from);
    } else {
        s_show_text("expected", want, wlen);
        s_show_text("actual  ", got, glen);
    }
}

static bool s_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* ---- golden vectors ----------------------------------------------------- */

/* NAME.etf decodes, and its canonical bytes are NAME.etf again. */
static void test_golden_bytes_decode_to_identical_bytes(void **state)
{
    (void)state;
    names ns = s_list("", ".etf", ".input.etf");
    assert_true(ns.n > 100);
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob etf = s_load("", ns.v[i], ".etf");
        grove_term *t = NULL;
        grove_term_error err = {0};
        grove_err rc = grove_term_decode(etf.data, etf.len, &t, &err);
        if (rc != GROVE_OK || t == NULL) {
            print_error("FAIL %s.etf: decode refused it: %s at byte %zu: %s\n", ns.v[i],
                        grove_errname(rc), err.offset, err.message);
            failures++;
        } else {
            size_t len;
            const uint8_t *b = grove_term_bytes(t, &len);
            if (!s_same(etf.data, etf.len, b, len)) {
                print_error("FAIL %s.etf: re-encoded bytes differ\n", ns.v[i]);
                s_show_bytes_diff(etf.data, etf.len, b, len);
                failures++;
            }
        }
        grove_term_destroy(&t);
        free(etf.data);
    }
    print_message("%zu golden vectors decoded, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* grove_term_format(decode(NAME.etf)) is NAME.txt exactly. */
static void test_golden_bytes_format_as_golden_text(void **state)
{
    (void)state;
    names ns = s_list("", ".etf", ".input.etf");
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob etf = s_load("", ns.v[i], ".etf");
        blob txt = s_load("", ns.v[i], ".txt");
        grove_term *t = NULL;
        if (grove_term_decode(etf.data, etf.len, &t, NULL) != GROVE_OK) {
            print_error("FAIL %s: cannot decode (see the decode test)\n", ns.v[i]);
            failures++;
        } else {
            char *s = grove_term_format(t);
            assert_non_null(s);
            if (strlen(s) != txt.len || memcmp(s, txt.data, txt.len) != 0) {
                print_error("FAIL %s.txt: formatted text differs\n", ns.v[i]);
                s_show_text_diff((const char *)txt.data, txt.len, s, strlen(s));
                failures++;
            }
            free(s);
        }
        grove_term_destroy(&t);
        free(etf.data);
        free(txt.data);
    }
    print_message("%zu golden texts compared, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* grove_term_parse(NAME.txt) gives NAME.etf, with and without a final '.'. */
static void test_golden_text_parses_to_golden_bytes(void **state)
{
    (void)state;
    names ns = s_list("", ".etf", ".input.etf");
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob etf = s_load("", ns.v[i], ".etf");
        blob txt = s_load("", ns.v[i], ".txt");
        for (int dot = 0; dot < 2; dot++) {
            char *text = malloc(txt.len + 2);
            assert_non_null(text);
            memcpy(text, txt.data, txt.len);
            size_t len = txt.len;
            if (dot) {
                text[len++] = '.';
            }
            text[len] = 0;
            grove_term *t = NULL;
            grove_term_error err = {0};
            grove_err rc = grove_term_parse(text, len, &t, &err);
            if (rc != GROVE_OK || t == NULL) {
                print_error("FAIL %s.txt%s: parse refused it: %s at byte %zu: %s\n", ns.v[i],
                            dot ? " + '.'" : "", grove_errname(rc), err.offset, err.message);
                s_show_text("text", text, len);
                failures++;
            } else {
                size_t blen;
                const uint8_t *b = grove_term_bytes(t, &blen);
                if (!s_same(etf.data, etf.len, b, blen)) {
                    print_error("FAIL %s.txt%s: parsed bytes differ from %s.etf\n", ns.v[i],
                                dot ? " + '.'" : "", ns.v[i]);
                    s_show_text("text", text, len);
                    s_show_bytes_diff(etf.data, etf.len, b, blen);
                    failures++;
                }
            }
            grove_term_destroy(&t);
            free(text);
        }
        free(etf.data);
        free(txt.data);
    }
    print_message("%zu golden texts parsed, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* NAME.input.etf (other atom tags, oversized integers, LIST_EXT of bytes,
 * chained tails, unsorted or big maps ...) decodes to NAME.etf. */
static void test_noncanonical_input_decodes_to_canonical_bytes(void **state)
{
    (void)state;
    names ns = s_list("", ".input.etf", NULL);
    assert_true(ns.n > 10);
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob in = s_load("", ns.v[i], ".input.etf");
        blob etf = s_load("", ns.v[i], ".etf");
        grove_term *t = NULL;
        grove_term_error err = {0};
        grove_err rc = grove_term_decode(in.data, in.len, &t, &err);
        if (rc != GROVE_OK || t == NULL) {
            print_error("FAIL %s.input.etf: decode refused it: %s at byte %zu: %s\n", ns.v[i],
                        grove_errname(rc), err.offset, err.message);
            failures++;
        } else {
            size_t len;
            const uint8_t *b = grove_term_bytes(t, &len);
            if (!s_same(etf.data, etf.len, b, len)) {
                print_error("FAIL %s.input.etf: canonical bytes differ from %s.etf\n", ns.v[i],
                            ns.v[i]);
                s_show_bytes_diff(etf.data, etf.len, b, len);
                failures++;
            }
            /* Whatever the bytes, the terms must be equal. */
            grove_term *c = NULL;
            if (grove_term_decode(etf.data, etf.len, &c, NULL) == GROVE_OK &&
                (!grove_term_equal(t, c) || grove_term_compare(t, c) != 0)) {
                print_error("FAIL %s.input.etf: not equal (=:=) to %s.etf as a term\n", ns.v[i],
                            ns.v[i]);
                failures++;
            }
            grove_term_destroy(&c);
        }
        grove_term_destroy(&t);
        free(in.data);
        free(etf.data);
    }
    print_message("%zu non-canonical inputs decoded, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* NAME.input.txt (other spellings in Erlang's syntax: $c, base#digits,
 * escapes, comments, a final '.', unsorted maps ...) parses to NAME.etf,
 * the bytes Erlang's own evaluator makes of the same text. */
static void test_other_spellings_parse_to_erlangs_bytes(void **state)
{
    (void)state;
    names ns = s_list("", ".input.txt", NULL);
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob in = s_load("", ns.v[i], ".input.txt");
        blob etf = s_load("", ns.v[i], ".etf");
        grove_term *t = NULL;
        grove_term_error err;
        memset(&err, 0, sizeof err);
        grove_err rc = grove_term_parse((const char *)in.data, in.len, &t, &err);
        if (rc != GROVE_OK || t == NULL) {
            print_error("FAIL %s.input.txt: parse refused it: %s at byte %zu: %s\n", ns.v[i],
                        grove_errname(rc), err.offset, err.message);
            s_show_text("text", (const char *)in.data, in.len);
            failures++;
        } else {
            size_t len;
            const uint8_t *b = grove_term_bytes(t, &len);
            if (!s_same(etf.data, etf.len, b, len)) {
                print_error("FAIL %s.input.txt: parsed bytes differ from %s.etf\n", ns.v[i],
                            ns.v[i]);
                s_show_text("text", (const char *)in.data, in.len);
                s_show_bytes_diff(etf.data, etf.len, b, len);
                failures++;
            }
        }
        grove_term_destroy(&t);
        free(in.data);
        free(etf.data);
    }
    print_message("%zu other spellings parsed, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* decode(NAME.etf) and parse(NAME.txt) are the same term; copies are too;
 * the reader walks the whole term. */
static void test_decoded_parsed_and_copied_terms_are_equal(void **state)
{
    (void)state;
    names ns = s_list("", ".etf", ".input.etf");
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob etf = s_load("", ns.v[i], ".etf");
        blob txt = s_load("", ns.v[i], ".txt");
        grove_term *d = NULL, *p = NULL;
        if (grove_term_decode(etf.data, etf.len, &d, NULL) != GROVE_OK ||
            grove_term_parse((const char *)txt.data, txt.len, &p, NULL) != GROVE_OK) {
            /* reported by the tests above */
            failures++;
        } else {
            grove_term *c = grove_term_copy(d);
            size_t dl, cl;
            const uint8_t *db = grove_term_bytes(d, &dl);
            const uint8_t *cb = grove_term_bytes(c, &cl);
            if (!grove_term_equal(d, p) || grove_term_compare(d, p) != 0 ||
                grove_term_compare(p, d) != 0) {
                print_error("FAIL %s: decode(.etf) and parse(.txt) are not equal terms\n", ns.v[i]);
                failures++;
            }
            if (!s_same(db, dl, cb, cl) || !grove_term_equal(d, c)) {
                print_error("FAIL %s: grove_term_copy changed the term\n", ns.v[i]);
                failures++;
            }
            /* One value at the top: skip it and the reader is at the end. */
            grove_reader r = grove_reader_of(d);
            if (!grove_reader_skip(&r) || grove_reader_skip(&r)) {
                print_error("FAIL %s: the reader does not skip exactly one top value\n", ns.v[i]);
                failures++;
            }
            /* Walking value by value ends too, and sees at least one value. */
            r = grove_reader_of(d);
            grove_value v;
            size_t seen = 0;
            while (grove_reader_next(&r, &v)) {
                seen++;
            }
            if (seen == 0) {
                print_error("FAIL %s: the reader saw no value\n", ns.v[i]);
                failures++;
            }
            grove_term_destroy(&c);
        }
        grove_term_destroy(&d);
        grove_term_destroy(&p);
        free(etf.data);
        free(txt.data);
    }
    print_message("%zu cases compared as terms, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* ---- rejections ----------------------------------------------------------- */

static bool s_check_decode_refused(const char *what, const uint8_t *buf, size_t len)
{
    grove_term *t = NULL;
    grove_term_error err;
    memset(&err, 0, sizeof err);
    grove_err rc = grove_term_decode(buf, len, &t, &err);
    bool ok = true;
    if (rc != GROVE_EDECODE) {
        print_error("FAIL %s: decode returned %s, expected GROVE_EDECODE\n", what,
                    grove_errname(rc));
        if (t != NULL) {
            char *s = grove_term_format(t);
            s_show_text("decoded as", s, strlen(s));
            free(s);
        }
        ok = false;
    } else if (err.code != GROVE_EDECODE || err.message[0] == 0 ||
               memchr(err.message, 0, sizeof err.message) == NULL) {
        print_error("FAIL %s: the error is not filled in (code %s, message \"%.*s\")\n", what,
                    grove_errname(err.code), (int)sizeof err.message, err.message);
        ok = false;
    } else if (err.offset > len) {
        print_error("FAIL %s: error offset %zu is past the input (%zu bytes)\n", what, err.offset,
                    len);
        ok = false;
    } else if (t != NULL) {
        print_error("FAIL %s: decode failed but set *out\n", what);
        ok = false;
    }
    grove_term_destroy(&t);
    /* A NULL err is allowed. */
    rc = grove_term_decode(buf, len, &t, NULL);
    if (rc != GROVE_EDECODE && ok) {
        print_error("FAIL %s: with err == NULL decode returned %s\n", what, grove_errname(rc));
        ok = false;
    }
    grove_term_destroy(&t);
    return ok;
}

/* Every bad/NAME.etf is refused with GROVE_EDECODE and a reason. */
static void test_bad_bytes_are_refused_with_a_reason(void **state)
{
    (void)state;
    names ns = s_list("bad/", ".etf", NULL);
    assert_true(ns.n > 50);
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob b = s_load("bad/", ns.v[i], ".etf");
        char what[300];
        snprintf(what, sizeof what, "bad/%s.etf", ns.v[i]);
        if (!s_check_decode_refused(what, b.data, b.len)) {
            failures++;
        } else {
            grove_term *t = NULL;
            grove_term_error err;
            grove_term_decode(b.data, b.len, &t, &err);
            grove_term_destroy(&t);
            print_message("  ok %-40s %s (at byte %zu)\n", ns.v[i], err.message, err.offset);
        }
        free(b.data);
    }
    print_message("%zu bad inputs, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* Every strict prefix of a golden vector is refused, and so is a vector
 * with a byte appended. Long vectors are cut at a sample of places. */
static void test_truncated_or_extended_golden_bytes_are_refused(void **state)
{
    (void)state;
    names ns = s_list("", ".etf", NULL);
    size_t failures = 0, tried = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob etf = s_load("", ns.v[i], ".etf");
        size_t step = etf.len <= 2048 ? 1 : etf.len / 257 + 1;
        for (size_t cut = 0; cut < etf.len; cut += step) {
            char what[300];
            snprintf(what, sizeof what, "%s.etf cut to %zu of %zu bytes", ns.v[i], cut, etf.len);
            tried++;
            if (!s_check_decode_refused(what, etf.data, cut)) {
                failures++;
            }
        }
        if (etf.len > 1) {
            /* the last byte cut off, whatever the step */
            char what[300];
            snprintf(what, sizeof what, "%s.etf without its last byte", ns.v[i]);
            tried++;
            failures += !s_check_decode_refused(what, etf.data, etf.len - 1);
        }
        uint8_t *longer = malloc(etf.len + 1);
        assert_non_null(longer);
        memcpy(longer, etf.data, etf.len);
        longer[etf.len] = 0;
        char what[300];
        snprintf(what, sizeof what, "%s.etf with a trailing zero byte", ns.v[i]);
        tried++;
        failures += !s_check_decode_refused(what, longer, etf.len + 1);
        free(longer);
        free(etf.data);
    }
    print_message("%zu truncated or extended inputs, %zu failures\n", tried, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* Every bad_text/NAME.txt is refused with GROVE_ESYNTAX or GROVE_ERANGE
 * and a reason. */
static void test_bad_text_is_refused_with_a_reason(void **state)
{
    (void)state;
    names ns = s_list("bad_text/", ".txt", NULL);
    assert_true(ns.n > 20);
    size_t failures = 0;
    for (size_t i = 0; i < ns.n; i++) {
        blob b = s_load("bad_text/", ns.v[i], ".txt");
        grove_term *t = NULL;
        grove_term_error err;
        memset(&err, 0, sizeof err);
        grove_err rc = grove_term_parse((const char *)b.data, b.len, &t, &err);
        if (rc != GROVE_ESYNTAX && rc != GROVE_ERANGE) {
            print_error("FAIL bad_text/%s.txt: parse returned %s\n", ns.v[i], grove_errname(rc));
            s_show_text("text", (const char *)b.data, b.len);
            if (t != NULL) {
                char *s = grove_term_format(t);
                s_show_text("parsed as", s, strlen(s));
                free(s);
            }
            failures++;
        } else if (err.code != rc || err.message[0] == 0 || err.offset > b.len) {
            print_error("FAIL bad_text/%s.txt: error not filled in (code %s, offset %zu, "
                        "message \"%s\")\n",
                        ns.v[i], grove_errname(err.code), err.offset, err.message);
            failures++;
        } else if (t != NULL) {
            print_error("FAIL bad_text/%s.txt: parse failed but set *out\n", ns.v[i]);
            failures++;
        } else {
            print_message("  ok %-40s %s: %s (at byte %zu)\n", ns.v[i], grove_errname(rc),
                          err.message, err.offset);
        }
        grove_term_destroy(&t);
        free(b.data);
    }
    print_message("%zu bad texts, %zu failures\n", ns.n, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* Single-byte mutations of the smaller vectors: decoding never crashes,
 * and whatever it accepts is canonical (decodes to itself, formats, and
 * parses back to the same bytes). Run under ASan this is a small fuzzer. */
static void test_mutated_golden_bytes_never_break_the_decoder(void **state)
{
    (void)state;
    names ns = s_list("", ".etf", NULL);
    size_t failures = 0, tried = 0, accepted = 0;
    static const int deltas[] = {1, -1, 0x80, 0x7F};
    for (size_t i = 0; i < ns.n; i++) {
        blob etf = s_load("", ns.v[i], ".etf");
        if (etf.len > 600) {
            free(etf.data);
            continue;
        }
        uint8_t *m = malloc(etf.len);
        assert_non_null(m);
        for (size_t at = 0; at < etf.len; at++) {
            for (size_t k = 0; k < sizeof deltas / sizeof deltas[0] + 2; k++) {
                memcpy(m, etf.data, etf.len);
                m[at] = k < 4 ? (uint8_t)(m[at] + deltas[k]) : (k == 4 ? 0x00 : 0xFF);
                tried++;
                grove_term *t = NULL;
                grove_term_error err;
                grove_err rc = grove_term_decode(m, etf.len, &t, &err);
                if (rc != GROVE_OK) {
                    if (rc != GROVE_EDECODE || t != NULL || err.message[0] == 0) {
                        print_error("FAIL %s.etf byte %zu set to %u: %s\n", ns.v[i], at, m[at],
                                    grove_errname(rc));
                        failures++;
                    }
                    continue;
                }
                accepted++;
                size_t len;
                const uint8_t *b = grove_term_bytes(t, &len);
                grove_term *again = NULL, *parsed = NULL;
                char *s = grove_term_format(t);
                size_t alen = 0;
                const uint8_t *ab = NULL;
                if (grove_term_decode(b, len, &again, NULL) == GROVE_OK) {
                    ab = grove_term_bytes(again, &alen);
                }
                if (ab == NULL || !s_same(b, len, ab, alen)) {
                    print_error("FAIL %s.etf byte %zu set to %u: canonical bytes do not "
                                "decode to themselves\n",
                                ns.v[i], at, m[at]);
                    failures++;
                } else if (grove_term_parse(s, strlen(s), &parsed, NULL) != GROVE_OK ||
                           !grove_term_equal(parsed, t)) {
                    print_error("FAIL %s.etf byte %zu set to %u: its text does not parse back\n",
                                ns.v[i], at, m[at]);
                    s_show_text("text", s, strlen(s));
                    failures++;
                } else {
                    size_t pl, tl;
                    const uint8_t *pb = grove_term_bytes(parsed, &pl);
                    const uint8_t *tb = grove_term_bytes(t, &tl);
                    if (!s_same(pb, pl, tb, tl)) {
                        print_error("FAIL %s.etf byte %zu set to %u: parse(format(t)) has "
                                    "other bytes\n",
                                    ns.v[i], at, m[at]);
                        s_show_text("text", s, strlen(s));
                        s_show_bytes_diff(tb, tl, pb, pl);
                        failures++;
                    }
                }
                free(s);
                grove_term_destroy(&again);
                grove_term_destroy(&parsed);
                grove_term_destroy(&t);
            }
        }
        free(m);
        free(etf.data);
    }
    print_message("%zu mutated inputs (%zu accepted), %zu failures\n", tried, accepted, failures);
    s_names_free(&ns);
    assert_int_equal(failures, 0);
}

/* ---- the depth limit ------------------------------------------------------- */

/* One innermost value, as bytes and as text. */
typedef struct inner {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    const char *text;
} inner;

/* One way to nest: the bytes and text that open and close a level. */
typedef struct wrap {
    const char *name;
    const uint8_t *open;
    size_t open_len;
    const uint8_t *close;
    size_t close_len;
    const char *open_text;
    const char *close_text;
} wrap;

static void s_append(uint8_t **p, const void *src, size_t n)
{
    if (n == 0) {
        return; /* src may be NULL */
    }
    memcpy(*p, src, n);
    *p += n;
}

/* Decoding and parsing draw the depth limit at the same place: for n
 * levels of tuples, list heads or map values around each kind of
 * innermost value, decode(bytes) succeeds exactly when parse(text) does,
 * and then both give the same bytes. Otherwise a term that decodes can
 * print as text that does not parse, breaking parse(format(t)) == t. */
static void test_decode_and_parse_draw_the_depth_limit_alike(void **state)
{
    (void)state;
    static const uint8_t b_nil[] = {106}, b_int[] = {97, 1}, b_atom[] = {100, 0, 1, 'x'},
                         b_tuple0[] = {104, 0}, b_map0[] = {116, 0, 0, 0, 0},
                         b_str1[] = {107, 0, 1, 1}, b_stra[] = {107, 0, 1, 'a'},
                         b_bin0[] = {109, 0, 0, 0, 0},
                         b_list[] = {108, 0, 0, 0, 1, 100, 0, 1, 'x', 106};
    static const inner inners[] = {
        {"[]", b_nil, sizeof b_nil, "[]"},
        {"1", b_int, sizeof b_int, "1"},
        {"x", b_atom, sizeof b_atom, "x"},
        {"{}", b_tuple0, sizeof b_tuple0, "{}"},
        {"#{}", b_map0, sizeof b_map0, "#{}"},
        {"[1] (STRING_EXT)", b_str1, sizeof b_str1, "[1]"},
        {"\"a\" (STRING_EXT)", b_stra, sizeof b_stra, "\"a\""},
        {"<<>>", b_bin0, sizeof b_bin0, "<<>>"},
        {"[x] (LIST_EXT)", b_list, sizeof b_list, "[x]"},
    };
    static const uint8_t o_tuple[] = {104, 1}, o_list[] = {108, 0, 0, 0, 1}, c_list[] = {106},
                         o_map[] = {116, 0, 0, 0, 1, 97, 0};
    static const wrap wraps[] = {
        {"tuple", o_tuple, sizeof o_tuple, NULL, 0, "{", "}"},
        {"list head", o_list, sizeof o_list, c_list, sizeof c_list, "[", "]"},
        {"map value", o_map, sizeof o_map, NULL, 0, "#{0 => ", "}"},
    };
    size_t failures = 0, tried = 0;
    for (size_t w = 0; w < sizeof wraps / sizeof wraps[0]; w++) {
        for (size_t k = 0; k < sizeof inners / sizeof inners[0]; k++) {
            for (size_t n = GROVE_TERM_MAX_DEPTH - 2; n <= GROVE_TERM_MAX_DEPTH + 1; n++) {
                const wrap *wr = &wraps[w];
                const inner *in = &inners[k];
                size_t blen = 1 + n * (wr->open_len + wr->close_len) + in->len;
                uint8_t *bytes = malloc(blen), *p = bytes;
                assert_non_null(bytes);
                *p++ = 131;
                for (size_t i = 0; i < n; i++) {
                    s_append(&p, wr->open, wr->open_len);
                }
                s_append(&p, in->bytes, in->len);
                for (size_t i = 0; i < n; i++) {
                    s_append(&p, wr->close, wr->close_len);
                }
                size_t tlen =
                    n * (strlen(wr->open_text) + strlen(wr->close_text)) + strlen(in->text);
                char *text = malloc(tlen + 1), *q = text;
                assert_non_null(text);
                for (size_t i = 0; i < n; i++) {
                    s_append((uint8_t **)&q, wr->open_text, strlen(wr->open_text));
                }
                s_append((uint8_t **)&q, in->text, strlen(in->text));
                for (size_t i = 0; i < n; i++) {
                    s_append((uint8_t **)&q, wr->close_text, strlen(wr->close_text));
                }
                *q = 0;

                grove_term *d = NULL, *t = NULL;
                grove_term_error derr, perr;
                memset(&derr, 0, sizeof derr);
                memset(&perr, 0, sizeof perr);
                grove_err drc = grove_term_decode(bytes, blen, &d, &derr);
                grove_err prc = grove_term_parse(text, tlen, &t, &perr);
                tried++;
                if ((drc == GROVE_OK) != (prc == GROVE_OK)) {
                    print_error("FAIL %zu levels of %s around %s: decode %s%s%s, parse %s%s%s\n", n,
                                wr->name, in->name, grove_errname(drc), drc ? ": " : "",
                                drc ? derr.message : "", grove_errname(prc), prc ? ": " : "",
                                prc ? perr.message : "");
                    failures++;
                } else if (drc == GROVE_OK) {
                    size_t dl, tl;
                    const uint8_t *db = grove_term_bytes(d, &dl);
                    const uint8_t *tb = grove_term_bytes(t, &tl);
                    if (!s_same(db, dl, tb, tl)) {
                        print_error("FAIL %zu levels of %s around %s: decode and parse give "
                                    "different bytes\n",
                                    n, wr->name, in->name);
                        failures++;
                    }
                }
                if (n > GROVE_TERM_MAX_DEPTH && drc == GROVE_OK) {
                    print_error("FAIL %zu levels of %s around %s: decoded, deeper than "
                                "GROVE_TERM_MAX_DEPTH\n",
                                n, wr->name, in->name);
                    failures++;
                }
                if (n + 1 < GROVE_TERM_MAX_DEPTH && (drc != GROVE_OK || prc != GROVE_OK)) {
                    print_error("FAIL %zu levels of %s around %s: refused below the limit\n", n,
                                wr->name, in->name);
                    failures++;
                }
                grove_term_destroy(&d);
                grove_term_destroy(&t);
                free(bytes);
                free(text);
            }
        }
    }
    print_message("%zu nestings at the depth limit, %zu failures\n", tried, failures);
    assert_int_equal(failures, 0);
}

/* The golden set itself is whole: every .etf has its .txt and the reverse,
 * so a vector lost in a commit does not go unnoticed. */
static void test_golden_set_is_complete(void **state)
{
    (void)state;
    names etf = s_list("", ".etf", ".input.etf");
    names txt = s_list("", ".txt", ".input.txt");
    names in = s_list("", ".input.etf", NULL);
    size_t failures = 0;
    for (size_t i = 0; i < etf.n; i++) {
        if (!s_exists("", etf.v[i], ".txt")) {
            print_error("FAIL %s.etf has no %s.txt\n", etf.v[i], etf.v[i]);
            failures++;
        }
    }
    for (size_t i = 0; i < txt.n; i++) {
        if (!s_exists("", txt.v[i], ".etf")) {
            print_error("FAIL %s.txt has no %s.etf\n", txt.v[i], txt.v[i]);
            failures++;
        }
    }
    for (size_t i = 0; i < in.n; i++) {
        if (!s_exists("", in.v[i], ".etf")) {
            print_error("FAIL %s.input.etf has no %s.etf\n", in.v[i], in.v[i]);
            failures++;
        }
    }
    names intxt = s_list("", ".input.txt", NULL);
    for (size_t i = 0; i < intxt.n; i++) {
        if (!s_exists("", intxt.v[i], ".etf")) {
            print_error("FAIL %s.input.txt has no %s.etf\n", intxt.v[i], intxt.v[i]);
            failures++;
        }
    }
    assert_true(intxt.n > 20);
    s_names_free(&intxt);
    print_message("%zu golden, %zu canonicalizing cases\n", etf.n, in.n);
    s_names_free(&etf);
    s_names_free(&txt);
    s_names_free(&in);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_set_is_complete),
        cmocka_unit_test(test_golden_bytes_decode_to_identical_bytes),
        cmocka_unit_test(test_golden_bytes_format_as_golden_text),
        cmocka_unit_test(test_golden_text_parses_to_golden_bytes),
        cmocka_unit_test(test_noncanonical_input_decodes_to_canonical_bytes),
        cmocka_unit_test(test_other_spellings_parse_to_erlangs_bytes),
        cmocka_unit_test(test_decoded_parsed_and_copied_terms_are_equal),
        cmocka_unit_test(test_bad_bytes_are_refused_with_a_reason),
        cmocka_unit_test(test_truncated_or_extended_golden_bytes_are_refused),
        cmocka_unit_test(test_bad_text_is_refused_with_a_reason),
        cmocka_unit_test(test_mutated_golden_bytes_never_break_the_decoder),
        cmocka_unit_test(test_decode_and_parse_draw_the_depth_limit_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
