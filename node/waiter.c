/*
 * waiter.c - mailboxes for threads that are not workers.
 *
 * A waiter is a process block in the process table (so it has a pid,
 * and links, monitors and sends reach it like any process), but no worker
 * ever runs it: the push that finds it idle unparks its owner thread
 * instead of scheduling it. The owner drains it in grove_waiter_recv*.
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"

grove_err grove_waiter_new(grove_node *node, grove_waiter **out)
{
    *out = NULL;
    if (atomic_load_explicit(&node->stopping, memory_order_acquire))
        return GROVE_ECLOSED;
    grove_waiter *w = (grove_waiter *)gv_proc_alloc(node, sizeof *w);
    gv_parker_init(&w->parker);
    grove_proc *p = &w->p;
    uint32_t id, gen;
    gv_ptab_reserve(&node->ptab, &id, &gen);
    p->pid = (grove_pid){.node = node->name, .id = id, .serial = gen, .creation = node->creation};
    p->name = "waiter";
    atomic_store_explicit(&p->flags, GV_PF_EXTERNAL, memory_order_relaxed);
    atomic_fetch_add_explicit(&node->waiters, 1, memory_order_relaxed);
    gv_ptab_publish(&node->ptab, id, p);
    *out = w;
    return GROVE_OK;
}

grove_pid grove_waiter_pid(const grove_waiter *w)
{
    return w->p.pid;
}

static bool s_any(const grove_term *msg, void *arg)
{
    return true;
}

static bool s_pattern(const grove_term *msg, void *arg)
{
    return grove_match(msg, (const char *)arg);
}

/* Takes the first queued message that select accepts. */
static gv_sig *s_take(grove_proc *p, bool (*select)(const grove_term *, void *), void *arg)
{
    gv_sig *prev = NULL;
    for (gv_sig *s = p->msgq.first; s;
         prev = s, s = atomic_load_explicit(&s->next, memory_order_relaxed)) {
        if (s->kind != GV_SIG_MESSAGE || !select(gv_sig_term(s), arg))
            continue;
        gv_sig *next = atomic_load_explicit(&s->next, memory_order_relaxed);
        if (prev)
            atomic_store_explicit(&prev->next, next, memory_order_relaxed);
        else
            p->msgq.first = next;
        if (p->msgq.last == s)
            p->msgq.last = prev;
        p->msgq.len--;
        return s;
    }
    return NULL;
}

grove_err grove_waiter_recv_select(grove_waiter *w,
                                   bool (*select)(const grove_term *msg, void *arg), void *arg,
                                   int64_t timeout_ms, grove_term **out)
{
    *out = NULL;
    if (gv_sched_on_any_worker())
        return GROVE_EWOULDBLOCK;
    grove_proc *p = &w->p;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : gv_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        gv_proc_drain(p);
        gv_sig *s = s_take(p, select, arg);
        if (s) {
            *out = gv_sig_term(s);
            return GROVE_OK;
        }
        uint64_t now = gv_now_ns();
        if (now >= deadline)
            return GROVE_ETIMEDOUT;
        /* Idle (set by us, cleared by the next push) means the next push
         * unparks us; otherwise a push is in progress: look again. */
        if (gv_mbox_is_idle(&p->mbox) || gv_mbox_try_idle(&p->mbox, p->mbox_tail)) {
            if (deadline == UINT64_MAX)
                gv_parker_park(&w->parker);
            else
                gv_parker_park_for(&w->parker, deadline - now);
        } else {
            gv_thread_yield();
        }
    }
}

grove_err grove_waiter_recv(grove_waiter *w, int64_t timeout_ms, grove_term **out)
{
    return grove_waiter_recv_select(w, s_any, NULL, timeout_ms, out);
}

grove_err grove_waiter_recv_match(grove_waiter *w, const char *pattern, int64_t timeout_ms,
                                  grove_term **out)
{
    return grove_waiter_recv_select(w, s_pattern, (void *)pattern, timeout_ms, out);
}

grove_err grove_waiter_monitor(grove_waiter *w, grove_pid pid, grove_ref *ref)
{
    gv_proc_drain(&w->p); /* keep signal order relative to what is queued */
    return gv_monitor(&w->p, pid, ref);
}

grove_err grove_waiter_monitor_name(grove_waiter *w, const char *name, grove_nodename node,
                                    grove_ref *ref)
{
    gv_proc_drain(&w->p);
    return grove_monitor_name(&w->p, name, node, ref);
}

grove_err grove_waiter_demonitor(grove_waiter *w, grove_ref ref)
{
    gv_proc_drain(&w->p);
    return gv_demonitor(&w->p, ref, false);
}

void grove_waiter_destroy(grove_waiter **wp)
{
    if (!wp || !*wp)
        return;
    grove_waiter *w = *wp;
    *wp = NULL;
    /* The block may be freed by a sender finishing after us; nothing
     * below touches it after gv_proc_exit. */
    gv_proc_exit(&w->p);
}

typedef struct s_call_sel {
    grove_ref ref;
} s_call_sel;

static bool s_is_reply_or_down(const grove_term *msg, void *arg)
{
    s_call_sel *c = arg;
    grove_ref r;
    if (grove_match(msg, "{~r, _}", &r) && grove_ref_equal(&r, &c->ref))
        return true;
    return grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &c->ref);
}

grove_err grove_waiter_call(grove_waiter *w, grove_pid to,
                            grove_term *(*build)(grove_pid self, grove_ref ref, void *arg),
                            void *arg, int64_t timeout_ms, grove_term **reply)
{
    *reply = NULL;
    if (gv_sched_on_any_worker())
        return GROVE_EWOULDBLOCK;
    grove_proc *p = &w->p;
    s_call_sel sel;
    gv_proc_drain(p);
    /* The monitor's reference doubles as the call's, as in OTP. */
    gv_monitor(p, to, &sel.ref);
    grove_term *req = build(p->pid, sel.ref, arg);
    if (!req) {
        gv_demonitor(p, sel.ref, true);
        return GROVE_EINVAL;
    }
    grove_node_send(p->node, to, req);
    grove_term *m = NULL;
    grove_err err = grove_waiter_recv_select(w, s_is_reply_or_down, &sel, timeout_ms, &m);
    if (err == GROVE_OK && grove_match(m, "{'DOWN', _, process, _, noconnection}")) {
        err = GROVE_ENOCONN;
    } else if (err == GROVE_OK && grove_match(m, "{'DOWN', _, process, _, _}")) {
        err = GROVE_ENOPROC;
    } else if (err == GROVE_OK) {
        grove_match(m, "{_, ~t}", reply);
    }
    grove_term_destroy(&m);
    if (err != GROVE_ENOPROC && err != GROVE_ENOCONN)
        gv_demonitor(p, sel.ref, true); /* also drops a DOWN already queued */
    return err;
}
