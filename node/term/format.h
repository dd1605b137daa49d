/*
 * format.h - format strings compiled once, for grove_pack and grove_match.
 *
 * Most formats are literals in the code ("{ping, ~p}") and are used over
 * and over. A format whose shape does not depend on its arguments (holes
 * outside lists and maps, no float literals) compiles to a list of
 * operations: canonical bytes to copy or compare, and holes. Each thread
 * keeps a small cache of compiled formats, keyed by the format's address
 * and checked against its text, so a format changed in place is compiled
 * again. Formats without such a form take the general path (syntax.c,
 * match.c).
 */
#ifndef GV_FORMAT_H
#define GV_FORMAT_H

#include <stdarg.h>

#include "node/term/etf.h"

enum gv_fmt_op_kind { GV_FMT_CHUNK = 1, GV_FMT_HOLE, GV_FMT_SKIP };

typedef struct gv_fmt_op {
    uint8_t kind;
    char hole;     /* GV_FMT_HOLE: the placeholder letter */
    uint16_t nest; /* tuples around this operation */
    uint32_t off;  /* GV_FMT_CHUNK: bytes[off .. off + len) */
    uint32_t len;
} gv_fmt_op;

/* Formats with at most this many holes, all of ~i ~l ~u ~p ~r ~t, are
 * packed straight into the term (format.c). */
#define GV_FMT_SIZED_HOLES 8

typedef struct gv_fmt {
    gv_fmt_op *ops;
    uint32_t nops;
    uint32_t depth;  /* nesting of the literal parts */
    uint32_t nbytes; /* literal bytes in all */
    uint32_t nholes;
    bool skips; /* has '_' (a pattern, not a format) */
    bool maps;  /* has a map literal: patterns match maps by subset */
    bool sized; /* every hole's size is known from its argument alone
                   (~i ~l ~u ~p ~r ~t): packed straight into the term */
    uint8_t *bytes;
} gv_fmt;

/* The compiled form of fmt from this thread's cache, compiling it on a
 * miss; NULL when fmt has no compiled form. Valid until the next call on
 * this thread. */
const gv_fmt *gv_fmt_lookup(const char *fmt);

/* Packs with a compiled format. Consumes every ~t argument, also on
 * failure. Returns NULL (and fills *err if not NULL) on a bad argument. */
grove_term *gv_fmt_pack(const gv_fmt *f, va_list *ap, grove_term_error *err);

#endif
