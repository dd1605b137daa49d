/*
 * test_node.c - a grove-node with the cluster tests' behaviours
 * (node_behaviours.h) and a test application linked in, as any program
 * with applications of its own is built (docs/daemon.md).
 *
 * The application "testapp" starts a supervisor with two plain children,
 * c1 then c2, registered locally under those names. Each child writes a
 * line to stderr when it starts and when it terminates, so the test sees
 * the supervisor shut them down in reverse order on SIGTERM:
 *   test child_started id=c1
 *   test child_terminated id=c2 reason=shutdown
 * The supervisor is registered as test_sup.
 */
#include <grove/app.h>
#include <grove/process.h>
#include <grove/supervisor.h>
#include <grove/term.h>

#include "line.h"
#include "node_behaviours.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct child_state {
    char id[32];
} child_state;

static grove_err child_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)self;
    child_state *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    if (!grove_match(arg, "~a", st->id, sizeof st->id)) {
        free(st);
        return GROVE_EBADARG;
    }
    *state = st;
    tn_line("test child_started id=%s", st->id);
    return GROVE_OK;
}

static grove_ret child_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)self, (void)msg, (void)state;
    return GROVE_CONTINUE;
}

static void child_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    (void)self;
    child_state *st = state;
    char *why = grove_term_format(reason);
    tn_line("test child_terminated id=%s reason=%s", st->id, why ? why : "?");
    free(why);
}

static const grove_behaviour s_child = {.name = "test_child",
                                        .init = child_init,
                                        .handle = child_handle,
                                        .terminate = child_terminate,
                                        .free_state = free};

static grove_err sup_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                          grove_children *children)
{
    (void)self, (void)arg;
    flags->strategy = GROVE_ONE_FOR_ONE;
    static const char *const ids[] = {"c1", "c2"};
    for (size_t i = 0; i < 2; i++) {
        grove_err e = grove_sup_add(children, &(grove_child_spec){.id = ids[i],
                                                                  .behaviour = &s_child,
                                                                  .arg = grove_atom(ids[i]),
                                                                  .name = ids[i]});
        if (e != GROVE_OK)
            return e;
    }
    return GROVE_OK;
}

static const grove_supervisor s_sup = {.name = "test_sup", .init = sup_init};

static grove_err app_start(grove_node *node, void *arg, grove_pid *top)
{
    (void)arg;
    return grove_supervisor_start(node, &s_sup, NULL, &(grove_start_opts){.name = "test_sup"}, top);
}

/* TEST_NODE_STOP_SLEEP_MS makes the stop slow, so a test can signal the
 * daemon again while it is stopping. */
static void app_stop(grove_node *node, void *arg)
{
    (void)node, (void)arg;
    tn_line("test app_stop_called app=testapp");
    const char *v = getenv("TEST_NODE_STOP_SLEEP_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms > 0) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
}

int main(int argc, char **argv)
{
    if (nb_register_behaviours() != GROVE_OK ||
        grove_app_register(&(grove_app){.name = "testapp", .start = app_start, .stop = app_stop}) !=
            GROVE_OK) {
        fputs("test_node: cannot register\n", stderr);
        return 70;
    }
    return grove_node_main(argc, argv);
}
