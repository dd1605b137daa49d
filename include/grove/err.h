/*
 * grove/err.h - the one error type of Grove.
 *
 * Every fallible call returns a grove_err. GROVE_OK is zero, so
 * `if (err) ...` reads naturally. Errors from the outside world (bad
 * bytes, a dead process, a lost peer) are values; a broken invariant
 * inside Grove aborts.
 */
#ifndef GROVE_ERR_H
#define GROVE_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum grove_err {
    GROVE_OK = 0,
    GROVE_EINVAL,      /* an argument is malformed (a bad format string, ...) */
    GROVE_EBADARG,     /* a term argument has the wrong shape */
    GROVE_ENOMEM,      /* a configured limit on memory was reached */
    GROVE_EDECODE,     /* bytes are not a valid term */
    GROVE_ESYNTAX,     /* text is not a valid term */
    GROVE_ERANGE,      /* a value does not fit the C type asked for */
    GROVE_ENOPROC,     /* no such process (dead, or never existed) */
    GROVE_ETIMEDOUT,   /* the wait ran out */
    GROVE_ECLOSED,     /* the node, session or queue is closed */
    GROVE_EPROTO,      /* a peer broke the protocol */
    GROVE_EEXIST,      /* the name is already taken */
    GROVE_ENOTFOUND,   /* no such name, key or child */
    GROVE_EWOULDBLOCK, /* a blocking call made on a scheduler thread */
    GROVE_E2BIG,       /* a message over the size limit */
    GROVE_EAGAIN,      /* try again later (backpressure) */
    GROVE_ENOCONN,     /* the node is not connected */
    GROVE_EPERM,       /* not allowed (missing secret, capability, ...) */
    GROVE_EIO,         /* an operating-system or library call failed */
    GROVE_ERR_COUNT_   /* not an error: the number of codes */
} grove_err;

/* A short, static, human-readable description of err. Never NULL; an
 * unknown code gives "unknown error". Any thread. */
const char *grove_strerror(grove_err err);

/* The symbolic name of err ("GROVE_ENOPROC"). Never NULL. Any thread. */
const char *grove_errname(grove_err err);

#ifdef __cplusplus
}
#endif
#endif
