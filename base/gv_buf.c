#include "base/gv_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gv_alloc.h"

/* The heap storage comes from the C library's malloc, not gv_malloc:
 * gv_buf_take hands it to callers who free() it. */
static char *s_heap(char *old, size_t cap)
{
    char *p = realloc(old, cap);
    if (!p)
        gv_panic("out of memory allocating %zu bytes", cap);
    return p;
}

void gv_buf_init(gv_buf *b)
{
    b->cap = 64;
    b->data = s_heap(NULL, b->cap);
    b->data[0] = '\0';
    b->len = 0;
    b->storage = NULL;
}

void gv_buf_init_in(gv_buf *b, char *storage, size_t cap)
{
    b->data = b->storage = storage;
    b->cap = cap;
    b->len = 0;
    b->data[0] = '\0';
}

void gv_buf_fini(gv_buf *b)
{
    if (b->data != b->storage)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void s_grow(gv_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    if (b->data == b->storage) {
        char *heap = s_heap(NULL, cap);
        memcpy(heap, b->data, b->len + 1);
        b->data = heap;
    } else {
        b->data = s_heap(b->data, cap);
    }
    b->cap = cap;
}

void gv_buf_put(gv_buf *b, const void *data, size_t len)
{
    s_grow(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void gv_buf_putc(gv_buf *b, char c)
{
    gv_buf_put(b, &c, 1);
}

void gv_buf_puts(gv_buf *b, const char *s)
{
    gv_buf_put(b, s, strlen(s));
}

void gv_buf_printf(gv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    s_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *gv_buf_take(gv_buf *b)
{
    if (b->data == b->storage)
        return gv_libc_strndup(b->data, b->len);
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
