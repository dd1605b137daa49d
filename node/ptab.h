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
    gv_slot *_Atomic *dir;     /* GV_PTAB_DIR chunk pointers */
    _Atomic uint32_t fresh;    /* next never-used index */
    _Atomic uint64_t free_top; /* ABA tag (32) | index + 1 (32) */
    _Atomic uint64_t live;     /* slots in use (allocated, not yet recycled) */
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

/* Resolves (id, gen) to a live block and takes a reference, or returns
 * NULL. Any thread. */
grove_proc *gv_ptab_acquire(gv_ptab *t, uint32_t id, uint32_t gen);

/* Drops a reference. Returns true when it was the last one of a dead
 * process: the caller must finalize the block, then call gv_ptab_recycle. */
bool gv_ptab_release(gv_ptab *t, uint32_t id);

/* Clears the alive bit (the process is dying). Returns true if it was set. */
bool gv_ptab_kill(gv_ptab *t, uint32_t id);

/* Bumps the slot's generation and frees it for reuse. */
void gv_ptab_recycle(gv_ptab *t, uint32_t id);

/* For scans (shutdown, statistics): the number of indices ever used, and
 * the live block at index i with a reference taken (NULL if none). */
uint32_t gv_ptab_extent(gv_ptab *t);
grove_proc *gv_ptab_acquire_index(gv_ptab *t, uint32_t id, uint32_t *gen);

#endif
