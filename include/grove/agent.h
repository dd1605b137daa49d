/*
 * grove/agent.h - agents: a process holding one term of state (Elixir's
 * Agent).
 *
 * The state is a term; the functions that read and change it are C
 * callbacks that run inside the agent process, one at a time, so no lock
 * is needed. Each takes the current state and an argument term (in place
 * of a closure's captured values):
 *
 *   static grove_term *add(const grove_term *state, const grove_term *arg)
 *   {
 *       int64_t n, k;
 *       grove_match(state, "~l", &n);
 *       grove_match(arg, "~l", &k);
 *       return grove_pack("~l", n + k);
 *   }
 *
 *   grove_pid counter;
 *   grove_agent_start(node, grove_int(0), NULL, &counter);
 *   grove_agent_update(node, counter, add, grove_int(5), GROVE_CALL_TIMEOUT);
 *   grove_term *n;
 *   grove_agent_get(node, counter, NULL, NULL, GROVE_CALL_TIMEOUT, &n);   // 5
 *
 * Callbacks run on a scheduler thread: they must be quick and must not
 * block. A callback that returns NULL where a term is due stops the agent
 * with reason `bad_return_value` (the caller sees GROVE_ENOPROC).
 */
#ifndef GROVE_AGENT_H
#define GROVE_AGENT_H

#include <stdint.h>

#include <grove/err.h>
#include <grove/gen_server.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Computes a value from the state (get) or a new state (update, cast).
 * state and arg are borrowed (arg NULL if none was given); the caller of
 * the callback owns the result. */
typedef grove_term *(*grove_agent_fn)(const grove_term *state, const grove_term *arg);

/* Computes a value to return and a new state (*new_state, owned by the
 * agent afterwards). */
typedef grove_term *(*grove_agent_get_update_fn)(const grove_term *state, const grove_term *arg,
                                                 grove_term **new_state);

/* The agent as a gen_server, for child specs: .gen_server =
 * &grove_agent_server, .arg = the initial state. */
extern const grove_gen_server grove_agent_server;

/* Starts an agent with `initial` (consumed) as its state. As
 * grove_gen_server_start (opts may name it). */
grove_err grove_agent_start(grove_node *node, grove_term *initial, const grove_start_opts *opts,
                            grove_pid *out);

/* *out = fn(state, arg), or a copy of the state when fn is NULL. arg is
 * consumed (may be NULL). Errors as grove_call's. Blocks. */
grove_err grove_agent_get(grove_node *node, grove_pid agent, grove_agent_fn fn, grove_term *arg,
                          int64_t timeout_ms, grove_term **out);

/* state = fn(state, arg), and waits until done. Blocks. */
grove_err grove_agent_update(grove_node *node, grove_pid agent, grove_agent_fn fn, grove_term *arg,
                             int64_t timeout_ms);

/* *out = fn(state, arg, &new_state); state = new_state. Blocks. */
grove_err grove_agent_get_and_update(grove_node *node, grove_pid agent,
                                     grove_agent_get_update_fn fn, grove_term *arg,
                                     int64_t timeout_ms, grove_term **out);

/* state = fn(state, arg), without waiting. Never blocks. */
grove_err grove_proc_agent_cast(grove_proc *self, grove_pid agent, grove_agent_fn fn,
                                grove_term *arg);
grove_err grove_node_agent_cast(grove_node *node, grove_pid agent, grove_agent_fn fn,
                                grove_term *arg);
#define grove_agent_cast(ctx, agent, fn, arg) \
    GROVE_CTX_(ctx, grove_proc_agent_cast, grove_node_agent_cast)(ctx, agent, fn, arg)

/* Stops the agent (reason consumed; NULL: normal) and waits until it is
 * gone. As grove_gen_server_stop. */
grove_err grove_agent_stop(grove_node *node, grove_pid agent, grove_term *reason,
                           int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
