/*
 * grove/term.h - terms: the one format of every Grove message.
 *
 * A term is an immutable, flat buffer in Erlang's External Term Format
 * (version 131), byte for byte what Erlang/OTP 25's term_to_binary/1
 * produces. The same bytes are the local message and the remote payload.
 *
 * Terms are built and matched with format strings written in Erlang's
 * syntax, with placeholders:
 *
 *   ~i  int            ~l  int64_t        ~u  uint64_t       ~f  double
 *   ~a  atom           ~s  string         ~b  binary         ~p  grove_pid
 *   ~r  grove_ref      ~t  a whole term   _   anything (match only)
 *
 *   grove_term *t = grove_pack("{deposit, ~i}", 50);
 *   int64_t n;
 *   if (grove_match(t, "{deposit, ~l}", &n)) ...
 *
 * Arguments by placeholder:
 *
 *   placeholder  grove_pack takes               grove_match takes
 *   ~i           int                            int *
 *   ~l           int64_t                        int64_t *
 *   ~u           uint64_t                       uint64_t *
 *   ~f           double (finite)                double *
 *   ~a           const char * (UTF-8, NUL-term) char *buf, size_t size
 *   ~s           const char *, size_t len       const char **, size_t *len
 *   ~b           const void *, size_t len       const void **, size_t *len
 *   ~p           grove_pid                      grove_pid *
 *   ~r           grove_ref                      grove_ref *
 *   ~t           grove_term * (consumed)        grove_term ** (caller owns)
 *
 * Ownership: a call that takes a grove_term * consumes it, even when it
 * fails, so a freshly packed term can be passed inline. Terms handed to
 * callbacks are borrowed for the duration of the callback; grove_term_copy
 * keeps one. Pointers captured by ~s and ~b point into the matched term and
 * live as long as it does.
 *
 * Threads: terms are immutable once built; any thread may read a term, and
 * a term may be passed between threads. No function here blocks.
 *
 * Memory: Grove treats a failed allocation as fatal (as the BEAM does), so
 * no function here returns an out-of-memory error.
 */
#ifndef GROVE_TERM_H
#define GROVE_TERM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <grove/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grove_term grove_term;

/* Limits. An atom holds at most 255 characters (up to 1020 UTF-8 bytes).
 * Decoding and parsing reject nesting deeper than GROVE_TERM_MAX_DEPTH
 * (a list's tail does not count as nesting). */
#define GROVE_ATOM_MAX_CHARS 255
#define GROVE_ATOM_MAX_BYTES 1020
#define GROVE_TERM_MAX_DEPTH 512
#define GROVE_REF_MAX_WORDS 5

/* A node name ("name@host"), interned for the life of the program so pids
 * and references stay small values. Index 0 means "no node". */
typedef uint32_t grove_nodename;

/* A process identifier: a value that travels. `node` is an interned node
 * name; `id` and `serial` name the process on that node; `creation` names
 * the node's incarnation, so a pid from an earlier run is detectably
 * stale. */
typedef struct grove_pid {
    grove_nodename node;
    uint32_t id;
    uint32_t serial;
    uint32_t creation;
} grove_pid;

/* A reference: unique on its node's incarnation. `len` words of `id` are
 * significant (1 to GROVE_REF_MAX_WORDS); the rest are zero. */
typedef struct grove_ref {
    grove_nodename node;
    uint32_t creation;
    uint32_t len;
    uint32_t id[GROVE_REF_MAX_WORDS];
} grove_ref;

/* Where and why building, parsing or decoding failed. `offset` is a byte
 * offset into the input (the text, the ETF bytes or the format string);
 * `message` is a NUL-terminated sentence. */
typedef struct grove_term_error {
    grove_err code;
    size_t offset;
    char message[112];
} grove_term_error;

/* ---- node names ---------------------------------------------------- */

/* Interns `name` (len bytes of UTF-8, 1..255 characters) and stores its
 * index in *out. The same name always gives the same index. Fails with
 * GROVE_EINVAL for an empty, too long or invalid name and GROVE_ENOMEM
 * when the table (65,535 names) is full. Any thread. */
grove_err grove_nodename_intern(const char *name, size_t len, grove_nodename *out);

/* The NUL-terminated text of an interned name, valid for the life of the
 * program; "" for 0 or an index never handed out. Any thread. */
const char *grove_nodename_str(grove_nodename node);

bool grove_pid_equal(grove_pid a, grove_pid b);
bool grove_ref_equal(const grove_ref *a, const grove_ref *b);

/* ---- building and releasing ------------------------------------------ */

/* Builds a term from a format string and arguments (see the table above).
 * Returns NULL when the format is malformed or an argument cannot be
 * encoded (NaN, an atom over 255 characters, invalid UTF-8, a NULL term
 * for ~t, duplicate map keys); terms passed for ~t are consumed either
 * way. Caller owns the result. */
grove_term *grove_pack(const char *fmt, ...);
grove_term *grove_vpack(const char *fmt, va_list ap);

/* As grove_pack, and on failure fills *err (which may be NULL). */
grove_term *grove_pack_ex(grove_term_error *err, const char *fmt, ...);

/* Convenience constructors. Caller owns the result; NULL on an invalid
 * argument (atom too long or not UTF-8, a non-finite double). */
grove_term *grove_atom(const char *name);
grove_term *grove_int(int64_t value);

/* A deep copy. Caller owns the result. */
grove_term *grove_term_copy(const grove_term *t);

/* Frees *t and sets it to NULL. Safe on NULL and on a pointer to NULL. */
void grove_term_destroy(grove_term **t);

/* ---- bytes ----------------------------------------------------------- */

/* Decodes untrusted bytes (starting with the version byte 131) into a
 * term. Every length is checked, nesting is bounded, and the result is
 * re-encoded in canonical form (the bytes term_to_binary/1 would give).
 * Rejects compressed terms, tags Grove does not carry (funs, ports,
 * bit strings that are not whole bytes, ...), NaN and infinities,
 * duplicate map keys, invalid atoms and trailing bytes, with
 * GROVE_EDECODE and a reason in *err (which may be NULL). */
grove_err grove_term_decode(const void *buf, size_t len, grove_term **out, grove_term_error *err);

/* The term's ETF bytes, version byte included. Borrowed: valid while t
 * lives. */
const uint8_t *grove_term_bytes(const grove_term *t, size_t *len);

/* ---- text ------------------------------------------------------------ */

/* Parses Erlang term syntax: `{ok, [1, -2, 2.5, <<"bin">>, "str",
 * 'Quoted atom', #{a => 1}]}`, with Erlang's escapes, $c characters,
 * base#digits integers, an optional final '.', and Grove's pids and
 * references (`#Pid<node@host.85.0.1234>`, `#Ref<node@host.1.2.3.1234>`).
 * On failure returns GROVE_ESYNTAX (or GROVE_ERANGE) with the offset and
 * a reason in *err (which may be NULL). */
grove_err grove_term_parse(const char *text, size_t len, grove_term **out, grove_term_error *err);

/* The term as text, one line, the way Erlang's ~p prints short terms;
 * parsing it gives the same term back. Caller frees with free(). */
char *grove_term_format(const grove_term *t);

/* Writes grove_term_format(t) and a newline to f. GROVE_EIO on a write
 * error. */
grove_err grove_term_print(FILE *f, const grove_term *t);

/* ---- comparing and matching ------------------------------------------ */

/* Erlang's term order (number < atom < reference < pid < tuple < map <
 * nil < list < binary): negative, zero or positive. Integers and floats
 * compare by value, as with ==. */
int grove_term_compare(const grove_term *a, const grove_term *b);

/* Exact equality, as Erlang's =:=. */
bool grove_term_equal(const grove_term *a, const grove_term *b);

/* Matches t against a pattern (the format syntax, with `_` for anything,
 * literals matching themselves, `[H | T]` list patterns, and map patterns
 * matching any map holding at least the given literal keys). Returns true
 * and fills every capture on a match; returns false on a mismatch, a
 * malformed pattern or a NULL t, and then writes through no capture. */
bool grove_match(const grove_term *t, const char *pattern, ...);
bool grove_vmatch(const grove_term *t, const char *pattern, va_list ap);

/* ---- reading without allocating -------------------------------------- */

/* Kinds in Erlang's term order. */
typedef enum grove_type {
    GROVE_TYPE_INTEGER = 1,
    GROVE_TYPE_FLOAT,
    GROVE_TYPE_ATOM,
    GROVE_TYPE_REF,
    GROVE_TYPE_PID,
    GROVE_TYPE_TUPLE,
    GROVE_TYPE_MAP,
    GROVE_TYPE_NIL,
    GROVE_TYPE_LIST,
    GROVE_TYPE_BINARY,
} grove_type;

/* One value seen by the reader. Pointers point into the term. */
typedef struct grove_value {
    grove_type type;
    union {
        struct {
            bool fits; /* the value fits int64_t, and `i` holds it */
            int64_t i;
            bool negative;            /* the sign, for any size */
            const uint8_t *magnitude; /* when !fits: the magnitude, */
            size_t magnitude_len;     /* little-endian, no high zero bytes */
        } integer;
        double f;
        struct {
            const char *text; /* not NUL-terminated */
            size_t len;
            bool latin1; /* text is Latin-1, else UTF-8 */
        } atom;
        struct {
            const uint8_t *data;
            size_t size;
        } binary;
        /* Tuples: arity elements follow. Maps: arity key/value pairs
         * follow, key first. Lists: arity elements, then the tail (NIL
         * for a proper list). A list of bytes carries them in `bytes`
         * as well; its elements still follow as integers. */
        struct {
            uint32_t arity;
            const uint8_t *bytes;
        } compound;
        struct {
            const char *node; /* Latin-1 or UTF-8 as node_latin1 says */
            size_t node_len;
            bool node_latin1;
            uint32_t id, serial, creation;
        } pid;
        struct {
            const char *node;
            size_t node_len;
            bool node_latin1;
            uint32_t creation, len;
            uint32_t id[GROVE_REF_MAX_WORDS];
        } ref;
    } as;
} grove_value;

/* A cursor over a term, walking it in pre-order. Plain data: copy it to
 * remember a position. */
typedef struct grove_reader {
    const uint8_t *pos;
    const uint8_t *end;
    const uint8_t *str; /* inside a byte list: the next byte */
    uint32_t str_left;  /* bytes of it left to yield */
    bool str_tail;      /* its NIL tail is still to come */
} grove_reader;

/* A reader positioned at t's top-level value. */
grove_reader grove_reader_of(const grove_term *t);

/* Reads the value at the cursor into *v and moves past it; for a tuple,
 * map or list, moves to its first child. Returns false at the end of the
 * term. */
bool grove_reader_next(grove_reader *r, grove_value *v);

/* Moves past the whole value at the cursor, children included. Returns
 * false at the end of the term. */
bool grove_reader_skip(grove_reader *r);

/* True when v is the atom `name` (UTF-8). */
bool grove_value_is_atom(const grove_value *v, const char *name);

/* Interns v's node name and fills *out. GROVE_EBADARG if v is not a pid,
 * or an error of grove_nodename_intern. */
grove_err grove_value_pid(const grove_value *v, grove_pid *out);
grove_err grove_value_ref(const grove_value *v, grove_ref *out);

#ifdef __cplusplus
}
#endif
#endif
