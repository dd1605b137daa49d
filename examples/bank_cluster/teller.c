/*
 * teller.c - the teller of teller.h.
 */
#include "teller.h"

#include <grove/cluster_sup.h>
#include <grove/gen_server.h>
#include <grove/global.h>
#include <grove/task.h>
#include <grove/term.h>

#include "../bank/account.h"

#include <stdlib.h>
#include <string.h>

#define TELLER_PENDING 64      /* deposits waiting for their balance call */
#define TELLER_CALL_MS 5000    /* the balance call's timeout */
#define TELLER_NAME_MAX 255    /* global names: 1 to 255 bytes */
#define TELLER_NODES_TEXT 4096 /* "a@h,b@h,..." */

typedef struct pending {
    bool used;
    grove_ref ref; /* the balance call's */
    grove_pid from;
    int64_t tag;
    grove_pid account;
} pending;

typedef struct teller {
    pending calls[TELLER_PENDING];
} teller;

static grove_err teller_init(grove_proc *self, const grove_term *arg, void **state)
{
    (void)self, (void)arg;
    teller *t = calloc(1, sizeof *t);
    if (!t)
        return GROVE_ENOMEM;
    *state = t;
    return GROVE_OK;
}

static void s_answer(grove_proc *self, grove_pid to, int64_t tag, grove_term *result)
{
    grove_send(self, to, grove_pack("{teller_reply, ~l, ok, ~t}", tag, result));
}

static void s_refuse(grove_proc *self, grove_pid to, int64_t tag, grove_term *reason)
{
    grove_send(self, to, grove_pack("{teller_reply, ~l, error, ~t}", tag, reason));
}

/* Names arrive as binaries; the registry takes C strings. */
static bool s_name(const void *bytes, size_t len, char *out)
{
    if (len == 0 || len > TELLER_NAME_MAX || memchr(bytes, '\0', len))
        return false;
    memcpy(out, bytes, len);
    out[len] = '\0';
    return true;
}

static void s_deposit(grove_proc *self, teller *t, grove_pid from, int64_t tag, const char *name,
                      int64_t amount)
{
    pending *p = NULL;
    for (size_t i = 0; i < TELLER_PENDING && !p; i++)
        if (!t->calls[i].used)
            p = &t->calls[i];
    if (!p) {
        s_refuse(self, from, tag, grove_atom("busy"));
        return;
    }
    /* The deposit goes by name, as OTP's gen_server:cast({global, Name}, ...). */
    grove_err e = grove_global_send(self, name, grove_pack("{'$gen_cast', {deposit, ~l}}", amount));
    grove_pid account;
    if (e == GROVE_OK)
        e = grove_global_whereis(grove_proc_node(self), name, &account, NULL);
    if (e == GROVE_ENOTFOUND) {
        s_refuse(self, from, tag, grove_atom("not_found"));
        return;
    }
    if (e == GROVE_OK)
        e = grove_call_async(self, account, grove_atom("balance"), TELLER_CALL_MS, &p->ref);
    if (e != GROVE_OK) {
        s_refuse(self, from, tag, grove_atom(grove_errname(e)));
        return;
    }
    p->used = true;
    p->from = from;
    p->tag = tag;
    p->account = account;
}

static void s_balance_answered(grove_proc *self, teller *t, const grove_term *msg)
{
    grove_ref ref;
    grove_err result;
    grove_term *reply = NULL;
    if (!grove_call_response(msg, &ref, &result, &reply))
        return;
    for (size_t i = 0; i < TELLER_PENDING; i++) {
        pending *p = &t->calls[i];
        if (!p->used || !grove_ref_equal(&p->ref, &ref))
            continue;
        p->used = false;
        int64_t balance;
        if (result == GROVE_OK && grove_match(reply, "{ok, ~l}", &balance))
            s_answer(self, p->from, p->tag, grove_pack("{~p, ~l}", p->account, balance));
        else if (result == GROVE_ETIMEDOUT)
            s_refuse(self, p->from, p->tag, grove_atom("timeout"));
        else
            s_refuse(self, p->from, p->tag,
                     reply ? grove_term_copy(reply) : grove_atom("badreply"));
        break;
    }
    grove_term_destroy(&reply);
}

/* On a task thread: the blocking start of a replicated child. */
static grove_term *s_open(grove_task_ctx *ctx, const grove_term *arg, void *udata)
{
    (void)udata;
    grove_pid from, child;
    int64_t tag, opening;
    const void *bytes;
    size_t len;
    char name[TELLER_NAME_MAX + 1];
    if (!grove_match(arg, "{~p, ~l, ~b, ~l}", &from, &tag, &bytes, &len, &opening))
        return NULL;
    grove_node *node = grove_task_node(ctx);
    grove_term *answer;
    if (!s_name(bytes, len, name)) {
        answer = grove_pack("{teller_reply, ~l, error, bad_name}", tag);
    } else {
        grove_child_spec spec = {
            .id = name, .gen_server = &account_server, .arg = grove_int(opening), .name = name};
        grove_err e = grove_cluster_sup_start_child(node, "bank", &spec, &child);
        answer = e == GROVE_OK ? grove_pack("{teller_reply, ~l, ok, ~p}", tag, child)
                               : grove_pack("{teller_reply, ~l, error, ~a}", tag, grove_errname(e));
    }
    grove_send(node, from, answer);
    return grove_atom("ok");
}

static void s_nodes(grove_proc *self, grove_pid from, int64_t tag)
{
    grove_nodename names[64];
    size_t n = grove_nodes(grove_proc_node(self), names, 64);
    if (n > 64)
        n = 64;
    char text[TELLER_NODES_TEXT];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = grove_nodename_str(names[i]);
        size_t sl = strlen(s);
        if (len + sl + 2 > sizeof text)
            break;
        if (len)
            text[len++] = ',';
        memcpy(text + len, s, sl);
        len += sl;
    }
    s_answer(self, from, tag, grove_pack("~s", text, len));
}

static grove_ret teller_handle(grove_proc *self, const grove_term *msg, void *state)
{
    teller *t = state;
    grove_pid from;
    int64_t tag, amount;
    const void *bytes;
    size_t len;
    char name[TELLER_NAME_MAX + 1];
    if (grove_match(msg, "{deposit, ~p, ~l, ~b, ~l}", &from, &tag, &bytes, &len, &amount)) {
        if (!s_name(bytes, len, name))
            s_refuse(self, from, tag, grove_atom("bad_name"));
        else
            s_deposit(self, t, from, tag, name, amount);
    } else if (grove_match(msg, "{open, ~p, ~l, ~b, ~l}", &from, &tag, &bytes, &len, &amount)) {
        grove_err e = grove_task_start(
            self, s_open, grove_pack("{~p, ~l, ~b, ~l}", from, tag, bytes, len, amount), NULL,
            NULL);
        if (e != GROVE_OK)
            s_refuse(self, from, tag, grove_atom(grove_errname(e)));
    } else if (grove_match(msg, "{whereis, ~p, ~l, ~b}", &from, &tag, &bytes, &len)) {
        grove_pid holder;
        if (!s_name(bytes, len, name))
            s_refuse(self, from, tag, grove_atom("bad_name"));
        else if (grove_global_whereis(grove_proc_node(self), name, &holder, NULL) == GROVE_OK)
            s_answer(self, from, tag, grove_pack("~p", holder));
        else
            s_refuse(self, from, tag, grove_atom("not_found"));
    } else if (grove_match(msg, "{nodes, ~p, ~l}", &from, &tag)) {
        s_nodes(self, from, tag);
    } else if (grove_match(msg, "{'$gen_response', _, _}")) {
        s_balance_answered(self, t, msg);
    }
    return GROVE_CONTINUE;
}

const grove_behaviour teller_behaviour = {
    .name = "bank_teller",
    .init = teller_init,
    .handle = teller_handle,
    .free_state = free,
};
