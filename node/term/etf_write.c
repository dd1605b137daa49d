/*
 * etf_write.c - the writer: values in, canonical ETF bytes out.
 *
 * Containers are opened with a five-byte placeholder header because their
 * size is known only when they close; closing writes the real header and
 * shifts the body down when the header is shorter (a small tuple, a byte
 * string). Small terms are built in an inline buffer on the caller's
 * stack, so packing a message allocates only the term itself.
 */
#include "node/term/etf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "base/gv_utf8.h"

void gv_w_init(gv_etf_writer *w)
{
    w->buf = w->inline_buf;
    w->cap = sizeof w->inline_buf;
    w->buf[0] = GV_ETF_VERSION;
    w->len = 1;
    w->frames = w->inline_frames;
    w->frame_cap = GV_ETF_INLINE_FRAMES;
    w->depth = 0;
    w->max_level = 0;
    w->floats = 0;
    w->maps = 0;
    w->free_form = false;
    w->err.code = GROVE_OK;
    w->err.offset = 0;
    w->err.message[0] = '\0';
}

void gv_w_fini(gv_etf_writer *w)
{
    if (w->buf != w->inline_buf)
        gv_free(w->buf);
    if (w->frames != w->inline_frames)
        gv_free(w->frames);
    w->buf = w->inline_buf;
    w->frames = w->inline_frames;
    w->len = 1;
    w->depth = 0;
}

bool gv_w_fail(gv_etf_writer *w, grove_err code, size_t offset, const char *fmt, ...)
{
    if (w->err.code != GROVE_OK)
        return false;
    w->err.code = code;
    w->err.offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err.message, sizeof w->err.message, fmt, ap);
    va_end(ap);
    return false;
}

static uint8_t *s_reserve(gv_etf_writer *w, size_t n)
{
    if (n > SIZE_MAX / 2 - w->len)
        gv_panic("term too large");
    if (w->len + n > w->cap) {
        size_t cap = w->cap * 2;
        while (cap < w->len + n)
            cap *= 2;
        if (w->buf == w->inline_buf) {
            w->buf = gv_malloc(cap);
            memcpy(w->buf, w->inline_buf, w->len);
        } else {
            w->buf = gv_realloc(w->buf, cap);
        }
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

/* Accounts for one more value in the innermost container. */
static bool s_value(gv_etf_writer *w)
{
    if (!gv_w_ok(w))
        return false;
    if (w->free_form)
        return true;
    if (w->depth == 0) {
        if (w->len > 1)
            return gv_w_fail(w, GROVE_EINVAL, 0, "more than one term");
        return true;
    }
    gv_etf_frame *f = &w->frames[w->depth - 1];
    if (f->tail_at)
        return gv_w_fail(w, GROVE_EINVAL, 0, "a value after a list's tail");
    if (f->want_tail) {
        f->want_tail = false;
        f->tail_at = w->len;
        return true;
    }
    if (f->count == UINT32_MAX)
        return gv_w_fail(w, GROVE_ERANGE, 0, "too many elements");
    f->count++;
    return true;
}

/* A list, tuple or map (or `extra` levels of a raw term) written inside
 * the open containers: is it still within GROVE_TERM_MAX_DEPTH? */
static bool s_level(gv_etf_writer *w, uint32_t extra)
{
    uint32_t level = w->depth + extra;
    if (level > GROVE_TERM_MAX_DEPTH)
        return gv_w_fail(w, GROVE_ERANGE, 0, "nesting deeper than %d", GROVE_TERM_MAX_DEPTH);
    if (level > w->max_level)
        w->max_level = level;
    return true;
}

static void s_put_atom_latin1(gv_etf_writer *w, const uint8_t *text, size_t len)
{
    uint8_t *p = s_reserve(w, 3 + len);
    p[0] = GV_ETF_ATOM;
    gv_put16(p + 1, (uint16_t)len);
    memcpy(p + 3, text, len);
}

/* Writes an atom given as UTF-8 the way OTP 25 does: ATOM_EXT when every
 * character is Latin-1, else SMALL_ATOM_UTF8_EXT (or ATOM_UTF8_EXT past
 * 255 bytes). */
static bool s_put_atom_utf8(gv_etf_writer *w, const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t ascii = 0;
    while (ascii < len && s[ascii] < 0x80)
        ascii++;
    if (ascii == len && len <= GROVE_ATOM_MAX_CHARS) { /* the common case */
        s_put_atom_latin1(w, s, len);
        return true;
    }
    size_t chars = 0;
    bool latin1 = true;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = gv_utf8_next(s + i, len - i, &cp);
        if (k == 0)
            return gv_w_fail(w, GROVE_EINVAL, i, "atom is not valid UTF-8");
        if (cp > 0xFF)
            latin1 = false;
        i += k, chars++;
    }
    if (chars > GROVE_ATOM_MAX_CHARS)
        return gv_w_fail(w, GROVE_ERANGE, 0, "atom longer than 255 characters");
    if (latin1) {
        uint8_t *p = s_reserve(w, 3 + chars);
        p[0] = GV_ETF_ATOM;
        gv_put16(p + 1, (uint16_t)chars);
        p += 3;
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            i += gv_utf8_next(s + i, len - i, &cp);
            *p++ = (uint8_t)cp;
        }
    } else if (len <= 255) {
        uint8_t *p = s_reserve(w, 2 + len);
        p[0] = GV_ETF_SMALL_ATOM_UTF8;
        p[1] = (uint8_t)len;
        memcpy(p + 2, s, len);
    } else {
        uint8_t *p = s_reserve(w, 3 + len);
        p[0] = GV_ETF_ATOM_UTF8;
        gv_put16(p + 1, (uint16_t)len);
        memcpy(p + 3, s, len);
    }
    return true;
}

static bool s_put_atom(gv_etf_writer *w, const char *text, size_t len, bool latin1)
{
    if (!latin1)
        return s_put_atom_utf8(w, text, len);
    if (len > GROVE_ATOM_MAX_CHARS)
        return gv_w_fail(w, GROVE_ERANGE, 0, "atom longer than 255 characters");
    s_put_atom_latin1(w, (const uint8_t *)text, len);
    return true;
}

bool gv_w_atom_utf8(gv_etf_writer *w, const char *text, size_t len)
{
    if (!text)
        return gv_w_fail(w, GROVE_EINVAL, 0, "NULL atom");
    return s_value(w) && s_put_atom_utf8(w, text, len);
}

bool gv_w_atom_latin1(gv_etf_writer *w, const uint8_t *text, size_t len)
{
    return s_value(w) && s_put_atom(w, (const char *)text, len, true);
}

static void s_put_int(gv_etf_writer *w, int64_t v)
{
    if (v >= 0 && v <= 255) {
        uint8_t *p = s_reserve(w, 2);
        p[0] = GV_ETF_SMALL_INTEGER;
        p[1] = (uint8_t)v;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        uint8_t *p = s_reserve(w, 5);
        p[0] = GV_ETF_INTEGER;
        gv_put32(p + 1, (uint32_t)(int32_t)v);
    } else {
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        uint8_t digits[8];
        size_t n = 0;
        while (mag) {
            digits[n++] = (uint8_t)mag;
            mag >>= 8;
        }
        uint8_t *p = s_reserve(w, 3 + n);
        p[0] = GV_ETF_SMALL_BIG;
        p[1] = (uint8_t)n;
        p[2] = v < 0;
        memcpy(p + 3, digits, n);
    }
}

bool gv_w_int64(gv_etf_writer *w, int64_t v)
{
    if (!s_value(w))
        return false;
    s_put_int(w, v);
    return true;
}

bool gv_w_uint64(gv_etf_writer *w, uint64_t v)
{
    if (v <= INT64_MAX)
        return gv_w_int64(w, (int64_t)v);
    uint8_t mag[8];
    for (int i = 0; i < 8; i++)
        mag[i] = (uint8_t)(v >> (8 * i));
    return gv_w_big(w, false, mag, 8);
}

bool gv_w_big(gv_etf_writer *w, bool negative, const uint8_t *mag, size_t n)
{
    while (n > 0 && mag[n - 1] == 0)
        n--;
    if (n <= 4) {
        uint64_t v = 0;
        for (size_t i = n; i-- > 0;)
            v = v << 8 | mag[i];
        if (!negative && v <= INT32_MAX)
            return gv_w_int64(w, (int64_t)v);
        if (negative && v <= (uint64_t)INT32_MAX + 1)
            return gv_w_int64(w, -(int64_t)v);
    }
    if (n > UINT32_MAX)
        return gv_w_fail(w, GROVE_ERANGE, 0, "integer too large");
    if (!s_value(w))
        return false;
    uint8_t *p;
    if (n <= 255) {
        p = s_reserve(w, 3 + n);
        p[0] = GV_ETF_SMALL_BIG;
        p[1] = (uint8_t)n;
        p += 2;
    } else {
        p = s_reserve(w, 6 + n);
        p[0] = GV_ETF_LARGE_BIG;
        gv_put32(p + 1, (uint32_t)n);
        p += 5;
    }
    p[0] = negative;
    memcpy(p + 1, mag, n);
    return true;
}

bool gv_w_float(gv_etf_writer *w, double v)
{
    if (!isfinite(v))
        return gv_w_fail(w, GROVE_EINVAL, 0, "NaN and infinities are not terms");
    if (!s_value(w))
        return false;
    w->floats++;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t *p = s_reserve(w, 9);
    p[0] = GV_ETF_NEW_FLOAT;
    gv_put32(p + 1, (uint32_t)(bits >> 32));
    gv_put32(p + 5, (uint32_t)bits);
    return true;
}

bool gv_w_binary(gv_etf_writer *w, const void *data, size_t size)
{
    if (size > UINT32_MAX)
        return gv_w_fail(w, GROVE_ERANGE, 0, "binary larger than 4 GiB");
    if (!s_value(w))
        return false;
    uint8_t *p = s_reserve(w, 5 + size);
    p[0] = GV_ETF_BINARY;
    gv_put32(p + 1, (uint32_t)size);
    if (size)
        memcpy(p + 5, data, size);
    return true;
}

bool gv_w_bytelist(gv_etf_writer *w, const void *data, size_t size)
{
    if (size > UINT32_MAX)
        return gv_w_fail(w, GROVE_ERANGE, 0, "list too long");
    if (!s_value(w) || !s_level(w, 1))
        return false;
    const uint8_t *s = data;
    if (size == 0) {
        *s_reserve(w, 1) = GV_ETF_NIL;
    } else if (size <= GV_ETF_STRING_MAX) {
        uint8_t *p = s_reserve(w, 3 + size);
        p[0] = GV_ETF_STRING;
        gv_put16(p + 1, (uint16_t)size);
        memcpy(p + 3, s, size);
    } else {
        uint8_t *p = s_reserve(w, 5 + 2 * size + 1);
        p[0] = GV_ETF_LIST;
        gv_put32(p + 1, (uint32_t)size);
        p += 5;
        for (size_t i = 0; i < size; i++) {
            *p++ = GV_ETF_SMALL_INTEGER;
            *p++ = s[i];
        }
        *p = GV_ETF_NIL;
    }
    return true;
}

bool gv_w_pid(gv_etf_writer *w, const char *node, size_t node_len, bool latin1, uint32_t id,
              uint32_t serial, uint32_t creation)
{
    if (!s_value(w))
        return false;
    *s_reserve(w, 1) = GV_ETF_NEW_PID;
    if (!s_put_atom(w, node, node_len, latin1))
        return false;
    uint8_t *p = s_reserve(w, 12);
    gv_put32(p, id);
    gv_put32(p + 4, serial);
    gv_put32(p + 8, creation);
    return true;
}

bool gv_w_ref(gv_etf_writer *w, const char *node, size_t node_len, bool latin1, uint32_t creation,
              uint32_t len, const uint32_t *ids)
{
    if (len > GROVE_REF_MAX_WORDS)
        return gv_w_fail(w, GROVE_ERANGE, 0, "a reference has at most 5 words");
    if (!s_value(w))
        return false;
    uint8_t *p = s_reserve(w, 3);
    p[0] = GV_ETF_NEWER_REFERENCE;
    gv_put16(p + 1, (uint16_t)len);
    if (!s_put_atom(w, node, node_len, latin1))
        return false;
    p = s_reserve(w, 4 + 4 * (size_t)len);
    gv_put32(p, creation);
    for (uint32_t i = 0; i < len; i++)
        gv_put32(p + 4 + 4 * i, ids[i]);
    return true;
}

bool gv_w_pid_atom(gv_etf_writer *w, const uint8_t *atom, size_t atom_len, uint32_t id,
                   uint32_t serial, uint32_t creation)
{
    if (!s_value(w))
        return false;
    uint8_t *p = s_reserve(w, 1 + atom_len + 12);
    p[0] = GV_ETF_NEW_PID;
    memcpy(p + 1, atom, atom_len);
    p += 1 + atom_len;
    gv_put32(p, id);
    gv_put32(p + 4, serial);
    gv_put32(p + 8, creation);
    return true;
}

bool gv_w_ref_atom(gv_etf_writer *w, const uint8_t *atom, size_t atom_len, uint32_t creation,
                   uint32_t len, const uint32_t *ids)
{
    if (len > GROVE_REF_MAX_WORDS)
        return gv_w_fail(w, GROVE_ERANGE, 0, "a reference has at most 5 words");
    if (!s_value(w))
        return false;
    uint8_t *p = s_reserve(w, 3 + atom_len + 4 + 4 * (size_t)len);
    p[0] = GV_ETF_NEWER_REFERENCE;
    gv_put16(p + 1, (uint16_t)len);
    memcpy(p + 3, atom, atom_len);
    p += 3 + atom_len;
    gv_put32(p, creation);
    for (uint32_t i = 0; i < len; i++)
        gv_put32(p + 4 + 4 * i, ids[i]);
    return true;
}

void gv_w_append(gv_etf_writer *w, const uint8_t *bytes, size_t size)
{
    memcpy(s_reserve(w, size), bytes, size);
}

bool gv_w_raw(gv_etf_writer *w, const uint8_t *bytes, size_t size, uint32_t depth)
{
    if (!s_value(w) || !s_level(w, depth))
        return false;
    memcpy(s_reserve(w, size), bytes, size);
    return true;
}

bool gv_w_begin(gv_etf_writer *w, enum gv_etf_kind kind)
{
    if (!s_value(w) || !s_level(w, 1))
        return false;
    if (w->depth == w->frame_cap) {
        uint32_t cap = w->frame_cap * 4;
        gv_etf_frame *frames = gv_malloc(cap * sizeof *frames);
        memcpy(frames, w->frames, w->depth * sizeof *frames);
        if (w->frames != w->inline_frames)
            gv_free(w->frames);
        w->frames = frames;
        w->frame_cap = cap;
    }
    if (kind == GV_KIND_MAP)
        w->maps++;
    gv_etf_frame *f = &w->frames[w->depth++];
    *f = (gv_etf_frame){.start = w->len, .kind = (uint8_t)kind};
    memset(s_reserve(w, 5), 0, 5);
    return true;
}

bool gv_w_tail(gv_etf_writer *w)
{
    if (!gv_w_ok(w))
        return false;
    if (w->depth == 0 || w->frames[w->depth - 1].kind != GV_KIND_LIST)
        return gv_w_fail(w, GROVE_EINVAL, 0, "'|' outside a list");
    gv_etf_frame *f = &w->frames[w->depth - 1];
    if (f->count == 0 || f->want_tail || f->tail_at)
        return gv_w_fail(w, GROVE_EINVAL, 0, "'|' needs elements before it and one tail");
    f->want_tail = true;
    return true;
}

static void s_end_tuple(gv_etf_writer *w, const gv_etf_frame *f)
{
    uint8_t *h = w->buf + f->start;
    if (f->count <= 255) {
        h[0] = GV_ETF_SMALL_TUPLE;
        h[1] = (uint8_t)f->count;
        memmove(h + 2, h + 5, w->len - f->start - 5);
        w->len -= 3;
    } else {
        h[0] = GV_ETF_LARGE_TUPLE;
        gv_put32(h + 1, f->count);
    }
}

/* Splices a list tail into the list being closed: elements of a list tail
 * join the list, a byte-string tail becomes small integers, a NIL tail
 * vanishes. Returns true when the result is a proper list. */
static bool s_splice_tail(gv_etf_writer *w, gv_etf_frame *f)
{
    uint8_t *t = w->buf + f->tail_at;
    switch (t[0]) {
    case GV_ETF_NIL:
        w->len = f->tail_at;
        return true;
    case GV_ETF_STRING: {
        size_t n = gv_get16(t + 1);
        uint8_t *tmp = gv_malloc(n);
        memcpy(tmp, t + 3, n);
        w->len = f->tail_at;
        uint8_t *p = s_reserve(w, 2 * n);
        for (size_t i = 0; i < n; i++) {
            *p++ = GV_ETF_SMALL_INTEGER;
            *p++ = tmp[i];
        }
        gv_free(tmp);
        f->count += (uint32_t)n;
        return true;
    }
    case GV_ETF_LIST: {
        uint32_t n = gv_get32(t + 1);
        memmove(t, t + 5, w->len - f->tail_at - 5);
        w->len -= 5;
        f->count += n;
        const uint8_t *p = w->buf + f->tail_at;
        for (uint32_t i = 0; i < n; i++)
            p = gv_etf_skip(p);
        if (*p == GV_ETF_NIL) {
            w->len--;
            return true;
        }
        return false; /* the spliced list's own improper tail stays */
    }
    default:
        return false;
    }
}

static void s_end_list(gv_etf_writer *w, gv_etf_frame *f)
{
    bool proper = true;
    if (f->tail_at)
        proper = s_splice_tail(w, f);
    uint8_t *h = w->buf + f->start;
    size_t body = w->len - f->start - 5;
    if (proper && f->count == 0) {
        h[0] = GV_ETF_NIL;
        w->len = f->start + 1;
        return;
    }
    if (proper && f->count <= GV_ETF_STRING_MAX && body == 2 * (size_t)f->count) {
        bool bytes = true;
        for (size_t i = 0; i < body && bytes; i += 2)
            bytes = h[5 + i] == GV_ETF_SMALL_INTEGER;
        if (bytes) {
            h[0] = GV_ETF_STRING;
            gv_put16(h + 1, (uint16_t)f->count);
            for (size_t i = 0; i < f->count; i++)
                h[3 + i] = h[5 + 2 * i + 1];
            w->len = f->start + 3 + f->count;
            return;
        }
    }
    h[0] = GV_ETF_LIST;
    gv_put32(h + 1, f->count);
    if (proper)
        *s_reserve(w, 1) = GV_ETF_NIL;
}

typedef struct pair_span {
    const uint8_t *key;
    size_t size; /* key and value together */
} pair_span;

static void s_sort_pairs(pair_span *a, pair_span *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t half = n / 2;
    s_sort_pairs(a, tmp, half);
    s_sort_pairs(a + half, tmp, n - half);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n)
        tmp[k++] = gv_etf_compare(a[j].key, a[i].key, true) < 0 ? a[j++] : a[i++];
    while (i < half)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static bool s_end_map(gv_etf_writer *w, const gv_etf_frame *f)
{
    uint8_t *h = w->buf + f->start;
    uint32_t pairs = f->count / 2;
    if (f->count % 2)
        return gv_w_fail(w, GROVE_EINVAL, 0, "a map key without a value");
    h[0] = GV_ETF_MAP;
    gv_put32(h + 1, pairs);
    if (pairs < 2)
        return true;
    pair_span *spans = gv_malloc(2 * (size_t)pairs * sizeof *spans);
    const uint8_t *p = h + 5;
    for (uint32_t i = 0; i < pairs; i++) {
        const uint8_t *end = gv_etf_skip(gv_etf_skip(p));
        spans[i] = (pair_span){p, (size_t)(end - p)};
        p = end;
    }
    s_sort_pairs(spans, spans + pairs, pairs);
    for (uint32_t i = 1; i < pairs; i++) {
        if (gv_etf_compare(spans[i - 1].key, spans[i].key, true) == 0) {
            gv_free(spans);
            return gv_w_fail(w, GROVE_EINVAL, 0, "duplicate map key");
        }
    }
    size_t body = w->len - f->start - 5;
    uint8_t *sorted = gv_malloc(body);
    size_t at = 0;
    for (uint32_t i = 0; i < pairs; i++) {
        memcpy(sorted + at, spans[i].key, spans[i].size);
        at += spans[i].size;
    }
    memcpy(h + 5, sorted, body);
    gv_free(sorted);
    gv_free(spans);
    return true;
}

bool gv_w_end(gv_etf_writer *w)
{
    if (!gv_w_ok(w))
        return false;
    if (w->depth == 0)
        return gv_w_fail(w, GROVE_EINVAL, 0, "closing a container that is not open");
    gv_etf_frame f = w->frames[--w->depth];
    switch (f.kind) {
    case GV_KIND_TUPLE:
        s_end_tuple(w, &f);
        return true;
    case GV_KIND_LIST:
        if (f.want_tail)
            return gv_w_fail(w, GROVE_EINVAL, 0, "'|' without a tail");
        s_end_list(w, &f);
        return true;
    default:
        return s_end_map(w, &f);
    }
}

grove_term *gv_w_finish(gv_etf_writer *w, grove_term_error *err)
{
    if (gv_w_ok(w) && w->depth != 0)
        gv_w_fail(w, GROVE_EINVAL, 0, "a container is not closed");
    if (gv_w_ok(w) && w->len == 1)
        gv_w_fail(w, GROVE_EINVAL, 0, "no term");
    if (!gv_w_ok(w)) {
        if (err)
            *err = w->err;
        return NULL;
    }
    return gv_term_from_canonical(w->buf, w->len, w->max_level);
}
