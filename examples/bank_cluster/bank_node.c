/*
 * bank_node - a grove-node with the bank linked in: the node every member
 * of the cluster demo runs (docs/demo.md).
 *
 * The application "bank" starts this node's member of the cluster-wide
 * supervisor "bank". It starts with no children: accounts are added at
 * run time (grove_cluster_sup_start_child, made by a member: a teller
 * asked to open one), each spec is replicated to every member, and when
 * a node is lost the survivors restart its accounts from their specs. Accounts are the bank
 * example's gen_server (examples/bank/account.c), registered by name here so a member can start one
 * on any node; tellers (teller.h) are spawned by the demo's driver to make deposits originate on
 * this node.
 *
 * BANK_ACCOUNTS (optional) opens accounts at start instead, as this
 * member's initial children: "alice=100,bob=50" (names of 1 to 63 bytes,
 * opening balances 0 or more); a spec the supervisor already knows is not
 * added twice. Give it to the first node only: a member that starts before
 * it has met the others places its initial children by itself. A
 * malformed list is a usage error (exit 64).
 *
 * Configuration, flags, exit codes and log lines are grove-node's
 * (docs/daemon.md): GROVE_NODE, GROVE_LISTEN, GROVE_SEEDS, GROVE_COOKIE ...
 */
#include <grove/app.h>
#include <grove/cluster_sup.h>
#include <grove/gen_server.h>
#include <grove/process.h>

#include "../bank/account.h"
#include "teller.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACCOUNTS 64
#define NAME_MAX_LEN 63

static char s_names[MAX_ACCOUNTS][NAME_MAX_LEN + 1];
static int64_t s_openings[MAX_ACCOUNTS];
static size_t s_count;

/* "alice=100,bob=50" into s_names and s_openings; false with a message. */
static bool s_parse_accounts(const char *list)
{
    const char *p = list;
    while (*p) {
        const char *eq = strchr(p, '=');
        size_t len = eq ? (size_t)(eq - p) : 0;
        if (!eq || len == 0 || len > NAME_MAX_LEN || memchr(p, ',', len)) {
            fprintf(stderr, "bank_node: BANK_ACCOUNTS: expected name=balance at \"%s\"\n", p);
            return false;
        }
        if (s_count == MAX_ACCOUNTS) {
            fprintf(stderr, "bank_node: BANK_ACCOUNTS: more than %d accounts\n", MAX_ACCOUNTS);
            return false;
        }
        for (size_t i = 0; i < s_count; i++)
            if (strlen(s_names[i]) == len && memcmp(s_names[i], p, len) == 0) {
                fprintf(stderr, "bank_node: BANK_ACCOUNTS: %.*s twice\n", (int)len, p);
                return false;
            }
        char *end;
        errno = 0;
        long long v = eq[1] >= '0' && eq[1] <= '9' ? strtoll(eq + 1, &end, 10) : -1;
        if (v < 0 || errno || (*end && *end != ',')) {
            fprintf(stderr,
                    "bank_node: BANK_ACCOUNTS: %.*s: the balance is not a whole number "
                    "from 0 up\n",
                    (int)len, p);
            return false;
        }
        memcpy(s_names[s_count], p, len);
        s_names[s_count][len] = '\0';
        s_openings[s_count++] = (int64_t)v;
        p = *end ? end + 1 : end;
    }
    return true;
}

static grove_err s_bank_app_start(grove_node *node, void *arg, grove_pid *top)
{
    (void)arg;
    grove_child_spec specs[MAX_ACCOUNTS];
    for (size_t i = 0; i < s_count; i++)
        specs[i] = (grove_child_spec){.id = s_names[i],
                                      .gen_server = &account_server,
                                      .arg = grove_int(s_openings[i]),
                                      .name = s_names[i]};
    return grove_cluster_sup_start(node, &(grove_cluster_sup_opts){.name = "bank"}, specs, s_count,
                                   top);
}

int main(int argc, char **argv)
{
    const char *accounts = getenv("BANK_ACCOUNTS");
    if (accounts && !s_parse_accounts(accounts))
        return 64;
    if (grove_gen_server_register(&account_server) != GROVE_OK ||
        grove_behaviour_register(&teller_behaviour) != GROVE_OK ||
        grove_app_register(&(grove_app){.name = "bank", .start = s_bank_app_start}) != GROVE_OK) {
        fputs("bank_node: cannot register the bank's behaviours\n", stderr);
        return 70;
    }
    return grove_node_main(argc, argv);
}
