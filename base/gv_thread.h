/*
 * gv_thread.h - threads, mutexes and condition variables.
 *
 * Thin wrappers so that node/ and the modules above it never name the
 * operating system. A failing pthread call here is a broken invariant (or
 * an exhausted machine) and panics; none of these return errors, except
 * gv_thread_start, whose failure a caller may want to report.
 *
 * gv_mutex remembers its owner in builds without NDEBUG, so code can
 * assert that a lock is held where it must be (as SQLite does).
 */
#ifndef GV_THREAD_H
#define GV_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gv_thread {
    pthread_t t;
} gv_thread;

typedef void *(*gv_thread_fn)(void *arg);

/* Starts fn(arg) on a new thread named `name` (at most 15 characters are
 * kept). Returns false if the OS refused. */
bool gv_thread_start(gv_thread *th, const char *name, gv_thread_fn fn, void *arg);

/* Waits for the thread to finish. Blocks. */
void gv_thread_join(gv_thread *th);

/* A small integer naming the calling thread (its OS thread id), for log
 * lines and lock-owner checks. Any thread. */
uint64_t gv_thread_id(void);

/* The number of online CPUs, at least 1. */
unsigned gv_cpu_count(void);

/* Tells the CPU the caller is spinning (PAUSE on x86). */
static inline void gv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Gives the rest of the time slice to another thread. */
void gv_thread_yield(void);

typedef struct gv_mutex {
    pthread_mutex_t m;
    _Atomic uint64_t owner; /* gv_thread_id() of the holder, 0 if none */
} gv_mutex;

void gv_mutex_init(gv_mutex *m);
void gv_mutex_fini(gv_mutex *m);
void gv_mutex_lock(gv_mutex *m);
void gv_mutex_unlock(gv_mutex *m);

/* Aborts unless the calling thread holds m (checked without NDEBUG). */
#ifndef NDEBUG
void gv_mutex_assert_held(gv_mutex *m);
#else
static inline void gv_mutex_assert_held(gv_mutex *m)
{
    (void)m;
}
#endif

typedef struct gv_cond {
    pthread_cond_t c;
} gv_cond;

/* Condition variables measure timeouts on the monotonic clock. */
void gv_cond_init(gv_cond *c);
void gv_cond_fini(gv_cond *c);
void gv_cond_wait(gv_cond *c, gv_mutex *m);
/* Waits until signalled or until the monotonic clock passes deadline_ns
 * (see gv_now_ns). Returns false on timeout. Spurious wake-ups happen. */
bool gv_cond_wait_until(gv_cond *c, gv_mutex *m, uint64_t deadline_ns);
void gv_cond_signal(gv_cond *c);
void gv_cond_broadcast(gv_cond *c);

#endif
