/* Adopted unchanged from ../shared/yardstick/zmq_anchors.c (DESIGN.md
 * section 10): ZeroMQ's own throughput and latency, plain and CURVE, the
 * transport's ceiling (remote figures, a later issue). Kept as it came, so
 * it is not reformatted. */
// clang-format off
/* Raw ZeroMQ transport anchors over tcp://127.0.0.1 (two processes, fork).
 *
 *   zmq_anchors thr <push|dealer> <plain|curve> <count> <size>
 *       one-way throughput; PUSH->PULL or DEALER->ROUTER.  The receiver
 *       (parent) binds, the sender (child) connects; the clock runs from
 *       the first message received to the last (like libzmq's local_thr),
 *       so the CURVE handshake is not timed.
 *   zmq_anchors lat <plain|curve> <count> <size>
 *       REQ->REP round trips; each trip timed with CLOCK_MONOTONIC;
 *       reports the median, p99 and mean, after 1000 untimed warm-up trips.
 *
 * Prints "zmq <bench> <metric> <value> <unit>" lines.
 */
#include <zmq.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(x) do { if ((x) < 0) { fprintf(stderr, "%s:%d %s: %s\n", \
    __FILE__, __LINE__, #x, zmq_strerror(zmq_errno())); exit(1); } } while (0)

static char server_pub[41], server_sec[41], client_pub[41], client_sec[41];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void secure_server(void *s) {
    int one = 1;
    CHECK(zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one));
    CHECK(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, server_sec, 40));
}

static void secure_client(void *s) {
    CHECK(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, 40));
    CHECK(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, client_pub, 40));
    CHECK(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, client_sec, 40));
}

/* The binding side publishes its ephemeral endpoint through a pipe. */
static void *bind_any(void *ctx, int type, int curve, int wfd) {
    void *s = zmq_socket(ctx, type);
    if (curve) secure_server(s);
    CHECK(zmq_bind(s, "tcp://127.0.0.1:*"));
    char ep[256]; size_t len = sizeof ep;
    CHECK(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len));
    if (write(wfd, ep, sizeof ep) != (ssize_t)sizeof ep) { perror("write"); exit(1); }
    close(wfd);
    return s;
}

static void *connect_from_pipe(void *ctx, int type, int curve, int rfd) {
    char ep[256];
    if (read(rfd, ep, sizeof ep) != (ssize_t)sizeof ep) { perror("read"); exit(1); }
    close(rfd);
    void *s = zmq_socket(ctx, type);
    if (curve) secure_client(s);
    CHECK(zmq_connect(s, ep));
    return s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_thr(int dealer, int curve, long count, size_t size) {
    int fds[2];
    if (pipe(fds)) { perror("pipe"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {                         /* sender */
        close(fds[1]);
        void *ctx = zmq_ctx_new();
        void *s = connect_from_pipe(ctx, dealer ? ZMQ_DEALER : ZMQ_PUSH, curve, fds[0]);
        char *buf = calloc(1, size);
        for (long i = 0; i < count; i++) CHECK(zmq_send(s, buf, size, 0));
        zmq_close(s);                       /* linger: flush everything */
        zmq_ctx_term(ctx);
        _exit(0);
    }
    close(fds[0]);
    void *ctx = zmq_ctx_new();
    void *s = bind_any(ctx, dealer ? ZMQ_ROUTER : ZMQ_PULL, curve, fds[1]);
    zmq_msg_t m;
    zmq_msg_init(&m);
    double t0 = 0;
    for (long i = 0; i < count; i++) {
        if (dealer) CHECK(zmq_msg_recv(&m, s, 0));   /* routing id frame */
        CHECK(zmq_msg_recv(&m, s, 0));
        if (zmq_msg_size(&m) != size) { fprintf(stderr, "bad size\n"); return 1; }
        if (i == 0) t0 = now_s();
    }
    double t1 = now_s();
    zmq_msg_close(&m);
    zmq_close(s);
    zmq_ctx_term(ctx);
    int st; waitpid(pid, &st, 0);
    const char *name = dealer ? (curve ? "thr_dealer_router_curve" : "thr_dealer_router_plain")
                              : (curve ? "thr_push_pull_curve" : "thr_push_pull_plain");
    double rate = (count - 1) / (t1 - t0);
    printf("zmq %s msgs_per_s %.0f msgs_per_s\n", name, rate);
    printf("zmq %s megabits_per_s %.1f Mb_per_s\n", name, rate * size * 8 / 1e6);
    return 0;
}

static int run_lat(int curve, long count, size_t size) {
    int fds[2];
    const long warm = 1000;
    if (pipe(fds)) { perror("pipe"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {                         /* REP echo server */
        close(fds[0]);
        void *ctx = zmq_ctx_new();
        void *s = bind_any(ctx, ZMQ_REP, curve, fds[1]);
        zmq_msg_t m;
        zmq_msg_init(&m);
        for (long i = 0; i < count + warm; i++) {
            CHECK(zmq_msg_recv(&m, s, 0));
            CHECK(zmq_msg_send(&m, s, 0));
        }
        zmq_msg_close(&m);
        zmq_close(s);
        zmq_ctx_term(ctx);
        _exit(0);
    }
    close(fds[1]);
    void *ctx = zmq_ctx_new();
    void *s = connect_from_pipe(ctx, ZMQ_REQ, curve, fds[0]);
    char *buf = calloc(1, size);
    double *rtt = malloc(sizeof(double) * count);
    for (long i = 0; i < warm; i++) {
        CHECK(zmq_send(s, buf, size, 0));
        CHECK(zmq_recv(s, buf, size, 0));
    }
    double start = now_s();
    for (long i = 0; i < count; i++) {
        double a = now_s();
        CHECK(zmq_send(s, buf, size, 0));
        CHECK(zmq_recv(s, buf, size, 0));
        rtt[i] = (now_s() - a) * 1e6;
    }
    double total = now_s() - start;
    zmq_close(s);
    zmq_ctx_term(ctx);
    int st; waitpid(pid, &st, 0);
    qsort(rtt, count, sizeof(double), cmp_double);
    const char *name = curve ? "rtt_req_rep_curve" : "rtt_req_rep_plain";
    printf("zmq %s median_rtt %.2f us\n", name, rtt[count / 2]);
    printf("zmq %s p99_rtt %.2f us\n", name, rtt[(long)(count * 0.99)]);
    printf("zmq %s round_trips_per_s %.0f rt_per_s\n", name, count / total);
    return 0;
}

int main(int argc, char **argv) {
    if (zmq_curve_keypair(server_pub, server_sec) || zmq_curve_keypair(client_pub, client_sec)) {
        fprintf(stderr, "zmq_curve_keypair failed (libzmq built without CURVE?)\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 6 && !strcmp(argv[1], "thr"))
        return run_thr(!strcmp(argv[2], "dealer"), !strcmp(argv[3], "curve"),
                       atol(argv[4]), (size_t)atol(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "lat"))
        return run_lat(!strcmp(argv[2], "curve"), atol(argv[3]), (size_t)atol(argv[4]));
    fprintf(stderr, "usage: %s thr <push|dealer> <plain|curve> <count> <size>\n"
                    "       %s lat <plain|curve> <count> <size>\n", argv[0], argv[0]);
    return 2;
}
// clang-format on
