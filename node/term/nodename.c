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
 */
#include <grove/term.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/gv_alloc.h"
#include "base/gv_utf8.h"

#define NODENAME_MAX 65535u
#define NODENAME_BUCKETS 1024u /* hash buckets of the writers' index */
#define NODENAME_CHUNK 256u    /* names per chunk; chunks never move */

typedef struct nn_entry {
    char *text;
    size_t len;
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
