#include "transport/tp_zap.h"

#include "base/gv_log.h"

#include <zmq.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* A request has 6 frames plus the mechanism's credentials (one for CURVE). */
#define ZAP_MAX_FRAMES 12

typedef struct zap_req {
    zmq_msg_t f[ZAP_MAX_FRAMES];
    int n;
    bool overflow;
} zap_req;

static bool s_frame_is(zmq_msg_t *m, const char *text)
{
    size_t len = strlen(text);
    return zmq_msg_size(m) == len && memcmp(zmq_msg_data(m), text, len) == 0;
}

static void s_send(void *sock, const void *data, size_t len, bool more)
{
    /* A REP reply to inproc never blocks for long; a failure here means
     * the context is going away, when nothing needs the answer. */
    (void)zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0);
}

static void s_reply(gv_tp_zap *z, zap_req *r, const char *status, const char *text,
                    const char *user)
{
    s_send(z->sock, "1.0", 3, true);
    if (r->n > 1)
        s_send(z->sock, zmq_msg_data(&r->f[1]), zmq_msg_size(&r->f[1]), true);
    else
        s_send(z->sock, "", 0, true);
    s_send(z->sock, status, strlen(status), true);
    s_send(z->sock, text, strlen(text), true);
    s_send(z->sock, user, strlen(user), true);
    s_send(z->sock, "", 0, false);
}

/* Reads one whole request; false when none is waiting. */
static bool s_recv(gv_tp_zap *z, zap_req *r)
{
    r->n = 0;
    r->overflow = false;
    for (;;) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, z->sock, r->n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&tmp);
            return r->n > 0; /* EAGAIN before the first frame: nothing waiting */
        }
        bool more = zmq_msg_more(&tmp);
        if (r->n < ZAP_MAX_FRAMES) {
            zmq_msg_init(&r->f[r->n]);
            zmq_msg_move(&r->f[r->n], &tmp);
            r->n++;
        } else {
            r->overflow = true;
        }
        zmq_msg_close(&tmp);
        if (!more)
            return true;
    }
}

static void s_decide(gv_tp_zap *z, zap_req *r)
{
    if (r->overflow || r->n < 6 || !s_frame_is(&r->f[0], "1.0")) {
        atomic_fetch_add_explicit(&z->refused, 1, memory_order_relaxed);
        s_reply(z, r, "500", "malformed ZAP request", "");
        gv_log(GV_LOG_WARN, "transport", "zap_malformed", "frames=%d", r->n);
        return;
    }
    char addr[64] = "";
    size_t alen = zmq_msg_size(&r->f[3]);
    if (alen >= sizeof addr)
        alen = sizeof addr - 1;
    memcpy(addr, zmq_msg_data(&r->f[3]), alen);
    for (size_t i = 0; i < alen; i++)
        if (addr[i] < 0x21 || addr[i] > 0x7e)
            addr[i] = '?';
    if (!s_frame_is(&r->f[2], GV_TP_ZAP_DOMAIN)) {
        atomic_fetch_add_explicit(&z->refused, 1, memory_order_relaxed);
        s_reply(z, r, "400", "unknown domain", "");
        gv_log(GV_LOG_WARN, "transport", "zap_refused", "peer=%s reason=domain", addr);
        return;
    }
    if (!s_frame_is(&r->f[5], "CURVE") || r->n != 7 || zmq_msg_size(&r->f[6]) != GV_TP_KEY_BYTES) {
        atomic_fetch_add_explicit(&z->refused, 1, memory_order_relaxed);
        s_reply(z, r, "400", "CURVE required", "");
        gv_log(GV_LOG_WARN, "transport", "zap_refused", "peer=%s reason=mechanism", addr);
        return;
    }
    const uint8_t *key = zmq_msg_data(&r->f[6]);
    if (z->keys->node_keys) {
        const char *name = gv_tp_allowlist_name_of(z->keys->allow, key);
        if (name) {
            atomic_fetch_add_explicit(&z->admitted, 1, memory_order_relaxed);
            s_reply(z, r, "200", "OK", name);
            return;
        }
    } else if (memcmp(key, z->keys->public_key, GV_TP_KEY_BYTES) == 0) {
        atomic_fetch_add_explicit(&z->admitted, 1, memory_order_relaxed);
        s_reply(z, r, "200", "OK", GV_TP_ZAP_CLUSTER_USER);
        return;
    }
    char z85[GV_TP_Z85_LEN + 1] = "?";
    zmq_z85_encode(z85, key, GV_TP_KEY_BYTES);
    atomic_fetch_add_explicit(&z->refused, 1, memory_order_relaxed);
    s_reply(z, r, "400", "key not allowed", "");
    gv_log(GV_LOG_WARN, "transport", "zap_refused", "peer=%s reason=key key=%s", addr, z85);
}

grove_err gv_tp_zap_start(gv_tp_zap *z, void *zctx, const gv_tp_keys *keys)
{
    memset(z, 0, sizeof *z);
    z->keys = keys;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    if (!z->sock) {
        gv_log(GV_LOG_ERROR, "transport", "zap_socket", "error=\"%s\"", zmq_strerror(errno));
        return GROVE_EIO;
    }
    int zero = 0;
    zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(z->sock, GV_TP_ZAP_ENDPOINT) != 0) {
        gv_log(GV_LOG_ERROR, "transport", "zap_bind", "error=\"%s\"", zmq_strerror(errno));
        zmq_close(z->sock);
        z->sock = NULL;
        return GROVE_EIO;
    }
    return GROVE_OK;
}

void gv_tp_zap_handle(gv_tp_zap *z)
{
    zap_req r;
    while (z->sock && s_recv(z, &r)) {
        s_decide(z, &r);
        for (int i = 0; i < r.n; i++)
            zmq_msg_close(&r.f[i]);
    }
}

void gv_tp_zap_stop(gv_tp_zap *z)
{
    if (z->sock) {
        zmq_close(z->sock);
        z->sock = NULL;
    }
}

static grove_err s_opt(void *s, int opt, const char *name, const void *v, size_t len)
{
    if (zmq_setsockopt(s, opt, v, len) == 0)
        return GROVE_OK;
    gv_log(GV_LOG_ERROR, "transport", "sockopt_refused", "option=%s error=\"%s\"", name,
           zmq_strerror(errno));
    return GROVE_EIO;
}

grove_err gv_tp_zap_secure_router(void *router, const gv_tp_keys *keys)
{
    int one = 1;
    grove_err rc =
        s_opt(router, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", GV_TP_ZAP_DOMAIN, strlen(GV_TP_ZAP_DOMAIN));
    if (!rc)
        rc =
            s_opt(router, GV_TP_ZMQ_ZAP_ENFORCE_DOMAIN, "ZMQ_ZAP_ENFORCE_DOMAIN", &one, sizeof one);
    if (!rc)
        rc = s_opt(router, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", &one, sizeof one);
    if (!rc)
        rc = s_opt(router, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", keys->secret_z85,
                   GV_TP_Z85_LEN);
    return rc;
}
