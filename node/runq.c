#include "node/runq.h"

#include "node/proc.h"

static inline uint64_t s_pack(uint32_t steal, uint32_t real)
{
    return (uint64_t)steal << 32 | real;
}

static inline uint32_t s_steal(uint64_t h)
{
    return (uint32_t)(h >> 32);
}

static inline uint32_t s_real(uint64_t h)
{
    return (uint32_t)h;
}

/* ---- injection queue ----------------------------------------------------- */

void gv_inject_init(gv_inject *q)
{
    gv_mutex_init(&q->mu);
    q->first = q->last = NULL;
    atomic_init(&q->len, 0);
}

void gv_inject_fini(gv_inject *q)
{
    gv_mutex_fini(&q->mu);
}

void gv_inject_push_chain(gv_inject *q, grove_proc *first, grove_proc *last, uint32_t n)
{
    last->rq_next = NULL;
    gv_mutex_lock(&q->mu);
    if (q->last)
        q->last->rq_next = first;
    else
        q->first = first;
    q->last = last;
    /* seq_cst: the waker's half of the sleep/wake handshake: this store
     * is ordered before its read of the idle state (sched.c). */
    atomic_fetch_add_explicit(&q->len, n, memory_order_seq_cst);
    gv_mutex_unlock(&q->mu);
}

void gv_inject_push(gv_inject *q, grove_proc *p)
{
    gv_inject_push_chain(q, p, p, 1);
}

grove_proc *gv_inject_pop(gv_inject *q)
{
    if (gv_inject_empty(q))
        return NULL;
    gv_mutex_lock(&q->mu);
    grove_proc *p = q->first;
    if (p) {
        q->first = p->rq_next;
        if (!q->first)
            q->last = NULL;
        p->rq_next = NULL;
        atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
    }
    gv_mutex_unlock(&q->mu);
    return p;
}

/* ---- local queue ----------------------------------------------------------- */

void gv_runq_init(gv_runq *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    for (uint32_t i = 0; i < GV_RUNQ_CAP; i++)
        atomic_init(&q->buf[i], NULL);
}

/* Moves GV_RUNQ_CAP/2 entries starting at `real`, plus p, to the injection
 * queue. Fails if a thief moved head meanwhile (then there is room). */
static bool s_overflow(gv_runq *q, grove_proc *p, uint32_t real, gv_inject *inj)
{
    const uint32_t n = GV_RUNQ_CAP / 2;
    uint64_t expect = s_pack(real, real);
    /* Release: our reads of the slots below happen before the slots are
     * reused by our own later pushes (trivially, same thread); acquire is
     * not needed because we wrote every slot ourselves. The CAS claims
     * the entries against thieves. */
    if (!atomic_compare_exchange_strong_explicit(&q->head, &expect, s_pack(real + n, real + n),
                                                 memory_order_release, memory_order_relaxed))
        return false;
    grove_proc *first = atomic_load_explicit(&q->buf[real & GV_RUNQ_MASK], memory_order_relaxed);
    grove_proc *prev = first;
    for (uint32_t i = 1; i < n; i++) {
        grove_proc *e =
            atomic_load_explicit(&q->buf[(real + i) & GV_RUNQ_MASK], memory_order_relaxed);
        prev->rq_next = e;
        prev = e;
    }
    prev->rq_next = p;
    gv_inject_push_chain(inj, first, p, n + 1);
    return true;
}

void gv_runq_push(gv_runq *q, grove_proc *p, gv_inject *inj)
{
    for (;;) {
        /* Acquire: pairs with a thief's release CAS closing its claim, so
         * we reuse slots only after its copies are done. */
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed); /* ours */
        if (tail - s_steal(h) < GV_RUNQ_CAP) {
            atomic_store_explicit(&q->buf[tail & GV_RUNQ_MASK], p, memory_order_relaxed);
            /* Release: publishes the slot to thieves that acquire tail.
             * seq_cst would be needed for the wake handshake; the caller
             * does a seq_cst RMW right after (gv_sched_notify). */
            atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
            return;
        }
        if (s_steal(h) != s_real(h)) {
            /* A thief is copying: there will be room, but do not wait. */
            gv_inject_push(inj, p);
            return;
        }
        if (s_overflow(q, p, s_real(h), inj))
            return;
    }
}

grove_proc *gv_runq_pop(gv_runq *q)
{
    /* Acquire: pairs with thieves' release CASes. */
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    for (;;) {
        uint32_t steal = s_steal(h), real = s_real(h);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed); /* ours */
        if (real == tail)
            return NULL;
        uint64_t next = steal == real ? s_pack(real + 1, real + 1) : s_pack(steal, real + 1);
        /* acq_rel: claims slot `real` against thieves. */
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return atomic_load_explicit(&q->buf[real & GV_RUNQ_MASK], memory_order_relaxed);
    }
}

grove_proc *gv_runq_steal(gv_runq *src, gv_runq *dst)
{
    uint32_t dst_tail = atomic_load_explicit(&dst->tail, memory_order_relaxed); /* ours */
    uint64_t dh = atomic_load_explicit(&dst->head, memory_order_acquire);
    if (dst_tail - s_steal(dh) > GV_RUNQ_CAP / 2)
        return NULL; /* no room for half of a full queue */

    /* Acquire: pairs with the owner's and other thieves' CASes. */
    uint64_t h = atomic_load_explicit(&src->head, memory_order_acquire);
    uint32_t first, n;
    for (;;) {
        uint32_t steal = s_steal(h), real = s_real(h);
        if (steal != real)
            return NULL; /* another thief is at work */
        /* Acquire: pairs with the owner's release store of tail, making
         * the slots' contents visible. */
        uint32_t src_tail = atomic_load_explicit(&src->tail, memory_order_acquire);
        n = src_tail - real;
        n -= n / 2;
        if (n == 0)
            return NULL;
        if (n > GV_RUNQ_CAP / 2)
            n = GV_RUNQ_CAP / 2;
        /* acq_rel: opens our claim on [real, real + n). */
        if (atomic_compare_exchange_weak_explicit(&src->head, &h, s_pack(steal, real + n),
                                                  memory_order_acq_rel, memory_order_acquire)) {
            first = real;
            break;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        grove_proc *e =
            atomic_load_explicit(&src->buf[(first + i) & GV_RUNQ_MASK], memory_order_relaxed);
        atomic_store_explicit(&dst->buf[(dst_tail + i) & GV_RUNQ_MASK], e, memory_order_relaxed);
    }
    /* Close the claim: steal catches up with real. */
    h = atomic_load_explicit(&src->head, memory_order_acquire);
    for (;;) {
        uint64_t next = s_pack(s_real(h), s_real(h));
        /* Release: our slot reads happen before the owner reuses them. */
        if (atomic_compare_exchange_weak_explicit(&src->head, &h, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    n--;
    grove_proc *ret =
        atomic_load_explicit(&dst->buf[(dst_tail + n) & GV_RUNQ_MASK], memory_order_relaxed);
    if (n)
        /* Release: publishes the copied slots to our own thieves. */
        atomic_store_explicit(&dst->tail, dst_tail + n, memory_order_release);
    return ret;
}

uint32_t gv_runq_len(gv_runq *q)
{
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    return tail - s_real(h);
}
