/*
 * bank_demo - accounts under a supervisor: deposits, a refused withdrawal,
 * a crash, and the restart that follows.
 */
#include "account.h"

#include <stdio.h>
#include <time.h>

static int64_t s_balance(grove_node *node, const char *who)
{
    int64_t b = -1;
    grove_err err;
    /* Right after a crash the account is gone until the supervisor has
     * started it again: retry for a while. */
    for (int i = 0; (err = account_balance(node, who, &b)) == GROVE_ENOPROC && i < 1000; i++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    return err ? -1 : b;
}

int main(void)
{
    grove_node *node = grove_node_start(NULL);
    if (!node)
        return 1;
    grove_pid sup;
    if (bank_start(node, &sup) != GROVE_OK) {
        grove_node_stop(&node);
        return 1;
    }
    account_deposit(node, "alice", 50);
    printf("alice has %lld\n", (long long)s_balance(node, "alice")); /* 150 */
    printf("bob withdraws 80: %s\n", grove_strerror(account_withdraw(node, "bob", 80)));
    printf("bob withdraws 30: %s\n", grove_strerror(account_withdraw(node, "bob", 30)));
    printf("bob has %lld\n", (long long)s_balance(node, "bob")); /* 20 */

    grove_pid before, after;
    grove_whereis(node, "alice", &before);
    grove_cast_name(node, "alice", grove_atom("crash"));
    int64_t b = s_balance(node, "alice");
    grove_whereis(node, "alice", &after);
    printf("alice crashed; the supervisor restarted her account (%s) with %lld\n",
           grove_pid_equal(before, after) ? "same process?!" : "new process", (long long)b);
    int ok = b == 100 && !grove_pid_equal(before, after);
    grove_supervisor_stop(node, sup, NULL, GROVE_INFINITY);
    grove_node_stop(&node);
    return ok ? 0 : 1;
}
