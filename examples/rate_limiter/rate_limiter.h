/*
 * rate_limiter.h - at most N requests per window (a minute by default)
 * for each client id, as a gen_server.
 *
 * A sliding log: the server remembers, per client, the times of its last
 * N allowed requests; a request is allowed when fewer than N of them fall
 * in the last window. One process owns the counts, so concurrent clients
 * need no lock: their calls are served one at a time.
 */
#ifndef RATE_LIMITER_H
#define RATE_LIMITER_H

#include <grove/grove.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const grove_gen_server rate_limiter_server;

/* limit requests per window_ms (0: 60000) for each client. */
grove_err rate_limiter_start(grove_node *node, unsigned limit, uint64_t window_ms, grove_pid *out);

/* Asks for one request of client. *allowed says whether it may go ahead.
 * Blocks (a call). */
grove_err rate_limiter_check(grove_node *node, grove_pid limiter, const char *client,
                             bool *allowed);

/* Runs `clients` clients at once, each making `requests` checks in a row
 * (each client is a task), and stores how many each was allowed in
 * allowed[i] (client ids "client-0", "client-1", ...). Blocks. */
grove_err rate_limiter_storm(grove_node *node, grove_pid limiter, size_t clients, unsigned requests,
                             unsigned *allowed);

#endif
