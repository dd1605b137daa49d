/*
 * bench.h - what every benchmark program shares: a node with 2
 * schedulers, a clock, a waiter for the finish line, and the one output
 * format, `<name> <value> <unit>` on stdout (DESIGN.md section 10).
 *
 * Messages are built with grove_pack and taken apart with grove_match, as
 * a user writes them. Programs that also measure a cheaper public way (a
 * term built once and copied with grove_term_copy, read with the
 * allocation-free grove_reader) say so with a `_copy` suffix.
 */
#ifndef BENCH_H
#define BENCH_H

#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SCHEDULERS 2

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void bench_sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static inline void bench_out(const char *name, double value, const char *unit)
{
    if (value >= 1000.0)
        printf("%s %.0f %s\n", name, value, unit);
    else
        printf("%s %.4g %s\n", name, value, unit);
    fflush(stdout);
}

static inline _Noreturn void bench_fail(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

static inline grove_node *bench_node(void)
{
    grove_node_opts o = {.schedulers = BENCH_SCHEDULERS};
    const char *env = getenv("BENCH_SCHEDULERS"); /* experiments only */
    if (env && atoi(env) > 0)
        o.schedulers = (unsigned)atoi(env);
    env = getenv("BENCH_BATCH"); /* experiments only */
    if (env && atoi(env) > 0)
        o.batch = (unsigned)atoi(env);
    grove_node *node = grove_node_start(&o);
    if (!node)
        bench_fail("cannot start a node");
    return node;
}

/* Waits (up to 10 minutes) for a message matching `pattern` on w. */
static inline void bench_wait(grove_waiter *w, const char *pattern)
{
    grove_term *t = NULL;
    if (grove_waiter_recv_match(w, pattern, 600000, &t) != GROVE_OK)
        bench_fail("timed out waiting for the finish line");
    grove_term_destroy(&t);
}

/* The count argument, for shorter runs while profiling: argv[i] after
 * `-n`, else dflt. */
static inline long bench_arg_n(int argc, char **argv, long dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-n") == 0)
            return atol(argv[i + 1]);
    return dflt;
}

static inline int bench_has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

#endif
