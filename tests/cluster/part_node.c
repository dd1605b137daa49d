/*
 * part_node.c - a grove-node for the three-namespace partition tests
 * (tests/cluster/netns_three.sh, docs/cluster-tests.md).
 *
 * The application "part" starts this node's member of the cluster-wide
 * supervisor "part" (no initial children) and two threads:
 *
 * - a reporter that writes, every 100 ms, what this node sees:
 *     part state t=<ms> running=<ids> live=<pids> names=<name:pid:epoch,...>
 *   t is the wall clock (CLOCK_REALTIME, ms) taken while the running set
 *   is read, so lines of nodes on one machine can be compared in time;
 *   running lists the children whose init has run and whose terminate has
 *   not (the child's own code runs here now); live lists this node's
 *   name holders still alive; names is this node's replica of the global
 *   table (grove_global_names). A pid is written node.id.serial.
 *
 * - a commander that polls the file PART_CMD every 50 ms and runs each new
 *   complete line once, in order, logging the result:
 *     register NAME     spawn a holder (trapping exits) and register it
 *                       globally: part registered name=N pid=P epoch=E
 *                       (or part register_failed name=N error=GROVE_E...)
 *     unregister NAME   part unregistered name=N result=GROVE_OK|...
 *     start_child ID    grove_cluster_sup_start_child of a part_child
 *                       gen_server with the global name ID:
 *                       part start_child id=ID result=... pid=P
 *
 * A holder that traps {'EXIT', From, {name_conflict, Name, Winner}}
 * logs part name_conflict name=N self=P winner=W and keeps running.
 * Children log part child_started id=ID pid=P t=<ms> and
 * part child_stopped id=ID reason=R t=<ms>.
 * Every line is one write(2), so lines never interleave.
 */
#include <grove/app.h>
#include <grove/cluster_sup.h>
#include <grove/gen_server.h>
#include <grove/global.h>
#include <grove/process.h>
#include <grove/term.h>

#include "line.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SUP_NAME "part"
#define MAX_RUNNING 64
#define MAX_LIVE 64
#define ID_LEN 64

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_pid_str(grove_pid pid, char *buf, size_t size)
{
    const char *node = grove_nodename_str(pid.node);
    snprintf(buf, size, "%s.%u.%u", node ? node : "?", pid.id, pid.serial);
}

/* ---- what runs here ------------------------------------------------------------ */

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_running[MAX_RUNNING][ID_LEN]; /* "" = free slot */
static grove_pid s_live[MAX_LIVE];          /* holders; node 0 = free slot */

static void s_running_add(const char *id)
{
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < MAX_RUNNING; i++)
        if (!s_running[i][0]) {
            snprintf(s_running[i], ID_LEN, "%s", id);
            break;
        }
    pthread_mutex_unlock(&s_lock);
}

static void s_running_remove(const char *id)
{
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < MAX_RUNNING; i++)
        if (strcmp(s_running[i], id) == 0) {
            s_running[i][0] = '\0';
            break;
        }
    pthread_mutex_unlock(&s_lock);
}

static void s_live_set(grove_pid pid, bool on)
{
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (on && s_live[i].node == 0) {
            s_live[i] = pid;
            break;
        }
        if (!on && s_live[i].node == pid.node && s_live[i].id == pid.id &&
            s_live[i].serial == pid.serial) {
            s_live[i] = (grove_pid){0};
            break;
        }
    }
    pthread_mutex_unlock(&s_lock);
}

/* ---- the child: a trivial gen_server ------------------------------------------------ */

typedef struct child_state {
    char id[ID_LEN];
} child_state;

static grove_err child_init(grove_proc *self, const grove_term *arg, void **state)
{
    child_state *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    if (!grove_match(arg, "~a", st->id, sizeof st->id)) {
        free(st);
        return GROVE_EBADARG;
    }
    *state = st;
    s_running_add(st->id);
    char p[128];
    s_pid_str(grove_self(self), p, sizeof p);
    tn_line("part child_started id=%s pid=%s t=%lld", st->id, p, (long long)s_now_ms());
    return GROVE_OK;
}

static grove_ret child_call(grove_proc *self, const grove_term *request, grove_from from,
                            void *state, grove_term **reply)
{
    (void)self, (void)request, (void)from, (void)state;
    *reply = grove_atom("ok");
    return GROVE_REPLY;
}

static void child_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    (void)self;
    child_state *st = state;
    s_running_remove(st->id);
    char *why = grove_term_format(reason);
    tn_line("part child_stopped id=%s reason=%s t=%lld", st->id, why ? why : "?",
            (long long)s_now_ms());
    free(why);
}

static const grove_gen_server s_child = {.name = "part_child",
                                         .init = child_init,
                                         .handle_call = child_call,
                                         .terminate = child_terminate,
                                         .free_state = free};

/* ---- a name holder -------------------------------------------------------------------- */

static grove_err holder_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)arg, (void)state;
    s_live_set(grove_self(self), true);
    return GROVE_OK;
}

static grove_ret holder_handle(grove_proc *self, const grove_term *msg, void *state)
{
    (void)state;
    grove_pid from, winner;
    const void *name;
    size_t len;
    char me[128], w[128];
    s_pid_str(grove_self(self), me, sizeof me);
    if (grove_match(msg, "{'EXIT', ~p, {name_conflict, ~b, ~p}}", &from, &name, &len, &winner)) {
        s_pid_str(winner, w, sizeof w);
        tn_line("part name_conflict name=%.*s self=%s winner=%s", (int)len, (const char *)name, me,
                w);
    } else {
        char *text = grove_term_format(msg);
        tn_line("part holder_message self=%s msg=%s", me, text ? text : "?");
        free(text);
    }
    return GROVE_CONTINUE;
}

static void holder_terminate(grove_proc *self, const grove_term *reason, void *state)
{
    (void)reason, (void)state;
    s_live_set(grove_self(self), false);
}

static const grove_behaviour s_holder = {.name = "part_holder",
                                         .init = holder_init,
                                         .handle = holder_handle,
                                         .terminate = holder_terminate};

/* ---- the threads ---------------------------------------------------------------------- */

static grove_node *s_node;
static atomic_bool s_stop;
static pthread_t s_reporter, s_commander;
static bool s_threads;

static void s_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void s_append(char *buf, size_t size, size_t *used, const char *text)
{
    int n = snprintf(buf + *used, size - *used, "%s%s", *used ? "," : "", text);
    if (n > 0 && (size_t)n < size - *used)
        *used += (size_t)n;
}

static void *s_report_main(void *arg)
{
    (void)arg;
    static grove_global_name names[64];
    while (!atomic_load(&s_stop)) {
        char running[1024] = "", live[2048] = "", table[4096] = "";
        size_t ru = 0, lu = 0, tu = 0;
        pthread_mutex_lock(&s_lock);
        int64_t t = s_now_ms();
        for (size_t i = 0; i < MAX_RUNNING; i++)
            if (s_running[i][0])
                s_append(running, sizeof running, &ru, s_running[i]);
        for (size_t i = 0; i < MAX_LIVE; i++)
            if (s_live[i].node) {
                char p[128];
                s_pid_str(s_live[i], p, sizeof p);
                s_append(live, sizeof live, &lu, p);
            }
        pthread_mutex_unlock(&s_lock);
        size_t n = grove_global_names(s_node, names, 64);
        for (size_t i = 0; i < n && i < 64; i++) {
            char p[128], e[512];
            s_pid_str(names[i].pid, p, sizeof p);
            snprintf(e, sizeof e, "%.255s:%.127s:%llu", names[i].name, p,
                     (unsigned long long)names[i].epoch);
            s_append(table, sizeof table, &tu, e);
        }
        tn_line("part state t=%lld running=%s live=%s names=%s", (long long)t, running, live,
                table);
        s_sleep_ms(100);
    }
    return NULL;
}

static void s_command(const char *line)
{
    char verb[32], arg[256];
    if (sscanf(line, "%31s %255s", verb, arg) != 2) {
        tn_line("part bad_command line=%s", line);
        return;
    }
    char p[128] = "-";
    if (strcmp(verb, "register") == 0) {
        grove_pid pid;
        const grove_spawn_opts opts = {.trap_exit = true, .name = "part_holder"};
        grove_err e = grove_spawn(s_node, &s_holder, NULL, &opts, &pid);
        if (e != GROVE_OK) {
            tn_line("part register_failed name=%s error=%s", arg, grove_errname(e));
            return;
        }
        uint64_t epoch = 0;
        e = grove_global_register(s_node, arg, pid, &epoch);
        s_pid_str(pid, p, sizeof p);
        if (e == GROVE_OK)
            tn_line("part registered name=%s pid=%s epoch=%llu t=%lld", arg, p,
                    (unsigned long long)epoch, (long long)s_now_ms());
        else
            tn_line("part register_failed name=%s pid=%s error=%s", arg, p, grove_errname(e));
    } else if (strcmp(verb, "unregister") == 0) {
        grove_err e = grove_global_unregister(s_node, arg);
        tn_line("part unregistered name=%s result=%s", arg, grove_errname(e));
    } else if (strcmp(verb, "start_child") == 0) {
        grove_pid pid = {0};
        grove_err e = grove_cluster_sup_start_child(
            s_node, SUP_NAME,
            &(grove_child_spec){
                .id = arg, .gen_server = &s_child, .arg = grove_atom(arg), .name = arg},
            &pid);
        if (e == GROVE_OK)
            s_pid_str(pid, p, sizeof p);
        tn_line("part start_child id=%s result=%s pid=%s", arg, grove_errname(e), p);
    } else {
        tn_line("part bad_command line=%s", line);
    }
}

static void *s_command_main(void *arg)
{
    const char *path = arg;
    size_t done = 0; /* complete lines already run */
    while (!atomic_load(&s_stop)) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[512];
            size_t seen = 0;
            while (!atomic_load(&s_stop) && fgets(line, sizeof line, f)) {
                size_t len = strlen(line);
                if (len == 0 || line[len - 1] != '\n')
                    break; /* not complete yet */
                line[len - 1] = '\0';
                if (seen++ < done)
                    continue;
                done++;
                s_command(line);
            }
            fclose(f);
        }
        s_sleep_ms(50);
    }
    return NULL;
}

static grove_err s_app_start(grove_node *node, void *arg, grove_pid *top)
{
    (void)arg;
    s_node = node;
    grove_err e =
        grove_cluster_sup_start(node, &(grove_cluster_sup_opts){.name = SUP_NAME}, NULL, 0, top);
    if (e != GROVE_OK)
        return e;
    static char path[1024];
    snprintf(path, sizeof path, "%s", getenv("PART_CMD"));
    if (pthread_create(&s_reporter, NULL, s_report_main, NULL) != 0)
        return GROVE_ENOMEM;
    if (pthread_create(&s_commander, NULL, s_command_main, path) != 0) {
        atomic_store(&s_stop, true);
        pthread_join(s_reporter, NULL);
        return GROVE_ENOMEM;
    }
    s_threads = true;
    return GROVE_OK;
}

static void s_app_stop(grove_node *node, void *arg)
{
    (void)node, (void)arg;
    atomic_store(&s_stop, true);
    if (s_threads) {
        pthread_join(s_commander, NULL);
        pthread_join(s_reporter, NULL);
        s_threads = false;
    }
}

int main(int argc, char **argv)
{
    const char *cmd = getenv("PART_CMD");
    if (!cmd || !*cmd) {
        fputs("part_node: set PART_CMD to the command file's path\n", stderr);
        return 64;
    }
    if (strlen(cmd) >= 1024) {
        fputs("part_node: PART_CMD is too long\n", stderr);
        return 64;
    }
    if (grove_gen_server_register(&s_child) != GROVE_OK ||
        grove_behaviour_register(&s_holder) != GROVE_OK ||
        grove_app_register(
            &(grove_app){.name = "part", .start = s_app_start, .stop = s_app_stop}) != GROVE_OK) {
        fputs("part_node: cannot register\n", stderr);
        return 70;
    }
    return grove_node_main(argc, argv);
}
