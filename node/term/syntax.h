/*
 * syntax.h - the lexer and the builder shared by grove_term_parse,
 * grove_pack and grove_match: one grammar, Erlang's term syntax, with
 * placeholders where pack takes arguments and match fills captures.
 */
#ifndef GV_SYNTAX_H
#define GV_SYNTAX_H

#include <stdarg.h>
#include <string.h>

#include "base/gv_buf.h"
#include "node/term/etf.h"

typedef enum gv_tok_kind {
    GV_TOK_EOF = 0,
    GV_TOK_PUNCT,    /* one of { } [ ] | , => >> ; text in tok.punct */
    GV_TOK_MAP_OPEN, /* #{ */
    GV_TOK_BIN_OPEN, /* << */
    GV_TOK_ATOM,     /* text in tok.text (UTF-8) */
    GV_TOK_INT,      /* tok.neg + tok.text holding digits, tok.base */
    GV_TOK_FLOAT,    /* tok.f */
    GV_TOK_STRING,   /* code points in tok.cps */
    GV_TOK_PID,      /* #Pid< : the parser reads the rest */
    GV_TOK_REF,      /* #Ref< */
    GV_TOK_HOLE,     /* ~x : tok.hole */
    GV_TOK_SKIP,     /* _ */
    GV_TOK_DOT,      /* a final '.' */
} gv_tok_kind;

typedef struct gv_tok {
    gv_tok_kind kind;
    size_t at; /* offset of the token in the text */
    char punct[3];
    char hole;
    bool neg;
    unsigned base;
    double f;
    gv_buf text; /* atom text, integer digits */
    char text_storage[64];
    uint32_t *cps; /* string code points */
    size_t ncps, cps_cap;
} gv_tok;

typedef enum gv_syntax_mode {
    GV_MODE_PARSE, /* plain text: no holes */
    GV_MODE_PACK,  /* holes take arguments */
    GV_MODE_MATCH, /* holes are captures, and '_' is allowed */
} gv_syntax_mode;

typedef struct gv_syntax {
    const char *src;
    size_t len;
    size_t pos;
    gv_syntax_mode mode;
    gv_tok tok; /* the current token (one token of lookahead) */
    grove_term_error err;
    va_list *ap;  /* pack: the arguments */
    bool drained; /* pack: remaining arguments consumed after an error */
} gv_syntax;

void gv_syntax_init(gv_syntax *s, const char *src, size_t len, gv_syntax_mode mode, va_list *ap);
void gv_syntax_fini(gv_syntax *s);

/* Reads the next token into s->tok. False (and s->err set) on bad text. */
bool gv_syntax_next(gv_syntax *s);

/* Records the first error at `at`; returns false. */
bool gv_syntax_fail(gv_syntax *s, size_t at, grove_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses one value starting at the current token and writes it to w,
 * taking pack arguments for holes. Leaves the token after it current. */
bool gv_syntax_build(gv_syntax *s, gv_etf_writer *w);

/* True when the current token is the punctuation p. */
static inline bool gv_tok_is(const gv_syntax *s, const char *p)
{
    return s->tok.kind == GV_TOK_PUNCT && strcmp(s->tok.punct, p) == 0;
}

/* Checks that only an optional '.' and the end are left. */
bool gv_syntax_expect_end(gv_syntax *s);

#endif
