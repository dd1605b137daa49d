/*
 * daemon_cli_test.c - grove-node's command line and signals, run as the
 * real executable: --help, --version, usage errors (64), a configuration
 * that cannot start (78), a local node with no configuration at all,
 * SIGHUP ignored and SIGINT stopping it (docs/daemon.md). The cluster
 * behaviour of the daemon is node_proc_test.c's.
 *
 * Children get SIGKILL when the test process ends (PR_SET_PDEATHSIG) and
 * are always reaped; no GROVE_* variable of the test's environment leaks
 * into them.
 */
#include <grove/app.h>

#include "base/gv_clock.h"
#include "daemon_kid.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#ifndef GROVE_NODE_BIN
#error "GROVE_NODE_BIN: the grove-node executable (tests/cluster/CMakeLists.txt)"
#endif

#define WAIT_MS 20000 /* any single wait: sanitizer builds on a loaded 2-core machine */

typedef struct s_run_out {
    char out[16384];
    char err[16384];
    int status;
} s_run_out;

/* Runs grove-node with args and extra variables to completion. */
static void s_run(char *const *args, char *const *extra, s_run_out *r)
{
    memset(r, 0, sizeof *r);
    char *argv[16] = {(char *)GROVE_NODE_BIN};
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    char **env = dk_env(extra);
    int po[2], pe[2];
    assert_int_equal(pipe2(po, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
    pid_t pid = dk_fork_exec(GROVE_NODE_BIN, argv, env, po[1], pe[1]);
    dk_free_env(env);
    close(po[1]);
    close(pe[1]);
    assert_true(pid > 0);
    size_t n[2] = {0, 0};
    char *buf[2] = {r->out, r->err};
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    while (open_fds > 0 && gv_now_ms() < deadline) {
        if (poll(fds, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t got = read(fds[i].fd, buf[i] + n[i], sizeof r->out - 1 - n[i]);
            if (got > 0) {
                n[i] += (size_t)got;
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    kill(pid, SIGKILL); /* a no-op unless it hung */
    r->status = dk_reap(pid);
    if (open_fds > 0)
        fail_msg("grove-node %s did not finish", args[0] ? args[0] : "");
    if (dk_sanitizer_mark(r->err))
        fail_msg("grove-node %s: sanitizer report:\n%s", args[0] ? args[0] : "", r->err);
}

static void s_expect_status(const s_run_out *r, int code, const char *what)
{
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
        fail_msg("%s: status 0x%x, expected exit %d\nstdout: %s\nstderr: %s", what,
                 (unsigned)r->status, code, r->out, r->err);
}

static void test_command_line_help_version_and_bad_configuration(void **state)
{
    (void)state;
    s_run_out *r = calloc(1, sizeof *r);
    char *const none[] = {NULL};

    char *const help[] = {"--help", NULL};
    s_run(help, none, r);
    s_expect_status(r, 0, "--help");
    static const char *const flags[][2] = {
        {"--node ", "GROVE_NODE"},
        {"--listen ", "GROVE_LISTEN"},
        {"--advertise ", "GROVE_ADVERTISE"},
        {"--seeds ", "GROVE_SEEDS"},
        {"--cookie-file ", "GROVE_COOKIE_FILE"},
        {"--insecure", "GROVE_INSECURE"},
        {"--schedulers ", "GROVE_SCHEDULERS"},
        {"--task-threads ", "GROVE_TASK_THREADS"},
        {"--heartbeat-ms ", "GROVE_HEARTBEAT_MS"},
        {"--nodedown-ms ", "GROVE_NODEDOWN_MS"},
        {"--log ", "GROVE_LOG"},
        {"--shutdown-ms ", "GROVE_SHUTDOWN_MS"},
        {"--version", "-V"},
    };
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (!strstr(r->out, flags[i][0]) || !strstr(r->out, flags[i][1]))
            fail_msg("--help does not mention %s / %s:\n%s", flags[i][0], flags[i][1], r->out);
    assert_string_equal(r->err, "");

    char *const version[] = {"--version", NULL};
    s_run(version, none, r);
    s_expect_status(r, 0, "--version");
    char want[64];
    snprintf(want, sizeof want, "grove-node %s\n", grove_version());
    assert_string_equal(r->out, want);

    /* usage errors: 64, a message naming the culprit, nothing started */
    static const struct {
        const char *args[3];
        const char *env;
        const char *says;
    } bad[] = {
        {{"--bogus", NULL}, NULL, "--bogus"},
        {{"--schedulers", "two", NULL}, NULL, "--schedulers"},
        {{"--heartbeat-ms=12x", NULL}, NULL, "--heartbeat-ms"},
        {{"--nodedown-ms", NULL}, NULL, "needs a value"},
        {{"--cookie=secret", NULL}, NULL, "--cookie-file"},
        {{"extra", NULL}, NULL, "extra"},
        {{NULL}, "GROVE_SCHEDULERS=0", "GROVE_SCHEDULERS"},
        {{NULL}, "GROVE_NODEDOWN_MS=-5", "GROVE_NODEDOWN_MS"},
        {{NULL}, "GROVE_LOG=loud", "GROVE_LOG"},
        {{NULL}, "GROVE_INSECURE=maybe", "GROVE_INSECURE"},
        {{"--heartbeat-ms", "500", NULL}, "GROVE_NODEDOWN_MS=400", "heartbeat"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *const env[] = {(char *)bad[i].env, NULL};
        s_run((char *const *)bad[i].args, env, r);
        char what[128];
        snprintf(what, sizeof what, "%s %s", bad[i].args[0] ? bad[i].args[0] : "",
                 bad[i].env ? bad[i].env : "");
        s_expect_status(r, 64, what);
        if (!strstr(r->err, bad[i].says))
            fail_msg("%s: the message does not name %s: %s", what, bad[i].says, r->err);
        assert_null(strstr(r->err, " daemon started "));
    }

    /* a flag wins over its variable: a valid flag over a bad variable */
    char *const ok_flag[] = {"--schedulers", "2", "--version", NULL};
    char *const bad_var[] = {"GROVE_SCHEDULERS=many", NULL};
    s_run(ok_flag, bad_var, r);
    s_expect_status(r, 0, "--schedulers 2 over GROVE_SCHEDULERS=many");

    /* listening without a secret: the node refuses, 78 */
    char *const listen[] = {"--listen", "127.0.0.1:0", "--node", "x@127.0.0.1", NULL};
    s_run(listen, none, r);
    s_expect_status(r, 78, "--listen without a secret");
    if (!strstr(r->err, " node start_failed ") || !strstr(r->err, "no usable secret") ||
        !strstr(r->err, " daemon start_failed reason=node code=78"))
        fail_msg("no start_failed lines:\n%s", r->err);
    /* a cookie file that does not exist: 78 too */
    char *const nofile[] = {"--listen", "127.0.0.1:0", "--cookie-file", "/nonexistent/cookie",
                            NULL};
    s_run(nofile, none, r);
    s_expect_status(r, 78, "--cookie-file missing");
    free(r);
}

/* Reads fd into buf (NUL-terminated, len bytes at most) until it holds
 * `needle` after byte `from`; returns where it starts. */
static size_t s_read_until(int fd, char *buf, size_t len, size_t *n, const char *needle,
                           size_t from)
{
    uint64_t deadline = gv_now_ms() + WAIT_MS;
    for (;;) {
        const char *p = strstr(buf + from, needle);
        if (p)
            return (size_t)(p - buf);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (gv_now_ms() >= deadline || *n + 1 >= len)
            fail_msg("no \"%s\" on grove-node's stderr:\n%s", needle, buf);
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t got = read(fd, buf + *n, len - 1 - *n);
        if (got <= 0)
            fail_msg("grove-node's stderr ended before \"%s\":\n%s", needle, buf);
        *n += (size_t)got;
        buf[*n] = '\0';
    }
}

static pid_t s_local_pid = -1;

/* With no configuration at all grove-node runs a local node (no secret
 * needed, lifecycle logged at info); SIGHUP is ignored, SIGINT stops it. */
static void test_local_daemon_runs_without_configuration_and_stops_on_sigint(void **state)
{
    (void)state;
    char **env = dk_env(NULL);
    int pe[2];
    assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true(devnull >= 0);
    char *argv[] = {(char *)GROVE_NODE_BIN, NULL};
    s_local_pid = dk_fork_exec(GROVE_NODE_BIN, argv, env, devnull, pe[1]);
    dk_free_env(env);
    close(pe[1]);
    close(devnull);
    assert_true(s_local_pid > 0);
    static char buf[65536];
    size_t n = 0;
    buf[0] = '\0';
    size_t at = s_read_until(pe[0], buf, sizeof buf, &n, " daemon started ", 0);
    assert_non_null(strstr(buf + at, " address=- ")); /* a local node */
    at = s_read_until(pe[0], buf, sizeof buf, &n, " daemon ready apps=0", at);
    assert_int_equal(kill(s_local_pid, SIGHUP), 0);
    at = s_read_until(pe[0], buf, sizeof buf, &n,
                      " daemon signal_received signal=HUP action=ignored", at);
    assert_int_equal(kill(s_local_pid, SIGINT), 0);
    at = s_read_until(pe[0], buf, sizeof buf, &n, " daemon signal_received signal=INT action=stop",
                      at);
    at = s_read_until(pe[0], buf, sizeof buf, &n, " daemon stopped code=0", at);
    /* then its stderr ends and it exits 0 */
    for (;;) {
        ssize_t got = n + 1 < sizeof buf ? read(pe[0], buf + n, sizeof buf - 1 - n) : 0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
        buf[n] = '\0';
    }
    close(pe[0]);
    int st = dk_reap(s_local_pid);
    s_local_pid = -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("status 0x%x, expected exit 0:\n%s", (unsigned)st, buf);
    if (dk_sanitizer_mark(buf))
        fail_msg("sanitizer report:\n%s", buf);
}

/* A child left by a failed test is killed and reaped. */
static int s_teardown(void **state)
{
    (void)state;
    if (s_local_pid > 0) {
        kill(s_local_pid, SIGKILL);
        dk_reap(s_local_pid);
        s_local_pid = -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_line_help_version_and_bad_configuration),
        cmocka_unit_test_teardown(test_local_daemon_runs_without_configuration_and_stops_on_sigint,
                                  s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
