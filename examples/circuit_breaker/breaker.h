/*
 * breaker.h - a circuit breaker: after `threshold` failures in a row it
 * opens and refuses calls at once; after `reset_ms` it half-opens and lets
 * one trial through, whose outcome closes it again or opens it anew.
 *
 * The breaker is a gen_server that only keeps the state; the protected
 * operation runs in the caller (it may block), which asks first and
 * reports after (ask / report, as the `fuse` library does).
 */
#ifndef BREAKER_H
#define BREAKER_H

#include <grove/grove.h>

#include <stdint.h>

extern const grove_gen_server breaker_server;

typedef enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

/* threshold failures open it (0: 5); reset_ms later it half-opens (0: 1000). */
grove_err breaker_start(grove_node *node, unsigned threshold, uint64_t reset_ms, grove_pid *out);

/* The protected operation: a result, or NULL for a failure. */
typedef grove_term *(*breaker_op)(const grove_term *arg, void *udata);

/* Runs op(arg) through the breaker (arg borrowed). GROVE_OK: it ran and
 * *result is its result (caller owns). GROVE_EIO: it ran and failed.
 * GROVE_EAGAIN: the breaker is open, op did not run. Blocks. */
grove_err breaker_run(grove_node *node, grove_pid breaker, breaker_op op, const grove_term *arg,
                      void *udata, grove_term **result);

grove_err breaker_get_state(grove_node *node, grove_pid breaker, breaker_state *out);

#endif
