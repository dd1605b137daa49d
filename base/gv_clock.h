/*
 * gv_clock.h - the monotonic clock.
 *
 * Every duration in Grove is measured on a clock that never goes back and
 * does not jump with wall-clock changes (CLOCK_MONOTONIC on Linux).
 */
#ifndef GV_CLOCK_H
#define GV_CLOCK_H

#include <stdint.h>

/* Nanoseconds since an arbitrary fixed point. Any thread; never blocks. */
uint64_t gv_now_ns(void);

/* Milliseconds on the same clock. */
static inline uint64_t gv_now_ms(void)
{
    return gv_now_ns() / 1000000u;
}

/* Sleeps the calling thread for at least ms milliseconds. Blocks. */
void gv_sleep_ms(uint64_t ms);

/* Wall-clock time as nanoseconds since the Unix epoch, for log lines
 * only (never for durations). */
uint64_t gv_wall_ns(void);

#endif
