/*
 * stack.h - a stack as a gen_server: push by cast, pop by call.
 *
 * The state is a list term, its head the top of the stack, as Elixir's
 * guide to GenServer writes it.
 */
#ifndef STACK_H
#define STACK_H

#include <grove/grove.h>

#include <stddef.h>

/* Argument: the initial list (or none for an empty stack). */
extern const grove_gen_server stack_server;

grove_err stack_start(grove_node *node, grove_term *initial, grove_pid *out);

/* Pushes item (consumed). Never blocks. */
grove_err stack_push(grove_node *node, grove_pid stack, grove_term *item);

/* Pops the top into *item (caller owns). GROVE_ENOTFOUND when empty. */
grove_err stack_pop(grove_node *node, grove_pid stack, grove_term **item);

grove_err stack_size(grove_node *node, grove_pid stack, size_t *size);

#endif
