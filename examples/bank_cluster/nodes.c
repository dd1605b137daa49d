/*
 * nodes.c - the daemons of nodes.h.
 */
#include "nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int64_t dn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dn_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void *s_reader(void *arg)
{
    demo_node *n = arg;
    char buf[4096];
    for (;;) {
        ssize_t got = read(n->fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return NULL;
        pthread_mutex_lock(&n->mu);
        if (n->len + (size_t)got + 1 > n->cap) {
            size_t cap = n->cap ? n->cap : 16384;
            while (n->len + (size_t)got + 1 > cap)
                cap *= 2;
            char *p = realloc(n->log, cap);
            if (!p)
                abort();
            n->log = p;
            n->cap = cap;
        }
        memcpy(n->log + n->len, buf, (size_t)got);
        n->len += (size_t)got;
        n->log[n->len] = '\0';
        pthread_mutex_unlock(&n->mu);
    }
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *s_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* The tuning variables a user may set for the whole demo. */
static bool s_passes(const char *var)
{
    static const char *const pass[] = {
        "GROVE_HEARTBEAT_MS=", "GROVE_NODEDOWN_MS=", "GROVE_SCHEDULERS=", "GROVE_SHUTDOWN_MS="};
    for (size_t i = 0; i < sizeof pass / sizeof *pass; i++)
        if (strncmp(var, pass[i], strlen(pass[i])) == 0)
            return true;
    return strncmp(var, "GROVE_", 6) != 0;
}

static char **s_env(const char *name, const char *cookie, const char *seeds)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof *env);
    if (!env)
        abort();
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (s_passes(environ[i]))
            env[j++] = strdup(environ[i]);
    env[j++] = s_printf("GROVE_NODE=%s", name);
    env[j++] = s_printf("GROVE_LISTEN=127.0.0.1:0");
    env[j++] = s_printf("GROVE_COOKIE=%s", cookie);
    env[j++] = s_printf("GROVE_LOG=info");
    if (seeds)
        env[j++] = s_printf("GROVE_SEEDS=%s", seeds);
    env[j] = NULL;
    return env;
}

static void s_free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

bool dn_start(demo_node *n, const char *bin, const char *name, const char *cookie,
              const char *seeds, char *err, size_t errlen)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    snprintf(n->name, sizeof n->name, "%s", name);
    if (grove_nodename_intern(n->name, strlen(n->name), &n->nn) != GROVE_OK) {
        snprintf(err, errlen, "bad node name %s", name);
        return false;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return false;
    }
    char **env = s_env(n->name, cookie, seeds);
    char *argv[] = {(char *)bin, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. The death
         * signal also covers a parent that died before the prctl. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        if (dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(127);
        execve(bin, argv, env);
        _exit(127);
    }
    int fork_errno = errno;
    s_free_env(env);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        snprintf(err, errlen, "fork: %s", strerror(fork_errno));
        return false;
    }
    n->pid = pid;
    n->fd = p[0];
    pthread_mutex_init(&n->mu, NULL);
    if (pthread_create(&n->reader, NULL, s_reader, n) != 0) {
        snprintf(err, errlen, "cannot start a thread to read %s's log", n->name);
        return false;
    }
    n->reader_running = true;
    return true;
}

static long s_find(demo_node *n, const char *needle, long from)
{
    long at = -1;
    pthread_mutex_lock(&n->mu);
    if (n->log && (size_t)from <= n->len) {
        const char *p = strstr(n->log + from, needle);
        if (p)
            at = p - n->log;
    }
    pthread_mutex_unlock(&n->mu);
    return at;
}

static void s_join_reader(demo_node *n)
{
    if (n->reader_running) {
        pthread_join(n->reader, NULL);
        n->reader_running = false;
    }
}

bool dn_reap(demo_node *n, int64_t ms)
{
    int64_t deadline = dn_now_ms() + ms;
    while (!n->reaped) {
        int st;
        pid_t r = waitpid(n->pid, &st, WNOHANG);
        if (r == n->pid) {
            n->reaped = true;
            n->status = st;
        } else if (r < 0 && errno != EINTR) {
            return false;
        } else if (dn_now_ms() >= deadline) {
            return false;
        } else {
            dn_sleep_ms(5);
        }
    }
    /* Its output is complete once the reader has seen the pipe close. */
    s_join_reader(n);
    return true;
}

void dn_describe_status(const demo_node *n, char *out, size_t len)
{
    if (!n->reaped)
        snprintf(out, len, "still running");
    else if (WIFEXITED(n->status))
        snprintf(out, len, "exit %d", WEXITSTATUS(n->status));
    else if (WIFSIGNALED(n->status))
        snprintf(out, len, "killed by signal %d", WTERMSIG(n->status));
    else
        snprintf(out, len, "status 0x%x", (unsigned)n->status);
}

long dn_wait_log(demo_node *n, const char *needle, long from, int64_t ms, char *err, size_t errlen)
{
    int64_t deadline = dn_now_ms() + ms;
    for (;;) {
        long at = s_find(n, needle, from);
        if (at >= 0)
            return at;
        if (n->reaped || dn_reap(n, 0)) {
            at = s_find(n, needle, from);
            if (at >= 0)
                return at;
            char st[64];
            dn_describe_status(n, st, sizeof st);
            snprintf(err, errlen, "%s ended (%s) before logging \"%s\"", n->name, st, needle);
            return -1;
        }
        if (dn_now_ms() >= deadline) {
            snprintf(err, errlen, "%s logged no \"%s\" within %lld ms", n->name, needle,
                     (long long)ms);
            return -1;
        }
        dn_sleep_ms(10);
    }
}

void dn_log_value(demo_node *n, long at, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    pthread_mutex_lock(&n->mu);
    if (n->log && at >= 0 && (size_t)at <= n->len) {
        const char *line = n->log + at;
        const char *eol = strchr(line, '\n');
        const char *p = strstr(line, key);
        if (p && (!eol || p < eol)) {
            p += strlen(key);
            size_t k = strcspn(p, " \n");
            if (k >= len)
                k = len - 1;
            memcpy(out, p, k);
            out[k] = '\0';
        }
    }
    pthread_mutex_unlock(&n->mu);
}

long dn_log_len(demo_node *n)
{
    pthread_mutex_lock(&n->mu);
    long len = (long)n->len;
    pthread_mutex_unlock(&n->mu);
    return len;
}

bool dn_sanitizer_report(demo_node *n)
{
    static const char *const marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                        "WARNING: ThreadSanitizer", "runtime error:"};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (s_find(n, marks[i], 0) >= 0)
            return true;
    return false;
}

void dn_dump_tail(demo_node *n, int lines)
{
    if (!n->pid)
        return;
    char st[64];
    if (!n->reaped)
        dn_reap(n, 0);
    dn_describe_status(n, st, sizeof st);
    pthread_mutex_lock(&n->mu);
    const char *start = n->log ? n->log : "";
    const char *p = start + n->len;
    int seen = 0;
    while (p > start) {
        if (p[-1] == '\n' && p != start + n->len && ++seen >= lines)
            break;
        p--;
    }
    fprintf(stderr, "---- the last lines of %s's log (pid %d, %s) ----\n%s", n->name, (int)n->pid,
            st, p);
    if (n->len && start[n->len - 1] != '\n')
        fputc('\n', stderr);
    pthread_mutex_unlock(&n->mu);
}

void dn_destroy(demo_node *n)
{
    if (!n->pid)
        return;
    if (!n->reaped) {
        kill(n->pid, SIGKILL);
        int st;
        while (waitpid(n->pid, &st, 0) < 0 && errno == EINTR)
            ;
        n->reaped = true;
        n->status = st;
    }
    s_join_reader(n);
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    pthread_mutex_destroy(&n->mu);
    free(n->log);
    n->log = NULL;
    n->pid = 0;
}
