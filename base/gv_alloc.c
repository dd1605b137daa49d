#include "gv_alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gv_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("grove: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void *gv_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        gv_panic("out of memory allocating %zu bytes", size);
    return p;
}

void *gv_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        gv_panic("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *gv_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        gv_panic("out of memory reallocating to %zu bytes", size);
    return q;
}

char *gv_strndup(const char *s, size_t len)
{
    char *p = gv_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void gv_free(void *p)
{
    free(p);
}
