/*
 * wheel.h - a hierarchical timing wheel (one per worker).
 *
 * Six levels of 64 slots over 1 ms ticks cover 2^36 ms (about two years);
 * a timer sits in the level whose slot width matches how far away it is,
 * and moves down a level each time the wheel reaches its slot, so insert,
 * cancel and expiry are O(1) per timer and finding the next deadline is a
 * few bit scans. Entries live in a slab indexed by handle, so a handle is
 * (index, generation) and a stale handle is detected, not dereferenced.
 *
 * Not thread-safe: the owner (a worker) serialises access with its lock.
 */
#ifndef GV_WHEEL_H
#define GV_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define GV_WHEEL_LEVELS 6
#define GV_WHEEL_SLOTS 64
#define GV_WHEEL_NONE UINT64_MAX

typedef struct gv_wheel_entry {
    uint64_t deadline;
    void *payload;       /* owned by the caller's convention */
    uint32_t gen;        /* generation of this slab slot */
    uint32_t prev, next; /* slot list links (index + 1, 0 = none); next: free list too */
    uint8_t level, slot;
    bool active;
} gv_wheel_entry;

typedef struct gv_wheel {
    uint64_t elapsed; /* every deadline <= elapsed has been handed out */
    uint64_t occupied[GV_WHEEL_LEVELS];
    uint32_t heads[GV_WHEEL_LEVELS][GV_WHEEL_SLOTS]; /* index + 1 */
    gv_wheel_entry *ents;
    uint32_t cap;
    uint32_t free1; /* free list, index + 1 */
    uint32_t count; /* active entries */
} gv_wheel;

void gv_wheel_init(gv_wheel *w, uint64_t now);
/* Frees the slab; calls drop(payload) for every active entry (drop may be
 * NULL). */
void gv_wheel_fini(gv_wheel *w, void (*drop)(void *payload));

/* Adds a timer. If deadline <= elapsed it still goes in and is handed out
 * by the next advance. Returns a handle (index + 1 in the low half,
 * generation in the high half; never 0). */
uint64_t gv_wheel_insert(gv_wheel *w, uint64_t deadline, void *payload);

/* Removes a pending timer; returns its payload, or NULL if the handle is
 * stale (fired or cancelled). */
void *gv_wheel_cancel(gv_wheel *w, uint64_t handle);

/* The earliest deadline of a pending timer (a lower bound when the
 * earliest sits in a coarse slot), or GV_WHEEL_NONE. */
uint64_t gv_wheel_next(const gv_wheel *w);

/* Moves time to `now`, calling fire(payload, arg) for each due timer in
 * deadline order (ties in insertion order within a slot). */
void gv_wheel_advance(gv_wheel *w, uint64_t now, void (*fire)(void *payload, void *arg), void *arg);

#endif
