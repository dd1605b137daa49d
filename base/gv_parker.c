#include "gv_parker.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { S_PARKED = -1, S_EMPTY = 0, S_NOTIFIED = 1 };

void gv_parker_init(gv_parker *p)
{
    atomic_init(&p->state, S_EMPTY);
}

static void s_futex_wait(_Atomic int32_t *word, int32_t expect, const struct timespec *rel)
{
    syscall(SYS_futex, (int32_t *)word, FUTEX_WAIT_PRIVATE, expect, rel, NULL, 0);
}

static void s_futex_wake(_Atomic int32_t *word)
{
    syscall(SYS_futex, (int32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void gv_parker_park(gv_parker *p)
{
    /* Acquire pairs with the release exchange in gv_parker_unpark: a
     * consumed token makes the waker's prior writes visible. NOTIFIED -> EMPTY
     * returns at once; EMPTY -> PARKED goes to sleep. */
    if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acquire) == S_NOTIFIED)
        return;
    for (;;) {
        s_futex_wait(&p->state, S_PARKED, NULL);
        int32_t expect = S_NOTIFIED;
        /* Acquire: as above. */
        if (atomic_compare_exchange_strong_explicit(&p->state, &expect, S_EMPTY,
                                                    memory_order_acquire, memory_order_relaxed))
            return;
        /* Spurious wake-up: state is still PARKED; sleep again. */
    }
}

bool gv_parker_park_for(gv_parker *p, uint64_t timeout_ns)
{
    /* Acquire: pairs with gv_parker_unpark's release exchange. */
    if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acquire) == S_NOTIFIED)
        return true;
    struct timespec rel = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
                           .tv_nsec = (long)(timeout_ns % 1000000000u)};
    s_futex_wait(&p->state, S_PARKED, &rel);
    /* Acquire: pairs with the release exchange of an unpark that came while
     * we slept. Whatever the state, we leave it EMPTY. */
    return atomic_exchange_explicit(&p->state, S_EMPTY, memory_order_acquire) == S_NOTIFIED;
}

void gv_parker_unpark(gv_parker *p)
{
    /* Release: pairs with the acquire in park, publishing our writes. */
    if (atomic_exchange_explicit(&p->state, S_NOTIFIED, memory_order_release) == S_PARKED)
        s_futex_wake(&p->state);
}
