#include "gv_alloc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The allocator behind gv_malloc is chosen by the build (base/CMakeLists.txt,
 * GROVE_ALLOCATOR):
 *
 *   GV_ALLOC_MIMALLOC  mimalloc's own API (mi_malloc, mi_free). A message is
 *                      allocated by its sender's thread and freed by its
 *                      receiver's; mimalloc hands such a block back to the
 *                      page it came from with one atomic push, where glibc
 *                      takes the owning arena's lock (docs/benchmarks.md).
 *                      malloc() itself is left alone: the program's own
 *                      allocations are not ours to change.
 *   GV_ALLOC_CHECK     AddressSanitizer builds: the C library's malloc, so
 *                      the sanitizers see every block, each block handed out
 *                      S_SHIFT bytes past the start of what malloc returned.
 *                      A gv_malloc'd block given to free() is then not the
 *                      start of a malloc'd block and ASan stops the test
 *                      ("attempting free on address which was not
 *                      malloc()-ed"): the mix-up that would corrupt a
 *                      mimalloc build is caught where the tests run.
 *   neither            the C library's malloc.
 *
 * gv_free (and gv_realloc) also take a block from the C library's malloc:
 * text for callers who free() it (gv_buf_take, grove_term_format) is such a
 * block, and Grove's own code frees some of it with gv_free. With mimalloc
 * the owner is told by mi_is_in_heap_region, which reads only mimalloc's
 * own map and never claims a foreign block; the blocks mimalloc places
 * outside that map (very large ones) are kept in a small registry. Under
 * ASan, a malloc'd block is the one whose preceding byte is poisoned (its
 * redzone), where a shifted block is preceded by our own header.
 */
#if defined(GV_ALLOC_MIMALLOC)
#include <mimalloc.h>
#include <pthread.h>
#include <stdatomic.h>

/* Blocks mimalloc handed out that mi_is_in_heap_region does not know:
 * rare (only blocks it maps outside its address map), so a list under a
 * mutex, skipped while empty. */
typedef struct s_stray {
    void *p;
    struct s_stray *next;
} s_stray;
static pthread_mutex_t s_stray_mu = PTHREAD_MUTEX_INITIALIZER;
static s_stray *s_strays;
/* Release/acquire: a block reaches another thread's gv_free only through
 * a happens-before edge (a message, a lock), so that thread sees the count
 * made non-zero before the block was handed out, and takes the lock. */
static _Atomic size_t s_nstrays;

static void *s_mi_note(void *p)
{
    if (p && !mi_is_in_heap_region(p)) {
        s_stray *e = malloc(sizeof *e);
        if (!e)
            gv_panic("out of memory noting a block");
        e->p = p;
        pthread_mutex_lock(&s_stray_mu);
        e->next = s_strays;
        s_strays = e;
        /* Release: see s_nstrays. */
        atomic_fetch_add_explicit(&s_nstrays, 1, memory_order_release);
        pthread_mutex_unlock(&s_stray_mu);
    }
    return p;
}

/* True when p came from mimalloc (and forgets it if it was a stray). */
static bool s_mi_owns(void *p)
{
    if (mi_is_in_heap_region(p))
        return true;
    /* Acquire: pairs with the release increment in s_mi_note (see s_nstrays). */
    if (atomic_load_explicit(&s_nstrays, memory_order_acquire) == 0)
        return false;
    bool found = false;
    pthread_mutex_lock(&s_stray_mu);
    for (s_stray **e = &s_strays; *e; e = &(*e)->next) {
        if ((*e)->p == p) {
            s_stray *dead = *e;
            *e = dead->next;
            free(dead);
            /* Relaxed: under the mutex; the count only tells others
             * whether to take it, and this block is gone for good. */
            atomic_fetch_sub_explicit(&s_nstrays, 1, memory_order_relaxed);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&s_stray_mu);
    return found;
}

static void *s_malloc(size_t n)
{
    return s_mi_note(mi_malloc(n));
}
static void *s_calloc(size_t c, size_t n)
{
    return s_mi_note(mi_calloc(c, n));
}
static void *s_realloc(void *p, size_t n)
{
    if (p && !s_mi_owns(p))
        return realloc(p, n); /* a malloc'd block stays one */
    return s_mi_note(mi_realloc(p, n));
}
static void s_free(void *p)
{
    if (!p)
        return;
    if (s_mi_owns(p))
        mi_free(p);
    else
        free(p);
}
/* Owned blocks are never given to gv_free, so they need not be told from
 * malloc's: no note, no lookup. */
static void *s_malloc_owned(size_t n)
{
    return mi_malloc(n);
}
static void s_free_owned(void *p)
{
    mi_free(p);
}

#elif defined(GV_ALLOC_CHECK)
#include <sanitizer/asan_interface.h>

/* 64: keeps the alignment malloc happened to give (some callers' structs
 * ask for cache-line alignment) and room for the header. */
#define S_SHIFT 64u
static void *s_shift(void *p)
{
    return p ? (char *)p + S_SHIFT : NULL;
}
/* A malloc'd block (not ours) is preceded by its redzone. */
static bool s_ours(void *p)
{
    return !__asan_address_is_poisoned((char *)p - 1);
}
static void *s_malloc(size_t n)
{
    return n > SIZE_MAX - S_SHIFT ? NULL : s_shift(malloc(n + S_SHIFT));
}
static void *s_calloc(size_t c, size_t n)
{
    if (n && c > (SIZE_MAX - S_SHIFT) / n)
        return NULL;
    return s_shift(calloc(1, c * n + S_SHIFT));
}
static void *s_realloc(void *p, size_t n)
{
    if (p && !s_ours(p))
        return realloc(p, n);
    if (n > SIZE_MAX - S_SHIFT)
        return NULL;
    return s_shift(realloc(p ? (char *)p - S_SHIFT : NULL, n + S_SHIFT));
}
/* An owned block (gv_malloc_owned) carries this in its header, so a block
 * given to the wrong free function stops the test. */
#define S_OWNED_MAGIC 0x6f776e6564626c6bull /* "ownedblk" */
static bool s_owned(void *p)
{
    uint64_t magic;
    memcpy(&magic, (char *)p - S_SHIFT, sizeof magic);
    return magic == S_OWNED_MAGIC;
}
static void s_free(void *p)
{
    if (!p)
        return;
    if (!s_ours(p)) {
        free(p);
        return;
    }
    if (s_owned(p))
        gv_panic("gv_free: %p is a gv_malloc_owned block (gv_free_owned frees it)", p);
    free((char *)p - S_SHIFT);
}
static void *s_malloc_owned(size_t n)
{
    char *p = s_malloc(n);
    if (p) {
        uint64_t magic = S_OWNED_MAGIC;
        memcpy(p - S_SHIFT, &magic, sizeof magic);
    }
    return p;
}
static void s_free_owned(void *p)
{
    if (!s_ours(p) || !s_owned(p))
        gv_panic("gv_free_owned: %p is not a gv_malloc_owned block", p);
    memset((char *)p - S_SHIFT, 0, sizeof(uint64_t));
    free((char *)p - S_SHIFT);
}

#else
static void *s_malloc(size_t n)
{
    return malloc(n);
}
static void *s_calloc(size_t c, size_t n)
{
    return calloc(c, n);
}
static void *s_realloc(void *p, size_t n)
{
    return realloc(p, n);
}
static void s_free(void *p)
{
    free(p);
}
static void *s_malloc_owned(size_t n)
{
    return malloc(n);
}
static void s_free_owned(void *p)
{
    free(p);
}
#endif

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
    void *p = s_malloc(size ? size : 1);
    if (!p)
        gv_panic("out of memory allocating %zu bytes", size);
    return p;
}

void *gv_calloc(size_t count, size_t size)
{
    void *p = s_calloc(count ? count : 1, size ? size : 1);
    if (!p)
        gv_panic("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *gv_realloc(void *p, size_t size)
{
    void *q = s_realloc(p, size ? size : 1);
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
    s_free(p);
}

void *gv_malloc_owned(size_t size)
{
    void *p = s_malloc_owned(size ? size : 1);
    if (!p)
        gv_panic("out of memory allocating %zu bytes", size);
    return p;
}

void gv_free_owned(void *p)
{
    if (p)
        s_free_owned(p);
}

void *gv_calloc_aligned(size_t size)
{
    size = (size + GV_CACHE_LINE - 1) / GV_CACHE_LINE * GV_CACHE_LINE;
#if defined(GV_ALLOC_MIMALLOC)
    void *p = mi_zalloc_aligned(size, GV_CACHE_LINE);
#else
    void *p = aligned_alloc(GV_CACHE_LINE, size);
    if (p)
        memset(p, 0, size);
#endif
    if (!p)
        gv_panic("out of memory allocating %zu aligned bytes", size);
    return p;
}

void gv_free_aligned(void *p)
{
#if defined(GV_ALLOC_MIMALLOC)
    mi_free(p);
#else
    free(p);
#endif
}

char *gv_libc_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        gv_panic("out of memory allocating %zu bytes", len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
