/*
 * start.c - the composition root (DESIGN.md section 2): grove_node_start
 * and grove_node_stop.
 *
 * A node with no listen address and no seeds (options or GROVE_LISTEN /
 * GROVE_SEEDS) is local: its runtime alone, with the local ops tables,
 * needing no secret. Otherwise the runtime starts first, then a transport
 * with remote signals (transport/dist.c), whose router and cluster ops
 * are installed before grove_node_start returns, so before any process
 * of the caller's can use them. Stopping ends the transport first (peers
 * see nodedown; local links and monitors across fire `noconnection`),
 * then the processes and workers, then frees the dist.
 *
 * Every node gets the global registry (registry/, docs/registry.md): its
 * name ops go in as soon as the runtime runs. A clustered node starts the
 * registry process before the transport, so its name takes messages from
 * the first peer on, and tells it when the transport is up; a local node
 * (a cluster of one) starts it on first use. The registry is freed last.
 */
#include <grove/node.h>

#include "base/gv_log.h"
#include "node/ops.h"
#include "registry/registry.h"
#include "transport/dist.h"
#include "transport/tp_crypto.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

static bool s_env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

static bool s_set(const char *s)
{
    return s && *s;
}

grove_node *grove_node_start(const grove_node_opts *opts)
{
    static const grove_node_opts none = {0};
    if (!opts)
        opts = &none;
    gv_tp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = opts->listen;
    cfg.advertise = opts->advertise;
    cfg.seeds = opts->seeds;
    cfg.heartbeat_ms = opts->heartbeat_ms;
    cfg.nodedown_ms = opts->nodedown_ms;
    if (gv_tp_config_from_env(&cfg) != GROVE_OK)
        return NULL;
    if (!s_set(cfg.listen) && !s_set(cfg.seeds)) { /* a local node */
        grove_node *node = gv_node_start_local(opts);
        if (node)
            gv_registry_attach(node);
        return node;
    }

    grove_node *node = gv_node_start_local(opts);
    if (!node)
        return NULL;
    gv_registry *reg = gv_registry_attach(node);
    const char *name = grove_nodename_str(grove_node_name(node));
    bool insecure = opts->insecure || s_env_flag("GROVE_INSECURE");
    gv_tp_keys keys;
    memset(&keys, 0, sizeof keys);
    char why[200] = "";
    grove_err e = s_set(opts->cookie)
                      ? gv_tp_keys_from_secret(&keys, opts->cookie, strlen(opts->cookie), insecure,
                                               why, sizeof why)
                      : gv_tp_keys_from_env(&keys, name, insecure, why, sizeof why);
    if (e != GROVE_OK) {
        gv_log(GV_LOG_ERROR, "node", "start_failed", "name=%s reason=\"no usable secret: %s\"",
               name, why);
        gv_tp_keys_fini(&keys);
        gv_node_stop_local(&node);
        gv_registry_free(&reg);
        return NULL;
    }
    gv_dist *d;
    if (gv_registry_start(reg) != GROVE_OK || gv_dist_start(node, &cfg, &keys, &d) != GROVE_OK) {
        gv_log(GV_LOG_ERROR, "node", "start_failed", "name=%s reason=transport", name);
        gv_tp_keys_fini(&keys);
        gv_node_stop_local(&node);
        gv_registry_free(&reg);
        return NULL;
    }
    gv_registry_cluster_up(reg);
    gv_log(GV_LOG_INFO, "node", "clustered", "name=%s address=%s", name,
           gv_tp_address(gv_dist_tp(d)));
    return node;
}

void grove_node_stop(grove_node **nodep)
{
    if (!nodep || !*nodep)
        return;
    gv_dist *d = gv_dist_of(*nodep);
    gv_registry *reg = gv_registry_of(*nodep);
    gv_dist_stop(d); /* before the workers: noconnection reaches live processes */
    gv_node_stop_local(nodep);
    gv_dist_free(&d);
    gv_registry_free(&reg); /* its ops stayed valid while processes ran */
}

const char *grove_node_address(const grove_node *node)
{
    gv_dist *d = gv_dist_of((grove_node *)node);
    gv_tp *tp = d ? gv_dist_tp(d) : NULL;
    return tp ? gv_tp_address(tp) : NULL;
}

grove_err grove_node_dist_stats(grove_node *node, grove_dist_stats *out)
{
    memset(out, 0, sizeof *out);
    gv_dist *d = node ? gv_dist_of(node) : NULL;
    gv_tp *tp = d ? gv_dist_tp(d) : NULL;
    if (!tp)
        return GROVE_ENOCONN;
    gv_tp_stats st;
    gv_tp_stats_get(tp, &st);
    out->batches_sent = st.batches_sent;
    out->envelopes_sent = st.envelopes_sent;
    out->batches_received = st.batches_received;
    out->envelopes_received = st.envelopes_received;
    out->sessions_opened = st.sessions_opened;
    out->sessions_closed = st.sessions_closed;
    out->protocol_errors = st.protocol_errors;
    out->zap_refused = st.zap_refused;
    out->messages_dropped = gv_dist_dropped(d);
    out->node_watchers = gv_dist_node_watchers(d);
    return GROVE_OK;
}
