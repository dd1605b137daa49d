#include "node/ptab.h"

#include "base/gv_alloc.h"

#define W_ALIVE GV_PTAB_ALIVE
#define W_REF GV_PTAB_REF
#define W_REFS_MASK GV_PTAB_REFS_MASK
#define W_GEN(w) GV_PTAB_GEN(w)

void gv_ptab_init(gv_ptab *t)
{
    t->dir = gv_calloc(GV_PTAB_DIR, sizeof *t->dir);
    atomic_init(&t->fresh, 0);
    atomic_init(&t->free_top, 0);
    atomic_init(&t->live, 0);
    gv_mutex_init(&t->grow_mu);
}

void gv_ptab_fini(gv_ptab *t)
{
    if (!t->dir)
        return;
    for (uint32_t i = 0; i < GV_PTAB_DIR; i++) {
        gv_slot *c = atomic_load_explicit(&t->dir[i], memory_order_relaxed);
        if (!c)
            break;
        gv_free(c);
    }
    gv_free((void *)t->dir);
    t->dir = NULL;
    gv_mutex_fini(&t->grow_mu);
}

static gv_slot *s_slot(gv_ptab *t, uint32_t id)
{
    return gv_ptab_slot(t, id);
}

static uint32_t s_pop_free(gv_ptab *t)
{
    /* Acquire: pairs with the release CAS in gv_ptab_recycle, so the
     * slot's next_free and bumped generation are visible. */
    uint64_t top = atomic_load_explicit(&t->free_top, memory_order_acquire);
    for (;;) {
        uint32_t idx1 = (uint32_t)top;
        if (!idx1)
            return 0;
        gv_slot *s = s_slot(t, idx1 - 1);
        uint32_t next = atomic_load_explicit(&s->next_free, memory_order_relaxed);
        /* The tag in the high half makes a pop/push/pop in between fail
         * this CAS (ABA). */
        uint64_t want = ((top >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&t->free_top, &top, want, memory_order_acq_rel,
                                                  memory_order_acquire))
            return idx1;
    }
}

static uint32_t s_fresh(gv_ptab *t)
{
    uint32_t id = atomic_fetch_add_explicit(&t->fresh, 1, memory_order_relaxed);
    if ((id >> GV_PTAB_CHUNK_BITS) >= GV_PTAB_DIR)
        gv_panic("process table full (%u slots)", id);
    if (!s_slot(t, id)) {
        gv_mutex_lock(&t->grow_mu);
        _Atomic(gv_slot *) *cell = &t->dir[id >> GV_PTAB_CHUNK_BITS];
        if (!atomic_load_explicit(cell, memory_order_relaxed)) {
            gv_slot *c = gv_calloc(GV_PTAB_CHUNK, sizeof *c);
            for (uint32_t i = 0; i < GV_PTAB_CHUNK; i++)
                atomic_init(&c[i].word, (uint64_t)1 << 32); /* generation 1 */
            /* Release: the initialised chunk before its pointer. */
            atomic_store_explicit(cell, c, memory_order_release);
        }
        gv_mutex_unlock(&t->grow_mu);
    }
    return id;
}

void gv_ptab_reserve(gv_ptab *t, uint32_t *id, uint32_t *gen)
{
    uint32_t idx1 = s_pop_free(t);
    uint32_t idx = idx1 ? idx1 - 1 : s_fresh(t);
    gv_slot *s = s_slot(t, idx);
    *id = idx;
    *gen = W_GEN(atomic_load_explicit(&s->word, memory_order_relaxed));
    atomic_fetch_add_explicit(&t->live, 1, memory_order_relaxed);
}

void gv_ptab_publish(gv_ptab *t, uint32_t id, grove_proc *p)
{
    gv_slot *s = s_slot(t, id);
    atomic_store_explicit(&s->pcb, p, memory_order_relaxed);
    uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);
    /* Release: publishes pcb (and the block's contents) to any acquirer
     * that sees the alive bit. */
    atomic_store_explicit(&s->word, (w & ~(uint64_t)0xffffffffu) | W_REF | W_ALIVE,
                          memory_order_release);
}

void gv_ptab_too_many_refs(uint32_t id)
{
    gv_panic("too many concurrent references to process %u", id);
}

grove_proc *gv_ptab_acquire_index(gv_ptab *t, uint32_t id, uint32_t *gen)
{
    gv_slot *s = s_slot(t, id);
    if (!s)
        return NULL;
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    *gen = W_GEN(w);
    return gv_ptab_acquire(t, id, W_GEN(w));
}

bool gv_ptab_kill(gv_ptab *t, uint32_t id)
{
    gv_slot *s = s_slot(t, id);
    /* acq_rel: pairs with acquirers' CAS; after this no acquire succeeds. */
    uint64_t w = atomic_fetch_and_explicit(&s->word, ~W_ALIVE, memory_order_acq_rel);
    return (w & W_ALIVE) != 0;
}

void gv_ptab_recycle(gv_ptab *t, uint32_t id)
{
    gv_slot *s = s_slot(t, id);
    uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);
    uint32_t g = W_GEN(w) + 1;
    if (g == 0)
        g = 1; /* generation 0 never names a process */
    atomic_store_explicit(&s->pcb, NULL, memory_order_relaxed);
    atomic_store_explicit(&s->word, (uint64_t)g << 32, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
    uint64_t top = atomic_load_explicit(&t->free_top, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&s->next_free, (uint32_t)top, memory_order_relaxed);
        uint64_t want = ((top >> 32) + 1) << 32 | (uint64_t)(id + 1);
        /* Release: pairs with the acquire in s_pop_free (next_free, word). */
        if (atomic_compare_exchange_weak_explicit(&t->free_top, &top, want, memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

uint32_t gv_ptab_extent(gv_ptab *t)
{
    return atomic_load_explicit(&t->fresh, memory_order_acquire);
}
