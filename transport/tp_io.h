/*
 * tp_io.h - the transport's I/O thread: the one thread that owns every
 * ZeroMQ socket of a transport (ROUTER, ZAP handler, DEALERs, monitors).
 *
 * Its loop: poll(2) over the wake-up pipe and the ZMQ_FD of the ZAP
 * handler, the ROUTER, every DEALER's monitor and the DEALERs with output
 * waiting (a socket is slept on only while armed, see tp_io.c); then answer
 * ZAP, read the ROUTER (decode, deliver), handle monitor events, take the
 * outbound queue until it is empty, and flush one batch per peer (no
 * timer: a batch is whatever gathered while the thread was busy).
 *
 * Waking: senders push to the MPSC queue and write a byte to a pipe only
 * when the thread says it is going to sleep (the `asleep` flag, Dekker's
 * store-then-load on both sides, sequentially consistent), so a busy I/O
 * thread costs senders no system call.
 */
#ifndef GV_TP_IO_H
#define GV_TP_IO_H

#include "transport/tp_impl.h"

/* The I/O thread's body; arg is the gv_tp. Returns when `stopping` is set,
 * after saying goodbye to every peer and closing every socket it owns. */
void *gv_tp_io_main(void *arg);

/* Wakes the I/O thread if it sleeps. Any thread; never blocks. */
void gv_tp_io_wake(gv_tp *tp);

/* Wakes it unconditionally (for stopping). */
void gv_tp_io_kick(gv_tp *tp);

#endif
