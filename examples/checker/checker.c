/*
 * checker.c - the slow check and the stream that runs it.
 */
#include "checker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct run {
    uint64_t delay_ms;
    checker_stats *stats;
} run;

static bool s_prime(int64_t n)
{
    if (n < 2)
        return false;
    for (int64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

static grove_term *s_check(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    run *r = udata;
    int64_t n;
    if (!grove_match(arg, "~l", &n))
        return NULL;
    checker_stats *st = r->stats;
    if (st) {
        int now = atomic_fetch_add(&st->running, 1) + 1;
        int seen = atomic_load(&st->max_running);
        while (now > seen && !atomic_compare_exchange_weak(&st->max_running, &seen, now)) {
        }
    }
    /* The slow part: a blocking wait, fine on a task thread. */
    nanosleep(&(struct timespec){.tv_sec = (time_t)(r->delay_ms / 1000),
                                 .tv_nsec = (long)(r->delay_ms % 1000) * 1000000},
              NULL);
    if (st)
        atomic_fetch_sub(&st->running, 1);
    return grove_pack("{~l, ~a}", n, s_prime(n) ? "prime" : "composite");
}

grove_err checker_run(grove_node *node, const int64_t *inputs, size_t n, unsigned max_concurrency,
                      uint64_t delay_ms, checker_stats *stats, grove_term **results)
{
    grove_term **in = calloc(n ? n : 1, sizeof *in);
    if (!in)
        return GROVE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        in[i] = grove_int(inputs[i]);
    run r = {delay_ms, stats};
    grove_err err = grove_task_async_stream(
        node, s_check, in, n, &r,
        &(grove_stream_opts){.max_concurrency = max_concurrency, .timeout_ms = 60000}, results);
    for (size_t i = 0; i < n; i++)
        grove_term_destroy(&in[i]);
    free(in);
    return err;
}
