/*
 * spawn.c - behaviours registered by name, and spawning by name on a
 * node, here or remote (as erlang:spawn_request/5; docs/cluster.md).
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include "base/gv_log.h"

#include <stdatomic.h>
#include <string.h>

/* Registered at start-up (usually from main()); a fixed table read
 * without locks. */
#define BEHAVIOURS_MAX 1024

static const grove_behaviour *_Atomic s_tab[BEHAVIOURS_MAX];
static _Atomic unsigned s_n;

const grove_behaviour *gv_behaviour_find(const char *name)
{
    if (!name)
        return NULL;
    unsigned n = atomic_load_explicit(&s_n, memory_order_acquire);
    for (unsigned i = 0; i < n && i < BEHAVIOURS_MAX; i++) {
        const grove_behaviour *b = atomic_load_explicit(&s_tab[i], memory_order_acquire);
        if (b && b->name && !strcmp(b->name, name))
            return b;
    }
    return NULL;
}

grove_err grove_behaviour_register(const grove_behaviour *b)
{
    if (!b || !b->name || !*b->name || !b->handle)
        return GROVE_EINVAL;
    const grove_behaviour *old = gv_behaviour_find(b->name);
    if (old)
        return old == b ? GROVE_OK : GROVE_EEXIST;
    unsigned i = atomic_fetch_add_explicit(&s_n, 1, memory_order_acq_rel);
    if (i >= BEHAVIOURS_MAX) {
        atomic_fetch_sub_explicit(&s_n, 1, memory_order_acq_rel);
        return GROVE_ENOMEM;
    }
    /* A reader that sees the count before the entry sees NULL: skipped. */
    atomic_store_explicit(&s_tab[i], b, memory_order_release);
    return GROVE_OK;
}

static void s_reply(grove_proc *self, grove_ref ref, grove_term *t)
{
    if (t)
        grove_proc_send(self, self->pid, t);
    (void)ref;
}

grove_err grove_spawn_request(grove_proc *self, grove_nodename node, const char *behaviour,
                              grove_term *arg, const grove_spawn_opts *opts, grove_ref *out)
{
    static const grove_spawn_opts none = {0};
    if (!opts)
        opts = &none;
    if (!self || !behaviour || !*behaviour) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    grove_node *n = self->node;
    grove_ref ref = grove_node_make_ref(n);
    if (node == 0 || node == n->name) { /* here: spawn now, reply at once */
        const grove_behaviour *b = gv_behaviour_find(behaviour);
        grove_pid pid;
        grove_spawn_opts o = {.link = opts->link,
                              .monitor = opts->monitor,
                              .monitor_ref = &ref,
                              .trap_exit = opts->trap_exit,
                              .name = opts->name};
        grove_proc *held = NULL;
        grove_err e = b ? gv_spawn_held(n, self, b, arg, &o, &pid, &held) : GROVE_ENOTFOUND;
        if (!b)
            grove_term_destroy(&arg);
        if (out)
            *out = ref;
        if (e == GROVE_OK)
            s_reply(self, ref, grove_pack("{spawn_reply, ~r, ok, ~p}", ref, pid));
        else
            s_reply(self, ref,
                    grove_pack("{spawn_reply, ~r, error, ~a}", ref,
                               e == GROVE_ENOTFOUND ? "unknown_behaviour" : "system_limit"));
        gv_spawn_release(held); /* runs only now: the reply is ahead of what it sends */
        return GROVE_OK;
    }
    if (out)
        *out = ref;
    if (opts->monitor) /* the target is not known yet: the DOWN matches the ref */
        gv_rels_add_monitor(self, ref, (grove_pid){.node = node});
    const gv_cluster_ops *c = &gv_node_ops(n)->cluster;
    grove_err e = c->spawn_request(c->ctx, self->pid, ref, node, behaviour, arg, opts->link,
                                   opts->monitor, opts->trap_exit);
    if (e != GROVE_OK) {
        if (opts->monitor)
            gv_demonitor(self, ref, false); /* (the DEMONITOR goes nowhere) */
        s_reply(self, ref, grove_pack("{spawn_reply, ~r, error, noconnection}", ref));
    }
    return GROVE_OK;
}

static bool s_is_reply(const grove_term *msg, void *arg)
{
    grove_ref r;
    return grove_match(msg, "{spawn_reply, ~r, _, _}", &r) && grove_ref_equal(&r, arg);
}

grove_err grove_node_spawn_on(grove_node *node, grove_nodename on, const char *behaviour,
                              grove_term *arg, int64_t timeout_ms, grove_pid *out)
{
    if (gv_sched_on_any_worker()) {
        grove_term_destroy(&arg);
        return GROVE_EWOULDBLOCK;
    }
    grove_waiter *w;
    grove_err e = grove_waiter_new(node, &w);
    if (e != GROVE_OK) {
        grove_term_destroy(&arg);
        return e;
    }
    grove_ref ref;
    gv_proc_drain(&w->p);
    e = grove_spawn_request(&w->p, on, behaviour, arg, NULL, &ref);
    grove_term *m = NULL;
    if (e == GROVE_OK)
        e = grove_waiter_recv_select(w, s_is_reply, &ref, timeout_ms, &m);
    if (e == GROVE_OK) {
        grove_pid pid;
        if (grove_match(m, "{spawn_reply, _, ok, ~p}", &pid)) {
            if (out)
                *out = pid;
        } else if (grove_match(m, "{spawn_reply, _, error, noconnection}")) {
            e = GROVE_ENOCONN;
        } else if (grove_match(m, "{spawn_reply, _, error, unknown_behaviour}")) {
            e = GROVE_ENOTFOUND;
        } else {
            e = GROVE_ECLOSED;
        }
    }
    grove_term_destroy(&m);
    grove_waiter_destroy(&w);
    return e;
}
