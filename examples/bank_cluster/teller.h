/*
 * teller.h - a teller: a process on a bank node that reaches accounts by
 * their global names, on behalf of whoever asks.
 *
 * Every node of the cluster demo runs the same program, so the driver can
 * spawn a teller on any node by name ("bank_teller") and have deposits
 * originate there. Requests (From: the pid to answer, Tag: an integer the
 * answer carries):
 *
 *   {deposit, From, Tag, Name, Amount}
 *       casts {deposit, Amount} to the holder of the global name Name
 *       (grove_global_send), then calls it for its balance (grove_call_async),
 *       so the balance answered was read after the deposit landed (signals
 *       from one process to another keep their order).
 *       -> {teller_reply, Tag, ok, {Pid, Balance}}
 *   {open, From, Tag, Name, Opening}
 *       adds an account to the cluster-wide supervisor "bank", with the
 *       global name Name and the opening balance Opening: the child spec
 *       is replicated to every member and started by one of them. Needs
 *       this node's member (bank_node runs one), so the blocking
 *       grove_cluster_sup_start_child runs in a task.
 *       -> {teller_reply, Tag, ok, Pid}
 *   {whereis, From, Tag, Name}
 *       this node's replica of the global registry.
 *       -> {teller_reply, Tag, ok, Pid}
 *   {nodes, From, Tag}
 *       the nodes this node is connected to, "a@h,b@h".
 *       -> {teller_reply, Tag, ok, "a@h,b@h"}
 *
 * Failures answer {teller_reply, Tag, error, Reason} (Reason: not_found
 * for a name nobody holds, the call's exit reason, timeout, busy, or the
 * error's name, 'GROVE_EEXIST'). Names are binaries.
 */
#ifndef BANK_CLUSTER_TELLER_H
#define BANK_CLUSTER_TELLER_H

#include <grove/process.h>

extern const grove_behaviour teller_behaviour;

#endif
