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
 *
 * This file holds the member process: hosting the children it owns, the
 * events of those children, peers' messages and calls. Its state and
 * what its files share are in cluster_sup_impl.h; the replicated table
 * is in cluster_sup_table.c, the view of who counts and where children
 * go in cluster_sup_view.c, the API in cluster_sup_api.c.
 */
#include <grove/names.h>

#include "otp/cluster_sup_impl.h"
#include "otp/sup.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 2000u

/* The target table's own name: static, so it can label processes. */
static const char *s_impl_name(gv_otp_kind kind, const void *impl)
{
    return gv_child_label(&(sup_child){.kind = kind, .impl = impl});
}

/* ---- hosting ------------------------------------------------------------------------------------
 */

void gv_csup_reply_add(grove_proc *self, gv_csup_entry *e, grove_term *result)
{
    if (!e->fresh) {
        grove_term_destroy(&result);
        return;
    }
    e->fresh = false;
    grove_send(self, e->add_to, grove_pack("{csup_added, ~r, ~t}", e->add_ref, result));
}

static void s_status(grove_proc *self, gv_csup_member *m, gv_csup_entry *e, bool running,
                     grove_pid pid)
{
    e->running = running;
    e->pid = running ? pid : (grove_pid){0};
    e->sseq++;
    if (e->owner == m->self)
        gv_csup_publish(self, m, e);
}

static void s_remove(grove_proc *self, gv_csup_member *m, gv_csup_entry *e)
{
    e->gen++;
    e->removed = true;
    e->running = false;
    e->pid = (grove_pid){0};
    gv_csup_publish(self, m, e);
}

static void s_retry_later(grove_proc *self, gv_csup_entry *e, uint32_t ms)
{
    e->retry = true;
    grove_send_after(self, ms, grove_self(self),
                     grove_pack("{csup_retry, ~b}", e->id, strlen(e->id)), NULL);
}

/* Records a restart; false when it is one too many for the intensity. */
static bool s_add_restart(gv_csup_member *m)
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
static void s_crashed(grove_proc *self, gv_csup_member *m, gv_csup_entry *e)
{
    if (s_add_restart(m))
        return;
    grove_nodename to = gv_csup_place(m, e->id, m->self);
    gv_log(GV_LOG_ERROR, "cluster_sup", "reached_max_restart_intensity",
           "sup=%s id=%s handed_to=%s", m->name, e->id, to ? grove_nodename_str(to) : "-");
    if (to) {
        e->owner = to;
        e->gen++;
        e->running = false;
        gv_csup_publish(self, m, e);
    } else {
        s_retry_later(self, e, m->period_ms);
    }
}

static void s_start_local(grove_proc *self, gv_csup_member *m, gv_csup_entry *e)
{
    grove_pid pid;
    grove_ref ref;
    grove_err err = gv_start_async(self, e->kind, e->impl, s_impl_name(e->kind, e->impl),
                                   e->arg ? grove_term_copy(e->arg) : NULL, e->gname,
                                   GROVE_NAME_GLOBAL, true, &pid, &ref);
    if (err) {
        gv_log(GV_LOG_ERROR, "cluster_sup", "start_error", "sup=%s id=%s reason=%s", m->name, e->id,
               grove_errname(err));
        gv_csup_reply_add(self, e, grove_pack("{error, {spawn_failed, ~a}}", grove_errname(err)));
        s_retry_later(self, e, BACKOFF_MAX_MS);
        return;
    }
    e->ls = GV_CSUP_L_STARTING;
    e->lpid = pid;
    e->lref = ref;
}

static void s_stop_local(grove_proc *self, gv_csup_member *m, gv_csup_entry *e)
{
    bool was_running = e->ls == GV_CSUP_L_RUNNING;
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
    e->ls = GV_CSUP_L_STOPPING;
    if (was_running && e->owner == m->self && !e->removed)
        s_status(self, m, e, false, e->lpid);
}

/* Brings what runs here in line with the table. */
static void s_reconcile(grove_proc *self, gv_csup_member *m)
{
    uint64_t now = gv_now_ms();
    bool may_start = m->majority && !m->stopping;
    bool may_keep = !m->stopping && (m->majority || now - m->minority_since < m->nd_ms);
    for (size_t i = 0; i < m->nents; i++) {
        gv_csup_entry *e = m->ents[i];
        bool mine = !e->removed && e->owner == m->self && e->impl;
        if (e->ls == GV_CSUP_L_STARTING || e->ls == GV_CSUP_L_RUNNING) {
            if (!mine || !may_keep) {
                if (mine && !m->stopping)
                    gv_log(GV_LOG_WARN, "cluster_sup", "child_stopped_no_majority", "sup=%s id=%s",
                           m->name, e->id);
                s_stop_local(self, m, e);
            }
        } else if (e->ls == GV_CSUP_L_NONE && mine && may_start && !e->retry) {
            s_start_local(self, m, e);
        } else if (e->ls == GV_CSUP_L_NONE && !e->removed && e->owner == m->self && !e->impl &&
                   may_start) {
            /* Placed here, but this program lacks its target. */
            grove_nodename to = gv_csup_place(m, e->id, m->self);
            if (to) {
                gv_log(GV_LOG_ERROR, "cluster_sup", "child_not_registered",
                       "sup=%s id=%s target=%s handed_to=%s", m->name, e->id, e->target,
                       grove_nodename_str(to));
                e->owner = to;
                e->gen++;
                gv_csup_publish(self, m, e);
            }
        }
    }
}

static void s_maybe_finish_stop(grove_proc *self, gv_csup_member *m);
static void s_begin_stop(grove_proc *self, gv_csup_member *m, grove_term *reason);

static void s_refresh(grove_proc *self, gv_csup_member *m)
{
    gv_csup_view(self, m);
    gv_csup_assign(self, m);
    s_reconcile(self, m);
    s_maybe_finish_stop(self, m);
}

/* ---- events of hosted children ----------------------------------------------------------------
 */

static gv_csup_entry *s_by_lpid(const gv_csup_member *m, grove_pid pid)
{
    for (size_t i = 0; i < m->nents; i++)
        if (m->ents[i]->ls != GV_CSUP_L_NONE && grove_pid_equal(m->ents[i]->lpid, pid))
            return m->ents[i];
    return NULL;
}

static void s_start_failed(grove_proc *self, gv_csup_member *m, gv_csup_entry *e,
                           grove_term *reason)
{
    e->ls = GV_CSUP_L_NONE;
    e->lpid = (grove_pid){0};
    char *text = grove_term_format(reason);
    gv_log(GV_LOG_ERROR, "cluster_sup", "start_error", "sup=%s id=%s reason=%s", m->name, e->id,
           text ? text : "?");
    free(text);
    if (e->fresh) {
        /* A new child that cannot start is not kept (as start_child). */
        gv_csup_reply_add(self, e, grove_pack("{error, ~t}", reason));
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

static void s_on_ack(grove_proc *self, gv_csup_member *m, const grove_term *msg)
{
    grove_ref ref;
    grove_pid pid;
    grove_err res;
    grove_term *why = NULL;
    grove_start_ack(msg, &ref, &pid, &res, &why);
    for (size_t i = 0; i < m->nents; i++) {
        gv_csup_entry *e = m->ents[i];
        if (e->ls != GV_CSUP_L_STARTING || !grove_ref_equal(&e->lref, &ref))
            continue;
        if (res != GROVE_OK) {
            s_start_failed(self, m, e, why ? why : grove_atom("undefined"));
            return;
        }
        e->ls = GV_CSUP_L_RUNNING;
        e->backoff_ms = 0;
        gv_log(GV_LOG_INFO, "cluster_sup", "child_started", "sup=%s id=%s pid=%s", m->name, e->id,
               gv_pid_text(pid).s);
        /* every member hears of the child before the caller does, so
         * a next add placed through any member counts this one */
        s_status(self, m, e, true, pid);
        gv_csup_reply_add(self, e, grove_pack("{ok, ~p}", pid));
        break;
    }
    grove_term_destroy(&why);
}

static void s_on_exit(grove_proc *self, gv_csup_member *m, grove_pid pid, grove_term *reason)
{
    gv_csup_entry *e = s_by_lpid(m, pid);
    if (!e || e->ls == GV_CSUP_L_STOPPING) {
        grove_term_destroy(&reason);
        return;
    }
    if (e->ls == GV_CSUP_L_STARTING) {
        s_start_failed(self, m, e, reason);
        return;
    }
    e->ls = GV_CSUP_L_NONE;
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

static void s_on_down(grove_proc *self, gv_csup_member *m, const grove_term *msg)
{
    grove_ref ref;
    if (!grove_match(msg, "{'DOWN', ~r, process, _, _}", &ref))
        return;
    for (size_t i = 0; i < m->nents; i++) {
        gv_csup_entry *e = m->ents[i];
        if (e->ls == GV_CSUP_L_STOPPING && grove_ref_equal(&e->lref, &ref)) {
            if (e->kill_timer)
                grove_cancel_timer(self, e->kill_timer);
            e->kill_timer = 0;
            e->ls = GV_CSUP_L_NONE;
            e->lpid = (grove_pid){0};
            return;
        }
    }
}

/* ---- peers' messages ---------------------------------------------------------------------------
 */

static void s_send_table(grove_proc *self, gv_csup_member *m, grove_nodename to, bool reply)
{
    for (size_t i = 0; i < m->nents; i++)
        gv_csup_send(self, m, to, gv_csup_entry_term(m->ents[i]));
    gv_csup_send(self, m, to,
                 grove_pack("{csup_hello, ~a, ~a, ~t}", grove_nodename_str(m->self),
                            reply ? "true" : "false", gv_csup_rows_term(m)));
}

static void s_on_hello(grove_proc *self, gv_csup_member *m, const grove_term *msg)
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
    gv_csup_peer *p = gv_csup_peer_get(m, node);
    bool was = p->heard;
    p->connected = p->heard = p->known = true;
    p->down_since = 0;
    bool changed = false;
    gv_csup_rows_merge(m, rows, &changed);
    grove_term_destroy(&rows);
    /* Asked for it, or the first hello of this member: what was
     * published while it was not heard (publishing goes to heard members
     * only) reaches it now. */
    if (strcmp(reply, "true") == 0 || !was)
        s_send_table(self, m, node, false);
    if (!was) {
        gv_log(GV_LOG_INFO, "cluster_sup", "member_up", "sup=%s node=%s", m->name, from);
        gv_csup_bump_row(m);
        gv_csup_gossip(self, m);
    }
    s_refresh(self, m);
}

static void s_on_nodeup(grove_proc *self, gv_csup_member *m, grove_nodename node)
{
    if (node == m->self)
        return;
    gv_csup_peer *p = gv_csup_peer_get(m, node);
    p->connected = true;
    p->down_since = 0;
    s_send_table(self, m, node, true);
}

static void s_fail_pending(gv_csup_member *m, grove_nodename owner)
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

static void s_on_nodedown(grove_proc *self, gv_csup_member *m, grove_nodename node, bool graceful)
{
    gv_csup_peer *p = gv_csup_peer_find(m, node);
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
        gv_csup_bump_row(m);
        gv_csup_gossip(self, m);
    }
    s_refresh(self, m);
}

/* {csup_add, Entry, ReplyTo, Ref}: place a new child here. */
static void s_on_add(grove_proc *self, gv_csup_member *m, gv_csup_entry *in, grove_pid to,
                     grove_ref ref)
{
    gv_csup_entry *x = gv_csup_find(m, in->id);
    const char *why = NULL;
    if (x && !x->removed)
        why = "already_present";
    else if ((x && gv_csup_rank_cmp(in, x) <= 0) || in->owner != m->self || in->removed)
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
        gv_csup_entry_free(in);
        return;
    }
    in->fresh = true;
    in->add_to = to;
    in->add_ref = ref;
    in->running = false;
    if (x) {
        gv_csup_merge(self, m, in);
        x->fresh = true;
        x->add_to = to;
        x->add_ref = ref;
        x->retry = false;
    } else {
        gv_csup_insert(m, in);
    }
    s_reconcile(self, m);
}

static void s_on_added(gv_csup_member *m, const grove_term *msg)
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

static grove_term *s_which(const gv_csup_member *m)
{
    grove_term *list = grove_pack("[]");
    for (size_t i = m->nents; i-- > 0;) {
        const gv_csup_entry *e = m->ents[i];
        if (e->removed)
            continue;
        grove_term *pid = e->running ? grove_pack("~p", e->pid) : grove_atom("undefined");
        list = grove_pack("[{~b, ~t} | ~t]", e->id, strlen(e->id), pid, list);
    }
    return list;
}

static void s_call_start_child(grove_proc *self, gv_csup_member *m, grove_from from,
                               const grove_term *t)
{
    gv_csup_entry *in = gv_calloc(1, sizeof *in);
    const void *ib;
    size_t ilen;
    grove_term *spec = NULL;
    if (!grove_match(t, "{~b, ~t}", &ib, &ilen, &spec) || ilen < 1 || ilen > GV_NAME_MAX ||
        !gv_csup_spec_read(spec, in) || !in->impl) {
        grove_term_destroy(&spec);
        gv_csup_entry_free(in);
        gv_gen_reply(self, from, grove_pack("{error, invalid}"));
        return;
    }
    grove_term_destroy(&spec);
    in->id = gv_strndup(ib, ilen);
    gv_csup_entry *x = gv_csup_find(m, in->id);
    if (x && !x->removed) {
        gv_gen_reply(self, from,
                     x->running ? grove_pack("{error, {already_started, ~p}}", x->pid)
                                : grove_pack("{error, already_present}"));
        gv_csup_entry_free(in);
        return;
    }
    grove_nodename owner = m->majority && !m->stopping ? gv_csup_place(m, in->id, 0) : 0;
    if (!owner) {
        gv_gen_reply(self, from, grove_pack("{error, no_majority}"));
        gv_csup_entry_free(in);
        return;
    }
    in->gen = x ? x->gen + 1 : 1;
    in->owner = owner;
    if (m->npend == m->pendcap) {
        m->pendcap = m->pendcap ? m->pendcap * 2 : 8;
        m->pend = gv_realloc(m->pend, m->pendcap * sizeof *m->pend);
    }
    grove_ref ref = grove_make_ref(self);
    m->pend[m->npend++] = (gv_csup_pending){.ref = ref, .from = from, .owner = owner};
    if (owner == m->self) {
        s_on_add(self, m, in, grove_self(self), ref);
        return;
    }
    grove_term *msg =
        grove_pack("{csup_add, ~t, ~p, ~r}", gv_csup_entry_term(in), grove_self(self), ref);
    gv_csup_entry_free(in);
    if (grove_send_name_at(self, owner, m->lname, msg) != GROVE_OK)
        s_fail_pending(m, owner);
}

static void s_call(grove_proc *self, gv_csup_member *m, grove_from from, const grove_term *req)
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
        gv_csup_entry *e = gv_csup_find(m, key);
        gv_free(key);
        if (!e || e->removed) {
            gv_gen_reply(self, from, grove_pack("{error, not_found}"));
        } else if (!m->majority) {
            gv_gen_reply(self, from, grove_pack("{error, no_majority}"));
        } else {
            gv_csup_reply_add(self, e, grove_pack("{error, not_found}"));
            s_remove(self, m, e);
            s_reconcile(self, m);
            gv_gen_reply(self, from, grove_atom("ok"));
        }
    } else if (grove_match(req, "stop") && !m->stopping) {
        m->stop_from = from;
        s_begin_stop(self, m, NULL);
    } else if (grove_match(req, "stop")) {
        gv_gen_reply(self, from, grove_pack("{error, stopping}"));
    } else {
        gv_gen_reply(self, from, grove_pack("{error, {unknown_call, ~t}}", grove_term_copy(req)));
    }
    grove_term_destroy(&t);
}

static void s_maybe_finish_stop(grove_proc *self, gv_csup_member *m)
{
    if (!m->stopping || !m->has_stop_from)
        return;
    for (size_t i = 0; i < m->nents; i++)
        if (m->ents[i]->ls != GV_CSUP_L_NONE)
            return;
    m->has_stop_from = false;
    if (m->stop_reason) { /* the parent's exit: leave with its reason */
        grove_term *reason = m->stop_reason;
        m->stop_reason = NULL;
        grove_stop(self, reason);
        return;
    }
    gv_gen_reply(self, m->stop_from, grove_atom("ok"));
    grove_stop(self, NULL);
}

/* Stops this member: the others hear it leave, its children stop in
 * order, and then it exits, answering the stop call (stop_from), or, for
 * its supervisor's exit signal (reason, consumed), exiting with that
 * reason as an OTP process does. */
static void s_begin_stop(grove_proc *self, gv_csup_member *m, grove_term *reason)
{
    grove_term *bye = grove_pack("{csup_bye, ~a}", grove_nodename_str(m->self));
    gv_csup_to_heard(self, m, bye);
    grove_term_destroy(&bye);
    m->stopping = true;
    m->has_stop_from = true;
    m->stop_reason = reason;
    s_reconcile(self, m);
}

/* ---- the member process
 * --------------------------------------------------------------------------- */

static void s_tick(grove_proc *self, gv_csup_member *m)
{
    uint64_t now = gv_now_ms();
    for (size_t i = 0; i < m->npeers; i++) {
        gv_csup_peer *p = &m->peers[i];
        if (p->known && !p->connected && p->down_since && now - p->down_since >= m->forget_ms) {
            p->known = false;
            gv_log(GV_LOG_INFO, "cluster_sup", "member_forgotten", "sup=%s node=%s", m->name,
                   grove_nodename_str(p->node));
        }
    }
    gv_csup_view(self, m);
    if (!m->settled) {
        grove_nodename up[64];
        size_t n = grove_nodes(grove_proc_node(self), up, 64);
        bool all = n <= 64;
        for (size_t i = 0; all && i < n; i++) {
            gv_csup_peer *p = gv_csup_peer_find(m, up[i]);
            all = p && p->heard && p->counted;
        }
        m->settled = all || now - m->started_ms >= m->nd_ms;
    }
    gv_csup_gossip(self, m);
    s_refresh(self, m);
    grove_send_after(self, m->hb_ms, grove_self(self), grove_atom("csup_tick"), NULL);
}

static grove_ret s_handle(grove_proc *self, const grove_term *msg, void *state)
{
    gv_csup_member *m = state;
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
        gv_csup_entry *e = gv_csup_entry_read(msg);
        if (e) {
            gv_csup_merge(self, m, e);
            s_refresh(self, m);
        }
    } else if (grove_match(msg, "{csup_rows, ~a, ~t}", node_name, sizeof node_name, &t)) {
        bool changed = false;
        gv_csup_rows_merge(m, t, &changed);
        grove_term_destroy(&t);
        if (changed)
            s_refresh(self, m);
    } else if (grove_match(msg, "{csup_hello, _, _, _}")) {
        s_on_hello(self, m, msg);
    } else if (grove_match(msg, "{csup_add, ~t, ~p, ~r}", &t, &pid, &ref)) {
        gv_csup_entry *e = gv_csup_entry_read(t);
        grove_term_destroy(&t);
        if (e)
            s_on_add(self, m, e, pid, ref);
    } else if (grove_match(msg, "{csup_added, _, _}")) {
        s_on_added(m, msg);
    } else if (grove_match(msg, "{'$grove_ack', _, _, _}")) {
        s_on_ack(self, m, msg);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "{'EXIT', ~p, ~t}", &pid, &t)) {
        if (grove_pid_equal(pid, m->parent) && !m->stopping)
            s_begin_stop(self, m, t); /* its supervisor stops it */
        else
            s_on_exit(self, m, pid, t);
        s_reconcile(self, m);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "{'DOWN', _, process, _, _}")) {
        s_on_down(self, m, msg);
        s_reconcile(self, m);
        s_maybe_finish_stop(self, m);
    } else if (grove_match(msg, "{csup_kill, ~r}", &ref)) {
        for (size_t i = 0; i < m->nents; i++) {
            gv_csup_entry *e = m->ents[i];
            if (e->ls == GV_CSUP_L_STOPPING && grove_ref_equal(&e->lref, &ref)) {
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
            gv_csup_entry *e = gv_csup_find(m, key);
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
    gv_csup_member *m = state;
    for (size_t i = 0; i < m->nents; i++)
        gv_csup_entry_free(m->ents[i]);
    for (size_t i = 0; i < m->npeers; i++)
        gv_free(m->peers[i].row);
    for (size_t i = 0; i < m->npend; i++)
        grove_reply(m->pend[i].from, grove_pack("{error, noproc}"));
    gv_free(m->ents);
    gv_free(m->peers);
    gv_free(m->pend);
    gv_free(m->restarts);
    grove_term_destroy(&m->stop_reason);
    gv_free(m);
}

/* arg: {Name, Intensity, PeriodMs, HeartbeatMs, NodedownMs, ForgetMs,
 *       [{Id, Spec}]} */
static grove_err s_member_init(grove_proc *self, const grove_term *arg, void **state)
{
    gv_csup_member *m = gv_calloc(1, sizeof *m);
    const void *nb;
    size_t nlen;
    int intensity;
    uint64_t period, hb, nd, forget;
    grove_term *list = NULL, *head = NULL, *rest = NULL;
    if (!grove_match(arg, "{~b, ~i, ~u, ~u, ~u, ~u, ~t}", &nb, &nlen, &intensity, &period, &hb, &nd,
                     &forget, &list) ||
        nlen < 1 || nlen > GV_CSUP_NAME_MAX) {
        grove_term_destroy(&list);
        gv_free(m);
        return GROVE_EINVAL;
    }
    memcpy(m->name, nb, nlen);
    memcpy(m->lname, GV_CSUP_PREFIX, sizeof GV_CSUP_PREFIX - 1);
    memcpy(m->lname + sizeof GV_CSUP_PREFIX - 1, nb, nlen);
    m->self = grove_node_name(grove_proc_node(self));
    m->intensity = intensity == 0 ? 3 : intensity < 0 ? 0 : intensity;
    m->period_ms = period ? (uint32_t)period : 5000;
    m->hb_ms = (uint32_t)hb;
    m->nd_ms = (uint32_t)nd;
    m->forget_ms = (uint32_t)forget;
    m->restarts = gv_calloc((size_t)m->intensity + 1, sizeof *m->restarts);
    m->started_ms = gv_now_ms();
    while (grove_match(list, "[~t | ~t]", &head, &rest)) {
        gv_csup_entry *e = gv_calloc(1, sizeof *e);
        const void *ib;
        size_t ilen;
        grove_term *spec = NULL;
        if (grove_match(head, "{~b, ~t}", &ib, &ilen, &spec) && gv_csup_spec_read(spec, e)) {
            e->id = gv_strndup(ib, ilen);
            if (!gv_csup_find(m, e->id))
                gv_csup_insert(m, e);
            else
                gv_csup_entry_free(e);
        } else {
            gv_csup_entry_free(e);
        }
        grove_term_destroy(&spec);
        grove_term_destroy(&head);
        grove_term_destroy(&list);
        list = rest;
        rest = NULL;
    }
    grove_term_destroy(&list);
    grove_proc_info info;
    if (grove_proc_info_get(grove_proc_node(self), grove_self(self), &info) == GROVE_OK)
        m->parent = info.parent; /* its supervisor, if it has one */
    grove_trap_exit(self, true);
    grove_monitor_nodes(self, true);
    gv_csup_bump_row(m);
    grove_nodename up[64];
    size_t n = grove_nodes(grove_proc_node(self), up, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        s_on_nodeup(self, m, up[i]);
    gv_csup_view(self, m);
    grove_send(self, grove_self(self), grove_atom("csup_tick"));
    *state = m;
    return GROVE_OK;
}

const grove_behaviour gv_csup_member_behaviour = {
    .name = "cluster_sup",
    .init = s_member_init,
    .handle = s_handle,
    .free_state = s_member_free,
};
