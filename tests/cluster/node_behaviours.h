/*
 * node_behaviours.h - small behaviours the multi-process cluster tests run
 * on real nodes (test_node, a grove-node with these linked in) and in the
 * test process itself. Each reports to a pid it is given, so the test's
 * own thread does every assertion.
 *
 *   echo      {ping, From} -> From ! {pong, Self}; {crash, R} exits with R;
 *             {send, To, Msg} -> To ! Msg
 *   reporter  arg: a pid To, or none. {nodes, From} -> From ! {nodes, Self,
 *             "a@h,b@h"} (grove_nodes); {whereis, Name, From} -> From !
 *             {whereis, Name, Pid | undefined}. With To: monitors nodes,
 *             reports {reporting, Self}, then forwards {nodeup, Self, Node}
 *             and {nodedown, Self, Node, Info}, and any other message as
 *             {forward, Self, Msg}.
 *   linker    arg {Target, To}: traps exits, links to Target, reports
 *             {linked, Self, Target}, then each {'EXIT', P, R} as
 *             {link_exit, Self, P, R}.
 *   monitor   arg {Target, To}: monitors Target, reports {monitoring, Self,
 *             Target}, then its DOWN as {monitor_down, Self, P, R}.
 *   The first report of a linker or monitor goes through Target (an echo:
 *   {send, To, Report}), so it proves Target has taken the link or monitor
 *   (signals between two processes keep their order; signals from
 *   different nodes do not). A dead Target never passes it on.
 */
#ifndef GROVE_NODE_BEHAVIOURS_H
#define GROVE_NODE_BEHAVIOURS_H

#include <grove/err.h>
#include <grove/process.h>

extern const grove_behaviour nb_echo;
extern const grove_behaviour nb_reporter;
extern const grove_behaviour nb_linker;
extern const grove_behaviour nb_monitor;

/* Registers the four for spawning by name. */
grove_err nb_register_behaviours(void);

#endif
