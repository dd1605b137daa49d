/*
 * daemon.c - grove_node_main, the generic node daemon (DESIGN.md sections
 * 8 and 9), and the application table. docs/daemon.md.
 *
 * Threads: main() parses the configuration, blocks the stop signals (so
 * every thread the node starts inherits the mask), starts the node and the
 * applications, then waits on a waiter for either a stop request or the
 * exit of an application's top process. A signal thread sigwait()s and
 * turns the first SIGTERM/SIGINT into a message to that waiter; once the
 * daemon is stopping it no longer touches the node, and a further
 * SIGTERM/SIGINT ends the process at once.
 */
#include <grove/app.h>
#include <grove/gen_server.h>
#include <grove/node.h>
#include <grove/process.h>

#include "base/gv_clock.h"
#include "base/gv_log.h"
#include "base/gv_thread.h"
#include "otp/otp_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GROVE_VERSION_TEXT
#error "GROVE_VERSION_TEXT comes from CMakeLists.txt's project(VERSION)"
#endif

/* sysexits.h's values, spelled out so the contract is visible here. */
enum { S_EX_OK = 0, S_EX_FORCED = 1, S_EX_USAGE = 64, S_EX_SOFTWARE = 70, S_EX_CONFIG = 78 };

/* The transport's defaults (docs/transport.md), for the check that
 * silence outlasts a heartbeat. */
#define S_HEARTBEAT_DEFAULT 250ul
#define S_NODEDOWN_DEFAULT 1500ul
#define S_SHUTDOWN_DEFAULT 5000ul
#define S_MS_MAX 86400000ul /* a day, as the transport allows */
#define S_MAX_APPS 64

const char *grove_version(void)
{
    return GROVE_VERSION_TEXT;
}

/* ---- the application table ---------------------------------------------------------------- */

static grove_app s_apps[S_MAX_APPS];
static size_t s_napps;

grove_err grove_app_register(const grove_app *app)
{
    if (!app || !app->name || !*app->name || !app->start)
        return GROVE_EINVAL;
    for (size_t i = 0; i < s_napps; i++)
        if (strcmp(s_apps[i].name, app->name) == 0)
            return GROVE_EEXIST;
    if (s_napps == S_MAX_APPS)
        return GROVE_ENOMEM;
    s_apps[s_napps++] = *app;
    return GROVE_OK;
}

/* ---- configuration ------------------------------------------------------------------------ */

typedef enum s_kind { K_STR, K_UINT, K_LEVEL, K_BOOL } s_kind;

typedef enum s_key {
    O_NODE,
    O_LISTEN,
    O_ADVERTISE,
    O_SEEDS,
    O_COOKIE_FILE,
    O_NODE_KEY_FILE,
    O_ALLOWLIST_FILE,
    O_INSECURE,
    O_SCHEDULERS,
    O_TASK_THREADS,
    O_HEARTBEAT,
    O_NODEDOWN,
    O_FORGET,
    O_SHUTDOWN,
    O_LOG,
    O_COUNT_
} s_key;

typedef struct s_opt {
    const char *flag; /* without the leading "--" */
    const char *env;
    s_kind kind;
    unsigned long min, max; /* K_UINT */
    const char *arg;        /* the value's name in --help */
    const char *help;
} s_opt;

/* One table drives parsing, validation and --help; docs/daemon.md has the
 * same rows. The secret itself (GROVE_COOKIE) has no flag on purpose: a
 * command line is visible to every user through ps. */
static const s_opt s_opts[O_COUNT_] = {
    [O_NODE] = {"node", "GROVE_NODE", K_STR, 0, 0, "NAME@HOST",
                "node name (default nonode@nohost)"},
    [O_LISTEN] = {"listen", "GROVE_LISTEN", K_STR, 0, 0, "HOST:PORT",
                  "listen here (port 0: any free port); none: a local node"},
    [O_ADVERTISE] = {"advertise", "GROVE_ADVERTISE", K_STR, 0, 0, "HOST:PORT",
                     "the address peers dial (default: derived from --listen)"},
    [O_SEEDS] = {"seeds", "GROVE_SEEDS", K_STR, 0, 0, "HOST:PORT,...", "members to join"},
    [O_COOKIE_FILE] = {"cookie-file", "GROVE_COOKIE_FILE", K_STR, 0, 0, "PATH",
                       "file holding the cluster secret (or GROVE_COOKIE)"},
    [O_NODE_KEY_FILE] = {"node-key-file", "GROVE_NODE_KEY_FILE", K_STR, 0, 0, "PATH",
                         "this node's secret key (per-node keys)"},
    [O_ALLOWLIST_FILE] = {"allowlist-file", "GROVE_ALLOWLIST_FILE", K_STR, 0, 0, "PATH",
                          "the allow-list of node keys (per-node keys)"},
    [O_INSECURE] = {"insecure", "GROVE_INSECURE", K_BOOL, 0, 0, NULL,
                    "allow the well-known demo secret"},
    [O_SCHEDULERS] = {"schedulers", "GROVE_SCHEDULERS", K_UINT, 1, 64, "N",
                      "scheduler threads (default: online CPUs)"},
    [O_TASK_THREADS] = {"task-threads", "GROVE_TASK_THREADS", K_UINT, 1, 1024, "N",
                        "task pool threads (default 4)"},
    [O_HEARTBEAT] = {"heartbeat-ms", "GROVE_HEARTBEAT_MS", K_UINT, 1, S_MS_MAX, "MS",
                     "heartbeat interval (default 250)"},
    [O_NODEDOWN] = {"nodedown-ms", "GROVE_NODEDOWN_MS", K_UINT, 1, S_MS_MAX, "MS",
                    "silence after which a peer is down (default 1500)"},
    [O_FORGET] = {"forget-ms", "GROVE_FORGET_MS", K_UINT, 1, S_MS_MAX, "MS",
                  "a member down this long is forgotten (default 60000)"},
    [O_SHUTDOWN] = {"shutdown-ms", "GROVE_SHUTDOWN_MS", K_UINT, 1, S_MS_MAX, "MS",
                    "time each application gets to stop (default 5000)"},
    [O_LOG] = {"log", "GROVE_LOG", K_LEVEL, 0, 0, "LEVEL",
               "error, warn, info (default), debug or trace"},
};

typedef struct s_cfg {
    const char *val[O_COUNT_]; /* the flag's value, else the variable's; NULL: unset */
    bool flag[O_COUNT_];       /* val came from a flag */
    unsigned long num[O_COUNT_];
    bool on[O_COUNT_]; /* K_BOOL */
    gv_log_level level;
} s_cfg;

static void s_usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [options]\n"
            "\n"
            "Runs a Grove node and the applications linked into it until SIGTERM or SIGINT.\n"
            "Every option can also be set by the environment variable shown beside it; a flag\n"
            "wins over its variable. The cluster secret is read from --cookie-file or\n"
            "GROVE_COOKIE_FILE (or GROVE_COOKIE), never from the command line.\n"
            "\n"
            "options:\n",
            prog);
    for (int i = 0; i < O_COUNT_; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", s_opts[i].flag, s_opts[i].arg ? " " : "",
                 s_opts[i].arg ? s_opts[i].arg : "");
        fprintf(f, "  %-28s %s\n      %s\n", left, s_opts[i].env, s_opts[i].help);
    }
    fputs("  -h, --help\n      print this help and exit\n"
          "  -V, --version\n      print the version and exit\n",
          f);
    if (s_napps) {
        fputs("\napplications:", f);
        for (size_t i = 0; i < s_napps; i++)
            fprintf(f, " %s", s_apps[i].name);
        fputc('\n', f);
    }
    fputs("\nexit status: 0 stopped, 1 forced by a second signal, 64 bad usage,\n"
          "70 an application failed, 78 the node cannot start with this configuration\n",
          f);
}

static const char *s_prog(const char *argv0)
{
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    return slash ? slash + 1 : argv0 && *argv0 ? argv0 : "grove-node";
}

/* Prints a usage error and returns the usage exit status. */
__attribute__((format(printf, 2, 3))) static int s_bad(const char *prog, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n%s: try '%s --help'\n", prog, msg, prog, prog);
    return S_EX_USAGE;
}

/* Digits only, no sign, no blanks, within [min, max]. */
static bool s_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!text || !*text)
        return false;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    if (errno || *end || n < min || n > max)
        return false;
    *out = n;
    return true;
}

static bool s_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"", "0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (strcmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Where a value came from, for messages: "--listen" or "GROVE_LISTEN". */
static void s_source(const s_cfg *c, int i, char *buf, size_t len)
{
    if (c->flag[i])
        snprintf(buf, len, "--%s", s_opts[i].flag);
    else
        snprintf(buf, len, "%s", s_opts[i].env);
}

/* Checks one value; returns 0 or the usage exit status. */
static int s_check(const char *prog, s_cfg *c, int i)
{
    const s_opt *o = &s_opts[i];
    const char *v = c->val[i];
    char src[48];
    s_source(c, i, src, sizeof src);
    switch (o->kind) {
    case K_STR:
        return 0;
    case K_UINT:
        if (!s_parse_uint(v, o->min, o->max, &c->num[i]))
            return s_bad(prog, "%s: \"%s\" is not a whole number from %lu to %lu", src, v, o->min,
                         o->max);
        return 0;
    case K_LEVEL:
        if (!gv_log_parse_level(v, &c->level))
            return s_bad(prog, "%s: \"%s\" is not a log level (error, warn, info, debug, trace)",
                         src, v);
        return 0;
    case K_BOOL:
        if (!s_parse_bool(v, &c->on[i]))
            return s_bad(prog, "%s: \"%s\" is not a yes/no value (1, true, yes, 0, false, no)", src,
                         v);
        return 0;
    }
    return 0;
}

/* Parses argv and the environment into *c. Returns -1 to go on, or the
 * exit status (0 after --help or --version). */
static int s_parse(int argc, char **argv, s_cfg *c)
{
    const char *prog = s_prog(argc > 0 ? argv[0] : NULL);
    memset(c, 0, sizeof *c);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout, prog);
            return S_EX_OK;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("grove-node %s\n", grove_version());
            return S_EX_OK;
        }
        if (!strcmp(a, "--")) {
            if (i + 1 < argc)
                return s_bad(prog, "unexpected argument '%s'", argv[i + 1]);
            break;
        }
        if (strncmp(a, "--", 2) != 0)
            return s_bad(prog, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = -1;
        for (int j = 0; j < O_COUNT_; j++)
            if (strlen(s_opts[j].flag) == len && !strncmp(s_opts[j].flag, name, len))
                k = j;
        if (k < 0) {
            if (len == 6 && !strncmp(name, "cookie", 6))
                return s_bad(prog, "the secret is not taken on the command line (ps shows it): "
                                   "use --cookie-file or GROVE_COOKIE_FILE");
            return s_bad(prog, "unknown option '--%.*s'", (int)len, name);
        }
        if (s_opts[k].kind == K_BOOL) {
            if (eq)
                return s_bad(prog, "option '--%s' takes no value", s_opts[k].flag);
            c->val[k] = "1";
        } else if (eq) {
            c->val[k] = eq + 1;
        } else if (i + 1 < argc) {
            c->val[k] = argv[++i];
        } else {
            return s_bad(prog, "option '--%s' needs a value (%s)", s_opts[k].flag, s_opts[k].arg);
        }
        c->flag[k] = true;
    }
    for (int i = 0; i < O_COUNT_; i++) {
        if (!c->flag[i]) {
            const char *v = getenv(s_opts[i].env);
            c->val[i] = v && *v ? v : NULL; /* an empty variable is unset, as elsewhere */
        }
        int rc = c->val[i] ? s_check(prog, c, i) : 0;
        if (rc)
            return rc;
    }
    unsigned long hb = c->val[O_HEARTBEAT] ? c->num[O_HEARTBEAT] : S_HEARTBEAT_DEFAULT;
    unsigned long down = c->val[O_NODEDOWN] ? c->num[O_NODEDOWN] : S_NODEDOWN_DEFAULT;
    if (down <= hb)
        return s_bad(prog,
                     "the nodedown silence (%lu ms) must be longer than the heartbeat "
                     "interval (%lu ms)",
                     down, hb);
    if (c->flag[O_COOKIE_FILE] && (c->flag[O_NODE_KEY_FILE] || c->flag[O_ALLOWLIST_FILE]))
        return s_bad(prog, "--cookie-file and per-node keys (--node-key-file, "
                           "--allowlist-file) exclude each other");
    return -1;
}

static void s_setenv(const char *name, const char *value)
{
    if (setenv(name, value, 1) != 0)
        gv_log(GV_LOG_WARN, "daemon", "setenv_failed", "variable=%s", name);
}

/* Fills the node's options; what has no option is passed through the
 * environment, before any thread exists. */
static void s_apply(const s_cfg *c, grove_node_opts *o)
{
    memset(o, 0, sizeof *o);
    o->name = c->val[O_NODE];
    o->listen = c->val[O_LISTEN];
    o->advertise = c->val[O_ADVERTISE];
    o->seeds = c->val[O_SEEDS];
    o->insecure = c->val[O_INSECURE] && c->on[O_INSECURE];
    o->schedulers = c->val[O_SCHEDULERS] ? (unsigned)c->num[O_SCHEDULERS] : 0;
    o->heartbeat_ms = c->val[O_HEARTBEAT] ? (unsigned)c->num[O_HEARTBEAT] : 0;
    o->nodedown_ms = c->val[O_NODEDOWN] ? (unsigned)c->num[O_NODEDOWN] : 0;
    gv_log_set_level(c->val[O_LOG] ? c->level : GV_LOG_INFO);
    static const s_key via_env[] = {O_TASK_THREADS, O_FORGET, O_COOKIE_FILE, O_NODE_KEY_FILE,
                                    O_ALLOWLIST_FILE};
    for (size_t i = 0; i < sizeof via_env / sizeof *via_env; i++)
        if (c->flag[via_env[i]])
            s_setenv(s_opts[via_env[i]].env, c->val[via_env[i]]);
    /* Per-node keys take precedence over a cookie file in the key reader:
     * a --cookie-file flag wins over them when they come from the
     * environment. */
    if (c->flag[O_COOKIE_FILE]) {
        unsetenv("GROVE_NODE_KEY_FILE");
        unsetenv("GROVE_ALLOWLIST_FILE");
    }
}

/* ---- the daemon --------------------------------------------------------------------------- */

typedef struct s_app_run {
    bool has_top;
    bool exited; /* its top process is gone (its DOWN was taken) */
    grove_pid top;
    grove_ref ref;
    grove_term *exit_reason; /* the top's exit reason once exited */
} s_app_run;

typedef struct s_daemon {
    grove_node *node;
    grove_waiter *w; /* main's */
    grove_pid main_pid;
    unsigned shutdown_ms;
    sigset_t sigs;
    gv_thread sig_thread;
    bool sig_running;
    gv_mutex mu;
    bool stopping;         /* under mu: from now on, the signal thread leaves the node alone */
    _Atomic bool sig_quit; /* main is done: the signal thread ends at its wake-up */
    size_t started;        /* applications started, in s_apps order */
    s_app_run run[S_MAX_APPS];
} s_daemon;

static const char *s_signame(int sig)
{
    switch (sig) {
    case SIGTERM:
        return "TERM";
    case SIGINT:
        return "INT";
    case SIGHUP:
        return "HUP";
    default:
        return "other";
    }
}

static void *s_signal_main(void *arg)
{
    s_daemon *d = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&d->sigs, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            /* pthread_kill from main at the end; an outside SIGUSR1 is ignored. */
            if (atomic_load_explicit(&d->sig_quit, memory_order_acquire))
                return NULL;
            continue;
        }
        if (sig == SIGHUP) {
            gv_log(GV_LOG_INFO, "daemon", "signal_received", "signal=HUP action=ignored");
            continue;
        }
        gv_mutex_lock(&d->mu);
        if (d->stopping) {
            gv_mutex_unlock(&d->mu);
            gv_log(GV_LOG_WARN, "daemon", "forced_exit", "signal=%s code=%d", s_signame(sig),
                   S_EX_FORCED);
            _exit(S_EX_FORCED);
        }
        d->stopping = true;
        gv_log(GV_LOG_INFO, "daemon", "signal_received", "signal=%s action=stop", s_signame(sig));
        /* Under mu, so the node is alive: main stops it only after it has
         * seen `stopping` set. */
        grove_node_send(d->node, d->main_pid, grove_pack("{'$grove_signal', ~a}", s_signame(sig)));
        gv_mutex_unlock(&d->mu);
    }
}

static void s_pid_text(grove_pid pid, char *buf, size_t len)
{
    snprintf(buf, len, "<%s.%u.%u>", pid.node ? grove_nodename_str(pid.node) : "?", pid.id,
             pid.serial);
}

/* A reason for a log line (caller frees). */
static char *s_reason_text(const grove_term *reason)
{
    char *t = reason ? grove_term_format(reason) : NULL;
    return t ? t : strdup("none");
}

typedef struct s_down_sel {
    grove_ref ref;
} s_down_sel;

static bool s_is_down(const grove_term *msg, void *arg)
{
    s_down_sel *sel = arg;
    grove_ref r;
    return grove_match(msg, "{'DOWN', ~r, process, _, _}", &r) && grove_ref_equal(&r, &sel->ref);
}

/* Waits up to ms for the top's DOWN; true (and its reason) if it came. */
static bool s_await_down(s_daemon *d, s_app_run *r, int64_t ms)
{
    s_down_sel sel = {.ref = r->ref};
    grove_term *m = NULL;
    if (grove_waiter_recv_select(d->w, s_is_down, &sel, ms, &m) != GROVE_OK)
        return false;
    grove_term *reason = NULL;
    grove_match(m, "{'DOWN', _, process, _, ~t}", &reason);
    grove_term_destroy(&m);
    r->exited = true;
    r->exit_reason = reason;
    return true;
}

/* Stops application i: its top process with `shutdown` (a process that
 * traps exits, such as a supervisor or a gen_server, through the gen_server
 * stop request, so it shuts its children down first; any other with an
 * exit signal), `kill` if it outlives the shutdown time, then its stop
 * function. */
static void s_stop_app(s_daemon *d, size_t i)
{
    const grove_app *app = &s_apps[i];
    s_app_run *r = &d->run[i];
    uint64_t t0 = gv_now_ms();
    bool killed = false;
    if (r->has_top && !r->exited) {
        grove_proc_info info;
        bool traps = grove_proc_info_get(d->node, r->top, &info) == GROVE_OK && info.trap_exit;
        if (traps)
            grove_gen_server_stop(d->node, r->top, grove_atom("shutdown"), d->shutdown_ms);
        else
            grove_node_exit(d->node, r->top, grove_atom("shutdown"));
        uint64_t spent = gv_now_ms() - t0;
        int64_t left = spent < d->shutdown_ms ? (int64_t)(d->shutdown_ms - spent) : 0;
        if (!s_await_down(d, r, left)) {
            char pid[128];
            s_pid_text(r->top, pid, sizeof pid);
            gv_log(GV_LOG_WARN, "app", "shutdown_timeout", "app=%s top=%s ms=%u action=kill",
                   app->name, pid, d->shutdown_ms);
            killed = true;
            grove_node_exit(d->node, r->top, grove_atom("kill"));
            if (!s_await_down(d, r, (int64_t)d->shutdown_ms))
                gv_log(GV_LOG_ERROR, "app", "not_stopped", "app=%s top=%s", app->name, pid);
        }
    }
    if (app->stop)
        app->stop(d->node, app->arg);
    char *why = s_reason_text(r->exit_reason);
    gv_log(killed ? GV_LOG_WARN : GV_LOG_INFO, "app", "stopped", "app=%s reason=%s ms=%llu",
           app->name, why, (unsigned long long)(gv_now_ms() - t0));
    free(why);
}

/* Starts the applications in order; false (after logging) at the first
 * that fails. */
static bool s_start_apps(s_daemon *d)
{
    for (size_t i = 0; i < s_napps; i++) {
        const grove_app *app = &s_apps[i];
        s_app_run *r = &d->run[i];
        uint64_t t0 = gv_now_ms();
        grove_pid top = {0};
        grove_err e = app->start(d->node, app->arg, &top);
        if (e != GROVE_OK) {
            gv_log(GV_LOG_ERROR, "app", "start_failed", "app=%s error=%s", app->name,
                   grove_errname(e));
            return false;
        }
        d->started = i + 1;
        char pid[128] = "-";
        r->has_top = top.creation != 0;
        if (r->has_top) {
            r->top = top;
            s_pid_text(top, pid, sizeof pid);
            grove_waiter_monitor(d->w, top, &r->ref);
        }
        gv_log(GV_LOG_INFO, "app", "started", "app=%s top=%s ms=%llu", app->name, pid,
               (unsigned long long)(gv_now_ms() - t0));
    }
    return true;
}

/* Waits for a stop signal or the exit of a top process; returns the exit
 * status the daemon ends with. */
static int s_wait(s_daemon *d)
{
    for (;;) {
        grove_term *m = NULL;
        if (grove_waiter_recv(d->w, -1, &m) != GROVE_OK)
            return S_EX_SOFTWARE;
        char sig[16];
        grove_ref ref;
        if (grove_match(m, "{'$grove_signal', ~a}", sig, sizeof sig)) {
            grove_term_destroy(&m);
            gv_log(GV_LOG_INFO, "daemon", "stopping", "reason=signal signal=%s", sig);
            return S_EX_OK;
        }
        if (grove_match(m, "{'DOWN', ~r, process, _, _}", &ref)) {
            for (size_t i = 0; i < d->started; i++) {
                s_app_run *r = &d->run[i];
                if (!r->has_top || r->exited || !grove_ref_equal(&r->ref, &ref))
                    continue;
                grove_match(m, "{'DOWN', _, process, _, ~t}", &r->exit_reason);
                r->exited = true;
                grove_term_destroy(&m);
                bool normal = grove_match(r->exit_reason, "normal");
                char *why = s_reason_text(r->exit_reason);
                gv_log(normal ? GV_LOG_INFO : GV_LOG_ERROR, "app", "exited", "app=%s reason=%s",
                       s_apps[i].name, why);
                free(why);
                gv_log(GV_LOG_INFO, "daemon", "stopping", "reason=app_exited app=%s",
                       s_apps[i].name);
                return normal ? S_EX_OK : S_EX_SOFTWARE;
            }
        }
        grove_term_destroy(&m); /* nothing the daemon asked for */
    }
}

static bool s_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    /* A closed stderr must not kill the daemon at its next log line. */
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, set, NULL) == 0;
}

int grove_node_main(int argc, char **argv)
{
    s_cfg cfg;
    int rc = s_parse(argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    grove_node_opts opts;
    s_apply(&cfg, &opts);

    static s_daemon d; /* one daemon per program; large, so not on the stack */
    memset(&d, 0, sizeof d);
    d.shutdown_ms = cfg.val[O_SHUTDOWN] ? (unsigned)cfg.num[O_SHUTDOWN] : S_SHUTDOWN_DEFAULT;
    /* Before the node: every thread it starts inherits the mask, so only
     * the signal thread ever takes these signals. */
    if (!s_block_signals(&d.sigs)) {
        gv_log(GV_LOG_ERROR, "daemon", "start_failed", "reason=sigmask code=%d", S_EX_SOFTWARE);
        return S_EX_SOFTWARE;
    }
    d.node = grove_node_start(&opts);
    if (!d.node) {
        /* The node logged why (a bad name, no secret, an address in use). */
        gv_log(GV_LOG_ERROR, "daemon", "start_failed", "reason=node code=%d", S_EX_CONFIG);
        return S_EX_CONFIG;
    }
    gv_mutex_init(&d.mu);
    grove_node_stats st;
    grove_node_stats_get(d.node, &st);
    const char *addr = grove_node_address(d.node);
    gv_log(GV_LOG_INFO, "daemon", "started",
           "version=%s name=%s address=%s schedulers=%u task_threads=%u apps=%zu pid=%ld",
           grove_version(), grove_nodename_str(grove_node_name(d.node)), addr ? addr : "-",
           st.workers, gv_task_threads(), s_napps, (long)getpid());

    int code = S_EX_SOFTWARE;
    if (grove_waiter_new(d.node, &d.w) != GROVE_OK) {
        gv_log(GV_LOG_ERROR, "daemon", "start_failed", "reason=waiter");
        goto stop_node;
    }
    d.main_pid = grove_waiter_pid(d.w);
    d.sig_running = gv_thread_start(&d.sig_thread, "grove-signals", s_signal_main, &d);
    if (!d.sig_running) {
        gv_log(GV_LOG_ERROR, "daemon", "start_failed", "reason=signal_thread");
        goto stop_node;
    }
    if (s_start_apps(&d)) {
        gv_log(GV_LOG_INFO, "daemon", "ready", "apps=%zu", s_napps);
        code = s_wait(&d);
    } else {
        gv_log(GV_LOG_INFO, "daemon", "stopping", "reason=app_start_failed");
    }
    gv_mutex_lock(&d.mu);
    d.stopping = true;
    gv_mutex_unlock(&d.mu);
    for (size_t i = d.started; i-- > 0;)
        s_stop_app(&d, i);

stop_node:
    gv_mutex_lock(&d.mu);
    d.stopping = true;
    gv_mutex_unlock(&d.mu);
    grove_waiter_destroy(&d.w);
    grove_node_stop(&d.node); /* peers get a goodbye */
    for (size_t i = 0; i < d.started; i++)
        grove_term_destroy(&d.run[i].exit_reason);
    gv_log(GV_LOG_INFO, "daemon", "stopped", "code=%d", code);
    if (d.sig_running) {
        atomic_store_explicit(&d.sig_quit, true, memory_order_release); /* pairs with the
                                                                           acquire load there */
        pthread_kill(d.sig_thread.t, SIGUSR1);
        gv_thread_join(&d.sig_thread);
    }
    gv_mutex_fini(&d.mu);
    return code;
}
