/*
 * tp_env.h - envelopes: the signals that travel between nodes, as C values.
 *
 * An envelope is one entry of proto/grove.proto's Envelope, seen through
 * plain C structs so that the layers above never touch protobuf-c. The
 * codec (tp_codec.h) turns an envelope into wire bytes and back; the wire
 * format is specified in docs/protocol.md.
 *
 * Pointers inside an envelope are borrowed. An envelope handed to
 * gv_tp_send is read during the call only (it is encoded at once); one
 * handed to on_envelope points into the decoder's arena and lives for the
 * duration of the callback.
 *
 * Absent values: a pid or reference with creation 0 is absent (a real one
 * never has creation 0); a string that is NULL or "" is absent; bytes with
 * len 0 are absent. Decoded envelopes never hold NULL strings ("" instead).
 */
#ifndef GV_TP_ENV_H
#define GV_TP_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most words a reference carries (as GROVE_REF_MAX_WORDS). */
#define GV_TP_REF_WORDS 5

/* A pid on the wire. `node` NULL or "": the implicit node of the field
 * (its sender S or its receiver R, see docs/protocol.md); set: a third
 * node. */
typedef struct gv_tp_pid {
    uint32_t id;
    uint32_t serial;
    uint32_t creation; /* 0: absent */
    const char *node;
} gv_tp_pid;

typedef struct gv_tp_ref {
    uint32_t creation; /* 0: absent */
    uint32_t len;      /* words of id used, 1..GV_TP_REF_WORDS */
    uint32_t id[GV_TP_REF_WORDS];
    const char *node; /* NULL or "": implicit */
} gv_tp_ref;

/* ETF bytes (a term, version byte 131 first) or other bytes. */
typedef struct gv_tp_bytes {
    const uint8_t *data;
    size_t len; /* 0: absent */
} gv_tp_bytes;

typedef enum gv_tp_kind {
    GV_TP_NONE = 0,
    /* data lane: what the layer above sends and receives */
    GV_TP_SEND,
    GV_TP_SEND_NAME,
    GV_TP_LINK,
    GV_TP_UNLINK,
    GV_TP_UNLINK_ACK,
    GV_TP_EXIT,
    GV_TP_MONITOR,
    GV_TP_DEMONITOR,
    GV_TP_DOWN,
    GV_TP_SPAWN_REQUEST,
    GV_TP_SPAWN_REPLY,
    GV_TP_REG_CLAIM,
    GV_TP_REG_CLAIM_REPLY,
    GV_TP_REG_RELEASE,
    GV_TP_REG_SYNC,
    GV_TP_INSPECT_REQUEST,
    GV_TP_INSPECT_REPLY,
    /* control lane: the transport's own */
    GV_TP_HELLO,
    GV_TP_WELCOME,
    GV_TP_HEARTBEAT,
    GV_TP_MEMBERSHIP,
    GV_TP_GOODBYE,
    GV_TP_KIND_COUNT_
} gv_tp_kind;

/* The first control kind: kinds below it travel on the data lane. */
#define GV_TP_FIRST_CONTROL GV_TP_HELLO

static inline bool gv_tp_kind_is_data(gv_tp_kind k)
{
    return k > GV_TP_NONE && k < GV_TP_FIRST_CONTROL;
}

static inline bool gv_tp_kind_is_control(gv_tp_kind k)
{
    return k >= GV_TP_FIRST_CONTROL && k < GV_TP_KIND_COUNT_;
}

/* The kind's name ("send", "hello", ...); "?" for an unknown value. */
const char *gv_tp_kind_name(gv_tp_kind k);

typedef struct gv_tp_reg_entry {
    const char *name;
    gv_tp_pid pid; /* node always set */
    uint64_t epoch;
} gv_tp_reg_entry;

typedef struct gv_tp_member_info {
    const char *node;
    const char *address; /* "host:port" */
    uint32_t creation;
} gv_tp_member_info;

/* Goodbye reasons (Goodbye.Reason). */
enum { GV_TP_GOODBYE_SHUTDOWN = 0, GV_TP_GOODBYE_LEAVE = 1 };

/* One envelope. `kind` selects the member of `u`; the comment on each
 * member lists which fields must be present (the decoder refuses an
 * envelope without them; the encoder asserts them). */
typedef struct gv_tp_env {
    gv_tp_kind kind;
    union gv_tp_env_u {
        /* SEND: to, payload; from optional */
        struct {
            gv_tp_pid to, from;
            gv_tp_bytes payload;
        } send;
        /* SEND_NAME: name, payload; from optional */
        struct {
            const char *name;
            gv_tp_bytes payload;
            gv_tp_pid from;
        } send_name;
        /* LINK, UNLINK, UNLINK_ACK: from, to; id 0 = none */
        struct {
            gv_tp_pid from, to;
            uint64_t id;
        } link;
        /* EXIT: from, to, reason */
        struct {
            gv_tp_pid from, to;
            gv_tp_bytes reason;
            bool link; /* propagated along a link (EXIT), else exit/2 */
        } exit;
        /* MONITOR, DEMONITOR: from, ref, and to or name */
        struct {
            gv_tp_pid from;
            gv_tp_pid to;     /* the target, unless name is set */
            const char *name; /* monitor by name (to absent) */
            gv_tp_ref ref;
        } monitor;
        /* DOWN: ref, to, reason, and from or name */
        struct {
            gv_tp_ref ref;
            gv_tp_pid from;
            const char *name;
            gv_tp_pid to;
            gv_tp_bytes reason;
        } down;
        /* SPAWN_REQUEST: ref, from, behaviour; arg and name optional */
        struct {
            gv_tp_ref ref;
            gv_tp_pid from;
            const char *behaviour;
            gv_tp_bytes arg;
            bool link, monitor, trap_exit;
            const char *name;
        } spawn_request;
        /* SPAWN_REPLY: ref, to, and pid (success) or error */
        struct {
            gv_tp_ref ref;
            gv_tp_pid to;
            gv_tp_pid pid;     /* the new process; absent on failure */
            gv_tp_bytes error; /* ETF reason when pid is absent */
            bool link, monitor;
        } spawn_reply;
        /* REG_CLAIM, REG_RELEASE: name, pid (node set); request unused by release */
        struct {
            uint64_t request;
            const char *name;
            gv_tp_pid pid;
            uint64_t epoch;
        } reg_claim;
        /* REG_CLAIM_REPLY: owner optional */
        struct {
            uint64_t request;
            bool accepted;
            gv_tp_pid owner;
            uint64_t epoch;
        } reg_claim_reply;
        /* REG_SYNC: n entries */
        struct {
            size_t n;
            const gv_tp_reg_entry *entries;
            bool last;
        } reg_sync;
        /* INSPECT_REQUEST: what; args and reply_to optional */
        struct {
            uint64_t request;
            const char *what;
            gv_tp_bytes args;
            gv_tp_pid reply_to;
        } inspect_request;
        /* INSPECT_REPLY */
        struct {
            uint64_t request;
            gv_tp_bytes result;
            bool last;
        } inspect_reply;
        /* HELLO, WELCOME: node, creation, session; echo for WELCOME only;
         * probe and probe_echo for HELLO only */
        struct gv_tp_hello {
            uint32_t version, minor;
            const char *node;
            uint32_t creation;
            uint64_t session;
            uint64_t capabilities;
            const char *address;
            bool probe;
            uint64_t probe_echo;
            uint64_t echo;
            bool hidden;
        } hello;
        /* HEARTBEAT */
        struct {
            uint64_t echo;
            uint64_t run_queue, processes;
        } heartbeat;
        /* MEMBERSHIP: n members, each with node, address, creation */
        struct {
            size_t n;
            const gv_tp_member_info *members;
        } membership;
        /* GOODBYE */
        struct {
            uint32_t reason; /* GV_TP_GOODBYE_*; other values read as SHUTDOWN */
            uint64_t last_seq;
            const char *detail;
        } goodbye;
    } u;
} gv_tp_env;

#endif
