/*
 * rate_limiter.c - the rate limiter server and a crowd of clients.
 */
#include "rate_limiter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct client_log {
    char *id;
    uint64_t *times; /* a ring of the last `limit` allowed requests (ms) */
    unsigned head, count;
} client_log;

typedef struct limiter_state {
    unsigned limit;
    uint64_t window_ms;
    client_log *clients;
    size_t n, cap;
} limiter_state;

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static client_log *s_client(limiter_state *l, const void *id, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->clients[i].id) == len && memcmp(l->clients[i].id, id, len) == 0)
            return &l->clients[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        client_log *grown = realloc(l->clients, cap * sizeof *grown);
        if (!grown)
            return NULL;
        l->clients = grown;
        l->cap = cap;
    }
    client_log *c = &l->clients[l->n];
    c->id = strndup(id, len);
    c->times = calloc(l->limit, sizeof *c->times);
    c->head = c->count = 0;
    if (!c->id || !c->times) {
        free(c->id);
        free(c->times);
        return NULL;
    }
    l->n++;
    return c;
}

/* Drops the times that left the window, then takes one if there is room. */
static bool s_allow(limiter_state *l, client_log *c, uint64_t now)
{
    while (c->count > 0) {
        uint64_t oldest = c->times[(c->head + l->limit - c->count) % l->limit];
        if (now - oldest < l->window_ms)
            break;
        c->count--;
    }
    if (c->count == l->limit)
        return false;
    c->times[c->head] = now;
    c->head = (c->head + 1) % l->limit;
    c->count++;
    return true;
}

static grove_err limiter_init(grove_proc *self, const grove_term *arg, void **state)
{
    int64_t limit, window;
    if (!grove_match(arg, "{~l, ~l}", &limit, &window) || limit < 1 || limit > 1000000 ||
        window < 1)
        return GROVE_EBADARG;
    limiter_state *l = calloc(1, sizeof *l);
    if (!l)
        return GROVE_ENOMEM;
    l->limit = (unsigned)limit;
    l->window_ms = (uint64_t)window;
    *state = l;
    return GROVE_OK;
}

static grove_ret limiter_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                              grove_term **reply)
{
    limiter_state *l = state;
    const void *id;
    size_t len;
    if (grove_match(req, "{check, ~b}", &id, &len)) {
        client_log *c = s_client(l, id, len);
        if (!c)
            return grove_stop(self, grove_atom("out_of_memory"));
        *reply = grove_atom(s_allow(l, c, s_now_ms()) ? "allow" : "deny");
    } else {
        *reply = grove_pack("{error, unknown_call}");
    }
    return GROVE_REPLY;
}

static void limiter_free(void *state)
{
    limiter_state *l = state;
    for (size_t i = 0; i < l->n; i++) {
        free(l->clients[i].id);
        free(l->clients[i].times);
    }
    free(l->clients);
    free(l);
}

const grove_gen_server rate_limiter_server = {
    .name = "rate_limiter",
    .init = limiter_init,
    .handle_call = limiter_call,
    .free_state = limiter_free,
};

grove_err rate_limiter_start(grove_node *node, unsigned limit, uint64_t window_ms, grove_pid *out)
{
    return grove_gen_server_start(
        node, &rate_limiter_server,
        grove_pack("{~l, ~l}", (int64_t)limit, (int64_t)(window_ms ? window_ms : 60000)), NULL,
        out);
}

grove_err rate_limiter_check(grove_node *node, grove_pid limiter, const char *client, bool *allowed)
{
    grove_term *reply = NULL;
    grove_err err = grove_call(node, limiter, grove_pack("{check, ~b}", client, strlen(client)),
                               GROVE_CALL_TIMEOUT, &reply);
    *allowed = !err && grove_match(reply, "allow");
    grove_term_destroy(&reply);
    return err;
}

/* One client: {Limiter, Id, Requests} -> the number allowed. */
static grove_term *s_client_task(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    grove_pid limiter;
    const void *id;
    size_t len;
    int64_t requests;
    if (!grove_match(arg, "{~p, ~b, ~l}", &limiter, &id, &len, &requests))
        return NULL;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)len, (const char *)id);
    int64_t allowed = 0;
    for (int64_t i = 0; i < requests; i++) {
        bool ok;
        if (rate_limiter_check(grove_task_node(ctx), limiter, name, &ok) != GROVE_OK)
            return NULL;
        allowed += ok;
    }
    return grove_pack("~l", allowed);
}

grove_err rate_limiter_storm(grove_node *node, grove_pid limiter, size_t clients, unsigned requests,
                             unsigned *allowed)
{
    grove_term **in = calloc(clients, sizeof *in), **out = calloc(clients, sizeof *out);
    if (clients && (!in || !out)) {
        free(in);
        free(out);
        return GROVE_ENOMEM;
    }
    for (size_t i = 0; i < clients; i++) {
        char id[32];
        snprintf(id, sizeof id, "client-%zu", i);
        in[i] = grove_pack("{~p, ~b, ~l}", limiter, id, strlen(id), (int64_t)requests);
    }
    grove_err err = grove_task_async_stream(
        node, s_client_task, in, clients, NULL,
        &(grove_stream_opts){.max_concurrency = (unsigned)clients, .timeout_ms = 60000}, out);
    for (size_t i = 0; i < clients; i++) {
        int64_t n = 0;
        if (!err && !grove_match(out[i], "{ok, ~l}", &n))
            err = GROVE_EIO;
        allowed[i] = (unsigned)n;
        grove_term_destroy(&in[i]);
        grove_term_destroy(&out[i]);
    }
    free(in);
    free(out);
    return err;
}
