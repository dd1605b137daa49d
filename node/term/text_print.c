/*
 * text_print.c - a term as text, the way Erlang's ~p prints a short term
 * on one line, in UTF-8, plus Grove's pid and reference forms that keep
 * the node and creation: #Pid<node@host.ID.SERIAL.CREATION> and
 * #Ref<node@host.W0.W1.W2.CREATION>.
 */
#include <stdlib.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "base/gv_buf.h"
#include "base/gv_utf8.h"
#include "node/term/etf.h"

static void s_put_cp(gv_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n = gv_utf8_put(cp, u);
    gv_buf_put(b, u, n);
}

/* One character inside quotes (' for atoms, " for strings). */
static void s_put_quoted_cp(gv_buf *b, uint32_t cp, char quote)
{
    switch (cp) {
    case '\n':
        gv_buf_puts(b, "\\n");
        return;
    case '\r':
        gv_buf_puts(b, "\\r");
        return;
    case '\t':
        gv_buf_puts(b, "\\t");
        return;
    case '\v':
        gv_buf_puts(b, "\\v");
        return;
    case '\b':
        gv_buf_puts(b, "\\b");
        return;
    case '\f':
        gv_buf_puts(b, "\\f");
        return;
    case 27:
        gv_buf_puts(b, "\\e");
        return;
    case 127:
        gv_buf_puts(b, "\\d");
        return;
    case '\\':
        gv_buf_puts(b, "\\\\");
        return;
    default:
        break;
    }
    if (cp == (uint32_t)quote) {
        gv_buf_putc(b, '\\');
        gv_buf_putc(b, quote);
    } else if (cp < 32 || (cp >= 128 && cp < 160)) {
        gv_buf_printf(b, "\\%03o", cp); /* as Erlang writes it */
    } else {
        s_put_cp(b, cp);
    }
}

static bool s_is_lower(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7);
}

static bool s_is_name_char(uint32_t c)
{
    return s_is_lower(c) || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '@' || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
}

static const char *const s_reserved[] = {
    "after", "and",  "andalso", "band",   "begin",   "bnot", "bor", "bsl",  "bsr",
    "bxor",  "case", "catch",   "cond",   "div",     "end",  "fun", "if",   "let",
    "not",   "of",   "or",      "orelse", "receive", "rem",  "try", "when", "xor",
};

/* Code points of an atom's text, whatever its encoding. */
static size_t s_atom_cp(const char *text, size_t len, bool latin1, size_t i, uint32_t *cp)
{
    if (latin1) {
        *cp = (uint8_t)text[i];
        return 1;
    }
    size_t k = gv_utf8_next((const uint8_t *)text + i, len - i, cp);
    if (k == 0) {
        *cp = 0xFFFD;
        k = 1;
    }
    return k;
}

static bool s_atom_needs_quotes(const char *text, size_t len, bool latin1)
{
    if (len == 0)
        return true;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        bool first = i == 0;
        i += s_atom_cp(text, len, latin1, i, &cp);
        if (first ? !s_is_lower(cp) : !s_is_name_char(cp))
            return true;
    }
    for (size_t k = 0; k < sizeof s_reserved / sizeof *s_reserved; k++)
        if (strlen(s_reserved[k]) == len && memcmp(s_reserved[k], text, len) == 0)
            return true;
    return false;
}

static void s_put_atom(gv_buf *b, const char *text, size_t len, bool latin1)
{
    bool quote = s_atom_needs_quotes(text, len, latin1);
    if (quote)
        gv_buf_putc(b, '\'');
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += s_atom_cp(text, len, latin1, i, &cp);
        if (quote)
            s_put_quoted_cp(b, cp, '\'');
        else
            s_put_cp(b, cp);
    }
    if (quote)
        gv_buf_putc(b, '\'');
}

/* Erlang's printable Latin-1 characters (io_lib:printable_latin1_list). */
static bool s_printable(uint8_t c)
{
    return (c >= 32 && c <= 126) || c >= 160 || (c >= 8 && c <= 13) || c == 27;
}

static void s_put_bytes_as_text(gv_buf *b, const uint8_t *s, size_t n, bool binary)
{
    bool printable = n > 0;
    for (size_t i = 0; i < n && printable; i++)
        printable = s_printable(s[i]);
    if (binary)
        gv_buf_puts(b, "<<");
    if (printable) {
        gv_buf_putc(b, '"');
        for (size_t i = 0; i < n; i++)
            s_put_quoted_cp(b, s[i], '"');
        gv_buf_putc(b, '"');
    } else {
        if (!binary)
            gv_buf_putc(b, '[');
        for (size_t i = 0; i < n; i++)
            gv_buf_printf(b, i ? ",%u" : "%u", s[i]);
        if (!binary)
            gv_buf_putc(b, ']');
    }
    if (binary)
        gv_buf_puts(b, ">>");
}

static const uint8_t *s_print(gv_buf *b, const uint8_t *p);

/* A proper list whose elements are all printable bytes. */
static bool s_list_is_text(const uint8_t *e, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++, e += 2)
        if (e[0] != GV_ETF_SMALL_INTEGER || !s_printable(e[1]))
            return false;
    return e[0] == GV_ETF_NIL;
}

static const uint8_t *s_print_seq(gv_buf *b, const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            gv_buf_putc(b, ',');
        p = s_print(b, p);
    }
    return p;
}

static const uint8_t *s_print(gv_buf *b, const uint8_t *p)
{
    const char *text;
    size_t len;
    bool latin1;
    switch (p[0]) {
    case GV_ETF_SMALL_INTEGER:
        gv_buf_printf(b, "%u", p[1]);
        return p + 2;
    case GV_ETF_INTEGER:
        gv_buf_printf(b, "%d", (int32_t)gv_get32(p + 1));
        return p + 5;
    case GV_ETF_SMALL_BIG:
    case GV_ETF_LARGE_BIG: {
        size_t hdr = p[0] == GV_ETF_SMALL_BIG ? 2 : 5;
        size_t n = p[0] == GV_ETF_SMALL_BIG ? p[1] : gv_get32(p + 1);
        char *dec = gv_big_to_decimal(p[hdr] != 0, p + hdr + 1, n);
        gv_buf_puts(b, dec);
        gv_free(dec);
        return p + hdr + 1 + n;
    }
    case GV_ETF_NEW_FLOAT: {
        uint64_t bits = (uint64_t)gv_get32(p + 1) << 32 | gv_get32(p + 5);
        double v;
        memcpy(&v, &bits, sizeof v);
        char out[32];
        gv_buf_put(b, out, gv_float_format(v, out));
        return p + 9;
    }
    case GV_ETF_ATOM:
    case GV_ETF_SMALL_ATOM:
    case GV_ETF_ATOM_UTF8:
    case GV_ETF_SMALL_ATOM_UTF8: {
        const uint8_t *end = gv_etf_atom(p, &text, &len, &latin1);
        s_put_atom(b, text, len, latin1);
        return end;
    }
    case GV_ETF_NEW_PID: {
        const uint8_t *q = gv_etf_atom(p + 1, &text, &len, &latin1);
        gv_buf_puts(b, "#Pid<");
        s_put_atom(b, text, len, latin1);
        gv_buf_printf(b, ".%u.%u.%u>", gv_get32(q), gv_get32(q + 4), gv_get32(q + 8));
        return q + 12;
    }
    case GV_ETF_NEWER_REFERENCE: {
        uint32_t n = gv_get16(p + 1);
        const uint8_t *q = gv_etf_atom(p + 3, &text, &len, &latin1);
        gv_buf_puts(b, "#Ref<");
        s_put_atom(b, text, len, latin1);
        for (uint32_t i = 0; i < n; i++)
            gv_buf_printf(b, ".%u", gv_get32(q + 4 + 4 * i));
        gv_buf_printf(b, ".%u>", gv_get32(q));
        return q + 4 + 4 * n;
    }
    case GV_ETF_SMALL_TUPLE:
    case GV_ETF_LARGE_TUPLE: {
        uint32_t n = p[0] == GV_ETF_SMALL_TUPLE ? p[1] : gv_get32(p + 1);
        gv_buf_putc(b, '{');
        p = s_print_seq(b, p + (p[0] == GV_ETF_SMALL_TUPLE ? 2 : 5), n);
        gv_buf_putc(b, '}');
        return p;
    }
    case GV_ETF_MAP: {
        uint32_t n = gv_get32(p + 1);
        gv_buf_puts(b, "#{");
        p += 5;
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                gv_buf_putc(b, ',');
            p = s_print(b, p);
            gv_buf_puts(b, " => ");
            p = s_print(b, p);
        }
        gv_buf_putc(b, '}');
        return p;
    }
    case GV_ETF_NIL:
        gv_buf_puts(b, "[]");
        return p + 1;
    case GV_ETF_STRING: {
        size_t n = gv_get16(p + 1);
        s_put_bytes_as_text(b, p + 3, n, false);
        return p + 3 + n;
    }
    case GV_ETF_LIST: {
        uint32_t n = gv_get32(p + 1);
        if (s_list_is_text(p + 5, n)) {
            /* Past 65,535 bytes a string is a LIST_EXT; ~p still prints it
             * as a string. */
            gv_buf_putc(b, '"');
            for (uint32_t i = 0; i < n; i++)
                s_put_quoted_cp(b, p[5 + 2 * i + 1], '"');
            gv_buf_putc(b, '"');
            return p + 5 + 2 * (size_t)n + 1;
        }
        gv_buf_putc(b, '[');
        p = s_print_seq(b, p + 5, n);
        if (p[0] != GV_ETF_NIL) {
            gv_buf_putc(b, '|');
            p = s_print(b, p);
        } else {
            p++;
        }
        gv_buf_putc(b, ']');
        return p;
    }
    default: { /* GV_ETF_BINARY */
        uint32_t n = gv_get32(p + 1);
        s_put_bytes_as_text(b, p + 5, n, true);
        return p + 5 + n;
    }
    }
}

char *grove_term_format(const grove_term *t)
{
    gv_buf b;
    gv_buf_init(&b);
    if (t)
        s_print(&b, t->data + 1);
    /* The caller frees with free(): hand over the C library's memory,
     * whatever allocator gv_buf uses. */
    char *text = malloc(b.len + 1);
    if (!text)
        gv_panic("out of memory formatting a term");
    memcpy(text, b.data, b.len + 1);
    gv_buf_fini(&b);
    return text;
}

grove_err grove_term_print(FILE *f, const grove_term *t)
{
    char *text = grove_term_format(t);
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
    free(text);
    return ok ? GROVE_OK : GROVE_EIO;
}
