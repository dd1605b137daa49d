/*
 * breaker_demo - a flaky service behind a circuit breaker: five failures
 * open it, calls are refused without touching the service, and after the
 * reset delay one trial closes it again.
 */
#include "breaker.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

static bool s_service_up;
static int s_service_calls;

static grove_term *s_service(const grove_term *arg, void *udata)
{
    s_service_calls++;
    return s_service_up ? grove_atom("pong") : NULL;
}

static const char *s_state(grove_node *node, grove_pid b)
{
    breaker_state st = BREAKER_CLOSED;
    breaker_get_state(node, b, &st);
    return st == BREAKER_OPEN ? "open" : st == BREAKER_HALF_OPEN ? "half-open" : "closed";
}

int main(void)
{
    grove_node *node = grove_node_start(NULL);
    if (!node)
        return 1;
    grove_pid b;
    if (breaker_start(node, 5, 200, &b) != GROVE_OK) {
        grove_node_stop(&node);
        return 1;
    }
    grove_term *r = NULL;
    for (int i = 0; i < 5; i++)
        breaker_run(node, b, s_service, NULL, NULL, &r);
    printf("after 5 failures the breaker is %s\n", s_state(node, b));
    int before = s_service_calls;
    grove_err err = breaker_run(node, b, s_service, NULL, NULL, &r);
    printf("a call now: %s, service untouched: %s\n", grove_errname(err),
           s_service_calls == before ? "yes" : "no");
    int ok = err == GROVE_EAGAIN && s_service_calls == before;
    s_service_up = true;
    nanosleep(&(struct timespec){.tv_nsec = 300 * 1000000}, NULL);
    printf("after the reset delay it is %s\n", s_state(node, b));
    err = breaker_run(node, b, s_service, NULL, NULL, &r);
    printf("the trial call: %s; the breaker is %s\n", grove_errname(err), s_state(node, b));
    grove_term_destroy(&r);
    /* The report is a cast: a call after it is served after it. */
    breaker_state st = BREAKER_OPEN;
    breaker_get_state(node, b, &st);
    ok &= err == GROVE_OK && st == BREAKER_CLOSED;
    grove_gen_server_stop(node, b, NULL, GROVE_INFINITY);
    grove_node_stop(&node);
    return ok ? 0 : 1;
}
