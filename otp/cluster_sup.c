/*
 * cluster_sup.c - the cluster-wide supervisor (DESIGN.md section 7;
 * docs/otp.md, "The cluster-wide supervisor").
 *
 * Every node runs a member: a process registered locally as
 * "grove_csup:<name>". Members talk with ordinary messages,
 * {Name, Node} ! Msg (the cluster op send_name), and learn of nodes
 * through grove_monitor_nodes. Each member keeps the whole table of
 * children (id -> spec, owner, generation, status) and hosts the
 * children it owns itself: it starts them linked, restarts them within
 * its intensity, and stops them when they move away or when it has been
 * without a majority for GROVE_NODEDOWN_MS.
 *
 * Who counts: each member gossips which members it hears (its row,
 * every heartbeat and on every change, relayed so that every member
 * holds every row); from the rows of the known members every member
 * computes the same counted set (cluster_sup_quorum.c). Where children
 * go: an unplaced child, or one whose owner has been out of the counted
 * set for twice GROVE_NODEDOWN_MS, is placed by every counted member
 * alike (fewest children, then a rendezvous weight), one generation up;
 * replicas merge by (generation, removal, owner name).
 */
#include <grove/cluster_sup.h>
#include <grove/names.h>

#include "otp/cluster_sup_impl.h"
#include "otp/sup.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

#define PREFIX "grove_csup:"
#define SUP_NAME_MAX 200
#define LNAME_MAX (sizeof PREFIX - 1 + SUP_NAME_MAX)
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 2000u

/* ---- state ------------------------------------------------------------------------------ */

typedef enum s_lstate {
    L_NONE = 0, /* not running here */
    L_STARTING, /* started, its acknowledgement awaited */
    L_RUNNING,
    L_STOPPING, /* asked to stop, its DOWN awaited */
} s_lstate;

typedef struct s_entry {
    char *id;
    /* the spec */
    gv_otp_kind kind;
    char *target;     /* the target's registered name */
    const void *impl; /* on this node; NULL: not registered here */
    grove_term *arg;  /* NULL: none */
    grove_restart restart;
    int64_t shutdown_ms;
    char *gname; /* its global name, or NULL */
    /* the assignment */
    uint64_t gen;
    grove_nodename owner; /* 0: not placed yet */
    bool removed;
    /* the status, as told by the owner */
    uint64_t sseq;
    bool running;
    grove_pid pid;
    /* hosted here */
    s_lstate ls;
    grove_pid lpid;
    grove_ref lref; /* L_STARTING: the acknowledgement's; L_STOPPING: the monitor's */
    grove_timer kill_timer;
    bool retry; /* a retry timer is pending */
    uint32_t backoff_ms;
    /* added by start_child and not started yet: who is waiting */
    bool fresh;
    grove_pid add_to;
    grove_ref add_ref;
} s_entry;

typedef struct s_peer {
    grove_nodename node;
    bool connected; /* a session is up */
    bool heard;     /* its member said hello in this session */
    bool known;     /* one of the known members */
    bool counted;
    uint64_t down_since; /* when its session ended */
    uint64_t out_since;  /* when it left the counted set */
    uint64_t row_seq;    /* its last row: the members it hears */
    grove_nodename *row;
    size_t nrow;
} s_peer;

typedef struct s_pending {
    grove_ref ref;
    grove_from from;
    grove_nodename owner;
} s_pending;

typedef struct s_member {
    char name[SUP_NAME_MAX + 1];
    char lname[LNAME_MAX + 1];
    grove_nodename self;
    int intensity;
    uint32_t period_ms, hb_ms, nd_ms, forget_ms;
    uint64_t started_ms;
    s_entry **ents; /* sorted by id */
    size_t nents, ecap;
    s_peer *peers;
    size_t npeers, pcap;
    uint64_t row_seq;
    bool majority;
    uint64_t minority_since; /* when the majority was lost (valid while !majority) */
    bool settled;            /* unplaced children may be placed */
    uint64_t *restarts;
    size_t nrestarts;
    s_pending *pend;
    size_t npend, pendcap;
    bool stopping;
    bool has_stop_from;
    grove_from stop_from;
} s_member;

static const char *s_kind_name(gv_otp_kind kind)
{
    return kind == GV_KIND_GEN_SERVER   ? "gen_server"
           : kind == GV_KIND_SUPERVISOR ? "supervisor"
                                        : "behaviour";
}

static bool s_kind_of(const char *name, gv_otp_kind *out)
{
    if (strcmp(name, "gen_server") == 0)
        *out = GV_KIND_GEN_SERVER;
    else if (strcmp(name, "supervisor") == 0)
        *out = GV_KIND_SUPERVISOR;
    else if (strcmp(name, "behaviour") == 0)
        *out = GV_KIND_BEHAVIOUR;
    else
        return false;
    return true;
}

/* The target table's own name: static, so it can label processes. */
static const char *s_impl_name(gv_otp_kind kind, const void *impl)
{
    return gv_child_label(&(sup_child){.kind = kind, .impl = impl});
}

static const char *s_restart_name(grove_restart r)
{
    return r == GROVE_TRANSIENT ? "transient" : r == GROVE_TEMPORARY ? "temporary" : "permanent";
}

static const char *s_node_str(grove_nodename n)
{
    return n ? grove_nodename_str(n) : "";
}

static bool s_name_ok(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    return n >= 1 && n <= max;
}

/* ---- entries ------------------------------------------------------------------------------ */

static void s_entry_free(s_entry *e)
{
    if (!e)
        return;
    gv_free(e->id);
    gv_free(e->target);
    gv_free(e->gname);
    grove_term_destroy(&e->arg);
    gv_free(e);
}

static size_t s_lower_bound(const s_member *m, const char *id)
{
    size_t lo = 0, hi = m->nents;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(m->ents[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static s_entry *s_find(const s_member *m, const char *id)
{
    size_t i = s_lower_bound(m, id);
    return i < m->nents && strcmp(m->ents[i]->id, id) == 0 ? m->ents[i] : NULL;
}

static void s_insert(s_member *m, s_entry *e)
{
    if (m->nents == m->ecap) {
        m->ecap = m->ecap ? m->ecap * 2 : 16;
        m->ents = gv_realloc(m->ents, m->ecap * sizeof *m->ents);
    }
    size_t i = s_lower_bound(m, e->id);
    memmove(&m->ents[i + 1], &m->ents[i], (m->nents - i) * sizeof *m->ents);
    m->ents[i] = e;
    m->nents++;
}

/* The spec as it travels: {Kind, Target, noarg | {arg, Arg}, Restart,
 * ShutdownMs, undefined | Name}. */
static grove_term *s_spec_term(const s_entry *e)
{
    grove_term *arg =
        e->arg ? grove_pack("{arg, ~t}", grove_term_copy(e->arg)) : grove_atom("noarg");
    grove_term *nm =
        e->gname ? grove_pack("~b", e->gname, strlen(e->gname)) : grove_atom("undefined");
    grove_term *t =
        grove_pack("{~a, ~b, ~t, ~a, ~l, ~t}", s_kind_name(e->kind), e->target, strlen(e->target),
                   arg, s_restart_name(e->restart), e->shutdown_ms, nm);
    if (!t)
        gv_panic("cannot build a cluster child spec");
    return t;
}

/* Reads a travelling spec into e (which owns what it gets). */
static bool s_spec_read(const grove_term *t, s_entry *e)
{
    char kind[16], restart[16];
    const void *tb;
    size_t tlen;
    grove_term *a = NULL, *nm = NULL;
    if (!grove_match(t, "{~a, ~b, ~t, ~a, ~l, ~t}", kind, sizeof kind, &tb, &tlen, &a, restart,
                     sizeof restart, &e->shutdown_ms, &nm))
        return false;
    const void *nb;
    size_t nlen;
    bool ok = s_kind_of(kind, &e->kind) && tlen >= 1 && tlen <= GV_NAME_MAX &&
              e->shutdown_ms >= GROVE_SHUTDOWN_BRUTAL_KILL &&
              (grove_match(a, "noarg") || grove_match(a, "{arg, ~t}", &e->arg));
    if (ok && grove_match(nm, "~b", &nb, &nlen)) {
        ok = nlen >= 1 && nlen <= GV_NAME_MAX;
        if (ok)
            e->gname = gv_strndup(nb, nlen);
    } else if (ok) {
        ok = grove_match(nm, "undefined");
    }
    if (ok) {
        e->target = gv_strndup(tb, tlen);
        e->impl = gv_otp_target_find(e->kind, e->target);
        e->restart = strcmp(restart, "transient") == 0   ? GROVE_TRANSIENT
                     : strcmp(restart, "temporary") == 0 ? GROVE_TEMPORARY
                                                         : GROVE_PERMANENT;
    }
    grove_term_destroy(&a);
    grove_term_destroy(&nm);
    return ok;
}

/* {csup_entry, Id, Gen, Owner | undefined, live | removed, SSeq, Pid |
 * undefined, Spec} */
static grove_term *s_entry_term(const s_entry *e)
{
    grove_term *owner =
        e->owner ? grove_pack("~a", grove_nodename_str(e->owner)) : grove_atom("undefined");
    grove_term *pid = e->running ? grove_pack("~p", e->pid) : grove_atom("undefined");
    grove_term *t =
        grove_pack("{csup_entry, ~b, ~u, ~t, ~a, ~u, ~t, ~t}", e->id, strlen(e->id), e->gen, owner,
                   e->removed ? "removed" : "live", e->sseq, pid, s_spec_term(e));
    if (!t)
        gv_panic("cannot build a cluster child entry");
    return t;
}

static s_entry *s_entry_read(const grove_term *t)
{
    const void *ib;
    size_t ilen;
    char state[8];
    grove_term *owner = NULL, *pid = NULL, *spec = NULL;
    s_entry *e = gv_calloc(1, sizeof *e);
    bool ok = grove_match(t, "{csup_entry, ~b, ~u, ~t, ~a, ~u, ~t, ~t}", &ib, &ilen, &e->gen,
                          &owner, state, sizeof state, &e->sseq, &pid, &spec) &&
              ilen >= 1 && ilen <= GV_NAME_MAX && s_spec_read(spec, e);
    if (ok) {
        char on[GROVE_ATOM_MAX_BYTES + 1];
        e->id = gv_strndup(ib, ilen);
        e->removed = strcmp(state, "removed") == 0;
        e->running = grove_match(pid, "~p", &e->pid);
        if (grove_match(owner, "~a", on, sizeof on) && !grove_match(owner, "undefined"))
            ok = grove_nodename_intern(on, strlen(on), &e->owner) == GROVE_OK;
    }
    grove_term_destroy(&owner);
    grove_term_destroy(&pid);
    grove_term_destroy(&spec);
    if (!ok) {
        s_entry_free(e);
        return NULL;
    }
    return e;
}

/* Replicas keep the higher: generation, then a removal, then the greater
 * owner name. */
static int s_rank_cmp(const s_entry *a, const s_entry *b)
{
    if (a->gen != b->gen)
        return a->gen > b->gen ? 1 : -1;
    if (a->removed != b->removed)
        return a->removed ? 1 : -1;
    int c = strcmp(s_node_str(a->owner), s_node_str(b->owner));
    return (c > 0) - (c < 0);
}

/* ---- peers -------------------------------------------------------------------------------- */

static s_peer *s_peer_find(s_member *m, grove_nodename node)
{
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].node == node)
            return &m->peers[i];
    return NULL;
}

static s_peer *s_peer_get(s_member *m, grove_nodename node)
{
    s_peer *p = s_peer_find(m, node);
    if (p)
        return p;
    if (m->npeers == m->pcap) {
        m->pcap = m->pcap ? m->pcap * 2 : 8;
        m->peers = gv_realloc(m->peers, m->pcap * sizeof *m->peers);
    }
    p = &m->peers[m->npeers++];
    memset(p, 0, sizeof *p);
    p->node = node;
    p->out_since = gv_now_ms();
    return p;
}

static void s_send(grove_proc *self, s_member *m, grove_nodename node, grove_term *msg)
{
    grove_send_name_at(self, node, m->lname, msg);
}

static void s_to_heard(grove_proc *self, s_member *m, const grove_term *msg)
{
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].heard)
            s_send(self, m, m->peers[i].node, grove_term_copy(msg));
}

/* An entry changed here: every member hears of it. */
static void s_publish(grove_proc *self, s_member *m, const s_entry *e)
{
    grove_term *t = s_entry_term(e);
    s_to_heard(self, m, t);
    grove_term_destroy(&t);
}

/* ---- rows: who hears whom ------------------------------------------------------------------ */

static grove_term *s_nodes_term(const grove_nodename *nodes, size_t n)
{
    grove_term *list = grove_pack("[]");
    for (size_t i = n; i-- > 0;)
        list = grove_pack("[~a | ~t]", grove_nodename_str(nodes[i]), list);
    return list;
}

/* Every row this member holds, its own included:
 * [{Origin, Seq, [Node]}]. */
static grove_term *s_rows_term(const s_member *m)
{
    grove_nodename *mine = gv_calloc(m->npeers + 1, sizeof *mine);
    size_t n = 0;
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].heard)
            mine[n++] = m->peers[i].node;
    grove_term *list = grove_pack("[{~a, ~u, ~t}]", grove_nodename_str(m->self), m->row_seq,
                                  s_nodes_term(mine, n));
    gv_free(mine);
    for (size_t i = 0; i < m->npeers; i++) {
        const s_peer *p = &m->peers[i];
        if (p->row_seq)
            list = grove_pack("[{~a, ~u, ~t} | ~t]", grove_nodename_str(p->node), p->row_seq,
                              s_nodes_term(p->row, p->nrow), list);
    }
    if (!list)
        gv_panic("cannot build the cluster supervisor's rows");
    return list;
}

static bool s_value_node(const grove_value *v, grove_nodename *out)
{
    return v->type == GROVE_TYPE_ATOM && v->as.atom.len > 0 &&
           grove_nodename_intern(v->as.atom.text, v->as.atom.len, out) == GROVE_OK;
}

/* Takes the newer rows of a peer's list; false if it is malformed. */
static bool s_rows_merge(s_member *m, const grove_term *rows, bool *changed)
{
    grove_reader r = grove_reader_of(rows);
    grove_value v;
    if (!grove_reader_next(&r, &v))
        return false;
    if (v.type == GROVE_TYPE_NIL)
        return true;
    if (v.type != GROVE_TYPE_LIST)
        return false;
    for (uint32_t i = 0; i < v.as.compound.arity; i++) {
        grove_value tup, origin, seq, list;
        grove_nodename o;
        if (!grove_reader_next(&r, &tup) || tup.type != GROVE_TYPE_TUPLE ||
            tup.as.compound.arity != 3 || !grove_reader_next(&r, &origin) ||
            !s_value_node(&origin, &o) || !grove_reader_next(&r, &seq) ||
            seq.type != GROVE_TYPE_INTEGER || !seq.as.integer.fits || seq.as.integer.i < 0 ||
            !grove_reader_next(&r, &list) ||
            (list.type != GROVE_TYPE_LIST && list.type != GROVE_TYPE_NIL))
            return false;
        uint32_t k = list.type == GROVE_TYPE_LIST ? list.as.compound.arity : 0;
        grove_nodename *row = k ? gv_calloc(k, sizeof *row) : NULL;
        for (uint32_t j = 0; j < k; j++) {
            grove_value nv;
            if (!grove_reader_next(&r, &nv) || !s_value_node(&nv, &row[j])) {
                gv_free(row);
                return false;
            }
        }
        if (k && !grove_reader_next(&r, &list)) { /* the list's tail */
            gv_free(row);
            return false;
        }
        s_peer *p = o == m->self ? NULL : s_peer_get(m, o);
        if (p && (uint64_t)seq.as.integer.i > p->row_seq) {
            gv_free(p->row);
            p->row = row;
            p->nrow = k;
            p->row_seq = (uint64_t)seq.as.integer.i;
            *changed = true;
        } else {
            gv_free(row);
        }
    }
    return true;
}

/* Own rows are numbered by the wall clock, so that a restarted member's
 * rows supersede its previous incarnation's. */
static void s_bump_row(s_member *m)
{
    uint64_t now = gv_wall_ns() / 1000u;
    m->row_seq = now > m->row_seq ? now : m->row_seq + 1;
}

static void s_gossip(grove_proc *self, s_member *m)
{
    grove_term *t = grove_pack("{csup_rows, ~a, ~t}", grove_nodename_str(m->self), s_rows_term(m));
    s_to_heard(self, m, t);
    grove_term_destroy(&t);
}

/* ---- the counted set ----------------------------------------------------------------------------
 */

static int s_cmp_node(const void *a, const void *b)
{
    return strcmp(grove_nodename_str(*(const grove_nodename *)a),
                  grove_nodename_str(*(const grove_nodename *)b));
}

static bool s_row_has(const grove_nodename *row, size_t n, grove_nodename x)
{
    for (size_t i = 0; i < n; i++)
        if (row[i] == x)
            return true;
    return false;
}

/* Recomputes the known members, the counted set and the majority. */
static void s_view(grove_proc *self, s_member *m)
{
    uint64_t now = gv_now_ms();
    grove_nodename *k = gv_calloc(m->npeers + 1, sizeof *k);
    size_t nk = 0;
    k[nk++] = m->self;
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].known)
            k[nk++] = m->peers[i].node;
    qsort(k, nk, sizeof *k, s_cmp_node);
    bool *links = gv_calloc(nk * nk, sizeof *links);
    bool *in = gv_calloc(nk, sizeof *in);
    for (size_t i = 0; i < nk; i++) {
        const s_peer *p = k[i] == m->self ? NULL : s_peer_find(m, k[i]);
        for (size_t j = 0; j < nk; j++) {
            if (i == j)
                continue;
            if (!p) {
                const s_peer *q = s_peer_find(m, k[j]);
                links[i * nk + j] = q && q->heard;
            } else {
                links[i * nk + j] = s_row_has(p->row, p->nrow, k[j]);
            }
        }
    }
    size_t counted = gv_csup_counted(nk, links, in);
    bool self_in = false;
    for (size_t i = 0; i < m->npeers; i++) {
        s_peer *p = &m->peers[i];
        bool c = false;
        for (size_t j = 0; j < nk; j++)
            if (k[j] == p->node)
                c = in[j];
        if (p->counted && !c)
            p->out_since = now;
        p->counted = c;
    }
    for (size_t j = 0; j < nk; j++)
        if (k[j] == m->self)
            self_in = in[j];
    bool maj = self_in && gv_csup_majority(counted, nk);
    if (maj != m->majority) {
        m->majority = maj;
        if (!maj)
            m->minority_since = now;
        gv_log(maj ? GV_LOG_INFO : GV_LOG_WARN, "cluster_sup", maj ? "majority" : "no_majority",
               "sup=%s member=%s counted=%zu known=%zu", m->name, gv_pid_text(grove_self(self)).s,
               counted, nk);
    }
    gv_free(k);
    gv_free(links);
    gv_free(in);
}

/* The counted members' names (self included when counted), sorted. */
static size_t s_counted_nodes(const s_member *m, grove_nodename *out, bool with_self)
{
    size_t n = 0;
    if (with_self && m->majority)
        out[n++] = m->self;
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].counted)
            out[n++] = m->peers[i].node;
    qsort(out, n, sizeof *out, s_cmp_node);
    return n;
}

/* ---- placement ------------------------------------------------------------------------------ */

/* Where child id goes among the counted members (but `except`): NULL
 * for nowhere. */
static grove_nodename s_place(const s_member *m, const char *id, grove_nodename except)
{
    grove_nodename *nodes = gv_calloc(m->npeers + 1, sizeof *nodes);
    size_t n = s_counted_nodes(m, nodes, true);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (nodes[i] != except)
            nodes[w++] = nodes[i];
    n = w;
    grove_nodename chosen = 0;
    if (n) {
        const char **names = gv_calloc(n, sizeof *names);
        size_t *owned = gv_calloc(n, sizeof *owned);
        for (size_t i = 0; i < n; i++)
            names[i] = grove_nodename_str(nodes[i]);
        for (size_t e = 0; e < m->nents; e++) {
            const s_entry *x = m->ents[e];
            for (size_t i = 0; !x->removed && i < n; i++)
                if (x->owner == nodes[i])
                    owned[i]++;
        }
        chosen = nodes[gv_csup_pick(id, names, owned, n)];
        gv_free(names);
        gv_free(owned);
    }
    gv_free(nodes);
    return chosen;
}

static bool s_orphan(s_member *m, const s_entry *e, uint64_t now)
{
    if (e->removed)
        return false;
    if (!e->owner)
        return m->settled;
    if (e->owner == m->self)
        return false;
    s_peer *p = s_peer_get(m, e->owner);
    return !p->counted && now - p->out_since >= 2 * (uint64_t)m->nd_ms;
}

/* Places what needs a place: every counted member does the same, in id
 * order, so they agree without talking. */
static void s_assign(grove_proc *self, s_member *m)
{
    if (!m->majority || m->stopping)
        return;
    uint64_t now = gv_now_ms();
    for (size_t i = 0; i < m->nents; i++) {
        s_entry *e = m->ents[i];
        if (!s_orphan(m, e, now))
            continue;
        grove_nodename to = s_place(m, e->id, 0);
        if (!to)
            return;
        gv_log(GV_LOG_INFO, "cluster_sup", e->owner ? "child_moved" : "child_placed",
               "sup=%s id=%s from=%s to=%s gen=%llu", m->name, e->id,
               e->owner ? grove_nodename_str(e->owner) : "-", grove_nodename_str(to),
               (unsigned long long)(e->gen + 1));
        e->owner = to;
        e->gen++;
        e->running = false;
        e->pid = (grove_pid){0};
        s_publish(self, m, e);
    }
}

/* ---- hosting ------------------------------------------------------------------------------------
 */

static void s_reply_add(grove_proc *self, s_entry *e, grove_term *result)
{
    if (!e->fresh) {
        grove_term_destroy(&result);
        return;
    }
    e->fresh = false;
    grove_send(self, e->add_to, grove_pack("{csup_added, ~r, ~t}", e->add_ref, result));
}

static void s_status(grove_proc *self, s_member *m, s_entry *e, bool running, grove_pid pid)
{
    e->running = running;
    e->pid = running ? pid : (grove_pid){0};
    e->sseq++;
    if (e->owner == m->self)
        s_publish(self, m, e);
}

static void s_remove(grove_proc *self, s_member *m, s_entry *e)
{
    e->gen++;
    e->removed = true;
    e->running = false;
    e->pid = (grove_pid){0};
    s_publish(self, m, e);
}

static void s_retry_later(grove_proc *self, s_entry *e, uint32_t ms)
{
    e->retry = true;
    grove_send_after(self, ms, grove_self(self),
                     grove_pack("{csup_retry, ~b}", e->id, strlen(e->id)), NULL);
}

/* Records a restart; false when it is one too many for the intensity. */
static bool s_add_restart(s_member *m)
{
    uint64_t now = gv_now_ms();
    size_t keep = 0;
    for (size_t i = 0; i < m->nrestarts; i++)
        if (now - m->restarts[i] <= m->period_ms)
            m->restarts[keep++] = m->restarts[i];
    m->nrestarts = keep;
    if (m->nrestarts >= (size_t)m->intensity)
        return false;
    m->restarts[m->nrestarts++] = now;
    return true;
}

/* e must start again here: counted toward the intensity; over it, the
 * child is handed to another counted member (or retried after a period
 * when there is none). */
static void s_crashed(grove_proc *self, s_member *m, s_entry *e)
{
    if (s_add_restart(m))
        return;
    grove_nodename to = s_place(m, e->id, m->self);
    gv_log(GV_LOG_ERROR, "cluster_sup", "reached_max_restart_intensity",
           "sup=%s id=%s handed_to=%s", m->name, e->id, to ? grove_nodename_str(to) : "-");
    if (to) {
        e->owner = to;
        e->gen++;
        e->running = false;
        s_publish(self, m, e);
    } else {
        s_retry_later(self, e, m->period_ms);
    }
}

static void s_start_local(grove_proc *self, s_member *m, s_entry *e)
{
    grove_pid pid;
    grove_ref ref;
    grove_err err = gv_start_async(self, e->kind, e->impl, s_impl_name(e->kind, e->impl),
                                   e->arg ? grove_term_copy(e->arg) : NULL, e->gname,
                                   GROVE_NAME_GLOBAL, true, &pid, &ref);
    if (err) {
        gv_log(GV_LOG_ERROR, "cluster_sup", "start_error", "sup=%s id=%s reason=%s", m->name, e->id,
               grove_errname(err));
        s_reply_add(self, e, grove_pack("{error, {spawn_failed, ~a}}", grove_errname(err)));
        s_retry_later(self, e, BACKOFF_MAX_MS);
        return;
    }
    e->ls = L_STARTING;
    e->lpid = pid;
    e->lref = ref;
}

static void s_stop_local(grove_proc *self, s_member *m, s_entry *e)
{
    bool was_running = e->ls == L_RUNNING;
    grove_unlink(self, e->lpid);
    grove_monitor(self, e->lpid, &e->lref);
    e->kill_timer = 0;
    if (e->shutdown_ms == GROVE_SHUTDOWN_BRUTAL_KILL) {
        grove_exit(self, e->lpid, grove_atom("kill"));
    } else {
        grove_exit(self, e->lpid, grove_atom("shutdown"));
        if (e->shutdown_ms > 0)
            grove_send_after(self, (uint64_t)e->shutdown_ms, grove_self(self),
                             grove_pack("{csup_kill, ~r}", e->lref), &e->kill_timer);
    }
    e->ls = L_STOPPING;
    if (was_running && e->owner == m->self && !e->removed)
        s_status(self, m, e, false, e->lpid);
}

/* Brings what runs here in line with the table. */
static void s_reconcile(grove_proc *self, s_member *m)
{
    uint64_t now = gv_now_ms();
    bool may_start = m->majority && !m->stopping;
    bool may_keep = !m->stopping && (m->majority || now - m->minority_since < m->nd_ms);
    for (size_t i = 0; i < m->nents; i++) {
        s_entry *e = m->ents[i];
        bool mine = !e->removed && e->owner == m->self && e->impl;
        if (e->ls == L_STARTING || e->ls == L_RUNNING) {
            if (!mine || !may_keep) {
                if (mine && !m->stopping)
                    gv_log(GV_LOG_WARN, "cluster_sup", "child_stopped_no_majority", "sup=%s id=%s",
                           m->name, e->id);
                s_stop_local(self, m, e);
            }
        } else if (e->ls == L_NONE && mine && may_start && !e->retry) {
            s_start_local(self, m, e);
        } else if (e->ls == L_NONE && !e->removed && e->owner == m->self && !e->impl && may_start) {
            /* Placed here, but this program lacks its target. */
            grove_nodename to = s_place(m, e->id, m->self);
            if (to) {
                gv_log(GV_LOG_ERROR, "cluster_sup", "child_not_registered",
                       "sup=%s id=%s target=%s handed_to=%s", m->name, e->id, e->target,
                       grove_nodename_str(to));
                e->owner = to;
                e->gen++;
                s_publish(self, m, e);
            }
        }
    }
}

static void s_maybe_finish_stop(grove_proc *self, s_member *m);

static void s_refresh(grove_proc *self, s_member *m)
{
    s_view(self, m);
    s_assign(self, m);
    s_reconcile(self, m);
    s_maybe_finish_stop(self, m);
}

/* ---- events of hosted children ----------------------------------------------------------------
 */

static s_entry *s_by_lpid(const s_member *m, grove_pid pid)
{
    for (size_t i = 0; i < m->nents; i++)
        if (m->ents[i]->ls != L_NONE && grove_pid_equal(m->ents[i]->lpid, pid))
            return m->ents[i];
    return NULL;
}

static void s_start_failed(grove_proc *self, s_member *m, s_entry *e, grove_term *reason)
{
    e->ls = L_NONE;
    e->lpid = (grove_pid){0};
    char *text = grove_term_format(reason);
    gv_log(GV_LOG_ERROR, "cluster_sup", "start_error", "sup=%s id=%s reason=%s", m->name, e->id,
           text ? text : "?");
    free(text);
    if (e->fresh) {
        /* A new child that cannot start is not kept (as start_child). */
        s_reply_add(self, e, grove_pack("{error, ~t}", reason));
        s_remove(self, m, e);
        return;
    }
    bool clash = grove_match(reason, "{already_started, _}");
    grove_term_destroy(&reason);
    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (e->backoff_ms > BACKOFF_MAX_MS)
        e->backoff_ms = BACKOFF_MAX_MS;
    /* A taken global name is another copy still holding it: wait, do
     * not count it as a crash. */
    if (!clash)
        s_crashed(self, m, e);
    if (e->owner == m->self && !e->retry)
        s_retry_later(self, e, e->backoff_ms);
}

static void s_on_ack(grove_proc *self, s_member *m, const grove_term *msg)
{
    grove_ref ref;
    grove_pid pid;
    grove_err res;
    grove_term *why = NULL;
    grove_start_ack(msg, &ref, &pid, &res, &why);
    for (size_t i = 0; i < m->nents; i++) {
        s_entry *e = m->ents[i];
        if (e->ls != L_STARTING || !grove_ref_equal(&e->lref, &ref))
            continue;
        if (res != GROVE_OK) {
            s_start_failed(self, m, e, why ? why : grove_atom("undefined"));
            return;
        }
        e->ls = L_RUNNING;
        e->backoff_ms = 0;
        gv_log(GV_LOG_INFO, "cluster_sup", "child_started", "sup=%s id=%s pid=%s", m->name, e->id,
               gv_pid_text(pid).s);
        /* every member hears of the child before the caller does, so
         * a next add placed through any member counts this one */
        s_status(self, m, e, true, pid);
        s_reply_add(self, e, grove_pack("{ok, ~p}", pid));
        break;
    }
    grove_term_destroy(&why);
}

static void s_on_exit(grove_proc *self, s_member *m, grove_pid pid, grove_term *reason)
{
    s_entry *e = s_by_lpid(m, pid);
    if (!e || e->ls == L_STOPPING) {
        grove_term_destroy(&reason);
        return;
    }
    if (e->ls == L_STARTING) {
        s_start_failed(self, m, e, reason);
        return;
    }
    e->ls = L_NONE;
    e->lpid = (grove_pid){0};
    bool clean = gv_reason_is_clean(reason);
    char *text = grove_term_format(reason);
    gv_log(clean ? GV_LOG_INFO : GV_LOG_ERROR, "cluster_sup", "child_terminated",
           "sup=%s id=%s pid=%s reason=%s", m->name, e->id, gv_pid_text(pid).s, text ? text : "?");
    free(text);
    grove_term_destroy(&reason);
    if (e->restart == GROVE_TEMPORARY || (e->restart == GROVE_TRANSIENT && clean)) {
        s_remove(self, m, e); /* done: forgotten everywhere */
        return;
    }
    s_status(self, m, e, false, pid);
    s_crashed(self, m, e);
}

static void s_on_down(grove_proc *self, s_member *m, const grove_term *msg)
{
    grove_ref ref;
    if (!grove_match(msg, "{'DOWN', ~r, process, _, _}", &ref))
        return;
    for (size_t i = 0; i < m->nents; i++) {
        s_entry *e = m->ents[i];
        if (e->ls == L_STOPPING && grove_ref_equal(&e->lref, &ref)) {
            if (e->kill_timer)
                grove_cancel_timer(self, e->kill_timer);
            e->kill_timer = 0;
            e->ls = L_NONE;
            e->lpid = (grove_pid){0};
            return;
        }
    }
}

/* ---- peers' messages ---------------------------------------------------------------------------
 */

static void s_send_table(grove_proc *self, s_member *m, grove_nodename to, bool reply)
{
    for (size_t i = 0; i < m->nents; i++)
        s_send(self, m, to, s_entry_term(m->ents[i]));
    s_send(self, m, to,
           grove_pack("{csup_hello, ~a, ~a, ~t}", grove_nodename_str(m->self),
                      reply ? "true" : "false", s_rows_term(m)));
}

/* Takes a replica's entry. */
static void s_merge(grove_proc *self, s_member *m, s_entry *in)
{
    s_entry *x = s_find(m, in->id);
    if (!x) {
        s_insert(m, in);
        return;
    }
    int c = s_rank_cmp(in, x);
    if (c > 0) {
        if (x->fresh && (in->removed || in->owner != x->owner))
            s_reply_add(self, x, grove_pack("{error, already_present}"));
        /* the spec and the assignment of the higher rank */
        x->kind = in->kind;
        x->impl = in->impl;
        gv_free(x->target);
        x->target = in->target;
        in->target = NULL;
        gv_free(x->gname);
        x->gname = in->gname;
        in->gname = NULL;
        grove_term_destroy(&x->arg);
        x->arg = in->arg;
        in->arg = NULL;
        x->restart = in->restart;
        x->shutdown_ms = in->shutdown_ms;
        x->gen = in->gen;
        x->owner = in->owner;
        x->removed = in->removed;
        x->sseq = in->sseq;
        x->running = in->running;
        x->pid = in->pid;
    } else if (c == 0 && in->sseq > x->sseq && x->owner != m->self) {
        x->sseq = in->sseq;
        x->running = in->running;
        x->pid = in->pid;
    }
    s_entry_free(in);
}

static void s_on_hello(grove_proc *self, s_member *m, const grove_term *msg)
{
    char from[GROVE_ATOM_MAX_BYTES + 1], reply[8];
    grove_term *rows = NULL;
    grove_nodename node;
    if (!grove_match(msg, "{csup_hello, ~a, ~a, ~t}", from, sizeof from, reply, sizeof reply,
                     &rows) ||
        grove_nodename_intern(from, strlen(from), &node) != GROVE_OK || node == m->self) {
        grove_term_destroy(&rows);
        return;
    }
    s_peer *p = s_peer_get(m, node);
    bool was = p->heard;
    p->connected = p->heard = p->known = true;
    p->down_since = 0;
    bool changed = false;
    s_rows_merge(m, rows, &changed);
    grove_term_destroy(&rows);
    if (strcmp(reply, "true") == 0)
        s_send_table(self, m, node, false);
    if (!was) {
        gv_log(GV_LOG_INFO, "cluster_sup", "member_up", "sup=%s node=%s", m->name, from);
        s_bump_row(m);
        s_gossip(self, m);
    }
    s_refresh(self, m);
}

static void s_on_nodeup(grove_proc *self, s_member *m, grove_nodename node)
{
    if (node == m->self)
        return;
    s_peer *p = s_peer_get(m, node);
    p->connected = true;
    p->down_since = 0;
    s_send_table(self, m, node, true);
}

static void s_fail_pending(s_member *m, grove_nodename owner)
{
    size_t keep = 0;
    for (size_t i = 0; i < m->npend; i++) {
        if (m->pend[i].owner == owner)
            grove_reply(m->pend[i].from, grove_pack("{error, noconnection}"));
        else
            m->pend[keep++] = m->pend[i];
    }
    m->npend = keep;
}

static void s_on_nodedown(grove_proc *self, s_member *m, grove_nodename node, bool graceful)
{
    s_peer *p = s_peer_find(m, node);
    if (!p)
        return;
    bool was = p->heard;
    p->connected = p->heard = false;
    p->down_since = gv_now_ms();
    if (graceful)
        p->known = false;
    s_fail_pending(m, node);
    if (was) {
        gv_log(GV_LOG_INFO, "cluster_sup", "member_down", "sup=%s node=%s graceful=%s", m->name,
               grove_nodename_str(node), graceful ? "true" : "false");
        s_bump_row(m);
        s_gossip(self, m);
    }
    s_refresh(self, m);
}

/* {csup_add, Entry, ReplyTo, Ref}: place a new child here. */
static void s_on_add(grove_proc *self, s_member *m, s_entry *in, grove_pid to, grove_ref ref)
{
    s_entry *x = s_find(m, in->id);
    const char *why = NULL;
    if (x && !x->removed)
        why = "already_present";
    else if ((x && s_rank_cmp(in, x) <= 0) || in->owner != m->self || in->removed)
        why = "already_present";
    else if (!m->majority || m->stopping)
        why = "no_majority";
    else if (!in->impl)
        why = "not_registered";
    if (why) {
        grove_send(self, to,
                   x && x->running && !x->removed
                       ? grove_pack("{csup_added, ~r, {error, {already_started, ~p}}}", ref, x->pid)
                       : grove_pack("{csup_added, ~r, {error, ~a}}", ref, why));
        s_entry_free(in);
        return;
    }
    in->fresh = true;
    in->add_to = to;
    in->add_ref = ref;
    in->running = false;
    if (x) {
        s_merge(self, m, in);
        x->fresh = true;
        x->add_to = to;
        x->add_ref = ref;
        x->retry = false;
    } else {
        s_insert(m, in);
    }
    s_reconcile(self, m);
}

static void s_on_added(s_member *m, const grove_term *msg)
{
    grove_ref ref;
    grove_term *res = NULL;
    if (!grove_match(msg, "{csup_added, ~r, ~t}", &ref, &res))
        return;
    for (size_t i = 0; i < m->npend; i++) {
        if (grove_ref_equal(&m->pend[i].ref, &ref)) {
            grove_reply(m->pend[i].from, res);
            m->pend[i] = m->pend[--m->npend];
            return;
        }
    }
    grove_term_destroy(&res);
}

/* ---- calls
 * ------------------------------------------------------------------------------------------ */

static grove_term *s_which(const s_member *m)
{
    grove_term *list = grove_pack("[]");
    for (size_t i = m->nents; i-- > 0;) {
        const s_entry *e = m->ents[i];
        if (e->removed)
            continue;
        grove_term *pid = e->running ? grove_pack("~p", e->pid) : grove_atom("undefined");
        list = grove_pack("[{~b, ~t} | ~t]", e->id, strlen(e->id), pid, list);
    }
    return list;
}

static void s_call_start_child(grove_proc *self, s_member *m, grove_from from, const grove_term *t)
{
    s_entry *in = gv_calloc(1, sizeof *in);
    const void *ib;
    size_t ilen;
    grove_term *spec = NULL;
    if (!grove_match(t, "{~b, ~t}", &ib, &ilen, &spec) || ilen < 1 || ilen > GV_NAME_MAX ||
        !s_spec_read(spec, in) || !in->impl) {
        grove_term_destroy(&spec);
        s_entry_free(in);
        gv_gen_reply(self, from, grove_pack("{error, invalid}"));
        return;
    }
    grove_term_destroy(&spec);
    in->id = gv_strndup(ib, ilen);
    s_entry *x = s_find(m, in->id);
    if (x && !x->removed) {
        gv_gen_reply(self, from,
                     x->running ? grove_pack("{error, {already_started, ~p}}", x->pid)
                                : grove_pack("{error, already_present}"));
        s_entry_free(in);
        return;
    }
    grove_nodename owner = m->majority && !m->stopping ? s_place(m, in->id, 0) : 0;
    if (!owner) {
        gv_gen_reply(self, from, grove_pack("{error, no_majority}"));
        s_entry_free(in);
        return;
    }
    in->gen = x ? x->gen + 1 : 1;
    in->owner = owner;
    if (m->npend == m->pendcap) {
        m->pendcap = m->pendcap ? m->pendcap * 2 : 8;
        m->pend = gv_realloc(m->pend, m->pendcap * sizeof *m->pend);
    }
    grove_ref ref = grove_make_ref(self);
    m->pend[m->npend++] = (s_pending){.ref = ref, .from = from, .owner = owner};
    if (owner == m->self) {
        s_on_add(self, m, in, grove_self(self), ref);
        return;
    }
    grove_term *msg = grove_pack("{csup_add, ~t, ~p, ~r}", s_entry_term(in), grove_self(self), ref);
    s_entry_free(in);
    if (grove_send_name_at(self, owner, m->lname, msg) != GROVE_OK)
        s_fail_pending(m, owner);
}

static void s_call(grove_proc *self, s_member *m, grove_from from, const grove_term *req)
{
    const void *id;
    size_t len;
    grove_term *t = NULL;
    if (grove_match(req, "which_children")) {
        gv_gen_reply(self, from, s_which(m));
    } else if (grove_match(req, "{start_child, ~t}", &t)) {
        s_call_start_child(self, m, from, t);
    } else if (grove_match(req, "{terminate_child, ~b}", &id, &len)) {
        char *key = gv_strndup(id, len);
        s_entry *e = s_find(m, key);
        gv_free(key);
        if (!e || e->removed) {
            gv_gen_reply(self, from, grove_pack("{error, not_found}"));
        } else if (!m->majority) {
            gv_gen_reply(self, from, grove_pack("{error, no_majority}"));
        } else {
            s_reply_add(self, e, grove_pack("{error, not_found}"));
            s_remove(self, m, e);
            s_reconcile(self, m);
            gv_gen_reply(self, from, grove_atom("ok"));
        }
    } else if (grove_match(req, "stop")) {
        if (!m->stopping) {
            grove_term *bye = grove_pack("{csup_bye, ~a}", grove_nodename_str(m->self));
            s_to_heard(self, m, bye);
            grove_term_destroy(&bye);
        }
        m->stopping = true;
        m->has_stop_from = true;
        m->stop_from = from;
        s_reconcile(self, m);
    } else {
        gv_gen_reply(self, from, grove_pack("{error, {unknown_call, ~t}}", grove_term_copy(req)));
    }
    grove_term_destroy(&t);
}

static void s_maybe_finish_stop(grove_proc *self, s_member *m)
{
    if (!m->stopping || !m->has_stop_from)
        return;
    for (size_t i = 0; i < m->nents; i++)
        if (m->ents[i]->ls != L_NONE)
            return;
    m->has_stop_from = false;
    gv_gen_reply(self, m->stop_from, grove_atom("ok"));
    grove_stop(self, NULL);
}

/* ---- the member process
 * --------------------------------------------------------------------------- */

static void s_tick(grove_proc *self, s_member *m)
{
    uint64_t now = gv_now_ms();
    for (size_t i = 0; i < m->npeers; i++) {
        s_peer *p = &m->peers[i];
        if (p->known && !p->connected && p->down_since && now - p->down_since >= m->forget_ms) {
            p->known = false;
            gv_log(GV_LOG_INFO, "cluster_sup", "member_forgotten", "sup=%s node=%s", m->name,
                   grove_nodename_str(p->node));
        }
    }
    s_view(self, m);
    if (!m->settled) {
        grove_nodename up[64];
        size_t n = grove_nodes(grove_proc_node(self), up, 64);
        bool all = n <= 64;
        for (size_t i = 0; all && i < n; i++) {
            s_peer *p = s_peer_find(m, up[i]);
            all = p && p->heard && p->counted;
        }
        m->settled = all || now - m->started_ms >= m->nd_ms;
    }
    s_gossip(self, m);
    s_refresh(self, m);
    grove_send_after(self, m->hb_ms, grove_self(self), grove_atom("csup_tick"), NULL);
}

static grove_ret s_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_member *m = state;
    grove_from from;
    grove_term *t = NULL;
    grove_pid pid;
    char node_name[GROVE_ATOM_MAX_BYTES + 1];
    grove_nodename node;
    grove_ref ref;
    if (gv_gen_call_match(self, msg, &from, &t)) {
        s_call(self, m, from, t);
        grove_term_destroy(&t);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "csup_tick")) {
        s_tick(self, m);
    } else if (grove_match(msg, "{csup_entry, _, _, _, _, _, _, _}")) {
        s_entry *e = s_entry_read(msg);
        if (e) {
            s_merge(self, m, e);
            s_refresh(self, m);
        }
    } else if (grove_match(msg, "{csup_rows, ~a, ~t}", node_name, sizeof node_name, &t)) {
        bool changed = false;
        s_rows_merge(m, t, &changed);
        grove_term_destroy(&t);
        if (changed)
            s_refresh(self, m);
    } else if (grove_match(msg, "{csup_hello, _, _, _}")) {
        s_on_hello(self, m, msg);
    } else if (grove_match(msg, "{csup_add, ~t, ~p, ~r}", &t, &pid, &ref)) {
        s_entry *e = s_entry_read(t);
        grove_term_destroy(&t);
        if (e)
            s_on_add(self, m, e, pid, ref);
    } else if (grove_match(msg, "{csup_added, _, _}")) {
        s_on_added(m, msg);
    } else if (grove_match(msg, "{'$grove_ack', _, _, _}")) {
        s_on_ack(self, m, msg);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "{'EXIT', ~p, ~t}", &pid, &t)) {
        s_on_exit(self, m, pid, t);
        s_reconcile(self, m);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "{'DOWN', _, process, _, _}")) {
        s_on_down(self, m, msg);
        s_reconcile(self, m);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "{csup_kill, ~r}", &ref)) {
        for (size_t i = 0; i < m->nents; i++) {
            s_entry *e = m->ents[i];
            if (e->ls == L_STOPPING && grove_ref_equal(&e->lref, &ref)) {
                e->kill_timer = 0;
                gv_log(GV_LOG_WARN, "cluster_sup", "shutdown_timeout", "sup=%s id=%s", m->name,
                       e->id);
                grove_exit(self, e->lpid, grove_atom("kill"));
            }
        }
    } else if (grove_match(msg, "{csup_retry, ~t}", &t)) {
        const void *b;
        size_t len;
        if (grove_match(t, "~b", &b, &len)) {
            char *key = gv_strndup(b, len);
            s_entry *e = s_find(m, key);
            gv_free(key);
            if (e)
                e->retry = false;
        }
        grove_term_destroy(&t);
        s_reconcile(self, m);
    } else if (grove_match(msg, "{nodeup, ~a, _}", node_name, sizeof node_name)) {
        if (grove_nodename_intern(node_name, strlen(node_name), &node) == GROVE_OK)
            s_on_nodeup(self, m, node);
    } else if (grove_match(msg, "{nodedown, ~a, ~t}", node_name, sizeof node_name, &t)) {
        bool graceful = grove_match(t, "[{nodedown_reason, shutdown}]");
        grove_term_destroy(&t);
        if (grove_nodename_intern(node_name, strlen(node_name), &node) == GROVE_OK)
            s_on_nodedown(self, m, node, graceful);
    } else if (grove_match(msg, "{csup_bye, ~a}", node_name, sizeof node_name)) {
        if (grove_nodename_intern(node_name, strlen(node_name), &node) == GROVE_OK)
            s_on_nodedown(self, m, node, true);
    }
    return m->stopping && !m->has_stop_from ? GROVE_STOP : GROVE_CONTINUE;
}

static void s_member_free(void *state)
{
    s_member *m = state;
    for (size_t i = 0; i < m->nents; i++)
        s_entry_free(m->ents[i]);
    for (size_t i = 0; i < m->npeers; i++)
        gv_free(m->peers[i].row);
    for (size_t i = 0; i < m->npend; i++)
        grove_reply(m->pend[i].from, grove_pack("{error, noproc}"));
    gv_free(m->ents);
    gv_free(m->peers);
    gv_free(m->pend);
    gv_free(m->restarts);
    gv_free(m);
}

/* arg: {Name, Intensity, PeriodMs, HeartbeatMs, NodedownMs, ForgetMs,
 *       [{Id, Spec}]} */
static grove_err s_member_init(grove_proc *self, const grove_term *arg, void **state)
{
    s_member *m = gv_calloc(1, sizeof *m);
    const void *nb;
    size_t nlen;
    int intensity;
    uint64_t period, hb, nd, forget;
    grove_term *list = NULL, *head = NULL, *rest = NULL;
    if (!grove_match(arg, "{~b, ~i, ~u, ~u, ~u, ~u, ~t}", &nb, &nlen, &intensity, &period, &hb, &nd,
                     &forget, &list) ||
        nlen < 1 || nlen > SUP_NAME_MAX) {
        grove_term_destroy(&list);
        gv_free(m);
        return GROVE_EINVAL;
    }
    memcpy(m->name, nb, nlen);
    memcpy(m->lname, PREFIX, sizeof PREFIX - 1);
    memcpy(m->lname + sizeof PREFIX - 1, nb, nlen);
    m->self = grove_node_name(grove_proc_node(self));
    m->intensity = intensity == 0 ? 3 : intensity < 0 ? 0 : intensity;
    m->period_ms = period ? (uint32_t)period : 5000;
    m->hb_ms = (uint32_t)hb;
    m->nd_ms = (uint32_t)nd;
    m->forget_ms = (uint32_t)forget;
    m->restarts = gv_calloc((size_t)m->intensity + 1, sizeof *m->restarts);
    m->started_ms = gv_now_ms();
    while (grove_match(list, "[~t | ~t]", &head, &rest)) {
        s_entry *e = gv_calloc(1, sizeof *e);
        const void *ib;
        size_t ilen;
        grove_term *spec = NULL;
        if (grove_match(head, "{~b, ~t}", &ib, &ilen, &spec) && s_spec_read(spec, e)) {
            e->id = gv_strndup(ib, ilen);
            if (!s_find(m, e->id))
                s_insert(m, e);
            else
                s_entry_free(e);
        } else {
            s_entry_free(e);
        }
        grove_term_destroy(&spec);
        grove_term_destroy(&head);
        grove_term_destroy(&list);
        list = rest;
        rest = NULL;
    }
    grove_term_destroy(&list);
    grove_trap_exit(self, true);
    grove_monitor_nodes(self, true);
    s_bump_row(m);
    grove_nodename up[64];
    size_t n = grove_nodes(grove_proc_node(self), up, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        s_on_nodeup(self, m, up[i]);
    s_view(self, m);
    grove_send(self, grove_self(self), grove_atom("csup_tick"));
    *state = m;
    return GROVE_OK;
}

static const grove_behaviour s_member_behaviour = {
    .name = "cluster_sup",
    .init = s_member_init,
    .handle = s_handle,
    .free_state = s_member_free,
};

/* ---- the API
 * ------------------------------------------------------------------------------------------ */

static uint32_t s_setting(uint32_t given, const char *env, uint32_t dflt)
{
    if (given)
        return given;
    const char *v = getenv(env);
    if (v && *v) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (*end == '\0' && x > 0 && x <= 86400000ul)
            return (uint32_t)x;
    }
    return dflt;
}

static bool s_lname(const char *sup, char *out)
{
    if (!s_name_ok(sup, SUP_NAME_MAX))
        return false;
    memcpy(out, PREFIX, sizeof PREFIX - 1);
    strcpy(out + sizeof PREFIX - 1, sup);
    return true;
}

/* {Id, Spec} for a user's spec (consumes spec->arg); NULL on a bad one. */
static grove_term *s_spec_pack(const grove_child_spec *spec)
{
    grove_child_spec local = *spec;
    local.placement = (grove_placement){.where = GROVE_PLACE_LOCAL};
    grove_err err;
    sup_child *c = gv_child_from_spec(&local, true, &err);
    if (!c)
        return NULL;
    if (strlen(c->id) > GV_NAME_MAX || !gv_otp_target_registered(c->kind, c->impl)) {
        const char *target = gv_child_label(c);
        gv_log(GV_LOG_ERROR, "cluster_sup", "child_not_registered",
               "id=%s kind=%s target=%s reason=\"children of a cluster-wide supervisor are "
               "started by name: register the target on every node\"",
               c->id, s_kind_name(c->kind), target ? target : "NULL");
        gv_child_free(c);
        return NULL;
    }
    s_entry e = {.kind = c->kind,
                 .target = (char *)gv_child_label(c),
                 .arg = c->arg,
                 .restart = c->restart,
                 .shutdown_ms = c->shutdown_ms,
                 .gname = c->name};
    grove_term *t = grove_pack("{~b, ~t}", c->id, strlen(c->id), s_spec_term(&e));
    gv_child_free(c);
    return t;
}

grove_err grove_cluster_sup_start(grove_node *node, const grove_cluster_sup_opts *opts,
                                  const grove_child_spec *children, size_t n, grove_pid *member)
{
    char lname[LNAME_MAX + 1];
    bool ok = opts && s_lname(opts->name, lname) && (n == 0 || children);
    grove_term *list = grove_pack("[]");
    for (size_t i = n; i-- > 0;) {
        grove_term *t = ok ? s_spec_pack(&children[i]) : NULL;
        if (!t) {
            grove_term *a = children ? children[i].arg : NULL;
            if (ok)
                ok = false; /* s_spec_pack consumed it */
            else
                grove_term_destroy(&a);
            continue;
        }
        list = grove_pack("[~t | ~t]", t, list);
    }
    /* Ids unique among the initial children. */
    for (size_t i = 0; ok && i < n; i++)
        for (size_t j = i + 1; ok && j < n; j++)
            if (strcmp(children[i].id, children[j].id) == 0)
                ok = false;
    if (!ok) {
        grove_term_destroy(&list);
        return GROVE_EINVAL;
    }
    if (gv_on_scheduler()) {
        grove_term_destroy(&list);
        return GROVE_EWOULDBLOCK;
    }
    uint32_t hb = s_setting(opts->heartbeat_ms, "GROVE_HEARTBEAT_MS", 250);
    uint32_t nd = s_setting(opts->nodedown_ms, "GROVE_NODEDOWN_MS", 1500);
    uint32_t forget = s_setting(opts->forget_ms, "GROVE_FORGET_MS", 60000);
    grove_term *arg =
        grove_pack("{~b, ~i, ~u, ~u, ~u, ~u, ~t}", opts->name, strlen(opts->name), opts->intensity,
                   (uint64_t)opts->period_ms, (uint64_t)hb, (uint64_t)nd, (uint64_t)forget, list);
    return gv_start_wait(node, GV_KIND_BEHAVIOUR, &s_member_behaviour, "cluster_sup", arg,
                         &(grove_start_opts){.name = lname}, member);
}

static grove_err s_member_call(grove_node *node, const char *sup, grove_term *req,
                               grove_term **reply)
{
    char lname[LNAME_MAX + 1];
    grove_pid pid;
    *reply = NULL;
    if (!s_lname(sup, lname)) {
        grove_term_destroy(&req);
        return GROVE_EINVAL;
    }
    if (grove_whereis(node, lname, &pid) != GROVE_OK) {
        grove_term_destroy(&req);
        return GROVE_ENOTFOUND;
    }
    return gv_call(node, pid, req, GROVE_INFINITY, reply);
}

static grove_err s_result(grove_err err, const grove_term *reply, grove_pid *pid)
{
    if (!err && grove_match(reply, "{error, no_majority}"))
        return GROVE_EAGAIN;
    if (!err && grove_match(reply, "{error, not_registered}"))
        return GROVE_ENOTFOUND;
    return gv_sup_result(err, reply, pid);
}

grove_err grove_cluster_sup_start_child(grove_node *node, const char *sup,
                                        const grove_child_spec *spec, grove_pid *child)
{
    grove_term *t = spec ? s_spec_pack(spec) : NULL;
    if (!t)
        return GROVE_EINVAL;
    grove_term *reply = NULL;
    grove_err err = s_member_call(node, sup, grove_pack("{start_child, ~t}", t), &reply);
    err = s_result(err, reply, child);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_cluster_sup_terminate_child(grove_node *node, const char *sup, const char *id)
{
    if (!s_name_ok(id, GV_NAME_MAX))
        return GROVE_EINVAL;
    grove_term *reply = NULL;
    grove_err err =
        s_member_call(node, sup, grove_pack("{terminate_child, ~b}", id, strlen(id)), &reply);
    err = s_result(err, reply, NULL);
    grove_term_destroy(&reply);
    return err;
}

size_t grove_cluster_sup_which_children(grove_node *node, const char *sup, grove_cluster_child *out,
                                        size_t cap)
{
    grove_term *reply = NULL;
    if (s_member_call(node, sup, grove_atom("which_children"), &reply) != GROVE_OK) {
        grove_term_destroy(&reply);
        return 0;
    }
    /* [{Id, Pid | undefined}] */
    grove_reader r = grove_reader_of(reply);
    grove_value v;
    size_t count = 0;
    if (grove_reader_next(&r, &v) && v.type == GROVE_TYPE_LIST) {
        count = v.as.compound.arity;
        for (size_t i = 0; i < count; i++) {
            grove_value tup, id, pid;
            grove_reader_next(&r, &tup);
            grove_reader_next(&r, &id);
            grove_reader_next(&r, &pid);
            if (i >= cap)
                continue;
            memset(&out[i], 0, sizeof out[i]);
            if (id.type == GROVE_TYPE_BINARY) {
                size_t len = id.as.binary.size < sizeof out[i].id - 1 ? id.as.binary.size
                                                                      : sizeof out[i].id - 1;
                memcpy(out[i].id, id.as.binary.data, len);
            }
            if (pid.type == GROVE_TYPE_PID && grove_value_pid(&pid, &out[i].pid) == GROVE_OK)
                out[i].running = true;
        }
    }
    grove_term_destroy(&reply);
    return count;
}

grove_err grove_cluster_sup_stop(grove_node *node, const char *sup)
{
    grove_term *reply = NULL;
    grove_err err = s_member_call(node, sup, grove_atom("stop"), &reply);
    err = s_result(err, reply, NULL);
    grove_term_destroy(&reply);
    return err;
}
