/*
 * task_pool.c - the threads that run tasks' functions, one pool per node.
 *
 * A pool has `base` threads (GROVE_TASK_THREADS, default 4) and a queue of
 * jobs under one mutex: tasks are coarse (each is a process spawn plus a
 * function that may block), so a lock costs nothing next to them.
 *
 * Growth: a pool thread whose task waits on Grove (grove_task_await,
 * grove_call, ...) is "blocked"; when jobs wait and fewer than `base`
 * threads are neither idle nor blocked, the pool starts one more thread,
 * up to 16 x base. So tasks that await tasks cannot starve the pool. Extra
 * threads stay until the pool ends (docs/otp.md).
 *
 * Lifetime: the node knows nothing of otp/, so a pool is tied to its node
 * through a "keeper" process, spawned with the pool. When the node stops,
 * the keeper is killed like every process, and its terminate closes the
 * pool, reports queued jobs as shut down and joins the threads - on a
 * worker, before the node can free itself, so no pool thread ever touches
 * a freed node. A pool accepts jobs only once its keeper's init has run
 * (`armed`): a keeper killed before its init would run no terminate.
 */
#include "otp/otp_impl.h"

#include "base/gv_alloc.h"
#include "base/gv_log.h"
#include "base/gv_thread.h"

#include <stdatomic.h>
#include <stdlib.h>

typedef struct s_pool {
    grove_node *node;
    uint32_t creation;
    gv_mutex mu;
    gv_cond cv;
    grove_task_ctx *qhead, *qtail; /* jobs waiting for a thread */
    size_t queued;
    unsigned base, cap;
    unsigned nthreads, idle, blocked;
    bool closed, armed;
    gv_thread *threads; /* cap entries, nthreads used */
} s_pool;

/* The pool of the thread running a task (NULL on other threads). */
static _Thread_local s_pool *s_tl_pool;

/* ---- jobs ---------------------------------------------------------------------------- */

void gv_job_release(grove_task_ctx *job)
{
    /* acq_rel: the last owner sees every write the other made. */
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1)
        return;
    grove_term_destroy(&job->arg);
    gv_free(job);
}

void gv_job_run(grove_task_ctx *job)
{
    /* Acquire: pairs with the release store of the task process's terminate. */
    grove_term *r = NULL;
    bool cancelled = atomic_load_explicit(&job->cancelled, memory_order_acquire);
    if (!cancelled)
        r = job->fn(job, job->arg, job->udata);
    grove_term *msg = r           ? grove_pack("{'$task_done', {ok, ~t}}", r)
                      : cancelled ? grove_pack("{'$task_done', {exit, shutdown}}")
                                  : grove_pack("{'$task_done', failed}");
    grove_node_send(job->node, job->task, msg);
    gv_job_release(job);
}

void gv_job_drop(grove_task_ctx *job)
{
    grove_node_send(job->node, job->task, grove_pack("{'$task_done', {exit, shutdown}}"));
    gv_job_release(job);
}

bool grove_task_cancelled(const grove_task_ctx *ctx)
{
    return atomic_load_explicit(&((grove_task_ctx *)ctx)->cancelled, memory_order_acquire);
}

grove_node *grove_task_node(const grove_task_ctx *ctx)
{
    return ctx->node;
}

grove_pid grove_task_self(const grove_task_ctx *ctx)
{
    return ctx->task;
}

/* ---- threads ------------------------------------------------------------------------------ */

unsigned gv_task_threads(void)
{
    const char *v = getenv("GROVE_TASK_THREADS");
    if (v && *v) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 1024)
            return (unsigned)n;
    }
    return 4;
}

static void *s_thread_main(void *arg)
{
    s_pool *p = arg;
    s_tl_pool = p;
    gv_mutex_lock(&p->mu);
    for (;;) {
        while (!p->qhead && !p->closed) {
            p->idle++;
            gv_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        grove_task_ctx *job = p->qhead;
        if (!job)
            break; /* closed, and the queue was handed back */
        p->qhead = job->next;
        if (!p->qhead)
            p->qtail = NULL;
        p->queued--;
        gv_mutex_unlock(&p->mu);
        gv_job_run(job);
        gv_mutex_lock(&p->mu);
    }
    gv_mutex_unlock(&p->mu);
    return NULL;
}

static void s_add_thread(s_pool *p)
{
    gv_mutex_assert_held(&p->mu);
    if (p->nthreads >= p->cap)
        return;
    if (!gv_thread_start(&p->threads[p->nthreads], "grove-task", s_thread_main, p)) {
        gv_log(GV_LOG_ERROR, "task", "thread_start_failed", "threads=%u", p->nthreads);
        return;
    }
    p->nthreads++;
}

/* More jobs than idle threads, and fewer than `base` threads at work. */
static void s_maybe_grow(s_pool *p)
{
    gv_mutex_assert_held(&p->mu);
    if (!p->closed && p->queued > p->idle && p->nthreads - p->blocked < p->base)
        s_add_thread(p);
}

void gv_task_block_begin(void)
{
    s_pool *p = s_tl_pool;
    if (!p)
        return;
    gv_mutex_lock(&p->mu);
    p->blocked++;
    s_maybe_grow(p);
    gv_mutex_unlock(&p->mu);
}

void gv_task_block_end(void)
{
    s_pool *p = s_tl_pool;
    if (!p)
        return;
    gv_mutex_lock(&p->mu);
    p->blocked--;
    gv_mutex_unlock(&p->mu);
}

static s_pool *s_pool_new(grove_node *node)
{
    s_pool *p = gv_calloc(1, sizeof *p);
    p->node = node;
    p->creation = grove_node_creation(node);
    gv_mutex_init(&p->mu);
    gv_cond_init(&p->cv);
    p->base = gv_task_threads();
    p->cap = p->base * 16;
    p->threads = gv_calloc(p->cap, sizeof *p->threads);
    gv_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->base; i++)
        s_add_thread(p);
    gv_mutex_unlock(&p->mu);
    return p;
}

/* Closes the pool, reports its queued jobs as shut down, waits for the
 * running ones and frees it. Blocks. */
static void s_pool_close(s_pool *p)
{
    gv_mutex_lock(&p->mu);
    p->closed = true;
    grove_task_ctx *q = p->qhead;
    p->qhead = p->qtail = NULL;
    p->queued = 0;
    unsigned n = p->nthreads;
    gv_cond_broadcast(&p->cv);
    gv_mutex_unlock(&p->mu);
    while (q) {
        grove_task_ctx *next = q->next;
        gv_job_drop(q);
        q = next;
    }
    for (unsigned i = 0; i < n; i++)
        gv_thread_join(&p->threads[i]);
    gv_cond_fini(&p->cv);
    gv_mutex_fini(&p->mu);
    gv_free(p->threads);
    gv_free(p);
}

/* ---- the pools of all nodes ---------------------------------------------------------------- */

typedef struct s_entry {
    grove_node *node;
    uint32_t creation;
    s_pool *pool;
} s_entry;

static gv_mutex s_map_mu;
static _Atomic int s_map_state; /* 0: not made, 1: being made, 2: ready */
static s_entry *s_map;
static size_t s_map_n, s_map_cap;

static void s_map_lock(void)
{
    /* Acquire: pairs with the release store after gv_mutex_init. */
    if (atomic_load_explicit(&s_map_state, memory_order_acquire) != 2) {
        int expect = 0;
        if (atomic_compare_exchange_strong_explicit(&s_map_state, &expect, 1, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            gv_mutex_init(&s_map_mu);
            atomic_store_explicit(&s_map_state, 2, memory_order_release);
        } else {
            while (atomic_load_explicit(&s_map_state, memory_order_acquire) != 2)
                gv_thread_yield();
        }
    }
    gv_mutex_lock(&s_map_mu);
}

static void s_map_unlock(void)
{
    gv_mutex_unlock(&s_map_mu);
}

/* The pool of node; an entry for an earlier node at the same address
 * (whose keeper never ran) is closed and dropped. */
static s_pool *s_map_find(grove_node *node)
{
    gv_mutex_assert_held(&s_map_mu);
    for (size_t i = 0; i < s_map_n; i++) {
        if (s_map[i].node != node)
            continue;
        if (s_map[i].creation == grove_node_creation(node))
            return s_map[i].pool;
        s_pool *stale = s_map[i].pool;
        s_map[i] = s_map[--s_map_n];
        s_pool_close(stale);
        return NULL;
    }
    return NULL;
}

static void s_map_add(grove_node *node, s_pool *p)
{
    gv_mutex_assert_held(&s_map_mu);
    if (s_map_n == s_map_cap) {
        s_map_cap = s_map_cap ? s_map_cap * 2 : 4;
        s_map = gv_realloc(s_map, s_map_cap * sizeof *s_map);
    }
    s_map[s_map_n++] = (s_entry){node, grove_node_creation(node), p};
}

static void s_map_remove(s_pool *p)
{
    s_map_lock();
    for (size_t i = 0; i < s_map_n; i++) {
        if (s_map[i].pool == p) {
            s_map[i] = s_map[--s_map_n];
            break;
        }
    }
    if (s_map_n == 0) {
        gv_free(s_map);
        s_map = NULL;
        s_map_cap = 0;
    }
    s_map_unlock();
}

/* ---- the keeper --------------------------------------------------------------------------------
 */

static grove_err s_keeper_init(grove_proc *self, const grove_term *arg, void **state)
{
    uint64_t u;
    if (!grove_match(arg, "~u", &u))
        gv_panic("task pool keeper: bad argument");
    s_pool *p = (s_pool *)gv_u64_ptr(u);
    gv_mutex_lock(&p->mu);
    p->armed = true;
    gv_mutex_unlock(&p->mu);
    *state = p;
    return GROVE_OK;
}

static grove_ret s_keeper_handle(grove_proc *self, const grove_term *msg, void *state)
{
    return GROVE_CONTINUE;
}

static void s_keeper_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_pool *p = state;
    s_map_remove(p);
    s_pool_close(p); /* blocks this worker until running task functions return */
}

static const grove_behaviour s_keeper = {
    .name = "task_pool",
    .init = s_keeper_init,
    .handle = s_keeper_handle,
    .terminate = s_keeper_terminate,
};

grove_err gv_pool_submit(grove_node *node, grove_task_ctx *job)
{
    s_map_lock();
    s_pool *p = s_map_find(node);
    if (!p) {
        p = s_pool_new(node);
        grove_err err = grove_node_spawn(node, &s_keeper, grove_pack("~u", gv_ptr_u64(p)),
                                         &(grove_spawn_opts){.name = "task_pool"}, NULL);
        if (err) {
            s_map_unlock();
            s_pool_close(p);
            return err;
        }
        s_map_add(node, p);
    }
    gv_mutex_lock(&p->mu);
    grove_err err = p->closed ? GROVE_ECLOSED : !p->armed ? GROVE_EAGAIN : GROVE_OK;
    if (err == GROVE_OK) {
        /* Relaxed: the pool's reference; the queue's mutex publishes the job. */
        atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
        job->next = NULL;
        if (p->qtail)
            p->qtail->next = job;
        else
            p->qhead = job;
        p->qtail = job;
        p->queued++;
        if (p->idle)
            gv_cond_signal(&p->cv);
        s_maybe_grow(p);
    }
    gv_mutex_unlock(&p->mu);
    s_map_unlock();
    return err;
}
