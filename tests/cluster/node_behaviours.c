/*
 * node_behaviours.c - the behaviours of node_behaviours.h. Public API only:
 * they run inside test_node, a grove-node like any application's.
 */
#include "node_behaviours.h"

#include <grove/names.h>
#include <grove/term.h>

#include <stdlib.h>
#include <string.h>

typedef struct nb_state {
    bool has_to;
    grove_pid to;
} nb_state;

static void nb_free(void *state)
{
    free(state);
}

static nb_state *nb_state_new(void)
{
    nb_state *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    return st;
}

/* ---- echo ---- */

static grove_ret echo_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)state;
    grove_pid from;
    grove_term *t = NULL;
    if (grove_match(msg, "{ping, ~p}", &from))
        grove_proc_send(self, from, grove_pack("{pong, ~p}", grove_self(self)));
    else if (grove_match(msg, "{crash, ~t}", &t))
        return grove_stop(self, t);
    else if (grove_match(msg, "{send, ~p, ~t}", &from, &t))
        grove_proc_send(self, from, t);
    return GROVE_CONTINUE;
}

const grove_behaviour nb_echo = {.name = "echo", .handle = echo_handle};

/* ---- reporter ---- */

static grove_err reporter_init(grove_proc *self, const grove_term *arg, void **state)
{
    nb_state *st = nb_state_new();
    if (arg && grove_match(arg, "~p", &st->to)) {
        st->has_to = true;
        grove_monitor_nodes(self, true);
        grove_proc_send(self, st->to, grove_pack("{reporting, ~p}", grove_self(self)));
    }
    *state = st;
    return GROVE_OK;
}

/* {nodes, Self, "a@h,b@h"}: the connected nodes, comma-separated. */
static grove_term *reporter_nodes(grove_proc *self)
{
    grove_node *node = grove_proc_node(self);
    grove_nodename names[64];
    size_t n = grove_nodes(node, names, 64);
    if (n > 64)
        n = 64;
    char text[4096] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = grove_nodename_str(names[i]);
        size_t sl = strlen(s);
        if (len + sl + 2 > sizeof text)
            break;
        if (len)
            text[len++] = ',';
        memcpy(text + len, s, sl);
        len += sl;
    }
    return grove_pack("{nodes, ~p, ~s}", grove_self(self), text, len);
}

static grove_ret reporter_handle(grove_proc *self, const grove_term *msg, void *state)
{
    nb_state *st = state;
    grove_pid from, pid;
    grove_term *node = NULL, *info = NULL;
    char name[256];
    if (grove_match(msg, "{nodes, ~p}", &from)) {
        grove_proc_send(self, from, reporter_nodes(self));
    } else if (grove_match(msg, "{whereis, ~a, ~p}", name, sizeof name, &from)) {
        if (grove_whereis(grove_proc_node(self), name, &pid) == GROVE_OK)
            grove_proc_send(self, from, grove_pack("{whereis, ~a, ~p}", name, pid));
        else
            grove_proc_send(self, from, grove_pack("{whereis, ~a, undefined}", name));
    } else if (st->has_to && grove_match(msg, "{nodeup, ~t, _}", &node)) {
        grove_proc_send(self, st->to, grove_pack("{nodeup, ~p, ~t}", grove_self(self), node));
    } else if (st->has_to && grove_match(msg, "{nodedown, ~t, ~t}", &node, &info)) {
        grove_proc_send(self, st->to,
                        grove_pack("{nodedown, ~p, ~t, ~t}", grove_self(self), node, info));
    } else if (st->has_to) {
        grove_proc_send(self, st->to,
                        grove_pack("{forward, ~p, ~t}", grove_self(self), grove_term_copy(msg)));
    }
    return GROVE_CONTINUE;
}

static void reporter_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    (void)reason;
    nb_state *st = state;
    if (st->has_to)
        grove_monitor_nodes(self, false);
}

const grove_behaviour nb_reporter = {.name = "reporter",
                                     .init = reporter_init,
                                     .handle = reporter_handle,
                                     .terminate = reporter_terminate,
                                     .free_state = nb_free};

/* ---- linker and monitor ---- */

static grove_err watch_init(grove_proc *self, const grove_term *arg, void **state, bool link)
{
    grove_pid target, to;
    if (!arg || !grove_match(arg, "{~p, ~p}", &target, &to))
        return GROVE_EBADARG;
    nb_state *st = nb_state_new();
    st->has_to = true;
    st->to = to;
    *state = st;
    grove_term *ack;
    if (link) {
        grove_trap_exit(self, true);
        grove_link(self, target); /* a dead target arrives as {'EXIT', T, noproc} */
        ack = grove_pack("{linked, ~p, ~p}", grove_self(self), target);
    } else {
        grove_monitor(self, target, NULL);
        ack = grove_pack("{monitoring, ~p, ~p}", grove_self(self), target);
    }
    /* The report travels through the target (an echo), behind the link or
     * monitor signal: when it arrives, the target has taken that signal. */
    grove_proc_send(self, target, grove_pack("{send, ~p, ~t}", to, ack));
    return GROVE_OK;
}

static grove_err linker_init(grove_proc *self, const grove_term *arg, void **state)
{
    return watch_init(self, arg, state, true);
}

static grove_err monitor_init(grove_proc *self, const grove_term *arg, void **state)
{
    return watch_init(self, arg, state, false);
}

static grove_ret linker_handle(grove_proc *self, const grove_term *msg, void *state)
{
    nb_state *st = state;
    grove_pid pid;
    grove_term *reason = NULL;
    if (grove_match(msg, "{'EXIT', ~p, ~t}", &pid, &reason))
        grove_proc_send(self, st->to,
                        grove_pack("{link_exit, ~p, ~p, ~t}", grove_self(self), pid, reason));
    return GROVE_CONTINUE;
}

static grove_ret monitor_handle(grove_proc *self, const grove_term *msg, void *state)
{
    nb_state *st = state;
    grove_pid pid;
    grove_term *reason = NULL;
    if (grove_match(msg, "{'DOWN', _, process, ~p, ~t}", &pid, &reason))
        grove_proc_send(self, st->to,
                        grove_pack("{monitor_down, ~p, ~p, ~t}", grove_self(self), pid, reason));
    return GROVE_CONTINUE;
}

const grove_behaviour nb_linker = {
    .name = "linker", .init = linker_init, .handle = linker_handle, .free_state = nb_free};

const grove_behaviour nb_monitor = {
    .name = "monitor", .init = monitor_init, .handle = monitor_handle, .free_state = nb_free};

grove_err nb_register_behaviours(void)
{
    const grove_behaviour *all[] = {&nb_echo, &nb_reporter, &nb_linker, &nb_monitor};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        grove_err e = grove_behaviour_register(all[i]);
        if (e != GROVE_OK)
            return e;
    }
    return GROVE_OK;
}
