/*
 * syntax.c - Erlang's term syntax: the lexer, and the builder behind
 * grove_term_parse and grove_pack.
 */
#include "node/term/syntax.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "base/gv_utf8.h"
#include "node/term/format.h"
#include "node/term/nodename.h"

void gv_syntax_init(gv_syntax *s, const char *src, size_t len, gv_syntax_mode mode, va_list *ap)
{
    /* Field by field: the error message and token storage need no
     * clearing, and this runs for every pack and match. */
    s->pos = 0;
    s->tok.kind = GV_TOK_EOF;
    s->tok.at = 0;
    s->tok.hole = 0;
    s->tok.cps = NULL;
    s->tok.ncps = s->tok.cps_cap = 0;
    s->err.code = GROVE_OK;
    s->err.offset = 0;
    s->err.message[0] = '\0';
    s->drained = false;
    s->src = src ? src : "";
    s->len = src ? len : 0;
    s->mode = mode;
    s->ap = ap;
    gv_buf_init_in(&s->tok.text, s->tok.text_storage, sizeof s->tok.text_storage);
}

void gv_syntax_fini(gv_syntax *s)
{
    gv_buf_fini(&s->tok.text);
    gv_free(s->tok.cps);
    s->tok.cps = NULL;
}

bool gv_syntax_fail(gv_syntax *s, size_t at, grove_err code, const char *fmt, ...)
{
    if (s->err.code != GROVE_OK)
        return false;
    s->err.code = code;
    s->err.offset = at;
    char what[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(s->err.message, sizeof s->err.message, "%s at offset %zu", what, at);
    return false;
}

/* ---- the lexer ------------------------------------------------------------ */

static int s_peek(const gv_syntax *s, size_t ahead)
{
    return s->pos + ahead < s->len ? (uint8_t)s->src[s->pos + ahead] : -1;
}

static bool s_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool s_is_alnum(int c)
{
    return s_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads one UTF-8 code point of the source. */
static bool s_read_cp(gv_syntax *s, uint32_t *cp)
{
    size_t k = gv_utf8_next((const uint8_t *)s->src + s->pos, s->len - s->pos, cp);
    if (k == 0)
        return gv_syntax_fail(s, s->pos, GROVE_ESYNTAX, "invalid UTF-8");
    s->pos += k;
    return true;
}

static int s_hex(int c)
{
    if (s_is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads one character of a quoted atom, string or $c, with Erlang's
 * escapes. */
static bool s_read_char(gv_syntax *s, uint32_t *cp)
{
    size_t at = s->pos;
    if (s_peek(s, 0) != '\\')
        return s_read_cp(s, cp);
    s->pos++;
    int c = s_peek(s, 0);
    if (c < 0)
        return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unfinished escape");
    s->pos++;
    switch (c) {
    case 'b':
        *cp = '\b';
        return true;
    case 'd':
        *cp = 127;
        return true;
    case 'e':
        *cp = 27;
        return true;
    case 'f':
        *cp = '\f';
        return true;
    case 'n':
        *cp = '\n';
        return true;
    case 'r':
        *cp = '\r';
        return true;
    case 's':
        *cp = ' ';
        return true;
    case 't':
        *cp = '\t';
        return true;
    case 'v':
        *cp = '\v';
        return true;
    case '^': {
        int k = s_peek(s, 0);
        if (k < 0)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unfinished escape");
        s->pos++;
        *cp = (uint32_t)k & 31;
        return true;
    }
    case 'x': {
        uint32_t v = 0;
        if (s_peek(s, 0) == '{') {
            s->pos++;
            int digits = 0;
            while (s_hex(s_peek(s, 0)) >= 0 && digits < 8) {
                v = v * 16 + (uint32_t)s_hex(s_peek(s, 0));
                s->pos++, digits++;
            }
            if (digits == 0 || s_peek(s, 0) != '}')
                return gv_syntax_fail(s, at, GROVE_ESYNTAX, "bad \\x{...} escape");
            s->pos++;
        } else {
            if (s_hex(s_peek(s, 0)) < 0 || s_hex(s_peek(s, 1)) < 0)
                return gv_syntax_fail(s, at, GROVE_ESYNTAX, "bad \\xHH escape");
            v = (uint32_t)(s_hex(s_peek(s, 0)) * 16 + s_hex(s_peek(s, 1)));
            s->pos += 2;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "escape is not a character");
        *cp = v;
        return true;
    }
    default:
        if (c >= '0' && c <= '7') {
            uint32_t v = (uint32_t)(c - '0');
            for (int i = 0; i < 2 && s_peek(s, 0) >= '0' && s_peek(s, 0) <= '7'; i++)
                v = v * 8 + (uint32_t)(s_peek(s, 0) - '0'), s->pos++;
            *cp = v;
            return true;
        }
        /* Any other escaped character stands for itself, as in Erlang. */
        s->pos--;
        return s_read_cp(s, cp);
    }
}

static void s_push_cp(gv_tok *t, uint32_t cp)
{
    if (t->ncps == t->cps_cap) {
        t->cps_cap = t->cps_cap ? 2 * t->cps_cap : 32;
        t->cps = gv_realloc(t->cps, t->cps_cap * sizeof *t->cps);
    }
    t->cps[t->ncps++] = cp;
}

static bool s_lex_quoted(gv_syntax *s, char quote)
{
    size_t at = s->pos++;
    for (;;) {
        if (s_peek(s, 0) < 0)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unterminated %s",
                                  quote == '"' ? "string" : "quoted atom");
        if (s_peek(s, 0) == quote) {
            s->pos++;
            return true;
        }
        uint32_t cp;
        if (!s_read_char(s, &cp))
            return false;
        if (quote == '"') {
            s_push_cp(&s->tok, cp);
        } else {
            uint8_t u[4];
            gv_buf_put(&s->tok.text, u, gv_utf8_put(cp, u));
        }
    }
}

static bool s_name_char(int c)
{
    return s_is_alnum(c) || c == '_' || c == '@' || c >= 0x80;
}

static const char *const s_reserved[] = {
    "after", "and",  "andalso", "band",   "begin",   "bnot", "bor", "bsl",  "bsr",
    "bxor",  "case", "catch",   "cond",   "div",     "end",  "fun", "if",   "let",
    "not",   "of",   "or",      "orelse", "receive", "rem",  "try", "when", "xor",
};

/* An unquoted atom: a lowercase letter, then letters, digits, _ and @
 * (Latin-1 letters included, as Erlang allows). */
static bool s_lex_name(gv_syntax *s)
{
    size_t at = s->pos;
    bool first = true;
    /* ASCII names, the common case, need no decoding. */
    if (s_peek(s, 0) >= 'a' && s_peek(s, 0) <= 'z') {
        s->pos++;
        first = false;
        while (s->pos < s->len) {
            int c = (uint8_t)s->src[s->pos];
            if (!(s_is_alnum(c) || c == '_' || c == '@'))
                break;
            s->pos++;
        }
    }
    while (s->pos < s->len && s_name_char(s_peek(s, 0))) {
        size_t here = s->pos;
        uint32_t cp;
        if (!s_read_cp(s, &cp))
            return false;
        bool lower = (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF && cp != 0xF7);
        bool ok = first ? lower
                        : lower || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
                              cp == '_' || cp == '@' || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7);
        if (!ok) {
            if (first)
                return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unexpected character");
            s->pos = here;
            break;
        }
        first = false;
    }
    gv_buf_put(&s->tok.text, s->src + at, s->pos - at);
    if (s->tok.text.len <= 7 && strchr("abcdefilnortwx", s->tok.text.data[0]))
        for (size_t k = 0; k < sizeof s_reserved / sizeof *s_reserved; k++)
            if (s_reserved[k][0] == s->tok.text.data[0] &&
                strcmp(s->tok.text.data, s_reserved[k]) == 0)
                return gv_syntax_fail(s, at, GROVE_ESYNTAX, "'%s' is a reserved word: quote it",
                                      s_reserved[k]);
    s->tok.kind = GV_TOK_ATOM;
    return true;
}

/* Digits with optional '_' separators between them. */
static size_t s_lex_digits(gv_syntax *s, unsigned base, gv_buf *out)
{
    size_t n = 0;
    for (;;) {
        int c = s_peek(s, 0);
        int v = s_is_digit(c)            ? c - '0'
                : (c >= 'a' && c <= 'z') ? c - 'a' + 10
                : (c >= 'A' && c <= 'Z') ? c - 'A' + 10
                                         : 99;
        if (v < (int)base) {
            gv_buf_putc(out, (char)c);
            s->pos++, n++;
        } else if (c == '_' && n > 0 && s_is_alnum(s_peek(s, 1))) {
            s->pos++;
        } else {
            return n;
        }
    }
}

static bool s_lex_number(gv_syntax *s)
{
    size_t at = s->pos;
    gv_tok *t = &s->tok;
    t->neg = false;
    if (s_peek(s, 0) == '-' || s_peek(s, 0) == '+') {
        t->neg = s_peek(s, 0) == '-';
        s->pos++;
    }
    t->base = 10;
    s_lex_digits(s, 10, &t->text);
    if (s_peek(s, 0) == '#') {
        /* base#digits */
        unsigned long base = strtoul(t->text.data, NULL, 10);
        if (t->text.len > 2 || base < 2 || base > 36)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "base must be 2..36");
        s->pos++;
        t->text.len = 0;
        t->text.data[0] = '\0';
        if (s_lex_digits(s, (unsigned)base, &t->text) == 0)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "digits expected after '#'");
        t->base = (unsigned)base;
        t->kind = GV_TOK_INT;
        return true;
    }
    if (s_peek(s, 0) == '.' && s_is_digit(s_peek(s, 1))) {
        gv_buf_putc(&t->text, '.');
        s->pos++;
        s_lex_digits(s, 10, &t->text);
        if ((s_peek(s, 0) == 'e' || s_peek(s, 0) == 'E') &&
            (s_is_digit(s_peek(s, 1)) ||
             ((s_peek(s, 1) == '-' || s_peek(s, 1) == '+') && s_is_digit(s_peek(s, 2))))) {
            gv_buf_putc(&t->text, 'e');
            s->pos++;
            if (s_peek(s, 0) == '-' || s_peek(s, 0) == '+')
                gv_buf_putc(&t->text, (char)s_peek(s, 0)), s->pos++;
            s_lex_digits(s, 10, &t->text);
        }
        double v = strtod(t->text.data, NULL);
        if (!isfinite(v))
            return gv_syntax_fail(s, at, GROVE_ERANGE, "float out of range");
        t->f = t->neg ? -v : v;
        t->kind = GV_TOK_FLOAT;
        return true;
    }
    t->kind = GV_TOK_INT;
    return true;
}

static bool s_starts(const gv_syntax *s, const char *p)
{
    size_t n = strlen(p);
    return s->len - s->pos >= n && memcmp(s->src + s->pos, p, n) == 0;
}

static bool s_punct(gv_syntax *s, char a, char b, size_t len)
{
    s->tok.kind = GV_TOK_PUNCT;
    s->tok.punct[0] = a;
    s->tok.punct[1] = b;
    s->tok.punct[2] = '\0';
    s->pos += len;
    return true;
}

bool gv_syntax_next(gv_syntax *s)
{
    gv_tok *t = &s->tok;
    t->text.len = 0;
    t->text.data[0] = '\0';
    t->ncps = 0;
    if (s->err.code != GROVE_OK)
        return false;
    for (;;) { /* white space and % comments */
        int c = s_peek(s, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            s->pos++;
        } else if (c == '%') {
            while (s_peek(s, 0) >= 0 && s_peek(s, 0) != '\n')
                s->pos++;
        } else {
            break;
        }
    }
    t->at = s->pos;
    int c = s_peek(s, 0);
    if (c < 0) {
        t->kind = GV_TOK_EOF;
        return true;
    }
    int c1 = s_peek(s, 1);
    switch (c) {
    case '#':
        if (s_starts(s, "#Pid<") || s_starts(s, "#Ref<")) {
            t->kind = c1 == 'P' ? GV_TOK_PID : GV_TOK_REF;
            s->pos += 5;
            return true;
        }
        if (c1 == '{') {
            t->kind = GV_TOK_MAP_OPEN;
            s->pos += 2;
            return true;
        }
        return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "unexpected '#'");
    case '<':
        if (c1 == '<') {
            t->kind = GV_TOK_BIN_OPEN;
            s->pos += 2;
            return true;
        }
        return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "unexpected '<'");
    case '=':
    case ':':
        if (c1 == (c == '=' ? '>' : '='))
            return s_punct(s, '=', '>', 2);
        return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "unexpected '%c'", c);
    case '>':
        return c1 == '>' ? s_punct(s, '>', '>', 2) : s_punct(s, '>', 0, 1);
    case '{':
    case '}':
    case '[':
    case ']':
    case '|':
    case ',':
    case '.':
    case '/':
        return s_punct(s, (char)c, 0, 1);
    default:
        break;
    }
    if (c == '~') {
        int h = s_peek(s, 1);
        if (s->mode == GV_MODE_PARSE)
            return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "placeholder in plain text");
        if (h < 0 || !strchr("ilufasbprt", h))
            return gv_syntax_fail(s, t->at, GROVE_EINVAL, "unknown placeholder");
        t->kind = GV_TOK_HOLE;
        t->hole = (char)h;
        s->pos += 2;
        return true;
    }
    if (c == '\'') {
        t->kind = GV_TOK_ATOM;
        return s_lex_quoted(s, '\'');
    }
    if (c == '"') {
        /* Adjacent strings join, as in Erlang. */
        t->kind = GV_TOK_STRING;
        for (;;) {
            if (!s_lex_quoted(s, '"'))
                return false;
            size_t save = s->pos;
            while (s_peek(s, 0) == ' ' || s_peek(s, 0) == '\t' || s_peek(s, 0) == '\n' ||
                   s_peek(s, 0) == '\r')
                s->pos++;
            if (s_peek(s, 0) != '"') {
                s->pos = save;
                return true;
            }
        }
    }
    if (c == '$') {
        s->pos++;
        if (s_peek(s, 0) < 0)
            return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "character expected after '$'");
        uint32_t cp;
        if (!s_read_char(s, &cp))
            return false;
        gv_buf_printf(&t->text, "%u", cp);
        t->kind = GV_TOK_INT;
        t->neg = false;
        t->base = 10;
        return true;
    }
    if (s_is_digit(c) || ((c == '-' || c == '+') && s_is_digit(s_peek(s, 1))))
        return s_lex_number(s);
    if (c == '_' && !s_name_char(s_peek(s, 1))) {
        if (s->mode != GV_MODE_MATCH)
            return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "'_' is only for patterns");
        t->kind = GV_TOK_SKIP;
        s->pos++;
        return true;
    }
    if (c == '_' || (c >= 'A' && c <= 'Z'))
        return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "variables are not terms");
    return s_lex_name(s);
}

bool gv_syntax_expect_end(gv_syntax *s)
{
    if (s->err.code != GROVE_OK)
        return false;
    if (gv_tok_is(s, ".") && !gv_syntax_next(s))
        return false;
    if (s->tok.kind != GV_TOK_EOF)
        return gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "unexpected text after the term");
    return true;
}

/* ---- the builder ---------------------------------------------------------- */

/* Carries a writer's refusal over to the syntax error, placed at `at`. */
static bool s_wcheck(gv_syntax *s, gv_etf_writer *w, size_t at)
{
    if (gv_w_ok(w))
        return true;
    grove_err code = w->err.code == GROVE_EINVAL ? GROVE_ESYNTAX : w->err.code;
    if (s->mode == GV_MODE_PACK && code == GROVE_ESYNTAX)
        code = GROVE_EINVAL;
    return gv_syntax_fail(s, at, code, "%s", w->err.message);
}

static bool s_expect(gv_syntax *s, const char *p)
{
    if (!gv_tok_is(s, p))
        return gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "'%s' expected", p);
    return gv_syntax_next(s);
}

static bool s_build_int(gv_syntax *s, gv_etf_writer *w)
{
    gv_tok *t = &s->tok;
    if (t->base == 10 && t->text.len <= 18) {
        int64_t v = strtoll(t->text.data, NULL, 10);
        gv_w_int64(w, t->neg ? -v : v);
    } else {
        uint8_t *mag;
        size_t n;
        if (!gv_big_from_digits(t->text.data, t->text.len, t->base, &mag, &n))
            return gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "bad digits");
        gv_w_big(w, t->neg, mag, n);
        gv_free(mag);
    }
    return s_wcheck(s, w, t->at);
}

static bool s_build_string(gv_syntax *s, gv_etf_writer *w)
{
    gv_tok *t = &s->tok;
    bool bytes = true;
    for (size_t i = 0; i < t->ncps && bytes; i++)
        bytes = t->cps[i] <= 255;
    if (bytes) {
        uint8_t *b = gv_malloc(t->ncps);
        for (size_t i = 0; i < t->ncps; i++)
            b[i] = (uint8_t)t->cps[i];
        gv_w_bytelist(w, b, t->ncps);
        gv_free(b);
    } else {
        gv_w_begin(w, GV_KIND_LIST);
        for (size_t i = 0; i < t->ncps; i++)
            gv_w_int64(w, t->cps[i]);
        gv_w_end(w);
    }
    return s_wcheck(s, w, t->at);
}

/* <<"text", 1, 2, "more"/utf8>> */
static bool s_build_binary(gv_syntax *s, gv_etf_writer *w)
{
    size_t at = s->tok.at;
    gv_buf bytes;
    gv_buf_init(&bytes);
    bool ok = gv_syntax_next(s);
    if (ok && gv_tok_is(s, ">>")) {
        ok = gv_syntax_next(s);
        goto done;
    }
    while (ok) {
        gv_tok *t = &s->tok;
        if (t->kind == GV_TOK_STRING) {
            size_t n = t->ncps;
            uint32_t *cps = gv_malloc((n ? n : 1) * sizeof *cps);
            if (n)
                memcpy(cps, t->cps, n * sizeof *cps);
            size_t seg = t->at;
            ok = gv_syntax_next(s);
            bool utf8 = false;
            if (ok && gv_tok_is(s, "/")) {
                ok = gv_syntax_next(s);
                if (ok && (s->tok.kind != GV_TOK_ATOM || strcmp(s->tok.text.data, "utf8") != 0))
                    ok = gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "only /utf8 is supported");
                ok = ok && gv_syntax_next(s);
                utf8 = true;
            }
            for (size_t i = 0; ok && i < n; i++) {
                if (utf8) {
                    uint8_t u[4];
                    gv_buf_put(&bytes, u, gv_utf8_put(cps[i], u));
                } else if (cps[i] > 255) {
                    ok = gv_syntax_fail(s, seg, GROVE_ESYNTAX,
                                        "character above 255 in a binary: add /utf8");
                } else {
                    gv_buf_putc(&bytes, (char)cps[i]);
                }
            }
            gv_free(cps);
        } else if (t->kind == GV_TOK_INT && !t->neg && t->text.len <= 8 &&
                   strtol(t->text.data, NULL, (int)t->base) <= 255) {
            gv_buf_putc(&bytes, (char)strtol(t->text.data, NULL, (int)t->base));
            ok = gv_syntax_next(s);
        } else {
            ok = gv_syntax_fail(s, t->at, GROVE_ESYNTAX, "a byte (0..255) or a string expected");
        }
        if (!ok)
            break;
        if (gv_tok_is(s, ">>")) {
            ok = gv_syntax_next(s);
            break;
        }
        ok = s_expect(s, ",");
    }
done:
    if (ok) {
        gv_w_binary(w, bytes.data, bytes.len);
        ok = s_wcheck(s, w, at);
    }
    gv_buf_fini(&bytes);
    return ok;
}

/* The numbers of #Pid<node.N.N.N> and #Ref<node.N...N>, read straight from
 * the source (the lexer would take "1.2" for a float). */
static bool s_raw_numbers(gv_syntax *s, size_t at, uint32_t *out, size_t max, size_t *count)
{
    size_t n = 0;
    while (s_peek(s, 0) == '.') {
        s->pos++;
        if (!s_is_digit(s_peek(s, 0)) || n == max)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "bad pid or reference");
        uint64_t v = 0;
        while (s_is_digit(s_peek(s, 0))) {
            v = v * 10 + (uint64_t)(s_peek(s, 0) - '0');
            if (v > UINT32_MAX)
                return gv_syntax_fail(s, at, GROVE_ERANGE, "number above 2^32-1");
            s->pos++;
        }
        out[n++] = (uint32_t)v;
    }
    if (s_peek(s, 0) != '>')
        return gv_syntax_fail(s, at, GROVE_ESYNTAX, "bad pid or reference");
    s->pos++;
    *count = n;
    return true;
}

static bool s_build_pid_or_ref(gv_syntax *s, gv_etf_writer *w)
{
    size_t at = s->tok.at;
    bool pid = s->tok.kind == GV_TOK_PID;
    if (!gv_syntax_next(s))
        return false;
    if (s->tok.kind != GV_TOK_ATOM)
        return gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "node name expected");
    uint32_t nums[GROVE_REF_MAX_WORDS + 1];
    size_t n = 0;
    if (!s_raw_numbers(s, at, nums, pid ? 3 : GROVE_REF_MAX_WORDS + 1, &n))
        return false;
    const char *node = s->tok.text.data;
    size_t node_len = s->tok.text.len;
    if (pid) {
        if (n != 3)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "a pid has three numbers");
        gv_w_pid(w, node, node_len, false, nums[0], nums[1], nums[2]);
    } else {
        if (n < 1)
            return gv_syntax_fail(s, at, GROVE_ESYNTAX, "a reference needs its creation");
        gv_w_ref(w, node, node_len, false, nums[n - 1], (uint32_t)(n - 1), nums);
    }
    return s_wcheck(s, w, at) && gv_syntax_next(s);
}

/* A placeholder of grove_pack: takes its arguments. */
static bool s_build_hole(gv_syntax *s, gv_etf_writer *w)
{
    size_t at = s->tok.at;
    va_list *ap = s->ap;
    char hole = s->tok.hole;
    s->tok.hole = 0; /* every case takes its arguments before it can fail */
    switch (hole) {
    case 'i':
        gv_w_int64(w, va_arg(*ap, int));
        break;
    case 'l':
        gv_w_int64(w, va_arg(*ap, int64_t));
        break;
    case 'u':
        gv_w_uint64(w, va_arg(*ap, uint64_t));
        break;
    case 'f':
        gv_w_float(w, va_arg(*ap, double));
        break;
    case 'a': {
        const char *a = va_arg(*ap, const char *);
        gv_w_atom_utf8(w, a, a ? strlen(a) : 0);
        break;
    }
    case 's': {
        const char *p = va_arg(*ap, const char *);
        size_t n = va_arg(*ap, size_t);
        if (!p && n)
            return gv_syntax_fail(s, at, GROVE_EINVAL, "NULL string");
        gv_w_bytelist(w, p, n);
        break;
    }
    case 'b': {
        const void *p = va_arg(*ap, const void *);
        size_t n = va_arg(*ap, size_t);
        if (!p && n)
            return gv_syntax_fail(s, at, GROVE_EINVAL, "NULL binary");
        gv_w_binary(w, p, n);
        break;
    }
    case 'p': {
        grove_pid pid = va_arg(*ap, grove_pid);
        size_t n;
        const uint8_t *node = gv_nodename_atom(pid.node, &n);
        if (!node)
            return gv_syntax_fail(s, at, GROVE_EINVAL, "pid of no node");
        gv_w_pid_atom(w, node, n, pid.id, pid.serial, pid.creation);
        break;
    }
    case 'r': {
        grove_ref ref = va_arg(*ap, grove_ref);
        size_t n;
        const uint8_t *node = gv_nodename_atom(ref.node, &n);
        if (!node)
            return gv_syntax_fail(s, at, GROVE_EINVAL, "reference of no node");
        gv_w_ref_atom(w, node, n, ref.creation, ref.len, ref.id);
        break;
    }
    default: { /* 't' */
        grove_term *t = va_arg(*ap, grove_term *);
        if (!t)
            return gv_syntax_fail(s, at, GROVE_EINVAL, "NULL term");
        gv_w_raw(w, t->data + 1, t->size - 1, t->depth);
        grove_term_destroy(&t);
        break;
    }
    }
    return s_wcheck(s, w, at) && gv_syntax_next(s);
}

/* Neither ',' nor the closing bracket came. */
static bool s_sep_fail(gv_syntax *s, const char *close)
{
    if (s->tok.kind == GV_TOK_EOF)
        return gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "unexpected end of text");
    return gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "',' or '%s' expected", close);
}

static bool s_build_seq(gv_syntax *s, gv_etf_writer *w, const char *close)
{
    if (gv_tok_is(s, close))
        return gv_syntax_next(s);
    for (;;) {
        if (!gv_syntax_build(s, w))
            return false;
        if (gv_tok_is(s, close))
            return gv_syntax_next(s);
        if (!gv_tok_is(s, ","))
            return s_sep_fail(s, close);
        if (!gv_syntax_next(s))
            return false;
    }
}

bool gv_syntax_build(gv_syntax *s, gv_etf_writer *w)
{
    gv_tok *t = &s->tok;
    size_t at = t->at;
    if (s->err.code != GROVE_OK)
        return false;
    switch (t->kind) {
    case GV_TOK_ATOM:
        gv_w_atom_utf8(w, t->text.data, t->text.len);
        return s_wcheck(s, w, at) && gv_syntax_next(s);
    case GV_TOK_INT:
        return s_build_int(s, w) && gv_syntax_next(s);
    case GV_TOK_FLOAT:
        gv_w_float(w, t->f);
        return s_wcheck(s, w, at) && gv_syntax_next(s);
    case GV_TOK_STRING:
        return s_build_string(s, w) && gv_syntax_next(s);
    case GV_TOK_BIN_OPEN:
        return s_build_binary(s, w);
    case GV_TOK_PID:
    case GV_TOK_REF:
        return s_build_pid_or_ref(s, w);
    case GV_TOK_MAP_OPEN:
        gv_w_begin(w, GV_KIND_MAP);
        if (!s_wcheck(s, w, at) || !gv_syntax_next(s))
            return false;
        if (!gv_tok_is(s, "}")) {
            for (;;) {
                if (!gv_syntax_build(s, w) || !s_expect(s, "=>") || !gv_syntax_build(s, w))
                    return false;
                if (gv_tok_is(s, "}"))
                    break;
                if (!gv_tok_is(s, ","))
                    return s_sep_fail(s, "}");
                if (!gv_syntax_next(s))
                    return false;
            }
        }
        gv_w_end(w);
        return s_wcheck(s, w, at) && gv_syntax_next(s);
    case GV_TOK_HOLE:
        if (s->mode == GV_MODE_PACK)
            return s_build_hole(s, w);
        return gv_syntax_fail(s, at, GROVE_EINVAL, "placeholder where a literal must stand");
    case GV_TOK_PUNCT:
        if (gv_tok_is(s, "{")) {
            gv_w_begin(w, GV_KIND_TUPLE);
            if (!s_wcheck(s, w, at) || !gv_syntax_next(s) || !s_build_seq(s, w, "}"))
                return false;
            gv_w_end(w);
            return s_wcheck(s, w, at);
        }
        if (gv_tok_is(s, "[")) {
            gv_w_begin(w, GV_KIND_LIST);
            if (!s_wcheck(s, w, at) || !gv_syntax_next(s))
                return false;
            if (!gv_tok_is(s, "]")) {
                for (;;) {
                    if (!gv_syntax_build(s, w))
                        return false;
                    if (gv_tok_is(s, "|")) {
                        gv_w_tail(w);
                        if (!s_wcheck(s, w, s->tok.at) || !gv_syntax_next(s) ||
                            !gv_syntax_build(s, w))
                            return false;
                        break;
                    }
                    if (gv_tok_is(s, "]"))
                        break;
                    if (!gv_tok_is(s, ","))
                        return s_sep_fail(s, "]");
                    if (!gv_syntax_next(s))
                        return false;
                }
            }
            if (!gv_tok_is(s, "]"))
                return gv_syntax_fail(s, s->tok.at, GROVE_ESYNTAX, "']' expected");
            gv_w_end(w);
            return s_wcheck(s, w, at) && gv_syntax_next(s);
        }
        return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unexpected '%s'", t->punct);
    case GV_TOK_EOF:
        return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unexpected end of text");
    case GV_TOK_SKIP:
        return gv_syntax_fail(s, at, GROVE_EINVAL, "'_' where a literal must stand");
    default:
        return gv_syntax_fail(s, at, GROVE_ESYNTAX, "unexpected token");
    }
}

/* ---- parse and pack ------------------------------------------------------- */

grove_err grove_term_parse(const char *text, size_t len, grove_term **out, grove_term_error *err)
{
    gv_syntax s;
    gv_etf_writer w;
    gv_syntax_init(&s, text, len, GV_MODE_PARSE, NULL);
    gv_w_init(&w);
    *out = NULL;
    if (gv_syntax_next(&s) && gv_syntax_build(&s, &w) && gv_syntax_expect_end(&s))
        *out = gv_w_finish(&w, NULL);
    grove_err rc = s.err.code;
    if (rc != GROVE_OK && err)
        *err = s.err;
    gv_w_fini(&w);
    gv_syntax_fini(&s);
    return rc;
}

/* After a failure, takes the arguments of the placeholders not reached,
 * so every ~t term is consumed as promised. */
static void s_drain(gv_syntax *s)
{
    size_t i = s->tok.kind == GV_TOK_HOLE && s->tok.hole ? s->tok.at : s->pos;
    va_list *ap = s->ap;
    while (i < s->len) {
        char c = s->src[i];
        if (c == '"' || c == '\'') {
            for (i++; i < s->len && s->src[i] != c; i++)
                if (s->src[i] == '\\')
                    i++;
            i++;
        } else if (c == '%') {
            while (i < s->len && s->src[i] != '\n')
                i++;
        } else if (c == '$') {
            i += (i + 1 < s->len && s->src[i + 1] == '\\') ? 3 : 2;
        } else if (c == '~' && i + 1 < s->len) {
            switch (s->src[i + 1]) {
            case 'i':
                (void)va_arg(*ap, int);
                break;
            case 'l':
                (void)va_arg(*ap, int64_t);
                break;
            case 'u':
                (void)va_arg(*ap, uint64_t);
                break;
            case 'f':
                (void)va_arg(*ap, double);
                break;
            case 'a':
                (void)va_arg(*ap, const char *);
                break;
            case 's':
            case 'b':
                (void)va_arg(*ap, const void *);
                (void)va_arg(*ap, size_t);
                break;
            case 'p':
                (void)va_arg(*ap, grove_pid);
                break;
            case 'r':
                (void)va_arg(*ap, grove_ref);
                break;
            case 't': {
                grove_term *t = va_arg(*ap, grove_term *);
                grove_term_destroy(&t);
                break;
            }
            default:
                break;
            }
            i += 2;
        } else {
            i++;
        }
    }
}

/* Takes the arguments through a pointer to the caller's list: copying a
 * list that va_start has just written (va_copy) costs a store-forwarding
 * stall, a tenth of a small pack. */
static grove_term *s_vpack(grove_term_error *err, const char *fmt, const gv_fmt *f, va_list *args)
{
    grove_term *t = NULL;
    if (f && !f->skips) {
        t = gv_fmt_pack(f, args, err);
    } else {
        gv_syntax s;
        gv_etf_writer w;
        gv_syntax_init(&s, fmt, fmt ? strlen(fmt) : 0, GV_MODE_PACK, args);
        gv_w_init(&w);
        if (!fmt)
            gv_syntax_fail(&s, 0, GROVE_EINVAL, "NULL format");
        else if (gv_syntax_next(&s) && gv_syntax_build(&s, &w) && gv_syntax_expect_end(&s))
            t = gv_w_finish(&w, NULL);
        if (!t) {
            s_drain(&s);
            if (err)
                *err = s.err;
        }
        gv_w_fini(&w);
        gv_syntax_fini(&s);
    }
    return t;
}

/* A format without holes (`inc`, `{ok, done}`) is a literal: its compiled
 * bytes are the term, and no argument is read. */
static inline bool s_literal(const gv_fmt *f)
{
    return f && f->nholes == 0 && !f->skips;
}

grove_term *grove_vpack(const char *fmt, va_list ap)
{
    const gv_fmt *f = fmt ? gv_fmt_lookup(fmt) : NULL;
    if (s_literal(f))
        return gv_term_from_body(f->bytes, f->nbytes, f->depth);
    va_list args;
    va_copy(args, ap);
    grove_term *t = s_vpack(NULL, fmt, f, &args);
    va_end(args);
    return t;
}

grove_term *grove_pack(const char *fmt, ...)
{
    const gv_fmt *f = fmt ? gv_fmt_lookup(fmt) : NULL;
    if (s_literal(f))
        return gv_term_from_body(f->bytes, f->nbytes, f->depth);
    va_list ap;
    va_start(ap, fmt);
    grove_term *t = s_vpack(NULL, fmt, f, &ap);
    va_end(ap);
    return t;
}

grove_term *grove_pack_ex(grove_term_error *err, const char *fmt, ...)
{
    const gv_fmt *f = fmt ? gv_fmt_lookup(fmt) : NULL;
    va_list ap;
    va_start(ap, fmt);
    grove_term *t = s_vpack(err, fmt, f, &ap);
    va_end(ap);
    return t;
}
