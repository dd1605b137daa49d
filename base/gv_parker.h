/*
 * gv_parker.h - park a thread until another one unparks it.
 *
 * One parker belongs to one thread (the only one that parks on it); any
 * thread may unpark it. An unpark that comes before the park is kept as a
 * token, so the next park returns at once: a wake-up is never lost. On
 * Linux this is a futex word, so a park or unpark with nobody waiting
 * makes no system call.
 *
 * Memory: unpark happens-before the park that it ends (release/acquire on
 * the state word), so whatever the waker wrote before unparking is visible
 * to the parked thread when it returns.
 */
#ifndef GV_PARKER_H
#define GV_PARKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gv_parker {
    _Atomic int32_t state; /* GV_PARK_EMPTY, _NOTIFIED or _PARKED */
} gv_parker;

void gv_parker_init(gv_parker *p);

/* Blocks until unparked (consumes the token). Only the owner thread. */
void gv_parker_park(gv_parker *p);

/* Blocks until unparked or until timeout_ns nanoseconds pass. Returns true
 * when a token was consumed, false on timeout (spurious early returns are
 * possible, reported as false). Only the owner thread. */
bool gv_parker_park_for(gv_parker *p, uint64_t timeout_ns);

/* Wakes the owner, or leaves a token for its next park. Any thread; never
 * blocks. */
void gv_parker_unpark(gv_parker *p);

#endif
