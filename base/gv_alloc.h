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

void *gv_malloc(size_t size);
void *gv_calloc(size_t count, size_t size);
void *gv_realloc(void *p, size_t size);
char *gv_strndup(const char *s, size_t len);
void gv_free(void *p);

/* Prints "grove: fatal: <what>" to stderr and aborts. Never returns. */
_Noreturn void gv_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
