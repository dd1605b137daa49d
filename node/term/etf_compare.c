/*
 * etf_compare.c - walking canonical bytes: skip, and Erlang's term order.
 *
 * These functions trust their input: every grove_term was checked when it
 * was decoded or built, so the walkers spend nothing on bounds.
 */
#include "node/term/etf.h"

#include <string.h>

#include "base/gv_utf8.h"

const uint8_t *gv_etf_skip(const uint8_t *p)
{
    const char *text;
    size_t len;
    bool latin1;
    switch (p[0]) {
    case GV_ETF_SMALL_INTEGER:
        return p + 2;
    case GV_ETF_INTEGER:
        return p + 5;
    case GV_ETF_NEW_FLOAT:
        return p + 9;
    case GV_ETF_SMALL_BIG:
        return p + 3 + p[1];
    case GV_ETF_LARGE_BIG:
        return p + 6 + gv_get32(p + 1);
    case GV_ETF_ATOM:
    case GV_ETF_SMALL_ATOM:
    case GV_ETF_ATOM_UTF8:
    case GV_ETF_SMALL_ATOM_UTF8:
        return gv_etf_atom(p, &text, &len, &latin1);
    case GV_ETF_NEW_PID:
        return gv_etf_atom(p + 1, &text, &len, &latin1) + 12;
    case GV_ETF_NEWER_REFERENCE:
        return gv_etf_atom(p + 3, &text, &len, &latin1) + 4 + 4 * (size_t)gv_get16(p + 1);
    case GV_ETF_NIL:
        return p + 1;
    case GV_ETF_STRING:
        return p + 3 + gv_get16(p + 1);
    case GV_ETF_BINARY:
        return p + 5 + gv_get32(p + 1);
    case GV_ETF_SMALL_TUPLE:
    case GV_ETF_LARGE_TUPLE: {
        uint32_t n = p[0] == GV_ETF_SMALL_TUPLE ? p[1] : gv_get32(p + 1);
        p += p[0] == GV_ETF_SMALL_TUPLE ? 2 : 5;
        while (n--)
            p = gv_etf_skip(p);
        return p;
    }
    case GV_ETF_LIST: {
        uint32_t n = gv_get32(p + 1);
        p += 5;
        while (n--)
            p = gv_etf_skip(p);
        return gv_etf_skip(p); /* the tail */
    }
    case GV_ETF_MAP: {
        uint64_t n = 2 * (uint64_t)gv_get32(p + 1);
        p += 5;
        while (n--)
            p = gv_etf_skip(p);
        return p;
    }
    default:
        return p + 1; /* unreachable for canonical bytes */
    }
}

uint32_t gv_etf_depth(const uint8_t *p)
{
    uint64_t n;
    bool list = p[0] == GV_ETF_LIST;
    switch (p[0]) {
    case GV_ETF_NIL:
    case GV_ETF_STRING:
        return 1;
    case GV_ETF_SMALL_TUPLE:
        n = p[1], p += 2;
        break;
    case GV_ETF_LARGE_TUPLE:
        n = gv_get32(p + 1), p += 5;
        break;
    case GV_ETF_LIST:
        n = gv_get32(p + 1), p += 5;
        break;
    case GV_ETF_MAP:
        n = 2 * (uint64_t)gv_get32(p + 1), p += 5;
        break;
    default:
        return 0;
    }
    uint32_t deepest = 0;
    while (n--) {
        uint32_t d = gv_etf_depth(p);
        if (d > deepest)
            deepest = d;
        p = gv_etf_skip(p);
    }
    if (list && p[0] != GV_ETF_NIL) { /* an improper tail */
        uint32_t d = gv_etf_depth(p);
        if (d > deepest)
            deepest = d;
    }
    return deepest + 1;
}

/* ---- classes of Erlang's term order ------------------------------------ */

enum {
    C_NUMBER = 1,
    C_ATOM,
    C_REF,
    C_PID,
    C_TUPLE,
    C_MAP,
    C_NIL,
    C_LIST,
    C_BINARY,
};

static int s_class(uint8_t tag)
{
    switch (tag) {
    case GV_ETF_SMALL_INTEGER:
    case GV_ETF_INTEGER:
    case GV_ETF_SMALL_BIG:
    case GV_ETF_LARGE_BIG:
    case GV_ETF_NEW_FLOAT:
        return C_NUMBER;
    case GV_ETF_ATOM:
    case GV_ETF_SMALL_ATOM:
    case GV_ETF_ATOM_UTF8:
    case GV_ETF_SMALL_ATOM_UTF8:
        return C_ATOM;
    case GV_ETF_NEWER_REFERENCE:
        return C_REF;
    case GV_ETF_NEW_PID:
        return C_PID;
    case GV_ETF_SMALL_TUPLE:
    case GV_ETF_LARGE_TUPLE:
        return C_TUPLE;
    case GV_ETF_MAP:
        return C_MAP;
    case GV_ETF_NIL:
        return C_NIL;
    case GV_ETF_STRING:
    case GV_ETF_LIST:
        return C_LIST;
    default:
        return C_BINARY;
    }
}

static int s_cmp_u(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

/* ---- numbers ----------------------------------------------------------- */

typedef struct num {
    bool is_float;
    double f;
    bool negative;
    const uint8_t *mag; /* little-endian, no high zero bytes */
    size_t n;
    uint8_t small[8];
} num;

static void s_num(const uint8_t *p, num *out)
{
    out->is_float = false;
    switch (p[0]) {
    case GV_ETF_NEW_FLOAT: {
        uint64_t bits = (uint64_t)gv_get32(p + 1) << 32 | gv_get32(p + 5);
        out->is_float = true;
        memcpy(&out->f, &bits, sizeof out->f);
        return;
    }
    case GV_ETF_SMALL_BIG:
        out->negative = p[2] != 0;
        out->mag = p + 3;
        out->n = p[1];
        return;
    case GV_ETF_LARGE_BIG:
        out->negative = p[5] != 0;
        out->mag = p + 6;
        out->n = gv_get32(p + 1);
        return;
    default: {
        int64_t v = p[0] == GV_ETF_SMALL_INTEGER ? p[1] : (int32_t)gv_get32(p + 1);
        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        out->negative = v < 0;
        out->n = 0;
        while (m) {
            out->small[out->n++] = (uint8_t)m;
            m >>= 8;
        }
        out->mag = out->small;
        return;
    }
    }
}

static int s_cmp_mag(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    for (size_t i = an; i-- > 0;)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

static int s_cmp_int(const num *a, const num *b)
{
    if (a->negative != b->negative)
        return a->negative ? -1 : 1;
    int c = s_cmp_mag(a->mag, a->n, b->mag, b->n);
    return a->negative ? -c : c;
}

static int s_cmp_num(const uint8_t *pa, const uint8_t *pb, bool map_key_order)
{
    num a, b;
    s_num(pa, &a);
    s_num(pb, &b);
    if (a.is_float && b.is_float)
        return (a.f > b.f) - (a.f < b.f);
    if (!a.is_float && !b.is_float)
        return s_cmp_int(&a, &b);
    if (map_key_order)
        return a.is_float ? 1 : -1;
    if (a.is_float)
        return -gv_big_cmp_double(b.negative, b.mag, b.n, a.f);
    return gv_big_cmp_double(a.negative, a.mag, a.n, b.f);
}

/* ---- atoms ------------------------------------------------------------- */

static size_t s_next_cp(const char *s, size_t len, bool latin1, uint32_t *cp)
{
    if (latin1) {
        *cp = (uint8_t)s[0];
        return 1;
    }
    size_t k = gv_utf8_next((const uint8_t *)s, len, cp);
    if (k == 0) { /* canonical atoms are valid UTF-8; be total anyway */
        *cp = (uint8_t)s[0];
        k = 1;
    }
    return k;
}

int gv_etf_atom_cmp(const char *a, size_t alen, bool alatin1, const char *b, size_t blen,
                    bool blatin1)
{
    if (alatin1 == blatin1) {
        /* UTF-8 byte order is code point order. */
        int c = memcmp(a, b, alen < blen ? alen : blen);
        return c ? (c < 0 ? -1 : 1) : s_cmp_u(alen, blen);
    }
    size_t i = 0, j = 0;
    while (i < alen && j < blen) {
        uint32_t ca, cb;
        i += s_next_cp(a + i, alen - i, alatin1, &ca);
        j += s_next_cp(b + j, blen - j, blatin1, &cb);
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return (i < alen) - (j < blen);
}

static int s_cmp_atom_at(const uint8_t *pa, const uint8_t *pb, const uint8_t **enda,
                         const uint8_t **endb)
{
    const char *ta, *tb;
    size_t la, lb;
    bool l1a, l1b;
    *enda = gv_etf_atom(pa, &ta, &la, &l1a);
    *endb = gv_etf_atom(pb, &tb, &lb, &l1b);
    return gv_etf_atom_cmp(ta, la, l1a, tb, lb, l1b);
}

/* ---- lists ------------------------------------------------------------- */

typedef struct list_cursor {
    const uint8_t *p; /* next element (LIST_EXT) or byte (STRING_EXT) */
    uint32_t left;    /* elements left */
    bool bytes;       /* a STRING_EXT */
} list_cursor;

static const uint8_t s_nil[1] = {GV_ETF_NIL};

static void s_list_open(const uint8_t *p, list_cursor *c)
{
    c->bytes = p[0] == GV_ETF_STRING;
    c->left = c->bytes ? gv_get16(p + 1) : gv_get32(p + 1);
    c->p = p + (c->bytes ? 3 : 5);
}

static int s_cmp_list(const uint8_t *pa, const uint8_t *pb, bool mko)
{
    list_cursor a, b;
    s_list_open(pa, &a);
    s_list_open(pb, &b);
    while (a.left && b.left) {
        int c;
        if (a.bytes && b.bytes) {
            c = (a.p[0] > b.p[0]) - (a.p[0] < b.p[0]);
            a.p++, b.p++;
        } else {
            uint8_t ea[2] = {GV_ETF_SMALL_INTEGER, a.p[0]};
            uint8_t eb[2] = {GV_ETF_SMALL_INTEGER, b.p[0]};
            const uint8_t *xa = a.bytes ? ea : a.p;
            const uint8_t *xb = b.bytes ? eb : b.p;
            c = gv_etf_compare(xa, xb, mko);
            a.p = a.bytes ? a.p + 1 : gv_etf_skip(a.p);
            b.p = b.bytes ? b.p + 1 : gv_etf_skip(b.p);
        }
        if (c)
            return c;
        a.left--, b.left--;
    }
    /* One side has run out of elements: what is left of the other is a
     * non-empty list, compared with this side's tail (NIL, or the term
     * ending an improper list; never a list in canonical bytes). */
    const uint8_t *ta = a.bytes ? s_nil : a.p;
    const uint8_t *tb = b.bytes ? s_nil : b.p;
    if (a.left)
        return s_class(tb[0]) > C_LIST ? -1 : 1;
    if (b.left)
        return s_class(ta[0]) > C_LIST ? 1 : -1;
    return gv_etf_compare(ta, tb, mko);
}

/* ---- pids and references ------------------------------------------------ */

/* Pids order by serial, id, node name, creation (what OTP 25 does). */
static int s_cmp_pid(const uint8_t *pa, const uint8_t *pb)
{
    const uint8_t *ea, *eb;
    int node = s_cmp_atom_at(pa + 1, pb + 1, &ea, &eb);
    int c = s_cmp_u(gv_get32(ea + 4), gv_get32(eb + 4));
    if (!c)
        c = s_cmp_u(gv_get32(ea), gv_get32(eb));
    if (!c)
        c = node;
    if (!c)
        c = s_cmp_u(gv_get32(ea + 8), gv_get32(eb + 8));
    return c;
}

/* References order by node name, creation, then their words as one number
 * whose last word is the most significant (shorter ones zero-extended). */
static int s_cmp_ref(const uint8_t *pa, const uint8_t *pb)
{
    const uint8_t *ea, *eb;
    int c = s_cmp_atom_at(pa + 3, pb + 3, &ea, &eb);
    if (c)
        return c;
    c = s_cmp_u(gv_get32(ea), gv_get32(eb));
    if (c)
        return c;
    uint32_t na = gv_get16(pa + 1), nb = gv_get16(pb + 1);
    for (uint32_t i = (na > nb ? na : nb); i-- > 0;) {
        uint32_t wa = i < na ? gv_get32(ea + 4 + 4 * i) : 0;
        uint32_t wb = i < nb ? gv_get32(eb + 4 + 4 * i) : 0;
        if (wa != wb)
            return wa < wb ? -1 : 1;
    }
    return 0;
}

/* ---- the whole order ------------------------------------------------------ */

int gv_etf_compare(const uint8_t *a, const uint8_t *b, bool map_key_order)
{
    int ca = s_class(a[0]), cb = s_class(b[0]);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    switch (ca) {
    case C_NUMBER:
        return s_cmp_num(a, b, map_key_order);
    case C_ATOM: {
        const uint8_t *ea, *eb;
        return s_cmp_atom_at(a, b, &ea, &eb);
    }
    case C_REF:
        return s_cmp_ref(a, b);
    case C_PID:
        return s_cmp_pid(a, b);
    case C_TUPLE: {
        uint32_t na = a[0] == GV_ETF_SMALL_TUPLE ? a[1] : gv_get32(a + 1);
        uint32_t nb = b[0] == GV_ETF_SMALL_TUPLE ? b[1] : gv_get32(b + 1);
        if (na != nb)
            return na < nb ? -1 : 1;
        a += a[0] == GV_ETF_SMALL_TUPLE ? 2 : 5;
        b += b[0] == GV_ETF_SMALL_TUPLE ? 2 : 5;
        for (uint32_t i = 0; i < na; i++) {
            int c = gv_etf_compare(a, b, map_key_order);
            if (c)
                return c;
            a = gv_etf_skip(a), b = gv_etf_skip(b);
        }
        return 0;
    }
    case C_MAP: {
        /* By size, then keys in order, then values in key order. Keys of
         * canonical maps are sorted, so both walks go in key order. */
        uint32_t n = gv_get32(a + 1), nb = gv_get32(b + 1);
        if (n != nb)
            return n < nb ? -1 : 1;
        const uint8_t *ka = a + 5, *kb = b + 5;
        for (uint32_t i = 0; i < n; i++) {
            int c = gv_etf_compare(ka, kb, true);
            if (c)
                return c;
            ka = gv_etf_skip(gv_etf_skip(ka)), kb = gv_etf_skip(gv_etf_skip(kb));
        }
        ka = a + 5, kb = b + 5;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *va = gv_etf_skip(ka), *vb = gv_etf_skip(kb);
            int c = gv_etf_compare(va, vb, map_key_order);
            if (c)
                return c;
            ka = gv_etf_skip(va), kb = gv_etf_skip(vb);
        }
        return 0;
    }
    case C_NIL:
        return 0;
    case C_LIST:
        return s_cmp_list(a, b, map_key_order);
    default: {
        uint32_t na = gv_get32(a + 1), nb = gv_get32(b + 1);
        int c = memcmp(a + 5, b + 5, na < nb ? na : nb);
        return c ? (c < 0 ? -1 : 1) : s_cmp_u(na, nb);
    }
    }
}

bool gv_etf_equal(const uint8_t *a, const uint8_t *b)
{
    return gv_etf_compare(a, b, true) == 0;
}
