/*
 * task_stream.c - async_stream: a function over an array, at most
 * max_concurrency tasks at a time, results in input order.
 *
 * One waiter owns every task of the stream; a task is started only when a
 * running one has answered, so the bound holds by construction. Each slot
 * of the result array is filled by its own task, so the order of the
 * answers does not matter.
 */
#include "otp/otp_impl.h"

#include "base/gv_alloc.h"
#include "base/gv_clock.h"

typedef struct s_run {
    grove_pid pid;
    grove_ref mon;
    size_t index;
    uint64_t deadline_ns; /* UINT64_MAX: none */
} s_run;

static bool s_any(const grove_term *msg, void *arg)
{
    return true;
}

static void s_finish(grove_waiter *w, s_run *run, size_t *nrun, size_t k, grove_term **results,
                     grove_term *result)
{
    results[run[k].index] = result;
    grove_waiter_demonitor(w, run[k].mon);
    run[k] = run[--*nrun];
}

grove_err grove_task_async_stream(grove_node *node, grove_task_fn fn, grove_term *const *inputs,
                                  size_t n, void *udata, const grove_stream_opts *opts,
                                  grove_term **results)
{
    if (!fn || (n && (!inputs || !results)))
        return GROVE_EINVAL;
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    if (gv_on_scheduler())
        return GROVE_EWOULDBLOCK;
    size_t max = opts && opts->max_concurrency ? opts->max_concurrency : gv_task_threads();
    int64_t timeout = opts && opts->timeout_ms ? opts->timeout_ms : 5000;
    grove_waiter *w;
    grove_err err = grove_waiter_new(node, &w);
    if (err)
        return err;
    grove_pid owner = grove_waiter_pid(w);
    s_run *run = gv_calloc(max < n ? max : (n ? n : 1), sizeof *run);
    size_t nrun = 0, next = 0, done = 0;
    while (done < n && !err) {
        while (nrun < max && next < n) {
            grove_term *st = gv_start_pack(
                GV_KIND_TASK, NULL, NULL, (grove_ref){0}, false, NULL, GROVE_NAME_LOCAL,
                gv_task_arg(fn, udata, &owner,
                            inputs[next] ? grove_term_copy(inputs[next]) : NULL));
            s_run *r = &run[nrun];
            err = grove_node_spawn(node, gv_kind_behaviour(GV_KIND_TASK), st,
                                   &(grove_spawn_opts){.name = "task"}, &r->pid);
            if (err)
                break;
            grove_waiter_monitor(w, r->pid, &r->mon);
            r->index = next++;
            r->deadline_ns = timeout < 0 ? UINT64_MAX : gv_now_ns() + (uint64_t)timeout * 1000000u;
            nrun++;
        }
        if (err)
            break;
        uint64_t first = UINT64_MAX;
        for (size_t k = 0; k < nrun; k++)
            if (run[k].deadline_ns < first)
                first = run[k].deadline_ns;
        uint64_t now = gv_now_ns();
        int64_t wait = first == UINT64_MAX ? -1
                       : first <= now      ? 0
                                           : (int64_t)((first - now + 999999u) / 1000000u);
        grove_term *m = NULL;
        grove_err werr = gv_wait_select(w, s_any, NULL, wait, &m);
        if (werr == GROVE_ETIMEDOUT) {
            now = gv_now_ns();
            for (size_t k = 0; k < nrun;) {
                if (run[k].deadline_ns > now) {
                    k++;
                    continue;
                }
                grove_node_exit(node, run[k].pid, grove_atom("kill"));
                s_finish(w, run, &nrun, k, results, grove_pack("{exit, timeout}"));
                done++;
            }
            continue;
        }
        if (werr) {
            err = werr;
            break;
        }
        grove_pid pid;
        grove_ref ref;
        grove_term *res = NULL;
        if (grove_match(m, "{'$task', ~p, ~t}", &pid, &res)) {
            size_t k = 0;
            while (k < nrun && !grove_pid_equal(run[k].pid, pid))
                k++;
            if (k < nrun) {
                s_finish(w, run, &nrun, k, results, res);
                done++;
            } else {
                grove_term_destroy(&res); /* a task we gave up on */
            }
        } else if (grove_match(m, "{'DOWN', ~r, process, _, ~t}", &ref, &res)) {
            size_t k = 0;
            while (k < nrun && !grove_ref_equal(&run[k].mon, &ref))
                k++;
            if (k < nrun) { /* died without a word (killed before it ran) */
                s_finish(w, run, &nrun, k, results, grove_pack("{exit, ~t}", res));
                done++;
            } else {
                grove_term_destroy(&res);
            }
        }
        grove_term_destroy(&m);
    }
    if (err) {
        for (size_t k = 0; k < nrun; k++)
            grove_node_exit(node, run[k].pid, grove_atom("kill"));
        for (size_t i = 0; i < n; i++)
            grove_term_destroy(&results[i]);
    }
    gv_free(run);
    grove_waiter_destroy(&w);
    return err;
}
