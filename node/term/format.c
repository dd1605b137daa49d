/*
 * format.c - compiling formats, the per-thread cache, and packing with a
 * compiled format. Matching with one is in match.c, next to the captures.
 */
#include "node/term/format.h"

#include <pthread.h>
#include <string.h>

#include "base/gv_alloc.h"
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
    uint32_t at = 0;
    for (uint32_t i = 0; i < b->nops; i++) {
        gv_fmt_op op = b->ops[i];
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

#define FMT_CACHE 256

typedef struct fmt_entry {
    const char *key; /* the format's address */
    char *text;      /* its text when compiled */
    gv_fmt *fmt;     /* NULL: no compiled form */
} fmt_entry;

typedef struct fmt_cache {
    fmt_entry e[FMT_CACHE];
} fmt_cache;

static pthread_key_t s_cache_key;
static pthread_once_t s_cache_once = PTHREAD_ONCE_INIT;
static _Thread_local fmt_cache *s_cache;

static void s_cache_free(void *p)
{
    fmt_cache *c = p;
    for (int i = 0; i < FMT_CACHE; i++) {
        gv_free(c->e[i].text);
        s_fmt_free(c->e[i].fmt);
    }
    gv_free(c);
}

static void s_cache_key_create(void)
{
    /* Frees a thread's cache when the thread ends. */
    if (pthread_key_create(&s_cache_key, s_cache_free) != 0)
        gv_panic("pthread_key_create failed");
}

const gv_fmt *gv_fmt_lookup(const char *fmt)
{
    fmt_cache *c = s_cache;
    if (!c) {
        pthread_once(&s_cache_once, s_cache_key_create);
        c = s_cache = gv_calloc(1, sizeof *c);
        pthread_setspecific(s_cache_key, c);
    }
    uintptr_t h = (uintptr_t)fmt;
    /* Fibonacci hashing spreads nearby string literals over the table. */
    fmt_entry *e = &c->e[(uint64_t)h * 0x9E3779B97F4A7C15u >> 56];
    if (e->key == fmt && e->text && strcmp(e->text, fmt) == 0)
        return e->fmt;
    gv_free(e->text);
    s_fmt_free(e->fmt);
    e->key = fmt;
    e->text = gv_strndup(fmt, strlen(fmt));
    e->fmt = s_compile_format(fmt);
    return e->fmt;
}

/* ---- packing ------------------------------------------------------------------- */

grove_term *gv_fmt_pack(const gv_fmt *f, va_list *ap, grove_term_error *err)
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
            const char *node = grove_nodename_str(pid.node);
            if (!*node)
                gv_w_fail(&w, GROVE_EINVAL, 0, "pid of no node");
            gv_w_pid(&w, node, strlen(node), false, pid.id, pid.serial, pid.creation);
            break;
        }
        case 'r': {
            grove_ref ref = va_arg(*ap, grove_ref);
            const char *node = grove_nodename_str(ref.node);
            if (!*node)
                gv_w_fail(&w, GROVE_EINVAL, 0, "reference of no node");
            gv_w_ref(&w, node, strlen(node), false, ref.creation, ref.len, ref.id);
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
