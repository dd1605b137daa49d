/*
 * tp_arena.h - a bump arena, and a protobuf-c allocator backed by it.
 *
 * Decoding a batch allocates many small objects (one per envelope, pid,
 * string, ...). The arena hands them out from a few large chunks and frees
 * them all at once when the next batch is decoded, so a batch costs a few
 * allocations, not one per object. A limit bounds what one batch may take,
 * so hostile bytes cannot make the decoder allocate without bound: past
 * the limit an allocation returns NULL and protobuf-c fails the unpack.
 *
 * Owned by one thread (the transport's I/O thread, or a test).
 */
#ifndef GV_TP_ARENA_H
#define GV_TP_ARENA_H

#include <protobuf-c/protobuf-c.h>

#include <stddef.h>
#include <stdint.h>

typedef struct gv_tp_chunk gv_tp_chunk;

typedef struct gv_tp_arena {
    gv_tp_chunk *chunks; /* newest first; the current one is chunks */
    size_t used;         /* bytes handed out since the last reset */
    size_t limit;        /* most bytes handed out between resets */
    size_t first;        /* size of the first chunk */
    uint64_t mallocs;    /* chunks allocated so far (for tests and stats) */
    ProtobufCAllocator pb;
} gv_tp_arena;

/* first: size of the first chunk (later ones double, up to what is asked);
 * limit: the most one batch may take. */
void gv_tp_arena_init(gv_tp_arena *a, size_t first, size_t limit);

/* Frees every chunk. */
void gv_tp_arena_fini(gv_tp_arena *a);

/* size bytes aligned for any object, or NULL past the limit. */
void *gv_tp_arena_alloc(gv_tp_arena *a, size_t size);

/* Forgets everything handed out; keeps the largest chunk for reuse. */
void gv_tp_arena_reset(gv_tp_arena *a);

/* Sets how much the next batch may take (the decoder scales it with the
 * input's size). */
static inline void gv_tp_arena_set_limit(gv_tp_arena *a, size_t limit)
{
    a->limit = limit;
}

#endif
