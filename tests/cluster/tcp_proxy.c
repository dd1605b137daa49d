/*
 * tcp_proxy.c - the cluster tests' TCP proxy and stream scanner
 * (tcp_proxy.h). The proxy's thread owns the connections; statistics are
 * shared under the proxy's mutex.
 */
#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- scanner ------------------------------------------------------------------- */

bool sc_add(sc_markers *m, const void *data, size_t len)
{
    if (m->n >= SC_MARKERS || len == 0 || len > SC_MARKER_MAX)
        return false;
    memcpy(m->data[m->n], data, len);
    m->len[m->n++] = len;
    if (len > m->max_len)
        m->max_len = len;
    return true;
}

/* Occurrences of needle in hay that start at from..before-1. */
static uint64_t s_count(const uint8_t *hay, size_t n, const uint8_t *needle, size_t len,
                        size_t from, size_t before)
{
    uint64_t hits = 0;
    for (size_t i = from; i + len <= n && i < before; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, len) == 0)
            hits++;
    return hits;
}

/* An occurrence that starts in the carried tail and ends in the chunk is
 * found in a window of the tail and the chunk's head (one that ends in the
 * tail was counted before); one that starts in the chunk, in the chunk. */
void sc_feed(sc_stream *s, const sc_markers *m, const uint8_t *buf, size_t n, uint64_t *hits)
{
    if (m->n == 0 || n == 0)
        return;
    uint8_t window[2 * SC_MARKER_MAX];
    size_t head = n < m->max_len - 1 ? n : m->max_len - 1;
    memcpy(window, s->carry, s->n_carry);
    memcpy(window + s->n_carry, buf, head);
    for (size_t k = 0; k < m->n; k++) {
        size_t len = m->len[k];
        size_t from = s->n_carry >= len ? s->n_carry - len + 1 : 0;
        hits[k] += s_count(window, s->n_carry + head, m->data[k], len, from, s->n_carry);
        hits[k] += s_count(buf, n, m->data[k], len, 0, n);
    }
    /* Keep the last max_len - 1 bytes of carry + chunk. */
    size_t keep = m->max_len - 1;
    if (n >= keep) {
        memcpy(s->carry, buf + n - keep, keep);
        s->n_carry = keep;
    } else {
        size_t total = s->n_carry + n;
        size_t drop = total > keep ? total - keep : 0;
        memmove(s->carry, s->carry + drop, s->n_carry - drop);
        memcpy(s->carry + s->n_carry - drop, buf, n);
        s->n_carry = total - drop;
    }
}

/* ---- proxy --------------------------------------------------------------------- */

void px_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static uint16_t s_local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        return 0;
    return ntohs(a.sin_port);
}

static struct sockaddr_in s_loopback(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int px_listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = s_loopback(0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        (*port = s_local_port(fd)) == 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int px_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = s_loopback(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void s_conn_close(proxy *p, size_t i)
{
    px_conn *c = p->conns[i];
    close(c->client);
    close(c->target);
    free(c);
    p->conns[i] = NULL;
}

static void s_accept(proxy *p)
{
    for (;;) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        /* Loopback: a blocking connect completes at once. */
        int up = px_connect(p->target);
        size_t slot = 0;
        while (slot < PX_CONNS && p->conns[slot])
            slot++;
        px_conn *c = up >= 0 && slot < PX_CONNS ? calloc(1, sizeof *c) : NULL;
        gv_mutex_lock(&p->mu);
        p->st.accepted++;
        if (!c)
            p->st.connect_failed++;
        else if (p->st.n_ports < PX_PORTS)
            p->st.ports[p->st.n_ports++] = s_local_port(up);
        gv_mutex_unlock(&p->mu);
        if (!c) {
            close(fd);
            if (up >= 0)
                close(up);
            continue;
        }
        px_nonblock(up);
        c->client = fd;
        c->target = up;
        c->dir[PX_UP].from = fd;
        c->dir[PX_UP].to = up;
        c->dir[PX_DOWN].from = up;
        c->dir[PX_DOWN].to = fd;
        p->conns[slot] = c;
    }
}

/* Moves what it can through one direction; false when the connection
 * must be closed (an error on either side). */
static bool s_pump(proxy *p, px_pipe *d, int which, short in_ev, short out_ev)
{
    if ((in_ev & (POLLIN | POLLHUP | POLLERR)) && !d->eof) {
        if (d->off > 0) {
            memmove(d->buf, d->buf + d->off, d->len);
            d->off = 0;
        }
        ssize_t n = recv(d->from, d->buf + d->len, PX_BUF - d->len, 0);
        if (n > 0) {
            uint64_t hits[SC_MARKERS] = {0};
            sc_feed(&d->scan, &p->markers, d->buf + d->len, (size_t)n, hits);
            d->len += (size_t)n;
            gv_mutex_lock(&p->mu);
            p->st.bytes[which] += (uint64_t)n;
            for (size_t k = 0; k < p->markers.n; k++)
                p->st.hits[which][k] += hits[k];
            gv_mutex_unlock(&p->mu);
        } else if (n == 0) {
            d->eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            return false;
        }
    }
    if ((out_ev & (POLLOUT | POLLERR)) && d->len > 0) {
        ssize_t n = send(d->to, d->buf + d->off, d->len, MSG_NOSIGNAL);
        if (n > 0) {
            d->off += (size_t)n;
            d->len -= (size_t)n;
            if (d->len == 0)
                d->off = 0;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
    }
    if (d->eof && d->len == 0 && !d->shut) {
        shutdown(d->to, SHUT_WR);
        d->shut = true;
    }
    return true;
}

static void *s_main(void *arg)
{
    proxy *p = arg;
    struct pollfd fds[2 + 2 * PX_CONNS];
    size_t idx[PX_CONNS];
    while (!atomic_load_explicit(&p->stop, memory_order_acquire)) {
        size_t n = 0;
        fds[n++] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        for (size_t i = 0; i < PX_CONNS; i++) {
            px_conn *c = p->conns[i];
            if (!c)
                continue;
            idx[i] = n;
            short ev[2] = {0, 0}; /* client, target */
            px_pipe *up = &c->dir[PX_UP], *down = &c->dir[PX_DOWN];
            if (!up->eof && up->len < PX_BUF)
                ev[0] |= POLLIN;
            if (up->len)
                ev[1] |= POLLOUT;
            if (!down->eof && down->len < PX_BUF)
                ev[1] |= POLLIN;
            if (down->len)
                ev[0] |= POLLOUT;
            fds[n++] = (struct pollfd){.fd = c->client, .events = ev[0]};
            fds[n++] = (struct pollfd){.fd = c->target, .events = ev[1]};
        }
        if (poll(fds, n, 1000) < 0)
            continue;
        if (fds[0].revents) {
            char b[16];
            while (read(p->wake[0], b, sizeof b) > 0) {
            }
        }
        for (size_t i = 0; i < PX_CONNS; i++) {
            px_conn *c = p->conns[i];
            if (!c)
                continue;
            short cl = fds[idx[i]].revents, tg = fds[idx[i] + 1].revents;
            /* Done: both directions ended, or one side hung up after its
             * own direction ended (nothing more can reach it). */
            if (!s_pump(p, &c->dir[PX_UP], PX_UP, cl, tg) ||
                !s_pump(p, &c->dir[PX_DOWN], PX_DOWN, tg, cl) ||
                (c->dir[PX_UP].shut && c->dir[PX_DOWN].shut) ||
                ((cl & (POLLHUP | POLLNVAL)) && c->dir[PX_UP].shut) ||
                ((tg & (POLLHUP | POLLNVAL)) && c->dir[PX_DOWN].shut))
                s_conn_close(p, i);
        }
        if (fds[1].revents & POLLIN)
            s_accept(p);
    }
    return NULL;
}

bool px_init(proxy *p)
{
    memset(p, 0, sizeof *p);
    int fd = px_listen_any(&p->port);
    if (fd < 0)
        return false;
    if (pipe(p->wake) != 0) {
        close(fd);
        return false;
    }
    p->lfd = fd;
    px_nonblock(p->lfd);
    px_nonblock(p->wake[0]);
    px_nonblock(p->wake[1]);
    gv_mutex_init(&p->mu);
    atomic_init(&p->stop, false);
    return true;
}

bool px_start(proxy *p, uint16_t target)
{
    p->target = target;
    p->running = gv_thread_start(&p->thread, "test-proxy", s_main, p);
    return p->running;
}

void px_stop(proxy *p)
{
    if (p->running) {
        atomic_store_explicit(&p->stop, true, memory_order_release);
        ssize_t w = write(p->wake[1], "x", 1);
        (void)w;
        gv_thread_join(&p->thread);
        p->running = false;
    }
    for (size_t i = 0; i < PX_CONNS; i++)
        if (p->conns[i])
            s_conn_close(p, i);
    if (p->lfd > 0) {
        close(p->lfd);
        close(p->wake[0]);
        close(p->wake[1]);
        gv_mutex_fini(&p->mu);
        p->lfd = 0;
    }
}

px_stats px_snap(proxy *p)
{
    gv_mutex_lock(&p->mu);
    px_stats st = p->st;
    gv_mutex_unlock(&p->mu);
    return st;
}

bool px_has_port(const px_stats *st, uint16_t port)
{
    for (size_t i = 0; i < st->n_ports; i++)
        if (st->ports[i] == port)
            return true;
    return false;
}
