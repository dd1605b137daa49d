/*
 * links.c - links, monitors and exit signals, as Erlang defines them.
 *
 * Each process keeps its own relations (links, monitors it holds,
 * monitors on it) and changes them only on its own thread, from the
 * signals it drains. Unlinking follows Erlang/OTP 23's protocol so that
 * concurrent link/unlink from both ends can never leave a one-sided link:
 * an unlink puts the entry in state "unlinking(id)" and sends UNLINK(id);
 * the peer removes its entry if it is plainly linked and always answers
 * UNLINK_ACK(id); the entry is removed when the ack with the same id
 * comes back. A LINK arriving while unlinking is ignored; a link exit
 * signal from a peer in state unlinking is dropped.
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include "base/gv_alloc.h"

#include <grove/names.h>

#include <string.h>

typedef struct gv_link {
    grove_pid pid;
    uint64_t unlinking; /* 0: linked; else the id of our pending UNLINK */
} gv_link;

typedef struct gv_mon {
    grove_ref ref;
    grove_pid pid;
} gv_mon;

/* A monitor taken by name ({Name, Node}): its DOWN names the name, not
 * the pid. Kept apart from gv_mon, which stays small for the common case. */
typedef struct gv_named {
    grove_ref ref;
    char *name;
} gv_named;

struct gv_rels {
    gv_link *links;
    uint32_t nl, cl;
    gv_mon *mons; /* monitors this process holds: ref -> target */
    uint32_t nm, cm;
    gv_mon *watchers; /* monitors on this process: ref -> watcher */
    uint32_t nw, cw;
    gv_named *named; /* which of mons were taken by name */
    uint32_t nn, cn;
    uint64_t unlink_seq;
};

static gv_rels *s_rels(grove_proc *p)
{
    if (!p->rels)
        p->rels = gv_calloc(1, sizeof *p->rels);
    return p->rels;
}

static void s_counts(grove_proc *p)
{
    gv_rels *r = p->rels;
    /* Relaxed: inspection snapshots only. */
    atomic_store_explicit(&p->n_links, r ? r->nl : 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_monitors, r ? r->nm : 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_watchers, r ? r->nw : 0, memory_order_relaxed);
}

static gv_link *s_find_link(grove_proc *p, grove_pid pid)
{
    gv_rels *r = p->rels;
    for (uint32_t i = 0; r && i < r->nl; i++)
        if (grove_pid_equal(r->links[i].pid, pid))
            return &r->links[i];
    return NULL;
}

static void s_remove_link(grove_proc *p, gv_link *l)
{
    gv_rels *r = p->rels;
    *l = r->links[--r->nl];
    s_counts(p);
}

void gv_rels_add_link(grove_proc *p, grove_pid pid)
{
    gv_rels *r = s_rels(p);
    if (r->nl == r->cl) {
        r->cl = r->cl ? r->cl * 2 : 4;
        r->links = gv_realloc(r->links, r->cl * sizeof *r->links);
    }
    r->links[r->nl++] = (gv_link){.pid = pid, .unlinking = 0};
    s_counts(p);
}

static void s_mon_add(gv_mon **arr, uint32_t *n, uint32_t *cap, grove_ref ref, grove_pid pid)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *arr = gv_realloc(*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = (gv_mon){.ref = ref, .pid = pid};
}

static bool s_mon_remove(gv_mon *arr, uint32_t *n, const grove_ref *ref, grove_pid *pid)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (grove_ref_equal(&arr[i].ref, ref)) {
            if (pid)
                *pid = arr[i].pid;
            arr[i] = arr[--*n];
            return true;
        }
    }
    return false;
}

void gv_rels_add_monitor(grove_proc *p, grove_ref ref, grove_pid target)
{
    gv_rels *r = s_rels(p);
    s_mon_add(&r->mons, &r->nm, &r->cm, ref, target);
    s_counts(p);
}

void gv_rels_add_watcher(grove_proc *p, grove_ref ref, grove_pid watcher)
{
    gv_rels *r = s_rels(p);
    s_mon_add(&r->watchers, &r->nw, &r->cw, ref, watcher);
    s_counts(p);
}

static void s_named_add(grove_proc *p, grove_ref ref, const char *name)
{
    gv_rels *r = s_rels(p);
    if (r->nn == r->cn) {
        r->cn = r->cn ? r->cn * 2 : 4;
        r->named = gv_realloc(r->named, r->cn * sizeof *r->named);
    }
    r->named[r->nn++] = (gv_named){.ref = ref, .name = gv_strndup(name, strlen(name))};
}

/* The name monitor ref was taken by (the caller frees it), or NULL. */
static char *s_named_take(gv_rels *r, const grove_ref *ref)
{
    for (uint32_t i = 0; r && i < r->nn; i++) {
        if (grove_ref_equal(&r->named[i].ref, ref)) {
            char *name = r->named[i].name;
            r->named[i] = r->named[--r->nn];
            return name;
        }
    }
    return NULL;
}

/* ---- terms ------------------------------------------------------------------ */

static grove_term *s_exit_msg(grove_pid from, grove_term *reason)
{
    grove_term *t = grove_pack("{'EXIT', ~p, ~t}", from, reason);
    if (!t)
        gv_panic("cannot build an EXIT message");
    return t;
}

static grove_term *s_down_msg(const grove_ref *ref, grove_pid from, grove_term *reason)
{
    grove_term *t = grove_pack("{'DOWN', ~r, process, ~p, ~t}", *ref, from, reason);
    if (!t)
        gv_panic("cannot build a DOWN message");
    return t;
}

/* {'DOWN', Ref, process, {Name, Node}, Reason}: a monitor taken by name. */
static grove_term *s_down_named_msg(const grove_ref *ref, const char *name, grove_nodename node,
                                    grove_term *reason)
{
    grove_term *t = grove_pack("{'DOWN', ~r, process, {~a, ~a}, ~t}", *ref, name,
                               grove_nodename_str(node), reason);
    if (!t)
        gv_panic("cannot build a DOWN message");
    return t;
}

static void s_send_ctl(grove_node *node, grove_pid to, uint16_t kind, grove_pid from,
                       grove_term *reason, const grove_ref *ref, uint64_t id, uint16_t flags)
{
    gv_sig_ctl *c = gv_sig_ctl_new(kind, from, reason);
    c->hdr.flags = flags;
    if (ref)
        c->ref = *ref;
    c->id = id;
    gv_deliver(node, to, &c->hdr, false);
}

void gv_proc_die(grove_proc *p, grove_term *reason)
{
    grove_term_destroy(&p->exit_reason);
    p->exit_reason = reason ? reason : grove_atom("normal");
    gv_proc_set(p, GV_PF_EXITING);
}

/* ---- signals to a live process ---------------------------------------------- */

static void s_exit_signal(grove_proc *p, gv_sig_ctl *c)
{
    uint32_t f = gv_proc_flags(p);
    grove_term *reason = c->reason;
    c->reason = NULL;
    if (f & GV_PF_EXTERNAL) { /* a waiter cannot be killed */
        grove_term_destroy(&reason);
        return;
    }
    if (c->hdr.flags & GV_SIGF_FORCE) {
        gv_proc_die(p, reason);
        return;
    }
    if (c->hdr.flags & GV_SIGF_LINK) {
        gv_link *l = s_find_link(p, c->from);
        if (!l || l->unlinking) { /* not (or no longer) linked: ignore */
            if (l)
                s_remove_link(p, l);
            grove_term_destroy(&reason);
            return;
        }
        s_remove_link(p, l);
    } else if (gv_term_is_atom(reason, "kill")) {
        grove_term_destroy(&reason);
        gv_proc_die(p, grove_atom("killed"));
        return;
    }
    if (f & GV_PF_TRAP_EXIT) {
        gv_sigq_put(&p->msgq, gv_term_sig(s_exit_msg(c->from, reason)));
        return;
    }
    if (gv_term_is_atom(reason, "normal")) {
        bool self = !(c->hdr.flags & GV_SIGF_LINK) && grove_pid_equal(c->from, p->pid);
        if (self)
            gv_proc_die(p, reason);
        else
            grove_term_destroy(&reason);
        return;
    }
    gv_proc_die(p, reason);
}

void gv_proc_ctl(grove_proc *p, gv_sig_ctl *c)
{
    grove_node *node = p->node;
    switch (c->hdr.kind) {
    case GV_SIG_EXIT:
        s_exit_signal(p, c);
        break;
    case GV_SIG_LINK:
        if (gv_proc_flags(p) & GV_PF_EXTERNAL)
            s_send_ctl(node, c->from, GV_SIG_EXIT, p->pid, grove_atom("noproc"), NULL, 0,
                       GV_SIGF_LINK);
        else if (!s_find_link(p, c->from))
            gv_rels_add_link(p, c->from);
        break;
    case GV_SIG_UNLINK: {
        gv_link *l = s_find_link(p, c->from);
        if (l && !l->unlinking)
            s_remove_link(p, l);
        s_send_ctl(node, c->from, GV_SIG_UNLINK_ACK, p->pid, NULL, NULL, c->id, 0);
        break;
    }
    case GV_SIG_UNLINK_ACK: {
        gv_link *l = s_find_link(p, c->from);
        if (l && l->unlinking == c->id)
            s_remove_link(p, l);
        break;
    }
    case GV_SIG_MONITOR:
        gv_rels_add_watcher(p, c->ref, c->from);
        break;
    case GV_SIG_DEMONITOR:
        if (p->rels && s_mon_remove(p->rels->watchers, &p->rels->nw, &c->ref, NULL))
            s_counts(p);
        break;
    case GV_SIG_DOWN: {
        grove_pid target;
        if (!p->rels || !s_mon_remove(p->rels->mons, &p->rels->nm, &c->ref, &target))
            break;
        s_counts(p);
        char *name = s_named_take(p->rels, &c->ref);
        if (!(c->hdr.flags & GV_SIGF_SILENT)) {
            grove_term *reason = c->reason;
            c->reason = NULL;
            gv_sigq_put(&p->msgq,
                        gv_term_sig(name ? s_down_named_msg(&c->ref, name, target.node, reason)
                                         : s_down_msg(&c->ref, c->from, reason)));
        }
        gv_free(name);
        break;
    }
    case GV_SIG_TIMEOUT:
        gv_sigq_put(&p->msgq, &c->hdr); /* handled in turn with messages */
        return;
    default:
        gv_panic("unknown signal kind %u", c->hdr.kind);
    }
    gv_sig_free(&c->hdr);
}

/* ---- signals to a dead process ---------------------------------------------- */

void gv_dead_signal(grove_node *node, grove_proc *p, grove_pid dead, gv_sig *s,
                    const grove_term *reason)
{
    if (s->kind != GV_SIG_MESSAGE) {
        gv_sig_ctl *c = (gv_sig_ctl *)s;
        switch (c->hdr.kind) {
        case GV_SIG_LINK:
            if (p && p->rels) { /* we are still in the exit path: drop any stale entry */
                gv_link *l = s_find_link(p, c->from);
                if (l)
                    s_remove_link(p, l);
            }
            s_send_ctl(node, c->from, GV_SIG_EXIT, dead, grove_term_copy(reason), NULL, 0,
                       GV_SIGF_LINK);
            break;
        case GV_SIG_UNLINK:
            if (p && p->rels) {
                gv_link *l = s_find_link(p, c->from);
                if (l && !l->unlinking)
                    s_remove_link(p, l);
            }
            s_send_ctl(node, c->from, GV_SIG_UNLINK_ACK, dead, NULL, NULL, c->id, 0);
            break;
        case GV_SIG_MONITOR:
            s_send_ctl(node, c->from, GV_SIG_DOWN, dead, grove_term_copy(reason), &c->ref, 0, 0);
            break;
        case GV_SIG_DEMONITOR:
            if (p && p->rels && s_mon_remove(p->rels->watchers, &p->rels->nw, &c->ref, NULL))
                s_counts(p);
            break;
        default:
            break;
        }
    }
    gv_sig_free(s);
}

/* Tells the target of a monitor self held that it is gone. A monitor
 * taken by name on another node never learnt its pid: that node's
 * cluster ops find it by reference. */
static void s_unmonitor(grove_proc *self, grove_pid target, grove_ref ref, const char *name)
{
    if (name && target.creation == 0 && target.node != self->node->name) {
        const gv_cluster_ops *c = &gv_node_ops(self->node)->cluster;
        c->demonitor_name(c->ctx, self->pid, target.node, name, ref);
        return;
    }
    s_send_ctl(self->node, target, GV_SIG_DEMONITOR, self->pid, NULL, &ref, 0, 0);
}

void gv_rels_exit(grove_proc *p, const grove_term *reason)
{
    gv_rels *r = p->rels;
    if (!r)
        return;
    grove_node *node = p->node;
    for (uint32_t i = 0; i < r->nl; i++)
        if (!r->links[i].unlinking)
            s_send_ctl(node, r->links[i].pid, GV_SIG_EXIT, p->pid, grove_term_copy(reason), NULL, 0,
                       GV_SIGF_LINK);
    for (uint32_t i = 0; i < r->nw; i++)
        s_send_ctl(node, r->watchers[i].pid, GV_SIG_DOWN, p->pid, grove_term_copy(reason),
                   &r->watchers[i].ref, 0, 0);
    for (uint32_t i = 0; i < r->nm; i++) {
        char *name = s_named_take(r, &r->mons[i].ref);
        s_unmonitor(p, r->mons[i].pid, r->mons[i].ref, name);
        gv_free(name);
    }
    gv_free(r->links);
    gv_free(r->mons);
    gv_free(r->watchers);
    gv_free(r->named);
    gv_free(r);
    p->rels = NULL;
    s_counts(p);
}

/* ---- the API ------------------------------------------------------------------ */

grove_err grove_link(grove_proc *self, grove_pid pid)
{
    if (grove_pid_equal(pid, self->pid))
        return GROVE_OK;
    gv_link *l = s_find_link(self, pid);
    if (l && !l->unlinking)
        return GROVE_OK;
    if (l)
        l->unlinking = 0;
    else
        gv_rels_add_link(self, pid);
    gv_sig_ctl *c = gv_sig_ctl_new(GV_SIG_LINK, self->pid, NULL);
    return gv_deliver(self->node, pid, &c->hdr, false) ? GROVE_OK : GROVE_ENOPROC;
}

grove_err grove_unlink(grove_proc *self, grove_pid pid)
{
    gv_link *l = s_find_link(self, pid);
    if (!l || l->unlinking)
        return GROVE_OK;
    l->unlinking = ++self->rels->unlink_seq;
    s_send_ctl(self->node, pid, GV_SIG_UNLINK, self->pid, NULL, NULL, l->unlinking, 0);
    return GROVE_OK;
}

grove_err gv_monitor(grove_proc *self, grove_pid pid, grove_ref *out)
{
    grove_ref ref = grove_node_make_ref(self->node);
    gv_rels_add_monitor(self, ref, pid);
    if (out)
        *out = ref;
    s_send_ctl(self->node, pid, GV_SIG_MONITOR, self->pid, NULL, &ref, 0, 0);
    return GROVE_OK;
}

grove_err grove_monitor(grove_proc *self, grove_pid pid, grove_ref *ref)
{
    return gv_monitor(self, pid, ref);
}

grove_err grove_monitor_name(grove_proc *self, const char *name, grove_nodename node,
                             grove_ref *out)
{
    if (!self || !name || !*name || strlen(name) > GROVE_MONITOR_NAME_MAX)
        return GROVE_EINVAL;
    grove_node *n = self->node;
    if (!node)
        node = n->name;
    grove_ref ref = grove_node_make_ref(n);
    if (out)
        *out = ref;
    const char *why = NULL;
    if (node == n->name) {
        grove_pid pid;
        if (grove_whereis(n, name, &pid) == GROVE_OK) {
            gv_rels_add_monitor(self, ref, pid);
            s_named_add(self, ref, name);
            s_send_ctl(n, pid, GV_SIG_MONITOR, self->pid, NULL, &ref, 0, 0);
        } else {
            why = "noproc";
        }
    } else {
        /* The pid is learnt only from a DOWN: the target stays a
         * placeholder of its node (creation 0). */
        gv_rels_add_monitor(self, ref, (grove_pid){.node = node});
        s_named_add(self, ref, name);
        const gv_cluster_ops *c = &gv_node_ops(n)->cluster;
        if (c->monitor_name(c->ctx, self->pid, node, name, ref) != GROVE_OK) {
            s_mon_remove(self->rels->mons, &self->rels->nm, &ref, NULL);
            s_counts(self);
            gv_free(s_named_take(self->rels, &ref));
            why = "noconnection";
        }
    }
    if (why) /* at once: nothing to monitor */
        grove_proc_send(self, self->pid, s_down_named_msg(&ref, name, node, grove_atom(why)));
    return GROVE_OK;
}

static bool s_is_down_for(const grove_term *t, const grove_ref *ref)
{
    grove_ref r;
    return grove_match(t, "{'DOWN', ~r, _, _, _}", &r) && grove_ref_equal(&r, ref);
}

/* Removes the DOWN messages of ref from q; returns how many. */
static uint32_t s_flush_down(gv_sigq *q, const grove_ref *ref)
{
    gv_sigq keep;
    gv_sigq_init(&keep);
    uint32_t n = 0;
    gv_sig *s;
    while ((s = gv_sigq_take(q))) {
        if (s->kind == GV_SIG_MESSAGE && s_is_down_for(gv_sig_term(s), ref)) {
            gv_sig_free(s);
            n++;
        } else {
            gv_sigq_put(&keep, s);
        }
    }
    *q = keep;
    return n;
}

grove_err gv_demonitor(grove_proc *self, grove_ref ref, bool flush)
{
    grove_pid target;
    bool found = self->rels && s_mon_remove(self->rels->mons, &self->rels->nm, &ref, &target);
    if (found) {
        s_counts(self);
        char *name = s_named_take(self->rels, &ref);
        s_unmonitor(self, target, ref, name);
        gv_free(name);
    }
    /* A monitor that has fired is gone, but its DOWN may still wait among
     * the messages, postponed ones too: flush removes it, as
     * erlang:demonitor(Ref, [flush]) does. (A DOWN still in the in-queue
     * is dropped when drained, its monitor being gone.) */
    uint32_t flushed = 0;
    if (flush)
        flushed = s_flush_down(&self->msgq, &ref) + s_flush_down(&self->stash, &ref);
    return found || flushed ? GROVE_OK : GROVE_ENOTFOUND;
}

grove_err grove_demonitor(grove_proc *self, grove_ref ref, bool flush)
{
    return gv_demonitor(self, ref, flush);
}

bool grove_trap_exit(grove_proc *self, bool on)
{
    bool was = (gv_proc_flags(self) & GV_PF_TRAP_EXIT) != 0;
    if (on)
        gv_proc_set(self, GV_PF_TRAP_EXIT);
    else
        gv_proc_clear(self, GV_PF_TRAP_EXIT);
    return was;
}

grove_err grove_proc_exit(grove_proc *self, grove_pid pid, grove_term *reason)
{
    if (!reason)
        return GROVE_EINVAL;
    s_send_ctl(self->node, pid, GV_SIG_EXIT, self->pid, reason, NULL, 0, 0);
    return GROVE_OK;
}

grove_err grove_node_exit(grove_node *node, grove_pid pid, grove_term *reason)
{
    if (!reason)
        return GROVE_EINVAL;
    s_send_ctl(node, pid, GV_SIG_EXIT, gv_null_pid(node), reason, NULL, 0, 0);
    return GROVE_OK;
}

void gv_send_force_exit(grove_node *node, grove_pid pid, grove_term *reason)
{
    s_send_ctl(node, pid, GV_SIG_EXIT, gv_null_pid(node), reason, NULL, 0, GV_SIGF_FORCE);
}
