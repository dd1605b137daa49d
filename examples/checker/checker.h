/*
 * checker.h - run a slow check over many inputs, ten at a time, with
 * async_stream; results come back in input order.
 *
 * The check here stands for any slow call (a web request, a disk read):
 * it tells whether a number is prime, after a pause. Checks run on the
 * task pool, so the schedulers stay free meanwhile.
 */
#ifndef CHECKER_H
#define CHECKER_H

#include <grove/grove.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* How many checks ran at once (at most). */
typedef struct checker_stats {
    _Atomic int running;
    _Atomic int max_running;
} checker_stats;

/* Checks inputs[0..n) with at most max_concurrency at a time (the task
 * pool, GROVE_TASK_THREADS, needs as many threads for them all to run at
 * once: a sleeping check holds its thread), each taking
 * at least delay_ms. results[i] (caller owns) is {ok, {N, prime}},
 * {ok, {N, composite}} or {exit, Reason}. stats may be NULL. Blocks. */
grove_err checker_run(grove_node *node, const int64_t *inputs, size_t n, unsigned max_concurrency,
                      uint64_t delay_ms, checker_stats *stats, grove_term **results);

#endif
