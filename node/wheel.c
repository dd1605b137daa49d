#include "node/wheel.h"

#include "base/gv_alloc.h"

#include <string.h>

#define LEVEL_BITS 6
#define MAX_SPAN (((uint64_t)1 << (LEVEL_BITS * GV_WHEEL_LEVELS)) - 1)

void gv_wheel_init(gv_wheel *w, uint64_t now)
{
    memset(w, 0, sizeof *w);
    w->elapsed = now;
}

void gv_wheel_fini(gv_wheel *w, void (*drop)(void *payload))
{
    for (uint32_t i = 0; i < w->cap; i++)
        if (w->ents[i].active && drop)
            drop(w->ents[i].payload);
    gv_free(w->ents);
    w->ents = NULL;
    w->cap = w->count = 0;
}

static unsigned s_level_for(uint64_t elapsed, uint64_t when)
{
    uint64_t masked = (elapsed ^ when) | (GV_WHEEL_SLOTS - 1);
    if (masked > MAX_SPAN)
        masked = MAX_SPAN;
    unsigned significant = 63u - (unsigned)__builtin_clzll(masked);
    return significant / LEVEL_BITS;
}

static void s_link(gv_wheel *w, uint32_t idx)
{
    gv_wheel_entry *e = &w->ents[idx];
    uint64_t when = e->deadline;
    if (when <= w->elapsed)
        when = w->elapsed; /* due: the current level-0 slot handles it */
    if (when - w->elapsed > MAX_SPAN)
        when = w->elapsed + MAX_SPAN; /* too far: park at the top, re-sort later */
    unsigned level = s_level_for(w->elapsed, when);
    unsigned slot = (unsigned)(when >> (level * LEVEL_BITS)) & (GV_WHEEL_SLOTS - 1);
    e->level = (uint8_t)level;
    e->slot = (uint8_t)slot;
    /* Append at the tail so equal deadlines fire in insertion order: keep
     * the list circular-free; walk is avoided by storing tail in prev of
     * head. */
    uint32_t head1 = w->heads[level][slot];
    e->next = 0;
    if (!head1) {
        e->prev = idx + 1; /* head's prev points at the tail (itself) */
        w->heads[level][slot] = idx + 1;
    } else {
        gv_wheel_entry *h = &w->ents[head1 - 1];
        uint32_t tail1 = h->prev;
        w->ents[tail1 - 1].next = idx + 1;
        e->prev = tail1;
        h->prev = idx + 1;
    }
    w->occupied[level] |= (uint64_t)1 << slot;
}

static void s_unlink(gv_wheel *w, uint32_t idx)
{
    gv_wheel_entry *e = &w->ents[idx];
    uint32_t *headp = &w->heads[e->level][e->slot];
    gv_wheel_entry *h = &w->ents[*headp - 1];
    if (*headp == idx + 1) {
        *headp = e->next;
        if (e->next)
            w->ents[e->next - 1].prev = e->prev; /* new head keeps the tail */
    } else {
        w->ents[e->prev - 1].next = e->next;
        if (e->next)
            w->ents[e->next - 1].prev = e->prev;
        else
            h->prev = e->prev; /* we were the tail */
    }
    if (!*headp)
        w->occupied[e->level] &= ~((uint64_t)1 << e->slot);
}

uint64_t gv_wheel_insert(gv_wheel *w, uint64_t deadline, void *payload)
{
    if (!w->free1) {
        uint32_t ncap = w->cap ? w->cap * 2 : 64;
        w->ents = gv_realloc(w->ents, (size_t)ncap * sizeof *w->ents);
        memset(&w->ents[w->cap], 0, (size_t)(ncap - w->cap) * sizeof *w->ents);
        for (uint32_t i = ncap; i > w->cap; i--) {
            w->ents[i - 1].next = w->free1;
            w->free1 = i;
        }
        w->cap = ncap;
    }
    uint32_t idx = w->free1 - 1;
    gv_wheel_entry *e = &w->ents[idx];
    w->free1 = e->next;
    e->gen++;
    if (e->gen == 0)
        e->gen = 1;
    e->deadline = deadline;
    e->payload = payload;
    e->active = true;
    s_link(w, idx);
    w->count++;
    return (uint64_t)e->gen << 32 | (idx + 1);
}

static void s_release(gv_wheel *w, uint32_t idx)
{
    gv_wheel_entry *e = &w->ents[idx];
    e->active = false;
    e->payload = NULL;
    e->next = w->free1;
    w->free1 = idx + 1;
    w->count--;
}

void *gv_wheel_cancel(gv_wheel *w, uint64_t handle)
{
    uint32_t idx1 = (uint32_t)handle;
    if (!idx1 || idx1 > w->cap)
        return NULL;
    gv_wheel_entry *e = &w->ents[idx1 - 1];
    if (!e->active || e->gen != (uint32_t)(handle >> 32))
        return NULL;
    void *payload = e->payload;
    s_unlink(w, idx1 - 1);
    s_release(w, idx1 - 1);
    return payload;
}

/* The next occupied slot's start, at the lowest occupied level. */
static bool s_next_expiration(const gv_wheel *w, unsigned *level, unsigned *slot, uint64_t *when)
{
    for (unsigned l = 0; l < GV_WHEEL_LEVELS; l++) {
        uint64_t occ = w->occupied[l];
        if (!occ)
            continue;
        unsigned shift = l * LEVEL_BITS;
        unsigned now_slot = (unsigned)(w->elapsed >> shift) & (GV_WHEEL_SLOTS - 1);
        uint64_t rotated = now_slot ? (occ >> now_slot) | (occ << (64 - now_slot)) : occ;
        unsigned s = ((unsigned)__builtin_ctzll(rotated) + now_slot) % GV_WHEEL_SLOTS;
        uint64_t level_range = (uint64_t)1 << (shift + LEVEL_BITS);
        uint64_t slot_range = (uint64_t)1 << shift;
        uint64_t start = w->elapsed & ~(level_range - 1);
        uint64_t t = start + (uint64_t)s * slot_range;
        if (s < now_slot)
            t += level_range; /* wrapped into the next rotation */
        *level = l;
        *slot = s;
        *when = t;
        return true;
    }
    return false;
}

uint64_t gv_wheel_next(const gv_wheel *w)
{
    unsigned l, s;
    uint64_t t;
    if (!s_next_expiration(w, &l, &s, &t))
        return GV_WHEEL_NONE;
    return t < w->elapsed ? w->elapsed : t;
}

void gv_wheel_advance(gv_wheel *w, uint64_t now, void (*fire)(void *payload, void *arg), void *arg)
{
    unsigned l, s;
    uint64_t t;
    while (s_next_expiration(w, &l, &s, &t)) {
        if (t > now)
            break;
        if (t > w->elapsed)
            w->elapsed = t;
        /* Take the slot's whole list, then file each entry anew: due ones
         * fire, the others drop to a finer level. */
        uint32_t i1 = w->heads[l][s];
        w->heads[l][s] = 0;
        w->occupied[l] &= ~((uint64_t)1 << s);
        while (i1) {
            gv_wheel_entry *e = &w->ents[i1 - 1];
            uint32_t next1 = e->next;
            if (e->deadline <= w->elapsed || (l == 0 && e->deadline <= now)) {
                void *payload = e->payload;
                s_release(w, i1 - 1);
                fire(payload, arg);
            } else {
                s_link(w, i1 - 1);
            }
            i1 = next1;
        }
    }
    if (now > w->elapsed)
        w->elapsed = now;
}
