/*
 * reg_map.c - the registry's byte-keyed hash map (reg_map.h).
 */
#include "registry/reg_map.h"

#include "base/gv_alloc.h"

#include <string.h>

struct gv_rmap_ent {
    gv_rmap_ent *next;
    uint64_t hash;
    void *val;
    size_t len;
    unsigned char key[];
};

static uint64_t s_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

void gv_rmap_init(gv_rmap *m)
{
    m->cap = 16;
    m->n = 0;
    m->b = gv_calloc(m->cap, sizeof *m->b);
}

void gv_rmap_fini(gv_rmap *m, void (*free_val)(void *val))
{
    for (size_t i = 0; m->b && i < m->cap; i++)
        for (gv_rmap_ent *e = m->b[i], *next; e; e = next) {
            next = e->next;
            if (free_val)
                free_val(e->val);
            gv_free(e);
        }
    gv_free(m->b);
    memset(m, 0, sizeof *m);
}

static gv_rmap_ent **s_find(const gv_rmap *m, const void *key, size_t len, uint64_t h)
{
    gv_rmap_ent **pp = &m->b[h & (m->cap - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->len == len && memcmp((*pp)->key, key, len) == 0)
            break;
    return pp;
}

void *gv_rmap_get(const gv_rmap *m, const void *key, size_t len)
{
    gv_rmap_ent *e = *s_find(m, key, len, s_hash(key, len));
    return e ? e->val : NULL;
}

static void s_grow(gv_rmap *m)
{
    size_t ncap = m->cap * 2;
    gv_rmap_ent **nb = gv_calloc(ncap, sizeof *nb);
    for (size_t i = 0; i < m->cap; i++)
        for (gv_rmap_ent *e = m->b[i], *next; e; e = next) {
            next = e->next;
            size_t j = e->hash & (ncap - 1);
            e->next = nb[j];
            nb[j] = e;
        }
    gv_free(m->b);
    m->b = nb;
    m->cap = ncap;
}

void *gv_rmap_put(gv_rmap *m, const void *key, size_t len, void *val)
{
    uint64_t h = s_hash(key, len);
    gv_rmap_ent **pp = s_find(m, key, len, h);
    if (*pp) {
        void *old = (*pp)->val;
        (*pp)->val = val;
        return old;
    }
    gv_rmap_ent *e = gv_malloc(sizeof *e + len);
    e->next = NULL;
    e->hash = h;
    e->val = val;
    e->len = len;
    memcpy(e->key, key, len);
    *pp = e;
    if (++m->n > m->cap)
        s_grow(m);
    return NULL;
}

void *gv_rmap_del(gv_rmap *m, const void *key, size_t len)
{
    gv_rmap_ent **pp = s_find(m, key, len, s_hash(key, len));
    gv_rmap_ent *e = *pp;
    if (!e)
        return NULL;
    *pp = e->next;
    m->n--;
    void *val = e->val;
    gv_free(e);
    return val;
}

void gv_rmap_each(gv_rmap *m, bool (*fn)(void *ctx, const void *key, size_t len, void *val),
                  void *ctx)
{
    for (size_t i = 0; i < m->cap; i++) {
        gv_rmap_ent **pp = &m->b[i];
        while (*pp) {
            gv_rmap_ent *e = *pp;
            if (fn(ctx, e->key, e->len, e->val)) {
                *pp = e->next;
                m->n--;
                gv_free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}
