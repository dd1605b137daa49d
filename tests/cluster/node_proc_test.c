/*
 * node_proc_test.c - real nodes as separate processes: test_node (a
 * grove-node with node_behaviours.h and a test application linked in) is
 * started several times on 127.0.0.1 with GROVE_* in its environment and
 * a fresh random secret per test; its stderr log lines are read by a
 * thread per child and searched by the test thread. The test process
 * joins the cluster as a node of its own (t@127.0.0.1), seeded with the
 * first daemon only, to spawn processes on the others and receive their
 * reports through a waiter.
 *
 * Only this thread asserts. Children die with the test: each asks for
 * SIGKILL when its parent exits (PR_SET_PDEATHSIG), the teardown kills
 * and reaps whatever is left, and SIGALRM bounds each test. A test ends by
 * stopping its daemons with SIGTERM and requiring exit status 0 (in a
 * sanitizer build that includes the leak check) and logs free of sanitizer
 * reports. Times are asserted as lower bounds plus generous timeouts.
 */
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_thread.h"
#include "daemon_kid.h"
#include "inproc.h"
#include "node_behaviours.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#ifndef TEST_NODE_BIN
#error "TEST_NODE_BIN: the test_node executable (tests/cluster/CMakeLists.txt)"
#endif

#define WAIT_MS 20000 /* any single wait: sanitizer builds on a loaded 2-core machine */
#define BUDGET_S 240  /* a whole test; SIGALRM ends it (and PDEATHSIG its children) */
#define MAX_KIDS 4
#define HB_MS 100 /* the silence test's heartbeat ... */
#define ND_MS 800 /* ... and nodedown silence */

typedef struct kid {
    bool used;
    pid_t pid;
    int fd; /* read end of its stderr */
    gv_thread reader;
    bool reader_running;
    gv_mutex mu;
    char *log; /* under mu: everything read so far, NUL-terminated */
    size_t len, cap;
    bool eof;
    bool reaped;
    int status;
    char name[64];
    char addr[64];
    grove_nodename nn;
} kid;

static kid s_kids[MAX_KIDS];
static char s_cookie[65];
static grove_node *s_t; /* the test's own node */
static grove_waiter *s_w;
static kid s_tlog; /* the test node's log lines (info), shown with the others on failure */
static int s_tlog_w = -1;

/* ---- children's logs ---- */

static void *s_reader(void *arg)
{
    kid *k = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(k->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        gv_mutex_lock(&k->mu);
        if (n <= 0) {
            k->eof = true;
            gv_mutex_unlock(&k->mu);
            return NULL;
        }
        if (k->len + (size_t)n + 1 > k->cap) {
            size_t cap = k->cap ? k->cap : 8192;
            while (k->len + (size_t)n + 1 > cap)
                cap *= 2;
            char *p = realloc(k->log, cap);
            if (!p)
                abort();
            k->log = p;
            k->cap = cap;
        }
        memcpy(k->log + k->len, buf, (size_t)n);
        k->len += (size_t)n;
        k->log[k->len] = '\0';
        gv_mutex_unlock(&k->mu);
    }
}

static void s_dump(void)
{
    for (int i = -1; i < MAX_KIDS; i++) {
        kid *k = i < 0 ? &s_tlog : &s_kids[i];
        if (!k->used)
            continue;
        gv_mutex_lock(&k->mu);
        printf("---- log of %s (pid %d) ----\n%s", k->name, (int)k->pid, k->log ? k->log : "");
        gv_mutex_unlock(&k->mu);
    }
    fflush(stdout);
}

#define s_fail(...)            \
    do {                       \
        s_dump();              \
        fail_msg(__VA_ARGS__); \
    } while (0)

/* Where `needle` first occurs at or after byte `from` of k's log; -1 if not
 * (yet). */
static long s_find(kid *k, const char *needle, long from)
{
    long at = -1;
    gv_mutex_lock(&k->mu);
    if (k->log && (size_t)from <= k->len) {
        const char *p = strstr(k->log + from, needle);
        if (p)
            at = p - k->log;
    }
    gv_mutex_unlock(&k->mu);
    return at;
}

static long s_log_len(kid *k)
{
    gv_mutex_lock(&k->mu);
    long n = (long)k->len;
    gv_mutex_unlock(&k->mu);
    return n;
}

static long s_wait_log(kid *k, const char *needle, long from, int64_t ms)
{
    uint64_t deadline = gv_now_ms() + (uint64_t)ms;
    for (;;) {
        long at = s_find(k, needle, from);
        if (at >= 0)
            return at;
        if (gv_now_ms() >= deadline)
            s_fail("%s: no log line with \"%s\" within %lld ms", k->name, needle, (long long)ms);
        gv_sleep_ms(10);
    }
}

/* The value of `key=` on the line at `at` of k's log. */
static void s_log_value(kid *k, long at, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    gv_mutex_lock(&k->mu);
    const char *line = k->log + at;
    const char *eol = strchr(line, '\n');
    const char *p = strstr(line, key);
    if (p && (!eol || p < eol)) {
        p += strlen(key);
        size_t n = strcspn(p, " \n");
        if (n >= len)
            n = len - 1;
        memcpy(out, p, n);
        out[n] = '\0';
    }
    gv_mutex_unlock(&k->mu);
}

/* ---- children ---- */

static char *s_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *s_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* Starts daemon i (test_node) named name@127.0.0.1 listening on a free
 * loopback port, seeded with `seeds` (may be NULL), with extra variables. */
static kid *s_spawn(int i, const char *name, const char *seeds, char *const *extra)
{
    kid *k = &s_kids[i];
    assert_false(k->used);
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s@127.0.0.1", name);
    assert_int_equal(grove_nodename_intern(k->name, strlen(k->name), &k->nn), GROVE_OK);
    char *vars[16];
    int n = 0;
    vars[n++] = s_strdup_printf("GROVE_NODE=%s", k->name);
    vars[n++] = s_strdup_printf("GROVE_LISTEN=127.0.0.1:0");
    vars[n++] = s_strdup_printf("GROVE_COOKIE=%s", s_cookie);
    vars[n++] = s_strdup_printf("GROVE_LOG=info");
    vars[n++] = s_strdup_printf("GROVE_SCHEDULERS=2");
    if (seeds)
        vars[n++] = s_strdup_printf("GROVE_SEEDS=%s", seeds);
    for (int j = 0; extra && extra[j] && n < 15; j++)
        vars[n++] = strdup(extra[j]);
    vars[n] = NULL;
    char **env = dk_env(vars);
    for (int j = 0; j < n; j++)
        free(vars[j]);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *argv[] = {(char *)TEST_NODE_BIN, NULL};
    k->pid = dk_fork_exec(TEST_NODE_BIN, argv, env, -1, p[1]);
    dk_free_env(env);
    close(p[1]);
    assert_true(k->pid > 0);
    k->fd = p[0];
    k->used = true;
    gv_mutex_init(&k->mu);
    k->reader_running = gv_thread_start(&k->reader, "log-reader", s_reader, k);
    assert_true(k->reader_running);
    return k;
}

/* Waits until k is up with its applications; learns its address. */
static void s_ready(kid *k)
{
    long at = s_wait_log(k, " daemon started ", 0, WAIT_MS);
    s_log_value(k, at, "address=", k->addr, sizeof k->addr);
    if (!strchr(k->addr, ':'))
        s_fail("%s: no address in its start line", k->name);
    s_wait_log(k, " daemon ready ", at, WAIT_MS);
}

static kid *s_daemon(int i, const char *name, const char *seeds, char *const *extra)
{
    kid *k = s_spawn(i, name, seeds, extra);
    s_ready(k);
    return k;
}

/* Reaps k within ms; false if it is still running. */
static bool s_reap(kid *k, int64_t ms)
{
    uint64_t deadline = gv_now_ms() + (uint64_t)ms;
    while (!k->reaped) {
        int st;
        pid_t r = waitpid(k->pid, &st, WNOHANG);
        if (r == k->pid) {
            k->reaped = true;
            k->status = st;
        } else if (gv_now_ms() >= deadline) {
            return false;
        } else {
            gv_sleep_ms(5);
        }
    }
    return true;
}

/* After k has exited: its log is complete once the reader saw EOF. */
static void s_drain(kid *k)
{
    if (k->reader_running) {
        gv_thread_join(&k->reader);
        k->reader_running = false;
    }
}

static void s_expect_exit(kid *k, int code)
{
    if (!s_reap(k, WAIT_MS))
        s_fail("%s did not exit", k->name);
    s_drain(k);
    if (!WIFEXITED(k->status) || WEXITSTATUS(k->status) != code)
        s_fail("%s: status 0x%x, expected exit %d", k->name, (unsigned)k->status, code);
}

static void s_no_sanitizer_reports(kid *k)
{
    gv_mutex_lock(&k->mu);
    const char *mark = dk_sanitizer_mark(k->log ? k->log : "");
    gv_mutex_unlock(&k->mu);
    if (mark)
        s_fail("%s: sanitizer report (%s)", k->name, mark);
}

/* ---- the test's own node ---- */

static void s_join(const char *seed, unsigned hb, unsigned nd)
{
    grove_node_opts o = {.name = "t@127.0.0.1",
                         .schedulers = 2,
                         .listen = "127.0.0.1:0",
                         .seeds = seed,
                         .cookie = s_cookie,
                         .heartbeat_ms = hb,
                         .nodedown_ms = nd};
    s_t = grove_node_start(&o);
    assert_non_null(s_t);
    assert_int_equal(grove_waiter_new(s_t, &s_w), GROVE_OK);
}

static void s_wait_connected(kid *k)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (!inproc_sees(s_t, k->nn)) {
        if (gv_now_ms() >= deadline)
            s_fail("the test node never connected to %s", k->name);
        gv_sleep_ms(5);
    }
}

/* Daemons a, b, ... (n of them, each with `extra`), all but a seeded with
 * a; the test node joins through a (heartbeat hb, silence nd; 0: the
 * defaults) and waits until it is connected to each. */
static void s_daemons(int n, char *const *extra, unsigned hb, unsigned nd, kid **out)
{
    static const char *const names[MAX_KIDS] = {"a", "b", "c", "d"};
    assert_true(n >= 1 && n <= MAX_KIDS);
    for (int i = 0; i < n; i++)
        out[i] = s_daemon(i, names[i], i ? out[0]->addr : NULL, extra);
    s_join(out[0]->addr, hb, nd);
    for (int i = 0; i < n; i++)
        s_wait_connected(out[i]);
}

static grove_pid s_spawn_on(kid *k, const grove_behaviour *b, grove_term *arg)
{
    grove_pid pid;
    grove_err e = grove_node_spawn_on(s_t, k->nn, b->name, arg, WAIT_MS, &pid);
    if (e != GROVE_OK)
        s_fail("spawn of %s on %s: %s", b->name, k->name, grove_errname(e));
    assert_int_equal(pid.node, k->nn);
    return pid;
}

static grove_pid s_spawn_here(const grove_behaviour *b, grove_term *arg)
{
    grove_pid pid;
    assert_int_equal(grove_node_spawn(s_t, b, arg, NULL, &pid), GROVE_OK);
    return pid;
}

/* A message matching `pattern`, whose one ~p capture is `pid`. */
typedef struct s_sel {
    const char *pattern;
    grove_pid pid;
} s_sel;

static bool s_select(const grove_term *m, void *arg)
{
    s_sel *s = arg;
    grove_pid p;
    return grove_match(m, s->pattern, &p) && grove_pid_equal(p, s->pid);
}

static grove_term *s_recv_pid(const char *pattern, grove_pid pid, int64_t ms)
{
    s_sel sel = {.pattern = pattern, .pid = pid};
    grove_term *m = NULL;
    grove_err e = grove_waiter_recv_select(s_w, s_select, &sel, ms, &m);
    if (e != GROVE_OK)
        s_fail("no message %s from <%u.%u> (%s)", pattern, pid.id, pid.serial, grove_errname(e));
    return m;
}

/* The last element of a 4- or 5-tuple message, compared with `want`
 * (text). */
static void s_expect_reason(grove_term *m, const char *shape, const char *want)
{
    grove_term *reason = NULL, *expected = NULL;
    if (!grove_match(m, shape, &reason))
        s_fail("message is not %s", shape);
    assert_int_equal(grove_term_parse(want, strlen(want), &expected, NULL), GROVE_OK);
    if (!grove_term_equal(reason, expected)) {
        char *got = grove_term_format(reason);
        char text[256];
        snprintf(text, sizeof text, "%s", got ? got : "?");
        free(got);
        grove_term_destroy(&reason);
        grove_term_destroy(&expected);
        s_fail("reason %s, expected %s", text, want);
    }
    grove_term_destroy(&reason);
    grove_term_destroy(&expected);
}

static void s_ping(grove_pid echo)
{
    grove_node_send(s_t, echo, grove_pack("{ping, ~p}", grove_waiter_pid(s_w)));
    grove_term *m = s_recv_pid("{pong, ~p}", echo, WAIT_MS);
    grove_term_destroy(&m);
}

/* A reporter on k that forwards node events to the waiter, once it is
 * watching them. */
static grove_pid s_reporter_on(kid *k)
{
    grove_pid rep = s_spawn_on(k, &nb_reporter, grove_pack("~p", grove_waiter_pid(s_w)));
    grove_term *m = s_recv_pid("{reporting, ~p}", rep, WAIT_MS);
    grove_term_destroy(&m);
    return rep;
}

/* ---- set-up, teardown, the end of a test ---- */

static int s_setup(void **state)
{
    (void)state;
    uint8_t raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s_cookie + 2 * i, 3, "%02x", raw[i]);
    /* the test node logs into a pipe read like a child's stderr */
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    memset(&s_tlog, 0, sizeof s_tlog);
    snprintf(s_tlog.name, sizeof s_tlog.name, "t@127.0.0.1");
    s_tlog.pid = getpid();
    s_tlog.fd = p[0];
    s_tlog_w = p[1];
    s_tlog.used = true;
    gv_mutex_init(&s_tlog.mu);
    s_tlog.reader_running = gv_thread_start(&s_tlog.reader, "log-reader", s_reader, &s_tlog);
    if (!s_tlog.reader_running)
        return -1;
    gv_log_set_fd(s_tlog_w);
    gv_log_set_level(GV_LOG_INFO);
    alarm(BUDGET_S);
    return 0;
}

static void s_tlog_end(void)
{
    if (!s_tlog.used)
        return;
    gv_log_set_fd(-1);
    gv_log_set_level(GV_LOG_WARN);
    close(s_tlog_w);
    s_tlog_w = -1;
    s_drain(&s_tlog);
    close(s_tlog.fd);
    free(s_tlog.log);
    gv_mutex_fini(&s_tlog.mu);
    memset(&s_tlog, 0, sizeof s_tlog);
}

/* Whatever a test left: the test node stops, every child still running is
 * killed, all are reaped. */
static int s_teardown(void **state)
{
    (void)state;
    grove_waiter_destroy(&s_w);
    grove_node_stop(&s_t);
    for (int i = 0; i < MAX_KIDS; i++) {
        kid *k = &s_kids[i];
        if (!k->used)
            continue;
        if (!k->reaped) {
            kill(k->pid, SIGKILL);
            kill(k->pid, SIGCONT);
            dk_reap(k->pid);
            k->reaped = true;
        }
        s_drain(k);
        close(k->fd);
        free(k->log);
        gv_mutex_fini(&k->mu);
        memset(k, 0, sizeof *k);
    }
    s_tlog_end();
    alarm(0);
    return 0;
}

/* The normal end: the test node leaves, each daemon still running stops
 * on SIGTERM with status 0 and says so, no log holds a sanitizer report. */
static void s_finish(void)
{
    grove_waiter_destroy(&s_w);
    grove_node_stop(&s_t);
    for (int i = 0; i < MAX_KIDS; i++) {
        kid *k = &s_kids[i];
        if (k->used && !k->reaped) {
            long from = s_log_len(k);
            assert_int_equal(kill(k->pid, SIGTERM), 0);
            s_expect_exit(k, 0);
            s_wait_log(k, " daemon stopped code=0", from, 0);
        }
    }
    for (int i = 0; i < MAX_KIDS; i++)
        if (s_kids[i].used) {
            s_drain(&s_kids[i]);
            s_no_sanitizer_reports(&s_kids[i]);
        }
}

/* ---- a) membership ---- */

/* The connected nodes a reporter on k names. */
static void s_nodes_of(grove_pid reporter, char *out, size_t len)
{
    grove_node_send(s_t, reporter, grove_pack("{nodes, ~p}", grove_waiter_pid(s_w)));
    grove_term *m = s_recv_pid("{nodes, ~p, _}", reporter, WAIT_MS);
    const char *s = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (grove_match(m, "{nodes, _, ~s}", &s, &n)) {
        if (n >= len)
            n = len - 1;
        memcpy(out, s, n);
        out[n] = '\0';
    }
    grove_term_destroy(&m);
}

static bool s_lists(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void test_three_nodes_form_a_full_mesh_from_one_seed(void **state)
{
    (void)state;
    kid *all[3];
    s_daemons(3, NULL, 0, 0, all);
    /* b and c were told of a only: they found each other (and the test
     * node) through it. */
    for (int i = 0; i < 3; i++) {
        grove_pid rep = s_spawn_on(all[i], &nb_reporter, NULL);
        uint64_t deadline = gv_now_ms() + WAIT_MS;
        for (;;) {
            char list[1024];
            s_nodes_of(rep, list, sizeof list);
            bool full = s_lists(list, "t@127.0.0.1") && !s_lists(list, all[i]->name);
            for (int j = 0; j < 3; j++)
                if (j != i && !s_lists(list, all[j]->name))
                    full = false;
            if (full)
                break;
            if (gv_now_ms() >= deadline)
                s_fail("%s sees only [%s]", all[i]->name, list);
            gv_sleep_ms(20);
        }
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j) {
                char line[128];
                snprintf(line, sizeof line, " transport nodeup peer=%s ", all[j]->name);
                s_wait_log(all[i], line, 0, WAIT_MS);
            }
    s_finish();
}

/* ---- b) messages, links and monitors ---- */

static void test_messages_links_and_monitors_work_across_nodes(void **state)
{
    (void)state;
    kid *k[2];
    s_daemons(2, NULL, 0, 0, k);
    kid *a = k[0], *b = k[1];
    grove_pid me = grove_waiter_pid(s_w);

    /* test node <-> b */
    grove_pid echo = s_spawn_on(b, &nb_echo, NULL);
    s_ping(echo);

    /* b -> a: the echo answers a reporter on a, which forwards to us */
    grove_pid rep = s_reporter_on(a);
    grove_node_send(s_t, echo, grove_pack("{ping, ~p}", rep));
    grove_term *m = s_recv_pid("{forward, ~p, {pong, _}}", rep, WAIT_MS);
    grove_pid from;
    assert_true(grove_match(m, "{forward, _, {pong, ~p}}", &from));
    assert_true(grove_pid_equal(from, echo));
    grove_term_destroy(&m);

    /* a link and a monitor from a, a link from the test node, a monitor
     * from the test node's waiter: all see the real reason */
    grove_pid link_a = s_spawn_on(a, &nb_linker, grove_pack("{~p, ~p}", echo, me));
    grove_pid mon_a = s_spawn_on(a, &nb_monitor, grove_pack("{~p, ~p}", echo, me));
    grove_pid link_t = s_spawn_here(&nb_linker, grove_pack("{~p, ~p}", echo, me));
    m = s_recv_pid("{linked, ~p, _}", link_a, WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv_pid("{monitoring, ~p, _}", mon_a, WAIT_MS);
    grove_term_destroy(&m);
    m = s_recv_pid("{linked, ~p, _}", link_t, WAIT_MS);
    grove_term_destroy(&m);
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w, echo, &ref), GROVE_OK);

    grove_node_send(s_t, echo, grove_pack("{crash, {custom, 42}}"));
    m = s_recv_pid("{link_exit, ~p, _, _}", link_a, WAIT_MS);
    s_expect_reason(m, "{link_exit, _, _, ~t}", "{custom, 42}");
    grove_term_destroy(&m);
    m = s_recv_pid("{monitor_down, ~p, _, _}", mon_a, WAIT_MS);
    s_expect_reason(m, "{monitor_down, _, _, ~t}", "{custom, 42}");
    grove_term_destroy(&m);
    m = s_recv_pid("{link_exit, ~p, _, _}", link_t, WAIT_MS);
    s_expect_reason(m, "{link_exit, _, _, ~t}", "{custom, 42}");
    grove_term_destroy(&m);
    m = s_recv_pid("{'DOWN', _, process, ~p, _}", echo, WAIT_MS);
    s_expect_reason(m, "{'DOWN', _, process, _, ~t}", "{custom, 42}");
    grove_term_destroy(&m);

    /* a link to the dead pid, from a: noproc */
    grove_pid late = s_spawn_on(a, &nb_linker, grove_pack("{~p, ~p}", echo, me));
    m = s_recv_pid("{link_exit, ~p, _, _}", late, WAIT_MS);
    s_expect_reason(m, "{link_exit, _, _, ~t}", "noproc");
    grove_term_destroy(&m);
    s_finish();
}

/* ---- c) kill -9 ---- */

static void test_killed_node_fires_noconnection_everywhere(void **state)
{
    (void)state;
    kid *k[3];
    s_daemons(3, NULL, 0, 0, k);
    kid *a = k[0], *b = k[1], *c = k[2];
    grove_pid me = grove_waiter_pid(s_w);
    grove_pid echo = s_spawn_on(b, &nb_echo, NULL);

    /* watchers of the echo on b: on a, on c, on the test node */
    grove_pid links[3], mons[2];
    kid *hosts[] = {a, c};
    for (int i = 0; i < 2; i++) {
        links[i] = s_spawn_on(hosts[i], &nb_linker, grove_pack("{~p, ~p}", echo, me));
        mons[i] = s_spawn_on(hosts[i], &nb_monitor, grove_pack("{~p, ~p}", echo, me));
    }
    links[2] = s_spawn_here(&nb_linker, grove_pack("{~p, ~p}", echo, me));
    for (int i = 0; i < 3; i++) {
        grove_term *m = s_recv_pid("{linked, ~p, _}", links[i], WAIT_MS);
        grove_term_destroy(&m);
    }
    for (int i = 0; i < 2; i++) {
        grove_term *m = s_recv_pid("{monitoring, ~p, _}", mons[i], WAIT_MS);
        grove_term_destroy(&m);
    }
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w, echo, &ref), GROVE_OK);
    s_ping(echo); /* every set-up signal has reached b */

    assert_int_equal(kill(b->pid, SIGKILL), 0);
    if (!s_reap(b, WAIT_MS) || !WIFSIGNALED(b->status) || WTERMSIG(b->status) != SIGKILL)
        s_fail("b did not die of SIGKILL");

    for (int i = 0; i < 3; i++) {
        grove_term *m = s_recv_pid("{link_exit, ~p, _, _}", links[i], WAIT_MS);
        s_expect_reason(m, "{link_exit, _, _, ~t}", "noconnection");
        grove_term_destroy(&m);
    }
    for (int i = 0; i < 2; i++) {
        grove_term *m = s_recv_pid("{monitor_down, ~p, _, _}", mons[i], WAIT_MS);
        s_expect_reason(m, "{monitor_down, _, _, ~t}", "noconnection");
        grove_term_destroy(&m);
    }
    grove_term *m = s_recv_pid("{'DOWN', _, process, ~p, _}", echo, WAIT_MS);
    s_expect_reason(m, "{'DOWN', _, process, _, ~t}", "noconnection");
    grove_term_destroy(&m);
    s_wait_log(a, " dist nodedown peer=b@127.0.0.1 ", 0, WAIT_MS);
    s_wait_log(c, " dist nodedown peer=b@127.0.0.1 ", 0, WAIT_MS);

    /* the survivors go on */
    s_ping(s_spawn_on(c, &nb_echo, NULL));
    s_finish();
}

/* ---- d) SIGSTOP ---- */

static void test_stopped_node_is_declared_down_after_the_silence_not_before(void **state)
{
    (void)state;
    char hb[32], nd[32];
    snprintf(hb, sizeof hb, "GROVE_HEARTBEAT_MS=%d", HB_MS);
    snprintf(nd, sizeof nd, "GROVE_NODEDOWN_MS=%d", ND_MS);
    char *const timing[] = {hb, nd, NULL};
    kid *k[2];
    s_daemons(2, timing, HB_MS, ND_MS, k);
    kid *a = k[0], *b = k[1];
    grove_pid me = grove_waiter_pid(s_w);
    grove_pid echo = s_spawn_on(b, &nb_echo, NULL);
    grove_pid rep = s_reporter_on(a);
    grove_ref ref;
    assert_int_equal(grove_waiter_monitor(s_w, echo, &ref), GROVE_OK);

    /* Silence counts from the last frame heard, up to one heartbeat before
     * the stop. Make sure b has just spoken to both observers: the echo
     * answers us and the reporter on a, within a short round trip. */
    uint64_t rtt = UINT64_MAX;
    for (int tries = 0; tries < 200 && rtt > HB_MS / 2; tries++) {
        uint64_t t = gv_now_ms();
        grove_node_send(s_t, echo, grove_pack("{ping, ~p}", me));
        grove_node_send(s_t, echo, grove_pack("{ping, ~p}", rep));
        grove_term *m = s_recv_pid("{pong, ~p}", echo, WAIT_MS);
        grove_term_destroy(&m);
        m = s_recv_pid("{forward, ~p, {pong, _}}", rep, WAIT_MS);
        grove_term_destroy(&m);
        rtt = gv_now_ms() - t;
    }
    if (rtt > HB_MS / 2)
        s_fail("no round trip to b under %d ms: the lower bound cannot be checked", HB_MS / 2);

    uint64_t t0 = gv_now_ms();
    assert_int_equal(kill(b->pid, SIGSTOP), 0);
    grove_term *m = s_recv_pid("{'DOWN', _, process, ~p, _}", echo, 10 * ND_MS);
    uint64_t down_t = gv_now_ms() - t0;
    s_expect_reason(m, "{'DOWN', _, process, _, ~t}", "noconnection");
    grove_term_destroy(&m);
    m = s_recv_pid("{nodedown, ~p, 'b@127.0.0.1', _}", rep, 10 * ND_MS);
    uint64_t down_a = gv_now_ms() - t0;
    s_expect_reason(m, "{nodedown, _, _, ~t}", "[{nodedown_reason, net_tick_timeout}]");
    grove_term_destroy(&m);
    printf("# SIGSTOP: down at the test node after %llu ms, at a after <= %llu ms "
           "(heartbeat %d, silence %d)\n",
           (unsigned long long)down_t, (unsigned long long)down_a, HB_MS, ND_MS);
    assert_true(down_t >= ND_MS - HB_MS);
    assert_true(down_a >= ND_MS - HB_MS);
    s_wait_log(a, " transport nodedown peer=b@127.0.0.1 reason=net_tick_timeout", 0, WAIT_MS);

    /* back: a new session, and it works again */
    long from = s_log_len(a);
    assert_int_equal(kill(b->pid, SIGCONT), 0);
    m = s_recv_pid("{nodeup, ~p, 'b@127.0.0.1'}", rep, WAIT_MS);
    grove_term_destroy(&m);
    s_wait_log(a, " transport nodeup peer=b@127.0.0.1 ", from, WAIT_MS);
    s_wait_connected(b);
    grove_pid echo2;
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (grove_node_spawn_on(s_t, b->nn, "echo", NULL, WAIT_MS, &echo2) != GROVE_OK) {
        if (gv_now_ms() >= deadline)
            s_fail("no spawn on b after SIGCONT");
        gv_sleep_ms(50);
    }
    s_ping(echo2);
    s_finish();
}

/* ---- e) SIGTERM ---- */

static grove_pid s_whereis(grove_pid reporter, const char *name)
{
    grove_node_send(s_t, reporter, grove_pack("{whereis, ~a, ~p}", name, grove_waiter_pid(s_w)));
    grove_term *m = NULL;
    assert_int_equal(grove_waiter_recv_match(s_w, "{whereis, _, _}", WAIT_MS, &m), GROVE_OK);
    grove_pid pid;
    if (!grove_match(m, "{whereis, _, ~p}", &pid))
        s_fail("%s is not registered", name);
    grove_term_destroy(&m);
    return pid;
}

static void test_sigterm_stops_apps_in_order_and_tells_peers(void **state)
{
    (void)state;
    kid *k[2];
    s_daemons(2, NULL, 0, 0, k);
    kid *a = k[0], *b = k[1];
    grove_pid rep_a = s_reporter_on(a);
    grove_pid rep_b = s_spawn_on(b, &nb_reporter, NULL);
    grove_pid c1 = s_whereis(rep_b, "c1"), c2 = s_whereis(rep_b, "c2");
    grove_pid echo = s_spawn_on(b, &nb_echo, NULL);
    grove_ref r1, r2, r3;
    assert_int_equal(grove_waiter_monitor(s_w, c1, &r1), GROVE_OK);
    assert_int_equal(grove_waiter_monitor(s_w, c2, &r2), GROVE_OK);
    assert_int_equal(grove_waiter_monitor(s_w, echo, &r3), GROVE_OK);
    s_ping(echo);

    long from = s_log_len(b);
    assert_int_equal(kill(b->pid, SIGTERM), 0);
    /* The supervisor stops c2, then c1, while the node is still connected:
     * their DOWNs carry `shutdown`, in that order. Processes outside the
     * application die with the node, after it left: `noconnection`. */
    grove_term *m = NULL;
    assert_int_equal(grove_waiter_recv_match(s_w, "{'DOWN', _, _, _, _}", WAIT_MS, &m), GROVE_OK);
    grove_pid who;
    assert_true(grove_match(m, "{'DOWN', _, process, ~p, _}", &who));
    if (!grove_pid_equal(who, c2))
        s_fail("the first DOWN is not c2's");
    s_expect_reason(m, "{'DOWN', _, process, _, ~t}", "shutdown");
    grove_term_destroy(&m);
    m = s_recv_pid("{'DOWN', _, process, ~p, _}", c1, WAIT_MS);
    s_expect_reason(m, "{'DOWN', _, process, _, ~t}", "shutdown");
    grove_term_destroy(&m);
    m = s_recv_pid("{'DOWN', _, process, ~p, _}", echo, WAIT_MS);
    s_expect_reason(m, "{'DOWN', _, process, _, ~t}", "noconnection");
    grove_term_destroy(&m);

    s_expect_exit(b, 0);
    /* its log tells the story in order */
    static const char *const story[] = {
        " daemon signal_received signal=TERM",
        " daemon stopping reason=signal",
        "test child_terminated id=c2 reason=shutdown",
        "test child_terminated id=c1 reason=shutdown",
        "test app_stop_called app=testapp",
        " app stopped app=testapp reason=shutdown ",
        " node stopped name=b@127.0.0.1",
        " daemon stopped code=0",
    };
    long at = from;
    for (size_t i = 0; i < sizeof story / sizeof *story; i++)
        at = s_wait_log(b, story[i], at, 0);

    /* a was told goodbye: nodedown with reason shutdown, not a timeout */
    m = s_recv_pid("{nodedown, ~p, 'b@127.0.0.1', _}", rep_a, WAIT_MS);
    s_expect_reason(m, "{nodedown, _, _, ~t}", "[{nodedown_reason, shutdown}]");
    grove_term_destroy(&m);
    s_wait_log(a, " transport nodedown peer=b@127.0.0.1 reason=shutdown", 0, WAIT_MS);
    s_finish();
}

/* An application's top process dying ends the daemon (status 70), as a
 * permanent OTP application's does. */
static void test_daemon_exits_when_an_app_top_process_dies(void **state)
{
    (void)state;
    kid *a;
    s_daemons(1, NULL, 0, 0, &a);
    grove_pid rep = s_spawn_on(a, &nb_reporter, NULL);
    grove_pid sup = s_whereis(rep, "test_sup");
    long from = s_log_len(a);
    assert_int_equal(grove_node_exit(s_t, sup, grove_atom("kill")), GROVE_OK);
    s_expect_exit(a, 70);
    long at = s_wait_log(a, " app exited app=testapp reason=killed", from, 0);
    at = s_wait_log(a, " daemon stopping reason=app_exited app=testapp", at, 0);
    at = s_wait_log(a, "test app_stop_called app=testapp", at, 0);
    s_wait_log(a, " daemon stopped code=70", at, 0);
    s_finish();
}

/* A second SIGTERM while stopping ends the daemon at once, status 1. */
static void test_second_sigterm_while_stopping_exits_at_once(void **state)
{
    (void)state;
    char *const slow[] = {"TEST_NODE_STOP_SLEEP_MS=60000", NULL};
    kid *a = s_daemon(0, "a", NULL, slow);
    assert_int_equal(kill(a->pid, SIGTERM), 0);
    s_wait_log(a, "test app_stop_called", 0, WAIT_MS);
    uint64_t t0 = gv_now_ms();
    assert_int_equal(kill(a->pid, SIGTERM), 0);
    s_expect_exit(a, 1);
    assert_true(gv_now_ms() - t0 < 30000); /* well before the 60 s stop */
    s_wait_log(a, " daemon forced_exit signal=TERM code=1", 0, 0);
    s_finish();
}

/* An argument selects tests by name (cmocka's filter: `*` wildcards). */
int main(int argc, char **argv)
{
    if (nb_register_behaviours() != GROVE_OK)
        return 1;
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {

        cmocka_unit_test_setup_teardown(test_three_nodes_form_a_full_mesh_from_one_seed, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_messages_links_and_monitors_work_across_nodes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_killed_node_fires_noconnection_everywhere, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_stopped_node_is_declared_down_after_the_silence_not_before, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_stops_apps_in_order_and_tells_peers, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_exits_when_an_app_top_process_dies, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_second_sigterm_while_stopping_exits_at_once, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
