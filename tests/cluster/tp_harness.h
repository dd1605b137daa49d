/*
 * tp_harness.h - transports in one process for the session tests: each
 * test node records what its callbacks saw (on the I/O thread, under a
 * mutex) and the test thread waits for and asserts on the records.
 */
#ifndef GROVE_TP_HARNESS_H
#define GROVE_TP_HARNESS_H

#include "base/gv_clock.h"
#include "base/gv_rand.h"
#include "base/gv_thread.h"
#include "transport/tp_codec.h"
#include "transport/transport.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TN_MAX_EVENTS 64
#define TN_SENDERS 8

enum { TN_UP = 1, TN_DOWN = 2 };

typedef struct tn_event {
    int kind; /* TN_UP / TN_DOWN */
    grove_nodename node;
    uint32_t creation;
    gv_tp_down_reason reason;
    uint64_t at_ms;
    uint64_t received; /* envelopes received from anyone before it */
} tn_event;

typedef struct tnode {
    bool inited; /* mutex and condition made (tn_start) */
    char name[64];
    grove_nodename nn;
    uint32_t creation;
    gv_tp *tp;
    gv_mutex mu;
    gv_cond cv;
    /* recorded on the I/O thread */
    tn_event ev[TN_MAX_EVENTS];
    int n_ev;
    uint64_t received;
    uint64_t order_errors;
    uint64_t bad_envelopes;
    uint64_t expect[TN_SENDERS]; /* next sequence number per sender id */
    /* freezing the I/O thread inside the load callback */
    bool freeze;
    bool frozen;
    uint64_t rounds[2]; /* start times of the last two heartbeat rounds */
} tnode;

/* ---- callbacks (I/O thread) ---- */

static inline void tn_on_nodeup(void *ctx, grove_nodename node, uint32_t creation,
                                const gv_tp_nodeinfo *info)
{
    tnode *n = ctx;
    (void)info;
    gv_mutex_lock(&n->mu);
    if (n->n_ev < TN_MAX_EVENTS)
        n->ev[n->n_ev++] = (tn_event){.kind = TN_UP,
                                      .node = node,
                                      .creation = creation,
                                      .at_ms = gv_now_ms(),
                                      .received = n->received};
    gv_mutex_unlock(&n->mu);
}

static inline void tn_on_nodedown(void *ctx, grove_nodename node, gv_tp_down_reason reason)
{
    tnode *n = ctx;
    gv_mutex_lock(&n->mu);
    if (n->n_ev < TN_MAX_EVENTS)
        n->ev[n->n_ev++] = (tn_event){.kind = TN_DOWN,
                                      .node = node,
                                      .reason = reason,
                                      .at_ms = gv_now_ms(),
                                      .received = n->received};
    gv_mutex_unlock(&n->mu);
}

/* Payloads are ETF INTEGER_EXT: 131, 98, a big-endian 32-bit sequence
 * number; the sender's id is from.id. */
static inline void tn_on_envelope(void *ctx, grove_nodename from, const gv_tp_env *env)
{
    tnode *n = ctx;
    (void)from;
    gv_mutex_lock(&n->mu);
    n->received++;
    if (env->kind == GV_TP_SEND && env->u.send.payload.len == 6 &&
        env->u.send.payload.data[1] == 98 && env->u.send.from.id < TN_SENDERS) {
        const uint8_t *p = env->u.send.payload.data + 2;
        uint64_t seq = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        uint32_t s = env->u.send.from.id;
        if (seq != n->expect[s])
            n->order_errors++;
        n->expect[s] = seq + 1;
    } else if (env->kind != GV_TP_LINK) {
        n->bad_envelopes++;
    }
    gv_mutex_unlock(&n->mu);
}

static inline void tn_load(void *ctx, gv_tp_load *out)
{
    tnode *n = ctx;
    gv_mutex_lock(&n->mu);
    n->rounds[0] = n->rounds[1];
    n->rounds[1] = gv_now_ms();
    out->run_queue = 7;
    out->processes = 42;
    while (n->freeze) {
        n->frozen = true;
        gv_cond_broadcast(&n->cv);
        gv_cond_wait(&n->cv, &n->mu);
    }
    n->frozen = false;
    gv_mutex_unlock(&n->mu);
}

/* ---- the test thread ---- */

typedef struct tn_opts {
    const char *seeds;
    unsigned heartbeat_ms, nodedown_ms;
    size_t out_buffer, max_payload;
    const gv_tp_keys *keys;
} tn_opts;

static inline grove_err tn_start(tnode *n, const char *name, const tn_opts *o)
{
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    if (grove_nodename_intern(name, strlen(name), &n->nn) != GROVE_OK)
        return GROVE_EINVAL;
    gv_mutex_init(&n->mu);
    gv_cond_init(&n->cv);
    n->inited = true;
    n->creation = (uint32_t)(gv_random_seed() | 1u);
    gv_tp_config cfg = {
        .node = name,
        .creation = n->creation,
        .listen = "127.0.0.1:0",
        .seeds = o->seeds,
        .keys = o->keys,
        .heartbeat_ms = o->heartbeat_ms,
        .nodedown_ms = o->nodedown_ms,
        .seed_ms = 200,
        .out_buffer = o->out_buffer,
        .max_payload = o->max_payload,
    };
    gv_tp_ops ops = {.ctx = n,
                     .on_nodeup = tn_on_nodeup,
                     .on_nodedown = tn_on_nodedown,
                     .on_envelope = tn_on_envelope,
                     .load = tn_load};
    return gv_tp_new(&cfg, &ops, &n->tp);
}

static inline void tn_stop(tnode *n)
{
    gv_mutex_lock(&n->mu);
    n->freeze = false;
    gv_cond_broadcast(&n->cv);
    gv_mutex_unlock(&n->mu);
    gv_tp_destroy(&n->tp);
}

/* Stops and releases n; safe on a node never started or already
 * released (so a failed test's teardown can call it). */
static inline void tn_fini(tnode *n)
{
    if (!n->inited)
        return;
    tn_stop(n);
    gv_cond_fini(&n->cv);
    gv_mutex_fini(&n->mu);
    memset(n, 0, sizeof *n);
}

/* Waits up to ms for pred(n, arg) (checked under the node's mutex). */
static inline bool tn_wait(tnode *n, bool (*pred)(tnode *, const void *), const void *arg,
                           uint64_t ms)
{
    uint64_t deadline = gv_now_ms() + ms;
    for (;;) {
        gv_mutex_lock(&n->mu);
        bool ok = pred(n, arg);
        gv_mutex_unlock(&n->mu);
        if (ok)
            return true;
        if (gv_now_ms() >= deadline)
            return false;
        gv_sleep_ms(2);
    }
}

/* A copy of what n recorded so far, to assert on without holding its
 * mutex (a failed assertion must not leave the mutex locked). */
static inline tnode tn_snap(tnode *n)
{
    gv_mutex_lock(&n->mu);
    tnode copy = *n;
    gv_mutex_unlock(&n->mu);
    return copy;
}

static inline int tn_count(tnode *n, int kind, grove_nodename node)
{
    int c = 0;
    for (int i = 0; i < n->n_ev; i++)
        if (n->ev[i].kind == kind && (node == 0 || n->ev[i].node == node))
            c++;
    return c;
}

/* The last event of kind about node, or NULL. Under the mutex. */
static inline const tn_event *tn_last(tnode *n, int kind, grove_nodename node)
{
    for (int i = n->n_ev - 1; i >= 0; i--)
        if (n->ev[i].kind == kind && n->ev[i].node == node)
            return &n->ev[i];
    return NULL;
}

typedef struct tn_count_arg {
    int kind;
    grove_nodename node;
    int at_least;
} tn_count_arg;

static inline bool tn_pred_count(tnode *n, const void *arg)
{
    const tn_count_arg *a = arg;
    return tn_count(n, a->kind, a->node) >= a->at_least;
}

static inline bool tn_wait_events(tnode *n, int kind, grove_nodename node, int at_least,
                                  uint64_t ms)
{
    tn_count_arg a = {kind, node, at_least};
    return tn_wait(n, tn_pred_count, &a, ms);
}

static inline bool tn_pred_received(tnode *n, const void *arg)
{
    return n->received >= *(const uint64_t *)arg;
}

static inline bool tn_wait_received(tnode *n, uint64_t count, uint64_t ms)
{
    return tn_wait(n, tn_pred_received, &count, ms);
}

/* Freezes n's I/O thread inside its next heartbeat round's load callback
 * and waits until it is frozen. */
static inline bool tn_freeze(tnode *n, uint64_t ms)
{
    uint64_t deadline = gv_now_ms() + ms;
    gv_mutex_lock(&n->mu);
    n->freeze = true;
    while (!n->frozen) {
        if (!gv_cond_wait_until(&n->cv, &n->mu, deadline * 1000000u) && gv_now_ms() >= deadline)
            break;
    }
    bool ok = n->frozen;
    gv_mutex_unlock(&n->mu);
    return ok;
}

static inline void tn_thaw(tnode *n)
{
    gv_mutex_lock(&n->mu);
    n->freeze = false;
    gv_cond_broadcast(&n->cv);
    gv_mutex_unlock(&n->mu);
}

static inline void tn_payload(uint8_t out[6], uint32_t seq)
{
    out[0] = 131;
    out[1] = 98;
    out[2] = (uint8_t)(seq >> 24);
    out[3] = (uint8_t)(seq >> 16);
    out[4] = (uint8_t)(seq >> 8);
    out[5] = (uint8_t)seq;
}

/* A send envelope from sender id `sender` carrying seq. */
static inline gv_tp_env tn_send_env(uint32_t sender, const uint8_t payload[6])
{
    gv_tp_env e;
    memset(&e, 0, sizeof e);
    e.kind = GV_TP_SEND;
    e.u.send.to = (gv_tp_pid){.id = 1, .serial = 0, .creation = 1};
    e.u.send.from = (gv_tp_pid){.id = sender, .serial = 0, .creation = 1};
    e.u.send.payload = (gv_tp_bytes){payload, 6};
    return e;
}

#endif
