/*
 * ptab.h - the process table: pid -> control block, safely.
 *
 * A pid's id is a slot index and its serial the slot's generation. Each
 * slot holds one 64-bit word:
 *
 *     generation (32) | references (31) | alive (1)
 *
 * A sender resolves a pid with one CAS that checks the generation and the
 * alive bit and takes a reference in the same step; it pushes its signal
 * and drops the reference. The process holds one reference of its own
 * while it runs. When it dies it clears `alive` (so no new sender gets in)
 * and drops its own reference; whoever drops the last reference - the
 * process or a sender still pushing - finalizes the control block: it
 * handles what was pushed meanwhile, frees the block, bumps the generation
 * and puts the slot on the free list. A stale pid fails the generation
 * check and is never dereferenced; a block is never freed under a sender.
 *
 * Why references and not epochs: a send already touches the receiver's
 * cache lines (its mailbox head), so one more atomic on the slot costs
 * little, and reclamation is immediate and local, with no global epoch to
 * advance or stall on.
 *
 * Slots live in chunks that are never freed while the node lives, so a
 * slot word can always be read; freed slots are reused (LIFO) with the
 * next generation, so the id space does not run out.
 */
#ifndef GV_PTAB_H
#define GV_PTAB_H

#include "base/gv_alloc.h"
#include "base/gv_thread.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct grove_proc grove_proc;

#define GV_PTAB_CHUNK_BITS 12
#define GV_PTAB_CHUNK (1u << GV_PTAB_CHUNK_BITS)
#define GV_PTAB_DIR (1u << 18) /* up to 2^30 simultaneous processes */

typedef struct gv_slot {
    _Atomic uint64_t word;
    grove_proc *_Atomic pcb;
    _Atomic uint32_t next_free; /* index + 1 of the next free slot, 0 = none */
} gv_slot;

typedef struct gv_ptab {
    gv_slot *_Atomic *dir; /* GV_PTAB_DIR chunk pointers: read by every send */
    /* Written on every spawn and exit: a line of their own, away from dir
     * (the table lives in a cache-line aligned grove_node). */
    _Alignas(GV_CACHE_LINE) _Atomic uint32_t fresh; /* next never-used index */
    _Atomic uint64_t free_top;                      /* ABA tag (32) | index + 1 (32) */
    _Atomic uint64_t live;                          /* slots in use (allocated, not yet recycled) */
    gv_mutex grow_mu;
} gv_ptab;

void gv_ptab_init(gv_ptab *t);
/* Frees the chunks; every slot must be free. */
void gv_ptab_fini(gv_ptab *t);

/* Takes a free slot and returns its index and generation (the pid-to-be).
 * Nothing resolves to it until gv_ptab_publish. Any thread. */
void gv_ptab_reserve(gv_ptab *t, uint32_t *id, uint32_t *gen);

/* Publishes p in a reserved slot, alive, with one reference (the
 * process's own). Everything written to p before is visible to whoever
 * resolves it. */
void gv_ptab_publish(gv_ptab *t, uint32_t id, grove_proc *p);

/* The slot word. */
#define GV_PTAB_ALIVE ((uint64_t)1)
#define GV_PTAB_REF ((uint64_t)2)
#define GV_PTAB_REFS_MASK ((uint64_t)0xfffffffeu)
#define GV_PTAB_GEN(w) ((uint32_t)((w) >> 32))

/* The slot of id, or NULL if its chunk was never allocated. */
static inline gv_slot *gv_ptab_slot(gv_ptab *t, uint32_t id)
{
    if ((id >> GV_PTAB_CHUNK_BITS) >= GV_PTAB_DIR)
        return NULL;
    /* Acquire: pairs with the release store that published the chunk. */
    gv_slot *c = atomic_load_explicit(&t->dir[id >> GV_PTAB_CHUNK_BITS], memory_order_acquire);
    return c ? &c[id & (GV_PTAB_CHUNK - 1)] : NULL;
}

_Noreturn void gv_ptab_too_many_refs(uint32_t id);

/* Resolves (id, gen) to a live block and takes a reference, or returns
 * NULL. Any thread. (Inline: every send does it. A slot in an allocated
 * chunk that was never handed out has generation 1 and is not alive, so
 * no check against the table's extent is needed.) */
static inline grove_proc *gv_ptab_acquire(gv_ptab *t, uint32_t id, uint32_t gen)
{
    gv_slot *s = gv_ptab_slot(t, id);
    if (!s)
        return NULL;
    /* Acquire: pairs with the release in gv_ptab_publish (pcb and the
     * block's contents) and with the releases of other reference holders. */
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    for (;;) {
        if (GV_PTAB_GEN(w) != gen || !(w & GV_PTAB_ALIVE))
            return NULL;
        if ((w & GV_PTAB_REFS_MASK) == GV_PTAB_REFS_MASK)
            gv_ptab_too_many_refs(id);
        if (atomic_compare_exchange_weak_explicit(&s->word, &w, w + GV_PTAB_REF,
                                                  memory_order_acq_rel, memory_order_acquire))
            return atomic_load_explicit(&s->pcb, memory_order_relaxed);
    }
}

/* Drops a reference. Returns true when it was the last one of a dead
 * process: the caller must finalize the block, then call gv_ptab_recycle. */
static inline bool gv_ptab_release(gv_ptab *t, uint32_t id)
{
    /* Relaxed: the caller holds a reference, so it resolved this slot
     * before (with acquire) and the chunk never moves. */
    gv_slot *s = &atomic_load_explicit(&t->dir[id >> GV_PTAB_CHUNK_BITS],
                                       memory_order_relaxed)[id & (GV_PTAB_CHUNK - 1)];
    /* acq_rel: release hands our pushes to the finalizer; acquire makes the
     * last releaser see every other holder's pushes and the process's
     * own writes before it finalizes. */
    uint64_t w = atomic_fetch_sub_explicit(&s->word, GV_PTAB_REF, memory_order_acq_rel);
    return (w & GV_PTAB_REFS_MASK) == GV_PTAB_REF && !(w & GV_PTAB_ALIVE);
}

/* Clears the alive bit (the process is dying). Returns true if it was set. */
bool gv_ptab_kill(gv_ptab *t, uint32_t id);

/* Bumps the slot's generation and frees it for reuse. */
void gv_ptab_recycle(gv_ptab *t, uint32_t id);

/* For scans (shutdown, statistics): the number of indices ever used, and
 * the live block at index i with a reference taken (NULL if none). */
uint32_t gv_ptab_extent(gv_ptab *t);
grove_proc *gv_ptab_acquire_index(gv_ptab *t, uint32_t id, uint32_t *gen);

#endif
