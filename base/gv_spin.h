/*
 * gv_spin.h - how long an idle thread spins before it sleeps, learned
 * from the gaps it has seen.
 *
 * Spinning pays when work comes back within the spin (a sleep and a
 * wake-up cost tens of microseconds of two threads' time, more in a
 * virtual machine); it only burns a core, which the thread that will make
 * that work may need, when work comes back later. So the budget follows
 * the gaps: an idle spell that ended within `max` (whether the thread was
 * still spinning or had already gone to sleep) sets the budget to `max`;
 * one that lasted longer halves it, down to nothing. A thread that stopped
 * spinning starts again as soon as a gap shows that spinning would have
 * paid. A request/response peer (gaps of a few microseconds) keeps it; a
 * peer that answers far later, or never, loses it after a few rounds.
 *
 * One thread owns a budget: plain fields, no atomics.
 */
#ifndef GV_SPIN_H
#define GV_SPIN_H

#include <stdint.h>

typedef struct gv_spin {
    uint32_t ns;  /* spin this long when idle; 0: sleep at once */
    uint32_t max; /* the longest spin */
} gv_spin;

static inline void gv_spin_init(gv_spin *s, uint32_t max_ns)
{
    s->ns = max_ns;
    s->max = max_ns;
}

/* An idle spell ended after gap_ns: learn from it. */
static inline void gv_spin_learn(gv_spin *s, uint64_t gap_ns)
{
    if (gap_ns <= s->max)
        s->ns = s->max;
    else
        s->ns = s->ns > s->max / 16 ? s->ns / 2 : 0;
}

#endif
