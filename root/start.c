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
 */
#include <grove/node.h>

#include "base/gv_log.h"
#include "node/ops.h"
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
    if (!s_set(cfg.listen) && !s_set(cfg.seeds))
        return gv_node_start_local(opts); /* a local node */

    grove_node *node = gv_node_start_local(opts);
    if (!node)
        return NULL;
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
        return NULL;
    }
    gv_dist *d;
    if (gv_dist_start(node, &cfg, &keys, &d) != GROVE_OK) {
        gv_log(GV_LOG_ERROR, "node", "start_failed", "name=%s reason=transport", name);
        gv_node_stop_local(&node);
        return NULL;
    }
    gv_log(GV_LOG_INFO, "node", "clustered", "name=%s address=%s", name,
           gv_tp_address(gv_dist_tp(d)));
    return node;
}

void grove_node_stop(grove_node **nodep)
{
    if (!nodep || !*nodep)
        return;
    gv_dist *d = gv_dist_of(*nodep);
    gv_dist_stop(d); /* before the workers: noconnection reaches live processes */
    gv_node_stop_local(nodep);
    gv_dist_free(&d);
}

const char *grove_node_address(const grove_node *node)
{
    gv_dist *d = gv_dist_of((grove_node *)node);
    gv_tp *tp = d ? gv_dist_tp(d) : NULL;
    return tp ? gv_tp_address(tp) : NULL;
}
