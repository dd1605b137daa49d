/*
 * register.c - the global registry's figures (DESIGN.md section 10,
 * docs/registry.md), beside bench/erlang/anchors_global.erl:
 *
 *   register_ms      median latency of grove_global_register on a 3-node
 *                    cluster (a claim to both peers, their answers, the
 *                    commit), N distinct names for processes of node 0
 *   register_p99_ms  its 99th percentile
 *   whereis_us       mean grove_global_whereis on node 0 (a local read)
 *
 * The three nodes run in this one process on 127.0.0.1 (each with its own
 * transport, sessions and CURVE, talking over loopback TCP), which is how
 * the cluster tests run them; the Erlang anchor uses three OS processes.
 * `-n N` sets the number of registrations (default 2000, as the anchor).
 */
#include "bench.h"

#include <grove/global.h>

#define NODES 3
#define SECRET "bench-register-0123456789abcdef01"

static grove_node *s_node[NODES];

static grove_ret idle_handle(grove_proc *self, const grove_term *msg, void *state)
{
    return grove_match(msg, "stop") ? grove_stop(self, NULL) : GROVE_CONTINUE;
}

static const grove_behaviour s_idle = {.name = "idle", .handle = idle_handle};

static grove_node *s_start(int i, const char *seeds)
{
    char name[64];
    snprintf(name, sizeof name, "bench%d@127.0.0.1", i);
    grove_node_opts o = {.name = name,
                         .schedulers = BENCH_SCHEDULERS,
                         .listen = "127.0.0.1:0",
                         .seeds = seeds,
                         .cookie = SECRET};
    grove_node *n = grove_node_start(&o);
    if (!n)
        bench_fail("cannot start a clustered node");
    return n;
}

/* Waits until every node sees the two others and a registration made on
 * node 0 is seen on every node (so each registry has met the others). */
static void s_mesh(void)
{
    grove_pid probe;
    if (grove_spawn(s_node[0], &s_idle, NULL, NULL, &probe) != GROVE_OK)
        bench_fail("cannot spawn");
    double deadline = bench_now() + 30;
    for (;;) {
        bool all = true;
        for (int i = 0; i < NODES; i++) {
            grove_nodename out[8];
            if (grove_nodes(s_node[i], out, 8) != NODES - 1)
                all = false;
        }
        if (all)
            break;
        if (bench_now() > deadline)
            bench_fail("the nodes did not connect");
        bench_sleep_us(1000);
    }
    /* A registry meets its peers just after the sessions open: a probe
     * name registered until every node holds it at the same epoch. */
    for (int round = 0;; round++) {
        uint64_t epoch;
        if (grove_global_register(s_node[0], "bench_probe", probe, &epoch) != GROVE_OK)
            bench_fail("cannot register the probe");
        bench_sleep_us(20000);
        bool seen = true;
        for (int i = 1; i < NODES; i++)
            seen = seen && grove_global_whereis(s_node[i], "bench_probe", NULL, NULL) == GROVE_OK;
        grove_global_unregister(s_node[0], "bench_probe");
        if (seen && round > 0)
            break;
        if (bench_now() > deadline)
            bench_fail("the registries did not meet");
    }
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = bench_arg_n(argc, argv, 2000);
    if (n < 2)
        bench_fail("-n must be at least 2");
    s_node[0] = s_start(0, NULL);
    char seed[128];
    snprintf(seed, sizeof seed, "%s", grove_node_address(s_node[0]));
    for (int i = 1; i < NODES; i++)
        s_node[i] = s_start(i, seed);
    s_mesh();

    grove_pid *pids = malloc((size_t)n * sizeof *pids);
    double *lat = malloc((size_t)n * sizeof *lat);
    if (!pids || !lat)
        bench_fail("out of memory");
    for (long i = 0; i < n; i++)
        if (grove_spawn(s_node[0], &s_idle, NULL, NULL, &pids[i]) != GROVE_OK)
            bench_fail("cannot spawn");
    char name[64];
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "anchor_name_%ld", i);
        double t0 = bench_now();
        if (grove_global_register(s_node[0], name, pids[i], NULL) != GROVE_OK)
            bench_fail("a registration failed");
        lat[i] = bench_now() - t0;
    }
    qsort(lat, (size_t)n, sizeof *lat, s_cmp);
    bench_out("register_ms", lat[n / 2] * 1e3, "ms");
    bench_out("register_p99_ms", lat[(n * 99) / 100] * 1e3, "ms");

    /* lookups of the names just registered, as the anchor does (names
     * built beforehand: the lookup alone is measured) */
    char(*names)[32] = malloc((size_t)n * sizeof *names);
    if (!names)
        bench_fail("out of memory");
    for (long i = 0; i < n; i++)
        snprintf(names[i], sizeof names[i], "anchor_name_%ld", i);
    long reps = 500;
    grove_pid where;
    double t0 = bench_now();
    for (long r = 0; r < reps; r++)
        for (long i = 0; i < n; i++)
            if (grove_global_whereis(s_node[0], names[i], &where, NULL) != GROVE_OK)
                bench_fail("a name is missing");
    bench_out("whereis_us", (bench_now() - t0) / (double)(reps * n) * 1e6, "us");
    free(names);

    for (int i = NODES - 1; i >= 0; i--)
        grove_node_stop(&s_node[i]);
    free(pids);
    free(lat);
    return 0;
}
