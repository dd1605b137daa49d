/*
 * nodename.c - the program-wide table of interned node names.
 *
 * Pids and references name their node by index so they stay 16- and
 * 36-byte values. Names are never removed: a cluster has few nodes, and
 * the table is capped so a hostile peer cannot grow it without bound.
 *
 * Readers take no lock: an entry is complete before the release store
 * that links it into its bucket (and before the count that makes its
 * index valid), and readers load bucket heads and the count with acquire.
 * Entries never change once linked. Writers serialise on a mutex and look
 * the name up again under it before adding it.
 *
 * Each entry also keeps the name's atom in canonical ETF bytes, so packing
 * a pid copies it instead of encoding the name again, and each thread keeps
 * its last few lookups by atom text (gv_nodename_lookup): a message that
 * carries a pid is matched without hashing or validating the name. Names
 * are never removed, so a remembered index never goes stale.
 */
#include "node/term/nodename.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "base/gv_utf8.h"
#include "node/term/etf.h"

#define NODENAME_MAX 65535u
#define NODENAME_BUCKETS 1024u /* hash buckets of the writers' index */
#define NODENAME_CHUNK 256u    /* names per chunk; chunks never move */

typedef struct nn_entry {
    char *text; /* UTF-8, NUL-terminated */
    size_t len;
    uint8_t *etf; /* the atom's canonical ETF bytes */
    size_t etf_len;
    const char *atom; /* the text inside etf: Latin-1 or UTF-8, */
    size_t atom_len;  /* as atom_latin1 says */
    bool atom_latin1;
    uint32_t next_in_bucket; /* 0 ends the chain */
} nn_entry;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static nn_entry *_Atomic s_chunks[NODENAME_MAX / NODENAME_CHUNK + 1];
static _Atomic uint32_t s_count; /* names handed out; index 0 is unused */
static _Atomic uint32_t s_buckets[NODENAME_BUCKETS];

static uint32_t s_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static nn_entry *s_entry(uint32_t index)
{
    /* Pairs with the release store of the chunk pointer in intern. */
    nn_entry *chunk = atomic_load_explicit(&s_chunks[index / NODENAME_CHUNK], memory_order_acquire);
    return chunk ? &chunk[index % NODENAME_CHUNK] : NULL;
}

static uint32_t s_find(uint32_t bucket, const char *name, size_t len)
{
    /* Pairs with the release store of the bucket head in intern. */
    uint32_t i = atomic_load_explicit(&s_buckets[bucket], memory_order_acquire);
    while (i != 0) {
        nn_entry *e = s_entry(i);
        if (e->len == len && memcmp(e->text, name, len) == 0)
            return i;
        i = e->next_in_bucket;
    }
    return 0;
}

grove_err grove_nodename_intern(const char *name, size_t len, grove_nodename *out)
{
    size_t chars;
    if (!name || len == 0 || !gv_utf8_count((const uint8_t *)name, len, &chars) ||
        chars > GROVE_ATOM_MAX_CHARS || memchr(name, '\0', len))
        return GROVE_EINVAL;
    uint32_t h = s_hash(name, len) % NODENAME_BUCKETS;
    uint32_t found = s_find(h, name, len);
    if (found) {
        *out = found;
        return GROVE_OK;
    }
    pthread_mutex_lock(&s_lock);
    found = s_find(h, name, len); /* another writer may have added it */
    if (found) {
        pthread_mutex_unlock(&s_lock);
        *out = found;
        return GROVE_OK;
    }
    uint32_t index = atomic_load_explicit(&s_count, memory_order_relaxed) + 1;
    if (index > NODENAME_MAX) {
        pthread_mutex_unlock(&s_lock);
        return GROVE_ENOMEM;
    }
    uint32_t c = index / NODENAME_CHUNK;
    nn_entry *chunk = atomic_load_explicit(&s_chunks[c], memory_order_relaxed);
    if (!chunk) {
        chunk = gv_calloc(NODENAME_CHUNK, sizeof *chunk);
        /* Pairs with the acquire load in s_entry. */
        atomic_store_explicit(&s_chunks[c], chunk, memory_order_release);
    }
    nn_entry *e = &chunk[index % NODENAME_CHUNK];
    e->text = gv_strndup(name, len);
    e->len = len;
    gv_etf_writer w;
    gv_w_init(&w);
    if (!gv_w_atom_utf8(&w, name, len)) /* checked above: cannot fail */
        gv_panic("node name %.*s is not an atom", (int)len, name);
    e->etf_len = w.len - 1;
    e->etf = gv_malloc(e->etf_len);
    memcpy(e->etf, w.buf + 1, e->etf_len);
    gv_w_fini(&w);
    gv_etf_atom(e->etf, &e->atom, &e->atom_len, &e->atom_latin1);
    e->next_in_bucket = atomic_load_explicit(&s_buckets[h], memory_order_relaxed);
    /* Publishes the entry: pairs with the acquire loads in
     * grove_nodename_str and s_find. */
    atomic_store_explicit(&s_count, index, memory_order_release);
    atomic_store_explicit(&s_buckets[h], index, memory_order_release);
    pthread_mutex_unlock(&s_lock);
    *out = index;
    return GROVE_OK;
}

const char *grove_nodename_str(grove_nodename node)
{
    if (node == 0 || node > atomic_load_explicit(&s_count, memory_order_acquire))
        return "";
    return s_entry(node)->text;
}

const uint8_t *gv_nodename_atom(grove_nodename node, size_t *len)
{
    /* Acquire: pairs with the release store of s_count in intern. */
    if (node == 0 || node > atomic_load_explicit(&s_count, memory_order_acquire))
        return NULL;
    nn_entry *e = s_entry(node);
    *len = e->etf_len;
    return e->etf;
}

/* ---- the per-thread cache of recent lookups ------------------------------- */

#define RECENT 4

typedef struct nn_recent {
    const char *atom; /* the entry's atom text (never freed), NULL: unused */
    size_t atom_len;
    bool latin1;
    grove_nodename index;
} nn_recent;

static _Thread_local nn_recent s_recent[RECENT];
static _Thread_local unsigned s_recent_next;

/* Converts a Latin-1 atom text to UTF-8 and interns it. */
static grove_err s_intern_atom(const char *text, size_t len, bool latin1, grove_nodename *out)
{
    if (!latin1)
        return grove_nodename_intern(text, len, out);
    char utf8[2 * GROVE_ATOM_MAX_CHARS];
    size_t n = 0;
    for (size_t i = 0; i < len && i < GROVE_ATOM_MAX_CHARS; i++) {
        uint8_t c = (uint8_t)text[i];
        if (c < 0x80) {
            utf8[n++] = (char)c;
        } else {
            utf8[n++] = (char)(0xC0 | (c >> 6));
            utf8[n++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return grove_nodename_intern(utf8, n, out);
}

/* A miss: intern the name and remember it. */
__attribute__((noinline)) static grove_err s_lookup_miss(const char *text, size_t len, bool latin1,
                                                         grove_nodename *out)
{
    grove_nodename index;
    grove_err rc = s_intern_atom(text, len, latin1, &index);
    if (rc != GROVE_OK)
        return rc;
    const nn_entry *e = s_entry(index); /* ours to read: intern returned it */
    nn_recent *r = &s_recent[s_recent_next++ % RECENT];
    *r = (nn_recent){
        .atom = e->atom, .atom_len = e->atom_len, .latin1 = e->atom_latin1, .index = index};
    *out = index;
    return GROVE_OK;
}

grove_err gv_nodename_lookup(const char *text, size_t len, bool latin1, grove_nodename *out)
{
    /* The cache holds each name's canonical atom text and encoding; equal
     * (encoding, bytes) means the same name. A non-canonical spelling of a
     * cached name just misses. */
    for (unsigned i = 0; i < RECENT; i++) {
        const nn_recent *r = &s_recent[i];
        if (r->atom && r->atom_len == len && r->latin1 == latin1 &&
            gv_bytes_equal(r->atom, text, len)) {
            *out = r->index;
            return GROVE_OK;
        }
    }
    return s_lookup_miss(text, len, latin1, out);
}
