/*
 * reg_map.h - a hash map keyed by bytes (names, references), values by
 * pointer: the registry's tables (internal).
 *
 * Chained, power-of-two buckets, grown at load 1. Not thread-safe: the
 * owner locks it (the replica) or owns it (the server's own state). Keys
 * are copied; values are the caller's.
 */
#ifndef GV_REG_MAP_H
#define GV_REG_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gv_rmap_ent gv_rmap_ent;

typedef struct gv_rmap {
    gv_rmap_ent **b;
    size_t cap, n;
} gv_rmap;

void gv_rmap_init(gv_rmap *m);
/* Frees the map; free_val (may be NULL) is called on every value left. */
void gv_rmap_fini(gv_rmap *m, void (*free_val)(void *val));

/* The value under key, or NULL. */
void *gv_rmap_get(const gv_rmap *m, const void *key, size_t len);

/* Sets key to val (not NULL) and returns the value it replaces, or NULL. */
void *gv_rmap_put(gv_rmap *m, const void *key, size_t len, void *val);

/* Removes key and returns its value, or NULL if it was not there. */
void *gv_rmap_del(gv_rmap *m, const void *key, size_t len);

/* Calls fn on every entry, in no particular order; an entry for which fn
 * returns true is removed (fn then owns its value). fn must not change
 * the map otherwise. */
void gv_rmap_each(gv_rmap *m, bool (*fn)(void *ctx, const void *key, size_t len, void *val),
                  void *ctx);

#endif
