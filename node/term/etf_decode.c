/*
 * etf_decode.c - untrusted bytes to a canonical term.
 *
 * Every length is checked against what is left before it is used, and
 * the term is re-written through the writer, so what comes out is the
 * canonical encoding whatever legal encoding came in (any atom tag, a
 * small value in a big, a list of bytes spelled as a list, a list chained
 * through its tails). Lists are walked along their tails in a loop, so only
 * real nesting costs stack, and nesting is bounded.
 */
#include "node/term/etf.h"

#include <math.h>
#include <string.h>

#include "base/gv_utf8.h"

typedef struct dec {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    gv_etf_writer *w;
} dec;

static bool s_fail(dec *d, const uint8_t *at, const char *what)
{
    return gv_w_fail(d->w, GROVE_EDECODE, (size_t)(at - d->start), "%s at byte %zu", what,
                     (size_t)(at - d->start));
}

/* The writer refused something (a duplicate key, too deep a nesting): say
 * where, and call it bad bytes. */
static bool s_refused(dec *d, const uint8_t *at)
{
    grove_term_error *e = &d->w->err;
    if (e->code != GROVE_EDECODE) {
        char what[sizeof e->message];
        memcpy(what, e->message, sizeof what);
        e->code = GROVE_OK;
        return s_fail(d, at, what);
    }
    return false;
}

static bool s_need(dec *d, size_t n, const char *what)
{
    if ((size_t)(d->end - d->p) < n)
        return s_fail(d, d->p, what);
    return true;
}

/* Reads an atom of any tag, checking it: Latin-1 atoms of at most 255
 * bytes, UTF-8 atoms valid and of at most 255 characters. */
static bool s_atom(dec *d, const char **text, size_t *len, bool *latin1)
{
    const uint8_t *at = d->p;
    if (!s_need(d, 2, "truncated atom"))
        return false;
    uint8_t tag = d->p[0];
    size_t n, hdr;
    switch (tag) {
    case GV_ETF_ATOM:
    case GV_ETF_ATOM_UTF8:
        if (!s_need(d, 3, "truncated atom"))
            return false;
        n = gv_get16(d->p + 1), hdr = 3;
        break;
    case GV_ETF_SMALL_ATOM:
    case GV_ETF_SMALL_ATOM_UTF8:
        n = d->p[1], hdr = 2;
        break;
    default:
        return s_fail(d, at, "expected an atom");
    }
    d->p += hdr;
    if (!s_need(d, n, "atom runs past the end"))
        return false;
    *text = (const char *)d->p;
    *len = n;
    *latin1 = tag == GV_ETF_ATOM || tag == GV_ETF_SMALL_ATOM;
    if (*latin1) {
        if (n > GROVE_ATOM_MAX_CHARS)
            return s_fail(d, at, "atom longer than 255 characters");
    } else {
        size_t chars;
        if (!gv_utf8_count(d->p, n, &chars))
            return s_fail(d, at, "atom is not valid UTF-8");
        if (chars > GROVE_ATOM_MAX_CHARS)
            return s_fail(d, at, "atom longer than 255 characters");
    }
    d->p += n;
    return true;
}

static bool s_value(dec *d, unsigned depth);

/* A list and everything chained through its tails, as one list. */
static bool s_list(dec *d, unsigned depth)
{
    if (!gv_w_begin(d->w, GV_KIND_LIST))
        return s_refused(d, d->p);
    for (;;) {
        const uint8_t *at = d->p;
        if (!s_need(d, 1, "truncated list"))
            return false;
        uint8_t tag = d->p[0];
        if (tag == GV_ETF_LIST) {
            if (!s_need(d, 5, "truncated list"))
                return false;
            uint32_t n = gv_get32(d->p + 1);
            d->p += 5;
            if (n > (size_t)(d->end - d->p))
                return s_fail(d, at, "list length runs past the end");
            for (uint32_t i = 0; i < n; i++)
                if (!s_value(d, depth + 1))
                    return false;
            continue; /* on to the tail */
        }
        if (tag == GV_ETF_STRING) {
            if (!s_need(d, 3, "truncated string"))
                return false;
            size_t n = gv_get16(d->p + 1);
            d->p += 3;
            if (!s_need(d, n, "string runs past the end"))
                return false;
            for (size_t i = 0; i < n; i++)
                gv_w_int64(d->w, d->p[i]);
            d->p += n;
            return gv_w_end(d->w);
        }
        if (tag == GV_ETF_NIL) {
            d->p++;
            return gv_w_end(d->w);
        }
        /* An improper tail. */
        if (!gv_w_tail(d->w))
            return s_refused(d, at);
        return s_value(d, depth + 1) && gv_w_end(d->w);
    }
}

static bool s_value(dec *d, unsigned depth)
{
    if (depth > GROVE_TERM_MAX_DEPTH)
        return s_fail(d, d->p, "nesting deeper than 512");
    const uint8_t *at = d->p;
    if (!s_need(d, 1, "truncated term"))
        return false;
    uint8_t tag = *d->p;
    switch (tag) {
    case GV_ETF_SMALL_INTEGER:
        if (!s_need(d, 2, "truncated integer"))
            return false;
        d->p += 2;
        return gv_w_int64(d->w, at[1]);
    case GV_ETF_INTEGER:
        if (!s_need(d, 5, "truncated integer"))
            return false;
        d->p += 5;
        return gv_w_int64(d->w, (int32_t)gv_get32(at + 1));
    case GV_ETF_SMALL_BIG:
    case GV_ETF_LARGE_BIG: {
        size_t hdr = tag == GV_ETF_SMALL_BIG ? 2 : 5;
        if (!s_need(d, hdr + 1, "truncated integer"))
            return false;
        size_t n = tag == GV_ETF_SMALL_BIG ? at[1] : gv_get32(at + 1);
        uint8_t sign = at[hdr];
        d->p += hdr + 1;
        if (sign > 1)
            return s_fail(d, at, "integer sign is neither 0 nor 1");
        if (!s_need(d, n, "integer runs past the end"))
            return false;
        d->p += n;
        return gv_w_big(d->w, sign == 1, at + hdr + 1, n);
    }
    case GV_ETF_NEW_FLOAT: {
        if (!s_need(d, 9, "truncated float"))
            return false;
        uint64_t bits = (uint64_t)gv_get32(at + 1) << 32 | gv_get32(at + 5);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            return s_fail(d, at, "NaN or infinity");
        d->p += 9;
        return gv_w_float(d->w, v);
    }
    case GV_ETF_ATOM:
    case GV_ETF_SMALL_ATOM:
    case GV_ETF_ATOM_UTF8:
    case GV_ETF_SMALL_ATOM_UTF8: {
        const char *text;
        size_t len;
        bool latin1;
        if (!s_atom(d, &text, &len, &latin1))
            return false;
        return latin1 ? gv_w_atom_latin1(d->w, (const uint8_t *)text, len)
                      : gv_w_atom_utf8(d->w, text, len);
    }
    case GV_ETF_SMALL_TUPLE:
    case GV_ETF_LARGE_TUPLE: {
        size_t hdr = tag == GV_ETF_SMALL_TUPLE ? 2 : 5;
        if (!s_need(d, hdr, "truncated tuple"))
            return false;
        uint32_t n = tag == GV_ETF_SMALL_TUPLE ? at[1] : gv_get32(at + 1);
        d->p += hdr;
        if (n > (size_t)(d->end - d->p))
            return s_fail(d, at, "tuple arity runs past the end");
        if (!gv_w_begin(d->w, GV_KIND_TUPLE))
            return s_refused(d, at);
        for (uint32_t i = 0; i < n; i++)
            if (!s_value(d, depth + 1))
                return false;
        return gv_w_end(d->w);
    }
    case GV_ETF_MAP: {
        if (!s_need(d, 5, "truncated map"))
            return false;
        uint32_t n = gv_get32(at + 1);
        d->p += 5;
        if (2 * (uint64_t)n > (size_t)(d->end - d->p))
            return s_fail(d, at, "map size runs past the end");
        if (!gv_w_begin(d->w, GV_KIND_MAP))
            return s_refused(d, at);
        for (uint64_t i = 0; i < 2 * (uint64_t)n; i++)
            if (!s_value(d, depth + 1))
                return false;
        return gv_w_end(d->w) || s_refused(d, at);
    }
    case GV_ETF_NIL:
        d->p++;
        return gv_w_bytelist(d->w, NULL, 0) || s_refused(d, at);
    case GV_ETF_STRING: {
        if (!s_need(d, 3, "truncated string"))
            return false;
        size_t n = gv_get16(at + 1);
        d->p += 3;
        if (!s_need(d, n, "string runs past the end"))
            return false;
        d->p += n;
        return gv_w_bytelist(d->w, at + 3, n) || s_refused(d, at);
    }
    case GV_ETF_LIST:
        return s_list(d, depth);
    case GV_ETF_BINARY: {
        if (!s_need(d, 5, "truncated binary"))
            return false;
        uint32_t n = gv_get32(at + 1);
        d->p += 5;
        if (!s_need(d, n, "binary runs past the end"))
            return false;
        d->p += n;
        return gv_w_binary(d->w, at + 5, n);
    }
    case GV_ETF_BIT_BINARY: {
        if (!s_need(d, 6, "truncated bit string"))
            return false;
        uint32_t n = gv_get32(at + 1);
        if (at[5] != 8 || n == 0)
            return s_fail(d, at, "bit strings that are not whole bytes are not supported");
        d->p += 6;
        if (!s_need(d, n, "bit string runs past the end"))
            return false;
        d->p += n;
        return gv_w_binary(d->w, at + 6, n);
    }
    case GV_ETF_NEW_PID: {
        d->p++;
        const char *node;
        size_t len;
        bool latin1;
        if (!s_atom(d, &node, &len, &latin1) || !s_need(d, 12, "truncated pid"))
            return false;
        const uint8_t *q = d->p;
        d->p += 12;
        return gv_w_pid(d->w, node, len, latin1, gv_get32(q), gv_get32(q + 4), gv_get32(q + 8));
    }
    case GV_ETF_NEWER_REFERENCE: {
        if (!s_need(d, 3, "truncated reference"))
            return false;
        uint32_t n = gv_get16(at + 1);
        if (n > GROVE_REF_MAX_WORDS)
            return s_fail(d, at, "reference longer than 5 words");
        d->p += 3;
        const char *node;
        size_t len;
        bool latin1;
        if (!s_atom(d, &node, &len, &latin1) ||
            !s_need(d, 4 + 4 * (size_t)n, "truncated reference"))
            return false;
        const uint8_t *q = d->p;
        uint32_t ids[GROVE_REF_MAX_WORDS];
        for (uint32_t i = 0; i < n; i++)
            ids[i] = gv_get32(q + 4 + 4 * i);
        d->p += 4 + 4 * (size_t)n;
        return gv_w_ref(d->w, node, len, latin1, gv_get32(q), n, ids);
    }
    case GV_ETF_COMPRESSED:
        return s_fail(d, at, "compressed terms are not supported");
    case GV_ETF_NEW_FUN:
    case GV_ETF_FUN:
    case GV_ETF_EXPORT:
        return s_fail(d, at, "funs are not supported");
    case GV_ETF_PORT:
    case GV_ETF_NEW_PORT:
    case GV_ETF_V4_PORT:
        return s_fail(d, at, "ports are not supported");
    case GV_ETF_PID:
    case GV_ETF_REFERENCE:
    case GV_ETF_NEW_REFERENCE:
    case GV_ETF_FLOAT:
        return s_fail(d, at, "obsolete encoding (pre OTP 23) is not supported");
    default:
        return s_fail(d, at, "unknown tag");
    }
}

grove_err grove_term_decode(const void *buf, size_t len, grove_term **out, grove_term_error *err)
{
    gv_etf_writer w;
    gv_w_init(&w);
    dec d = {.start = buf, .p = buf, .end = (const uint8_t *)buf + len, .w = &w};
    *out = NULL;
    if (!buf || len == 0)
        s_fail(&d, d.p, "empty input");
    else if (d.p[0] != GV_ETF_VERSION)
        s_fail(&d, d.p, "missing version byte 131");
    else if (d.p++, s_value(&d, 0) && d.p != d.end)
        s_fail(&d, d.p, "trailing bytes");
    if (gv_w_ok(&w))
        *out = gv_w_finish(&w, err);
    else if (err)
        *err = w.err;
    grove_err rc = w.err.code;
    if (rc != GROVE_OK && rc != GROVE_EDECODE) { /* any refusal is bad bytes */
        rc = GROVE_EDECODE;
        if (err)
            err->code = rc;
    }
    gv_w_fini(&w);
    return rc;
}
