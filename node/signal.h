/*
 * signal.h - non-message signals: one small allocation each.
 *
 * Messages are grove_terms (their gv_sig header is the term's own). Every
 * other signal is a gv_sig_ctl whose hdr.kind says which fields matter.
 * A signal owns its reason term.
 */
#ifndef GV_SIGNAL_H
#define GV_SIGNAL_H

#include <grove/term.h>

#include "node/sig_hdr.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gv_sig_ctl {
    gv_sig hdr;
    grove_pid from;
    grove_ref ref;      /* MONITOR, DEMONITOR, DOWN */
    uint64_t id;        /* UNLINK, UNLINK_ACK, TIMEOUT */
    grove_term *reason; /* EXIT, DOWN; owned */
} gv_sig_ctl;

/* A new control signal (caller owns; reason is consumed). */
gv_sig_ctl *gv_sig_ctl_new(uint16_t kind, grove_pid from, grove_term *reason);

/* Frees any signal, message or control, and what it owns. */
void gv_sig_free(gv_sig *s);

static inline grove_term *gv_sig_term(gv_sig *s)
{
    return (grove_term *)(void *)s; /* the header is the term's first field */
}

static inline gv_sig *gv_term_sig(grove_term *t)
{
    return (gv_sig *)(void *)t;
}

#endif
