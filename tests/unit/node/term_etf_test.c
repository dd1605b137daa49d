/*
 * term_etf_test.c - terms: encoding, decoding, canonical form, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <grove/term.h>

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static grove_term *s_parse(const char *text)
{
    grove_term *t = NULL;
    grove_term_error err = {0};
    grove_err rc = grove_term_parse(text, strlen(text), &t, &err);
    if (rc != GROVE_OK)
        fail_msg("parse of %s failed: %s", text, err.message);
    return t;
}

static void s_assert_bytes(const grove_term *t, const uint8_t *want, size_t n)
{
    size_t len;
    const uint8_t *got = grove_term_bytes(t, &len);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
}

static void s_assert_encodes(const char *text, const uint8_t *want, size_t n)
{
    grove_term *t = s_parse(text);
    s_assert_bytes(t, want, n);
    grove_term_destroy(&t);
}

/* Bytes checked against Erlang/OTP 25's term_to_binary/1. */
static void test_integers_encode_as_term_to_binary(void **state)
{
    (void)state;
    s_assert_encodes("0", BYTES(131, 97, 0));
    s_assert_encodes("255", BYTES(131, 97, 255));
    s_assert_encodes("256", BYTES(131, 98, 0, 0, 1, 0));
    s_assert_encodes("-1", BYTES(131, 98, 255, 255, 255, 255));
    s_assert_encodes("2147483647", BYTES(131, 98, 127, 255, 255, 255));
    s_assert_encodes("-2147483648", BYTES(131, 98, 128, 0, 0, 0));
    s_assert_encodes("2147483648", BYTES(131, 110, 4, 0, 0, 0, 0, 128));
    s_assert_encodes("-2147483649", BYTES(131, 110, 4, 1, 1, 0, 0, 128));
    s_assert_encodes("9223372036854775807",
                     BYTES(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127));
    s_assert_encodes("-9223372036854775808", BYTES(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128));
    s_assert_encodes("18446744073709551616", BYTES(131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    s_assert_encodes("16#FF", BYTES(131, 97, 255));
    s_assert_encodes("1_000", BYTES(131, 98, 0, 0, 3, 232));
    s_assert_encodes("$a", BYTES(131, 97, 97));
}

static void test_large_big_uses_large_big_ext(void **state)
{
    (void)state;
    /* 2^2048 needs 257 magnitude bytes. */
    char digits[700];
    strcpy(digits, "16#1");
    for (int i = 0; i < 512; i++)
        strcat(digits, "0");
    grove_term *t = s_parse(digits);
    size_t n;
    const uint8_t *b = grove_term_bytes(t, &n);
    assert_int_equal(n, 1 + 1 + 4 + 1 + 257);
    assert_int_equal(b[1], 111);
    assert_int_equal(b[5], 1); /* 257 = 0x101 */
    assert_int_equal(b[6], 0); /* positive */
    assert_int_equal(b[n - 1], 1);
    char *text = grove_term_format(t);
    assert_int_equal(strlen(text), 617); /* 2^2048 has 617 digits */
    assert_memory_equal(
        text,
        "32317006071311007300714876688669951960444102669715484032130345427524655138867890"
        "89319720141152291346368871796092189801949411955915049092109508815238644828312063"
        "08773673009960917501977503896521067960576383840675682767922186426197561618380943"
        "38476170470581645852036305042887575891541065808607552399123930385521914333389668"
        "34242068497478656456949485617603532632205807780565933102619270846031415025859286"
        "41771167259436037184618573575983511523016459044036976132332872312271256847108202"
        "09725157101726931323469678542580656697935045997268352998638215525166389437335543"
        "602135433229604645318478604952148193555853611059596230656",
        617);
    free(text);
    grove_term_destroy(&t);
}

static void test_floats_atoms_and_binaries_encode(void **state)
{
    (void)state;
    s_assert_encodes("1.5", BYTES(131, 70, 63, 248, 0, 0, 0, 0, 0, 0));
    s_assert_encodes("-0.0", BYTES(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));
    s_assert_encodes("'café'", BYTES(131, 100, 0, 4, 99, 97, 102, 233));
    s_assert_encodes("'\xF0\x9F\x98\x80'", BYTES(131, 119, 4, 240, 159, 152, 128));
    s_assert_encodes("''", BYTES(131, 100, 0, 0));
    s_assert_encodes("<<>>", BYTES(131, 109, 0, 0, 0, 0));
    s_assert_encodes("<<1,2,\"a\">>", BYTES(131, 109, 0, 0, 0, 3, 1, 2, 97));
    s_assert_encodes("<<\"\xC3\xA9\"/utf8>>", BYTES(131, 109, 0, 0, 0, 2, 195, 169));
}

static void test_lists_take_erlangs_forms(void **state)
{
    (void)state;
    s_assert_encodes("[]", BYTES(131, 106));
    s_assert_encodes("\"\"", BYTES(131, 106));
    s_assert_encodes("\"abc\"", BYTES(131, 107, 0, 3, 97, 98, 99));
    s_assert_encodes("[1,2,3]", BYTES(131, 107, 0, 3, 1, 2, 3));
    s_assert_encodes("[1,2,300]", BYTES(131, 108, 0, 0, 0, 3, 97, 1, 97, 2, 98, 0, 0, 1, 44, 106));
    s_assert_encodes("[1,2|3]", BYTES(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3));
    s_assert_encodes("[1|[2,3]]", BYTES(131, 107, 0, 3, 1, 2, 3));
    s_assert_encodes("[1|\"ab\"]", BYTES(131, 107, 0, 3, 1, 97, 98));
    s_assert_encodes("[a|[]]", BYTES(131, 108, 0, 0, 0, 1, 100, 0, 1, 97, 106));
}

static void test_long_byte_lists_are_lists_not_strings(void **state)
{
    (void)state;
    uint8_t *bytes = calloc(65536, 1);
    grove_term *t = grove_pack("~s", (const char *)bytes, (size_t)65536);
    assert_non_null(t);
    size_t n;
    const uint8_t *b = grove_term_bytes(t, &n);
    assert_int_equal(b[1], 108);
    assert_int_equal(n, 1 + 5 + 2 * 65536 + 1);
    grove_term_destroy(&t);
    t = grove_pack("~s", (const char *)bytes, (size_t)65535);
    b = grove_term_bytes(t, &n);
    assert_int_equal(b[1], 107);
    grove_term_destroy(&t);
    free(bytes);
}

static void test_tuples_small_and_large(void **state)
{
    (void)state;
    s_assert_encodes("{}", BYTES(131, 104, 0));
    s_assert_encodes("{a,1}", BYTES(131, 104, 2, 100, 0, 1, 97, 97, 1));
    char text[256 * 2 + 3] = "{";
    for (int i = 0; i < 256; i++)
        strcat(text, i ? ",0" : "0");
    strcat(text, "}");
    grove_term *t = s_parse(text);
    size_t n;
    const uint8_t *b = grove_term_bytes(t, &n);
    assert_int_equal(b[1], 105);
    assert_int_equal(b[4], 1);
    assert_int_equal(b[5], 0);
    assert_int_equal(n, 6 + 2 * 256);
    grove_term_destroy(&t);
}

static void test_map_keys_sort_in_erlangs_map_order(void **state)
{
    (void)state;
    /* Erlang: ints before floats before atoms, tuples, nil, lists, binaries. */
    s_assert_encodes(
        "#{1.0 => a, 2 => b, a => c, \"s\" => d, {} => e, [] => f, <<>> => g, 0.5 => h}",
        BYTES(131, 116, 0, 0, 0, 8, 97, 2, 100, 0, 1, 98, 70, 63, 224, 0, 0, 0, 0, 0, 0, 100, 0, 1,
              104, 70, 63, 240, 0, 0, 0, 0, 0, 0, 100, 0, 1, 97, 100, 0, 1, 97, 100, 0, 1, 99, 104,
              0, 100, 0, 1, 101, 106, 100, 0, 1, 102, 107, 0, 1, 115, 100, 0, 1, 100, 109, 0, 0, 0,
              0, 100, 0, 1, 103));
    s_assert_encodes("#{}", BYTES(131, 116, 0, 0, 0, 0));
}

static void test_duplicate_map_keys_are_refused(void **state)
{
    (void)state;
    grove_term *t = NULL;
    grove_term_error err;
    assert_int_not_equal(grove_term_parse("#{a => 1, a => 2}", 17, &t, &err), GROVE_OK);
    assert_null(t);
    assert_non_null(strstr(err.message, "duplicate map key"));
    /* 1 and 1.0 are different keys; 0.0 and -0.0 are one key in OTP 25. */
    t = s_parse("#{1 => a, 1.0 => b}");
    grove_term_destroy(&t);
    assert_int_not_equal(grove_term_parse("#{0.0 => a, -0.0 => b}", 22, &t, &err), GROVE_OK);
    assert_null(grove_pack("#{~a => 1, ~a => 2}", "k", "k"));
}

static void test_pids_and_refs_round_trip(void **state)
{
    (void)state;
    s_assert_encodes("#Pid<a@h.1.2.3>",
                     BYTES(131, 88, 100, 0, 3, 97, 64, 104, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3));
    grove_nodename node;
    assert_int_equal(grove_nodename_intern("n@host", 6, &node), GROVE_OK);
    grove_pid pid = {.node = node, .id = 85, .serial = 0, .creation = 1234};
    grove_ref ref = {.node = node, .creation = 7, .len = 3, .id = {1, 2, 3}};
    grove_term *t = grove_pack("{~p, ~r}", pid, ref);
    char *text = grove_term_format(t);
    assert_string_equal(text, "{#Pid<n@host.85.0.1234>,#Ref<n@host.1.2.3.7>}");
    grove_pid pid2 = {0};
    grove_ref ref2 = {0};
    assert_true(grove_match(t, "{~p, ~r}", &pid2, &ref2));
    assert_true(grove_pid_equal(pid, pid2));
    assert_true(grove_ref_equal(&ref, &ref2));
    grove_term *back = s_parse(text);
    assert_true(grove_term_equal(t, back));
    free(text);
    grove_term_destroy(&t);
    grove_term_destroy(&back);
    t = s_parse("#Pid<'a@127.0.0.1'.1.2.3>");
    text = grove_term_format(t);
    assert_string_equal(text, "#Pid<'a@127.0.0.1'.1.2.3>");
    free(text);
    grove_term_destroy(&t);
}

/* ---- decoding ------------------------------------------------------------ */

static grove_err s_decode(const uint8_t *b, size_t n, grove_term **t, grove_term_error *err)
{
    *t = NULL;
    memset(err, 0, sizeof *err);
    return grove_term_decode(b, n, t, err);
}

static void s_assert_rejects(const uint8_t *b, size_t n, const char *why)
{
    grove_term *t;
    grove_term_error err;
    assert_int_equal(s_decode(b, n, &t, &err), GROVE_EDECODE);
    assert_null(t);
    if (!strstr(err.message, why))
        fail_msg("expected \"%s\", got \"%s\"", why, err.message);
}

static void test_decode_rejects_bad_bytes_with_a_reason(void **state)
{
    (void)state;
    s_assert_rejects(BYTES(97, 1), "version");
    s_assert_rejects((const uint8_t *)"", 0, "empty");
    s_assert_rejects(BYTES(131), "truncated");
    s_assert_rejects(BYTES(131, 98, 0, 0), "truncated integer");
    s_assert_rejects(BYTES(131, 109, 0, 0, 0, 9, 1, 2), "binary runs past the end");
    s_assert_rejects(BYTES(131, 107, 0, 5, 1), "string runs past the end");
    s_assert_rejects(BYTES(131, 108, 255, 255, 255, 255, 106), "list length runs past the end");
    s_assert_rejects(BYTES(131, 104, 3, 97, 1), "tuple arity runs past the end");
    s_assert_rejects(BYTES(131, 116, 0, 0, 0, 1, 97, 1), "truncated");
    s_assert_rejects(BYTES(131, 97, 1, 97, 2), "trailing bytes");
    s_assert_rejects(BYTES(131, 70, 127, 248, 0, 0, 0, 0, 0, 0), "NaN");
    s_assert_rejects(BYTES(131, 70, 127, 240, 0, 0, 0, 0, 0, 0), "infinity");
    s_assert_rejects(BYTES(131, 80, 0, 0, 0, 1, 120, 156), "compressed");
    s_assert_rejects(BYTES(131, 200), "unknown tag");
    s_assert_rejects(BYTES(131, 119, 2, 0xC3, 0x28), "UTF-8");
    s_assert_rejects(BYTES(131, 119, 2, 0xC0, 0x80), "UTF-8"); /* overlong */
    s_assert_rejects(BYTES(131, 116, 0, 0, 0, 2, 100, 0, 1, 97, 97, 1, 100, 0, 1, 97, 97, 2),
                     "duplicate map key");
    s_assert_rejects(BYTES(131, 110, 1, 2, 5), "sign");
    s_assert_rejects(BYTES(131, 77, 0, 0, 0, 1, 3, 255), "bit strings");
    s_assert_rejects(BYTES(131, 90, 0, 6, 100, 0, 1, 97), "5 words");
}

static void test_decode_rejects_atoms_over_255_characters(void **state)
{
    (void)state;
    uint8_t b[4 + 256];
    b[0] = 131, b[1] = 100, b[2] = 1, b[3] = 0;
    memset(b + 4, 'a', 256);
    s_assert_rejects(b, sizeof b, "longer than 255");
    b[2] = 0, b[3] = 255; /* exactly 255 is fine */
    grove_term *t;
    grove_term_error err;
    assert_int_equal(s_decode(b, 4 + 255, &t, &err), GROVE_OK);
    grove_term_destroy(&t);
    /* 256 two-byte characters in ATOM_UTF8_EXT: too many characters. */
    uint8_t u[4 + 512];
    u[0] = 131, u[1] = 118, u[2] = 2, u[3] = 0;
    for (int i = 0; i < 256; i++)
        u[4 + 2 * i] = 0xC3, u[5 + 2 * i] = 0xA9;
    s_assert_rejects(u, sizeof u, "longer than 255");
}

/* 131, then `depth` one-element tuples around a []. */
static uint8_t *s_nested(size_t depth, size_t *n)
{
    uint8_t *b = malloc(1 + 2 * depth + 1);
    b[0] = 131;
    for (size_t i = 0; i < depth; i++)
        b[1 + 2 * i] = 104, b[2 + 2 * i] = 1;
    b[1 + 2 * depth] = 106;
    *n = 2 + 2 * depth;
    return b;
}

static void test_decode_bounds_nesting(void **state)
{
    (void)state;
    /* Every tuple, list and map counts a level, [] included: 512 tuples
     * around [] are 513 levels. */
    size_t n;
    uint8_t *b = s_nested(GROVE_TERM_MAX_DEPTH, &n);
    s_assert_rejects(b, n, "nesting deeper");
    free(b);
    b = s_nested(GROVE_TERM_MAX_DEPTH - 1, &n);
    grove_term *t;
    grove_term_error err;
    assert_int_equal(s_decode(b, n, &t, &err), GROVE_OK);
    /* The text of the deepest term parses back: both count alike. */
    char *text = grove_term_format(t);
    grove_term *back = s_parse(text);
    assert_true(grove_term_equal(t, back));
    /* And packing it one level deeper is refused. */
    assert_null(grove_pack("{~t}", grove_term_copy(t)));
    free(text);
    grove_term_destroy(&t);
    grove_term_destroy(&back);
    free(b);
}

static void test_list_chained_through_tails_decodes_without_recursion(void **state)
{
    (void)state;
    /* [0|[0|[0|...]]] 100,000 deep: one list, no nesting limit hit. */
    size_t n = 100000;
    uint8_t *b = malloc(1 + n * 7 + 1);
    size_t at = 0;
    b[at++] = 131;
    for (size_t i = 0; i < n; i++) {
        b[at++] = 108, b[at++] = 0, b[at++] = 0, b[at++] = 0, b[at++] = 1;
        b[at++] = 97, b[at++] = 7;
    }
    b[at++] = 106;
    grove_term *t;
    grove_term_error err;
    assert_int_equal(s_decode(b, at, &t, &err), GROVE_OK);
    size_t len;
    const uint8_t *out = grove_term_bytes(t, &len);
    assert_int_equal(out[1], 108); /* 100,000 elements: a LIST_EXT */
    assert_int_equal(len, 1 + 5 + 2 * n + 1);
    grove_term_destroy(&t);
    free(b);
}

static void s_assert_canonical(const uint8_t *in, size_t n, const uint8_t *want, size_t wn)
{
    grove_term *t;
    grove_term_error err;
    assert_int_equal(s_decode(in, n, &t, &err), GROVE_OK);
    s_assert_bytes(t, want, wn);
    grove_term_destroy(&t);
}

static void test_decode_canonicalizes(void **state)
{
    (void)state;
    /* Every atom tag. */
    s_assert_canonical(BYTES(131, 118, 0, 2, 111, 107), BYTES(131, 100, 0, 2, 111, 107));
    s_assert_canonical(BYTES(131, 115, 2, 111, 107), BYTES(131, 100, 0, 2, 111, 107));
    s_assert_canonical(BYTES(131, 119, 2, 111, 107), BYTES(131, 100, 0, 2, 111, 107));
    s_assert_canonical(BYTES(131, 119, 2, 0xC3, 0xA9), BYTES(131, 100, 0, 1, 0xE9));
    /* A small value in a big, a negative zero big. */
    s_assert_canonical(BYTES(131, 110, 2, 0, 5, 0), BYTES(131, 97, 5));
    s_assert_canonical(BYTES(131, 110, 1, 1, 0), BYTES(131, 97, 0));
    s_assert_canonical(BYTES(131, 111, 0, 0, 0, 1, 1, 7), BYTES(131, 98, 255, 255, 255, 249));
    /* A list of bytes spelled as a list, and an empty LIST_EXT. */
    s_assert_canonical(BYTES(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106), BYTES(131, 107, 0, 2, 1, 2));
    s_assert_canonical(BYTES(131, 108, 0, 0, 0, 0, 106), BYTES(131, 106));
    /* A string tail joins the list; a whole-byte bit string is a binary. */
    s_assert_canonical(BYTES(131, 108, 0, 0, 0, 1, 97, 9, 107, 0, 1, 8),
                       BYTES(131, 107, 0, 2, 9, 8));
    s_assert_canonical(BYTES(131, 77, 0, 0, 0, 1, 8, 42), BYTES(131, 109, 0, 0, 0, 1, 42));
    /* Map keys out of order are sorted. */
    s_assert_canonical(BYTES(131, 116, 0, 0, 0, 2, 100, 0, 1, 98, 97, 1, 100, 0, 1, 97, 97, 2),
                       BYTES(131, 116, 0, 0, 0, 2, 100, 0, 1, 97, 97, 2, 100, 0, 1, 98, 97, 1));
}

/* ---- comparing ----------------------------------------------------------- */

static void test_term_order_follows_erlang(void **state)
{
    (void)state;
    const char *ordered[] = {
        "-100000000000000000000",
        "-1",
        "0",
        "0.5",
        "1",
        "1.5",
        "18446744073709551616",
        "a",
        "b",
        "'é'",
        "#Ref<a@h.1.2.3.5>",
        "#Pid<a@h.0.0.5>",
        "{}",
        "{b}",
        "{a, a}",
        "#{}",
        "#{a => 1}",
        "[]",
        "[1]",
        "[1, 2]",
        "[2]",
        "[a]",
        "<<>>",
        "<<0>>",
        "<<1>>",
    };
    size_t n = sizeof ordered / sizeof *ordered;
    for (size_t i = 0; i + 1 < n; i++) {
        grove_term *a = s_parse(ordered[i]), *b = s_parse(ordered[i + 1]);
        if (grove_term_compare(a, b) >= 0 || grove_term_compare(b, a) <= 0)
            fail_msg("expected %s < %s", ordered[i], ordered[i + 1]);
        grove_term_destroy(&a);
        grove_term_destroy(&b);
    }
    grove_term *one = s_parse("1"), *onef = s_parse("1.0");
    assert_int_equal(grove_term_compare(one, onef), 0); /* == */
    assert_false(grove_term_equal(one, onef));          /* =/= */
    grove_term_destroy(&one);
    grove_term_destroy(&onef);
    /* Beyond 2^53 integers and floats compare exactly. */
    grove_term *big = s_parse("9007199254740993"), *f = s_parse("9007199254740992.0");
    assert_true(grove_term_compare(big, f) > 0);
    grove_term_destroy(&big);
    grove_term_destroy(&f);
    /* Improper lists: [1|2] < [1,2] since 2 (a number) < [2] (a list). */
    grove_term *imp = s_parse("[1|2]"), *prop = s_parse("[1,2]");
    assert_true(grove_term_compare(imp, prop) < 0);
    grove_term_destroy(&imp);
    grove_term_destroy(&prop);
}

static void test_pid_and_ref_order_matches_otp(void **state)
{
    (void)state;
    /* Orders observed from OTP 25's lists:sort/1. */
    const char *pids[] = {"#Pid<a@h.0.0.5>", "#Pid<a@h.0.0.7>", "#Pid<b@h.0.0.1>",
                          "#Pid<a@h.1.0.5>", "#Pid<a@h.2.0.1>", "#Pid<a@h.0.1.5>"};
    const char *refs[] = {"#Ref<a@h.1.0.0.5>", "#Ref<a@h.2.5>",         "#Ref<a@h.0.1.0.5>",
                          "#Ref<a@h.0.0.1.5>", "#Ref<a@h.0.0.0.0.9.5>", "#Ref<a@h.0.0.0.7>",
                          "#Ref<b@h.0.0.0.1>"};
    for (int k = 0; k < 2; k++) {
        const char **v = k ? refs : pids;
        size_t n = k ? 7 : 6;
        for (size_t i = 0; i + 1 < n; i++) {
            grove_term *a = s_parse(v[i]), *b = s_parse(v[i + 1]);
            if (grove_term_compare(a, b) >= 0)
                fail_msg("expected %s < %s", v[i], v[i + 1]);
            grove_term_destroy(&a);
            grove_term_destroy(&b);
        }
    }
}

/* ---- reading --------------------------------------------------------------- */

static void test_reader_walks_in_preorder(void **state)
{
    (void)state;
    grove_term *t = s_parse("{ok, \"hi\", [1 | x], #{k => 2.5}, 99999999999999999999}");
    grove_reader r = grove_reader_of(t);
    grove_value v;
    const grove_type want[] = {GROVE_TYPE_TUPLE,   GROVE_TYPE_ATOM,    GROVE_TYPE_LIST,
                               GROVE_TYPE_INTEGER, GROVE_TYPE_INTEGER, GROVE_TYPE_NIL,
                               GROVE_TYPE_LIST,    GROVE_TYPE_INTEGER, GROVE_TYPE_ATOM,
                               GROVE_TYPE_MAP,     GROVE_TYPE_ATOM,    GROVE_TYPE_FLOAT,
                               GROVE_TYPE_INTEGER};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_true(grove_reader_next(&r, &v));
        assert_int_equal(v.type, want[i]);
        if (i == 0)
            assert_int_equal(v.as.compound.arity, 5);
        if (i == 1)
            assert_true(grove_value_is_atom(&v, "ok"));
        if (i == 2) {
            assert_int_equal(v.as.compound.arity, 2);
            assert_memory_equal(v.as.compound.bytes, "hi", 2);
        }
        if (i == 3)
            assert_int_equal(v.as.integer.i, 'h');
        if (i == 11)
            assert_true(v.as.f == 2.5);
        if (i == 12) {
            assert_false(v.as.integer.fits);
            assert_int_equal(v.as.integer.magnitude_len, 9);
        }
    }
    assert_false(grove_reader_next(&r, &v));
    /* Skipping a whole subterm. */
    r = grove_reader_of(t);
    assert_true(grove_reader_next(&r, &v)); /* the tuple */
    assert_true(grove_reader_skip(&r));     /* ok */
    assert_true(grove_reader_skip(&r));     /* "hi" */
    assert_true(grove_reader_skip(&r));     /* [1 | x] */
    assert_true(grove_reader_next(&r, &v));
    assert_int_equal(v.type, GROVE_TYPE_MAP);
    grove_term_destroy(&t);
}

/* ---- text ------------------------------------------------------------------ */

static void test_print_parse_round_trips(void **state)
{
    (void)state;
    const char *texts[] = {
        "{ok,[1,-2,2.5,<<\"bin\">>,\"str\",'Quoted atom',#{a => 1}]}",
        "'hello world'",
        "'Abc'",
        "''",
        "'and'",
        "café",
        "'a.b'",
        "'ok\\'s'",
        "'a\\\\b'",
        "\"\\\"q\\\"\"",
        "<<\"a\\\"b\">>",
        "[1,2]",
        "[97,10,98,27,127]",
        "\"a\\nb\\t\\e\"",
        "[1|2]",
        "[a|b]",
        "'a\\tb'",
        "<<1,2>>",
        "1.0e10",
        "100.0",
        "0.1",
        "1.0e-5",
        "1.2345678901234568e17",
        "1.0e21",
        "0.001",
        "-0.0",
        "5.0e-324",
        "1.7976931348623157e308",
        "'\\001'",
        "\"\xC2\xA0\"",
        "#Ref<'a@127.0.0.1'.1.2.3.9>",
        "'\xF0\x9F\x98\x80'",
        "{'EXIT',#Pid<n@h.1.2.3>,killed}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        grove_term *t = s_parse(texts[i]);
        char *out = grove_term_format(t);
        if (strcmp(out, texts[i]) != 0)
            fail_msg("printed %s as %s", texts[i], out);
        grove_term *back = s_parse(out);
        assert_true(grove_term_equal(t, back));
        free(out);
        grove_term_destroy(&t);
        grove_term_destroy(&back);
    }
}

static void test_parse_accepts_erlang_forms(void **state)
{
    (void)state;
    const char *pairs[][2] = {
        {"{ok, [1, -2]}.", "{ok,[1,-2]}"},
        {"% a comment\n  [a , b]  ", "[a,b]"},
        {"\"ab\" \"cd\"", "\"abcd\""},
        {"'\\x41\\x{42}\\103'", "'ABC'"},
        {"2#1010", "10"},
        {"#{a := 1}", "#{a => 1}"},
        {"$\\n", "10"},
        {"[$a, $b]", "\"ab\""},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        grove_term *t = s_parse(pairs[i][0]);
        char *out = grove_term_format(t);
        assert_string_equal(out, pairs[i][1]);
        free(out);
        grove_term_destroy(&t);
    }
}

static void test_parse_errors_say_what_and_where(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *why;
        size_t at;
    } cases[] = {
        {"{ok, [1, 2}", "',' or ']' expected", 10},
        {"{ok", "unexpected end", 3},
        {"Var", "variables", 0},
        {"{a, _}", "only for patterns", 4},
        {"~i", "placeholder", 0},
        {"'abc", "unterminated", 0},
        {"[1 | ]", "unexpected", 5},
        {"<<256>>", "byte", 2},
        {"1 2", "after the term", 2},
        {"and", "reserved", 0},
        {"1.0e999", "out of range", 0},
        {"#Pid<a@h.1.2>", "three numbers", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        grove_term *t = NULL;
        grove_term_error err = {0};
        grove_err rc = grove_term_parse(cases[i].text, strlen(cases[i].text), &t, &err);
        if (rc == GROVE_OK)
            fail_msg("%s parsed", cases[i].text);
        assert_null(t);
        if (!strstr(err.message, cases[i].why) || err.offset != cases[i].at)
            fail_msg("%s: got \"%s\" at %zu", cases[i].text, err.message, err.offset);
    }
    /* An atom of 256 characters. */
    char atom[260];
    memset(atom, 'a', 256);
    atom[256] = '\0';
    grove_term *t = NULL;
    grove_term_error err;
    assert_int_equal(grove_term_parse(atom, 256, &t, &err), GROVE_ERANGE);
    assert_null(grove_pack("~a", atom));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_encode_as_term_to_binary),
        cmocka_unit_test(test_large_big_uses_large_big_ext),
        cmocka_unit_test(test_floats_atoms_and_binaries_encode),
        cmocka_unit_test(test_lists_take_erlangs_forms),
        cmocka_unit_test(test_long_byte_lists_are_lists_not_strings),
        cmocka_unit_test(test_tuples_small_and_large),
        cmocka_unit_test(test_map_keys_sort_in_erlangs_map_order),
        cmocka_unit_test(test_duplicate_map_keys_are_refused),
        cmocka_unit_test(test_pids_and_refs_round_trip),
        cmocka_unit_test(test_decode_rejects_bad_bytes_with_a_reason),
        cmocka_unit_test(test_decode_rejects_atoms_over_255_characters),
        cmocka_unit_test(test_decode_bounds_nesting),
        cmocka_unit_test(test_list_chained_through_tails_decodes_without_recursion),
        cmocka_unit_test(test_decode_canonicalizes),
        cmocka_unit_test(test_term_order_follows_erlang),
        cmocka_unit_test(test_pid_and_ref_order_matches_otp),
        cmocka_unit_test(test_reader_walks_in_preorder),
        cmocka_unit_test(test_print_parse_round_trips),
        cmocka_unit_test(test_parse_accepts_erlang_forms),
        cmocka_unit_test(test_parse_errors_say_what_and_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
