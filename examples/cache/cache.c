/*
 * cache.c - the cache server.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *key;
    grove_term *value;
    uint64_t version; /* the expiry message of this value carries it */
    grove_timer timer;
} entry;

typedef struct cache_state {
    entry *entries;
    size_t n, cap;
    uint64_t next_version;
} cache_state;

static entry *s_find(cache_state *c, const void *key, size_t len)
{
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->entries[i].key) == len && memcmp(c->entries[i].key, key, len) == 0)
            return &c->entries[i];
    return NULL;
}

static void s_remove(grove_proc *self, cache_state *c, entry *e)
{
    if (e->timer)
        grove_cancel_timer(self, e->timer);
    free(e->key);
    grove_term_destroy(&e->value);
    *e = c->entries[--c->n];
}

static grove_err cache_init(grove_proc *self, const grove_term *arg, void **state)
{
    cache_state *c = calloc(1, sizeof *c);
    if (!c)
        return GROVE_ENOMEM;
    *state = c;
    return GROVE_OK;
}

static grove_ret cache_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                            grove_term **reply)
{
    cache_state *c = state;
    const void *key;
    size_t len;
    if (grove_match(req, "{get, ~b}", &key, &len)) {
        entry *e = s_find(c, key, len);
        *reply = e ? grove_pack("{ok, ~t}", grove_term_copy(e->value)) : grove_atom("not_found");
    } else if (grove_match(req, "size")) {
        *reply = grove_pack("~u", (uint64_t)c->n);
    } else {
        *reply = grove_pack("{error, unknown_call}");
    }
    return GROVE_REPLY;
}

static grove_ret cache_cast(grove_proc *self, const grove_term *msg, void *state)
{
    cache_state *c = state;
    const void *key;
    size_t len;
    grove_term *value = NULL;
    uint64_t ttl;
    if (grove_match(msg, "{put, ~b, ~t, ~u}", &key, &len, &value, &ttl)) {
        entry *e = s_find(c, key, len);
        if (e) {
            if (e->timer)
                grove_cancel_timer(self, e->timer);
            grove_term_destroy(&e->value);
        } else {
            if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                entry *grown = realloc(c->entries, cap * sizeof *grown);
                if (!grown) {
                    grove_term_destroy(&value);
                    return grove_stop(self, grove_atom("out_of_memory"));
                }
                c->entries = grown;
                c->cap = cap;
            }
            e = &c->entries[c->n++];
            e->key = strndup(key, len);
        }
        e->value = value;
        e->version = ++c->next_version;
        e->timer = 0;
        if (ttl > 0)
            grove_send_after(self, ttl, grove_self(self),
                             grove_pack("{expire, ~b, ~u}", key, len, e->version), &e->timer);
    } else if (grove_match(msg, "{delete, ~b}", &key, &len)) {
        entry *e = s_find(c, key, len);
        if (e)
            s_remove(self, c, e);
    }
    return GROVE_NOREPLY;
}

static grove_ret cache_info(grove_proc *self, const grove_term *msg, void *state)
{
    cache_state *c = state;
    const void *key;
    size_t len;
    uint64_t version;
    if (grove_match(msg, "{expire, ~b, ~u}", &key, &len, &version)) {
        entry *e = s_find(c, key, len);
        if (e && e->version == version) {
            e->timer = 0; /* it has fired */
            s_remove(self, c, e);
        }
    }
    return GROVE_NOREPLY;
}

static void cache_free(void *state)
{
    cache_state *c = state;
    for (size_t i = 0; i < c->n; i++) {
        free(c->entries[i].key);
        grove_term_destroy(&c->entries[i].value);
    }
    free(c->entries);
    free(c);
}

const grove_gen_server cache_server = {
    .name = "cache",
    .init = cache_init,
    .handle_call = cache_call,
    .handle_cast = cache_cast,
    .handle_info = cache_info,
    .free_state = cache_free,
};

grove_err cache_start(grove_node *node, grove_pid *out)
{
    return grove_gen_server_start(node, &cache_server, NULL, NULL, out);
}

grove_err cache_put(grove_node *node, grove_pid cache, const char *key, grove_term *value,
                    uint64_t ttl_ms)
{
    if (!value)
        return GROVE_EINVAL;
    return grove_cast(node, cache,
                      grove_pack("{put, ~b, ~t, ~u}", key, strlen(key), value, ttl_ms));
}

grove_err cache_get(grove_node *node, grove_pid cache, const char *key, grove_term **value)
{
    *value = NULL;
    grove_term *reply = NULL;
    grove_err err = grove_call(node, cache, grove_pack("{get, ~b}", key, strlen(key)),
                               GROVE_CALL_TIMEOUT, &reply);
    if (!err && !grove_match(reply, "{ok, ~t}", value))
        err = GROVE_ENOTFOUND;
    grove_term_destroy(&reply);
    return err;
}

grove_err cache_delete(grove_node *node, grove_pid cache, const char *key)
{
    return grove_cast(node, cache, grove_pack("{delete, ~b}", key, strlen(key)));
}

grove_err cache_size(grove_node *node, grove_pid cache, size_t *size)
{
    grove_term *reply = NULL;
    uint64_t n = 0;
    grove_err err = grove_call(node, cache, grove_atom("size"), GROVE_CALL_TIMEOUT, &reply);
    if (!err && !grove_match(reply, "~u", &n))
        err = GROVE_EPROTO;
    *size = (size_t)n;
    grove_term_destroy(&reply);
    return err;
}
