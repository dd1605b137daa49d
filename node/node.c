/*
 * node.c - starting and stopping a node's runtime; references;
 * statistics; the local-only ops tables and the cluster calls that go
 * through them. The public grove_node_start/stop are the composition
 * root's (root/start.c), which wraps these.
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_rand.h"

#include <stdlib.h>
#include <string.h>

static unsigned s_env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' && n > 0 && n < 1u << 16 ? (unsigned)n : dflt;
}

grove_node *gv_node_start_local(const grove_node_opts *opts)
{
    static const grove_node_opts none = {0};
    if (!opts)
        opts = &none;
    grove_node *node = gv_calloc_aligned(sizeof *node);
    const char *name = opts->name ? opts->name : getenv("GROVE_NODE");
    if (!name || !*name)
        name = "nonode@nohost";
    if (!strchr(name, '@') || grove_nodename_intern(name, strlen(name), &node->name) != GROVE_OK) {
        gv_log(GV_LOG_ERROR, "node", "start_failed", "reason=bad_name name=%s", name);
        gv_free_aligned(node);
        return NULL;
    }
    do
        node->creation = (uint32_t)gv_random_seed();
    while (node->creation == 0);

    const char *seed_env = getenv("GROVE_SEED");
    node->deterministic = opts->deterministic || (seed_env && *seed_env);
    if (node->deterministic) {
        node->seed = opts->seed;
        if (!node->seed && seed_env)
            node->seed = strtoull(seed_env, NULL, 10);
        if (!node->seed)
            node->seed = gv_random_seed() | 1;
        node->nworkers = 1;
    } else {
        node->nworkers = opts->schedulers ? opts->schedulers
                                          : s_env_unsigned("GROVE_SCHEDULERS", gv_cpu_count());
    }
    if (node->nworkers > 64)
        node->nworkers = 64;
    node->batch = opts->batch ? opts->batch : 100;
    node->watchdog_ms = opts->watchdog_ms ? opts->watchdog_ms : 2000;
    node->start_ms = gv_now_ms();
    gv_ptab_init(&node->ptab);
    gv_ops_local(node, &node->ops);
    gv_names_init(&node->names);
    atomic_init(&node->next_ref, 1);
    if (!gv_sched_start(node)) {
        gv_names_fini(&node->names);
        gv_ptab_fini(&node->ptab);
        gv_free_aligned(node);
        return NULL;
    }
    gv_log(GV_LOG_INFO, "node", "started", "name=%s creation=%u schedulers=%u seed=%llu", name,
           node->creation, node->nworkers, (unsigned long long)node->seed);
    return node;
}

/* Sends an untrappable `shutdown` to every live process. */
static void s_kill_all(grove_node *node)
{
    uint32_t n = gv_ptab_extent(&node->ptab);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t gen;
        grove_proc *p = gv_ptab_acquire_index(&node->ptab, i, &gen);
        if (!p)
            continue;
        bool external = gv_proc_flags(p) & GV_PF_EXTERNAL;
        grove_pid pid = p->pid;
        if (gv_ptab_release(&node->ptab, i))
            gv_proc_finalize(p);
        if (!external)
            gv_send_force_exit(node, pid, grove_atom("shutdown"));
    }
}

void gv_node_stop_local(grove_node **nodep)
{
    if (!nodep || !*nodep)
        return;
    grove_node *node = *nodep;
    if (gv_sched_current(node))
        gv_panic("grove_node_stop called from the node's own worker");
    atomic_store_explicit(&node->stopping, true, memory_order_seq_cst);
    for (unsigned round = 0;; round++) {
        if (round % 200 == 0)
            s_kill_all(node);
        /* Acquire: pairs with finalize's release decrement. */
        if (atomic_load_explicit(&node->procs, memory_order_acquire) == 0)
            break;
        gv_sleep_ms(1);
    }
    gv_sched_stop(node);
    uint64_t waiters = atomic_load_explicit(&node->waiters, memory_order_acquire);
    if (waiters)
        gv_log(GV_LOG_WARN, "node", "stop_with_waiters", "count=%llu", (unsigned long long)waiters);
    else
        gv_ptab_fini(&node->ptab);
    gv_names_fini(&node->names);
    gv_log(GV_LOG_INFO, "node", "stopped", "name=%s", grove_nodename_str(node->name));
    gv_free_aligned(node);
    *nodep = NULL;
}

grove_nodename grove_node_name(const grove_node *node)
{
    return node->name;
}

uint32_t grove_node_creation(const grove_node *node)
{
    return node->creation;
}

uint64_t grove_node_seed(const grove_node *node)
{
    return node->deterministic ? node->seed : 0;
}

bool grove_node_on_worker(const grove_node *node)
{
    return gv_sched_current(node) != NULL;
}

grove_ref grove_node_make_ref(grove_node *node)
{
    /* Relaxed: uniqueness needs only atomicity. */
    uint64_t n = atomic_fetch_add_explicit(&node->next_ref, 1, memory_order_relaxed);
    grove_ref r;
    memset(&r, 0, sizeof r);
    r.node = node->name;
    r.creation = node->creation;
    r.len = 3;
    r.id[0] = (uint32_t)n & 0x3ffffu; /* Erlang keeps 18 bits in the first word */
    r.id[1] = (uint32_t)(n >> 18);
    r.id[2] = (uint32_t)(n >> 50);
    return r;
}

void grove_node_stats_get(grove_node *node, grove_node_stats *out)
{
    memset(out, 0, sizeof *out);
    out->processes = atomic_load_explicit(&node->procs, memory_order_relaxed);
    out->spawned = atomic_load_explicit(&node->spawned, memory_order_relaxed);
    out->exited = atomic_load_explicit(&node->exited, memory_order_relaxed);
    out->workers = node->nworkers;
    for (unsigned i = 0; i < node->nworkers && i < 64; i++)
        out->runq[i] = gv_runq_len(&node->workers[i].rq);
    out->injected = atomic_load_explicit(&node->inject.len, memory_order_relaxed);
    out->timers = gv_timer_count(node);
}

void grove_node_set_trace(grove_node *node, const grove_trace_hooks *hooks)
{
    /* Release: the hooks' contents before the pointer (gv_trace acquires). */
    atomic_store_explicit(&node->trace, hooks, memory_order_release);
}

/* ---- ops --------------------------------------------------------------------- */

static grove_err s_no_route(void *ctx, grove_pid to, gv_sig *sig)
{
    return GROVE_ENOCONN;
}

static grove_err s_no_register(void *ctx, const char *name, grove_pid pid)
{
    return GROVE_ENOCONN;
}

static grove_err s_no_unregister(void *ctx, const char *name)
{
    return GROVE_ENOTFOUND;
}

static grove_err s_no_whereis(void *ctx, const char *name, grove_pid *out)
{
    return GROVE_ENOTFOUND;
}

static grove_err s_no_send(void *ctx, const char *name, grove_term *msg)
{
    grove_term_destroy(&msg);
    return GROVE_ENOTFOUND;
}

static grove_err s_local_nodes(void *ctx, grove_nodename *out, size_t cap, size_t *n)
{
    *n = 0; /* no other node is ever connected */
    return GROVE_OK;
}

static grove_err s_no_spawn(void *ctx, grove_pid from, grove_ref ref, grove_nodename node,
                            const char *behaviour, grove_term *arg, bool link, bool monitor,
                            bool trap_exit)
{
    grove_term_destroy(&arg);
    return GROVE_ENOCONN;
}

static grove_err s_no_monitor_node(void *ctx, grove_pid watcher, grove_nodename n)
{
    grove_node *node = ctx;
    if (n == node->name)
        return GROVE_OK; /* our own node is up while we run */
    return GROVE_ENOCONN;
}

static grove_err s_local_monitor_nodes(void *ctx, grove_pid watcher, bool on)
{
    return GROVE_OK; /* no other node ever comes up */
}

static void s_local_watcher_exit(void *ctx, grove_pid watcher)
{
    (void)ctx, (void)watcher; /* nothing was kept */
}

static grove_err s_no_monitor_name(void *ctx, grove_pid watcher, grove_nodename node,
                                   const char *name, grove_ref ref)
{
    (void)ctx, (void)watcher, (void)node, (void)name, (void)ref;
    return GROVE_ENOCONN; /* no other node is ever connected */
}

static void s_no_demonitor_name(void *ctx, grove_pid watcher, grove_nodename node, const char *name,
                                grove_ref ref)
{
    (void)ctx, (void)watcher, (void)node, (void)name, (void)ref;
}

static grove_err s_local_load(void *ctx, grove_nodename n, uint64_t *out)
{
    grove_node *node = ctx;
    if (n != node->name)
        return GROVE_ENOCONN;
    grove_node_stats st;
    grove_node_stats_get(node, &st);
    uint64_t load = st.processes + st.injected;
    for (unsigned i = 0; i < st.workers; i++)
        load += st.runq[i];
    *out = load;
    return GROVE_OK;
}

void gv_ops_local(grove_node *node, gv_ops *out)
{
    memset(out, 0, sizeof *out);
    out->router = (gv_router){.ctx = node, .deliver = s_no_route};
    out->names = (gv_name_ops){.ctx = node,
                               .register_name = s_no_register,
                               .register_async = gv_register_async_none,
                               .unregister_name = s_no_unregister,
                               .whereis = s_no_whereis,
                               .send = s_no_send};
    out->cluster = (gv_cluster_ops){.ctx = node,
                                    .nodes = s_local_nodes,
                                    .spawn_request = s_no_spawn,
                                    .monitor_node = s_no_monitor_node,
                                    .monitor_nodes = s_local_monitor_nodes,
                                    .watcher_exit = s_local_watcher_exit,
                                    .monitor_name = s_no_monitor_name,
                                    .demonitor_name = s_no_demonitor_name,
                                    .load = s_local_load,
                                    .send_name = gv_send_name_local};
}

void gv_node_set_ops(grove_node *node, const gv_ops *ops)
{
    node->ops = *ops;
}

const gv_ops *gv_node_ops(const grove_node *node)
{
    return &node->ops;
}

/* ---- cluster calls (grove/process.h) ------------------------------------------- */

grove_err grove_monitor_node(grove_proc *self, grove_nodename node)
{
    if (!self || !node)
        return GROVE_EINVAL;
    const gv_cluster_ops *c = &gv_node_ops(self->node)->cluster;
    gv_proc_set(self, GV_PF_NODE_WATCH); /* before: the exit path forgets it */
    grove_err e = c->monitor_node(c->ctx, self->pid, node);
    if (e == GROVE_ENOCONN) { /* not connected: {nodedown, Node} at once */
        grove_term *m = grove_pack("{nodedown, ~a}", grove_nodename_str(node));
        if (m)
            grove_proc_send(self, self->pid, m);
        e = GROVE_OK;
    }
    return e;
}

grove_err grove_monitor_nodes(grove_proc *self, bool on)
{
    if (!self)
        return GROVE_EINVAL;
    const gv_cluster_ops *c = &gv_node_ops(self->node)->cluster;
    if (on)
        gv_proc_set(self, GV_PF_NODE_WATCH);
    return c->monitor_nodes(c->ctx, self->pid, on);
}

size_t grove_nodes(grove_node *node, grove_nodename *out, size_t cap)
{
    const gv_cluster_ops *c = &gv_node_ops(node)->cluster;
    size_t n = 0;
    if (c->nodes(c->ctx, out, cap, &n) != GROVE_OK)
        return 0;
    return n;
}
