/*
 * match.c - grove_match: a pattern in term syntax against a term.
 *
 * The pattern is parsed while the term is walked. Literals are built with
 * the same builder as grove_pack and compared as canonical bytes; tuples,
 * lists and maps are matched structurally so placeholders can sit inside.
 * Captures are collected first and written only once the whole pattern has
 * matched, so a failed match writes through no capture.
 */
#include <stddef.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "node/term/format.h"
#include "node/term/nodename.h"
#include "node/term/syntax.h"

typedef struct capture {
    char hole;
    void *dst;
    void *dst2;         /* ~s, ~b: the length; ~a: the buffer size */
    const uint8_t *src; /* the matched subterm (~t) or bytes (~s, ~b, ~a) */
    size_t len;
    bool latin1;
    union {
        int64_t i;
        uint64_t u;
        double f;
        grove_pid pid;
        grove_ref ref;
    } v;
} capture;

typedef struct mctx {
    gv_syntax s;
    va_list *ap;
    capture *caps;
    size_t ncaps, capcap;
    void **tmp; /* bytes made during the match, freed at its end */
    size_t ntmp, tmpcap;
    capture inline_caps[8];
} mctx;

static capture *s_capture(mctx *m, char hole)
{
    if (m->ncaps == m->capcap) {
        size_t cap = 2 * m->capcap;
        capture *caps = gv_malloc(cap * sizeof *caps);
        memcpy(caps, m->caps, m->ncaps * sizeof *caps);
        if (m->caps != m->inline_caps)
            gv_free(m->caps);
        m->caps = caps;
        m->capcap = cap;
    }
    capture *c = &m->caps[m->ncaps++];
    /* Every case of s_hole sets what s_commit reads for its kind. */
    c->hole = hole;
    c->dst2 = NULL;
    return c;
}

static uint8_t *s_tmp(mctx *m, size_t size)
{
    if (m->ntmp == m->tmpcap) {
        m->tmpcap = m->tmpcap ? 2 * m->tmpcap : 4;
        m->tmp = gv_realloc(m->tmp, m->tmpcap * sizeof *m->tmp);
    }
    uint8_t *p = gv_malloc(size);
    m->tmp[m->ntmp++] = p;
    return p;
}

/* Reads an integer subterm: sign and magnitude, when it fits 64 bits. */
static bool s_int64(const uint8_t *t, bool *neg, uint64_t *mag)
{
    switch (t[0]) {
    case GV_ETF_SMALL_INTEGER:
        *neg = false, *mag = t[1];
        return true;
    case GV_ETF_INTEGER: {
        int32_t v = (int32_t)gv_get32(t + 1);
        *neg = v < 0, *mag = v < 0 ? (uint64_t)0 - (uint64_t)(int64_t)v : (uint64_t)v;
        return true;
    }
    case GV_ETF_SMALL_BIG:
        if (t[1] > 8)
            return false;
        *neg = t[2] != 0, *mag = 0;
        for (size_t i = t[1]; i-- > 0;)
            *mag = *mag << 8 | t[3 + i];
        return true;
    default:
        return false;
    }
}

/* Pids are written as two 8-byte words and copied the same way: the
 * caller usually passes a captured pid on by value (two 8-byte loads), and
 * a load that spans several smaller stores cannot be forwarded from them
 * (a stall of a dozen cycles, measured in ping-pong). */
static inline void s_pid_put(grove_pid *dst, grove_nodename node, uint32_t id, uint32_t serial,
                             uint32_t creation)
{
    _Static_assert(sizeof(grove_pid) == 16 && offsetof(grove_pid, id) == 4 &&
                       offsetof(grove_pid, serial) == 8 && offsetof(grove_pid, creation) == 12,
                   "grove_pid is four 32-bit words");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t lo = (uint64_t)node | (uint64_t)id << 32,
             hi = (uint64_t)serial | (uint64_t)creation << 32;
    memcpy(dst, &lo, 8);
    memcpy((char *)dst + 8, &hi, 8);
#else
    *dst = (grove_pid){node, id, serial, creation};
#endif
}

static inline void s_pid_copy(void *dst, const grove_pid *src)
{
    uint64_t lo, hi;
    memcpy(&lo, src, 8);
    memcpy(&hi, (const char *)src + 8, 8);
    __asm__("" : "+r"(lo), "+r"(hi)); /* keeps the compiler from one 16-byte load */
    memcpy(dst, &lo, 8);
    memcpy((char *)dst + 8, &hi, 8);
}

/* A placeholder: checks the kind of t and records the capture. `own`
 * says t lives in the matched term (so ~s and ~b may point into it).
 * Returns the end of t, or NULL when t does not fit the placeholder. */
static const uint8_t *s_hole(mctx *m, char h, const uint8_t *t, bool own)
{
    va_list *ap = m->ap;
    capture *c = s_capture(m, h);
    bool neg;
    uint64_t mag;
    switch (h) {
    case 'i':
        c->dst = va_arg(*ap, int *);
        if (!s_int64(t, &neg, &mag) || (neg ? mag > (uint64_t)INT32_MAX + 1 : mag > INT32_MAX))
            return NULL;
        c->v.i = neg ? -(int64_t)mag : (int64_t)mag;
        return gv_etf_skip(t);
    case 'l':
        c->dst = va_arg(*ap, int64_t *);
        if (!s_int64(t, &neg, &mag) || (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > INT64_MAX))
            return NULL;
        c->v.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        return gv_etf_skip(t);
    case 'u':
        c->dst = va_arg(*ap, uint64_t *);
        if (!s_int64(t, &neg, &mag) || (neg && mag != 0))
            return NULL;
        c->v.u = mag;
        return gv_etf_skip(t);
    case 'f': {
        c->dst = va_arg(*ap, double *);
        if (t[0] != GV_ETF_NEW_FLOAT)
            return NULL;
        uint64_t bits = (uint64_t)gv_get32(t + 1) << 32 | gv_get32(t + 5);
        memcpy(&c->v.f, &bits, sizeof c->v.f);
        return t + 9;
    }
    case 'a': {
        c->dst = va_arg(*ap, char *);
        c->dst2 = (void *)(uintptr_t)va_arg(*ap, size_t);
        if (!(t[0] == GV_ETF_ATOM || t[0] == GV_ETF_SMALL_ATOM || t[0] == GV_ETF_ATOM_UTF8 ||
              t[0] == GV_ETF_SMALL_ATOM_UTF8))
            return NULL;
        const char *text;
        const uint8_t *end = gv_etf_atom(t, &text, &c->len, &c->latin1);
        c->src = (const uint8_t *)text;
        size_t utf8 = c->len;
        if (c->latin1)
            for (size_t i = 0; i < c->len; i++)
                utf8 += c->src[i] >= 0x80;
        return c->dst && utf8 < (size_t)(uintptr_t)c->dst2 ? end : NULL;
    }
    case 's':
        c->dst = va_arg(*ap, const char **);
        c->dst2 = va_arg(*ap, size_t *);
        if (t[0] == GV_ETF_NIL) {
            c->src = (const uint8_t *)"", c->len = 0;
            return t + 1;
        }
        if (t[0] != GV_ETF_STRING || !own)
            return NULL;
        c->src = t + 3, c->len = gv_get16(t + 1);
        return c->src + c->len;
    case 'b':
        c->dst = va_arg(*ap, const void **);
        c->dst2 = va_arg(*ap, size_t *);
        if (t[0] != GV_ETF_BINARY || !own)
            return NULL;
        c->src = t + 5, c->len = gv_get32(t + 1);
        return c->src + c->len;
    case 'p': {
        c->dst = va_arg(*ap, grove_pid *);
        if (t[0] != GV_ETF_NEW_PID)
            return NULL;
        const char *text;
        size_t len;
        bool latin1;
        const uint8_t *q = gv_etf_atom(t + 1, &text, &len, &latin1);
        grove_nodename node;
        if (gv_nodename_lookup(text, len, latin1, &node) != GROVE_OK)
            return NULL;
        s_pid_put(&c->v.pid, node, gv_get32(q), gv_get32(q + 4), gv_get32(q + 8));
        return q + 12;
    }
    case 'r': {
        c->dst = va_arg(*ap, grove_ref *);
        if (t[0] != GV_ETF_NEWER_REFERENCE)
            return NULL;
        const char *node;
        size_t len;
        bool latin1;
        uint32_t n = gv_get16(t + 1);
        const uint8_t *q = gv_etf_atom(t + 3, &node, &len, &latin1);
        memset(&c->v.ref, 0, sizeof c->v.ref);
        c->v.ref.creation = gv_get32(q);
        c->v.ref.len = n;
        for (uint32_t i = 0; i < n; i++)
            c->v.ref.id[i] = gv_get32(q + 4 + 4 * i);
        return gv_nodename_lookup(node, len, latin1, &c->v.ref.node) == GROVE_OK ? q + 4 + 4 * n
                                                                                 : NULL;
    }
    default: /* 't' */
        c->dst = va_arg(*ap, grove_term **);
        c->src = t;
        c->len = (size_t)(gv_etf_skip(t) - t);
        return t + c->len;
    }
}

static bool s_value(mctx *m, const uint8_t *t, bool own);

/* A literal: built like grove_pack builds it, compared exactly. */
static bool s_literal(mctx *m, const uint8_t *t)
{
    gv_tok *tok = &m->s.tok;
    if (tok->kind == GV_TOK_ATOM) { /* the common literal: no building */
        const char *text;
        size_t len;
        bool latin1;
        if (t[0] != GV_ETF_ATOM && t[0] != GV_ETF_SMALL_ATOM_UTF8 && t[0] != GV_ETF_ATOM_UTF8)
            return false;
        gv_etf_atom(t, &text, &len, &latin1);
        if (gv_etf_atom_cmp(text, len, latin1, tok->text.data, tok->text.len, false) != 0)
            return false;
        return gv_syntax_next(&m->s);
    }
    gv_etf_writer w;
    gv_w_init(&w);
    bool ok = gv_syntax_build(&m->s, &w) && gv_w_ok(&w) && gv_etf_equal(w.buf + 1, t);
    gv_w_fini(&w);
    return ok;
}

static bool s_tuple(mctx *m, const uint8_t *t, bool own)
{
    if (t[0] != GV_ETF_SMALL_TUPLE && t[0] != GV_ETF_LARGE_TUPLE)
        return false;
    uint32_t n = t[0] == GV_ETF_SMALL_TUPLE ? t[1] : gv_get32(t + 1);
    const uint8_t *e = t + (t[0] == GV_ETF_SMALL_TUPLE ? 2 : 5);
    if (!gv_syntax_next(&m->s))
        return false;
    uint32_t k = 0;
    if (!gv_tok_is(&m->s, "}")) {
        for (;;) {
            if (k == n || !s_value(m, e, own))
                return false;
            e = gv_etf_skip(e), k++;
            if (gv_tok_is(&m->s, "}"))
                break;
            if (!gv_tok_is(&m->s, ",") || !gv_syntax_next(&m->s))
                return false;
        }
    }
    return k == n && gv_syntax_next(&m->s);
}

static bool s_map(mctx *m, const uint8_t *t, bool own)
{
    if (t[0] != GV_ETF_MAP || !gv_syntax_next(&m->s))
        return false;
    uint32_t n = gv_get32(t + 1);
    if (!gv_tok_is(&m->s, "}")) {
        for (;;) {
            gv_etf_writer w;
            gv_w_init(&w);
            const uint8_t *value = NULL;
            if (gv_syntax_build(&m->s, &w) && gv_w_ok(&w)) {
                const uint8_t *k = t + 5;
                for (uint32_t i = 0; i < n && !value; i++) {
                    const uint8_t *v = gv_etf_skip(k);
                    if (gv_etf_equal(k, w.buf + 1))
                        value = v;
                    k = gv_etf_skip(v);
                }
            }
            gv_w_fini(&w);
            if (!value || !gv_tok_is(&m->s, "=>") || !gv_syntax_next(&m->s) ||
                !s_value(m, value, own))
                return false;
            if (gv_tok_is(&m->s, "}"))
                break;
            if (!gv_tok_is(&m->s, ",") || !gv_syntax_next(&m->s))
                return false;
        }
    }
    return gv_syntax_next(&m->s);
}

/* A position in a list: the next element, how many are left, and the
 * tail that follows them. Byte strings yield small integers. */
typedef struct lcur {
    const uint8_t *p;
    uint32_t left;
    bool bytes;
} lcur;

static const uint8_t s_nil[1] = {GV_ETF_NIL};

static const uint8_t *s_lcur_tail(const lcur *c)
{
    return c->bytes ? s_nil : c->p; /* valid once left == 0 */
}

/* The rest of a list from the cursor on, as canonical bytes. Byte string
 * suffixes and tails are the term's own bytes; other rests are rebuilt. */
static const uint8_t *s_lcur_rest(mctx *m, const lcur *c, bool *own)
{
    if (c->left == 0) {
        *own = !c->bytes;
        return s_lcur_tail(c);
    }
    *own = false;
    if (c->bytes) {
        uint8_t *b = s_tmp(m, 3 + c->left);
        b[0] = GV_ETF_STRING;
        gv_put16(b + 1, (uint16_t)c->left);
        memcpy(b + 3, c->p, c->left);
        return b;
    }
    gv_etf_writer w;
    gv_w_init(&w);
    gv_w_begin(&w, GV_KIND_LIST);
    const uint8_t *p = c->p;
    for (uint32_t i = 0; i < c->left; i++) {
        const uint8_t *e = gv_etf_skip(p);
        gv_w_raw(&w, p, (size_t)(e - p), gv_etf_depth(p));
        p = e;
    }
    if (p[0] != GV_ETF_NIL) {
        gv_w_tail(&w);
        gv_w_raw(&w, p, (size_t)(gv_etf_skip(p) - p), gv_etf_depth(p));
    }
    gv_w_end(&w);
    uint8_t *b = s_tmp(m, w.len - 1);
    memcpy(b, w.buf + 1, w.len - 1);
    gv_w_fini(&w);
    return b;
}

/* Matches list elements from after '[' (or after "| [") to ']'. */
static bool s_list_body(mctx *m, lcur *c, bool own)
{
    if (!gv_syntax_next(&m->s))
        return false;
    if (gv_tok_is(&m->s, "]"))
        return c->left == 0 && s_lcur_tail(c)[0] == GV_ETF_NIL && gv_syntax_next(&m->s);
    for (;;) {
        if (c->left == 0)
            return false;
        const uint8_t *e;
        if (c->bytes) {
            uint8_t *b = s_tmp(m, 2);
            b[0] = GV_ETF_SMALL_INTEGER, b[1] = c->p[0];
            e = b;
            c->p++;
        } else {
            e = c->p;
            c->p = gv_etf_skip(c->p);
        }
        c->left--;
        if (!s_value(m, e, own && !c->bytes))
            return false;
        if (gv_tok_is(&m->s, "]"))
            return c->left == 0 && s_lcur_tail(c)[0] == GV_ETF_NIL && gv_syntax_next(&m->s);
        if (gv_tok_is(&m->s, "|"))
            break;
        if (!gv_tok_is(&m->s, ",") || !gv_syntax_next(&m->s))
            return false;
    }
    /* The tail pattern. */
    if (!gv_syntax_next(&m->s))
        return false;
    bool ok;
    if (gv_tok_is(&m->s, "[")) {
        ok = s_list_body(m, c, own);
    } else if (m->s.tok.kind == GV_TOK_HOLE && m->s.tok.hole == 's' && c->bytes && own) {
        /* A string's suffix: point into the term itself. */
        capture *cap = s_capture(m, 's');
        cap->dst = va_arg(*m->ap, const char **);
        cap->dst2 = va_arg(*m->ap, size_t *);
        cap->src = c->p;
        cap->len = c->left;
        ok = gv_syntax_next(&m->s);
    } else {
        bool rest_own;
        const uint8_t *rest = s_lcur_rest(m, c, &rest_own);
        ok = s_value(m, rest, own && rest_own);
    }
    return ok && gv_tok_is(&m->s, "]") && gv_syntax_next(&m->s);
}

static bool s_list(mctx *m, const uint8_t *t, bool own)
{
    lcur c;
    switch (t[0]) {
    case GV_ETF_NIL:
        c = (lcur){.p = t + 1, .left = 0, .bytes = true};
        break;
    case GV_ETF_STRING:
        c = (lcur){.p = t + 3, .left = gv_get16(t + 1), .bytes = true};
        break;
    case GV_ETF_LIST:
        c = (lcur){.p = t + 5, .left = gv_get32(t + 1), .bytes = false};
        break;
    default:
        return false;
    }
    return s_list_body(m, &c, own);
}

static bool s_value(mctx *m, const uint8_t *t, bool own)
{
    gv_syntax *s = &m->s;
    switch (s->tok.kind) {
    case GV_TOK_SKIP:
        return gv_syntax_next(s);
    case GV_TOK_HOLE:
        return s_hole(m, s->tok.hole, t, own) != NULL && gv_syntax_next(s);
    case GV_TOK_MAP_OPEN:
        return s_map(m, t, own);
    case GV_TOK_PUNCT:
        if (gv_tok_is(s, "{"))
            return s_tuple(m, t, own);
        if (gv_tok_is(s, "["))
            return s_list(m, t, own);
        return false;
    default:
        return s_literal(m, t);
    }
}

/* A compiled pattern: literal bytes compared, holes captured in order. */
static bool s_fast_match(mctx *m, const gv_fmt *f, const grove_term *t)
{
    const uint8_t *p = t->data + 1, *end = t->data + t->size;
    for (uint32_t i = 0; i < f->nops; i++) {
        const gv_fmt_op *op = &f->ops[i];
        if (op->kind == GV_FMT_CHUNK) {
            if ((size_t)(end - p) < op->len || !gv_bytes_equal(p, f->bytes + op->off, op->len))
                return false;
            p += op->len;
            continue;
        }
        /* The chunks so far matched whole headers and terms, so p is at a
         * term's start whenever it is short of the end. */
        if (p >= end)
            return false;
        if (op->kind == GV_FMT_HOLE)
            p = s_hole(m, op->hole, p, true);
        else
            p = gv_etf_skip(p);
        if (!p)
            return false;
    }
    return p == end;
}

static void s_commit(const capture *c)
{
    switch (c->hole) {
    case 'i':
        *(int *)c->dst = (int)c->v.i;
        break;
    case 'l':
        *(int64_t *)c->dst = c->v.i;
        break;
    case 'u':
        *(uint64_t *)c->dst = c->v.u;
        break;
    case 'f':
        *(double *)c->dst = c->v.f;
        break;
    case 'a': {
        char *out = c->dst;
        size_t n = 0;
        for (size_t i = 0; i < c->len; i++) {
            uint8_t b = c->src[i];
            if (c->latin1 && b >= 0x80) {
                out[n++] = (char)(0xC0 | (b >> 6));
                out[n++] = (char)(0x80 | (b & 0x3F));
            } else {
                out[n++] = (char)b;
            }
        }
        out[n] = '\0';
        break;
    }
    case 's':
    case 'b':
        if (c->dst)
            *(const void **)c->dst = c->src;
        if (c->dst2)
            *(size_t *)c->dst2 = c->len;
        break;
    case 'p':
        s_pid_copy(c->dst, &c->v.pid);
        break;
    case 'r':
        *(grove_ref *)c->dst = c->v.ref;
        break;
    default: { /* 't' */
        *(grove_term **)c->dst = gv_term_from_body(c->src, c->len, gv_etf_depth(c->src));
        break;
    }
    }
}

/* Anything but a literal: captures, '_', maps, or no compiled form. Out
 * of line, so that matching a literal does not pay for this frame. */
__attribute__((noinline)) static bool s_vmatch(const grove_term *t, const char *pattern,
                                               const gv_fmt *f, va_list *args)
{
    mctx m;
    m.caps = m.inline_caps;
    m.ncaps = 0;
    m.capcap = sizeof m.inline_caps / sizeof *m.inline_caps;
    m.tmp = NULL;
    m.ntmp = m.tmpcap = 0;
    m.ap = args;
    bool ok;
    if (f && !f->maps) {
        ok = s_fast_match(&m, f, t);
    } else {
        gv_syntax_init(&m.s, pattern, strlen(pattern), GV_MODE_MATCH, args);
        ok = gv_syntax_next(&m.s) && s_value(&m, t->data + 1, true) && gv_syntax_expect_end(&m.s);
        gv_syntax_fini(&m.s);
    }
    if (ok) {
        for (size_t i = 0; i < m.ncaps; i++) {
            if (!m.caps[i].dst) { /* a NULL capture pointer: a misuse */
                ok = m.caps[i].hole == 's' || m.caps[i].hole == 'b';
                if (!ok)
                    break;
            }
        }
    }
    if (ok)
        for (size_t i = 0; i < m.ncaps; i++)
            s_commit(&m.caps[i]);
    for (size_t i = 0; i < m.ntmp; i++)
        gv_free(m.tmp[i]);
    if (m.tmp)
        gv_free(m.tmp);
    if (m.caps != m.inline_caps)
        gv_free(m.caps);
    return ok;
}

/* Takes the arguments through a pointer to the caller's list (see
 * s_vpack in syntax.c: no va_copy on the common path). */
static inline bool s_match(const grove_term *t, const char *pattern, va_list *args)
{
    if (!t || !pattern)
        return false;
    const gv_fmt *f = gv_fmt_lookup(pattern);
    if (f && !f->maps && f->nholes == 0 && !f->skips) {
        /* A literal (`pong`, `{stop, normal}`): one chunk of bytes. Its
         * canonical bytes equal t's exactly when t =:= it (a compiled
         * format holds no float). */
        return t->size - 1 == f->nbytes && gv_bytes_equal(t->data + 1, f->bytes, f->nbytes);
    }
    return s_vmatch(t, pattern, f, args);
}

bool grove_vmatch(const grove_term *t, const char *pattern, va_list ap)
{
    va_list args;
    va_copy(args, ap);
    bool ok = s_match(t, pattern, &args);
    va_end(args);
    return ok;
}

bool grove_match(const grove_term *t, const char *pattern, ...)
{
    va_list ap;
    va_start(ap, pattern);
    bool ok = s_match(t, pattern, &ap);
    va_end(ap);
    return ok;
}
