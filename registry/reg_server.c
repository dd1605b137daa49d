/*
 * reg_server.c - the registry process: one per node, the only writer of
 * its node's replica, talking to its peers with ordinary messages
 * (docs/registry.md has the protocol and why it is safe).
 *
 * Claims. A registration is a claim (name, pid, epoch, id) sent to every
 * peer; each answers accept or refuse, and the claimant commits (to all)
 * when every registry peer accepted, or releases (to all) at the first
 * refusal. Claims rank by epoch, then node name, then pid, and a peer
 * accepts one only if it beats everything the peer knows for the name:
 * its entry (an entry refuses everything), the highest epoch committed
 * (floor), its own pending claim and every claim it has accepted and
 * not yet seen resolved (reservations). A node starts its own claim for
 * a name only when it holds no reservation for it, so two claims never
 * both get every accept.
 *
 * Liveness. The owner's node monitors a registered process and
 * unregisters it everywhere when it exits; every node drops a down node's
 * names. Tables meet on nodeup (each side sends its own entries) and a
 * clash keeps the higher-ranked entry everywhere; the loser's node tells
 * its process and unregisters it everywhere.
 *
 * Messages (Tag = '$grove_global', names are binaries):
 *   {Tag, register, Name, Pid, ReplyTo, Ref, Forwarded}     a request
 *   {Tag, unregister, Name, ReplyTo, Ref, Forwarded}        a request
 *   {Tag, claim, Name, Pid, Epoch, Id, From}                to peers
 *   {Tag, answer, Name, Id, From, accept | busy | {owner, Pid, Epoch}
 *                                       | {stale, Floor}}   to From
 *   {Tag, commit, Name, Pid, Epoch, Id}, {Tag, release, Name, Id}
 *   {Tag, unregistered, Name, Pid, Epoch}                   by the owner
 *   {Tag, hello, From}, {Tag, entry, Name, Pid, Epoch}      the table sync
 *   {Tag, cluster_up}, {Tag, retry, Name}, {Tag, timeout, Name, Id},
 *   {Tag, expire, Name, Id}, {Tag, fwd_timeout, Ref}        to itself
 */
#include "registry/reg_impl.h"

#include <grove/names.h>

#include "base/gv_alloc.h"
#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

#define CLAIM_TIMEOUT_MS 5000
#define FORWARD_TIMEOUT_MS (2 * CLAIM_TIMEOUT_MS + 1000)
#define RESERVATION_MS (2 * CLAIM_TIMEOUT_MS)
#define RETRY_FIRST_MS 1
#define RETRY_MAX_MS 64
#define RETRIES_MAX 40 /* about 2 s of contention, then GROVE_EAGAIN */

#define GROW(arr, n, cap)                                     \
    do {                                                      \
        if ((n) == (cap)) {                                   \
            (cap) = (cap) ? (cap)*2 : 4;                      \
            (arr) = gv_realloc((arr), (cap) * sizeof *(arr)); \
        }                                                     \
    } while (0)

typedef struct s_claim {
    grove_ref id;
    grove_pid pid; /* its node is the claimant */
    uint64_t epoch;
    grove_timer timer; /* ours: its timeout; others': the reservation's expiry */
} s_claim;

/* A registration waiting its turn (or being claimed). */
typedef struct s_req {
    struct s_req *next;
    grove_pid pid, reply_to;
    grove_ref ref;
    unsigned tries;
} s_req;

/* Everything this process knows about one name. Kept after the name is
 * released, for its epochs. */
typedef struct s_name {
    char *name;
    size_t len;
    uint64_t floor; /* highest epoch committed (ours or seen) */
    uint64_t seen;  /* highest epoch in any claim or entry: >= floor */
    bool pending;   /* our own claim is out */
    s_claim own;
    s_req *own_req;
    grove_nodename *await; /* peers whose answer we wait for */
    size_t nawait, cawait;
    s_claim *resv; /* claims of others we accepted, unresolved */
    size_t nresv, cresv;
    s_req *qh, *qt; /* registrations waiting */
    bool holding;   /* backing off after a lost race */
    bool watched;   /* a monitor on the local holder */
    grove_ref mon;
} s_name;

typedef struct s_peer {
    grove_nodename node;
    bool up;     /* a session is up */
    bool member; /* its registry said hello in this session: it must answer claims */
} s_peer;

/* A request passed to the registry of the pid's (or holder's) node. */
typedef struct s_fwd {
    grove_ref ref;
    grove_nodename node;
    bool unregister;
    grove_pid reply_to;
    grove_ref orig;
    grove_timer timer;
} s_fwd;

typedef struct s_srv {
    gv_registry *r;
    grove_pid me;
    gv_rmap names; /* name -> s_name */
    gv_rmap mons;  /* monitor reference words -> s_name */
    s_peer *peers;
    size_t np, cp;
    s_fwd *fwds;
    size_t nf, cf;
} s_srv;

/* ---- small helpers ------------------------------------------------------- */

static bool s_local(const s_srv *s, grove_pid pid)
{
    return pid.node == s->r->self;
}

/* The order of claims and entries: epoch, then node name, then the pid
 * (two incarnations of one node; a node never claims one name twice at
 * one epoch). > 0 when a ranks above b. */
static int s_rank(uint64_t ea, grove_pid a, uint64_t eb, grove_pid b)
{
    if (ea != eb)
        return ea > eb ? 1 : -1;
    if (a.node != b.node) {
        int c = strcmp(grove_nodename_str(a.node), grove_nodename_str(b.node));
        if (c)
            return c > 0 ? 1 : -1;
    }
    if (a.creation != b.creation)
        return a.creation > b.creation ? 1 : -1;
    if (a.id != b.id)
        return a.id > b.id ? 1 : -1;
    if (a.serial != b.serial)
        return a.serial > b.serial ? 1 : -1;
    return 0;
}

static void s_raise(s_name *n, uint64_t epoch, bool committed)
{
    if (committed && epoch > n->floor)
        n->floor = epoch;
    if (epoch > n->seen)
        n->seen = epoch;
    if (n->floor > n->seen)
        n->seen = n->floor;
}

static s_name *s_name_of(s_srv *s, const void *name, size_t len, bool create)
{
    s_name *n = gv_rmap_get(&s->names, name, len);
    if (n || !create)
        return n;
    n = gv_calloc(1, sizeof *n);
    n->name = gv_strndup(name, len);
    n->len = len;
    gv_rmap_put(&s->names, name, len, n);
    return n;
}

static bool s_get(s_srv *s, const s_name *n, grove_pid *pid, uint64_t *epoch)
{
    return gv_reg_get(s->r, n->name, n->len, pid, epoch);
}

static s_peer *s_peer_of(s_srv *s, grove_nodename node, bool create)
{
    for (size_t i = 0; i < s->np; i++)
        if (s->peers[i].node == node)
            return &s->peers[i];
    if (!create)
        return NULL;
    GROW(s->peers, s->np, s->cp);
    s->peers[s->np] = (s_peer){.node = node};
    return &s->peers[s->np++];
}

/* For inspection and tests (gv_registry_members). */
static void s_publish_members(s_srv *s)
{
    uint32_t k = 0;
    for (size_t i = 0; i < s->np; i++)
        k += s->peers[i].up && s->peers[i].member;
    /* Relaxed: a figure read on its own. */
    atomic_store_explicit(&s->r->members, k, memory_order_relaxed);
}

/* msg (consumed) to the registry of every node that is up. */
static void s_broadcast(grove_proc *self, s_srv *s, grove_term *msg)
{
    for (size_t i = 0; i < s->np; i++)
        if (s->peers[i].up)
            grove_send_name_at(self, s->peers[i].node, GV_REG_SERVER_NAME, grove_term_copy(msg));
    grove_term_destroy(&msg);
}

static void s_reply_ok(grove_proc *self, grove_pid to, grove_ref ref, uint64_t epoch)
{
    grove_send(self, to, grove_pack("{global_registered, ~r, ok, ~u}", ref, epoch));
}

static void s_reply_err(grove_proc *self, grove_pid to, grove_ref ref, grove_err e)
{
    grove_send(self, to, grove_pack("{global_registered, ~r, error, ~a}", ref, grove_errname(e)));
}

static void s_reply_taken(grove_proc *self, grove_pid to, grove_ref ref, grove_pid holder)
{
    grove_send(self, to,
               grove_pack("{global_registered, ~r, error, {already_registered, ~p}}", ref, holder));
}

static void s_unreg_reply(grove_proc *self, grove_pid to, grove_ref ref, grove_err e)
{
    if (e == GROVE_OK)
        grove_send(self, to, grove_pack("{global_unregistered, ~r, ok}", ref));
    else
        grove_send(self, to,
                   grove_pack("{global_unregistered, ~r, error, ~a}", ref, grove_errname(e)));
}

static bool s_alive(s_srv *s, grove_pid pid)
{
    grove_proc_info info;
    return s_local(s, pid) && pid.creation == s->r->creation &&
           grove_proc_info_get(s->r->node, pid, &info) == GROVE_OK &&
           info.status != GROVE_PROC_EXITING;
}

/* ---- the local holder's monitor ------------------------------------------ */

static void s_watch(grove_proc *self, s_srv *s, s_name *n, grove_pid pid)
{
    if (n->watched || !s_local(s, pid))
        return;
    grove_monitor(self, pid, &n->mon); /* a dead pid: DOWN noproc at once */
    n->watched = true;
    gv_rmap_put(&s->mons, n->mon.id, n->mon.len * sizeof n->mon.id[0], n);
}

static void s_unwatch(grove_proc *self, s_srv *s, s_name *n)
{
    if (!n->watched)
        return;
    gv_rmap_del(&s->mons, n->mon.id, n->mon.len * sizeof n->mon.id[0]);
    grove_demonitor(self, n->mon, true);
    n->watched = false;
}

/* Drops our own entry of n everywhere. */
static void s_drop_own(grove_proc *self, s_srv *s, s_name *n, grove_pid pid, uint64_t epoch)
{
    s_unwatch(self, s, n);
    gv_reg_del(s->r, n->name, n->len);
    s_broadcast(
        self, s,
        grove_pack("{" GV_REG_TAG ", unregistered, ~b, ~p, ~u}", n->name, n->len, pid, epoch));
}

/* The clash rule's action on our own process `loser`, which loses name n
 * to `other` (grove_global_resolution). */
static void s_resolve(grove_proc *self, s_srv *s, s_name *n, grove_pid loser, grove_pid other)
{
    int mode = atomic_load_explicit(&s->r->resolution, memory_order_relaxed);
    gv_log(GV_LOG_INFO, "registry", "name_conflict", "name=%.*s loser=<%u.%u> mode=%d", (int)n->len,
           n->name, loser.id, loser.serial, mode);
    if (mode == GROVE_GLOBAL_KILL)
        grove_exit(self, loser, grove_atom("kill"));
    else
        grove_exit(self, loser, grove_pack("{name_conflict, ~b, ~p}", n->name, n->len, other));
}

/* Installs (pid, epoch) for n, held elsewhere or (a commit of ours)
 * here, keeping the higher-ranked entry on a clash. Returns true when
 * the new entry holds the name afterwards. */
static bool s_install(grove_proc *self, s_srv *s, s_name *n, grove_pid pid, uint64_t epoch)
{
    s_raise(n, epoch, true);
    grove_pid cur;
    uint64_t ce;
    if (!s_get(s, n, &cur, &ce)) {
        gv_reg_set(s->r, n->name, n->len, pid, epoch);
        s_watch(self, s, n, pid);
        return true;
    }
    if (grove_pid_equal(cur, pid)) { /* the same holder: keep the higher epoch */
        if (epoch > ce)
            gv_reg_set(s->r, n->name, n->len, pid, epoch);
        return epoch >= ce;
    }
    bool drop =
        atomic_load_explicit(&s->r->resolution, memory_order_relaxed) == GROVE_GLOBAL_DROP_BOTH;
    if (s_rank(epoch, pid, ce, cur) > 0) {
        if (s_local(s, cur)) {
            s_drop_own(self, s, n, cur, ce);
            s_resolve(self, s, n, cur, pid);
        }
        gv_reg_set(s->r, n->name, n->len, pid, epoch);
        s_watch(self, s, n, pid);
        if (drop && s_local(s, pid)) {
            s_drop_own(self, s, n, pid, epoch);
            s_resolve(self, s, n, pid, cur);
            return false;
        }
        return true;
    }
    if (drop && s_local(s, cur)) {
        s_drop_own(self, s, n, cur, ce);
        s_resolve(self, s, n, cur, pid);
    }
    return false;
}

/* The holder of n, if any. A local holder that has exited but whose
 * DOWN is still on its way (a supervisor restarting a globally named
 * child can ask before it arrives) is dropped here and now. */
static bool s_holder(grove_proc *self, s_srv *s, s_name *n, grove_pid *out)
{
    uint64_t epoch;
    if (!s_get(s, n, out, &epoch))
        return false;
    if (!s_local(s, *out) || s_alive(s, *out))
        return true;
    s_drop_own(self, s, n, *out, epoch);
    return false;
}

/* ---- our own claims ------------------------------------------------------ */

static void s_pump(grove_proc *self, s_srv *s, s_name *n);

/* Our claim is decided: no answer is awaited any more. */
static void s_decided(grove_proc *self, s_name *n)
{
    if (n->own.timer)
        grove_cancel_timer(self, n->own.timer);
    n->own.timer = 0;
    n->pending = false;
    n->nawait = 0;
}

static void s_release(grove_proc *self, s_srv *s, s_name *n)
{
    s_broadcast(self, s,
                grove_pack("{" GV_REG_TAG ", release, ~b, ~r}", n->name, n->len, n->own.id));
    s_decided(self, n);
}

/* Every registry peer accepted: the name is ours, unless an entry that
 * ranks higher arrived meanwhile (a table sync). */
static void s_commit(grove_proc *self, s_srv *s, s_name *n)
{
    s_req *q = n->own_req;
    n->own_req = NULL;
    grove_pid cur;
    uint64_t ce;
    if (s_get(s, n, &cur, &ce) && s_rank(ce, cur, n->own.epoch, n->own.pid) > 0) {
        s_release(self, s, n);
        s_reply_taken(self, q->reply_to, q->ref, cur);
        gv_free(q);
        return;
    }
    s_decided(self, n);
    grove_term *commit = grove_pack("{" GV_REG_TAG ", commit, ~b, ~p, ~u, ~r}", n->name, n->len,
                                    n->own.pid, n->own.epoch, n->own.id);
    /* The usual case: held here, answered, then the others told. A
     * request forwarded from another node is answered after the commit,
     * so its node holds the name when its caller hears back. */
    if (!s_get(s, n, NULL, NULL) && s_local(s, q->reply_to)) {
        s_install(self, s, n, n->own.pid, n->own.epoch);
        s_reply_ok(self, q->reply_to, q->ref, n->own.epoch);
        s_broadcast(self, s, commit);
        gv_free(q);
        return;
    }
    /* (A lower entry that arrived meanwhile: the commit goes out before
     * the clash's own messages, as an `unregistered` must follow it.) */
    s_broadcast(self, s, commit);
    if (s_install(self, s, n, n->own.pid, n->own.epoch))
        s_reply_ok(self, q->reply_to, q->ref, n->own.epoch);
    else if (s_get(s, n, &cur, NULL))
        s_reply_taken(self, q->reply_to, q->ref, cur);
    else
        s_reply_err(self, q->reply_to, q->ref, GROVE_EEXIST); /* dropped in a clash */
    gv_free(q);
}

static void s_claim_start(grove_proc *self, s_srv *s, s_name *n, s_req *q)
{
    s_raise(n, n->seen + 1, false);
    n->own = (s_claim){.id = grove_make_ref(self), .pid = q->pid, .epoch = n->seen};
    n->own_req = q;
    n->pending = true;
    n->nawait = 0;
    grove_term *msg = grove_pack("{" GV_REG_TAG ", claim, ~b, ~p, ~u, ~r, ~p}", n->name, n->len,
                                 q->pid, n->own.epoch, n->own.id, s->me);
    for (size_t i = 0; i < s->np; i++) {
        s_peer *p = &s->peers[i];
        if (!p->up)
            continue;
        grove_err e = grove_send_name_at(self, p->node, GV_REG_SERVER_NAME, grove_term_copy(msg));
        if (e == GROVE_OK && p->member) {
            GROW(n->await, n->nawait, n->cawait);
            n->await[n->nawait++] = p->node;
        }
    }
    grove_term_destroy(&msg);
    if (n->nawait == 0) {
        s_commit(self, s, n);
        return;
    }
    grove_send_after(self, CLAIM_TIMEOUT_MS, s->me,
                     grove_pack("{" GV_REG_TAG ", timeout, ~b, ~r}", n->name, n->len, n->own.id),
                     &n->own.timer);
}

/* Our claim lost a race (busy) or was below a peer's floor (stale): the
 * request goes back to the front of the queue, after a pause if busy. */
static void s_retry(grove_proc *self, s_srv *s, s_name *n, bool pause)
{
    s_req *q = n->own_req;
    n->own_req = NULL;
    s_release(self, s, n);
    if (++q->tries > RETRIES_MAX) {
        s_reply_err(self, q->reply_to, q->ref, GROVE_EAGAIN);
        gv_free(q);
        return;
    }
    q->next = n->qh;
    n->qh = q;
    if (!n->qt)
        n->qt = q;
    if (pause && !n->holding) {
        unsigned shift = q->tries - 1 < 6 ? q->tries - 1 : 6;
        uint64_t ms = (uint64_t)RETRY_FIRST_MS << shift;
        n->holding = true;
        grove_send_after(self, ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS, s->me,
                         grove_pack("{" GV_REG_TAG ", retry, ~b}", n->name, n->len), NULL);
    }
}

static void s_fail(grove_proc *self, s_srv *s, s_name *n, grove_err e, const grove_pid *holder)
{
    s_req *q = n->own_req;
    n->own_req = NULL;
    s_release(self, s, n);
    if (holder)
        s_reply_taken(self, q->reply_to, q->ref, *holder);
    else
        s_reply_err(self, q->reply_to, q->ref, e);
    gv_free(q);
}

/* Starts the next waiting registration of n when nothing else is under
 * way for it here: no claim of ours, no claim of others accepted and
 * unresolved, no back-off. */
static void s_pump(grove_proc *self, s_srv *s, s_name *n)
{
    while (n->qh && !n->pending && n->nresv == 0 && !n->holding) {
        s_req *q = n->qh;
        n->qh = q->next;
        if (!n->qh)
            n->qt = NULL;
        grove_pid cur;
        if (s_holder(self, s, n, &cur)) {
            s_reply_taken(self, q->reply_to, q->ref, cur);
            gv_free(q);
        } else if (!s_alive(s, q->pid)) {
            s_reply_err(self, q->reply_to, q->ref, GROVE_ENOPROC);
            gv_free(q);
        } else {
            s_claim_start(self, s, n, q);
        }
    }
}

static void s_await_done(grove_proc *self, s_srv *s, s_name *n, grove_nodename node)
{
    for (size_t i = 0; i < n->nawait; i++)
        if (n->await[i] == node) {
            n->await[i] = n->await[--n->nawait];
            if (n->nawait == 0)
                s_commit(self, s, n);
            return;
        }
}

/* ---- requests ------------------------------------------------------------ */

static void s_forward(grove_proc *self, s_srv *s, grove_nodename node, grove_term *req, bool unreg,
                      grove_pid reply_to, grove_ref orig, grove_ref fref)
{
    if (grove_send_name_at(self, node, GV_REG_SERVER_NAME, req) != GROVE_OK) {
        if (unreg)
            s_unreg_reply(self, reply_to, orig, GROVE_ENOCONN);
        else
            s_reply_err(self, reply_to, orig, GROVE_ENOCONN);
        return;
    }
    GROW(s->fwds, s->nf, s->cf);
    s_fwd *f = &s->fwds[s->nf++];
    *f =
        (s_fwd){.ref = fref, .node = node, .unregister = unreg, .reply_to = reply_to, .orig = orig};
    grove_send_after(self, FORWARD_TIMEOUT_MS, s->me,
                     grove_pack("{" GV_REG_TAG ", fwd_timeout, ~r}", fref), &f->timer);
}

static bool s_fwd_take(grove_proc *self, s_srv *s, const grove_ref *ref, s_fwd *out)
{
    for (size_t i = 0; i < s->nf; i++)
        if (grove_ref_equal(&s->fwds[i].ref, ref)) {
            *out = s->fwds[i];
            s->fwds[i] = s->fwds[--s->nf];
            grove_cancel_timer(self, out->timer);
            return true;
        }
    return false;
}

static void s_on_register(grove_proc *self, s_srv *s, const char *name, size_t len, grove_pid pid,
                          grove_pid reply_to, grove_ref ref, bool forwarded)
{
    if (len < 1 || len > GV_REG_NAME_MAX) {
        s_reply_err(self, reply_to, ref, GROVE_EINVAL);
        return;
    }
    if (!s_local(s, pid)) { /* its own node registers it */
        if (forwarded || !pid.node) {
            s_reply_err(self, reply_to, ref, GROVE_ENOPROC);
            return;
        }
        grove_ref fref = grove_make_ref(self);
        s_forward(self, s, pid.node,
                  grove_pack("{" GV_REG_TAG ", register, ~b, ~p, ~p, ~r, true}", name, len, pid,
                             s->me, fref),
                  false, reply_to, ref, fref);
        return;
    }
    s_name *n = s_name_of(s, name, len, true);
    s_req *q = gv_calloc(1, sizeof *q);
    q->pid = pid;
    q->reply_to = reply_to;
    q->ref = ref;
    if (n->qt)
        n->qt->next = q;
    else
        n->qh = q;
    n->qt = q;
    s_pump(self, s, n);
}

static void s_on_unregister(grove_proc *self, s_srv *s, const char *name, size_t len,
                            grove_pid reply_to, grove_ref ref, bool forwarded)
{
    s_name *n = len >= 1 && len <= GV_REG_NAME_MAX ? s_name_of(s, name, len, false) : NULL;
    grove_pid cur;
    uint64_t ce;
    if (!n || !s_get(s, n, &cur, &ce)) {
        s_unreg_reply(self, reply_to, ref, len ? GROVE_ENOTFOUND : GROVE_EINVAL);
        return;
    }
    if (s_local(s, cur)) {
        s_drop_own(self, s, n, cur, ce);
        s_unreg_reply(self, reply_to, ref, GROVE_OK);
        s_pump(self, s, n);
        return;
    }
    if (forwarded) { /* it moved meanwhile */
        s_unreg_reply(self, reply_to, ref, GROVE_ENOTFOUND);
        return;
    }
    grove_ref fref = grove_make_ref(self);
    s_forward(self, s, cur.node,
              grove_pack("{" GV_REG_TAG ", unregister, ~b, ~p, ~r, true}", name, len, s->me, fref),
              true, reply_to, ref, fref);
}

/* The answer of a forwarded request, passed on. The holder's node sent
 * its commit or unregistered before it, so this node's replica already
 * shows the change. */
static void s_on_forwarded(grove_proc *self, s_srv *s, const grove_term *msg)
{
    grove_ref ref;
    grove_term *why = NULL;
    uint64_t epoch;
    s_fwd f;
    if (grove_match(msg, "{global_registered, ~r, ok, ~u}", &ref, &epoch)) {
        if (s_fwd_take(self, s, &ref, &f))
            s_reply_ok(self, f.reply_to, f.orig, epoch);
    } else if (grove_match(msg, "{global_registered, ~r, error, ~t}", &ref, &why)) {
        if (s_fwd_take(self, s, &ref, &f))
            grove_send(self, f.reply_to,
                       grove_pack("{global_registered, ~r, error, ~t}", f.orig, why));
        else
            grove_term_destroy(&why);
    } else if (grove_match(msg, "{global_unregistered, ~r, ok}", &ref)) {
        if (s_fwd_take(self, s, &ref, &f))
            s_unreg_reply(self, f.reply_to, f.orig, GROVE_OK);
    } else if (grove_match(msg, "{global_unregistered, ~r, error, ~t}", &ref, &why)) {
        if (s_fwd_take(self, s, &ref, &f))
            grove_send(self, f.reply_to,
                       grove_pack("{global_unregistered, ~r, error, ~t}", f.orig, why));
        else
            grove_term_destroy(&why);
    }
}

static void s_fwd_fail(grove_proc *self, s_fwd *f, grove_err e)
{
    if (f->unregister)
        s_unreg_reply(self, f->reply_to, f->orig, e);
    else
        s_reply_err(self, f->reply_to, f->orig, e);
}

/* ---- peers' messages ----------------------------------------------------- */

static void s_on_claim(grove_proc *self, s_srv *s, const char *name, size_t len, grove_pid pid,
                       uint64_t epoch, grove_ref id, grove_pid from)
{
    if (len < 1 || len > GV_REG_NAME_MAX || from.node != pid.node)
        return;
    s_name *n = s_name_of(s, name, len, true);
    grove_pid cur;
    uint64_t ce;
    grove_term *ans = NULL;
    bool busy = n->pending && s_rank(epoch, pid, n->own.epoch, n->own.pid) <= 0;
    for (size_t i = 0; i < n->nresv && !busy; i++)
        busy = s_rank(epoch, pid, n->resv[i].epoch, n->resv[i].pid) <= 0;
    if (s_holder(self, s, n, &cur) && s_get(s, n, NULL, &ce)) {
        ans = grove_pack("{owner, ~p, ~u}", cur, ce);
    } else if (epoch <= n->floor) {
        ans = grove_pack("{stale, ~u}", n->floor);
    } else if (busy) {
        ans = grove_atom("busy");
    } else {
        GROW(n->resv, n->nresv, n->cresv);
        s_claim *c = &n->resv[n->nresv++];
        *c = (s_claim){.id = id, .pid = pid, .epoch = epoch};
        ans = grove_atom("accept");
        /* Its commit or release, or the claimant's nodedown, ends it; this
         * ends it if none ever comes (a registry process that died). */
        grove_send_after(self, RESERVATION_MS, s->me,
                         grove_pack("{" GV_REG_TAG ", expire, ~b, ~r}", name, len, id), &c->timer);
    }
    s_raise(n, epoch, false);
    grove_send(self, from,
               grove_pack("{" GV_REG_TAG ", answer, ~b, ~r, ~p, ~t}", name, len, id, s->me, ans));
}

static void s_on_answer(grove_proc *self, s_srv *s, const char *name, size_t len, grove_ref id,
                        grove_pid from, const grove_term *ans)
{
    s_name *n = s_name_of(s, name, len, false);
    if (!n || !n->pending || !grove_ref_equal(&id, &n->own.id))
        return; /* a claim already decided */
    grove_pid holder;
    uint64_t e;
    if (grove_match(ans, "accept")) {
        s_await_done(self, s, n, from.node);
    } else if (grove_match(ans, "{owner, ~p, ~u}", &holder, &e)) {
        s_raise(n, e, true);
        s_fail(self, s, n, GROVE_EEXIST, &holder);
    } else if (grove_match(ans, "{stale, ~u}", &e)) {
        s_raise(n, e, true);
        s_retry(self, s, n, false);
    } else {
        s_retry(self, s, n, true);
    }
    s_pump(self, s, n);
}

static bool s_resv_del(grove_proc *self, s_name *n, const grove_ref *id)
{
    for (size_t i = 0; i < n->nresv; i++)
        if (grove_ref_equal(&n->resv[i].id, id)) {
            grove_cancel_timer(self, n->resv[i].timer);
            n->resv[i] = n->resv[--n->nresv];
            return true;
        }
    return false;
}

static void s_on_unregistered(grove_proc *self, s_srv *s, s_name *n, grove_pid pid, uint64_t epoch)
{
    grove_pid cur;
    uint64_t ce;
    s_raise(n, epoch, true);
    if (!s_local(s, pid) && s_get(s, n, &cur, &ce) && grove_pid_equal(cur, pid) && ce == epoch)
        gv_reg_del(s->r, n->name, n->len);
}

/* ---- nodes --------------------------------------------------------------- */

static void s_hello(grove_proc *self, s_srv *s, grove_nodename node);

static void s_nodeup(grove_proc *self, s_srv *s, grove_nodename node)
{
    s_peer *p = s_peer_of(s, node, true);
    if (p->up)
        return;
    p->up = true;
    s_hello(self, s, node);
}

typedef struct s_down_ctx {
    grove_proc *self;
    s_srv *s;
    grove_nodename node;
} s_down_ctx;

static bool s_drop_node_entry(void *ctx, const void *key, size_t len, void *val)
{
    s_down_ctx *c = ctx;
    const gv_reg_entry *e = val;
    if (e->pid.node != c->node)
        return false;
    gv_free(val);
    return true;
}

static bool s_down_name(void *ctx, const void *key, size_t len, void *val)
{
    s_down_ctx *c = ctx;
    s_name *n = val;
    for (size_t i = 0; i < n->nresv;)
        if (n->resv[i].pid.node == c->node) {
            grove_ref id = n->resv[i].id;
            s_resv_del(c->self, n, &id);
        } else {
            i++;
        }
    if (n->pending)
        s_await_done(c->self, c->s, n, c->node);
    s_pump(c->self, c->s, n);
    return false;
}

static void s_nodedown(grove_proc *self, s_srv *s, grove_nodename node)
{
    s_peer *p = s_peer_of(s, node, false);
    if (p)
        p->up = p->member = false;
    s_down_ctx c = {.self = self, .s = s, .node = node};
    gv_mutex_lock(&s->r->mu);
    gv_rmap_each(&s->r->table, s_drop_node_entry, &c);
    gv_mutex_unlock(&s->r->mu);
    gv_rmap_each(&s->names, s_down_name, &c);
    for (size_t i = 0; i < s->nf;) {
        if (s->fwds[i].node == node) {
            s_fwd f = s->fwds[i];
            s->fwds[i] = s->fwds[--s->nf];
            grove_cancel_timer(self, f.timer);
            /* its names went with it */
            s_fwd_fail(self, &f, f.unregister ? GROVE_OK : GROVE_ENOCONN);
        } else {
            i++;
        }
    }
    s_publish_members(s);
}

typedef struct s_sync_ctx {
    grove_proc *self;
    s_srv *s;
    grove_nodename to;
} s_sync_ctx;

static bool s_sync_one(void *ctx, const void *key, size_t len, void *val)
{
    s_sync_ctx *c = ctx;
    const gv_reg_entry *e = val;
    if (s_local(c->s, e->pid))
        grove_send_name_at(
            c->self, c->to, GV_REG_SERVER_NAME,
            grove_pack("{" GV_REG_TAG ", entry, ~b, ~p, ~u}", key, len, e->pid, e->epoch));
    return false;
}

/* Our hello and our own entries to node's registry. This process is
 * the table's only writer, so it reads it without the lock (other
 * threads only read it too) and sends nothing while holding it. */
static void s_hello(grove_proc *self, s_srv *s, grove_nodename node)
{
    grove_send_name_at(self, node, GV_REG_SERVER_NAME,
                       grove_pack("{" GV_REG_TAG ", hello, ~p}", s->me));
    s_sync_ctx c = {.self = self, .s = s, .to = node};
    gv_rmap_each(&s->r->table, s_sync_one, &c);
}

static void s_cluster_up(grove_proc *self, s_srv *s)
{
    grove_monitor_nodes(self, true);
    grove_nodename nodes[256];
    size_t k = grove_nodes(grove_proc_node(self), nodes, 256);
    grove_nodename *all = nodes;
    if (k > 256) {
        all = gv_malloc(k * sizeof *all);
        k = grove_nodes(grove_proc_node(self), all, k);
    }
    for (size_t i = 0; i < k; i++)
        s_nodeup(self, s, all[i]);
    /* A peer whose hello came before we watched nodes and whose session
     * has ended since: no nodedown will come for it. */
    for (size_t i = 0; i < s->np; i++) {
        bool listed = false;
        for (size_t j = 0; j < k && !listed; j++)
            listed = all[j] == s->peers[i].node;
        if (s->peers[i].up && !listed)
            s_nodedown(self, s, s->peers[i].node);
    }
    if (all != nodes)
        gv_free(all);
    s_publish_members(s);
}

/* ---- the process --------------------------------------------------------- */

static grove_err s_init(grove_proc *self, const grove_term *arg, void **state)
{
    uint64_t addr;
    if (!grove_match(arg, "{~u}", &addr))
        return GROVE_EBADARG;
    s_srv *s = gv_calloc(1, sizeof *s);
    s->r = (gv_registry *)(uintptr_t)addr;
    s->me = grove_self(self);
    gv_rmap_init(&s->names);
    gv_rmap_init(&s->mons);
    *state = s;
    return GROVE_OK;
}

/* Requests and peers' messages; false if msg is none of them. */
static bool s_tagged(grove_proc *self, s_srv *s, const grove_term *msg)
{
    const void *name;
    size_t len;
    grove_pid pid, to;
    grove_ref ref;
    uint64_t epoch;
    char fw[8];
    grove_term *ans = NULL;
    if (grove_match(msg, "{" GV_REG_TAG ", register, ~b, ~p, ~p, ~r, ~a}", &name, &len, &pid, &to,
                    &ref, fw, sizeof fw)) {
        s_on_register(self, s, name, len, pid, to, ref, strcmp(fw, "true") == 0);
    } else if (grove_match(msg, "{" GV_REG_TAG ", unregister, ~b, ~p, ~r, ~a}", &name, &len, &to,
                           &ref, fw, sizeof fw)) {
        s_on_unregister(self, s, name, len, to, ref, strcmp(fw, "true") == 0);
    } else if (grove_match(msg, "{" GV_REG_TAG ", claim, ~b, ~p, ~u, ~r, ~p}", &name, &len, &pid,
                           &epoch, &ref, &to)) {
        s_on_claim(self, s, name, len, pid, epoch, ref, to);
    } else if (grove_match(msg, "{" GV_REG_TAG ", answer, ~b, ~r, ~p, ~t}", &name, &len, &ref, &to,
                           &ans)) {
        s_on_answer(self, s, name, len, ref, to, ans);
        grove_term_destroy(&ans);
    } else if (grove_match(msg, "{" GV_REG_TAG ", commit, ~b, ~p, ~u, ~r}", &name, &len, &pid,
                           &epoch, &ref) ||
               grove_match(msg, "{" GV_REG_TAG ", entry, ~b, ~p, ~u}", &name, &len, &pid, &epoch)) {
        s_name *n = len >= 1 && len <= GV_REG_NAME_MAX && !s_local(s, pid)
                        ? s_name_of(s, name, len, true)
                        : NULL;
        if (n) {
            if (grove_match(msg, "{_, commit, _, _, _, _}"))
                s_resv_del(self, n, &ref);
            s_install(self, s, n, pid, epoch);
            s_pump(self, s, n);
        }
    } else if (grove_match(msg, "{" GV_REG_TAG ", release, ~b, ~r}", &name, &len, &ref) ||
               grove_match(msg, "{" GV_REG_TAG ", expire, ~b, ~r}", &name, &len, &ref)) {
        s_name *n = s_name_of(s, name, len, false);
        if (n && s_resv_del(self, n, &ref))
            s_pump(self, s, n);
    } else if (grove_match(msg, "{" GV_REG_TAG ", unregistered, ~b, ~p, ~u}", &name, &len, &pid,
                           &epoch)) {
        s_name *n = s_name_of(s, name, len, false);
        if (n) {
            s_on_unregistered(self, s, n, pid, epoch);
            s_pump(self, s, n);
        }
    } else if (grove_match(msg, "{" GV_REG_TAG ", hello, ~p}", &pid)) {
        s_peer *p = s_peer_of(s, pid.node, true);
        if (!p->up)
            s_nodeup(self, s, pid.node); /* before our own nodeup (start-up) */
        p->member = true;
        s_publish_members(s);
    } else if (grove_match(msg, "{" GV_REG_TAG ", timeout, ~b, ~r}", &name, &len, &ref)) {
        s_name *n = s_name_of(s, name, len, false);
        if (n && n->pending && grove_ref_equal(&ref, &n->own.id)) {
            s_fail(self, s, n, GROVE_ETIMEDOUT, NULL);
            s_pump(self, s, n);
        }
    } else if (grove_match(msg, "{" GV_REG_TAG ", retry, ~b}", &name, &len)) {
        s_name *n = s_name_of(s, name, len, false);
        if (n) {
            n->holding = false;
            s_pump(self, s, n);
        }
    } else if (grove_match(msg, "{" GV_REG_TAG ", fwd_timeout, ~r}", &ref)) {
        s_fwd f;
        if (s_fwd_take(self, s, &ref, &f))
            s_fwd_fail(self, &f, GROVE_ETIMEDOUT);
    } else if (grove_match(msg, "{" GV_REG_TAG ", cluster_up}")) {
        s_cluster_up(self, s);
    } else {
        return false;
    }
    return true;
}

static grove_ret s_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_srv *s = state;
    grove_ref ref;
    grove_pid pid;
    char node[GROVE_ATOM_MAX_BYTES + 1];
    if (s_tagged(self, s, msg))
        return GROVE_CONTINUE;
    if (grove_match(msg, "{'DOWN', ~r, process, ~p, _}", &ref, &pid)) {
        s_name *n = gv_rmap_del(&s->mons, ref.id, ref.len * sizeof ref.id[0]);
        grove_pid cur;
        uint64_t ce;
        if (n) {
            n->watched = false;
            if (s_get(s, n, &cur, &ce) && grove_pid_equal(cur, pid))
                s_drop_own(self, s, n, cur, ce);
            s_pump(self, s, n);
        }
    } else if (grove_match(msg, "{nodeup, ~a, _}", node, sizeof node)) {
        grove_nodename nn;
        if (grove_nodename_intern(node, strlen(node), &nn) == GROVE_OK)
            s_nodeup(self, s, nn);
    } else if (grove_match(msg, "{nodedown, ~a, _}", node, sizeof node)) {
        grove_nodename nn;
        if (grove_nodename_intern(node, strlen(node), &nn) == GROVE_OK)
            s_nodedown(self, s, nn);
    } else if (grove_match(msg, "{global_registered, _, _, _}") ||
               grove_match(msg, "{global_unregistered, _, _}") ||
               grove_match(msg, "{global_unregistered, _, _, _}")) {
        s_on_forwarded(self, s, msg);
    }
    return GROVE_CONTINUE;
}

static void s_free_req_chain(s_req *q)
{
    while (q) {
        s_req *next = q->next;
        gv_free(q);
        q = next;
    }
}

static void s_free_name(void *val)
{
    s_name *n = val;
    gv_free(n->own_req);
    s_free_req_chain(n->qh);
    gv_free(n->await);
    gv_free(n->resv);
    gv_free(n->name);
    gv_free(n);
}

static void s_free_state(void *state)
{
    s_srv *s = state;
    gv_rmap_fini(&s->mons, NULL);
    gv_rmap_fini(&s->names, s_free_name);
    gv_free(s->peers);
    gv_free(s->fwds);
    gv_free(s);
}

const grove_behaviour gv_reg_server_behaviour = {
    .name = "grove_global",
    .init = s_init,
    .handle = s_handle,
    .free_state = s_free_state,
};
