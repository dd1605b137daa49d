/*
 * interop_encode.c - Grove's own terms, for Erlang to read back
 * (interoperability, the other direction).
 *
 *   interop_encode OUT COUNT SEED
 *
 * Builds COUNT random terms from SEED with Grove's public API, and writes
 * each to OUT as a 4-byte big-endian length and grove_term_bytes. Then
 * check_terms.escript has Erlang read every one with binary_to_term/1 and
 * write it again with term_to_binary/1: the bytes must be the same.
 *
 * Terms are built the ways a user builds them: grove_pack with every
 * placeholder (~i ~l ~u ~f ~a ~s ~b ~p ~r ~t, and [~t | ~t] to cons onto a
 * tail), and grove_term_parse of text (literals in Erlang's syntax: $c,
 * base#digits, escapes, big integers, and containers composed from the
 * text of their children, which exercises grove_term_format as well).
 * Every type appears, with bounded depth and size and maps of at most 32
 * keys (larger maps are ordered differently by design).
 *
 * A term Grove refuses to build, or whose bytes do not decode to
 * themselves, stops the program with the details (exit 1).
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grove/term.h>

#define MAX_DEPTH 4

/* ---- a small seeded generator (splitmix64) ------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t s_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* 0..n-1 */
static uint32_t s_below(rng *r, uint32_t n)
{
    return (uint32_t)(s_next(r) % n);
}

/* ---- growing strings -------------------------------------------------- */

typedef struct str {
    char *p;
    size_t len, cap;
} str;

static void s_put(str *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        if (s->p == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = 0;
}

static void s_puts(str *s, const char *p)
{
    s_put(s, p, strlen(p));
}

static void s_put_utf8(str *s, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    s_put(s, u, n);
}

/* ---- failing loudly ----------------------------------------------------- */

static uint64_t s_seed;
static size_t s_index;

static void s_die(const char *what, const char *detail, const grove_term_error *err)
{
    fprintf(stderr, "FAIL (seed %" PRIu64 ", term #%zu): %s\n", s_seed, s_index, what);
    if (detail != NULL) {
        size_t n = strlen(detail);
        fprintf(stderr, "  input (%zu bytes): %.600s%s\n", n, detail, n > 600 ? " ..." : "");
    }
    if (err != NULL) {
        fprintf(stderr, "  %s at offset %zu: %s\n", grove_errname(err->code), err->offset,
                err->message);
    }
    exit(1);
}

static grove_term *s_parse(const char *text, size_t len)
{
    grove_term *t = NULL;
    grove_term_error err;
    memset(&err, 0, sizeof err);
    if (grove_term_parse(text, len, &t, &err) != GROVE_OK || t == NULL) {
        s_die("grove_term_parse refused valid text", text, &err);
    }
    return t;
}

static grove_term *s_checked(grove_term *t, const char *what)
{
    if (t == NULL) {
        s_die("grove_pack returned NULL", what, NULL);
    }
    return t;
}

/* ---- leaves ------------------------------------------------------------ */

static grove_nodename s_nodes[6];

static void s_init_nodes(void)
{
    static const char *const names[] = {
        "n@h",
        "node@host",
        "a@127.0.0.1",
        "n\303\266de@h", /* Latin-1 o-umlaut, in UTF-8 */
        "\xD1\x83\xD0\xB7\xD0\xB5\xD0\xBB@h",
        NULL,
    };
    char longname[256];
    memset(longname, 'z', 200);
    memcpy(longname + 200, "@h", 3);
    for (int i = 0; i < 6; i++) {
        const char *n = names[i] ? names[i] : longname;
        if (grove_nodename_intern(n, strlen(n), &s_nodes[i]) != GROVE_OK) {
            s_die("grove_nodename_intern refused a node name", n, NULL);
        }
    }
}

static uint32_t s_word(rng *r)
{
    switch (s_below(r, 3)) {
    case 0:
        return (uint32_t)s_next(r);
    case 1:
        return s_below(r, 1000);
    default: {
        static const uint32_t edges[] = {0, 0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u};
        return edges[s_below(r, 4)];
    }
    }
}

static double s_float(rng *r)
{
    static const double specials[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1.5,
        1.0e10,
        1.0e-5,
        1.0e21,
        1.0e23,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        123456.789,
        1.0e15,
        1.0e16,
        9007199254740993.0,
        100.0,
        1000.0,
        0.001,
        1.2e-4,
    };
    switch (s_below(r, 3)) {
    case 0:
        return specials[s_below(r, sizeof specials / sizeof specials[0])];
    case 1: {
        double u = (double)(s_next(r) >> 11) / 9007199254740992.0 - 0.5;
        return u * pow(10.0, (double)s_below(r, 40) - 20.0);
    }
    default:
        for (;;) {
            uint64_t bits = s_next(r);
            if (((bits >> 52) & 0x7FF) == 0x7FF) {
                continue;
            }
            double d;
            memcpy(&d, &bits, sizeof d);
            return d;
        }
    }
}

static void s_latin1_atom_text(rng *r, str *s)
{
    uint32_t len = s_below(r, 30) == 0 ? 255 : s_below(r, 13);
    for (uint32_t i = 0; i < len; i++) {
        uint32_t cp;
        switch (s_below(r, 10)) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
            cp = 'a' + s_below(r, 26);
            break;
        case 6:
            cp = (uint8_t) "ABCXYZ0123456789_@. '\"\\"[s_below(r, 23)];
            break;
        case 7:
            cp = 160 + s_below(r, 96);
            break;
        case 8:
            cp = 127 + s_below(r, 33);
            break;
        default:
            cp = 1 + s_below(r, 31);
            break; /* no NUL: ~a takes a C string */
        }
        s_put_utf8(s, cp);
    }
}

static void s_unicode_atom_text(rng *r, str *s)
{
    uint32_t len = s_below(r, 30) == 0 ? 255 : 1 + s_below(r, 10);
    s_put_utf8(s, 0x263A); /* at least one character above 255 */
    for (uint32_t i = 1; i < len; i++) {
        uint32_t cp;
        switch (s_below(r, 6)) {
        case 0:
            cp = 'a' + s_below(r, 26);
            break;
        case 1:
            cp = 0x100 + s_below(r, 0x700);
            break;
        case 2:
            cp = 0x800 + s_below(r, 0xD800 - 0x800);
            break;
        case 3:
            cp = 0xE000 + s_below(r, 0xFFFE - 0xE000);
            break;
        case 4:
            cp = 0x10000 + s_below(r, 0x110000 - 0x10000);
            break;
        default:
            cp = 160 + s_below(r, 96);
            break;
        }
        s_put_utf8(s, cp);
    }
}

static void s_random_bytes(rng *r, uint8_t *b, size_t n, bool printable)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = printable ? (uint8_t)(32 + s_below(r, 95)) : (uint8_t)s_next(r);
    }
}

/* Literals in Erlang's syntax that Grove must read as Erlang does. */
static const char *const s_literals[] = {
    "$a",
    "$\\n",
    "$\\x{e9}",
    "$\\\\",
    "16#ff",
    "-16#7FFFFFFFFFFFFFFFF",
    "2#1010",
    "36#zz",
    "1_000_000",
    "-0.0",
    "1.0e-5",
    "2.5e+3",
    "1.0E10",
    "'hello world'",
    "'\\x{43F}\\x{440}'",
    "'a\\'b'",
    "'\\^A'",
    "\"a\\x{41}b\"",
    "\"\\x{100}\"",
    "\"tab\\there\"",
    "<<\"bin\">>",
    "<<1,2,3>>",
    "<<>>",
    "<<\"\">>",
    "[]",
    "{}",
    "#{}",
    "\"\"",
    "[$a,$b]",
    "'Quoted atom'",
    "'and'",
    "true",
    "'$gen_call'",
    "<<\"\\x{ff}\">>",
    "[1,2|3]",
    "{ok, [1, -2, 2.5]}",
    "#{a => 1, b => [x]}",
    "0.1",
    "-1.7976931348623157e308",
    "5.0e-324",
    "123456789012345678901234567890",
    "-18446744073709551616",
    "\"\\e\\d\\v\"",
};

static grove_term *s_big(rng *r)
{
    str s = {0};
    if (s_below(r, 2)) {
        s_puts(&s, "-");
    }
    size_t digits = s_below(r, 20) == 0 ? 600 + s_below(r, 100) : 1 + s_below(r, 60);
    if (s_below(r, 4) == 0) {
        s_puts(&s, "16#");
        for (size_t i = 0; i < digits; i++) {
            s_put(&s, &"0123456789abcdefABCDEF"[s_below(r, 22)], 1);
        }
    } else {
        for (size_t i = 0; i < digits; i++) {
            s_put(&s, &"0123456789"[s_below(r, 10)], 1);
        }
    }
    grove_term *t = s_parse(s.p, s.len);
    free(s.p);
    return t;
}

static grove_term *s_leaf(rng *r)
{
    switch (s_below(r, 14)) {
    case 0:
        return s_checked(grove_pack("~i", (int)s_below(r, 256)), "~i");
    case 1:
        return s_checked(grove_pack("~i", (int)(int32_t)(uint32_t)s_next(r)), "~i");
    case 2:
        return s_checked(grove_pack("~l", (int64_t)s_next(r)), "~l");
    case 3:
        return s_checked(grove_pack("~u", s_next(r)), "~u");
    case 4:
        return s_big(r);
    case 5:
        return s_checked(grove_pack("~f", s_float(r)), "~f");
    case 6:
    case 7: {
        str s = {0};
        s_put(&s, "", 0);
        if (s_below(r, 2)) {
            s_latin1_atom_text(r, &s);
        } else {
            s_unicode_atom_text(r, &s);
        }
        grove_term *t = grove_pack("~a", s.p);
        if (t == NULL) {
            s_die("grove_pack(\"~a\") refused a valid atom", s.p, NULL);
        }
        free(s.p);
        return t;
    }
    case 8: {
        size_t n = s_below(r, 20) == 0 ? 200 + s_below(r, 2000) : s_below(r, 30);
        uint8_t *b = malloc(n + 1);
        s_random_bytes(r, b, n, s_below(r, 2));
        grove_term *t = s_checked(grove_pack("~b", (const void *)b, n), "~b");
        free(b);
        return t;
    }
    case 9: {
        size_t n = s_below(r, 4000) == 0 ? 65534 + s_below(r, 4) : s_below(r, 30);
        uint8_t *b = malloc(n + 1);
        s_random_bytes(r, b, n, s_below(r, 3) != 0);
        grove_term *t = s_checked(grove_pack("~s", (const char *)b, n), "~s");
        free(b);
        return t;
    }
    case 10: {
        grove_pid pid = {s_nodes[s_below(r, 6)], s_word(r), s_word(r), s_word(r)};
        return s_checked(grove_pack("~p", pid), "~p");
    }
    case 11: {
        grove_ref ref;
        memset(&ref, 0, sizeof ref);
        static const uint32_t lens[] = {1, 2, 3, 3, 3, 4, 5};
        ref.node = s_nodes[s_below(r, 6)];
        ref.creation = s_word(r);
        ref.len = lens[s_below(r, 7)];
        for (uint32_t i = 0; i < ref.len; i++) {
            ref.id[i] = s_word(r);
        }
        return s_checked(grove_pack("~r", ref), "~r");
    }
    case 12: {
        const char *lit = s_literals[s_below(r, sizeof s_literals / sizeof s_literals[0])];
        return s_parse(lit, strlen(lit));
    }
    default:
        return s_checked(grove_pack("[]"), "[]");
    }
}

/* ---- containers ----------------------------------------------------------- */

static grove_term *s_term(rng *r, int depth);

static void s_put_term_text(str *s, grove_term *t)
{
    char *text = grove_term_format(t);
    if (text == NULL) {
        s_die("grove_term_format returned NULL", NULL, NULL);
    }
    s_puts(s, text);
    free(text);
}

static grove_term *s_tuple(rng *r, int depth)
{
    bool large = s_below(r, 50) == 0;
    uint32_t n = large ? 250 + s_below(r, 20) : s_below(r, 7);
    int child = large && depth + 1 < MAX_DEPTH - 1 ? MAX_DEPTH - 1 : depth + 1;
    if (n <= 3 && s_below(r, 2)) {
        switch (n) {
        case 0:
            return s_checked(grove_pack("{}"), "{}");
        case 1:
            return s_checked(grove_pack("{~t}", s_term(r, child)), "{~t}");
        case 2:
            return s_checked(grove_pack("{~t, ~t}", s_term(r, child), s_term(r, child)),
                             "{~t, ~t}");
        default:
            return s_checked(
                grove_pack("{ ~t ,~t,~t }", s_term(r, child), s_term(r, child), s_term(r, child)),
                "{~t,~t,~t}");
        }
    }
    str s = {0};
    s_puts(&s, "{");
    for (uint32_t i = 0; i < n; i++) {
        if (i) {
            s_puts(&s, s_below(r, 2) ? "," : ", ");
        }
        grove_term *c = s_term(r, child);
        s_put_term_text(&s, c);
        grove_term_destroy(&c);
    }
    s_puts(&s, "}");
    grove_term *t = s_parse(s.p, s.len);
    free(s.p);
    return t;
}

static bool s_is_list_or_nil(grove_term *t)
{
    grove_reader rd = grove_reader_of(t);
    grove_value v;
    return grove_reader_next(&rd, &v) && (v.type == GROVE_TYPE_LIST || v.type == GROVE_TYPE_NIL);
}

static grove_term *s_list(rng *r, int depth)
{
    uint32_t n = s_below(r, 7);
    grove_term *tail;
    switch (n ? s_below(r, 6) : 5) {
    case 0: /* improper */
        do {
            tail = s_leaf(r);
            if (s_is_list_or_nil(tail)) {
                grove_term_destroy(&tail);
            }
        } while (tail == NULL);
        break;
    case 1: { /* elements spliced onto a byte list */
        size_t k = 1 + s_below(r, 20);
        char b[20];
        s_random_bytes(r, (uint8_t *)b, k, true);
        tail = s_checked(grove_pack("~s", b, k), "~s");
        break;
    }
    default:
        tail = s_checked(grove_pack("[]"), "[]");
        break;
    }
    if (s_below(r, 2)) {
        /* cons from the end: [E | Tail] */
        for (uint32_t i = 0; i < n; i++) {
            grove_term *e = s_below(r, 4) == 0
                                ? s_checked(grove_pack("~i", (int)s_below(r, 256)), "~i")
                                : s_term(r, depth + 1);
            tail = s_checked(grove_pack("[~t | ~t]", e, tail), "[~t | ~t]");
        }
        return tail;
    }
    str s = {0};
    s_puts(&s, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i) {
            s_puts(&s, ",");
        }
        grove_term *c = s_term(r, depth + 1);
        s_put_term_text(&s, c);
        grove_term_destroy(&c);
    }
    grove_reader rd = grove_reader_of(tail);
    grove_value v;
    grove_reader_next(&rd, &v);
    if (v.type != GROVE_TYPE_NIL) {
        if (n == 0) {
            free(s.p);
            return tail;
        }
        s_puts(&s, " | ");
        s_put_term_text(&s, tail);
    }
    grove_term_destroy(&tail);
    s_puts(&s, "]");
    grove_term *t = s_parse(s.p, s.len);
    free(s.p);
    return t;
}

static grove_term *s_map(rng *r, int depth)
{
    bool large = s_below(r, 10) == 0;
    uint32_t n = large ? 20 + s_below(r, 13) : s_below(r, 6); /* never over 32 */
    int vdepth = large && depth + 1 < MAX_DEPTH - 1 ? MAX_DEPTH - 1 : depth + 1;
    grove_term *keys[32];
    uint32_t nk = 0;
    for (uint32_t i = 0; i < n; i++) {
        grove_term *k = s_below(r, 3) == 0 ? s_term(r, depth + 2) : s_leaf(r);
        bool dup = false;
        for (uint32_t j = 0; j < nk && !dup; j++) {
            dup = grove_term_equal(keys[j], k);
        }
        if (dup) {
            grove_term_destroy(&k);
        } else {
            keys[nk++] = k;
        }
    }
    if (nk == 1 && s_below(r, 2)) {
        return s_checked(grove_pack("#{~t => ~t}", keys[0], s_term(r, vdepth)), "#{~t => ~t}");
    }
    str s = {0};
    s_puts(&s, "#{");
    for (uint32_t i = 0; i < nk; i++) {
        if (i) {
            s_puts(&s, ",");
        }
        s_put_term_text(&s, keys[i]);
        grove_term_destroy(&keys[i]);
        s_puts(&s, " => ");
        grove_term *v = s_term(r, vdepth);
        s_put_term_text(&s, v);
        grove_term_destroy(&v);
    }
    s_puts(&s, "}");
    grove_term *t = s_parse(s.p, s.len);
    free(s.p);
    return t;
}

static grove_term *s_term(rng *r, int depth)
{
    if (depth >= MAX_DEPTH) {
        return s_leaf(r);
    }
    switch (s_below(r, 10)) {
    case 6:
        return s_tuple(r, depth);
    case 7:
        return s_list(r, depth);
    case 8:
        return s_map(r, depth);
    case 9: {
        switch (s_below(r, 4)) {
        case 0:
            return s_tuple(r, depth);
        case 1:
            return s_list(r, depth);
        case 2:
            return s_map(r, depth);
        default:
            return s_leaf(r);
        }
    }
    default:
        return s_leaf(r);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s OUT COUNT SEED\n", argv[0]);
        return 64;
    }
    char *end;
    size_t count = strtoul(argv[2], &end, 10);
    if (*end) {
        fprintf(stderr, "interop_encode: bad COUNT %s\n", argv[2]);
        return 64;
    }
    s_seed = strtoull(argv[3], &end, 10);
    if (*end) {
        fprintf(stderr, "interop_encode: bad SEED %s\n", argv[3]);
        return 64;
    }
    FILE *out = fopen(argv[1], "wb");
    if (out == NULL) {
        perror(argv[1]);
        return 1;
    }
    s_init_nodes();
    rng r = {s_seed};
    size_t total = 0;
    for (s_index = 0; s_index < count; s_index++) {
        grove_term *t = s_term(&r, 0);
        size_t len;
        const uint8_t *b = grove_term_bytes(t, &len);
        /* Grove's own bytes must decode to themselves. */
        grove_term *d = NULL;
        grove_term_error err;
        memset(&err, 0, sizeof err);
        size_t dlen = 0;
        const uint8_t *db = NULL;
        if (grove_term_decode(b, len, &d, &err) == GROVE_OK) {
            db = grove_term_bytes(d, &dlen);
        }
        if (db == NULL || dlen != len || memcmp(db, b, len) != 0) {
            char *s = grove_term_format(t);
            s_die("Grove's bytes do not decode to themselves", s, db == NULL ? &err : NULL);
        }
        grove_term_destroy(&d);
        uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                          (uint8_t)len};
        if (fwrite(hdr, 1, 4, out) != 4 || fwrite(b, 1, len, out) != len) {
            perror(argv[1]);
            return 1;
        }
        total += len + 4;
        grove_term_destroy(&t);
    }
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    printf("interop_encode: %zu terms, seed %" PRIu64 ", %zu bytes in %s\n", count, s_seed, total,
           argv[1]);
    return 0;
}
