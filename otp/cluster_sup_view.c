/*
 * cluster_sup_view.c - the cluster-wide supervisor member's view of who
 * counts (docs/otp.md, "The cluster-wide supervisor"): its peers, the
 * rows of who hears whom that members gossip, the counted set and the
 * majority computed from them (with cluster_sup_quorum.c), and where
 * children go.
 */
#include "otp/cluster_sup_impl.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"

#include <grove/names.h>

#include <stdlib.h>
#include <string.h>

/* ---- peers -------------------------------------------------------------------------------- */

gv_csup_peer *gv_csup_peer_find(gv_csup_member *m, grove_nodename node)
{
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].node == node)
            return &m->peers[i];
    return NULL;
}

gv_csup_peer *gv_csup_peer_get(gv_csup_member *m, grove_nodename node)
{
    gv_csup_peer *p = gv_csup_peer_find(m, node);
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

void gv_csup_send(grove_proc *self, gv_csup_member *m, grove_nodename node, grove_term *msg)
{
    grove_send_name_at(self, node, m->lname, msg);
}

void gv_csup_to_heard(grove_proc *self, gv_csup_member *m, const grove_term *msg)
{
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].heard)
            gv_csup_send(self, m, m->peers[i].node, grove_term_copy(msg));
}

/* An entry changed here: every member hears of it. */
void gv_csup_publish(grove_proc *self, gv_csup_member *m, const gv_csup_entry *e)
{
    grove_term *t = gv_csup_entry_term(e);
    gv_csup_to_heard(self, m, t);
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
grove_term *gv_csup_rows_term(const gv_csup_member *m)
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
        const gv_csup_peer *p = &m->peers[i];
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
bool gv_csup_rows_merge(gv_csup_member *m, const grove_term *rows, bool *changed)
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
        gv_csup_peer *p = o == m->self ? NULL : gv_csup_peer_get(m, o);
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
void gv_csup_bump_row(gv_csup_member *m)
{
    uint64_t now = gv_wall_ns() / 1000u;
    m->row_seq = now > m->row_seq ? now : m->row_seq + 1;
}

void gv_csup_gossip(grove_proc *self, gv_csup_member *m)
{
    grove_term *t =
        grove_pack("{csup_rows, ~a, ~t}", grove_nodename_str(m->self), gv_csup_rows_term(m));
    gv_csup_to_heard(self, m, t);
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
void gv_csup_view(grove_proc *self, gv_csup_member *m)
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
        const gv_csup_peer *p = k[i] == m->self ? NULL : gv_csup_peer_find(m, k[i]);
        for (size_t j = 0; j < nk; j++) {
            if (i == j)
                continue;
            if (!p) {
                const gv_csup_peer *q = gv_csup_peer_find(m, k[j]);
                links[i * nk + j] = q && q->heard;
            } else {
                links[i * nk + j] = s_row_has(p->row, p->nrow, k[j]);
            }
        }
    }
    size_t counted = gv_csup_counted(nk, links, in);
    bool self_in = false;
    for (size_t i = 0; i < m->npeers; i++) {
        gv_csup_peer *p = &m->peers[i];
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
static size_t s_counted_nodes(const gv_csup_member *m, grove_nodename *out, bool with_self)
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
grove_nodename gv_csup_place(const gv_csup_member *m, const char *id, grove_nodename except)
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
            const gv_csup_entry *x = m->ents[e];
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

static bool s_orphan(gv_csup_member *m, const gv_csup_entry *e, uint64_t now)
{
    if (e->removed)
        return false;
    if (!e->owner)
        return m->settled;
    if (e->owner == m->self)
        return false;
    gv_csup_peer *p = gv_csup_peer_get(m, e->owner);
    return !p->counted && now - p->out_since >= 2 * (uint64_t)m->nd_ms;
}

/* Places what needs a place: every counted member does the same, in id
 * order, so they agree without talking. */
void gv_csup_assign(grove_proc *self, gv_csup_member *m)
{
    if (!m->majority || m->stopping)
        return;
    uint64_t now = gv_now_ms();
    for (size_t i = 0; i < m->nents; i++) {
        gv_csup_entry *e = m->ents[i];
        if (!s_orphan(m, e, now))
            continue;
        grove_nodename to = gv_csup_place(m, e->id, 0);
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
        gv_csup_publish(self, m, e);
    }
}
