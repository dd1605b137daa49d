/*
 * gv_rand.h - random seeds and a small fast generator.
 *
 * gv_random_seed() draws from the operating system (for pid creation
 * values, reference salts and default seeds); gv_rng is xoshiro256**, a
 * plain-data generator for the deterministic scheduler and tests: the same
 * seed always gives the same sequence.
 */
#ifndef GV_RAND_H
#define GV_RAND_H

#include <stdint.h>

/* 64 random bits from the OS (getrandom), falling back to a mix of the
 * clock and addresses if the OS refuses. Any thread; may block briefly at
 * boot before the kernel's pool is ready. */
uint64_t gv_random_seed(void);

typedef struct gv_rng {
    uint64_t s[4];
} gv_rng;

/* Seeds r from one 64-bit value (expanded with splitmix64). */
void gv_rng_seed(gv_rng *r, uint64_t seed);

/* The next 64 random bits. Not thread-safe: one generator per owner. */
uint64_t gv_rng_next(gv_rng *r);

/* A value in [0, bound) (bound > 0), without modulo bias worth caring
 * about for scheduling choices. */
uint32_t gv_rng_below(gv_rng *r, uint32_t bound);

#endif
