/*
 * account.c - the account server and the bank's supervisor.
 */
#include "account.h"

#include <stdlib.h>

typedef struct account {
    int64_t balance;
} account;

static grove_err account_init(grove_proc *self, const grove_term *arg, void **state)
{
    account *a = calloc(1, sizeof *a);
    if (!a || !grove_match(arg, "~l", &a->balance)) {
        free(a);
        return GROVE_EBADARG;
    }
    *state = a;
    return GROVE_OK;
}

static grove_ret account_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                              grove_term **reply)
{
    account *a = state;
    int64_t amount;
    if (grove_match(req, "balance")) {
        *reply = grove_pack("{ok, ~l}", a->balance);
    } else if (grove_match(req, "{withdraw, ~l}", &amount)) {
        if (amount < 0 || amount > a->balance) {
            *reply = grove_pack("{error, insufficient_funds}");
        } else {
            a->balance -= amount;
            *reply = grove_pack("{ok, ~l}", a->balance);
        }
    } else {
        *reply = grove_pack("{error, unknown_call}");
    }
    return GROVE_REPLY;
}

static grove_ret account_cast(grove_proc *self, const grove_term *msg, void *state)
{
    account *a = state;
    int64_t amount;
    if (grove_match(msg, "{deposit, ~l}", &amount) && amount > 0)
        a->balance += amount;
    else if (grove_match(msg, "crash")) /* for the demo: a bug strikes */
        return grove_stop(self, grove_pack("{bug, ~l}", a->balance));
    return GROVE_NOREPLY;
}

const grove_gen_server account_server = {
    .name = "account",
    .init = account_init,
    .handle_call = account_call,
    .handle_cast = account_cast,
    .free_state = free,
};

static grove_err bank_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                           grove_children *children)
{
    flags->strategy = GROVE_ONE_FOR_ONE;
    grove_err err = grove_sup_add(children, &(grove_child_spec){.id = "alice",
                                                                .gen_server = &account_server,
                                                                .arg = grove_int(100),
                                                                .name = "alice"});
    if (!err)
        err = grove_sup_add(children, &(grove_child_spec){.id = "bob",
                                                          .gen_server = &account_server,
                                                          .arg = grove_int(50),
                                                          .name = "bob"});
    return err;
}

const grove_supervisor bank_supervisor = {.name = "bank", .init = bank_init};

grove_err bank_start(grove_node *node, grove_pid *sup)
{
    return grove_supervisor_start(node, &bank_supervisor, NULL, NULL, sup);
}

grove_err account_balance(grove_node *node, const char *who, int64_t *balance)
{
    grove_term *reply = NULL;
    grove_err err = grove_call_name(node, who, grove_atom("balance"), GROVE_CALL_TIMEOUT, &reply);
    if (!err && !grove_match(reply, "{ok, ~l}", balance))
        err = GROVE_EPROTO;
    grove_term_destroy(&reply);
    return err;
}

grove_err account_deposit(grove_node *node, const char *who, int64_t amount)
{
    return grove_cast_name(node, who, grove_pack("{deposit, ~l}", amount));
}

grove_err account_withdraw(grove_node *node, const char *who, int64_t amount)
{
    grove_term *reply = NULL;
    grove_err err = grove_call_name(node, who, grove_pack("{withdraw, ~l}", amount),
                                    GROVE_CALL_TIMEOUT, &reply);
    if (!err && grove_match(reply, "{error, insufficient_funds}"))
        err = GROVE_ERANGE;
    grove_term_destroy(&reply);
    return err;
}
