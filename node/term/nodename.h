/*
 * nodename.h - the interned node names, as the term layer uses them.
 *
 * Every pid and reference in a term names its node with an atom. Packing a
 * pid writes that atom and matching one finds the name's index, once per
 * message in the common shapes ({ping, Pid}, {Ref, Reply}), so both are
 * made cheap here: each interned name keeps its atom's canonical ETF bytes,
 * and each thread remembers the few names it looked up last.
 */
#ifndef GV_NODENAME_H
#define GV_NODENAME_H

#include <grove/term.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The name's atom as canonical ETF bytes (tag, length, text: what
 * term_to_binary writes for it), valid for the life of the program; NULL
 * for 0 or an index never handed out. Any thread. */
const uint8_t *gv_nodename_atom(grove_nodename node, size_t *len);

/* The index of the name whose atom text is text[0..len) (Latin-1 when
 * `latin1`, else UTF-8), interning it if it is new: what
 * grove_nodename_intern gives for the same name in UTF-8. A hit in the
 * calling thread's cache of recent names costs one comparison. Errors as
 * grove_nodename_intern. Any thread. */
grove_err gv_nodename_lookup(const char *text, size_t len, bool latin1, grove_nodename *out);

#endif
