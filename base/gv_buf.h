/*
 * gv_buf.h - a growable byte buffer, always NUL-terminated.
 */
#ifndef GV_BUF_H
#define GV_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct gv_buf {
    char *data;
    size_t len;
    size_t cap;
    char *storage; /* caller-provided first storage, never freed here */
} gv_buf;

void gv_buf_init(gv_buf *b);
/* Starts in storage[0..cap) (cap >= 1), moving to the heap only when it
 * outgrows it: short texts cost no allocation. */
void gv_buf_init_in(gv_buf *b, char *storage, size_t cap);
void gv_buf_fini(gv_buf *b);
void gv_buf_put(gv_buf *b, const void *data, size_t len);
void gv_buf_putc(gv_buf *b, char c);
void gv_buf_puts(gv_buf *b, const char *s);
void gv_buf_printf(gv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text to the caller (free() it) and leaves b empty. */
char *gv_buf_take(gv_buf *b);

#endif
