/*
 * sig_hdr.h - the header every signal carries while it travels.
 *
 * A signal (a message, a link, an exit, a monitor, a DOWN, ...) is queued
 * in a mailbox through this intrusive header, so queuing allocates
 * nothing. A message is a grove_term, whose header this is, so a message
 * costs exactly one allocation.
 *
 * `next` must stay the first field: the mailbox links through it.
 */
#ifndef GV_SIG_HDR_H
#define GV_SIG_HDR_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct gv_sig {
    struct gv_sig *_Atomic next; /* the mailbox's intrusive link */
    uint16_t kind;               /* GV_SIG_MESSAGE for a term; others: node/signal.h */
    uint16_t flags;
    uint32_t aux;
} gv_sig;

/* Kinds. Every kind but GV_SIG_MESSAGE is a gv_sig_ctl (node/signal.h). */
enum {
    GV_SIG_MESSAGE = 0, /* a grove_term */
    GV_SIG_EXIT,        /* exit signal: from, reason; flags GV_SIGF_LINK */
    GV_SIG_LINK,        /* from */
    GV_SIG_UNLINK,      /* from, id */
    GV_SIG_UNLINK_ACK,  /* from, id */
    GV_SIG_MONITOR,     /* from (the watcher), ref */
    GV_SIG_DEMONITOR,   /* from (the watcher), ref */
    GV_SIG_DOWN,        /* from (the dead), ref, reason */
    GV_SIG_TIMEOUT,     /* receive timeout: id is the sequence it belongs to */
    GV_SIG_KIND_COUNT_
};

/* flags */
enum {
    GV_SIGF_LINK = 1,  /* an exit signal sent along a link (trappable even for kill) */
    GV_SIGF_FORCE = 2, /* an exit nobody can trap, with this very reason (node stop) */
    /* a DOWN that only removes the monitor, with no message: the
     * placeholder monitor of a spawn_request that failed */
    GV_SIGF_SILENT = 4,
};

#endif
