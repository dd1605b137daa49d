/*
 * grove/grove.h - all of Grove's public API in one include.
 *
 *   err.h         grove_err, the one error type
 *   term.h        terms: pack, match, parse, print, ETF bytes
 *   node.h        starting and stopping a node; waiters
 *   process.h     processes: spawn, send, links, monitors, timers
 *   names.h       local names and the duplicate-key registry
 *   global.h      global names: the cluster-wide registry
 *   gen_server.h  generic servers: call, cast, reply
 *   supervisor.h  supervisors and dynamic supervisors
 *   cluster_sup.h the cluster-wide supervisor
 *   task.h        tasks, async_stream, task supervisors
 *   agent.h       agents
 *   app.h         applications and the node daemon (grove_node_main)
 */
#ifndef GROVE_GROVE_H
#define GROVE_GROVE_H

#include <grove/err.h>
#include <grove/term.h>

#include <grove/node.h>
#include <grove/process.h>

#include <grove/global.h>
#include <grove/names.h>

#include <grove/gen_server.h>
#include <grove/supervisor.h>

#include <grove/cluster_sup.h>
#include <grove/task.h>

#include <grove/agent.h>
#include <grove/app.h>

#endif
