#include "transport/tp_arena.h"

#include "base/gv_alloc.h"

#include <stdalign.h>
#include <string.h>

struct gv_tp_chunk {
    gv_tp_chunk *next;
    size_t size; /* bytes in data[] */
    size_t off;  /* bytes of data[] handed out */
    alignas(max_align_t) unsigned char data[];
};

static gv_tp_chunk *s_chunk_new(gv_tp_arena *a, size_t size)
{
    gv_tp_chunk *c = gv_malloc(sizeof *c + size);
    c->next = NULL;
    c->size = size;
    c->off = 0;
    a->mallocs++;
    return c;
}

static size_t s_keep_max(const gv_tp_arena *a)
{
    return a->first > (1u << 20) ? a->first : (1u << 20);
}

static void *s_pb_alloc(void *data, size_t size)
{
    return gv_tp_arena_alloc(data, size);
}

static void s_pb_free(void *data, void *p)
{
    /* Everything goes at the next reset. */
    (void)data;
    (void)p;
}

void gv_tp_arena_init(gv_tp_arena *a, size_t first, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->first = first < 256 ? 256 : first;
    a->limit = limit;
    a->pb.alloc = s_pb_alloc;
    a->pb.free = s_pb_free;
    a->pb.allocator_data = a;
}

void gv_tp_arena_fini(gv_tp_arena *a)
{
    gv_tp_chunk *c = a->chunks;
    while (c) {
        gv_tp_chunk *next = c->next;
        gv_free(c);
        c = next;
    }
    a->chunks = NULL;
    a->used = 0;
}

void *gv_tp_arena_alloc(gv_tp_arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size == 0)
        size = 1;
    if (size > a->limit || a->used > a->limit - size)
        return NULL;
    size_t rounded = (size + align - 1) & ~(align - 1);
    gv_tp_chunk *c = a->chunks;
    if (!c || c->size - c->off < rounded) {
        size_t want = c ? c->size * 2 : a->first;
        if (want < rounded)
            want = rounded;
        gv_tp_chunk *n = s_chunk_new(a, want);
        n->next = c;
        a->chunks = n;
        c = n;
    }
    void *p = c->data + c->off;
    c->off += rounded;
    a->used += size;
    return p;
}

void gv_tp_arena_reset(gv_tp_arena *a)
{
    /* Keep the largest chunk (the newest: sizes only grow), so a steady
     * stream of similar batches settles on one chunk and no malloc. */
    gv_tp_chunk *keep = a->chunks;
    if (keep && keep->size > s_keep_max(a)) {
        /* One huge batch must not pin its memory forever. */
        gv_tp_arena_fini(a);
        return;
    }
    if (keep) {
        gv_tp_chunk *c = keep->next;
        while (c) {
            gv_tp_chunk *next = c->next;
            gv_free(c);
            c = next;
        }
        keep->next = NULL;
        keep->off = 0;
    }
    a->used = 0;
}
