/*
 * remote - Grove's remote figures (DESIGN.md section 10; Erlang:
 * anchors_dist.erl, ZeroMQ: zmq_anchors.c): two nodes, each its own OS
 * process with 2 schedulers, on 127.0.0.1 with CURVE on (a random
 * 256-bit cookie drawn per run).
 *
 *   remote [pingpong] [throughput] [nodedown] [--smoke] [--trips N] [-n N]
 *          [--window W] [--reps R]
 *
 * This process is the measuring node; it starts peer nodes by running
 * its own binary again (`remote --peer NAME SEED`, the cookie on the
 * peer's stdin, which it reads until EOF to know when to stop). Processes
 * are grove behaviours on both sides, as an Erlang user would write them.
 *
 * pingpong   `pong` is spawned on the peer (remote spawn), `ping` here;
 *            1,000 untimed trips of {ping, self()} / `pong`, then N
 *            (100,000) timed ones, each timed on its own:
 *            remote_pingpong trips/s, remote_rtt_p50 us, remote_rtt_p99 us.
 * throughput a `counter` on the peer takes N (1,000,000) {msg, Bin}, Bin a
 *            64-byte binary, from one `sender` here, then tells main; the
 *            clock runs from the sender's `go` to `counted`:
 *            remote_throughput msgs/s, and remote_batch_mean
 *            envelopes/batch (data envelopes per ZeroMQ message this node
 *            sent meanwhile, from grove_node_dist_stats).
 * nodedown   main monitors a process on a fresh peer, then kills the peer
 *            with SIGKILL (nodedown_kill_ms) or freezes it with SIGSTOP
 *            (nodedown_silent_ms), and times the DOWN `noconnection`;
 *            the median of R (3) peers each, default heartbeat and
 *            nodedown settings (GROVE_HEARTBEAT_MS, GROVE_NODEDOWN_MS).
 *
 * Flow control. Erlang's `!` to a remote pid suspends the sender while
 * the distribution buffer is over its busy limit (1 MiB); anchors_dist.erl
 * just sends 1,000,000 messages in a loop and relies on that. A Grove
 * handler cannot block, and a remote message that meets a full outbound
 * buffer (16 MiB) is dropped (docs/cluster.md, "Busy peers"), so the
 * sender here keeps at most W (16,384, about 2 MB on the wire, the order
 * of Erlang's busy limit) messages unacknowledged: the counter
 * acknowledges every W/4 (4,096: 245 acks in a run), and the sender
 * sends 1,000 per handler, then sends itself `more` (a handler is never
 * preempted; a well-behaved process yields), or waits for an ack when
 * the window is full. The buffer cannot overflow that way; the run still
 * watches the node's dropped-message counter (grove_node_dist_stats) and
 * exits with 1, printing no throughput figure, if a single message was
 * dropped (the counter would then never reach N either).
 *
 * --smoke: 1,000 trips and 1,000 messages (window 256), one peer each
 * for the nodedown figures: checks that everything runs, not speed.
 */

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PEER_WAIT_MS 30000 /* a peer starts and joins */
#define CALL_MS 30000      /* remote spawn, a round trip */
#define DOWN_WAIT_MS 60000 /* generous: 40x the default nodedown time */
#define SLICE 1000         /* messages per sender handler */
#define MSG_BYTES 64
#define MAX_REPS 32

static double *s_rtt; /* per timed trip, in us: written by ping, read by main after `done` */

/* ---- behaviours (registered on both nodes: same binary) ------------------ */

static grove_ret pong_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)state;
    grove_pid from;
    if (grove_match(msg, "{ping, ~p}", &from))
        grove_send(self, from, grove_pack("pong"));
    else if (grove_match(msg, "stop"))
        return grove_stop(self, NULL);
    return GROVE_CONTINUE;
}

static const grove_behaviour pong_behaviour = {.name = "bench_pong", .handle = pong_handle};

typedef struct ping_state {
    grove_pid pong, main;
    int64_t warm, trips, trip; /* trip: the one under way, 0-based */
    double sent, t0;
} ping_state;

static void s_ping(grove_proc *self, ping_state *st)
{
    st->sent = bench_now();
    if (st->trip == st->warm)
        st->t0 = st->sent;
    grove_send(self, st->pong, grove_pack("{ping, ~p}", grove_self(self)));
}

static grove_err ping_init(grove_proc *self, const grove_term *arg, void **state)
{
    ping_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "{~p, ~p, ~l, ~l}", &st->pong, &st->main, &st->warm, &st->trips)) {
        free(st);
        return GROVE_EBADARG;
    }
    *state = st;
    s_ping(self, st);
    return GROVE_OK;
}

static grove_ret ping_handle(grove_proc *self, const grove_term *msg, void *state)
{
    ping_state *st = state;
    if (!grove_match(msg, "pong"))
        return GROVE_CONTINUE;
    double now = bench_now();
    if (st->trip >= st->warm)
        s_rtt[st->trip - st->warm] = (now - st->sent) * 1e6;
    if (++st->trip < st->warm + st->trips) {
        s_ping(self, st);
        return GROVE_CONTINUE;
    }
    grove_send(self, st->main, grove_pack("{pingpong_done, ~f}", now - st->t0));
    return grove_stop(self, NULL);
}

static void ping_free(void *state)
{
    free(state);
}

static const grove_behaviour ping_behaviour = {
    .name = "bench_ping", .init = ping_init, .handle = ping_handle, .free_state = ping_free};

/* counter: arg {N, Main, Sender, AckEvery}. Acknowledges every AckEvery
 * messages (and the last) to Sender with {ack, Count}; tells Main
 * `counted` after N, or {bad_message, Msg} for anything unexpected. */
typedef struct counter_state {
    int64_t n, count, ack_every;
    grove_pid main, sender;
} counter_state;

static grove_err counter_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)self;
    counter_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "{~l, ~p, ~p, ~l}", &st->n, &st->main, &st->sender, &st->ack_every) ||
        st->n <= 0 || st->ack_every <= 0) {
        free(st);
        return GROVE_EBADARG;
    }
    *state = st;
    return GROVE_OK;
}

static grove_ret counter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    counter_state *st = state;
    const void *bin;
    size_t len;
    if (!grove_match(msg, "{msg, ~b}", &bin, &len) || len != MSG_BYTES) {
        grove_send(self, st->main, grove_pack("{bad_message, ~t}", grove_term_copy(msg)));
        return GROVE_CONTINUE;
    }
    if (++st->count % st->ack_every == 0 || st->count == st->n)
        grove_send(self, st->sender, grove_pack("{ack, ~l}", st->count));
    if (st->count < st->n)
        return GROVE_CONTINUE;
    grove_send(self, st->main, grove_pack("counted"));
    return grove_stop(self, NULL);
}

static void counter_free(void *state)
{
    free(state);
}

static const grove_behaviour counter_behaviour = {.name = "bench_counter",
                                                  .init = counter_init,
                                                  .handle = counter_handle,
                                                  .free_state = counter_free};

/* sender: arg {N, Window}; starts on {go, Counter}. At most Window
 * messages unacknowledged, SLICE per handler. */
typedef struct sender_state {
    grove_pid to;
    int64_t n, window, sent, acked;
    bool going, more_pending;
    unsigned char bin[MSG_BYTES];
} sender_state;

static void s_send_some(grove_proc *self, sender_state *st)
{
    for (int i = 0; i < SLICE && st->sent < st->n && st->sent - st->acked < st->window; i++) {
        grove_send(self, st->to, grove_pack("{msg, ~b}", st->bin, sizeof st->bin));
        st->sent++;
    }
    if (st->sent < st->n && st->sent - st->acked < st->window && !st->more_pending) {
        st->more_pending = true;
        grove_send(self, grove_self(self), grove_pack("more"));
    }
}

static grove_err sender_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)self;
    sender_state *st = calloc(1, sizeof *st);
    if (!grove_match(arg, "{~l, ~l}", &st->n, &st->window) || st->n <= 0 || st->window <= 0) {
        free(st);
        return GROVE_EBADARG;
    }
    memset(st->bin, 'x', sizeof st->bin);
    *state = st;
    return GROVE_OK;
}

static grove_ret sender_handle(grove_proc *self, const grove_term *msg, void *state)
{
    sender_state *st = state;
    int64_t count;
    if (grove_match(msg, "more")) {
        st->more_pending = false;
    } else if (grove_match(msg, "{ack, ~l}", &count)) {
        if (count > st->acked)
            st->acked = count;
    } else if (grove_match(msg, "{go, ~p}", &st->to)) {
        st->going = true;
    } else {
        return GROVE_CONTINUE;
    }
    if (st->going)
        s_send_some(self, st);
    return st->sent < st->n ? GROVE_CONTINUE : grove_stop(self, NULL);
}

static void sender_free(void *state)
{
    free(state);
}

static const grove_behaviour sender_behaviour = {.name = "bench_sender",
                                                 .init = sender_init,
                                                 .handle = sender_handle,
                                                 .free_state = sender_free};

static void s_register(void)
{
    const grove_behaviour *all[] = {&pong_behaviour, &ping_behaviour, &counter_behaviour,
                                    &sender_behaviour};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (grove_behaviour_register(all[i]) != GROVE_OK)
            bench_fail("cannot register the behaviours");
}

/* ---- nodes ----------------------------------------------------------------- */

static unsigned s_schedulers(void)
{
    const char *env = getenv("BENCH_SCHEDULERS"); /* experiments only */
    return env && atoi(env) > 0 ? (unsigned)atoi(env) : BENCH_SCHEDULERS;
}

static grove_node *s_node_start(const char *name, const char *seeds, const char *cookie)
{
    grove_node_opts o = {.name = name,
                         .schedulers = s_schedulers(),
                         .listen = "127.0.0.1:0",
                         .seeds = seeds,
                         .cookie = cookie};
    return grove_node_start(&o);
}

/* The peer role: the cookie is the first line on stdin; the node runs
 * until stdin ends (main closes it, or dies). */
static int s_peer_main(const char *name, const char *seed)
{
    char cookie[256];
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (len + 1 < sizeof cookie)
            cookie[len++] = c;
    }
    cookie[len] = '\0';
    if (len == 0)
        bench_fail("peer: no cookie on stdin");
    s_register();
    grove_node *node = s_node_start(name, seed, cookie);
    memset(cookie, 0, sizeof cookie);
    if (!node)
        bench_fail("peer: cannot start a node");
    char buf[64];
    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
    }
    grove_node_stop(&node);
    return 0;
}

typedef struct peer {
    pid_t pid;
    int in; /* the peer's stdin: closing it stops the peer */
    grove_nodename name;
} peer;

static char s_exe[4096];
static char s_cookie[65];

static bool s_connected(grove_node *node, grove_nodename name)
{
    grove_nodename out[64];
    size_t n = grove_nodes(node, out, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        if (out[i] == name)
            return true;
    return false;
}

/* Starts a peer node process seeded with node's address; waits until the
 * two are connected. */
static void s_peer_start(grove_node *node, const char *name, peer *p)
{
    if (grove_nodename_intern(name, strlen(name), &p->name) != GROVE_OK)
        bench_fail("bad peer name");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        bench_fail("pipe2 failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1); /* stdout carries figures only */
    char *argv[] = {s_exe, "--peer", (char *)name, (char *)grove_node_address(node), NULL};
    int e = posix_spawn(&p->pid, s_exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (e != 0)
        bench_fail("cannot start a peer process");
    p->in = fds[1];
    char line[sizeof s_cookie + 1];
    int n = snprintf(line, sizeof line, "%s\n", s_cookie);
    if (write(p->in, line, (size_t)n) != n)
        bench_fail("cannot hand the cookie to the peer");
    double deadline = bench_now() + PEER_WAIT_MS / 1e3;
    while (!s_connected(node, p->name)) {
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid)
            bench_fail("the peer process exited before joining");
        if (bench_now() > deadline)
            bench_fail("the peer did not join in time");
        bench_sleep_us(2000);
    }
}

/* Ends a peer: killed, or asked to stop (stdin closed: it stops its node
 * and must exit with 0, within 10 s), and reaped. */
static void s_peer_end(peer *p, bool kill_first)
{
    if (kill_first)
        kill(p->pid, SIGKILL);
    close(p->in);
    double deadline = bench_now() + 10.0;
    int status = 0;
    while (waitpid(p->pid, &status, WNOHANG) == 0) {
        if (bench_now() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            bench_fail("the peer node did not stop");
        }
        bench_sleep_us(1000);
    }
    if (!kill_first && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        bench_fail("the peer node failed");
}

static grove_pid s_spawn_on(grove_node *node, peer *p, const char *behaviour, grove_term *arg)
{
    grove_pid pid;
    grove_err e = grove_node_spawn_on(node, p->name, behaviour, arg, CALL_MS, &pid);
    if (e != GROVE_OK) {
        fprintf(stderr, "bench: spawning %s on the peer: %s\n", behaviour, grove_errname(e));
        exit(1);
    }
    return pid;
}

static grove_term *s_recv(grove_waiter *w, const char *pattern, int64_t ms)
{
    grove_term *t = NULL;
    if (grove_waiter_recv_match(w, pattern, ms, &t) != GROVE_OK) {
        fprintf(stderr, "bench: no message matching %s in time\n", pattern);
        exit(1);
    }
    return t;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the figures ------------------------------------------------------------ */

static void s_pingpong(grove_node *node, grove_waiter *w, peer *p, int64_t warm, int64_t trips)
{
    s_rtt = calloc((size_t)trips, sizeof *s_rtt);
    grove_pid pong = s_spawn_on(node, p, "bench_pong", NULL);
    grove_spawn(node, &ping_behaviour,
                grove_pack("{~p, ~p, ~l, ~l}", pong, grove_waiter_pid(w), warm, trips), NULL, NULL);
    grove_term *done = s_recv(w, "{pingpong_done, _}", 600000);
    double secs = 0;
    grove_match(done, "{pingpong_done, ~f}", &secs);
    grove_term_destroy(&done);
    grove_send(node, pong, grove_pack("stop"));

    qsort(s_rtt, (size_t)trips, sizeof *s_rtt, s_cmp_double);
    bench_out("remote_pingpong", (double)trips / secs, "trips/s");
    bench_out("remote_rtt_p50", s_rtt[trips / 2], "us");
    bench_out("remote_rtt_p99", s_rtt[(int64_t)((double)trips * 0.99)], "us");
    free(s_rtt);
    s_rtt = NULL;
}

static void s_dist_stats(grove_node *node, grove_dist_stats *st)
{
    if (grove_node_dist_stats(node, st) != GROVE_OK)
        bench_fail("no distribution statistics");
}

static void s_throughput(grove_node *node, grove_waiter *w, peer *p, int64_t n, int64_t window)
{
    int64_t ack_every = window / 4 > 0 ? window / 4 : 1;
    grove_pid sender;
    grove_spawn(node, &sender_behaviour, grove_pack("{~l, ~l}", n, window), NULL, &sender);
    grove_pid counter =
        s_spawn_on(node, p, "bench_counter",
                   grove_pack("{~l, ~p, ~p, ~l}", n, grove_waiter_pid(w), sender, ack_every));

    grove_dist_stats s0, s1;
    s_dist_stats(node, &s0);
    double t0 = bench_now();
    grove_send(node, sender, grove_pack("{go, ~p}", counter));
    double deadline = t0 + 600.0;
    for (;;) {
        grove_term *m = NULL;
        grove_err e = grove_waiter_recv(w, 100, &m);
        if (e == GROVE_OK && grove_match(m, "counted")) {
            grove_term_destroy(&m);
            break;
        }
        if (e == GROVE_OK) {
            char *text = grove_term_format(m);
            fprintf(stderr, "bench: unexpected message %s\n", text ? text : "?");
            free(text);
            exit(1);
        }
        s_dist_stats(node, &s1);
        if (s1.messages_dropped != s0.messages_dropped) {
            fprintf(stderr,
                    "bench: %llu remote messages dropped (peer's outbound buffer full): "
                    "no figure\n",
                    (unsigned long long)(s1.messages_dropped - s0.messages_dropped));
            exit(1);
        }
        if (bench_now() > deadline)
            bench_fail("the counter did not get every message in time");
    }
    double t1 = bench_now();
    s_dist_stats(node, &s1);
    if (s1.messages_dropped != s0.messages_dropped)
        bench_fail("remote messages were dropped: no figure");
    uint64_t batches = s1.batches_sent - s0.batches_sent;
    uint64_t envelopes = s1.envelopes_sent - s0.envelopes_sent;
    if (batches == 0 || envelopes < (uint64_t)n)
        bench_fail("the transport's counters do not add up");

    bench_out("remote_throughput", (double)n / (t1 - t0), "msgs/s");
    bench_out("remote_batch_mean", (double)envelopes / (double)batches, "envelopes/batch");
}

/* One peer: monitor a process on it, signal it, time the DOWN. */
static double s_nodedown_once(grove_node *node, grove_waiter *w, int sig, int rep)
{
    char name[64];
    snprintf(name, sizeof name, "bench_%s%d@127.0.0.1", sig == SIGKILL ? "kill" : "stop", rep);
    peer p;
    s_peer_start(node, name, &p);
    grove_pid target = s_spawn_on(node, &p, "bench_pong", NULL);
    grove_ref ref;
    if (grove_waiter_monitor(w, target, &ref) != GROVE_OK)
        bench_fail("cannot monitor the peer's process");
    /* A reply to a message sent after the monitor: the monitor is in place
     * on the peer (one session carries both in order). */
    grove_send(node, target, grove_pack("{ping, ~p}", grove_waiter_pid(w)));
    grove_term *m = s_recv(w, "pong", CALL_MS);
    grove_term_destroy(&m);

    double t0 = bench_now();
    if (kill(p.pid, sig) != 0)
        bench_fail("cannot signal the peer");
    m = s_recv(w, "{'DOWN', _, process, _, _}", DOWN_WAIT_MS);
    double t1 = bench_now();
    grove_ref got;
    grove_term *reason = NULL;
    if (!grove_match(m, "{'DOWN', ~r, process, _, ~t}", &got, &reason) ||
        !grove_ref_equal(&got, &ref) || !grove_match(reason, "noconnection")) {
        char *text = grove_term_format(m);
        fprintf(stderr, "bench: expected DOWN noconnection, got %s\n", text ? text : "?");
        exit(1);
    }
    grove_term_destroy(&reason);
    grove_term_destroy(&m);
    s_peer_end(&p, true);
    return (t1 - t0) * 1e3;
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void s_nodedown(grove_node *node, grove_waiter *w, int reps)
{
    double kill_ms[MAX_REPS], stop_ms[MAX_REPS];
    for (int i = 0; i < reps; i++) {
        kill_ms[i] = s_nodedown_once(node, w, SIGKILL, i + 1);
        stop_ms[i] = s_nodedown_once(node, w, SIGSTOP, i + 1);
        fprintf(stderr, "nodedown %d: kill %.1f ms, silent %.1f ms\n", i + 1, kill_ms[i],
                stop_ms[i]);
    }
    bench_out("nodedown_kill_ms", s_median(kill_ms, reps), "ms");
    bench_out("nodedown_silent_ms", s_median(stop_ms, reps), "ms");
}

/* ---- main -------------------------------------------------------------------- */

static long s_arg(int argc, char **argv, const char *flag, long dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return atol(argv[i + 1]);
    return dflt;
}

static void s_make_cookie(void)
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        bench_fail("getrandom failed");
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s_cookie + 2 * i, 3, "%02x", raw[i]);
    memset(raw, 0, sizeof raw);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--peer") == 0)
        return s_peer_main(argv[2], argv[3]);

    bool smoke = bench_has_flag(argc, argv, "--smoke");
    int64_t trips = s_arg(argc, argv, "--trips", smoke ? 1000 : 100000);
    int64_t warm = smoke ? 100 : 1000;
    int64_t n = bench_arg_n(argc, argv, smoke ? 1000 : 1000000);
    int64_t window = s_arg(argc, argv, "--window", smoke ? 256 : 16384);
    int reps = (int)s_arg(argc, argv, "--reps", smoke ? 1 : 3);
    bool all = !bench_has_flag(argc, argv, "pingpong") &&
               !bench_has_flag(argc, argv, "throughput") && !bench_has_flag(argc, argv, "nodedown");
    if (trips <= 0 || n <= 0 || window <= 0 || reps <= 0 || reps > MAX_REPS) {
        fprintf(stderr,
                "usage: remote [pingpong] [throughput] [nodedown] [--smoke] "
                "[--trips N] [-n N] [--window W] [--reps 1..%d]\n",
                MAX_REPS);
        return 2;
    }
    ssize_t len = readlink("/proc/self/exe", s_exe, sizeof s_exe - 1);
    if (len <= 0)
        bench_fail("cannot find the program's own path");
    s_exe[len] = '\0';
    signal(SIGPIPE, SIG_IGN); /* a peer that died early: a failed write, not death */
    s_make_cookie();
    s_register();

    grove_node *node = s_node_start("bench_a@127.0.0.1", NULL, s_cookie);
    if (!node)
        bench_fail("cannot start the measuring node");
    grove_waiter *w;
    if (grove_waiter_new(node, &w) != GROVE_OK)
        bench_fail("cannot make a waiter");

    if (all || bench_has_flag(argc, argv, "pingpong") || bench_has_flag(argc, argv, "throughput")) {
        peer p;
        s_peer_start(node, "bench_b@127.0.0.1", &p);
        if (all || bench_has_flag(argc, argv, "pingpong"))
            s_pingpong(node, w, &p, warm, trips);
        if (all || bench_has_flag(argc, argv, "throughput"))
            s_throughput(node, w, &p, n, window);
        s_peer_end(&p, false);
    }
    if (all || bench_has_flag(argc, argv, "nodedown"))
        s_nodedown(node, w, reps);

    grove_waiter_destroy(&w);
    grove_node_stop(&node);
    return 0;
}
