/*
 * stack.c - the stack server.
 */
#include "stack.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct stack_state {
    grove_term *items; /* a proper list */
    size_t size;
} stack_state;

static grove_err stack_init(grove_proc *self, const grove_term *arg, void **state)
{
    stack_state *s = calloc(1, sizeof *s);
    if (!s)
        return GROVE_ENOMEM;
    s->items = arg ? grove_term_copy(arg) : grove_pack("[]");
    grove_reader r = grove_reader_of(s->items);
    grove_value v;
    if (!grove_reader_next(&r, &v) || (v.type != GROVE_TYPE_LIST && v.type != GROVE_TYPE_NIL)) {
        grove_term_destroy(&s->items);
        free(s);
        return GROVE_EBADARG;
    }
    s->size = v.type == GROVE_TYPE_LIST ? v.as.compound.arity : 0;
    *state = s;
    return GROVE_OK;
}

static grove_ret stack_call(grove_proc *self, const grove_term *req, grove_from from, void *state,
                            grove_term **reply)
{
    stack_state *s = state;
    grove_term *head = NULL, *tail = NULL;
    if (grove_match(req, "pop")) {
        if (grove_match(s->items, "[~t | ~t]", &head, &tail)) {
            grove_term_destroy(&s->items);
            s->items = tail;
            s->size--;
            *reply = grove_pack("{ok, ~t}", head);
        } else {
            *reply = grove_atom("empty");
        }
    } else if (grove_match(req, "size")) {
        *reply = grove_pack("~u", (uint64_t)s->size);
    } else {
        *reply = grove_pack("{error, unknown_call}");
    }
    return GROVE_REPLY;
}

static grove_ret stack_cast(grove_proc *self, const grove_term *msg, void *state)
{
    stack_state *s = state;
    grove_term *item = NULL;
    if (grove_match(msg, "{push, ~t}", &item)) {
        grove_term *items = s->items;
        s->items = grove_pack("[~t | ~t]", item, items);
        s->size++;
    }
    return GROVE_NOREPLY;
}

static void stack_free(void *state)
{
    stack_state *s = state;
    grove_term_destroy(&s->items);
    free(s);
}

const grove_gen_server stack_server = {
    .name = "stack",
    .init = stack_init,
    .handle_call = stack_call,
    .handle_cast = stack_cast,
    .free_state = stack_free,
};

grove_err stack_start(grove_node *node, grove_term *initial, grove_pid *out)
{
    return grove_gen_server_start(node, &stack_server, initial, NULL, out);
}

grove_err stack_push(grove_node *node, grove_pid stack, grove_term *item)
{
    return grove_cast(node, stack, item ? grove_pack("{push, ~t}", item) : NULL);
}

grove_err stack_pop(grove_node *node, grove_pid stack, grove_term **item)
{
    *item = NULL;
    grove_term *reply = NULL;
    grove_err err = grove_call(node, stack, grove_atom("pop"), GROVE_CALL_TIMEOUT, &reply);
    if (!err && !grove_match(reply, "{ok, ~t}", item))
        err = GROVE_ENOTFOUND;
    grove_term_destroy(&reply);
    return err;
}

grove_err stack_size(grove_node *node, grove_pid stack, size_t *size)
{
    grove_term *reply = NULL;
    uint64_t n = 0;
    grove_err err = grove_call(node, stack, grove_atom("size"), GROVE_CALL_TIMEOUT, &reply);
    if (!err && !grove_match(reply, "~u", &n))
        err = GROVE_EPROTO;
    *size = (size_t)n;
    grove_term_destroy(&reply);
    return err;
}
