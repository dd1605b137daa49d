#include "node/signal.h"

#include "base/gv_alloc.h"

#include <string.h>

gv_sig_ctl *gv_sig_ctl_new(uint16_t kind, grove_pid from, grove_term *reason)
{
    gv_sig_ctl *c = gv_malloc_owned(sizeof *c); /* freed by gv_sig_free */
    memset(c, 0, sizeof *c);
    atomic_init(&c->hdr.next, NULL);
    c->hdr.kind = kind;
    c->from = from;
    c->reason = reason;
    return c;
}

void gv_sig_free(gv_sig *s)
{
    if (!s)
        return;
    if (s->kind == GV_SIG_MESSAGE) {
        gv_free_owned(s); /* a term: from gv_term_alloc (node/term/term.c) */
        return;
    }
    gv_sig_ctl *c = (gv_sig_ctl *)s;
    grove_term_destroy(&c->reason);
    gv_free_owned(c); /* from gv_sig_ctl_new */
}
