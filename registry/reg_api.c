/*
 * reg_api.c - the registry's life, its replica, the name ops it installs
 * into the node, and the public API (grove/global.h).
 *
 * Every request that changes the table goes to this node's registry
 * process as a message carrying a reply-to pid and a reference; the
 * blocking calls wait for the answer on a waiter (monitoring the process,
 * so a node that stops answers GROVE_ECLOSED), the asynchronous ones let
 * it arrive as a message. Reads take the replica's mutex for one lookup.
 */
#include "registry/reg_impl.h"

#include <grove/names.h>

#include "base/gv_alloc.h"
#include "base/gv_log.h"
#include "node/node_impl.h"
#include "node/ops.h"

#include <stdlib.h>
#include <string.h>

static bool s_name_ok(const char *name, size_t *len)
{
    size_t n = name ? strnlen(name, GV_REG_NAME_MAX + 1) : 0;
    *len = n;
    return n >= 1 && n <= GV_REG_NAME_MAX;
}

/* ---- the replica --------------------------------------------------------- */

bool gv_reg_get(gv_registry *r, const char *name, size_t len, grove_pid *pid, uint64_t *epoch)
{
    gv_mutex_lock(&r->mu);
    const gv_reg_entry *e = gv_rmap_get(&r->table, name, len);
    if (e) {
        if (pid)
            *pid = e->pid;
        if (epoch)
            *epoch = e->epoch;
    }
    gv_mutex_unlock(&r->mu);
    return e != NULL;
}

void gv_reg_set(gv_registry *r, const char *name, size_t len, grove_pid pid, uint64_t epoch)
{
    gv_reg_entry *e = gv_malloc(sizeof *e);
    e->pid = pid;
    e->epoch = epoch;
    gv_mutex_lock(&r->mu);
    gv_reg_entry *old = gv_rmap_put(&r->table, name, len, e);
    gv_mutex_unlock(&r->mu);
    gv_free(old);
}

void gv_reg_del(gv_registry *r, const char *name, size_t len)
{
    gv_mutex_lock(&r->mu);
    gv_reg_entry *old = gv_rmap_del(&r->table, name, len);
    gv_mutex_unlock(&r->mu);
    gv_free(old);
}

/* ---- the registry process ------------------------------------------------ */

static grove_err s_start_locked(gv_registry *r)
{
    gv_mutex_assert_held(&r->start_mu);
    if (atomic_load_explicit(&r->started, memory_order_relaxed))
        return GROVE_OK;
    grove_pid pid;
    grove_err e = grove_node_spawn(r->node, &gv_reg_server_behaviour,
                                   grove_pack("{~u}", (uint64_t)(uintptr_t)r),
                                   &(grove_spawn_opts){.name = GV_REG_SERVER_NAME}, &pid);
    if (e != GROVE_OK)
        return e;
    e = grove_register(r->node, GV_REG_SERVER_NAME, pid);
    if (e != GROVE_OK) { /* the reserved name is taken: no half registry */
        gv_log(GV_LOG_ERROR, "registry", "start_failed", "reason=%s", grove_errname(e));
        grove_node_exit(r->node, pid, grove_atom("kill"));
        return e;
    }
    r->server = pid;
    /* Release: pairs with the acquire loads that read `server`. */
    atomic_store_explicit(&r->started, true, memory_order_release);
    return GROVE_OK;
}

grove_err gv_registry_start(gv_registry *r)
{
    gv_mutex_lock(&r->start_mu);
    grove_err e = s_start_locked(r);
    gv_mutex_unlock(&r->start_mu);
    return e;
}

/* The registry process's pid, starting it on first use (a local node,
 * where no transport will come: it is told at once). */
static grove_err s_server(gv_registry *r, grove_pid *out)
{
    /* Acquire: pairs with the release store in s_start_locked. */
    if (!atomic_load_explicit(&r->started, memory_order_acquire)) {
        gv_mutex_lock(&r->start_mu);
        bool was = atomic_load_explicit(&r->started, memory_order_relaxed);
        grove_err e = s_start_locked(r);
        if (e == GROVE_OK && !was)
            gv_registry_cluster_up(r);
        gv_mutex_unlock(&r->start_mu);
        if (e != GROVE_OK)
            return e;
    }
    *out = r->server;
    return GROVE_OK;
}

void gv_registry_cluster_up(gv_registry *r)
{
    if (atomic_load_explicit(&r->started, memory_order_acquire))
        grove_node_send(r->node, r->server, grove_pack("{" GV_REG_TAG ", cluster_up}"));
}

/* ---- requests ------------------------------------------------------------ */

static grove_term *s_register_msg(const char *name, size_t len, grove_pid pid, grove_pid reply_to,
                                  grove_ref ref)
{
    return grove_pack("{" GV_REG_TAG ", register, ~b, ~p, ~p, ~r, false}", name, len, pid, reply_to,
                      ref);
}

static grove_term *s_unregister_msg(const char *name, size_t len, grove_pid reply_to, grove_ref ref)
{
    return grove_pack("{" GV_REG_TAG ", unregister, ~b, ~p, ~r, false}", name, len, reply_to, ref);
}

static grove_err s_err_of(const grove_term *reason)
{
    char name[64];
    if (grove_match(reason, "{already_registered, _}"))
        return GROVE_EEXIST;
    if (grove_match(reason, "~a", name, sizeof name))
        for (int e = 1; e < GROVE_ERR_COUNT_; e++)
            if (strcmp(grove_errname((grove_err)e), name) == 0)
                return (grove_err)e;
    return GROVE_EPROTO;
}

typedef struct s_sel {
    grove_ref ref, mon;
} s_sel;

static bool s_is_answer(const grove_term *msg, void *arg)
{
    s_sel *s = arg;
    grove_ref r;
    if (grove_match(msg, "{global_registered, ~r, _, _}", &r) ||
        grove_match(msg, "{global_unregistered, ~r, _}", &r) ||
        grove_match(msg, "{global_unregistered, ~r, _, _}", &r))
        return grove_ref_equal(&r, &s->ref);
    return grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &s->mon);
}

/* Sends a request built with a waiter's pid and a fresh reference to the
 * registry process and waits for its answer (caller owns *answer). */
static grove_err s_request(gv_registry *r, const char *name, size_t len, grove_pid pid, bool reg,
                           grove_term **answer)
{
    if (gv_sched_on_any_worker())
        return GROVE_EWOULDBLOCK;
    grove_pid srv;
    grove_err e = s_server(r, &srv);
    if (e != GROVE_OK)
        return e;
    grove_waiter *w;
    if ((e = grove_waiter_new(r->node, &w)) != GROVE_OK)
        return e;
    s_sel sel = {.ref = grove_node_make_ref(r->node)};
    grove_waiter_monitor(w, srv, &sel.mon);
    grove_pid me = grove_waiter_pid(w);
    grove_node_send(r->node, srv,
                    reg ? s_register_msg(name, len, pid, me, sel.ref)
                        : s_unregister_msg(name, len, me, sel.ref));
    /* The registry always answers (its claims and forwards time out), or
     * exits when the node stops. */
    grove_term *m = NULL;
    e = grove_waiter_recv_select(w, s_is_answer, &sel, -1, &m);
    grove_waiter_destroy(&w);
    if (e != GROVE_OK)
        return e;
    if (grove_match(m, "{'DOWN', _, _, _, _}")) {
        grove_term_destroy(&m);
        return GROVE_ECLOSED;
    }
    *answer = m;
    return GROVE_OK;
}

/* ---- the public API ------------------------------------------------------ */

static gv_registry *s_of(grove_node *node)
{
    return node ? gv_registry_of(node) : NULL;
}

grove_err grove_global_register(grove_node *node, const char *name, grove_pid pid, uint64_t *epoch)
{
    gv_registry *r = s_of(node);
    size_t len;
    if (!r)
        return GROVE_ENOCONN;
    if (!s_name_ok(name, &len))
        return GROVE_EINVAL;
    grove_term *m = NULL, *why = NULL;
    grove_err e = s_request(r, name, len, pid, true, &m);
    if (e != GROVE_OK)
        return e;
    uint64_t ep = 0;
    if (grove_match(m, "{global_registered, _, ok, ~u}", &ep)) {
        if (epoch)
            *epoch = ep;
    } else if (grove_match(m, "{global_registered, _, error, ~t}", &why)) {
        e = s_err_of(why);
        grove_term_destroy(&why);
    } else {
        e = GROVE_EPROTO;
    }
    grove_term_destroy(&m);
    return e;
}

/* The asynchronous forms: the request goes to this node's registry
 * process and the answer comes back to self later. `none` is the answer
 * when the node has no registry. */
static grove_err s_async(grove_proc *self, const char *name, const grove_pid *pid, grove_err none,
                         grove_ref *ref)
{
    gv_registry *r = self ? s_of(grove_proc_node(self)) : NULL;
    size_t len;
    if (!r)
        return self ? none : GROVE_EINVAL;
    if (!s_name_ok(name, &len))
        return GROVE_EINVAL;
    grove_pid srv;
    grove_err e = s_server(r, &srv);
    if (e != GROVE_OK)
        return e;
    grove_ref rf = grove_make_ref(self);
    if (ref)
        *ref = rf;
    grove_term *msg = pid ? s_register_msg(name, len, *pid, grove_self(self), rf)
                          : s_unregister_msg(name, len, grove_self(self), rf);
    return grove_send(self, srv, msg);
}

grove_err grove_global_register_async(grove_proc *self, const char *name, grove_pid pid,
                                      grove_ref *ref)
{
    return s_async(self, name, &pid, GROVE_ENOCONN, ref);
}

grove_err grove_global_unregister(grove_node *node, const char *name)
{
    gv_registry *r = s_of(node);
    size_t len;
    if (!r)
        return GROVE_ENOTFOUND;
    if (!s_name_ok(name, &len))
        return GROVE_EINVAL;
    grove_term *m = NULL, *why = NULL;
    grove_err e = s_request(r, name, len, (grove_pid){0}, false, &m);
    if (e != GROVE_OK)
        return e;
    if (grove_match(m, "{global_unregistered, _, error, ~t}", &why)) {
        e = s_err_of(why);
        grove_term_destroy(&why);
    } else if (!grove_match(m, "{global_unregistered, _, ok}")) {
        e = GROVE_EPROTO;
    }
    grove_term_destroy(&m);
    return e;
}

grove_err grove_global_unregister_async(grove_proc *self, const char *name, grove_ref *ref)
{
    return s_async(self, name, NULL, GROVE_ENOTFOUND, ref);
}

grove_err grove_global_whereis(grove_node *node, const char *name, grove_pid *pid, uint64_t *epoch)
{
    gv_registry *r = s_of(node);
    size_t len;
    if (!s_name_ok(name, &len))
        return GROVE_EINVAL;
    return r && gv_reg_get(r, name, len, pid, epoch) ? GROVE_OK : GROVE_ENOTFOUND;
}

grove_err grove_proc_global_send(grove_proc *self, const char *name, grove_term *msg)
{
    grove_pid to;
    grove_err e =
        msg && self ? grove_global_whereis(grove_proc_node(self), name, &to, NULL) : GROVE_EINVAL;
    if (e != GROVE_OK) {
        grove_term_destroy(&msg);
        return e;
    }
    return grove_proc_send(self, to, msg);
}

grove_err grove_node_global_send(grove_node *node, const char *name, grove_term *msg)
{
    grove_pid to;
    grove_err e = msg && node ? grove_global_whereis(node, name, &to, NULL) : GROVE_EINVAL;
    if (e != GROVE_OK) {
        grove_term_destroy(&msg);
        return e;
    }
    return grove_node_send(node, to, msg);
}

typedef struct s_list {
    grove_global_name *out;
    size_t cap, n;
} s_list;

static bool s_list_one(void *ctx, const void *key, size_t len, void *val)
{
    s_list *l = ctx;
    const gv_reg_entry *e = val;
    if (l->n < l->cap) {
        grove_global_name *g = &l->out[l->n];
        memcpy(g->name, key, len);
        g->name[len] = '\0';
        g->pid = e->pid;
        g->epoch = e->epoch;
    }
    l->n++;
    return false;
}

static int s_by_name(const void *a, const void *b)
{
    return strcmp(((const grove_global_name *)a)->name, ((const grove_global_name *)b)->name);
}

size_t grove_global_names(grove_node *node, grove_global_name *out, size_t cap)
{
    gv_registry *r = s_of(node);
    if (!r)
        return 0;
    s_list l = {.out = out, .cap = out ? cap : 0};
    gv_mutex_lock(&r->mu);
    gv_rmap_each(&r->table, s_list_one, &l);
    gv_mutex_unlock(&r->mu);
    size_t k = l.n < l.cap ? l.n : l.cap;
    if (k > 1)
        qsort(out, k, sizeof *out, s_by_name);
    return l.n;
}

grove_err grove_global_set_resolution(grove_node *node, grove_global_resolution res)
{
    gv_registry *r = s_of(node);
    if (!r ||
        (res != GROVE_GLOBAL_NOTIFY && res != GROVE_GLOBAL_KILL && res != GROVE_GLOBAL_DROP_BOTH))
        return GROVE_EINVAL;
    /* Relaxed: a setting read by the registry process on its next clash;
     * nothing else is published with it. */
    atomic_store_explicit(&r->resolution, (int)res, memory_order_relaxed);
    return GROVE_OK;
}

/* ---- the name ops (node/ops.h) ------------------------------------------- */

static grove_err s_op_register(void *ctx, const char *name, grove_pid pid)
{
    gv_registry *r = ctx;
    return grove_global_register(r->node, name, pid, NULL);
}

static grove_err s_op_register_async(void *ctx, const char *name, grove_pid pid, grove_pid reply_to,
                                     grove_ref ref)
{
    gv_registry *r = ctx;
    size_t len;
    if (!s_name_ok(name, &len))
        return GROVE_EINVAL;
    grove_pid srv;
    grove_err e = s_server(r, &srv);
    if (e != GROVE_OK)
        return e;
    return grove_node_send(r->node, srv, s_register_msg(name, len, pid, reply_to, ref));
}

static grove_err s_op_unregister(void *ctx, const char *name)
{
    gv_registry *r = ctx;
    return grove_global_unregister(r->node, name);
}

static grove_err s_op_whereis(void *ctx, const char *name, grove_pid *out)
{
    gv_registry *r = ctx;
    return grove_global_whereis(r->node, name, out, NULL);
}

static grove_err s_op_send(void *ctx, const char *name, grove_term *msg)
{
    gv_registry *r = ctx;
    return grove_node_global_send(r->node, name, msg);
}

/* ---- life ---------------------------------------------------------------- */

gv_registry *gv_registry_attach(grove_node *node)
{
    gv_registry *r = gv_calloc(1, sizeof *r);
    r->node = node;
    r->self = grove_node_name(node);
    r->creation = grove_node_creation(node);
    gv_mutex_init(&r->mu);
    gv_mutex_init(&r->start_mu);
    gv_rmap_init(&r->table);
    atomic_init(&r->started, false);
    atomic_init(&r->resolution, GROVE_GLOBAL_NOTIFY);
    atomic_init(&r->members, 0);
    gv_ops ops = *gv_node_ops(node);
    ops.names = (gv_name_ops){.ctx = r,
                              .register_name = s_op_register,
                              .register_async = s_op_register_async,
                              .unregister_name = s_op_unregister,
                              .whereis = s_op_whereis,
                              .send = s_op_send};
    gv_node_set_ops(node, &ops);
    return r;
}

gv_registry *gv_registry_of(grove_node *node)
{
    const gv_ops *o = gv_node_ops(node);
    return o->names.whereis == s_op_whereis ? o->names.ctx : NULL;
}

unsigned gv_registry_members(gv_registry *r)
{
    return atomic_load_explicit(&r->members, memory_order_relaxed);
}

static void s_free_entry(void *val)
{
    gv_free(val);
}

void gv_registry_free(gv_registry **rp)
{
    if (!rp || !*rp)
        return;
    gv_registry *r = *rp;
    *rp = NULL;
    gv_rmap_fini(&r->table, s_free_entry);
    gv_mutex_fini(&r->start_mu);
    gv_mutex_fini(&r->mu);
    gv_free(r);
}
