/*
 * sched.c - the work-stealing scheduler (DESIGN.md section 4).
 *
 * Each worker runs: due timers; then the process in its "next" slot (at
 * most 3 times in a row), else its local queue (the injection queue first
 * every 61st pick, so outside work is never starved), else the injection
 * queue, else - as a "searcher" - half of another worker's queue. A worker
 * that finds nothing spins for up to 30 us (SPIN_NS), then parks; how
 * long it spins is learned from its idle gaps (base/gv_spin.h), so a
 * worker whose work comes back only after a remote round trip sleeps at
 * once instead of burning a core the I/O threads need.
 *
 * Sleep and wake-up (Tokio's scheme). idle_state packs the number of
 * unparked workers and the number of searching ones. A thread that makes
 * work available (a queue push) then calls s_notify, which wakes a parked
 * worker only when nobody is searching and someone is parked: a searcher
 * will find the work, and a wake-up costs ~10 us. A searcher that finds
 * work stops searching and, if it was the last searcher and work is left
 * in some queue, wakes another worker to look for it. A worker going to sleep first registers as
 * parked (an RMW on idle_state), then looks at every queue once more.
 * Both sides are seq_cst RMWs on idle_state after/before their queue
 * accesses, so either the waker sees the sleeper registered, or the
 * sleeper sees the work: no lost wake-up.
 *
 * Deterministic mode: one worker whose runnable set is a bag; each pick is
 * drawn from a generator seeded by the node's seed, and so is the batch
 * size. Same seed, same order; different seeds, different orders.
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_spin.h"

#include <stdio.h>

#define SEARCH_ONE 1u
#define UNPARK_ONE (1u << 16)
#define SEARCHING(s) ((s)&0xffffu)
#define UNPARKED(s) ((s) >> 16)
#define LIFO_MAX 3
#define INJECT_INTERVAL 61
/* How long an idle worker spins (stealing every 16 pauses) before it
 * parks: about three times what a park and a wake-up cost on this kind of
 * machine (a futex wake-to-run takes 7-9 us in the VM the benchmarks run
 * in), so a worker that finds work again soon is not put to sleep and
 * woken for it. With 64 pauses (~2 us), spawning a million processes made
 * 150,000 context switches and took a quarter longer (docs/benchmarks.md). */
#define SPIN_NS 30000u

static _Thread_local gv_worker *s_current;

gv_worker *gv_sched_current(const grove_node *node)
{
    gv_worker *w = s_current;
    return w && w->node == node ? w : NULL;
}

bool gv_sched_on_any_worker(void)
{
    return s_current != NULL;
}

/* ---- wake-ups -------------------------------------------------------------- */

static void s_notify(grove_node *node)
{
    /* seq_cst RMW: orders the caller's queue push before this read of the
     * idle state; pairs with the RMW in s_register_sleeper (see top). */
    uint32_t st = atomic_fetch_add_explicit(&node->idle_state, 0, memory_order_seq_cst);
    if (SEARCHING(st) != 0 || UNPARKED(st) >= node->nworkers)
        return;
    gv_mutex_lock(&node->idle_mu);
    st = atomic_load_explicit(&node->idle_state, memory_order_seq_cst);
    if (SEARCHING(st) != 0 || UNPARKED(st) >= node->nworkers || node->n_sleepers == 0) {
        gv_mutex_unlock(&node->idle_mu);
        return;
    }
    unsigned idx = node->sleepers[--node->n_sleepers];
    /* The woken worker starts as a searcher: it is counted before it runs
     * so that no second waker wakes another one for the same work. */
    atomic_fetch_add_explicit(&node->idle_state, UNPARK_ONE + SEARCH_ONE, memory_order_seq_cst);
    gv_mutex_unlock(&node->idle_mu);
    gv_parker_unpark(&node->workers[idx].parker);
}

static bool s_begin_search(gv_worker *w)
{
    if (w->searching)
        return true;
    grove_node *node = w->node;
    uint32_t st = atomic_load_explicit(&node->idle_state, memory_order_seq_cst);
    for (;;) {
        /* At most half the unparked workers search at once. */
        if (2 * SEARCHING(st) >= UNPARKED(st))
            return false;
        if (atomic_compare_exchange_weak_explicit(&node->idle_state, &st, st + SEARCH_ONE,
                                                  memory_order_seq_cst, memory_order_seq_cst)) {
            w->searching = true;
            return true;
        }
    }
}

static bool s_any_work(grove_node *node);

static void s_end_search(gv_worker *w)
{
    if (!w->searching)
        return;
    w->searching = false;
    uint32_t st = atomic_fetch_sub_explicit(&w->node->idle_state, SEARCH_ONE, memory_order_seq_cst);
    /* The last searcher leaves. Work pushed while it searched woke nobody
     * (its pusher saw a searcher): if any is left, someone else looks.
     * Work pushed from here on sees no searcher and wakes a worker itself
     * (both sides are seq_cst RMWs on idle_state). Waking one for nothing
     * costs two context switches per message in a request/response. */
    if (SEARCHING(st) == 1 && s_any_work(w->node))
        s_notify(w->node);
}

static void s_register_sleeper(gv_worker *w)
{
    grove_node *node = w->node;
    gv_mutex_lock(&node->idle_mu);
    uint32_t dec = UNPARK_ONE + (w->searching ? SEARCH_ONE : 0);
    w->searching = false;
    /* seq_cst RMW: pairs with s_notify's RMW; our queue checks after this
     * see any push whose notify read the state before this. */
    atomic_fetch_sub_explicit(&node->idle_state, dec, memory_order_seq_cst);
    node->sleepers[node->n_sleepers++] = w->index;
    gv_mutex_unlock(&node->idle_mu);
}

/* After a park (or instead of one): leave the sleepers if still there. If
 * a waker took us off the list it also counted us unparked and searching. */
static void s_unregister_sleeper(gv_worker *w)
{
    grove_node *node = w->node;
    gv_mutex_lock(&node->idle_mu);
    bool found = false;
    for (unsigned i = 0; i < node->n_sleepers; i++) {
        if (node->sleepers[i] == w->index) {
            node->sleepers[i] = node->sleepers[--node->n_sleepers];
            found = true;
            break;
        }
    }
    if (found)
        atomic_fetch_add_explicit(&node->idle_state, UNPARK_ONE, memory_order_seq_cst);
    else
        w->searching = true;
    gv_mutex_unlock(&node->idle_mu);
}

/* ---- queues ------------------------------------------------------------- */

static void s_bag_put(gv_worker *w, grove_proc *p)
{
    if (w->bag_len == w->bag_cap) {
        w->bag_cap = w->bag_cap ? w->bag_cap * 2 : 256;
        w->bag = gv_realloc(w->bag, w->bag_cap * sizeof *w->bag);
    }
    w->bag[w->bag_len++] = p;
}

static grove_proc *s_bag_take(gv_worker *w)
{
    grove_proc *p;
    while ((p = gv_inject_pop(&w->node->inject)))
        s_bag_put(w, p);
    if (!w->bag_len)
        return NULL;
    uint32_t i = gv_rng_below(&w->rng, w->bag_len);
    p = w->bag[i];
    /* Swap-remove: O(1), and as deterministic as the picks themselves. */
    w->bag[i] = w->bag[w->bag_len - 1];
    w->bag_len--;
    return p;
}

void gv_sched_schedule_on(gv_worker *w, grove_proc *p, bool lifo)
{
    grove_node *node = w->node;
    if (node->deterministic) {
        s_bag_put(w, p);
        return;
    }
    if (lifo) {
        grove_proc *old = w->lifo;
        w->lifo = p;
        if (!old)
            return; /* the next slot is not stealable: nothing to announce */
        p = old;
    }
    gv_runq_push(&w->rq, p, &node->inject);
    s_notify(node);
}

void gv_sched_schedule(grove_node *node, grove_proc *p, bool lifo)
{
    gv_worker *w = gv_sched_current(node);
    if (w) {
        gv_sched_schedule_on(w, p, lifo);
        return;
    }
    gv_inject_push(&node->inject, p);
    s_notify(node);
}

void gv_sched_unpin_next(gv_worker *w)
{
    if (!w->lifo)
        return;
    grove_proc *p = w->lifo;
    w->lifo = NULL;
    gv_runq_push(&w->rq, p, &w->node->inject);
    s_notify(w->node);
}

static grove_proc *s_steal(gv_worker *w)
{
    grove_node *node = w->node;
    unsigned n = node->nworkers;
    unsigned start = gv_rng_below(&w->rng, n);
    for (unsigned i = 0; i < n; i++) {
        gv_worker *v = &node->workers[(start + i) % n];
        if (v == w)
            continue;
        grove_proc *p = gv_runq_steal(&v->rq, &w->rq);
        if (p)
            return p;
    }
    return gv_inject_pop(&node->inject);
}

static grove_proc *s_next_local(gv_worker *w)
{
    grove_node *node = w->node;
    if (node->deterministic)
        return s_bag_take(w);
    w->tick++;
    if (w->lifo) {
        grove_proc *p = w->lifo;
        w->lifo = NULL;
        if (w->lifo_uses < LIFO_MAX) {
            w->lifo_uses++;
            return p;
        }
        /* Used 3 times in a row: to the back of the queue, so two chatty
         * processes cannot starve the rest. With nothing else queued here
         * there is nobody to starve: run it, and wake nobody for it. */
        if (gv_runq_len(&w->rq) == 0 && gv_inject_empty(&node->inject)) {
            w->lifo_uses = 1;
            return p;
        }
        gv_runq_push(&w->rq, p, &node->inject);
    }
    w->lifo_uses = 0;
    grove_proc *p = NULL;
    if (w->tick % INJECT_INTERVAL == 0)
        p = gv_inject_pop(&node->inject);
    if (!p)
        p = gv_runq_pop(&w->rq);
    if (!p)
        p = gv_inject_pop(&node->inject);
    return p;
}

static bool s_any_work(grove_node *node)
{
    if (!gv_inject_empty(&node->inject))
        return true;
    for (unsigned i = 0; i < node->nworkers; i++)
        if (gv_runq_len(&node->workers[i].rq))
            return true;
    return false;
}

/* ---- running --------------------------------------------------------------- */

static void s_run(gv_worker *w, grove_proc *p)
{
    grove_node *node = w->node;
    unsigned batch = node->batch;
    if (node->deterministic)
        batch = 1 + gv_rng_below(&w->rng, batch);
    /* Relaxed: the watchdog only reads a snapshot for a log line; only
     * this thread writes run_seq, so a plain increment is safe. */
    uint64_t seq = atomic_load_explicit(&w->run_seq, memory_order_relaxed) + 1;
    atomic_store_explicit(&w->run_pid, (uint64_t)p->pid.id << 32 | p->pid.serial,
                          memory_order_relaxed);
    atomic_store_explicit(&w->run_seq, seq, memory_order_relaxed); /* odd: running */
    gv_run_result r = gv_proc_run(p, w, batch);
    atomic_store_explicit(&w->run_seq, seq + 1, memory_order_relaxed);
    if (++w->sends_runs >= GV_SEND_CACHE_RUNS)
        gv_send_cache_drop(w); /* bounds how long a dead receiver waits */
    if (r == GV_RUN_AGAIN || r == GV_RUN_YIELD) {
        if (node->deterministic) {
            s_bag_put(w, p);
        } else if (r == GV_RUN_YIELD) {
            /* Used its whole budget: to the injection queue, as Go puts a
             * preempted goroutine on its global queue, so busy processes
             * take turns on every worker instead of two sharing one
             * worker while a third has one to itself. */
            gv_inject_push(&node->inject, p);
            s_notify(node);
        } else {
            gv_runq_push(&w->rq, p, &node->inject);
            s_notify(node);
        }
    }
}

static uint64_t s_park_timeout_ns(gv_worker *w, uint64_t next_timer)
{
    if (next_timer == GV_WHEEL_NONE)
        return 0;
    uint64_t now = gv_node_clock_ms(w->node);
    return next_timer > now ? (next_timer - now) * 1000000u : 1;
}

static void *s_worker_main(void *arg)
{
    gv_worker *w = arg;
    grove_node *node = w->node;
    s_current = w;
    uint64_t idle_since = 0; /* when the worker last ran out of work; 0: busy */
    while (!atomic_load_explicit(&node->shutdown, memory_order_acquire)) {
        uint64_t next_timer = gv_timer_poll(w);
        grove_proc *p = s_next_local(w);
        if (!p)
            gv_send_cache_drop(w); /* nothing to run here: let go before idling */
        if (!p && !node->deterministic && s_begin_search(w))
            p = s_steal(w);
        /* idle time from here: a clock read is cheap */
        if (!p && !node->deterministic && !idle_since)
            idle_since = gv_now_ns();
        uint64_t spin_until = idle_since + w->spin.ns;
        for (unsigned i = 0; !p && !node->deterministic && w->spin.ns; i++) {
            gv_cpu_relax();
            if (i % 16 != 15)
                continue;
            if (s_begin_search(w))
                p = s_steal(w);
            if (p || gv_now_ns() >= spin_until)
                break;
        }
        if (p) {
            if (idle_since) {
                gv_spin_learn(&w->spin, gv_now_ns() - idle_since);
                idle_since = 0;
            }
            if (!w->busy) {
                w->busy = true;
                w->busy_since = gv_now_ns();
            }
            s_end_search(w);
            s_run(w, p);
            continue;
        }
        if (w->busy) {
            w->busy = false;
            /* Relaxed: a statistics counter. */
            atomic_fetch_add_explicit(&w->busy_ns, gv_now_ns() - w->busy_since,
                                      memory_order_relaxed);
        }
        s_register_sleeper(w);
        if (s_any_work(node) || (node->deterministic && w->bag_len) ||
            atomic_load_explicit(&node->shutdown, memory_order_seq_cst)) {
            s_unregister_sleeper(w);
            continue;
        }
        uint64_t ns = s_park_timeout_ns(w, next_timer);
        if (ns)
            gv_parker_park_for(&w->parker, ns);
        else
            gv_parker_park(&w->parker);
        s_unregister_sleeper(w);
    }
    gv_send_cache_drop(w);
    s_end_search(w);
    s_current = NULL;
    return NULL;
}

/* ---- watchdog ------------------------------------------------------------ */

static void *s_watchdog_main(void *arg)
{
    grove_node *node = arg;
    uint64_t limit_ns = (uint64_t)node->watchdog_ms * 1000000u;
    uint64_t period_ns = limit_ns / 4 > 10000000u ? limit_ns / 4 : 10000000u;
    while (!atomic_load_explicit(&node->shutdown, memory_order_acquire)) {
        gv_parker_park_for(&node->watchdog_parker, period_ns);
        uint64_t now = gv_now_ns();
        for (unsigned i = 0; i < node->nworkers; i++) {
            gv_worker *w = &node->workers[i];
            /* Relaxed: snapshots for a log line (see s_run). A run seen
             * with the same odd count at two samples has lasted at least
             * the time between them: long runs are reported after
             * watchdog_ms to 1.25 watchdog_ms, never too early. */
            uint64_t seq = atomic_load_explicit(&w->run_seq, memory_order_relaxed);
            uint64_t who = atomic_load_explicit(&w->run_pid, memory_order_relaxed);
            if (seq != w->wd_seq) {
                w->wd_seq = seq;
                w->wd_since = now;
                continue;
            }
            if (!(seq & 1) || seq == w->wd_reported || now - w->wd_since < limit_ns)
                continue;
            w->wd_reported = seq;
            atomic_fetch_add_explicit(&node->watchdog_reports, 1, memory_order_relaxed);
            gv_log(GV_LOG_WARN, "sched", "long_handler", "worker=%u pid=<%s.%u.%u> ms=%llu", i,
                   grove_nodename_str(node->name), (unsigned)(who >> 32), (unsigned)who,
                   (unsigned long long)((now - w->wd_since) / 1000000u));
        }
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------- */

bool gv_sched_start(grove_node *node)
{
    gv_mutex_init(&node->idle_mu);
    node->sleepers = gv_calloc(node->nworkers, sizeof *node->sleepers);
    node->n_sleepers = 0;
    atomic_init(&node->idle_state, node->nworkers * UNPARK_ONE);
    gv_inject_init(&node->inject);
    node->workers = gv_calloc_aligned(node->nworkers * sizeof *node->workers);
    for (unsigned i = 0; i < node->nworkers; i++) {
        gv_worker *w = &node->workers[i];
        gv_runq_init(&w->rq);
        w->node = node;
        w->index = i;
        gv_spin_init(&w->spin, SPIN_NS);
        gv_parker_init(&w->parker);
        gv_rng_seed(&w->rng, node->deterministic ? node->seed : gv_random_seed() + i);
        gv_mutex_init(&w->wheel_mu);
        gv_wheel_init(&w->wheel, gv_node_clock_ms(node));
        atomic_init(&w->wheel_next, GV_WHEEL_NONE);
        atomic_init(&w->run_seq, 0);
        atomic_init(&w->run_pid, 0);
        atomic_init(&w->busy_ns, 0);
    }
    gv_parker_init(&node->watchdog_parker);
    unsigned started = 0;
    for (; started < node->nworkers; started++) {
        char name[24];
        snprintf(name, sizeof name, "grove-w%u", started % 100u);
        if (!gv_thread_start(&node->workers[started].thread, name, s_worker_main,
                             &node->workers[started]))
            break;
    }
    bool ok = started == node->nworkers &&
              gv_thread_start(&node->watchdog, "grove-watchdog", s_watchdog_main, node);
    if (!ok) {
        atomic_store_explicit(&node->shutdown, true, memory_order_seq_cst);
        for (unsigned i = 0; i < started; i++) {
            gv_parker_unpark(&node->workers[i].parker);
            gv_thread_join(&node->workers[i].thread);
        }
        gv_log(GV_LOG_ERROR, "node", "start_failed", "reason=threads");
    }
    return ok;
}

void gv_sched_stop(grove_node *node)
{
    atomic_store_explicit(&node->shutdown, true, memory_order_seq_cst);
    for (unsigned i = 0; i < node->nworkers; i++)
        gv_parker_unpark(&node->workers[i].parker);
    gv_parker_unpark(&node->watchdog_parker);
    for (unsigned i = 0; i < node->nworkers; i++)
        gv_thread_join(&node->workers[i].thread);
    gv_thread_join(&node->watchdog);
    for (unsigned i = 0; i < node->nworkers; i++) {
        gv_worker *w = &node->workers[i];
        gv_timer_fini(w);
        gv_mutex_fini(&w->wheel_mu);
        gv_free(w->bag);
    }
    gv_free_aligned(node->workers);
    gv_free(node->sleepers);
    gv_inject_fini(&node->inject);
    gv_mutex_fini(&node->idle_mu);
}
