/*
 * proxy_test.c - every byte between two nodes passes through TCP proxies
 * this test runs, and none of it is plaintext.
 *
 * Node A listens on a port only this test knows and advertises proxy PA's
 * address; node B likewise behind PB, seeded with PA. Every connection
 * between the nodes (probes, both lanes of both links) therefore goes
 * through a proxy (tcp_proxy.h), which counts the bytes it forwards each
 * way and scans them for markers: the payloads of the messages, the node
 * names, the cluster secret and its public key. The scanner is checked on
 * plaintext through a proxy between plain sockets, and in the nodes'
 * streams it must find the one word ZMTP sends in the clear (the
 * mechanism's name, "CURVE"), so a scanner that finds nothing cannot pass.
 *
 * The proxy threads record; this thread asserts.
 */
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include "base/gv_clock.h"
#include "base/gv_rand.h"
#include "inproc.h"
#include "tcp_proxy.h"
#include "transport/tp_crypto.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 10000
#define MSGS 1000

static proxy s_px[3];
static grove_node *s_node[2];
static grove_waiter *s_w[2];

static int s_stop_all(void **state)
{
    (void)state;
    inproc_stop(s_node, s_w, 2);
    for (int i = 0; i < 3; i++)
        px_stop(&s_px[i]);
    return 0;
}

static void test_scanner_finds_markers_split_anywhere(void **state)
{
    (void)state;
    sc_markers m = {0};
    static const char long_m[] = "GROVE-PLAINTEXT-MARKER-0123456789abcdef";
    assert_true(sc_add(&m, long_m, strlen(long_m)));
    assert_true(sc_add(&m, "q!", 2));
    uint8_t stream[200];
    memset(stream, '.', sizeof stream);
    memcpy(stream + 3, long_m, strlen(long_m));
    memcpy(stream + 60, long_m, strlen(long_m));
    memcpy(stream + 100, long_m, strlen(long_m) - 1); /* a near miss */
    memcpy(stream + 150, "q!q!", 4);
    memcpy(stream + 198, "q!", 2);
    /* Two chunks, split at every position; then chunks of every size. */
    for (size_t cut = 0; cut <= sizeof stream; cut++) {
        sc_stream s = {0};
        uint64_t hits[SC_MARKERS] = {0};
        sc_feed(&s, &m, stream, cut, hits);
        sc_feed(&s, &m, stream + cut, sizeof stream - cut, hits);
        assert_int_equal(hits[0], 2);
        assert_int_equal(hits[1], 3);
    }
    for (size_t step = 1; step <= sizeof stream; step++) {
        sc_stream s = {0};
        uint64_t hits[SC_MARKERS] = {0};
        for (size_t off = 0; off < sizeof stream; off += step) {
            size_t n = sizeof stream - off < step ? sizeof stream - off : step;
            sc_feed(&s, &m, stream + off, n, hits);
        }
        assert_int_equal(hits[0], 2);
        assert_int_equal(hits[1], 3);
    }
}

static void s_send_all(int fd, const void *data, size_t n)
{
    const uint8_t *b = data;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

static void s_recv_exact(int fd, void *data, size_t n)
{
    uint8_t *b = data;
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_true(gv_now_ms() < deadline);
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t r = recv(fd, b, n, 0);
        assert_true(r > 0);
        b += r;
        n -= (size_t)r;
    }
}

static uint8_t s_pattern(size_t i, int dir)
{
    return (uint8_t)((i * 131u + (i >> 12)) ^ (unsigned)dir);
}

/* Sends `total` bytes each way between a and b at once, checking every
 * byte that arrives. */
static void s_bulk(int a, int b, size_t total)
{
    int fd[2] = {a, b};
    size_t sent[2] = {0, 0}, got[2] = {0, 0}; /* [d]: from fd[d] to fd[1 - d] */
    uint8_t buf[16384];
    px_nonblock(a);
    px_nonblock(b);
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (got[0] < total || got[1] < total) {
        assert_true(gv_now_ms() < deadline);
        struct pollfd pfd[2];
        for (int d = 0; d < 2; d++)
            pfd[d] = (struct pollfd){.fd = fd[d],
                                     .events = (short)(POLLIN | (sent[d] < total ? POLLOUT : 0))};
        if (poll(pfd, 2, 100) <= 0)
            continue;
        for (int d = 0; d < 2; d++) {
            if ((pfd[d].revents & POLLOUT) && sent[d] < total) {
                size_t n = total - sent[d] < sizeof buf ? total - sent[d] : sizeof buf;
                for (size_t i = 0; i < n; i++)
                    buf[i] = s_pattern(sent[d] + i, d);
                ssize_t w = send(fd[d], buf, n, MSG_NOSIGNAL);
                assert_true(w > 0 || errno == EAGAIN);
                if (w > 0)
                    sent[d] += (size_t)w;
            }
            if (pfd[d].revents & POLLIN) {
                /* fd[d] receives what fd[1 - d] sent */
                ssize_t r = recv(fd[d], buf, sizeof buf, 0);
                assert_true(r > 0 || errno == EAGAIN);
                for (ssize_t i = 0; i < r; i++)
                    assert_int_equal(buf[i], s_pattern(got[1 - d] + (size_t)i, 1 - d));
                if (r > 0)
                    got[1 - d] += (size_t)r;
            }
        }
    }
}

/* Plaintext through a proxy between two plain sockets: the proxy forwards
 * it intact, counts it, and its scanner sees the marker each time, even
 * when the marker is written in pieces. */
static void test_proxy_forwards_and_sees_plaintext(void **state)
{
    (void)state;
    static const char marker[] = "GROVE-PLAINTEXT-MARKER-selfcheck";
    size_t mlen = strlen(marker);
    uint16_t tport;
    int lfd = px_listen_any(&tport);
    assert_true(lfd >= 0);
    proxy *p = &s_px[2];
    assert_true(px_init(p));
    assert_true(sc_add(&p->markers, marker, mlen));
    assert_true(px_start(p, tport));
    int cl = px_connect(p->port);
    assert_true(cl >= 0);
    int srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(srv >= 0);
    close(lfd);

    uint8_t got[256];
    size_t sent_up = 0, sent_down = 0;
    for (int dir = 0; dir < 2; dir++) {
        int from = dir == 0 ? cl : srv, to = dir == 0 ? srv : cl;
        /* whole, then in two pieces with a pause between (separate reads) */
        char line[128];
        int n = snprintf(line, sizeof line, "head %s tail ", marker);
        s_send_all(from, line, (size_t)n);
        s_recv_exact(to, got, (size_t)n);
        assert_memory_equal(got, line, (size_t)n);
        s_send_all(from, marker, 10);
        s_recv_exact(to, got, 10);
        s_send_all(from, marker + 10, mlen - 10);
        s_recv_exact(to, got + 10, mlen - 10);
        assert_memory_equal(got, marker, mlen);
        *(dir == 0 ? &sent_up : &sent_down) += (size_t)n + mlen;
    }
    s_bulk(cl, srv, 4u << 20);
    sent_up += 4u << 20;
    sent_down += 4u << 20;
    close(cl);
    close(srv);
    px_stop(p);
    px_stats st = p->st;
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.connect_failed, 0);
    assert_int_equal(st.bytes[PX_UP], sent_up);
    assert_int_equal(st.bytes[PX_DOWN], sent_down);
    assert_int_equal(st.hits[PX_UP][0], 2);
    assert_int_equal(st.hits[PX_DOWN][0], 2);
}

/* ---- two nodes behind proxies ---- */

/* sender: arg {To, N, Bin, Atom, Str}: sends {marker, I, Bin, Atom, Str}
 * for I in 0..N-1 to To. */
static grove_err sender_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)state;
    grove_pid to;
    int n;
    const void *bin;
    size_t bin_len, str_len;
    char atom[256];
    const char *str;
    if (!grove_match(arg, "{~p, ~i, ~b, ~a, ~s}", &to, &n, &bin, &bin_len, atom, sizeof atom, &str,
                     &str_len))
        return GROVE_EINVAL;
    for (int i = 0; i < n; i++)
        grove_proc_send(
            self, to, grove_pack("{marker, ~i, ~b, ~a, ~s}", i, bin, bin_len, atom, str, str_len));
    return GROVE_OK;
}

static grove_ret sender_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)self, (void)msg, (void)state;
    return GROVE_CONTINUE;
}

static const grove_behaviour s_sender = {
    .name = "sender", .init = sender_init, .handle = sender_handle};

/* Starts a node on a port of 127.0.0.1 only this test knows (drawn at
 * random, again if taken), advertising `advertise`. */
static grove_node *s_start_node(const char *name, const char *secret, const char *advertise,
                                const char *seeds, uint16_t *port)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        *port = (uint16_t)(20000 + gv_random_seed() % 12000);
        char listen[32];
        snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)*port);
        grove_node_opts o = {.name = name,
                             .schedulers = 2,
                             .listen = listen,
                             .advertise = advertise,
                             .seeds = seeds,
                             .cookie = secret,
                             .heartbeat_ms = 50,
                             .nodedown_ms = 2000};
        grove_node *n = grove_node_start(&o);
        if (n)
            return n;
    }
    fail_msg("no free port for %s", name);
    return NULL;
}

/* The established connections (IPv4, this network namespace) whose
 * server end is 127.0.0.1:port: how many, and how many of them come from
 * a port the proxy connected from. */
static void s_conns_to(uint16_t port, const px_stats *st, int *total, int *via_proxy)
{
    *total = *via_proxy = 0;
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        fail_msg("cannot read /proc/net/tcp: %s", strerror(errno));
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned laddr, lport, raddr, rport, state;
        if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X", &laddr, &lport, &raddr, &rport, &state) != 5)
            continue;
        if (state != 1 || lport != port)
            continue;
        (*total)++;
        if (px_has_port(st, (uint16_t)rport))
            (*via_proxy)++;
    }
    fclose(f);
}

static void s_receive_markers(grove_waiter *w, int n, const char *bin, const char *atom,
                              const char *str)
{
    for (int i = 0; i < n; i++) {
        grove_term *m = NULL;
        assert_int_equal(grove_waiter_recv(w, WAIT_MS, &m), GROVE_OK);
        int seq = -1;
        const void *b;
        size_t blen, slen;
        char a[256];
        const char *s;
        assert_true(
            grove_match(m, "{marker, ~i, ~b, ~a, ~s}", &seq, &b, &blen, a, sizeof a, &s, &slen));
        assert_int_equal(seq, i);
        assert_int_equal(blen, strlen(bin));
        assert_memory_equal(b, bin, blen);
        assert_string_equal(a, atom);
        assert_int_equal(slen, strlen(str));
        assert_memory_equal(s, str, slen);
        grove_term_destroy(&m);
    }
}

static void test_nodes_behind_proxies_send_no_plaintext(void **state)
{
    (void)state;
    char tag[17], secret[33], name_a[64], name_b[64], bin[64], atom[64], str[64];
    snprintf(tag, sizeof tag, "%016llx", (unsigned long long)gv_random_seed());
    snprintf(secret, sizeof secret, "%016llx%016llx", (unsigned long long)gv_random_seed(),
             (unsigned long long)gv_random_seed());
    snprintf(name_a, sizeof name_a, "pxa-%s@127.0.0.1", tag);
    snprintf(name_b, sizeof name_b, "pxb-%s@127.0.0.1", tag);
    snprintf(bin, sizeof bin, "GROVE-PLAINTEXT-MARKER-%s", tag);
    snprintf(atom, sizeof atom, "grove_atom_marker_%s", tag);
    snprintf(str, sizeof str, "grove-string-marker-%s", tag);
    gv_tp_keys keys;
    assert_int_equal(gv_tp_keys_from_secret(&keys, secret, strlen(secret), false, NULL, 0),
                     GROVE_OK);
    const char *what[] = {"binary payload", "atom payload",     "string payload",
                          "node name A",    "node name B",      "secret",
                          "public key",     "public key (Z85)", "CURVE"};
    proxy *pa = &s_px[0], *pb = &s_px[1];
    assert_true(px_init(pa));
    assert_true(px_init(pb));
    for (int i = 0; i < 2; i++) {
        sc_markers *m = &s_px[i].markers;
        assert_true(sc_add(m, bin, strlen(bin)));
        assert_true(sc_add(m, atom, strlen(atom)));
        assert_true(sc_add(m, str, strlen(str)));
        assert_true(sc_add(m, name_a, strlen(name_a)));
        assert_true(sc_add(m, name_b, strlen(name_b)));
        assert_true(sc_add(m, secret, strlen(secret)));
        assert_true(sc_add(m, keys.public_key, sizeof keys.public_key));
        assert_true(sc_add(m, keys.public_z85, strlen(keys.public_z85)));
        /* The ZMTP greeting names the mechanism in the clear, once each
         * way per connection: the scanner must see it in the nodes'
         * streams, so it cannot pass by scanning nothing. */
        assert_true(sc_add(m, "CURVE", 5));
    }
    size_t n_secret = pa->markers.n - 1, curve = n_secret;
    gv_tp_keys_fini(&keys);

    char adv_a[32], adv_b[32];
    snprintf(adv_a, sizeof adv_a, "127.0.0.1:%u", (unsigned)pa->port);
    snprintf(adv_b, sizeof adv_b, "127.0.0.1:%u", (unsigned)pb->port);
    uint16_t port_a, port_b;
    s_node[0] = s_start_node(name_a, secret, adv_a, NULL, &port_a);
    assert_string_equal(grove_node_address(s_node[0]), adv_a);
    assert_true(px_start(pa, port_a));
    s_node[1] = s_start_node(name_b, secret, adv_b, adv_a, &port_b);
    assert_true(px_start(pb, port_b));
    for (int i = 0; i < 2; i++)
        assert_int_equal(grove_waiter_new(s_node[i], &s_w[i]), GROVE_OK);

    inproc_wait_mesh(s_node, 2, WAIT_MS);

    /* Process to waiter, both ways, at the same time. */
    for (int i = 0; i < 2; i++) {
        grove_pid to = grove_waiter_pid(s_w[1 - i]), pid;
        grove_term *arg =
            grove_pack("{~p, ~i, ~b, ~a, ~s}", to, MSGS, bin, strlen(bin), atom, str, strlen(str));
        assert_int_equal(grove_node_spawn(s_node[i], &s_sender, arg, NULL, &pid), GROVE_OK);
    }
    s_receive_markers(s_w[1], MSGS, bin, atom, str);
    s_receive_markers(s_w[0], MSGS, bin, atom, str);

    /* Every connection to a node's private port comes from its proxy:
     * B's probe and B's two lanes to A, A's two lanes to B. */
    px_stats sa = px_snap(pa), sb = px_snap(pb);
    int total, via;
    s_conns_to(port_a, &sa, &total, &via);
    print_message("A: %d connections to its port, %d through PA (accepted %llu)\n", total, via,
                  (unsigned long long)sa.accepted);
    assert_true(total >= 2);
    assert_int_equal(via, total);
    s_conns_to(port_b, &sb, &total, &via);
    print_message("B: %d connections to its port, %d through PB (accepted %llu)\n", total, via,
                  (unsigned long long)sb.accepted);
    assert_true(total >= 2);
    assert_int_equal(via, total);
    assert_true(sa.accepted >= 3);
    assert_true(sb.accepted >= 2);
    assert_int_equal(sa.connect_failed, 0);
    assert_int_equal(sb.connect_failed, 0);

    /* The goodbyes pass through the proxies too. */
    for (int i = 0; i < 2; i++)
        grove_waiter_destroy(&s_w[i]);
    for (int i = 0; i < 2; i++)
        grove_node_stop(&s_node[i]);
    px_stop(pa);
    px_stop(pb);
    sa = pa->st;
    sb = pb->st;
    uint64_t marker_bytes = (uint64_t)MSGS * (strlen(bin) + strlen(atom) + strlen(str));
    print_message("PA forwarded %llu bytes to A, %llu back; PB %llu to B, %llu back; "
                  "markers %llu bytes each way\n",
                  (unsigned long long)sa.bytes[PX_UP], (unsigned long long)sa.bytes[PX_DOWN],
                  (unsigned long long)sb.bytes[PX_UP], (unsigned long long)sb.bytes[PX_DOWN],
                  (unsigned long long)marker_bytes);
    /* Ciphertext is not smaller than the plaintext it carries. */
    assert_true(sa.bytes[PX_UP] > marker_bytes);
    assert_true(sb.bytes[PX_UP] > marker_bytes);
    /* CURVE handshakes answer from the servers. */
    assert_true(sa.bytes[PX_DOWN] > 0);
    assert_true(sb.bytes[PX_DOWN] > 0);
    print_message(
        "\"CURVE\" seen %llu/%llu times through PA, %llu/%llu through PB\n",
        (unsigned long long)sa.hits[PX_UP][curve], (unsigned long long)sa.hits[PX_DOWN][curve],
        (unsigned long long)sb.hits[PX_UP][curve], (unsigned long long)sb.hits[PX_DOWN][curve]);
    for (int d = 0; d < 2; d++) {
        assert_true(sa.hits[d][curve] >= 2);
        assert_true(sb.hits[d][curve] >= 2);
    }
    for (size_t k = 0; k < n_secret; k++)
        for (int d = 0; d < 2; d++)
            if (sa.hits[d][k] || sb.hits[d][k])
                fail_msg("%s seen in plaintext (%s): %llu times through PA, %llu through PB",
                         what[k], d == PX_UP ? "toward the server" : "toward the client",
                         (unsigned long long)sa.hits[d][k], (unsigned long long)sb.hits[d][k]);
}

int main(void)
{
    if (grove_behaviour_register(&s_sender) != GROVE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_finds_markers_split_anywhere),
        cmocka_unit_test_teardown(test_proxy_forwards_and_sees_plaintext, s_stop_all),
        cmocka_unit_test_teardown(test_nodes_behind_proxies_send_no_plaintext, s_stop_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
