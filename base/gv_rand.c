#include "gv_rand.h"

#include "gv_clock.h"

#include <sys/random.h>

static uint64_t s_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t gv_random_seed(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v)
        return v;
    uint64_t x = gv_now_ns() ^ (uint64_t)(uintptr_t)&v;
    return s_splitmix(&x);
}

void gv_rng_seed(gv_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = s_splitmix(&x);
}

static inline uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t gv_rng_next(gv_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

uint32_t gv_rng_below(gv_rng *r, uint32_t bound)
{
    /* Lemire's multiply-shift: the bias is below 2^-32 per draw. */
    return (uint32_t)(((gv_rng_next(r) >> 32) * (uint64_t)bound) >> 32);
}
