/*
 * account.h - a bank account as a gen_server, under a supervisor.
 *
 * The balance is read with a call and changed with casts (deposit) or
 * calls (withdraw, which can be refused). Each account is registered
 * under its owner's name; the bank's supervisor restarts an account that
 * crashes, with its opening balance (state lives in the process: a crash
 * loses it, as in Erlang).
 */
#ifndef BANK_ACCOUNT_H
#define BANK_ACCOUNT_H

#include <grove/grove.h>

#include <stdint.h>

/* The account server; its argument is the opening balance (~l). */
extern const grove_gen_server account_server;

/* The bank: a one_for_one supervisor of two accounts, "alice" (100) and
 * "bob" (50). */
extern const grove_supervisor bank_supervisor;

grove_err bank_start(grove_node *node, grove_pid *sup);

/* Blocking calls by account name (not on a scheduler thread). */
grove_err account_balance(grove_node *node, const char *who, int64_t *balance);
grove_err account_deposit(grove_node *node, const char *who, int64_t amount);
/* GROVE_ERANGE when the balance is too low (nothing is taken then). */
grove_err account_withdraw(grove_node *node, const char *who, int64_t amount);

#endif
