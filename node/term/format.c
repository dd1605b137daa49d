/*
 * format.c - compiling formats, the per-thread cache, and packing with a
 * compiled format. Matching with one is in match.c, next to the captures.
 */
#include "node/term/format.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "base/gv_image.h"
#include "node/term/nodename.h"
#include "node/term/syntax.h"

/* ---- compiling ------------------------------------------------------------- */

typedef struct fmt_build {
    gv_fmt_op *ops;
    uint32_t nops, cap;
    uint8_t *bytes;
    uint32_t nbytes, bcap;
    bool skips;
    bool maps;
} fmt_build;

static uint32_t s_add_bytes(fmt_build *b, const uint8_t *p, size_t n)
{
    if (b->nbytes + n > b->bcap) {
        while (b->nbytes + n > b->bcap)
            b->bcap = b->bcap ? 2 * b->bcap : 64;
        b->bytes = gv_realloc(b->bytes, b->bcap);
    }
    uint32_t off = b->nbytes;
    memcpy(b->bytes + off, p, n);
    b->nbytes += (uint32_t)n;
    return off;
}

static uint32_t s_add_op(fmt_build *b, gv_fmt_op op)
{
    if (b->nops == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->ops = gv_realloc(b->ops, b->cap * sizeof *b->ops);
    }
    b->ops[b->nops] = op;
    return b->nops++;
}

/* One value of the format; false when it has no compiled form (or is
 * malformed: the general path then reports the error). */
static bool s_compile(gv_syntax *s, fmt_build *b, uint16_t nest, uint32_t *depth)
{
    gv_tok *t = &s->tok;
    *depth = 0;
    if (nest >= GROVE_TERM_MAX_DEPTH)
        return false;
    if (t->kind == GV_TOK_HOLE) {
        s_add_op(b, (gv_fmt_op){.kind = GV_FMT_HOLE, .hole = t->hole, .nest = nest});
        return gv_syntax_next(s);
    }
    if (t->kind == GV_TOK_SKIP) {
        b->skips = true;
        s_add_op(b, (gv_fmt_op){.kind = GV_FMT_SKIP, .nest = nest});
        return gv_syntax_next(s);
    }
    if (gv_tok_is(s, "{")) {
        /* The header goes first; its arity is known once the children are
         * compiled, so its operation is filled in afterwards. */
        uint32_t head = s_add_op(b, (gv_fmt_op){.kind = GV_FMT_CHUNK, .nest = nest});
        uint32_t arity = 0, deepest = 0;
        if (!gv_syntax_next(s))
            return false;
        while (!gv_tok_is(s, "}")) {
            uint32_t d;
            if (!s_compile(s, b, (uint16_t)(nest + 1), &d))
                return false;
            deepest = d > deepest ? d : deepest;
            arity++;
            if (gv_tok_is(s, ",")) {
                if (!gv_syntax_next(s))
                    return false;
            } else if (!gv_tok_is(s, "}")) {
                return false;
            }
        }
        uint8_t h[5];
        size_t hn;
        if (arity <= 255) {
            h[0] = GV_ETF_SMALL_TUPLE, h[1] = (uint8_t)arity, hn = 2;
        } else {
            h[0] = GV_ETF_LARGE_TUPLE, gv_put32(h + 1, arity), hn = 5;
        }
        b->ops[head].off = s_add_bytes(b, h, hn);
        b->ops[head].len = (uint32_t)hn;
        *depth = deepest + 1;
        return gv_syntax_next(s);
    }
    /* Anything else must be a literal: built once, copied or compared as
     * bytes. Holes inside lists and maps make the builder refuse (their
     * layout depends on the arguments), and float literals are left to
     * the general path, where 0.0 and -0.0 compare equal. */
    gv_etf_writer w;
    gv_w_init(&w);
    bool ok = gv_syntax_build(s, &w) && gv_w_ok(&w) && w.floats == 0;
    if (ok) {
        uint32_t off = s_add_bytes(b, w.buf + 1, w.len - 1);
        s_add_op(b,
                 (gv_fmt_op){
                     .kind = GV_FMT_CHUNK, .nest = nest, .off = off, .len = (uint32_t)(w.len - 1)});
        *depth = w.max_level;
        b->maps |= w.maps > 0;
    }
    gv_w_fini(&w);
    return ok;
}

/* Lays the chunks out in operation order and joins neighbours, so a run
 * of literal bytes is one memcpy or memcmp. */
static gv_fmt *s_finish(fmt_build *b, uint32_t depth)
{
    gv_fmt *f = gv_calloc(1, sizeof *f);
    f->ops = gv_malloc((b->nops ? b->nops : 1) * sizeof *f->ops);
    f->bytes = gv_malloc(b->nbytes ? b->nbytes : 1);
    f->depth = depth;
    f->skips = b->skips;
    f->maps = b->maps;
    f->sized = !b->skips;
    uint32_t at = 0;
    for (uint32_t i = 0; i < b->nops; i++) {
        gv_fmt_op op = b->ops[i];
        if (op.kind == GV_FMT_HOLE) {
            f->nholes++;
            f->sized =
                f->sized && strchr("iluprt", op.hole) != NULL && f->nholes <= GV_FMT_SIZED_HOLES;
        }
        if (op.kind == GV_FMT_CHUNK) {
            memcpy(f->bytes + at, b->bytes + op.off, op.len);
            op.off = at;
            at += op.len;
            gv_fmt_op *prev = f->nops ? &f->ops[f->nops - 1] : NULL;
            if (prev && prev->kind == GV_FMT_CHUNK && prev->off + prev->len == op.off) {
                prev->len += op.len;
                continue;
            }
        }
        f->ops[f->nops++] = op;
    }
    f->nbytes = at;
    return f;
}

static gv_fmt *s_compile_format(const char *fmt)
{
    gv_syntax s;
    gv_syntax_init(&s, fmt, strlen(fmt), GV_MODE_MATCH, NULL);
    fmt_build b = {0};
    uint32_t depth;
    gv_fmt *f = NULL;
    if (gv_syntax_next(&s) && s_compile(&s, &b, 0, &depth) && gv_syntax_expect_end(&s))
        f = s_finish(&b, depth);
    gv_free(b.ops);
    gv_free(b.bytes);
    gv_syntax_fini(&s);
    return f;
}

static void s_fmt_free(gv_fmt *f)
{
    if (f) {
        gv_free(f->ops);
        gv_free(f->bytes);
        gv_free(f);
    }
}

/* ---- the per-thread cache ---------------------------------------------------- */

#define FMT_SETS 128 /* two entries each */

typedef struct fmt_entry {
    const char *key; /* the format's address */
    char *text;      /* its text when compiled */
    gv_fmt *fmt;     /* NULL: no compiled form */
    bool fixed;      /* key lies in the program's read-only image */
} fmt_entry;

typedef struct fmt_cache {
    fmt_entry e[FMT_SETS][2];
} fmt_cache;

static pthread_key_t s_cache_key;
static pthread_once_t s_cache_once = PTHREAD_ONCE_INIT;
static _Thread_local fmt_cache *s_cache;

static void s_entry_clear(fmt_entry *e)
{
    gv_free(e->text);
    s_fmt_free(e->fmt);
    *e = (fmt_entry){0};
}

static void s_cache_free(void *p)
{
    fmt_cache *c = p;
    for (int i = 0; i < FMT_SETS; i++) {
        s_entry_clear(&c->e[i][0]);
        s_entry_clear(&c->e[i][1]);
    }
    gv_free(c);
}

static void s_cache_key_create(void)
{
    /* Frees a thread's cache when the thread ends. */
    if (pthread_key_create(&s_cache_key, s_cache_free) != 0)
        gv_panic("pthread_key_create failed");
}

static fmt_entry *s_set(fmt_cache *c, const char *fmt)
{
    /* Fibonacci hashing spreads nearby string literals over the table. */
    return c->e[(uint64_t)(uintptr_t)fmt * 0x9E3779B97F4A7C15u >> 57];
}

static bool s_hit(const fmt_entry *e, const char *fmt)
{
    /* The address finds the entry, the text proves it: a format rebuilt
     * in place at the same address is compiled again. A literal in the
     * program's read-only image cannot change, so its address is proof
     * enough (most formats are such literals). */
    return e->key == fmt && e->text && (e->fixed || strcmp(e->text, fmt) == 0);
}

/* A miss: compiles fmt into the set's first way; what was there moves to
 * the second, so two formats that share a set are both kept. */
__attribute__((noinline)) static const gv_fmt *s_lookup_miss(const char *fmt)
{
    fmt_cache *c = s_cache;
    if (!c) {
        pthread_once(&s_cache_once, s_cache_key_create);
        c = s_cache = gv_calloc(1, sizeof *c);
        pthread_setspecific(s_cache_key, c);
    }
    fmt_entry *set = s_set(c, fmt);
    if (set[0].key == fmt) { /* changed in place: recompile where it is */
        s_entry_clear(&set[0]);
    } else {
        s_entry_clear(&set[1]);
        set[1] = set[0];
    }
    size_t len = strlen(fmt);
    set[0].key = fmt;
    set[0].fixed = gv_image_is_fixed(fmt, len);
    set[0].text = gv_strndup(fmt, len);
    set[0].fmt = s_compile_format(fmt);
    return set[0].fmt;
}

const gv_fmt *gv_fmt_lookup(const char *fmt)
{
    fmt_cache *c = s_cache;
    if (c) {
        const fmt_entry *set = s_set(c, fmt);
        if (s_hit(&set[0], fmt))
            return set[0].fmt;
        if (s_hit(&set[1], fmt))
            return set[1].fmt;
    }
    return s_lookup_miss(fmt);
}

/* ---- packing ------------------------------------------------------------------- */

/* The bytes of an integer as term_to_binary writes it: SMALL_INTEGER,
 * INTEGER, else SMALL_BIG with the little-endian magnitude (the writer's
 * rule, etf_write.c). */
static size_t s_int_size(bool neg, uint64_t mag)
{
    if (!neg && mag <= 255)
        return 2;
    if (neg ? mag <= (uint64_t)INT32_MAX + 1 : mag <= INT32_MAX)
        return 5;
    size_t n = 0;
    for (; mag; mag >>= 8)
        n++;
    return 3 + n;
}

static uint8_t *s_put_int(uint8_t *p, bool neg, uint64_t mag)
{
    if (!neg && mag <= 255) {
        p[0] = GV_ETF_SMALL_INTEGER;
        p[1] = (uint8_t)mag;
        return p + 2;
    }
    if (neg ? mag <= (uint64_t)INT32_MAX + 1 : mag <= INT32_MAX) {
        p[0] = GV_ETF_INTEGER;
        gv_put32(p + 1, neg ? (uint32_t)(0 - mag) : (uint32_t)mag);
        return p + 5;
    }
    uint8_t n = 0;
    p[0] = GV_ETF_SMALL_BIG;
    p[2] = neg;
    for (; mag; mag >>= 8)
        p[3 + n++] = (uint8_t)mag;
    p[1] = n;
    return p + 3 + n;
}

static void s_split(int64_t v, bool *neg, uint64_t *mag)
{
    *neg = v < 0;
    *mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

#define S_STR_(x) #x
#define S_STR(x) S_STR_(x)

/* One argument of a sized format, read once. */
typedef struct hole_val {
    union {
        struct {
            bool neg;
            uint64_t mag;
        } num;
        grove_pid pid;
        grove_ref ref;
        grove_term *term;
    } v;
    const uint8_t *atom; /* ~p, ~r: the node's atom */
    size_t atom_len;
} hole_val;

/* Packs a format whose holes are all ~i ~l ~u ~p ~r ~t (at most
 * GV_FMT_SIZED_HOLES): the arguments are read once into hole_vals, which
 * give the exact size; then the bytes are written straight into the term,
 * one allocation and no intermediate buffer. A bad argument fails as the
 * writer would (same codes and messages), after taking every argument and
 * freeing every ~t term. */
static grove_term *s_pack_sized(const gv_fmt *f, va_list *ap, grove_term_error *err)
{
    hole_val hv[GV_FMT_SIZED_HOLES];
    size_t size = 1 + (size_t)f->nbytes;
    uint32_t depth = f->depth, k = 0;
    /* The first bad argument (a full grove_term_error is 128 bytes to
     * clear: only on failure). */
    grove_err bad = GROVE_OK;
    const char *why = NULL;
    for (uint32_t i = 0; i < f->nops; i++) {
        const gv_fmt_op *op = &f->ops[i];
        if (op->kind != GV_FMT_HOLE)
            continue;
        hole_val *h = &hv[k++];
        switch (op->hole) {
        case 'i':
            s_split(va_arg(*ap, int), &h->v.num.neg, &h->v.num.mag);
            size += s_int_size(h->v.num.neg, h->v.num.mag);
            break;
        case 'l':
            s_split(va_arg(*ap, int64_t), &h->v.num.neg, &h->v.num.mag);
            size += s_int_size(h->v.num.neg, h->v.num.mag);
            break;
        case 'u':
            h->v.num.neg = false;
            h->v.num.mag = va_arg(*ap, uint64_t);
            size += s_int_size(false, h->v.num.mag);
            break;
        case 'p':
            h->v.pid = va_arg(*ap, grove_pid);
            h->atom = gv_nodename_atom(h->v.pid.node, &h->atom_len);
            if (!h->atom && !bad)
                bad = GROVE_EINVAL, why = "pid of no node";
            size += 1 + h->atom_len + 12;
            break;
        case 'r':
            h->v.ref = va_arg(*ap, grove_ref);
            h->atom = gv_nodename_atom(h->v.ref.node, &h->atom_len);
            if (!h->atom && !bad)
                bad = GROVE_EINVAL, why = "reference of no node";
            if (h->v.ref.len > GROVE_REF_MAX_WORDS && !bad)
                bad = GROVE_ERANGE, why = "a reference has at most 5 words";
            size += 3 + h->atom_len + 4 + 4 * (size_t)h->v.ref.len;
            break;
        default: { /* 't' */
            grove_term *t = h->v.term = va_arg(*ap, grove_term *);
            if (!t) {
                if (!bad)
                    bad = GROVE_EINVAL, why = "NULL term";
                break;
            }
            if (op->nest + t->depth > GROVE_TERM_MAX_DEPTH && !bad)
                bad = GROVE_ERANGE, why = "nesting deeper than " S_STR(GROVE_TERM_MAX_DEPTH);
            size += t->size - 1;
            depth = op->nest + t->depth > depth ? op->nest + t->depth : depth;
            break;
        }
        }
    }
    if (bad) {
        k = 0;
        for (uint32_t i = 0; i < f->nops; i++)
            if (f->ops[i].kind == GV_FMT_HOLE && f->ops[i].hole == 't')
                grove_term_destroy(&hv[k++].v.term);
            else if (f->ops[i].kind == GV_FMT_HOLE)
                k++;
        if (err) {
            err->code = bad;
            err->offset = 0;
            snprintf(err->message, sizeof err->message, "%s", why);
        }
        return NULL;
    }

    grove_term *term = gv_term_alloc(size, depth);
    uint8_t *p = term->data + 1;
    k = 0;
    for (uint32_t i = 0; i < f->nops; i++) {
        const gv_fmt_op *op = &f->ops[i];
        if (op->kind == GV_FMT_CHUNK) {
            memcpy(p, f->bytes + op->off, op->len);
            p += op->len;
            continue;
        }
        hole_val *h = &hv[k++];
        switch (op->hole) {
        case 'i':
        case 'l':
        case 'u':
            p = s_put_int(p, h->v.num.neg, h->v.num.mag);
            break;
        case 'p':
            *p++ = GV_ETF_NEW_PID;
            memcpy(p, h->atom, h->atom_len);
            p += h->atom_len;
            gv_put32(p, h->v.pid.id);
            gv_put32(p + 4, h->v.pid.serial);
            gv_put32(p + 8, h->v.pid.creation);
            p += 12;
            break;
        case 'r':
            p[0] = GV_ETF_NEWER_REFERENCE;
            gv_put16(p + 1, (uint16_t)h->v.ref.len);
            memcpy(p + 3, h->atom, h->atom_len);
            p += 3 + h->atom_len;
            gv_put32(p, h->v.ref.creation);
            for (uint32_t w = 0; w < h->v.ref.len; w++)
                gv_put32(p + 4 + 4 * w, h->v.ref.id[w]);
            p += 4 + 4 * (size_t)h->v.ref.len;
            break;
        default: /* 't' */
            memcpy(p, h->v.term->data + 1, h->v.term->size - 1);
            p += h->v.term->size - 1;
            grove_term_destroy(&h->v.term);
            break;
        }
    }
    if ((size_t)(p - term->data) != size)
        gv_panic("packed %zu bytes into a term of %zu", (size_t)(p - term->data), size);
    return term;
}

/* Any compiled format, through the writer. */
static grove_term *s_pack_general(const gv_fmt *f, va_list *ap, grove_term_error *err)
{
    gv_etf_writer w;
    gv_w_init(&w);
    w.free_form = true;
    uint32_t depth = f->depth;
    for (uint32_t i = 0; i < f->nops; i++) {
        const gv_fmt_op *op = &f->ops[i];
        if (op->kind == GV_FMT_CHUNK) {
            gv_w_append(&w, f->bytes + op->off, op->len);
            continue;
        }
        /* A hole: its arguments are taken even after a failure, so every
         * ~t term is consumed. */
        switch (op->hole) {
        case 'i':
            gv_w_int64(&w, va_arg(*ap, int));
            break;
        case 'l':
            gv_w_int64(&w, va_arg(*ap, int64_t));
            break;
        case 'u':
            gv_w_uint64(&w, va_arg(*ap, uint64_t));
            break;
        case 'f':
            gv_w_float(&w, va_arg(*ap, double));
            break;
        case 'a': {
            const char *a = va_arg(*ap, const char *);
            gv_w_atom_utf8(&w, a, a ? strlen(a) : 0);
            break;
        }
        case 's': {
            const char *p = va_arg(*ap, const char *);
            size_t n = va_arg(*ap, size_t);
            if (!p && n)
                gv_w_fail(&w, GROVE_EINVAL, 0, "NULL string");
            gv_w_bytelist(&w, p, n);
            depth = op->nest + 1u > depth ? op->nest + 1u : depth;
            break;
        }
        case 'b': {
            const void *p = va_arg(*ap, const void *);
            size_t n = va_arg(*ap, size_t);
            if (!p && n)
                gv_w_fail(&w, GROVE_EINVAL, 0, "NULL binary");
            gv_w_binary(&w, p, n);
            break;
        }
        case 'p': {
            grove_pid pid = va_arg(*ap, grove_pid);
            size_t n;
            const uint8_t *node = gv_nodename_atom(pid.node, &n);
            if (!node)
                gv_w_fail(&w, GROVE_EINVAL, 0, "pid of no node");
            gv_w_pid_atom(&w, node, n, pid.id, pid.serial, pid.creation);
            break;
        }
        case 'r': {
            grove_ref ref = va_arg(*ap, grove_ref);
            size_t n;
            const uint8_t *node = gv_nodename_atom(ref.node, &n);
            if (!node)
                gv_w_fail(&w, GROVE_EINVAL, 0, "reference of no node");
            gv_w_ref_atom(&w, node, n, ref.creation, ref.len, ref.id);
            break;
        }
        default: { /* 't' */
            grove_term *t = va_arg(*ap, grove_term *);
            if (!t) {
                gv_w_fail(&w, GROVE_EINVAL, 0, "NULL term");
                break;
            }
            if (op->nest + t->depth > GROVE_TERM_MAX_DEPTH)
                gv_w_fail(&w, GROVE_ERANGE, 0, "nesting deeper than %d", GROVE_TERM_MAX_DEPTH);
            if (gv_w_ok(&w))
                gv_w_append(&w, t->data + 1, t->size - 1);
            depth = op->nest + t->depth > depth ? op->nest + t->depth : depth;
            grove_term_destroy(&t);
            break;
        }
        }
    }
    grove_term *t = NULL;
    if (gv_w_ok(&w))
        t = gv_term_from_canonical(w.buf, w.len, depth);
    else if (err)
        *err = w.err;
    gv_w_fini(&w);
    return t;
}

grove_term *gv_fmt_pack(const gv_fmt *f, va_list *ap, grove_term_error *err)
{
    if (f->nholes == 0) /* a literal: its bytes are the term */
        return gv_term_from_body(f->bytes, f->nbytes, f->depth);
    if (f->sized)
        return s_pack_sized(f, ap, err);
    return s_pack_general(f, ap, err);
}
