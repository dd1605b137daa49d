#include "gv_thread.h"

#include "gv_alloc.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

bool gv_thread_start(gv_thread *th, const char *name, gv_thread_fn fn, void *arg)
{
    if (pthread_create(&th->t, NULL, fn, arg) != 0)
        return false;
    if (name) {
        char buf[16];
        strncpy(buf, name, sizeof buf - 1);
        buf[sizeof buf - 1] = '\0';
        pthread_setname_np(th->t, buf);
    }
    return true;
}

void gv_thread_join(gv_thread *th)
{
    int rc = pthread_join(th->t, NULL);
    if (rc != 0)
        gv_panic("pthread_join: %s", strerror(rc));
}

uint64_t gv_thread_id(void)
{
    static _Thread_local uint64_t s_tid;
    if (!s_tid)
        s_tid = (uint64_t)syscall(SYS_gettid);
    return s_tid;
}

unsigned gv_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

void gv_thread_yield(void)
{
    sched_yield();
}

void gv_mutex_init(gv_mutex *m)
{
    int rc = pthread_mutex_init(&m->m, NULL);
    if (rc != 0)
        gv_panic("pthread_mutex_init: %s", strerror(rc));
    atomic_init(&m->owner, 0);
}

void gv_mutex_fini(gv_mutex *m)
{
    pthread_mutex_destroy(&m->m);
}

void gv_mutex_lock(gv_mutex *m)
{
    int rc = pthread_mutex_lock(&m->m);
    if (rc != 0)
        gv_panic("pthread_mutex_lock: %s", strerror(rc));
    /* Relaxed: owner is only a debugging aid, read by the holder itself. */
    atomic_store_explicit(&m->owner, gv_thread_id(), memory_order_relaxed);
}

void gv_mutex_unlock(gv_mutex *m)
{
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    int rc = pthread_mutex_unlock(&m->m);
    if (rc != 0)
        gv_panic("pthread_mutex_unlock: %s", strerror(rc));
}

#ifndef NDEBUG
void gv_mutex_assert_held(gv_mutex *m)
{
    if (atomic_load_explicit(&m->owner, memory_order_relaxed) != gv_thread_id())
        gv_panic("mutex %p not held by the calling thread", (void *)m);
}
#endif

void gv_cond_init(gv_cond *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&c->c, &a);
    pthread_condattr_destroy(&a);
    if (rc != 0)
        gv_panic("pthread_cond_init: %s", strerror(rc));
}

void gv_cond_fini(gv_cond *c)
{
    pthread_cond_destroy(&c->c);
}

void gv_cond_wait(gv_cond *c, gv_mutex *m)
{
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    pthread_cond_wait(&c->c, &m->m);
    atomic_store_explicit(&m->owner, gv_thread_id(), memory_order_relaxed);
}

bool gv_cond_wait_until(gv_cond *c, gv_mutex *m, uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    int rc = pthread_cond_timedwait(&c->c, &m->m, &ts);
    atomic_store_explicit(&m->owner, gv_thread_id(), memory_order_relaxed);
    return rc != ETIMEDOUT;
}

void gv_cond_signal(gv_cond *c)
{
    pthread_cond_signal(&c->c);
}

void gv_cond_broadcast(gv_cond *c)
{
    pthread_cond_broadcast(&c->c);
}
