/*
 * dist.c - remote signals (docs/cluster.md): the router and cluster ops
 * a node gets when it joins a cluster.
 *
 * Out: the router turns a runtime signal for a pid of another node into
 * an envelope (a message's payload is its ETF bytes, as they are) and
 * hands it to the transport. In: on_envelope (the I/O thread) decodes the
 * payload or reason from untrusted bytes and delivers a runtime signal to
 * the local pid; a term that does not decode ends that peer's session.
 * A send_name envelope ({Name, Node} ! Msg, the cluster op send_name)
 * goes to whoever holds the local name on arrival, or nowhere.
 *
 * Links and monitors across nodes are recorded per remote node (peer):
 * links as (local pid, remote pid), monitors as (local, remote, ref,
 * which end watches). A record is made before its LINK/MONITOR leaves or
 * is delivered, and dropped when an exit, unlink ack, DOWN or DEMONITOR
 * ends it. On nodedown the peer's records fire: an exit signal
 * `noconnection` along each link, a DOWN `noconnection` for each monitor
 * a local process holds, a DEMONITOR for each a remote process held.
 * Records may be stale (a superset): the runtime ignores an exit from a
 * pid it is not linked to and a DOWN for a ref it no longer holds.
 *
 * Recording and sending happen under one mutex, which on_nodedown also
 * takes, and gv_tp_send never blocks: so a record is either fired by
 * nodedown, or its send failed (the runtime answers `noconnection`) and
 * it is dropped, never both missed. Messages take no lock.
 */
#include "transport/dist.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_thread.h"
#include "node/ops.h"
#include "node/proc.h"
#include "node/signal.h"

#include <grove/names.h>

#include <stdatomic.h>
#include <string.h>

typedef struct d_link {
    grove_pid local, remote;
} d_link;

typedef struct d_mon {
    grove_pid local, remote;
    grove_ref ref;
    bool local_watches; /* local monitors remote (else remote monitors local) */
    bool by_name;       /* local watches a name on remote's node: remote a placeholder */
} d_mon;

typedef struct d_peer {
    grove_nodename node;
    bool up;
    d_link *links;
    size_t nl, cl;
    d_mon *mons;
    size_t nm, cm;
    grove_pid *watchers; /* monitor_node, one-shot */
    size_t nw, cw;
    d_mon *spawns; /* spawn requests waiting for their reply: local = requester */
    size_t nsp, csp;
} d_peer;

struct gv_dist {
    grove_node *node;
    grove_nodename self;
    gv_tp *_Atomic tp; /* set once gv_tp_new returned; NULL after stop */
    _Atomic bool closing;
    _Atomic int64_t inflight; /* router calls using tp */
    _Atomic uint64_t dropped; /* messages dropped: peer busy or too big */
    gv_mutex mu;
    d_peer *peers;
    size_t np, cp;
    grove_pid *subs; /* monitor_nodes */
    size_t ns, cs;
    gv_ops prev; /* the local tables, for what is not remote */
    gv_tp_keys keys;
};

static gv_tp *s_tp(gv_dist *d)
{
    return atomic_load(&d->tp);
}

/* Ends from's session after this envelope (I/O thread). Before
 * gv_tp_new has returned there is no handle yet: the envelope is only
 * dropped. */
static void s_refuse(gv_dist *d, grove_nodename from)
{
    gv_tp *tp = s_tp(d);
    if (tp)
        gv_tp_refuse(tp, from);
}

#define GROW(arr, n, cap)                                     \
    do {                                                      \
        if ((n) == (cap)) {                                   \
            (cap) = (cap) ? (cap)*2 : 8;                      \
            (arr) = gv_realloc((arr), (cap) * sizeof *(arr)); \
        }                                                     \
    } while (0)

/* ---- records (under mu) ---------------------------------------------------------- */

static d_peer *s_peer(gv_dist *d, grove_nodename node, bool create)
{
    for (size_t i = 0; i < d->np; i++)
        if (d->peers[i].node == node)
            return &d->peers[i];
    if (!create)
        return NULL;
    GROW(d->peers, d->np, d->cp);
    d_peer *p = &d->peers[d->np++];
    memset(p, 0, sizeof *p);
    p->node = node;
    return p;
}

static void s_link_add(gv_dist *d, grove_pid local, grove_pid remote)
{
    d_peer *p = s_peer(d, remote.node, true);
    for (size_t i = 0; i < p->nl; i++)
        if (grove_pid_equal(p->links[i].local, local) &&
            grove_pid_equal(p->links[i].remote, remote))
            return;
    GROW(p->links, p->nl, p->cl);
    p->links[p->nl++] = (d_link){.local = local, .remote = remote};
}

static void s_link_del(gv_dist *d, grove_pid local, grove_pid remote)
{
    d_peer *p = s_peer(d, remote.node, false);
    for (size_t i = 0; p && i < p->nl; i++)
        if (grove_pid_equal(p->links[i].local, local) &&
            grove_pid_equal(p->links[i].remote, remote)) {
            p->links[i] = p->links[--p->nl];
            return;
        }
}

static d_mon *s_mon_add(gv_dist *d, grove_pid local, grove_pid remote, grove_ref ref, bool watches)
{
    d_peer *p = s_peer(d, remote.node, true);
    GROW(p->mons, p->nm, p->cm);
    p->mons[p->nm] =
        (d_mon){.local = local, .remote = remote, .ref = ref, .local_watches = watches};
    return &p->mons[p->nm++];
}

/* The monitor of ref that `node`'s process `watcher` holds on a process
 * here, or NULL. */
static d_mon *s_mon_on_local(gv_dist *d, grove_nodename node, const grove_ref *ref)
{
    d_peer *p = s_peer(d, node, false);
    for (size_t i = 0; p && i < p->nm; i++)
        if (!p->mons[i].local_watches && grove_ref_equal(&p->mons[i].ref, ref))
            return &p->mons[i];
    return NULL;
}

/* Returns whether there was such a monitor. */
static bool s_mon_del(gv_dist *d, grove_nodename node, const grove_ref *ref)
{
    d_peer *p = s_peer(d, node, false);
    for (size_t i = 0; p && i < p->nm; i++)
        if (grove_ref_equal(&p->mons[i].ref, ref)) {
            p->mons[i] = p->mons[--p->nm];
            return true;
        }
    return false;
}

static void s_spawn_add(gv_dist *d, grove_nodename node, grove_pid from, grove_ref ref)
{
    d_peer *p = s_peer(d, node, true);
    GROW(p->spawns, p->nsp, p->csp);
    p->spawns[p->nsp++] = (d_mon){.local = from, .ref = ref};
}

static bool s_spawn_del(gv_dist *d, grove_nodename node, const grove_ref *ref)
{
    d_peer *p = s_peer(d, node, false);
    for (size_t i = 0; p && i < p->nsp; i++)
        if (grove_ref_equal(&p->spawns[i].ref, ref)) {
            p->spawns[i] = p->spawns[--p->nsp];
            return true;
        }
    return false;
}

/* The monitor a pending spawn put in place now has its target. */
static void s_mon_retarget(gv_dist *d, grove_nodename node, const grove_ref *ref, grove_pid pid)
{
    d_peer *p = s_peer(d, node, false);
    for (size_t i = 0; p && i < p->nm; i++)
        if (grove_ref_equal(&p->mons[i].ref, ref))
            p->mons[i].remote = pid;
}

/* ---- conversions ------------------------------------------------------------------ */

static gv_tp_pid s_pid_out(grove_pid pid, grove_nodename implicit)
{
    return (gv_tp_pid){.id = pid.id,
                       .serial = pid.serial,
                       .creation = pid.creation,
                       .node = pid.node == implicit ? NULL : grove_nodename_str(pid.node)};
}

static gv_tp_ref s_ref_out(const grove_ref *ref, grove_nodename implicit)
{
    gv_tp_ref r;
    memset(&r, 0, sizeof r);
    r.creation = ref->creation;
    r.len = ref->len;
    for (uint32_t i = 0; i < ref->len && i < GV_TP_REF_WORDS; i++)
        r.id[i] = ref->id[i];
    r.node = ref->node == implicit ? NULL : grove_nodename_str(ref->node);
    return r;
}

static bool s_node_in(const char *name, grove_nodename implicit, grove_nodename *out)
{
    if (!name || !*name) {
        *out = implicit;
        return true;
    }
    return grove_nodename_intern(name, strlen(name), out) == GROVE_OK;
}

static bool s_pid_in(const gv_tp_pid *p, grove_nodename implicit, grove_pid *out)
{
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->serial = p->serial;
    out->creation = p->creation;
    return p->creation != 0 && s_node_in(p->node, implicit, &out->node);
}

static bool s_ref_in(const gv_tp_ref *r, grove_nodename implicit, grove_ref *out)
{
    memset(out, 0, sizeof *out);
    if (r->creation == 0 || r->len < 1 || r->len > GV_TP_REF_WORDS || r->len > GROVE_REF_MAX_WORDS)
        return false;
    out->creation = r->creation;
    out->len = r->len;
    for (uint32_t i = 0; i < r->len; i++)
        out->id[i] = r->id[i];
    return s_node_in(r->node, implicit, &out->node);
}

static gv_tp_bytes s_bytes(const grove_term *t)
{
    gv_tp_bytes b = {0};
    if (t)
        b.data = grove_term_bytes(t, &b.len);
    return b;
}

/* ---- out: the router ------------------------------------------------------------------ */

/* The envelope for control signal c to `to`; records what it starts or
 * ends (under mu). Returns false for a kind that never leaves a node. */
static bool s_ctl_env(gv_dist *d, grove_pid to, gv_sig_ctl *c, gv_tp_env *env)
{
    grove_nodename R = to.node, S = d->self;
    memset(env, 0, sizeof *env);
    switch (c->hdr.kind) {
    case GV_SIG_EXIT:
        if (!c->reason)
            return false;
        env->kind = GV_TP_EXIT;
        env->u.exit.from = s_pid_out(c->from, S);
        env->u.exit.to = s_pid_out(to, R);
        env->u.exit.reason = s_bytes(c->reason);
        env->u.exit.link = (c->hdr.flags & GV_SIGF_LINK) != 0;
        return true;
    case GV_SIG_LINK:
    case GV_SIG_UNLINK:
    case GV_SIG_UNLINK_ACK:
        env->kind = c->hdr.kind == GV_SIG_LINK     ? GV_TP_LINK
                    : c->hdr.kind == GV_SIG_UNLINK ? GV_TP_UNLINK
                                                   : GV_TP_UNLINK_ACK;
        env->u.link.from = s_pid_out(c->from, S);
        env->u.link.to = s_pid_out(to, R);
        env->u.link.id = c->id;
        return true;
    case GV_SIG_MONITOR:
    case GV_SIG_DEMONITOR:
        env->kind = c->hdr.kind == GV_SIG_MONITOR ? GV_TP_MONITOR : GV_TP_DEMONITOR;
        env->u.monitor.from = s_pid_out(c->from, S);
        env->u.monitor.to = s_pid_out(to, R);
        env->u.monitor.ref = s_ref_out(&c->ref, S);
        return true;
    case GV_SIG_DOWN:
        if (!c->reason)
            return false;
        env->kind = GV_TP_DOWN;
        env->u.down.ref = s_ref_out(&c->ref, R);
        env->u.down.from = s_pid_out(c->from, S);
        env->u.down.to = s_pid_out(to, R);
        env->u.down.reason = s_bytes(c->reason);
        return true;
    default:
        return false;
    }
}

/* What sending c records (true) or unrecords (false). */
static void s_ctl_record(gv_dist *d, grove_pid to, const gv_sig_ctl *c, bool add)
{
    switch (c->hdr.kind) {
    case GV_SIG_LINK:
        if (add)
            s_link_add(d, c->from, to);
        else
            s_link_del(d, c->from, to);
        break;
    case GV_SIG_MONITOR:
        if (add)
            s_mon_add(d, c->from, to, c->ref, true);
        else
            s_mon_del(d, to.node, &c->ref);
        break;
    case GV_SIG_EXIT:
        if (add && (c->hdr.flags & GV_SIGF_LINK))
            s_link_del(d, c->from, to);
        break;
    case GV_SIG_UNLINK_ACK:
        if (add)
            s_link_del(d, c->from, to);
        break;
    case GV_SIG_DEMONITOR:
    case GV_SIG_DOWN:
        if (add)
            s_mon_del(d, to.node, &c->ref);
        break;
    default:
        break;
    }
}

static grove_err s_deliver(void *ctx, grove_pid to, gv_sig *sig)
{
    gv_dist *d = ctx;
    /* Seq_cst, both here and in gv_dist_stop: either stop sees us in
     * flight, or we see it closing. */
    atomic_fetch_add(&d->inflight, 1);
    grove_err e = GROVE_ENOCONN;
    if (atomic_load(&d->closing) || to.node == d->self || to.creation == 0)
        goto out; /* (creation 0: a placeholder, e.g. a pending spawn's monitor) */
    gv_tp_env env;
    if (sig->kind == GV_SIG_MESSAGE) {
        memset(&env, 0, sizeof env);
        env.kind = GV_TP_SEND;
        env.u.send.to = s_pid_out(to, to.node);
        env.u.send.payload = s_bytes(gv_sig_term(sig));
        e = gv_tp_send(s_tp(d), to.node, &env);
        if (e == GROVE_OK) {
            gv_sig_free(sig);
        } else if (e == GROVE_EAGAIN || e == GROVE_E2BIG) {
            uint64_t n = atomic_fetch_add_explicit(&d->dropped, 1, memory_order_relaxed);
            if ((n & (n + 1)) == 0) /* the 1st, 2nd, 4th, 8th, ... */
                gv_log(GV_LOG_WARN, "dist", "message_dropped", "to=%s reason=%s dropped=%llu",
                       grove_nodename_str(to.node), e == GROVE_EAGAIN ? "peer_busy" : "too_big",
                       (unsigned long long)n + 1);
            e = GROVE_EAGAIN; /* the node drops it: not "not connected" */
        }
        goto out;
    }
    gv_sig_ctl *c = (gv_sig_ctl *)sig;
    gv_mutex_lock(&d->mu);
    if (s_ctl_env(d, to, c, &env)) {
        s_ctl_record(d, to, c, true);
        e = gv_tp_send(s_tp(d), to.node, &env);
        if (e != GROVE_OK)
            s_ctl_record(d, to, c, false);
    }
    gv_mutex_unlock(&d->mu);
    if (e == GROVE_OK)
        gv_sig_free(sig);
    else if (e == GROVE_EAGAIN ||
             e == GROVE_E2BIG) /* never EAGAIN for these; E2BIG: a huge reason */
        e = GROVE_ENOCONN;
out:
    atomic_fetch_sub(&d->inflight, 1);
    return e;
}

static void s_send_term(gv_dist *d, grove_pid to, grove_term *t);

/* ---- in: envelopes -------------------------------------------------------------------- */

static bool s_decode(gv_dist *d, grove_nodename from, gv_tp_bytes b, grove_term **out)
{
    grove_term_error err;
    memset(&err, 0, sizeof err);
    if (b.len >= 2 && grove_term_decode(b.data, b.len, out, &err) == GROVE_OK)
        return true;
    gv_log(GV_LOG_WARN, "dist", "bad_term", "peer=%s len=%zu", grove_nodename_str(from), b.len);
    s_refuse(d, from);
    return false;
}

static void s_ctl_in(gv_dist *d, grove_pid to, uint16_t kind, grove_pid from, grove_term *reason,
                     const grove_ref *ref, uint64_t id, uint16_t flags)
{
    gv_sig_ctl *c = gv_sig_ctl_new(kind, from, reason);
    c->hdr.flags = flags;
    if (ref)
        c->ref = *ref;
    c->id = id;
    gv_deliver(d->node, to, &c->hdr, false);
}

static void s_bad(gv_dist *d, grove_nodename from, const char *what)
{
    gv_log(GV_LOG_WARN, "dist", "bad_envelope", "peer=%s what=%s", grove_nodename_str(from), what);
    s_refuse(d, from);
}

/* SPAWN_REQUEST from S: spawn (held: it does not run yet), record the
 * link/monitor, reply, link/monitor the new process (outside the mutex: a
 * signal to a process that already died is answered through the router),
 * and only then let it run. The reply is queued before anything the new
 * process sends, as Erlang's spawn_reply, and it leaves before any exit
 * or DOWN of the new process, which take the mutex too. */
static void s_spawn_in(gv_dist *d, grove_nodename S, const gv_tp_env *env)
{
    grove_pid from;
    grove_ref ref;
    grove_term *arg = NULL;
    if (!s_pid_in(&env->u.spawn_request.from, S, &from) ||
        !s_ref_in(&env->u.spawn_request.ref, S, &ref))
        return s_bad(d, S, "spawn_request");
    if (env->u.spawn_request.arg.len && !s_decode(d, S, env->u.spawn_request.arg, &arg))
        return;
    bool link = env->u.spawn_request.link, monitor = env->u.spawn_request.monitor;
    const grove_behaviour *b = gv_behaviour_find(env->u.spawn_request.behaviour);
    grove_pid pid;
    grove_spawn_opts o = {.trap_exit = env->u.spawn_request.trap_exit};
    grove_proc *held = NULL;
    grove_err e = b ? gv_spawn_held(d->node, NULL, b, arg, &o, &pid, &held) : GROVE_ENOTFOUND;
    if (!b)
        grove_term_destroy(&arg);
    grove_term *why = NULL;
    gv_tp_env r;
    memset(&r, 0, sizeof r);
    r.kind = GV_TP_SPAWN_REPLY;
    r.u.spawn_reply.ref = s_ref_out(&ref, S);
    r.u.spawn_reply.to = s_pid_out(from, S);
    if (e == GROVE_OK) {
        r.u.spawn_reply.pid = s_pid_out(pid, d->self);
        r.u.spawn_reply.link = link;
        r.u.spawn_reply.monitor = monitor;
    } else {
        why = grove_atom(e == GROVE_ENOTFOUND ? "unknown_behaviour" : "system_limit");
        r.u.spawn_reply.error = s_bytes(why);
        link = monitor = false;
    }
    gv_mutex_lock(&d->mu);
    if (link)
        s_link_add(d, pid, from);
    if (monitor)
        s_mon_add(d, pid, from, ref, false);
    gv_tp *tp = s_tp(d);
    if (tp)
        gv_tp_send(tp, S, &r);
    gv_mutex_unlock(&d->mu);
    grove_term_destroy(&why);
    if (link)
        s_ctl_in(d, pid, GV_SIG_LINK, from, NULL, NULL, 0, 0);
    if (monitor)
        s_ctl_in(d, pid, GV_SIG_MONITOR, from, NULL, &ref, 0, 0);
    gv_spawn_release(held);
}

static void s_spawn_reply_in(gv_dist *d, grove_nodename S, const gv_tp_env *env)
{
    grove_pid to, pid;
    grove_ref ref;
    grove_term *why = NULL;
    if (!s_pid_in(&env->u.spawn_reply.to, d->self, &to) ||
        !s_ref_in(&env->u.spawn_reply.ref, d->self, &ref))
        return s_bad(d, S, "spawn_reply");
    bool ok = s_pid_in(&env->u.spawn_reply.pid, S, &pid);
    if (!ok && !s_decode(d, S, env->u.spawn_reply.error, &why))
        return;
    bool link = ok && env->u.spawn_reply.link, monitor = env->u.spawn_reply.monitor;
    bool unmonitor = false;
    gv_mutex_lock(&d->mu);
    bool pending = s_spawn_del(d, S, &ref);
    if (pending && link)
        s_link_add(d, to, pid);
    if (pending && ok && monitor)
        s_mon_retarget(d, S, &ref, pid);
    else if (pending && !ok)
        unmonitor = s_mon_del(d, S, &ref);
    gv_mutex_unlock(&d->mu);
    if (!pending) { /* not ours (or answered already) */
        grove_term_destroy(&why);
        return;
    }
    if (unmonitor) /* failed: the requester's placeholder monitor goes, no DOWN */
        s_ctl_in(d, to, GV_SIG_DOWN, (grove_pid){.node = S}, NULL, &ref, 0, GV_SIGF_SILENT);
    if (link) /* in place before the reply, and before any exit from pid */
        s_ctl_in(d, to, GV_SIG_LINK, pid, NULL, NULL, 0, 0);
    if (ok)
        s_send_term(d, to, grove_pack("{spawn_reply, ~r, ok, ~p}", ref, pid));
    else
        s_send_term(d, to, grove_pack("{spawn_reply, ~r, error, ~t}", ref, why));
}

/* MONITOR or DEMONITOR by name from S (erlang:monitor(process, {Name,
 * Node})). A monitor resolves the name here, once: nobody has it, and a
 * DOWN by name goes back with `noproc`; else that process is monitored as
 * by pid (its DOWN carries the pid; the watcher shows the name). A
 * demonitor finds the monitor by its reference. */
static void s_monitor_name_in(gv_dist *d, grove_nodename S, const gv_tp_env *env, grove_pid from,
                              grove_ref ref)
{
    grove_pid pid;
    if (env->kind == GV_TP_DEMONITOR) {
        gv_mutex_lock(&d->mu);
        d_mon *m = s_mon_on_local(d, S, &ref);
        bool found = m != NULL;
        if (found) {
            pid = m->local;
            s_mon_del(d, S, &ref);
        }
        gv_mutex_unlock(&d->mu);
        if (found)
            s_ctl_in(d, pid, GV_SIG_DEMONITOR, from, NULL, &ref, 0, 0);
        return;
    }
    if (grove_whereis(d->node, env->u.monitor.name, &pid) == GROVE_OK) {
        gv_mutex_lock(&d->mu);
        s_mon_add(d, pid, from, ref, false);
        gv_mutex_unlock(&d->mu);
        s_ctl_in(d, pid, GV_SIG_MONITOR, from, NULL, &ref, 0, 0);
        return;
    }
    gv_tp_env down;
    memset(&down, 0, sizeof down);
    grove_term *why = grove_atom("noproc");
    down.kind = GV_TP_DOWN;
    down.u.down.ref = s_ref_out(&ref, S);
    down.u.down.name = env->u.monitor.name;
    down.u.down.to = s_pid_out(from, S);
    down.u.down.reason = s_bytes(why);
    if (s_tp(d))
        gv_tp_send(s_tp(d), S, &down);
    grove_term_destroy(&why);
}

static void s_on_envelope(void *ctx, grove_nodename S, const gv_tp_env *env)
{
    gv_dist *d = ctx;
    grove_nodename R = d->self;
    grove_pid to, from;
    grove_ref ref;
    grove_term *t = NULL;
    switch (env->kind) {
    case GV_TP_SEND:
        if (!s_pid_in(&env->u.send.to, R, &to))
            return s_bad(d, S, "send.to");
        if (!s_decode(d, S, env->u.send.payload, &t))
            return;
        gv_sig *s = gv_term_sig(t);
        s->kind = GV_SIG_MESSAGE;
        s->flags = 0;
        gv_deliver(d->node, to, s, false);
        return;
    case GV_TP_SEND_NAME:
        /* {Name, Node} ! Msg: to whoever holds the name here now, else
         * dropped silently (as Erlang does for a remote name). */
        if (!s_decode(d, S, env->u.send_name.payload, &t))
            return;
        if (grove_whereis(d->node, env->u.send_name.name, &to) != GROVE_OK) {
            grove_term_destroy(&t);
            return;
        }
        s_send_term(d, to, t);
        return;
    case GV_TP_LINK:
    case GV_TP_UNLINK:
    case GV_TP_UNLINK_ACK:
        if (!s_pid_in(&env->u.link.to, R, &to) || !s_pid_in(&env->u.link.from, S, &from))
            return s_bad(d, S, "link");
        gv_mutex_lock(&d->mu);
        if (env->kind == GV_TP_LINK)
            s_link_add(d, to, from);
        else if (env->kind == GV_TP_UNLINK_ACK)
            s_link_del(d, to, from);
        gv_mutex_unlock(&d->mu);
        s_ctl_in(d, to,
                 env->kind == GV_TP_LINK     ? GV_SIG_LINK
                 : env->kind == GV_TP_UNLINK ? GV_SIG_UNLINK
                                             : GV_SIG_UNLINK_ACK,
                 from, NULL, NULL, env->u.link.id, 0);
        return;
    case GV_TP_EXIT:
        if (!s_pid_in(&env->u.exit.to, R, &to) || !s_pid_in(&env->u.exit.from, S, &from))
            return s_bad(d, S, "exit");
        if (!s_decode(d, S, env->u.exit.reason, &t))
            return;
        if (env->u.exit.link) {
            gv_mutex_lock(&d->mu);
            s_link_del(d, to, from);
            gv_mutex_unlock(&d->mu);
        }
        s_ctl_in(d, to, GV_SIG_EXIT, from, t, NULL, 0, env->u.exit.link ? GV_SIGF_LINK : 0);
        return;
    case GV_TP_MONITOR:
    case GV_TP_DEMONITOR:
        if (!s_pid_in(&env->u.monitor.from, S, &from) || !s_ref_in(&env->u.monitor.ref, S, &ref))
            return s_bad(d, S, "monitor");
        if (env->u.monitor.name && *env->u.monitor.name)
            return s_monitor_name_in(d, S, env, from, ref);
        if (!s_pid_in(&env->u.monitor.to, R, &to))
            return s_bad(d, S, "monitor.to");
        gv_mutex_lock(&d->mu);
        if (env->kind == GV_TP_MONITOR)
            s_mon_add(d, to, from, ref, false);
        else
            s_mon_del(d, S, &ref);
        gv_mutex_unlock(&d->mu);
        s_ctl_in(d, to, env->kind == GV_TP_MONITOR ? GV_SIG_MONITOR : GV_SIG_DEMONITOR, from, NULL,
                 &ref, 0, 0);
        return;
    case GV_TP_DOWN:
        if (!s_pid_in(&env->u.down.to, R, &to) || !s_ref_in(&env->u.down.ref, R, &ref))
            return s_bad(d, S, "down");
        if (!s_pid_in(&env->u.down.from, S, &from)) {
            if (!env->u.down.name || !*env->u.down.name)
                return s_bad(d, S, "down.from");
            from = (grove_pid){.node = S}; /* by name: nobody had it */
        }
        if (!s_decode(d, S, env->u.down.reason, &t))
            return;
        gv_mutex_lock(&d->mu);
        s_mon_del(d, S, &ref);
        gv_mutex_unlock(&d->mu);
        s_ctl_in(d, to, GV_SIG_DOWN, from, t, &ref, 0, 0);
        return;
    case GV_TP_SPAWN_REQUEST:
        s_spawn_in(d, S, env);
        return;
    case GV_TP_SPAWN_REPLY:
        s_spawn_reply_in(d, S, env);
        return;
    default:
        gv_log(GV_LOG_DEBUG, "dist", "envelope_ignored", "peer=%s kind=%s", grove_nodename_str(S),
               gv_tp_kind_name(env->kind));
        return;
    }
}

/* ---- node up and down ---------------------------------------------------------------- */

static void s_send_term(gv_dist *d, grove_pid to, grove_term *t)
{
    if (!t)
        return;
    gv_sig *s = gv_term_sig(t);
    s->kind = GV_SIG_MESSAGE;
    s->flags = 0;
    gv_deliver(d->node, to, s, false);
}

static grove_pid *s_subs_copy(gv_dist *d, size_t *n)
{
    *n = d->ns;
    if (!d->ns)
        return NULL;
    grove_pid *c = gv_malloc(d->ns * sizeof *c);
    memcpy(c, d->subs, d->ns * sizeof *c);
    return c;
}

static void s_on_nodeup(void *ctx, grove_nodename node, uint32_t creation,
                        const gv_tp_nodeinfo *info)
{
    gv_dist *d = ctx;
    gv_mutex_lock(&d->mu);
    s_peer(d, node, true)->up = true;
    size_t n;
    grove_pid *subs = s_subs_copy(d, &n);
    gv_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n; i++)
        s_send_term(d, subs[i], grove_pack("{nodeup, ~a, []}", grove_nodename_str(node)));
    gv_free(subs);
}

static void s_on_nodedown(void *ctx, grove_nodename node, gv_tp_down_reason reason)
{
    gv_dist *d = ctx;
    gv_mutex_lock(&d->mu);
    d_peer *p = s_peer(d, node, true);
    d_peer was = *p;
    p->up = false;
    p->links = NULL;
    p->nl = p->cl = 0;
    p->mons = NULL;
    p->nm = p->cm = 0;
    p->watchers = NULL;
    p->nw = p->cw = 0;
    p->spawns = NULL;
    p->nsp = p->csp = 0;
    size_t n;
    grove_pid *subs = s_subs_copy(d, &n);
    gv_mutex_unlock(&d->mu);

    /* The session's envelopes have all been delivered (transport.h), so
     * these come after every other signal from that node. */
    for (size_t i = 0; i < was.nl; i++)
        s_ctl_in(d, was.links[i].local, GV_SIG_EXIT, was.links[i].remote,
                 grove_atom("noconnection"), NULL, 0, GV_SIGF_LINK);
    for (size_t i = 0; i < was.nm; i++) {
        d_mon *m = &was.mons[i];
        if (m->remote.creation == 0 && !m->by_name) { /* a pending spawn's: its reply says it */
            if (m->local_watches)                     /* the placeholder monitor goes, no DOWN */
                s_ctl_in(d, m->local, GV_SIG_DOWN, m->remote, NULL, &m->ref, 0, GV_SIGF_SILENT);
            continue;
        }
        if (m->local_watches)
            s_ctl_in(d, m->local, GV_SIG_DOWN, m->remote, grove_atom("noconnection"), &m->ref, 0,
                     0);
        else
            s_ctl_in(d, m->local, GV_SIG_DEMONITOR, m->remote, NULL, &m->ref, 0, 0);
    }
    for (size_t i = 0; i < was.nsp; i++)
        s_send_term(d, was.spawns[i].local,
                    grove_pack("{spawn_reply, ~r, error, noconnection}", was.spawns[i].ref));
    const char *name = grove_nodename_str(node);
    for (size_t i = 0; i < was.nw; i++)
        s_send_term(d, was.watchers[i], grove_pack("{nodedown, ~a}", name));
    for (size_t i = 0; i < n; i++)
        s_send_term(d, subs[i],
                    grove_pack("{nodedown, ~a, [{nodedown_reason, ~a}]}", name,
                               gv_tp_down_reason_name(reason)));
    gv_log(GV_LOG_INFO, "dist", "nodedown", "peer=%s reason=%s links=%zu monitors=%zu", name,
           gv_tp_down_reason_name(reason), was.nl, was.nm);
    gv_free(was.links);
    gv_free(was.mons);
    gv_free(was.watchers);
    gv_free(was.spawns);
    gv_free(subs);
}

static void s_load(void *ctx, gv_tp_load *out)
{
    gv_dist *d = ctx;
    grove_node_stats st;
    grove_node_stats_get(d->node, &st);
    out->processes = st.processes;
    out->run_queue = st.injected;
    for (unsigned i = 0; i < st.workers && i < 64; i++)
        out->run_queue += st.runq[i];
}

/* ---- cluster ops ------------------------------------------------------------------------ */

static grove_err s_nodes(void *ctx, grove_nodename *out, size_t cap, size_t *n)
{
    gv_dist *d = ctx;
    gv_tp_member m[64];
    size_t k = 0, total;
    if (atomic_load(&d->closing)) {
        *n = 0;
        return GROVE_OK;
    }
    atomic_fetch_add(&d->inflight, 1);
    if (atomic_load(&d->closing)) {
        atomic_fetch_sub(&d->inflight, 1);
        *n = 0;
        return GROVE_OK;
    }
    total = gv_tp_members(s_tp(d), m, 64);
    atomic_fetch_sub(&d->inflight, 1);
    for (size_t i = 0; i < total && i < 64; i++, k++)
        if (k < cap)
            out[k] = m[i].node;
    *n = total;
    return GROVE_OK;
}

static grove_err s_monitor_node(void *ctx, grove_pid watcher, grove_nodename node)
{
    gv_dist *d = ctx;
    if (node == d->self)
        return GROVE_OK;
    grove_err e = GROVE_ENOCONN;
    gv_mutex_lock(&d->mu);
    d_peer *p = s_peer(d, node, false);
    if (p && p->up && !atomic_load(&d->closing)) {
        GROW(p->watchers, p->nw, p->cw);
        p->watchers[p->nw++] = watcher;
        e = GROVE_OK;
    }
    gv_mutex_unlock(&d->mu);
    return e;
}

static grove_err s_monitor_nodes(void *ctx, grove_pid watcher, bool on)
{
    gv_dist *d = ctx;
    gv_mutex_lock(&d->mu);
    size_t i = 0;
    while (i < d->ns && !grove_pid_equal(d->subs[i], watcher))
        i++;
    if (on && i == d->ns) {
        GROW(d->subs, d->ns, d->cs);
        d->subs[d->ns++] = watcher;
    } else if (!on && i < d->ns) {
        d->subs[i] = d->subs[--d->ns];
    }
    gv_mutex_unlock(&d->mu);
    return GROVE_OK;
}

/* Removes every w from pids[0..*n), keeping the order of the rest. */
static void s_pids_drop(grove_pid *pids, size_t *n, grove_pid w)
{
    size_t keep = 0;
    for (size_t i = 0; i < *n; i++)
        if (!grove_pid_equal(pids[i], w))
            pids[keep++] = pids[i];
    *n = keep;
}

static void s_watcher_exit(void *ctx, grove_pid watcher)
{
    gv_dist *d = ctx;
    gv_mutex_lock(&d->mu);
    s_pids_drop(d->subs, &d->ns, watcher);
    for (size_t i = 0; i < d->np; i++)
        s_pids_drop(d->peers[i].watchers, &d->peers[i].nw, watcher);
    gv_mutex_unlock(&d->mu);
}

size_t gv_dist_node_watchers(gv_dist *d)
{
    gv_mutex_lock(&d->mu);
    size_t n = d->ns;
    for (size_t i = 0; i < d->np; i++)
        n += d->peers[i].nw;
    gv_mutex_unlock(&d->mu);
    return n;
}

static grove_err s_spawn_request(void *ctx, grove_pid from, grove_ref ref, grove_nodename node,
                                 const char *behaviour, grove_term *arg, bool link, bool monitor,
                                 bool trap_exit)
{
    gv_dist *d = ctx;
    atomic_fetch_add(&d->inflight, 1);
    grove_err e = GROVE_ENOCONN;
    if (atomic_load(&d->closing) || node == d->self)
        goto out;
    gv_tp_env env;
    memset(&env, 0, sizeof env);
    env.kind = GV_TP_SPAWN_REQUEST;
    env.u.spawn_request.ref = s_ref_out(&ref, d->self);
    env.u.spawn_request.from = s_pid_out(from, d->self);
    env.u.spawn_request.behaviour = behaviour;
    env.u.spawn_request.arg = s_bytes(arg);
    env.u.spawn_request.link = link;
    env.u.spawn_request.monitor = monitor;
    env.u.spawn_request.trap_exit = trap_exit;
    gv_mutex_lock(&d->mu);
    s_spawn_add(d, node, from, ref);
    if (monitor)
        s_mon_add(d, from, (grove_pid){.node = node}, ref, true);
    e = gv_tp_send(s_tp(d), node, &env);
    if (e != GROVE_OK) {
        s_spawn_del(d, node, &ref);
        if (monitor)
            s_mon_del(d, node, &ref);
    }
    gv_mutex_unlock(&d->mu);
    if (e != GROVE_OK)
        e = GROVE_ENOCONN; /* (EAGAIN, E2BIG: answered the same way) */
out:
    atomic_fetch_sub(&d->inflight, 1);
    grove_term_destroy(&arg);
    return e;
}

/* monitor(process, {Name, Node}) for watcher: recorded (a placeholder of
 * node as the target, by_name, so a nodedown fires noconnection) and a
 * MONITOR by name sent; demonitor the same way back. */
static grove_err s_name_monitor_out(gv_dist *d, grove_pid watcher, grove_nodename node,
                                    const char *name, grove_ref ref, bool on)
{
    atomic_fetch_add(&d->inflight, 1); /* seq_cst: see s_deliver */
    grove_err e = GROVE_ENOCONN;
    if (atomic_load(&d->closing) || node == d->self)
        goto out;
    gv_tp_env env;
    memset(&env, 0, sizeof env);
    env.kind = on ? GV_TP_MONITOR : GV_TP_DEMONITOR;
    env.u.monitor.from = s_pid_out(watcher, d->self);
    env.u.monitor.name = name;
    env.u.monitor.ref = s_ref_out(&ref, d->self);
    gv_mutex_lock(&d->mu);
    if (on)
        s_mon_add(d, watcher, (grove_pid){.node = node}, ref, true)->by_name = true;
    else
        s_mon_del(d, node, &ref);
    e = gv_tp_send(s_tp(d), node, &env);
    if (e != GROVE_OK && on)
        s_mon_del(d, node, &ref);
    gv_mutex_unlock(&d->mu);
out:
    atomic_fetch_sub(&d->inflight, 1);
    return e;
}

static grove_err s_monitor_name(void *ctx, grove_pid watcher, grove_nodename node, const char *name,
                                grove_ref ref)
{
    return s_name_monitor_out(ctx, watcher, node, name, ref, true);
}

static void s_demonitor_name(void *ctx, grove_pid watcher, grove_nodename node, const char *name,
                             grove_ref ref)
{
    s_name_monitor_out(ctx, watcher, node, name, ref, false);
}

/* {Name, Node} ! Msg: one send_name envelope; a message, so it takes no
 * lock and a busy peer drops it (counted as the router's are). */
static grove_err s_send_name(void *ctx, grove_nodename node, const char *name, grove_term *msg)
{
    gv_dist *d = ctx;
    if (node == d->self)
        return d->prev.cluster.send_name(d->prev.cluster.ctx, node, name, msg);
    atomic_fetch_add(&d->inflight, 1); /* seq_cst: see s_deliver */
    grove_err e = GROVE_ENOCONN;
    if (!atomic_load(&d->closing)) {
        gv_tp_env env;
        memset(&env, 0, sizeof env);
        env.kind = GV_TP_SEND_NAME;
        env.u.send_name.name = name;
        env.u.send_name.payload = s_bytes(msg);
        e = gv_tp_send(s_tp(d), node, &env);
        if (e == GROVE_EAGAIN || e == GROVE_E2BIG) {
            uint64_t n = atomic_fetch_add_explicit(&d->dropped, 1, memory_order_relaxed);
            if ((n & (n + 1)) == 0)
                gv_log(GV_LOG_WARN, "dist", "message_dropped", "to=%s reason=%s dropped=%llu",
                       grove_nodename_str(node), e == GROVE_EAGAIN ? "peer_busy" : "too_big",
                       (unsigned long long)n + 1);
        } else if (e != GROVE_OK) {
            e = GROVE_ENOCONN;
        }
    }
    atomic_fetch_sub(&d->inflight, 1);
    grove_term_destroy(&msg);
    return e;
}

static grove_err s_load_of(void *ctx, grove_nodename node, uint64_t *out)
{
    gv_dist *d = ctx;
    if (node == d->self)
        return d->prev.cluster.load(d->prev.cluster.ctx, node, out);
    atomic_fetch_add(&d->inflight, 1);
    grove_err e = GROVE_ENOCONN;
    if (!atomic_load(&d->closing)) {
        gv_tp_load l;
        e = gv_tp_load_of(s_tp(d), node, &l);
        if (e == GROVE_OK)
            *out = l.run_queue + l.processes;
    }
    atomic_fetch_sub(&d->inflight, 1);
    return e;
}

/* ---- life ------------------------------------------------------------------------------ */

grove_err gv_dist_start(grove_node *node, const gv_tp_config *cfg_in, gv_tp_keys *keys,
                        gv_dist **out)
{
    gv_dist *d = gv_calloc(1, sizeof *d);
    d->keys = *keys;
    memset(keys, 0, sizeof *keys);
    d->node = node;
    d->self = grove_node_name(node);
    atomic_init(&d->tp, NULL);
    atomic_init(&d->closing, false);
    atomic_init(&d->inflight, 0);
    atomic_init(&d->dropped, 0);
    gv_mutex_init(&d->mu);
    d->prev = *gv_node_ops(node);
    gv_tp_config cfg = *cfg_in;
    cfg.node = grove_nodename_str(d->self);
    cfg.creation = grove_node_creation(node);
    cfg.keys = &d->keys;
    /* The router and cluster ops go in first, answering "not connected"
     * while closing is set: the transport's callbacks may run as soon as
     * it starts, and what they deliver may be answered across nodes. */
    atomic_store(&d->closing, true);
    gv_ops ops_all = d->prev;
    ops_all.router = (gv_router){.ctx = d, .deliver = s_deliver};
    ops_all.cluster.ctx = d;
    ops_all.cluster.nodes = s_nodes;
    ops_all.cluster.monitor_node = s_monitor_node;
    ops_all.cluster.monitor_nodes = s_monitor_nodes;
    ops_all.cluster.watcher_exit = s_watcher_exit;
    ops_all.cluster.monitor_name = s_monitor_name;
    ops_all.cluster.demonitor_name = s_demonitor_name;
    ops_all.cluster.load = s_load_of;
    ops_all.cluster.spawn_request = s_spawn_request;
    ops_all.cluster.send_name = s_send_name;
    gv_node_set_ops(node, &ops_all);
    gv_tp_ops ops = {.ctx = d,
                     .on_nodeup = s_on_nodeup,
                     .on_nodedown = s_on_nodedown,
                     .on_envelope = s_on_envelope,
                     .load = s_load};
    gv_tp *tp = NULL;
    grove_err e = gv_tp_new(&cfg, &ops, &tp);
    if (e != GROVE_OK) {
        gv_node_set_ops(node, &d->prev);
        gv_tp_keys_fini(&d->keys);
        gv_mutex_fini(&d->mu);
        gv_free(d);
        return e;
    }
    atomic_store(&d->tp, tp);
    atomic_store(&d->closing, false); /* seq_cst: publishes tp to the router */
    *out = d;
    return GROVE_OK;
}

gv_dist *gv_dist_of(grove_node *node)
{
    const gv_ops *o = gv_node_ops(node);
    return o->router.deliver == s_deliver ? o->router.ctx : NULL;
}

gv_tp *gv_dist_tp(gv_dist *d)
{
    return atomic_load(&d->closing) ? NULL : s_tp(d);
}

void gv_dist_stop(gv_dist *d)
{
    if (!d || atomic_exchange(&d->closing, true))
        return;
    while (atomic_load(&d->inflight) > 0)
        gv_sleep_ms(1);
    /* on_nodedown(STOPPED) runs for every live session inside: local
     * links and monitors across fire noconnection now. */
    gv_tp *tp = s_tp(d); /* the I/O thread may read d->tp until it ends */
    gv_tp_destroy(&tp);
    atomic_store(&d->tp, NULL);
}

void gv_dist_free(gv_dist **dp)
{
    if (!dp || !*dp)
        return;
    gv_dist *d = *dp;
    *dp = NULL;
    gv_dist_stop(d);
    for (size_t i = 0; i < d->np; i++) {
        gv_free(d->peers[i].links);
        gv_free(d->peers[i].mons);
        gv_free(d->peers[i].watchers);
        gv_free(d->peers[i].spawns);
    }
    gv_free(d->peers);
    gv_free(d->subs);
    gv_tp_keys_fini(&d->keys);
    gv_mutex_fini(&d->mu);
    gv_free(d);
}

uint64_t gv_dist_dropped(gv_dist *d)
{
    return atomic_load_explicit(&d->dropped, memory_order_relaxed);
}
