/*
 * cache.h - a key-value cache whose entries expire, each after its own
 * time to live.
 *
 * Expiry is a timer message the cache sends itself with send_after when a
 * key is put: no thread and no sweep. A key put again gets a new timer;
 * the old one is cancelled, and if it fired meanwhile its message carries
 * an older version of the key and is ignored.
 */
#ifndef CACHE_H
#define CACHE_H

#include <grove/grove.h>

#include <stddef.h>
#include <stdint.h>

extern const grove_gen_server cache_server;

grove_err cache_start(grove_node *node, grove_pid *out);

/* Stores value (consumed) under key for ttl_ms (0: for ever). Never
 * blocks. */
grove_err cache_put(grove_node *node, grove_pid cache, const char *key, grove_term *value,
                    uint64_t ttl_ms);

/* *value (caller owns) or GROVE_ENOTFOUND (never stored, or expired). */
grove_err cache_get(grove_node *node, grove_pid cache, const char *key, grove_term **value);

grove_err cache_delete(grove_node *node, grove_pid cache, const char *key);

grove_err cache_size(grove_node *node, grove_pid cache, size_t *size);

#endif
