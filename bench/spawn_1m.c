/*
 * spawn_1m - spawn 1,000,000 idle processes, the clock stopped when every
 * init has run; then the resident memory per process; then, after the
 * first million have exited, a second ("warm") million in the same node
 * (DESIGN.md section 10; Erlang: anchors_local.erl `spawn`, `spawn_warm`).
 *
 * As in the Erlang program the processes are spawned by a process (here
 * in slices of 1,000 per message, so no handler runs for long), and each
 * waits for `stop`. Each init bumps a counter of its own thread; main
 * polls the sum.
 *
 * spawn_bytes is the growth of VmRSS (/proc/self/status) across the first
 * million, divided by a million: everything the runtime keeps per idle
 * process (control block, process-table slot, allocator overhead). The
 * benchmark's own array of pids is touched before the first reading, so
 * it is not counted.
 *
 *   spawn_1m [-n N]
 *
 * Prints `spawn_1m <s> s`, `spawn_bytes <B> B`, `spawn_1m_warm <s> s`.
 */
#include "bench.h"

#include <stdatomic.h>

#define SLICE 1000

/* ---- a counter per thread, so counting inits does not bounce one line ---- */

#define MAX_THREADS 64
static struct {
    _Alignas(64) _Atomic long n;
} s_count[MAX_THREADS];
static _Atomic int s_threads;
static _Thread_local int s_my = -1;

static void s_count_init(void)
{
    if (s_my < 0)
        s_my = atomic_fetch_add_explicit(&s_threads, 1, memory_order_relaxed) % MAX_THREADS;
    /* Relaxed: main only needs to see the sum reach N eventually. */
    atomic_fetch_add_explicit(&s_count[s_my].n, 1, memory_order_relaxed);
}

static long s_inits(void)
{
    long sum = 0;
    for (int i = 0; i < MAX_THREADS; i++)
        sum += atomic_load_explicit(&s_count[i].n, memory_order_relaxed);
    return sum;
}

/* ---- the idle process ---------------------------------------------------- */

static grove_err idle_init(grove_proc *self, const grove_term *arg, void **state)
{
    s_count_init();
    return GROVE_OK;
}

static grove_ret idle_handle(grove_proc *self, const grove_term *msg, void *state)
{
    if (grove_match(msg, "stop"))
        return grove_stop(self, NULL);
    return GROVE_CONTINUE;
}

static const grove_behaviour idle_behaviour = {
    .name = "idle", .init = idle_init, .handle = idle_handle};

/* ---- the spawner ---------------------------------------------------------- */

static grove_pid *s_pids;
static long s_n, s_done;

static grove_ret spawner_handle(grove_proc *self, const grove_term *msg, void *state)
{
    if (grove_match(msg, "spawn")) {
        for (long i = 0; i < SLICE && s_done < s_n; i++, s_done++)
            grove_spawn(self, &idle_behaviour, NULL, NULL, &s_pids[s_done]);
        if (s_done < s_n)
            grove_send(self, grove_self(self), grove_pack("spawn"));
    } else if (grove_match(msg, "stop_all")) {
        for (long i = 0; i < SLICE && s_done > 0; i++)
            grove_send(self, s_pids[--s_done], grove_pack("stop"));
        if (s_done > 0)
            grove_send(self, grove_self(self), grove_pack("stop_all"));
    }
    return GROVE_CONTINUE;
}

static const grove_behaviour spawner_behaviour = {.name = "spawner", .handle = spawner_handle};

/* ---- measuring ---------------------------------------------------------------- */

static long s_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        bench_fail("cannot read /proc/self/status");
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    if (kb < 0)
        bench_fail("no VmRSS in /proc/self/status");
    return kb * 1024;
}

static uint64_t s_processes(grove_node *node)
{
    grove_node_stats st;
    grove_node_stats_get(node, &st);
    return st.processes;
}

/* Spawns s_n idle processes through the spawner; returns the seconds until
 * every init has run. */
static double s_round(grove_node *node, grove_pid spawner)
{
    long before = s_inits();
    double t0 = bench_now();
    grove_send(node, spawner, grove_pack("spawn"));
    while (s_inits() - before < s_n)
        bench_sleep_us(50);
    return bench_now() - t0;
}

int main(int argc, char **argv)
{
    s_n = bench_arg_n(argc, argv, 1000000);
    s_pids = malloc((size_t)s_n * sizeof *s_pids);
    memset(s_pids, 0, (size_t)s_n * sizeof *s_pids); /* resident before we measure */
    grove_node *node = bench_node();
    grove_pid spawner;
    grove_spawn(node, &spawner_behaviour, NULL, NULL, &spawner);
    while (s_processes(node) != 1 || s_inits() != 0)
        bench_sleep_us(100);
    bench_sleep_us(50000);

    long r0 = s_rss_bytes();
    double cold = s_round(node, spawner);
    long r1 = s_rss_bytes();
    bench_out("spawn_1m", cold, "s");
    bench_out("spawn_bytes", (double)(r1 - r0) / (double)s_n, "B");

    grove_send(node, spawner, grove_pack("stop_all"));
    while (s_processes(node) > 1)
        bench_sleep_us(1000);
    bench_sleep_us(50000);
    double warm = s_round(node, spawner);
    bench_out("spawn_1m_warm", warm, "s");

    grove_node_stop(&node);
    free(s_pids);
    return 0;
}
