/*
 * sup_remote.c - children on other nodes (docs/otp.md, "Children on
 * other nodes").
 *
 * C function pointers do not travel, so a child that runs on another
 * node is started there by name: gen_servers, supervisors and plain
 * behaviours are registered by name in every program (the same binary
 * runs on every node), and the supervisor asks the other node, with a
 * linked spawn_request, to run the entry behaviour GV_OTP_CHILD. The
 * entry looks the target up in its own node's table, builds the local
 * start term and runs exactly the local start (the kind's runtime
 * behaviour: name, init, '$grove_ack' to the supervisor), then hands
 * every callback to that behaviour. So the supervisor sees the same
 * acknowledgement as for a local child, and links, exits and shutdown
 * work through remote signals.
 *
 * Also here: where a child with placement GROVE_PLACE_ANY starts.
 */
#include "otp/sup.h"

#include "base/gv_alloc.h"
#include "base/gv_log.h"
#include "node/ops.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- targets by name ------------------------------------------------------------------ */

/* Registered from main() before nodes start, read on remote starts: a
 * fixed table per kind, read without locks (as node/spawn.c's). */
#define TARGETS_MAX 1024
#define KINDS 3 /* gen_server, supervisor, behaviour */

static const void *_Atomic s_tab[KINDS][TARGETS_MAX];
static _Atomic unsigned s_n[KINDS];

static int s_slot(gv_otp_kind kind)
{
    switch (kind) {
    case GV_KIND_GEN_SERVER:
        return 0;
    case GV_KIND_SUPERVISOR:
        return 1;
    case GV_KIND_BEHAVIOUR:
        return 2;
    case GV_KIND_TASK:
        break;
    }
    return -1;
}

static const char *s_kind_name(gv_otp_kind kind)
{
    switch (kind) {
    case GV_KIND_GEN_SERVER:
        return "gen_server";
    case GV_KIND_SUPERVISOR:
        return "supervisor";
    case GV_KIND_BEHAVIOUR:
        return "behaviour";
    case GV_KIND_TASK:
        break;
    }
    return "task";
}

static bool s_kind_of(const char *name, gv_otp_kind *out)
{
    static const gv_otp_kind kinds[] = {GV_KIND_GEN_SERVER, GV_KIND_SUPERVISOR, GV_KIND_BEHAVIOUR};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(name, s_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return true;
        }
    }
    return false;
}

static const char *s_target_name(gv_otp_kind kind, const void *impl)
{
    switch (kind) {
    case GV_KIND_GEN_SERVER:
        return ((const grove_gen_server *)impl)->name;
    case GV_KIND_SUPERVISOR:
        return ((const grove_supervisor *)impl)->name;
    case GV_KIND_BEHAVIOUR:
        return ((const grove_behaviour *)impl)->name;
    case GV_KIND_TASK:
        break;
    }
    return NULL;
}

const void *gv_otp_target_find(gv_otp_kind kind, const char *name)
{
    int k = s_slot(kind);
    if (k < 0 || !name)
        return NULL;
    /* The library's own supervisor modules are known everywhere. */
    if (kind == GV_KIND_SUPERVISOR && strcmp(name, grove_dynamic_supervisor.name) == 0)
        return &grove_dynamic_supervisor;
    if (kind == GV_KIND_SUPERVISOR && strcmp(name, grove_task_supervisor.name) == 0)
        return &grove_task_supervisor;
    unsigned n = atomic_load_explicit(&s_n[k], memory_order_acquire);
    for (unsigned i = 0; i < n && i < TARGETS_MAX; i++) {
        /* pairs with the release store in s_register */
        const void *impl = atomic_load_explicit(&s_tab[k][i], memory_order_acquire);
        const char *nm = impl ? s_target_name(kind, impl) : NULL;
        if (nm && strcmp(nm, name) == 0)
            return impl;
    }
    return NULL;
}

bool gv_otp_target_registered(gv_otp_kind kind, const void *impl)
{
    const char *name = impl ? s_target_name(kind, impl) : NULL;
    return name && gv_otp_target_find(kind, name) == impl;
}

static grove_err s_entry_register(void);

static grove_err s_register(gv_otp_kind kind, const void *impl)
{
    int k = s_slot(kind);
    const char *name = s_target_name(kind, impl);
    if (k < 0 || !name || !*name || strnlen(name, GV_NAME_MAX + 1) > GV_NAME_MAX)
        return GROVE_EINVAL;
    grove_err err = s_entry_register();
    if (err)
        return err;
    const void *old = gv_otp_target_find(kind, name);
    if (old)
        return old == impl ? GROVE_OK : GROVE_EEXIST;
    unsigned i = atomic_fetch_add_explicit(&s_n[k], 1, memory_order_acq_rel);
    if (i >= TARGETS_MAX) {
        atomic_fetch_sub_explicit(&s_n[k], 1, memory_order_acq_rel);
        return GROVE_ENOMEM;
    }
    /* A reader that sees the count before the entry sees NULL: skipped.
     * Pairs with the acquire load in gv_otp_target_find. */
    atomic_store_explicit(&s_tab[k][i], impl, memory_order_release);
    return GROVE_OK;
}

grove_err grove_gen_server_register(const grove_gen_server *gs)
{
    return gs ? s_register(GV_KIND_GEN_SERVER, gs) : GROVE_EINVAL;
}

grove_err grove_supervisor_register(const grove_supervisor *sup)
{
    return sup && sup->init ? s_register(GV_KIND_SUPERVISOR, sup) : GROVE_EINVAL;
}

grove_err grove_child_behaviour_register(const grove_behaviour *b)
{
    return b && b->handle ? s_register(GV_KIND_BEHAVIOUR, b) : GROVE_EINVAL;
}

/* ---- the entry behaviour, on the child's node ---------------------------------------- */

/* The process runs the kind's runtime behaviour under this relay. */
typedef struct s_relay {
    const grove_behaviour *b;
    void *state;
} s_relay;

static void s_refuse(grove_proc *self, grove_pid starter, grove_ref ref, grove_term *reason)
{
    gv_start st = {.has_starter = true, .starter = starter, .ref = ref};
    gv_start_ack(self, &st, grove_term_copy(reason));
    grove_stop(self, reason);
}

/* arg: {Kind, Target, {Starter, Ref}, undefined | {local | global, Name},
 *       noarg | {arg, Arg}} */
static grove_err s_entry_init(grove_proc *self, const grove_term *arg, void **state)
{
    char kind_name[16];
    const void *tb, *nb;
    size_t tlen, nlen;
    grove_pid starter;
    grove_ref ref;
    grove_term *nm = NULL, *a = NULL;
    if (!grove_match(arg, "{~a, ~b, {~p, ~r}, ~t, ~t}", kind_name, sizeof kind_name, &tb, &tlen,
                     &starter, &ref, &nm, &a)) {
        if (grove_match(arg, "{_, _, {~p, ~r}, _, _}", &starter, &ref)) {
            s_refuse(self, starter, ref, grove_pack("{bad_child_start, ~t}", grove_term_copy(arg)));
            return GROVE_EINVAL;
        }
        return GROVE_EINVAL;
    }
    gv_otp_kind kind;
    char target[GV_NAME_MAX + 1], name[GV_NAME_MAX + 1], scope[8];
    bool has_name = grove_match(nm, "{~a, ~b}", scope, sizeof scope, &nb, &nlen);
    grove_term *inner = NULL;
    grove_err err = GROVE_OK;
    if (!s_kind_of(kind_name, &kind) || tlen == 0 || tlen > GV_NAME_MAX ||
        (has_name && (nlen == 0 || nlen > GV_NAME_MAX)) ||
        (!has_name && !grove_match(nm, "undefined")) ||
        (!grove_match(a, "noarg") && !grove_match(a, "{arg, ~t}", &inner))) {
        s_refuse(self, starter, ref, grove_pack("{bad_child_start, ~t}", grove_term_copy(arg)));
        err = GROVE_EINVAL;
        goto out;
    }
    memcpy(target, tb, tlen);
    target[tlen] = '\0';
    if (has_name) {
        memcpy(name, nb, nlen);
        name[nlen] = '\0';
    }
    const void *impl = gv_otp_target_find(kind, target);
    if (!impl) {
        gv_log(GV_LOG_ERROR, "supervisor", "child_not_registered",
               "kind=%s target=%s starter=%s node=%s", kind_name, target, gv_pid_text(starter).s,
               grove_nodename_str(starter.node));
        s_refuse(self, starter, ref,
                 grove_pack("{not_registered, ~a, ~b}", kind_name, target, tlen));
        err = GROVE_ENOTFOUND;
        goto out;
    }
    grove_name_scope sc =
        has_name && strcmp(scope, "global") == 0 ? GROVE_NAME_GLOBAL : GROVE_NAME_LOCAL;
    grove_term *st =
        gv_start_pack(kind, impl, &starter, ref, true, has_name ? name : NULL, sc, inner);
    inner = NULL;
    /* The runtime behaviour a local start of this child would spawn. */
    s_relay *w = gv_calloc(1, sizeof *w);
    w->b = gv_start_behaviour(kind, has_name ? name : NULL, sc);
    err = w->b->init(self, st, &w->state);
    grove_term_destroy(&st);
    /* A failed init, or one that asked to stop, has released its state
     * itself (the runtime then runs neither terminate nor free_state). */
    if (err || gv_stop_reason(self)) {
        gv_free(w);
        goto out;
    }
    *state = w;
out:
    grove_term_destroy(&inner);
    grove_term_destroy(&nm);
    grove_term_destroy(&a);
    return err;
}

static grove_ret s_entry_handle(grove_proc *self, const grove_term *msg, void *state)
{
    s_relay *w = state;
    return w->b->handle(self, msg, w->state);
}

static void s_entry_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    s_relay *w = state;
    if (w->b->terminate)
        w->b->terminate(self, reason, w->state);
}

static void s_entry_free(void *state)
{
    s_relay *w = state;
    if (w->b->free_state)
        w->b->free_state(w->state);
    gv_free(w);
}

static const grove_behaviour s_entry = {
    .name = GV_OTP_CHILD,
    .init = s_entry_init,
    .handle = s_entry_handle,
    .terminate = s_entry_terminate,
    .free_state = s_entry_free,
};

static grove_err s_entry_register(void)
{
    return grove_behaviour_register(&s_entry);
}

/* ---- starting on another node ------------------------------------------------------------ */

grove_err gv_sup_start_remote(grove_proc *self, const sup_child *c, grove_nodename on,
                              grove_ref *ack, grove_ref *spawn)
{
    const char *target = gv_child_label(c);
    *ack = grove_make_ref(self);
    grove_term *who = grove_pack("{~p, ~r}", grove_self(self), *ack);
    grove_term *nm =
        c->name ? grove_pack("{~a, ~b}", c->scope == GROVE_NAME_GLOBAL ? "global" : "local",
                             c->name, strlen(c->name))
                : grove_atom("undefined");
    grove_term *a = c->arg ? grove_pack("{arg, ~t}", grove_term_copy(c->arg)) : grove_atom("noarg");
    grove_term *arg = grove_pack("{~a, ~b, ~t, ~t, ~t}", s_kind_name(c->kind), target,
                                 strlen(target), who, nm, a);
    if (!arg)
        gv_panic("cannot build a remote child start");
    return grove_spawn_request(self, on, GV_OTP_CHILD, arg, &(grove_spawn_opts){.link = true},
                               spawn);
}

grove_term *gv_sup_spawn_failure(grove_nodename on, const grove_term *why)
{
    if (grove_match(why, "noconnection"))
        return grove_atom("noconnection");
    return grove_pack("{remote_spawn_failed, ~a, ~t}", grove_nodename_str(on),
                      grove_term_copy(why));
}

/* ---- placement ----------------------------------------------------------------------------- */

typedef struct s_cand {
    grove_nodename node;
    size_t kids; /* this supervisor's running children there */
    uint64_t load;
} s_cand;

/* Fewer of our children first (the load in heartbeats lags a burst of
 * starts by up to a heartbeat interval, our own count does not), then
 * the lighter load, then the name, so the choice is deterministic. */
static bool s_better(const s_cand *a, const s_cand *b)
{
    if (a->kids != b->kids)
        return a->kids < b->kids;
    if (a->load != b->load)
        return a->load < b->load;
    return strcmp(grove_nodename_str(a->node), grove_nodename_str(b->node)) < 0;
}

grove_nodename gv_sup_place(grove_proc *self, sup_child *const *kids, size_t n, const sup_child *c)
{
    grove_node *node = grove_proc_node(self);
    grove_nodename here = grove_node_name(node);
    if (c->where == GROVE_PLACE_NODE)
        return c->node;
    if (c->where != GROVE_PLACE_ANY)
        return here;
    grove_nodename some[64];
    grove_nodename *peers = some;
    size_t np = grove_nodes(node, some, 64);
    if (np > 64) {
        peers = gv_malloc(np * sizeof *peers);
        size_t again = grove_nodes(node, peers, np);
        np = again < np ? again : np; /* (more may have come up meanwhile) */
    }
    s_cand *cands = gv_calloc(np + 1, sizeof *cands);
    size_t nc = 0;
    cands[nc++].node = here;
    for (size_t i = 0; i < np; i++)
        if (peers[i] != here)
            cands[nc++].node = peers[i];
    for (size_t i = 0; i < n; i++) {
        if (!kids[i]->running)
            continue;
        for (size_t k = 0; k < nc; k++)
            if (cands[k].node == kids[i]->pid.node)
                cands[k].kids++;
    }
    const gv_cluster_ops *ops = &gv_node_ops(node)->cluster;
    for (size_t k = 0; k < nc; k++) {
        uint64_t l = 0;
        /* No heartbeat yet: known loads first. */
        cands[k].load =
            ops->load && ops->load(ops->ctx, cands[k].node, &l) == GROVE_OK ? l : UINT64_MAX;
    }
    size_t best = 0;
    for (size_t k = 1; k < nc; k++)
        if (s_better(&cands[k], &cands[best]))
            best = k;
    grove_nodename chosen = cands[best].node;
    gv_free(cands);
    if (peers != some)
        gv_free(peers);
    return chosen;
}
