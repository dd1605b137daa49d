/*
 * bank_cluster_demo - a bank on a three-node cluster, narrated
 * (docs/demo.md; `tools/run-demo` runs it).
 *
 * Starts three bank_node daemons on loopback (bank1 the seed, bank2 and
 * bank3 told only of bank1), joins them as a node of its own (demo@...,
 * which runs no member of the bank's supervisor and so hosts no account),
 * opens six accounts under the cluster-wide supervisor "bank", deposits by
 * global name from a teller on every node, kills the node hosting the most
 * accounts with kill -9, and waits for the survivors to restart its
 * accounts from their child specs, reachable by the same names. Every step
 * is checked: the program exits 1 with a message (and the nodes' last log
 * lines) when one fails, and 0 when the story ran as told and every
 * daemon left stopped with status 0 on SIGTERM.
 *
 *   bank_cluster_demo [path/to/bank_node]
 *
 * GROVE_HEARTBEAT_MS and GROVE_NODEDOWN_MS, if set, apply to every node.
 */
#include <grove/gen_server.h>
#include <grove/global.h>
#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include "nodes.h"
#include "teller.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BANK_NODE_BIN
#define BANK_NODE_BIN "bank_node"
#endif

#define NODES 3
#define ACCOUNTS 6
#define BUDGET_S 110    /* the whole demo, sanitizer builds included */
#define WAIT_MS 20000   /* any single wait */
#define CALL_MS 5000    /* a call to an account */
#define EACH_BANK 10    /* bank<i> deposits 10 * i into every account ... */
#define EACH_DEMO 40    /* ... and this node 40: 100 per account in all */
#define AFTER_DEPOSIT 5 /* the deposit that follows the restart */

typedef struct account_row {
    const char *name;
    int64_t opening;
    grove_pid pid;   /* before the kill */
    grove_pid moved; /* after it, for accounts of the lost node */
    bool lost;       /* hosted by the node that was killed */
} account_row;

static account_row s_accounts[ACCOUNTS] = {
    {.name = "alice", .opening = 100}, {.name = "bob", .opening = 50},
    {.name = "carol", .opening = 75},  {.name = "dave", .opening = 20},
    {.name = "erin", .opening = 60},   {.name = "frank", .opening = 40},
};

static demo_node s_nodes[NODES];
static grove_node *s_node; /* this program's node */
static grove_waiter *s_w;
static grove_pid s_tellers[NODES + 1]; /* one per bank node, then this node's */
static int64_t s_tag;
static int64_t s_t0;
static int64_t s_killed_at;

/* ---- failing ---- */

static void s_cleanup(void)
{
    grove_waiter_destroy(&s_w);
    grove_node_stop(&s_node);
    for (int i = 0; i < NODES; i++)
        dn_destroy(&s_nodes[i]);
}

static void s_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void s_fail(const char *fmt, ...)
{
    fflush(stdout);
    for (int i = 0; i < NODES; i++)
        dn_dump_tail(&s_nodes[i], 25);
    va_list ap;
    va_start(ap, fmt);
    fputs("bank_cluster_demo: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s_cleanup();
    exit(1);
}

/* The budget ran out: say so, and end at once (the children get SIGKILL
 * from their death signal). */
static void s_on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bank_cluster_demo: FAILED: the demo ran over its time budget\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    for (int i = 0; i < NODES; i++)
        if (s_nodes[i].pid > 0 && !s_nodes[i].reaped)
            kill(s_nodes[i].pid, SIGKILL);
    _exit(1);
}

/* ---- small helpers ---- */

static const char *s_pid_text(grove_pid p, char *buf, size_t len)
{
    snprintf(buf, len, "<%s.%u.%u>", grove_nodename_str(p.node), (unsigned)p.id,
             (unsigned)p.serial);
    return buf;
}

static int s_index_of(grove_nodename nn)
{
    for (int i = 0; i < NODES; i++)
        if (s_nodes[i].nn == nn)
            return i;
    return -1;
}

static bool s_lists(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static unsigned s_env_ms(const char *var, unsigned dflt)
{
    const char *v = getenv(var);
    char *end;
    unsigned long n = v && *v ? strtoul(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 && n < 86400000UL ? (unsigned)n : dflt;
}

/* ---- talking to tellers ---- */

static bool s_is_reply(const grove_term *m, void *arg)
{
    int64_t tag;
    return grove_match(m, "{teller_reply, ~l, _, _}", &tag) && tag == *(int64_t *)arg;
}

/* Waits for the teller's answer to request `tag`: true with *result (caller
 * owns) on ok, false with *result the reason on error. */
static bool s_reply(int64_t tag, const char *what, grove_term **result)
{
    grove_term *m = NULL;
    grove_err e = grove_waiter_recv_select(s_w, s_is_reply, &tag, WAIT_MS, &m);
    if (e != GROVE_OK)
        s_fail("no answer from a teller to %s within %d ms (%s)", what, WAIT_MS, grove_errname(e));
    bool ok = grove_match(m, "{teller_reply, _, ok, ~t}", result);
    if (!ok && !grove_match(m, "{teller_reply, _, error, ~t}", result))
        s_fail("a teller answered %s with a malformed message", what);
    grove_term_destroy(&m);
    return ok;
}

static int64_t s_send_deposit(int teller, const char *name, int64_t amount)
{
    int64_t tag = ++s_tag;
    grove_node_send(s_node, s_tellers[teller],
                    grove_pack("{deposit, ~p, ~l, ~b, ~l}", grove_waiter_pid(s_w), tag, name,
                               strlen(name), amount));
    return tag;
}

static bool s_teller_whereis(int teller, const char *name, grove_pid *out)
{
    int64_t tag = ++s_tag;
    grove_node_send(
        s_node, s_tellers[teller],
        grove_pack("{whereis, ~p, ~l, ~b}", grove_waiter_pid(s_w), tag, name, strlen(name)));
    grove_term *r = NULL;
    bool ok = s_reply(tag, "whereis", &r) && grove_match(r, "~p", out);
    grove_term_destroy(&r);
    return ok;
}

/* The nodes teller's node is connected to, "a@h,b@h". */
static void s_teller_nodes(int teller, char *out, size_t len)
{
    int64_t tag = ++s_tag;
    grove_node_send(s_node, s_tellers[teller],
                    grove_pack("{nodes, ~p, ~l}", grove_waiter_pid(s_w), tag));
    grove_term *r = NULL;
    const char *s = "";
    size_t n = 0;
    out[0] = '\0';
    if (s_reply(tag, "nodes", &r) && grove_match(r, "~s", &s, &n)) {
        if (n >= len)
            n = len - 1;
        memcpy(out, s, n);
        out[n] = '\0';
    }
    grove_term_destroy(&r);
}

/* ---- accounts, from this node ---- */

/* An account's balance: the global name's holder in this node's replica,
 * called. */
static grove_err s_balance(const char *name, grove_pid *pid, int64_t *balance)
{
    grove_err e = grove_global_whereis(s_node, name, pid, NULL);
    if (e != GROVE_OK)
        return e;
    grove_term *reply = NULL;
    e = grove_call(s_node, *pid, grove_atom("balance"), CALL_MS, &reply);
    if (e == GROVE_OK && !grove_match(reply, "{ok, ~l}", balance))
        e = GROVE_EPROTO;
    grove_term_destroy(&reply);
    return e;
}

/* ---- the steps ---- */

static void s_step1_start_nodes(const char *bin, const char *cookie)
{
    char err[512];
    printf("[1/7] Starting three nodes on loopback: bank1@127.0.0.1 (the seed), then bank2 and "
           "bank3,\n      told only of bank1\n");
    for (int i = 0; i < NODES; i++) {
        char name[32];
        snprintf(name, sizeof name, "bank%d@127.0.0.1", i + 1);
        if (!dn_start(&s_nodes[i], bin, name, cookie, i ? s_nodes[0].addr : NULL, err, sizeof err))
            s_fail("cannot start %s: %s", name, err);
        long at = dn_wait_log(&s_nodes[i], " daemon started ", 0, WAIT_MS, err, sizeof err);
        if (at < 0)
            s_fail("%s", err);
        dn_log_value(&s_nodes[i], at, "address=", s_nodes[i].addr, sizeof s_nodes[i].addr);
        if (!strchr(s_nodes[i].addr, ':'))
            s_fail("%s logged no address in its start line", s_nodes[i].name);
        /* "daemon ready": its member of the bank's supervisor is running */
        if (dn_wait_log(&s_nodes[i], " daemon ready ", at, WAIT_MS, err, sizeof err) < 0)
            s_fail("%s", err);
        printf("      %s: pid %d, listening on %s\n", s_nodes[i].name, (int)s_nodes[i].pid,
               s_nodes[i].addr);
    }

    grove_node_opts o = {.name = "demo@127.0.0.1",
                         .listen = "127.0.0.1:0",
                         .seeds = s_nodes[0].addr,
                         .cookie = cookie};
    s_node = grove_node_start(&o);
    if (!s_node)
        s_fail("this program's node (demo@127.0.0.1) did not start");
    if (grove_waiter_new(s_node, &s_w) != GROVE_OK)
        s_fail("cannot set up this program's node");
    printf("      this program joins as demo@127.0.0.1 (seeded with bank1): a node, but no "
           "member of\n      the supervisor \"bank\", so it hosts no account\n");

    /* a teller on every node, once this node sees all three */
    int64_t deadline = dn_now_ms() + WAIT_MS;
    for (int i = 0; i < NODES; i++) {
        grove_err e;
        while ((e = grove_node_spawn_on(s_node, s_nodes[i].nn, "bank_teller", NULL, WAIT_MS,
                                        &s_tellers[i])) == GROVE_ENOCONN &&
               dn_now_ms() < deadline)
            dn_sleep_ms(20);
        if (e != GROVE_OK)
            s_fail("cannot spawn a teller on %s: %s", s_nodes[i].name, grove_errname(e));
    }
    if (grove_node_spawn(s_node, &teller_behaviour, NULL, NULL, &s_tellers[NODES]) != GROVE_OK)
        s_fail("cannot spawn a teller on this node");

    /* the mesh: each bank node sees the other two and this one */
    for (int i = 0; i < NODES; i++) {
        for (;;) {
            char list[1024];
            s_teller_nodes(i, list, sizeof list);
            bool full = s_lists(list, "demo@127.0.0.1");
            for (int j = 0; j < NODES; j++)
                if (j != i && !s_lists(list, s_nodes[j].name))
                    full = false;
            if (full)
                break;
            if (dn_now_ms() >= deadline)
                s_fail("%s sees only [%s]: no full mesh", s_nodes[i].name, list);
            dn_sleep_ms(20);
        }
    }
    printf("      full mesh %.1f s after the first start: every node sees the other three\n",
           (double)(dn_now_ms() - s_t0) / 1000.0);
}

static void s_step2_open_accounts(void)
{
    printf("[2/7] Opening accounts ");
    for (int i = 0; i < ACCOUNTS; i++)
        printf("%s%s", s_accounts[i].name, i + 1 < ACCOUNTS ? ", " : "");
    printf("\n      under the cluster-wide supervisor \"bank\": each child spec (a global name, "
           "an opening\n      balance) is replicated to every member and started by one of "
           "them\n");
    for (int i = 0; i < ACCOUNTS; i++) {
        account_row *a = &s_accounts[i];
        /* asked of each bank node in turn: a member makes the call */
        int via = i % NODES;
        int64_t tag = ++s_tag;
        grove_node_send(s_node, s_tellers[via],
                        grove_pack("{open, ~p, ~l, ~b, ~l}", grove_waiter_pid(s_w), tag, a->name,
                                   strlen(a->name), a->opening));
        grove_term *r = NULL;
        if (!s_reply(tag, "opening an account", &r) || !grove_match(r, "~p", &a->pid)) {
            char *why = grove_term_format(r);
            fprintf(stderr, "opening %s from %s: %s\n", a->name, s_nodes[via].name,
                    why ? why : "?");
            free(why);
            grove_term_destroy(&r);
            s_fail("grove_cluster_sup_start_child of %s failed", a->name);
        }
        grove_term_destroy(&r);
        if (s_index_of(a->pid.node) < 0)
            s_fail("%s was started on %s, not on a bank node", a->name,
                   grove_nodename_str(a->pid.node));
        /* the name is on every replica one message after its holder's */
        grove_pid held = {0};
        int64_t deadline = dn_now_ms() + WAIT_MS;
        while (grove_global_whereis(s_node, a->name, &held, NULL) != GROVE_OK ||
               !grove_pid_equal(held, a->pid)) {
            if (dn_now_ms() >= deadline)
                s_fail("the global name %s does not lead to its account here", a->name);
            dn_sleep_ms(10);
        }
        char pt[96];
        printf("      %-5s -> %s %s, opened with %lld (asked of bank%d)\n", a->name,
               grove_nodename_str(a->pid.node), s_pid_text(a->pid, pt, sizeof pt),
               (long long)a->opening, via + 1);
    }
}

static void s_step3_deposit(void)
{
    printf("[3/7] Depositing by name from every node: a teller process on each casts {deposit, "
           "N}\n      to each account's global name, then calls it for the balance\n");
    int64_t tags[NODES + 1][ACCOUNTS];
    for (int t = 0; t <= NODES; t++)
        for (int i = 0; i < ACCOUNTS; i++)
            tags[t][i] =
                s_send_deposit(t, s_accounts[i].name, t < NODES ? EACH_BANK * (t + 1) : EACH_DEMO);
    for (int t = 0; t <= NODES; t++) {
        const char *from = t < NODES ? s_nodes[t].name : "demo@127.0.0.1";
        for (int i = 0; i < ACCOUNTS; i++) {
            grove_term *r = NULL;
            grove_pid at;
            int64_t balance;
            bool ok = s_reply(tags[t][i], "a deposit", &r);
            if (!ok || !grove_match(r, "{~p, ~l}", &at, &balance)) {
                char *why = grove_term_format(r);
                fprintf(stderr, "deposit from %s into %s: %s\n", from, s_accounts[i].name,
                        why ? why : "?");
                free(why);
                grove_term_destroy(&r);
                s_fail("a deposit by name from %s into %s failed", from, s_accounts[i].name);
            }
            grove_term_destroy(&r);
            if (!grove_pid_equal(at, s_accounts[i].pid))
                s_fail("%s's name led %s to another process", s_accounts[i].name, from);
            if (balance < s_accounts[i].opening + (t < NODES ? EACH_BANK * (t + 1) : EACH_DEMO))
                s_fail("%s's balance after a deposit from %s is %lld, below what it holds",
                       s_accounts[i].name, from, (long long)balance);
        }
        printf("      from %-15s +%d into each account, each confirmed by the account\n", from,
               t < NODES ? EACH_BANK * (t + 1) : EACH_DEMO);
    }
}

static int64_t s_deposited(void)
{
    int64_t sum = EACH_DEMO;
    for (int t = 0; t < NODES; t++)
        sum += EACH_BANK * (t + 1);
    return sum;
}

static void s_step4_balances(void)
{
    printf("[4/7] Balances, read from this node (global whereis, then a call):\n      ");
    for (int i = 0; i < ACCOUNTS; i++) {
        account_row *a = &s_accounts[i];
        grove_pid pid;
        int64_t b;
        grove_err e = s_balance(a->name, &pid, &b);
        if (e != GROVE_OK)
            s_fail("reading %s's balance: %s", a->name, grove_errname(e));
        if (b != a->opening + s_deposited())
            s_fail("%s holds %lld, expected %lld (opening %lld + deposits %lld): a deposit was "
                   "lost",
                   a->name, (long long)b, (long long)(a->opening + s_deposited()),
                   (long long)a->opening, (long long)s_deposited());
        printf("%s %lld%s", a->name, (long long)b, i + 1 < ACCOUNTS ? ", " : "\n");
    }
    printf("      every deposit arrived: each account holds its opening balance + %lld\n",
           (long long)s_deposited());
}

/* Kills the bank node holding the most accounts (bank2 on a tie);
 * returns its index. */
static int s_step5_kill(void)
{
    int hosted[NODES] = {0};
    for (int i = 0; i < ACCOUNTS; i++)
        hosted[s_index_of(s_accounts[i].pid.node)]++;
    int victim = 1;
    for (int i = 0; i < NODES; i++)
        if (hosted[i] > hosted[victim])
            victim = i;
    demo_node *v = &s_nodes[victim];
    printf("[5/7] Killing %s (kill -9, pid %d): it hosted ", v->name, (int)v->pid);
    int shown = 0;
    for (int i = 0; i < ACCOUNTS; i++)
        if (s_accounts[i].pid.node == v->nn) {
            s_accounts[i].lost = true;
            printf("%s%s", shown++ ? ", " : "", s_accounts[i].name);
        }
    printf("%s\n", shown ? "" : "no account");
    s_killed_at = dn_now_ms();
    if (kill(v->pid, SIGKILL) != 0)
        s_fail("kill %d: %s", (int)v->pid, strerror(errno));
    if (!dn_reap(v, WAIT_MS))
        s_fail("%s did not die of kill -9", v->name);
    if (!WIFSIGNALED(v->status) || WTERMSIG(v->status) != SIGKILL)
        s_fail("%s ended otherwise than by the kill", v->name);
    return victim;
}

static void s_step6_restart(int victim, int64_t killed_at)
{
    unsigned nd = s_env_ms("GROVE_NODEDOWN_MS", 1500);
    printf("[6/7] Waiting for the survivors to restart its accounts (a lost node's children "
           "restart\n      2 x GROVE_NODEDOWN_MS = %u ms after it is seen down)\n",
           2 * nd);
    int64_t budget = 20 * (int64_t)nd + WAIT_MS;
    int64_t last = killed_at;
    for (int i = 0; i < ACCOUNTS; i++) {
        account_row *a = &s_accounts[i];
        if (!a->lost)
            continue;
        for (;;) {
            int64_t b;
            grove_err e = s_balance(a->name, &a->moved, &b);
            if (e == GROVE_OK && a->moved.node != s_nodes[victim].nn)
                break;
            if (dn_now_ms() - killed_at >= budget)
                s_fail("%s is not reachable by its name %lld ms after the kill (last: %s)", a->name,
                       (long long)budget, grove_errname(e));
            dn_sleep_ms(20);
        }
        if (s_index_of(a->moved.node) < 0)
            s_fail("%s was restarted on %s, not on a surviving bank node", a->name,
                   grove_nodename_str(a->moved.node));
        last = dn_now_ms();
        char was[96], now[96];
        printf("      %-5s -> %s %s (was %s)\n", a->name, grove_nodename_str(a->moved.node),
               s_pid_text(a->moved, now, sizeof now), s_pid_text(a->pid, was, sizeof was));
    }
    /* every survivor's replica of the registry agrees */
    for (int i = 0; i < ACCOUNTS; i++) {
        account_row *a = &s_accounts[i];
        grove_pid want = a->lost ? a->moved : a->pid;
        for (int t = 0; t < NODES; t++) {
            if (t == victim)
                continue;
            int64_t deadline = dn_now_ms() + WAIT_MS;
            grove_pid got = {0};
            while (!s_teller_whereis(t, a->name, &got) || !grove_pid_equal(got, want)) {
                if (dn_now_ms() >= deadline)
                    s_fail("%s's registry does not lead %s to its process", s_nodes[t].name,
                           a->name);
                dn_sleep_ms(20);
            }
        }
        if (!a->lost) {
            grove_pid now;
            if (grove_global_whereis(s_node, a->name, &now, NULL) != GROVE_OK ||
                !grove_pid_equal(now, a->pid))
                s_fail("%s was not on the lost node, yet its process changed", a->name);
        }
    }
    printf("      reachable by the same names %lld ms after the kill; every survivor's "
           "registry agrees,\n      and the other accounts kept their processes\n",
           (long long)(last - killed_at));
}

static void s_step7_after(int victim)
{
    printf("[7/7] Balances after the restart:\n      ");
    for (int i = 0; i < ACCOUNTS; i++) {
        account_row *a = &s_accounts[i];
        grove_pid pid;
        int64_t b;
        grove_err e = s_balance(a->name, &pid, &b);
        if (e != GROVE_OK)
            s_fail("reading %s's balance: %s", a->name, grove_errname(e));
        int64_t want = a->lost ? a->opening : a->opening + s_deposited();
        if (b != want)
            s_fail("%s holds %lld after the restart, expected %lld", a->name, (long long)b,
                   (long long)want);
        printf("%s %lld%s", a->name, (long long)b, i + 1 < ACCOUNTS ? ", " : "\n");
    }
    printf("      the restarted accounts hold their opening balance again: they were started "
           "from their\n      child specs, and an OTP restart does not keep a process's state; "
           "the others kept theirs\n");
    /* a deposit by name from a survivor reaches each restarted account */
    int from = victim == NODES - 1 ? 0 : NODES - 1;
    char line[512] = "";
    size_t len = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        account_row *a = &s_accounts[i];
        if (!a->lost)
            continue;
        grove_term *r = NULL;
        grove_pid at;
        int64_t b;
        if (!s_reply(s_send_deposit(from, a->name, AFTER_DEPOSIT), "a deposit", &r) ||
            !grove_match(r, "{~p, ~l}", &at, &b) || !grove_pid_equal(at, a->moved) ||
            b != a->opening + AFTER_DEPOSIT) {
            grove_term_destroy(&r);
            s_fail("a deposit by name from %s did not reach the restarted %s", s_nodes[from].name,
                   a->name);
        }
        grove_term_destroy(&r);
        int n = snprintf(line + len, sizeof line - len, "%s%s %lld", len ? ", " : "", a->name,
                         (long long)b);
        if (n > 0 && (size_t)n < sizeof line - len)
            len += (size_t)n;
    }
    if (len)
        printf("      a deposit of %d by name from a teller on %s reaches them: %s\n",
               AFTER_DEPOSIT, s_nodes[from].name, line);
}

static void s_stop(int victim)
{
    grove_waiter_destroy(&s_w);
    grove_node_stop(&s_node);
    long from[NODES];
    for (int i = 0; i < NODES; i++) {
        if (i == victim)
            continue;
        from[i] = dn_log_len(&s_nodes[i]);
        if (kill(s_nodes[i].pid, SIGTERM) != 0)
            s_fail("kill -TERM %d: %s", (int)s_nodes[i].pid, strerror(errno));
    }
    printf("Stopping the cluster: this node left; ");
    bool first = true;
    for (int i = 0; i < NODES; i++) {
        if (i == victim)
            continue;
        char err[512], st[64];
        if (!dn_reap(&s_nodes[i], WAIT_MS))
            s_fail("%s did not stop within %d ms of SIGTERM", s_nodes[i].name, WAIT_MS);
        dn_describe_status(&s_nodes[i], st, sizeof st);
        if (!WIFEXITED(s_nodes[i].status) || WEXITSTATUS(s_nodes[i].status) != 0)
            s_fail("%s stopped with %s on SIGTERM, not exit 0", s_nodes[i].name, st);
        if (dn_wait_log(&s_nodes[i], " daemon stopped code=0", from[i], 0, err, sizeof err) < 0)
            s_fail("%s", err);
        printf("%s%s", first ? "" : ", ", s_nodes[i].name);
        first = false;
    }
    for (int i = 0; i < NODES; i++)
        if (dn_sanitizer_report(&s_nodes[i]))
            s_fail("%s's log holds a sanitizer report", s_nodes[i].name);
    printf(" stopped on SIGTERM (exit 0)\nDone in %.1f s.\n",
           (double)(dn_now_ms() - s_t0) / 1000.0);
}

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : BANK_NODE_BIN;
    if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: bank_cluster_demo [path/to/bank_node]\n");
        return 64;
    }
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "bank_cluster_demo: %s: %s (build the bank_node target)\n", bin,
                strerror(errno));
        return 66;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, s_on_alarm);
    alarm(BUDGET_S);
    s_t0 = dn_now_ms();

    /* a fresh cluster secret: 256 random bits */
    uint8_t raw[32];
    char cookie[65];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        s_fail("getrandom: %s", strerror(errno));
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(cookie + 2 * i, 3, "%02x", raw[i]);

    printf("Grove's cluster demo: a bank on three nodes, with accounts that outlive a node\n\n");
    s_step1_start_nodes(bin, cookie);
    s_step2_open_accounts();
    s_step3_deposit();
    s_step4_balances();
    int victim = s_step5_kill();
    s_step6_restart(victim, s_killed_at);
    s_step7_after(victim);
    s_stop(victim);
    for (int i = 0; i < NODES; i++)
        dn_destroy(&s_nodes[i]);
    alarm(0);
    return 0;
}
