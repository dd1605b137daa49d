/*
 * term.c - the term object: allocation, copying, bytes, equality.
 */
#include "node/term/etf.h"

#include <string.h>

#include "base/gv_alloc.h"

grove_term *gv_term_alloc(size_t size, uint32_t depth)
{
    grove_term *t = gv_malloc_owned(sizeof *t + size); /* freed by grove_term_destroy */
    memset(&t->sig, 0, sizeof t->sig);
    t->size = size;
    t->depth = depth;
    t->data[0] = GV_ETF_VERSION;
    return t;
}

grove_term *gv_term_from_canonical(const uint8_t *bytes, size_t size, uint32_t depth)
{
    grove_term *t = gv_term_alloc(size, depth);
    memcpy(t->data, bytes, size);
    return t;
}

grove_term *gv_term_from_body(const uint8_t *body, size_t size, uint32_t depth)
{
    grove_term *t = gv_term_alloc(size + 1, depth);
    uint8_t *d = t->data + 1;
    /* Literal messages (`inc`, `pong`) are a few bytes: two overlapping
     * word copies instead of a call. */
    if (size >= 8 && size <= 16) {
        uint64_t a, b;
        memcpy(&a, body, 8), memcpy(&b, body + size - 8, 8);
        memcpy(d, &a, 8), memcpy(d + size - 8, &b, 8);
    } else if (size >= 4 && size < 8) {
        uint32_t a, b;
        memcpy(&a, body, 4), memcpy(&b, body + size - 4, 4);
        memcpy(d, &a, 4), memcpy(d + size - 4, &b, 4);
    } else {
        memcpy(d, body, size);
    }
    return t;
}

grove_term *grove_term_copy(const grove_term *t)
{
    if (!t)
        return NULL;
    return gv_term_from_canonical(t->data, t->size, t->depth);
}

void grove_term_destroy(grove_term **t)
{
    if (t && *t) {
        gv_free_owned(*t); /* every term is from gv_term_alloc */
        *t = NULL;
    }
}

const uint8_t *grove_term_bytes(const grove_term *t, size_t *len)
{
    if (len)
        *len = t ? t->size : 0;
    return t ? t->data : NULL;
}

int grove_term_compare(const grove_term *a, const grove_term *b)
{
    return gv_etf_compare(a->data + 1, b->data + 1, false);
}

bool grove_term_equal(const grove_term *a, const grove_term *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (a->size == b->size && memcmp(a->data, b->data, a->size) == 0)
        return true;
    return gv_etf_equal(a->data + 1, b->data + 1);
}

grove_term *grove_atom(const char *name)
{
    gv_etf_writer w;
    gv_w_init(&w);
    gv_w_atom_utf8(&w, name, name ? strlen(name) : 0);
    grove_term *t = gv_w_finish(&w, NULL);
    gv_w_fini(&w);
    return t;
}

grove_term *grove_int(int64_t value)
{
    gv_etf_writer w;
    gv_w_init(&w);
    gv_w_int64(&w, value);
    grove_term *t = gv_w_finish(&w, NULL);
    gv_w_fini(&w);
    return t;
}

bool grove_pid_equal(grove_pid a, grove_pid b)
{
    return a.node == b.node && a.id == b.id && a.serial == b.serial && a.creation == b.creation;
}

bool grove_ref_equal(const grove_ref *a, const grove_ref *b)
{
    if (a->node != b->node || a->creation != b->creation || a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len && i < GROVE_REF_MAX_WORDS; i++)
        if (a->id[i] != b->id[i])
            return false;
    return true;
}
