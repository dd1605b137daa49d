/*
 * cluster_sup_table.c - the cluster-wide supervisor's replicated table
 * (docs/otp.md, "The cluster-wide supervisor"): its entries kept sorted
 * by id, the spec and the entry as they travel between members, and the
 * merge of a replica's entry by (generation, removal, owner name).
 */
#include "otp/cluster_sup_impl.h"
#include "otp/sup.h"

#include "base/gv_alloc.h"

#include <string.h>

const char *gv_csup_kind_name(gv_otp_kind kind)
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

static const char *s_restart_name(grove_restart r)
{
    return r == GROVE_TRANSIENT ? "transient" : r == GROVE_TEMPORARY ? "temporary" : "permanent";
}

static const char *s_node_str(grove_nodename n)
{
    return n ? grove_nodename_str(n) : "";
}

/* ---- entries ------------------------------------------------------------------------------ */

void gv_csup_entry_free(gv_csup_entry *e)
{
    if (!e)
        return;
    gv_free(e->id);
    gv_free(e->target);
    gv_free(e->gname);
    grove_term_destroy(&e->arg);
    gv_free(e);
}

static size_t s_lower_bound(const gv_csup_member *m, const char *id)
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

gv_csup_entry *gv_csup_find(const gv_csup_member *m, const char *id)
{
    size_t i = s_lower_bound(m, id);
    return i < m->nents && strcmp(m->ents[i]->id, id) == 0 ? m->ents[i] : NULL;
}

void gv_csup_insert(gv_csup_member *m, gv_csup_entry *e)
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
grove_term *gv_csup_spec_term(const gv_csup_entry *e)
{
    grove_term *arg =
        e->arg ? grove_pack("{arg, ~t}", grove_term_copy(e->arg)) : grove_atom("noarg");
    grove_term *nm =
        e->gname ? grove_pack("~b", e->gname, strlen(e->gname)) : grove_atom("undefined");
    grove_term *t =
        grove_pack("{~a, ~b, ~t, ~a, ~l, ~t}", gv_csup_kind_name(e->kind), e->target,
                   strlen(e->target), arg, s_restart_name(e->restart), e->shutdown_ms, nm);
    if (!t)
        gv_panic("cannot build a cluster child spec");
    return t;
}

/* Reads a travelling spec into e (which owns what it gets). */
bool gv_csup_spec_read(const grove_term *t, gv_csup_entry *e)
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
grove_term *gv_csup_entry_term(const gv_csup_entry *e)
{
    grove_term *owner =
        e->owner ? grove_pack("~a", grove_nodename_str(e->owner)) : grove_atom("undefined");
    grove_term *pid = e->running ? grove_pack("~p", e->pid) : grove_atom("undefined");
    grove_term *t =
        grove_pack("{csup_entry, ~b, ~u, ~t, ~a, ~u, ~t, ~t}", e->id, strlen(e->id), e->gen, owner,
                   e->removed ? "removed" : "live", e->sseq, pid, gv_csup_spec_term(e));
    if (!t)
        gv_panic("cannot build a cluster child entry");
    return t;
}

gv_csup_entry *gv_csup_entry_read(const grove_term *t)
{
    const void *ib;
    size_t ilen;
    char state[8];
    grove_term *owner = NULL, *pid = NULL, *spec = NULL;
    gv_csup_entry *e = gv_calloc(1, sizeof *e);
    bool ok = grove_match(t, "{csup_entry, ~b, ~u, ~t, ~a, ~u, ~t, ~t}", &ib, &ilen, &e->gen,
                          &owner, state, sizeof state, &e->sseq, &pid, &spec) &&
              ilen >= 1 && ilen <= GV_NAME_MAX && gv_csup_spec_read(spec, e);
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
        gv_csup_entry_free(e);
        return NULL;
    }
    return e;
}

/* Replicas keep the higher: generation, then a removal, then the greater
 * owner name. */
int gv_csup_rank_cmp(const gv_csup_entry *a, const gv_csup_entry *b)
{
    if (a->gen != b->gen)
        return a->gen > b->gen ? 1 : -1;
    if (a->removed != b->removed)
        return a->removed ? 1 : -1;
    int c = strcmp(s_node_str(a->owner), s_node_str(b->owner));
    return (c > 0) - (c < 0);
}

/* Takes a replica's entry. */
void gv_csup_merge(grove_proc *self, gv_csup_member *m, gv_csup_entry *in)
{
    gv_csup_entry *x = gv_csup_find(m, in->id);
    if (!x) {
        gv_csup_insert(m, in);
        return;
    }
    int c = gv_csup_rank_cmp(in, x);
    if (c > 0) {
        if (x->fresh && (in->removed || in->owner != x->owner))
            gv_csup_reply_add(self, x, grove_pack("{error, already_present}"));
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
    gv_csup_entry_free(in);
}
