/*
 * term.c - the term object: allocation, copying, bytes, equality.
 */
#include "node/term/etf.h"

#include <string.h>

#include "base/gv_alloc.h"

grove_term *gv_term_from_canonical(const uint8_t *bytes, size_t size, uint32_t depth)
{
    grove_term *t = gv_malloc(sizeof *t + size);
    memset(&t->sig, 0, sizeof t->sig);
    t->size = size;
    t->depth = depth;
    memcpy(t->data, bytes, size);
    return t;
}

grove_term *gv_term_from_body(const uint8_t *body, size_t size, uint32_t depth)
{
    grove_term *t = gv_malloc(sizeof *t + size + 1);
    memset(&t->sig, 0, sizeof t->sig);
    t->size = size + 1;
    t->depth = depth;
    t->data[0] = GV_ETF_VERSION;
    memcpy(t->data + 1, body, size);
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
        gv_free(*t);
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
