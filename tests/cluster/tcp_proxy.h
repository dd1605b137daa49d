/*
 * tcp_proxy.h - a TCP proxy for cluster tests, and the stream scanner it
 * uses to look for byte strings in what it forwards.
 *
 * The proxy is a thread with poll(2) that accepts on 127.0.0.1:0 and
 * forwards each connection both ways to 127.0.0.1:target, with a 64 KiB
 * buffer per direction (a full buffer stops reading: backpressure). It
 * counts the bytes each way and the occurrences of each marker in them;
 * its thread records, the test's thread reads a snapshot (px_snap).
 *
 *   proxy p;
 *   px_init(&p);                        // bound; p.port is known
 *   sc_add(&p.markers, "secret", 6);     // before px_start
 *   px_start(&p, target_port);
 *   ...
 *   px_stop(&p);                         // then p.st is final
 */
#ifndef GROVE_TCP_PROXY_H
#define GROVE_TCP_PROXY_H

#include "base/gv_thread.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- scanner ------------------------------------------------------------------- */

#define SC_MARKERS 10
#define SC_MARKER_MAX 128

typedef struct sc_markers {
    size_t n;
    size_t max_len;
    size_t len[SC_MARKERS];
    uint8_t data[SC_MARKERS][SC_MARKER_MAX];
} sc_markers;

/* One stream's state: zero-initialise it. */
typedef struct sc_stream {
    uint8_t carry[SC_MARKER_MAX]; /* the last max_len - 1 bytes seen */
    size_t n_carry;
} sc_stream;

/* Adds a marker (1 to SC_MARKER_MAX bytes, copied); false when there is
 * no room or the length is out of range. */
bool sc_add(sc_markers *m, const void *data, size_t len);

/* Feeds the next chunk of a stream; adds each marker's occurrences that
 * end in this chunk to hits[k] (so an occurrence split across chunks is
 * counted once, in the chunk where it ends). */
void sc_feed(sc_stream *s, const sc_markers *m, const uint8_t *buf, size_t n, uint64_t *hits);

/* ---- proxy --------------------------------------------------------------------- */

#define PX_BUF 65536
#define PX_CONNS 64
#define PX_PORTS 1024
enum { PX_UP = 0, PX_DOWN = 1 }; /* client to target, target to client */

typedef struct px_pipe {
    int from, to;
    size_t off, len;
    bool eof, shut;
    sc_stream scan;
    uint8_t buf[PX_BUF];
} px_pipe;

typedef struct px_conn {
    int client, target;
    px_pipe dir[2];
} px_conn;

typedef struct px_stats {
    uint64_t accepted;       /* connections accepted */
    uint64_t connect_failed; /* of which the target refused (or no room) */
    uint64_t bytes[2];       /* forwarded, per direction */
    uint64_t hits[2][SC_MARKERS];
    size_t n_ports;
    uint16_t ports[PX_PORTS]; /* local ports of its connections to the target */
} px_stats;

typedef struct proxy {
    int lfd; /* 0: not initialised */
    uint16_t port;
    uint16_t target;
    int wake[2];
    bool running;
    gv_thread thread;
    atomic_bool stop;
    sc_markers markers; /* fixed before px_start */
    px_conn *conns[PX_CONNS];
    gv_mutex mu;
    px_stats st; /* under mu while running */
} proxy;

/* Binds the proxy to 127.0.0.1:0 (p->port); not forwarding yet. False if
 * the OS refused. */
bool px_init(proxy *p);

/* Starts forwarding to 127.0.0.1:target. False if no thread started. */
bool px_start(proxy *p, uint16_t target);

/* Stops the thread and closes every socket; p->st stays readable. Safe
 * on a proxy never initialised (zeroed) and twice. */
void px_stop(proxy *p);

/* A snapshot of the statistics. Any thread. */
px_stats px_snap(proxy *p);

/* True when `port` is one the proxy connected to its target from. */
bool px_has_port(const px_stats *st, uint16_t port);

/* ---- socket helpers (127.0.0.1) ---------------------------------------------------- */

/* A listening socket on 127.0.0.1:0, its port in *port; -1 on failure. */
int px_listen_any(uint16_t *port);

/* A blocking connection to 127.0.0.1:port with TCP_NODELAY; -1 on failure. */
int px_connect(uint16_t port);

void px_nonblock(int fd);

#endif
