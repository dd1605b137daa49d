/*
 * checker_demo - 100 slow checks (20 ms each), ten at a time: about 0.2 s
 * instead of 2 s, results in input order.
 */
#include "checker.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void)
{
    /* Ten checks at once need ten task threads (unless told otherwise). */
    setenv("GROVE_TASK_THREADS", "10", 0);
    grove_node *node = grove_node_start(NULL);
    if (!node)
        return 1;
    int64_t inputs[100];
    grove_term *results[100];
    for (int i = 0; i < 100; i++)
        inputs[i] = i + 1;
    checker_stats stats = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    grove_err err = checker_run(node, inputs, 100, 10, 20, &stats, results);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int ok = err == GROVE_OK, primes = 0;
    for (int i = 0; ok && i < 100; i++) {
        int64_t n;
        char kind[16];
        ok &= grove_match(results[i], "{ok, {~l, ~a}}", &n, kind, sizeof kind) && n == i + 1;
        primes += ok && kind[0] == 'p';
    }
    for (int i = 0; err == GROVE_OK && i < 100; i++)
        grove_term_destroy(&results[i]);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("checked 100 numbers in %.0f ms, at most %d at once: %d primes\n", ms,
           atomic_load(&stats.max_running), primes);
    ok &= primes == 25 && atomic_load(&stats.max_running) <= 10;
    grove_node_stop(&node);
    return ok ? 0 : 1;
}
