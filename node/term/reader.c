/*
 * reader.c - walking a term in pre-order without allocating.
 */
#include "node/term/etf.h"
#include "node/term/nodename.h"

#include <string.h>

grove_reader grove_reader_of(const grove_term *t)
{
    grove_reader r = {0};
    if (t) {
        r.pos = t->data + 1;
        r.end = t->data + t->size;
    }
    return r;
}

static void s_integer(grove_value *v, bool negative, const uint8_t *mag, size_t n)
{
    while (n > 0 && mag[n - 1] == 0)
        n--;
    v->type = GROVE_TYPE_INTEGER;
    v->as.integer.negative = negative;
    uint64_t m = 0;
    for (size_t i = n; i-- > 0;)
        m = m << 8 | mag[i];
    v->as.integer.fits = n <= 8 && (negative ? m <= (uint64_t)INT64_MAX + 1 : m <= INT64_MAX);
    if (v->as.integer.fits) {
        v->as.integer.i = negative ? (int64_t)(0 - m) : (int64_t)m;
    } else {
        v->as.integer.magnitude = mag;
        v->as.integer.magnitude_len = n;
    }
}

bool grove_reader_next(grove_reader *r, grove_value *v)
{
    memset(v, 0, sizeof *v);
    if (r->str_left) {
        /* An element of a byte list: the byte is its own magnitude. */
        s_integer(v, false, r->str, 1);
        r->str++;
        r->str_left--;
        return true;
    }
    if (r->str_tail) {
        r->str_tail = false;
        v->type = GROVE_TYPE_NIL;
        return true;
    }
    if (!r->pos || r->pos >= r->end)
        return false;
    const uint8_t *p = r->pos;
    switch (p[0]) {
    case GV_ETF_SMALL_INTEGER:
        s_integer(v, false, p + 1, 1);
        r->pos = p + 2;
        return true;
    case GV_ETF_INTEGER: {
        int32_t i = (int32_t)gv_get32(p + 1);
        v->type = GROVE_TYPE_INTEGER;
        v->as.integer.fits = true;
        v->as.integer.i = i;
        v->as.integer.negative = i < 0;
        r->pos = p + 5;
        return true;
    }
    case GV_ETF_SMALL_BIG:
        s_integer(v, p[2] != 0, p + 3, p[1]);
        r->pos = p + 3 + p[1];
        return true;
    case GV_ETF_LARGE_BIG:
        s_integer(v, p[5] != 0, p + 6, gv_get32(p + 1));
        r->pos = p + 6 + gv_get32(p + 1);
        return true;
    case GV_ETF_NEW_FLOAT: {
        uint64_t bits = (uint64_t)gv_get32(p + 1) << 32 | gv_get32(p + 5);
        v->type = GROVE_TYPE_FLOAT;
        memcpy(&v->as.f, &bits, sizeof v->as.f);
        r->pos = p + 9;
        return true;
    }
    case GV_ETF_ATOM:
    case GV_ETF_SMALL_ATOM:
    case GV_ETF_ATOM_UTF8:
    case GV_ETF_SMALL_ATOM_UTF8:
        v->type = GROVE_TYPE_ATOM;
        r->pos = gv_etf_atom(p, &v->as.atom.text, &v->as.atom.len, &v->as.atom.latin1);
        return true;
    case GV_ETF_NEW_PID: {
        v->type = GROVE_TYPE_PID;
        const uint8_t *q =
            gv_etf_atom(p + 1, &v->as.pid.node, &v->as.pid.node_len, &v->as.pid.node_latin1);
        v->as.pid.id = gv_get32(q);
        v->as.pid.serial = gv_get32(q + 4);
        v->as.pid.creation = gv_get32(q + 8);
        r->pos = q + 12;
        return true;
    }
    case GV_ETF_NEWER_REFERENCE: {
        v->type = GROVE_TYPE_REF;
        uint32_t n = gv_get16(p + 1);
        const uint8_t *q =
            gv_etf_atom(p + 3, &v->as.ref.node, &v->as.ref.node_len, &v->as.ref.node_latin1);
        v->as.ref.creation = gv_get32(q);
        v->as.ref.len = n;
        for (uint32_t i = 0; i < n; i++)
            v->as.ref.id[i] = gv_get32(q + 4 + 4 * i);
        r->pos = q + 4 + 4 * n;
        return true;
    }
    case GV_ETF_SMALL_TUPLE:
        v->type = GROVE_TYPE_TUPLE;
        v->as.compound.arity = p[1];
        r->pos = p + 2;
        return true;
    case GV_ETF_LARGE_TUPLE:
        v->type = GROVE_TYPE_TUPLE;
        v->as.compound.arity = gv_get32(p + 1);
        r->pos = p + 5;
        return true;
    case GV_ETF_MAP:
        v->type = GROVE_TYPE_MAP;
        v->as.compound.arity = gv_get32(p + 1);
        r->pos = p + 5;
        return true;
    case GV_ETF_NIL:
        v->type = GROVE_TYPE_NIL;
        r->pos = p + 1;
        return true;
    case GV_ETF_STRING: {
        uint32_t n = gv_get16(p + 1);
        v->type = GROVE_TYPE_LIST;
        v->as.compound.arity = n;
        v->as.compound.bytes = p + 3;
        r->str = p + 3;
        r->str_left = n;
        r->str_tail = true;
        r->pos = p + 3 + n;
        return true;
    }
    case GV_ETF_LIST:
        v->type = GROVE_TYPE_LIST;
        v->as.compound.arity = gv_get32(p + 1);
        r->pos = p + 5;
        return true;
    default: /* GV_ETF_BINARY */
        v->type = GROVE_TYPE_BINARY;
        v->as.binary.size = gv_get32(p + 1);
        v->as.binary.data = p + 5;
        r->pos = p + 5 + v->as.binary.size;
        return true;
    }
}

bool grove_reader_skip(grove_reader *r)
{
    if (r->str_left) {
        r->str++;
        r->str_left--;
        return true;
    }
    if (r->str_tail) {
        r->str_tail = false;
        return true;
    }
    if (!r->pos || r->pos >= r->end)
        return false;
    r->pos = gv_etf_skip(r->pos);
    return true;
}

bool grove_value_is_atom(const grove_value *v, const char *name)
{
    return v && name && v->type == GROVE_TYPE_ATOM &&
           gv_etf_atom_cmp(v->as.atom.text, v->as.atom.len, v->as.atom.latin1, name, strlen(name),
                           false) == 0;
}

grove_err grove_value_pid(const grove_value *v, grove_pid *out)
{
    if (!v || v->type != GROVE_TYPE_PID)
        return GROVE_EBADARG;
    grove_pid pid = {
        .id = v->as.pid.id, .serial = v->as.pid.serial, .creation = v->as.pid.creation};
    grove_err rc =
        gv_nodename_lookup(v->as.pid.node, v->as.pid.node_len, v->as.pid.node_latin1, &pid.node);
    if (rc == GROVE_OK)
        *out = pid;
    return rc;
}

grove_err grove_value_ref(const grove_value *v, grove_ref *out)
{
    if (!v || v->type != GROVE_TYPE_REF)
        return GROVE_EBADARG;
    grove_ref ref = {.creation = v->as.ref.creation, .len = v->as.ref.len};
    memcpy(ref.id, v->as.ref.id, sizeof ref.id);
    grove_err rc =
        gv_nodename_lookup(v->as.ref.node, v->as.ref.node_len, v->as.ref.node_latin1, &ref.node);
    if (rc == GROVE_OK)
        *out = ref;
    return rc;
}
