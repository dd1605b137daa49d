/*
 * etf.h - Erlang's External Term Format inside Grove.
 *
 * Every grove_term holds canonical bytes: exactly what Erlang/OTP 25's
 * term_to_binary/1 writes (maps over 32 keys aside, which Grove sorts like
 * small ones). Canonical bytes make equality a memcmp and let the runtime
 * hand a message's bytes to the wire untouched.
 *
 * Three pieces work on the bytes:
 *   - the writer builds canonical bytes from values (pack, parse, decode);
 *   - the decoder checks untrusted bytes and re-writes them canonically;
 *   - the walkers (skip, compare) read bytes already known to be canonical,
 *     and never check them again.
 */
#ifndef GV_ETF_H
#define GV_ETF_H

#include <grove/term.h>

#include "node/sig_hdr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    GV_ETF_VERSION = 131,
    GV_ETF_NEW_FLOAT = 70,
    GV_ETF_BIT_BINARY = 77,
    GV_ETF_COMPRESSED = 80,
    GV_ETF_NEW_PID = 88,
    GV_ETF_NEW_PORT = 89,
    GV_ETF_NEWER_REFERENCE = 90,
    GV_ETF_SMALL_INTEGER = 97,
    GV_ETF_INTEGER = 98,
    GV_ETF_FLOAT = 99,
    GV_ETF_ATOM = 100,
    GV_ETF_REFERENCE = 101,
    GV_ETF_PORT = 102,
    GV_ETF_PID = 103,
    GV_ETF_SMALL_TUPLE = 104,
    GV_ETF_LARGE_TUPLE = 105,
    GV_ETF_NIL = 106,
    GV_ETF_STRING = 107,
    GV_ETF_LIST = 108,
    GV_ETF_BINARY = 109,
    GV_ETF_SMALL_BIG = 110,
    GV_ETF_LARGE_BIG = 111,
    GV_ETF_NEW_FUN = 112,
    GV_ETF_EXPORT = 113,
    GV_ETF_NEW_REFERENCE = 114,
    GV_ETF_SMALL_ATOM = 115,
    GV_ETF_MAP = 116,
    GV_ETF_FUN = 117,
    GV_ETF_ATOM_UTF8 = 118,
    GV_ETF_SMALL_ATOM_UTF8 = 119,
    GV_ETF_V4_PORT = 120,
    GV_ETF_LOCAL = 121,
};

/* The biggest number of elements term_to_binary writes as STRING_EXT. */
#define GV_ETF_STRING_MAX 65535u

/* The term object: a header for the runtime, then the bytes. One
 * allocation holds both, so a message costs one allocation. */
struct grove_term {
    gv_sig sig;     /* used by the runtime while the term is a message */
    size_t size;    /* bytes in data[], version byte included */
    uint32_t depth; /* nesting: each list, tuple or map (NIL and byte strings
                       included) is a level; at most GROVE_TERM_MAX_DEPTH */
    uint8_t data[]; /* data[0] == GV_ETF_VERSION */
};

/* Allocates a term of `size` bytes (version byte included) whose bytes
 * after data[0] (the version byte, written) the caller fills with
 * canonical bytes of nesting `depth`. */
grove_term *gv_term_alloc(size_t size, uint32_t depth);

/* Allocates a term holding a copy of bytes[0..size) (version byte
 * included); the bytes must already be canonical, `depth` their nesting. */
grove_term *gv_term_from_canonical(const uint8_t *bytes, size_t size, uint32_t depth);

/* As gv_term_from_canonical, from the bytes after the version byte. */
grove_term *gv_term_from_body(const uint8_t *body, size_t size, uint32_t depth);

/* The nesting depth of the canonical term at p (see struct grove_term). */
uint32_t gv_etf_depth(const uint8_t *p);

/* ---- big-endian helpers ------------------------------------------------ */

/* (memcpy and a byte swap: one load or store each, where byte-by-byte
 * shifts cost a dozen instructions on every pid and integer.) */
static inline uint16_t gv_get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    return v;
}

static inline uint32_t gv_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline void gv_put16(uint8_t *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    memcpy(p, &v, sizeof v);
}

static inline void gv_put32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, sizeof v);
}

/* ---- the writer -------------------------------------------------------- */

enum gv_etf_kind { GV_KIND_TUPLE = 1, GV_KIND_LIST, GV_KIND_MAP };

typedef struct gv_etf_frame {
    size_t start;   /* offset of the container's placeholder header */
    size_t tail_at; /* lists: offset where the explicit tail starts, or 0 */
    uint32_t count; /* values written inside (map: keys + values) */
    uint8_t kind;
    bool want_tail; /* lists: the next value is the tail */
} gv_etf_frame;

#define GV_ETF_INLINE_BYTES 240
#define GV_ETF_INLINE_FRAMES 16

typedef struct gv_etf_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    gv_etf_frame *frames;
    uint32_t depth;
    uint32_t frame_cap;
    uint32_t max_level;   /* the deepest nesting written so far */
    uint32_t floats;      /* floats written (compiled formats avoid them) */
    uint32_t maps;        /* maps written (patterns match them by subset) */
    bool free_form;       /* values follow one another with no container
                             bookkeeping: compiled formats lay out the
                             headers themselves */
    grove_term_error err; /* first error; err.code == GROVE_OK while fine */
    uint8_t inline_buf[GV_ETF_INLINE_BYTES];
    gv_etf_frame inline_frames[GV_ETF_INLINE_FRAMES];
} gv_etf_writer;

void gv_w_init(gv_etf_writer *w);
void gv_w_fini(gv_etf_writer *w);

/* Records the first error (later ones are ignored) and returns false. */
bool gv_w_fail(gv_etf_writer *w, grove_err code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline bool gv_w_ok(const gv_etf_writer *w)
{
    return w->err.code == GROVE_OK;
}

/* Values. Each returns false (and records why) when the value cannot be
 * encoded; the writer then refuses everything after it. */
bool gv_w_atom_utf8(gv_etf_writer *w, const char *text, size_t len);
bool gv_w_atom_latin1(gv_etf_writer *w, const uint8_t *text, size_t len);
bool gv_w_int64(gv_etf_writer *w, int64_t v);
bool gv_w_uint64(gv_etf_writer *w, uint64_t v);
/* An integer of any size: sign and little-endian magnitude. */
bool gv_w_big(gv_etf_writer *w, bool negative, const uint8_t *mag, size_t n);
bool gv_w_float(gv_etf_writer *w, double v);
bool gv_w_binary(gv_etf_writer *w, const void *data, size_t size);
/* A list of bytes (Erlang's "string"): STRING_EXT, NIL or a LIST_EXT. */
bool gv_w_bytelist(gv_etf_writer *w, const void *data, size_t size);
/* A pid or reference whose node is an atom given as UTF-8 or Latin-1. */
bool gv_w_pid(gv_etf_writer *w, const char *node, size_t node_len, bool latin1, uint32_t id,
              uint32_t serial, uint32_t creation);
bool gv_w_ref(gv_etf_writer *w, const char *node, size_t node_len, bool latin1, uint32_t creation,
              uint32_t len, const uint32_t *ids);
/* The same with the node's atom given as canonical ETF bytes
 * (gv_nodename_atom), copied as they are. */
bool gv_w_pid_atom(gv_etf_writer *w, const uint8_t *atom, size_t atom_len, uint32_t id,
                   uint32_t serial, uint32_t creation);
bool gv_w_ref_atom(gv_etf_writer *w, const uint8_t *atom, size_t atom_len, uint32_t creation,
                   uint32_t len, const uint32_t *ids);
/* Appends bytes as they are (free-form writing only). */
void gv_w_append(gv_etf_writer *w, const uint8_t *bytes, size_t size);

/* Canonical bytes of one whole term (no version byte) nested `depth` deep,
 * copied as they are. */
bool gv_w_raw(gv_etf_writer *w, const uint8_t *bytes, size_t size, uint32_t depth);

/* Containers. For a list, gv_w_tail() says the next value is its tail
 * (an improper list, or a list to splice in). gv_w_end() closes the
 * innermost container in canonical form: small or large tuple, NIL,
 * STRING_EXT or LIST_EXT, maps sorted by key with duplicates refused. */
bool gv_w_begin(gv_etf_writer *w, enum gv_etf_kind kind);
bool gv_w_tail(gv_etf_writer *w);
bool gv_w_end(gv_etf_writer *w);

/* Finishes: on success returns the term (caller owns) and resets the
 * writer; on failure returns NULL and copies the error to *err (if not
 * NULL). The writer must be fini'd either way. */
grove_term *gv_w_finish(gv_etf_writer *w, grove_term_error *err);

/* ---- walking canonical bytes ------------------------------------------- */

/* The end of the term starting at p (which must be canonical). */
const uint8_t *gv_etf_skip(const uint8_t *p);

/* Compares two canonical terms in Erlang's term order. With
 * map_key_order, every integer sorts before every float (the order of map
 * keys); otherwise numbers compare by value. */
int gv_etf_compare(const uint8_t *a, const uint8_t *b, bool map_key_order);

/* Canonical encodings of one term are equal exactly when the terms are
 * exactly equal (=:=), except that 0.0 and -0.0 are equal as Erlang/OTP 25
 * takes them; gv_etf_equal handles that. */
bool gv_etf_equal(const uint8_t *a, const uint8_t *b);

/* Reads an atom at p (any of the four atom tags): its text and encoding,
 * and returns the end. (Inline: matching a pid reads its node's atom.) */
static inline const uint8_t *gv_etf_atom(const uint8_t *p, const char **text, size_t *len,
                                         bool *latin1)
{
    size_t n;
    switch (p[0]) {
    case GV_ETF_ATOM:
        n = gv_get16(p + 1), *latin1 = true, p += 3;
        break;
    case GV_ETF_SMALL_ATOM:
        n = p[1], *latin1 = true, p += 2;
        break;
    case GV_ETF_ATOM_UTF8:
        n = gv_get16(p + 1), *latin1 = false, p += 3;
        break;
    default: /* GV_ETF_SMALL_ATOM_UTF8 */
        n = p[1], *latin1 = false, p += 2;
        break;
    }
    *text = (const char *)p;
    *len = n;
    return p + n;
}

/* a[0..n) == b[0..n), for the short runs the matcher compares (literal
 * bytes of a pattern, node names): up to 16 bytes in two overlapping word
 * compares, longer ones with memcmp. */
static inline bool gv_bytes_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    if (n >= 8 && n <= 16) {
        uint64_t x0, y0, x1, y1;
        memcpy(&x0, x, 8), memcpy(&y0, y, 8);
        memcpy(&x1, x + n - 8, 8), memcpy(&y1, y + n - 8, 8);
        return x0 == y0 && x1 == y1;
    }
    if (n >= 4 && n < 8) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, x, 4), memcpy(&y0, y, 4);
        memcpy(&x1, x + n - 4, 4), memcpy(&y1, y + n - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    return memcmp(x, y, n) == 0;
}

/* Compares two atom texts as Erlang does (by code point). */
int gv_etf_atom_cmp(const char *a, size_t alen, bool alatin1, const char *b, size_t blen,
                    bool blatin1);

/* ---- numbers ----------------------------------------------------------- */

/* Decimal text of a little-endian magnitude, with a leading '-' when
 * negative. Caller frees. */
char *gv_big_to_decimal(bool negative, const uint8_t *mag, size_t n);

/* Parses digits (base 2..36, no sign, no separators) into a little-endian
 * magnitude without high zero bytes. Caller frees *mag. Returns false on
 * a bad digit. */
bool gv_big_from_digits(const char *digits, size_t len, unsigned base, uint8_t **mag, size_t *n);

/* Erlang's shortest round-trip text for a finite double (~p's format).
 * out must hold 32 bytes. Returns the length. */
size_t gv_float_format(double v, char out[32]);

/* Compares an integer (sign + magnitude) with a finite double by value,
 * as Erlang's == does. */
int gv_big_cmp_double(bool negative, const uint8_t *mag, size_t n, double d);

#endif
