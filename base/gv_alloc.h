/*
 * gv_alloc.h - allocation that never returns NULL.
 *
 * Grove treats a failed allocation as fatal, as the BEAM does: the node
 * cannot keep its promises (links, monitors, replies) without memory, so
 * it stops loudly instead of limping on with lost signals.
 */
#ifndef GV_ALLOC_H
#define GV_ALLOC_H

#include <stddef.h>

/* Blocks from gv_malloc, gv_calloc, gv_realloc and gv_strndup are freed
 * with gv_free, and only with it: the allocator behind them may not be
 * the C library's (mimalloc in release builds, see gv_alloc.c), and
 * sanitizer builds catch a block given to the wrong one. Memory a caller
 * is told to free() comes from malloc (gv_libc_strndup, gv_buf_take). */
void *gv_malloc(size_t size);
void *gv_calloc(size_t count, size_t size);
void *gv_realloc(void *p, size_t size);
char *gv_strndup(const char *s, size_t len);
void gv_free(void *p);

/* A pair for blocks made and freed once per message (terms, signals):
 * a block from gv_malloc_owned is freed with gv_free_owned and only with
 * it, never with gv_free or free. Because gv_free also takes malloc's
 * blocks, it must ask the allocator whose block it is, and gv_malloc must
 * note the rare block that question would get wrong; together that costs
 * as much as the allocation itself. The owned pair skips both.
 * AddressSanitizer builds mark owned blocks and stop a test that gives
 * one to the wrong function. */
void *gv_malloc_owned(size_t size);
void gv_free_owned(void *p);

/* Zeroed memory aligned to a cache line (GV_CACHE_LINE bytes), for
 * objects whose fields are laid out on lines of their own so threads do
 * not share them (_Alignas(GV_CACHE_LINE) members). Freed with
 * gv_free_aligned only. */
#define GV_CACHE_LINE 64
void *gv_calloc_aligned(size_t size);
void gv_free_aligned(void *p);

/* A copy of s[0..len) plus a NUL from the C library's malloc, for text
 * handed to callers who free() it. */
char *gv_libc_strndup(const char *s, size_t len);

/* Prints "grove: fatal: <what>" to stderr and aborts. Never returns. */
_Noreturn void gv_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
