/*
 * cluster_sup_impl.h - the cluster-wide supervisor's internals (internal
 * to otp/; docs/otp.md, "The cluster-wide supervisor").
 *
 * First its pure parts (cluster_sup_quorum.c): which members count
 * toward a majority, and where a child goes. No state, no clock: every
 * member computes the same answers from the same inputs.
 *
 * Then the member's state and the functions its files share: the
 * replicated table (cluster_sup_table.c), the member's view of who
 * counts and where children go (cluster_sup_view.c), and the member
 * process (cluster_sup.c), which the API (cluster_sup_api.c) starts and
 * calls. Each runs only in its member's process.
 */
#ifndef GV_OTP_CLUSTER_SUP_IMPL_H
#define GV_OTP_CLUSTER_SUP_IMPL_H

#include "otp/otp_impl.h"

#include <grove/node.h>
#include <grove/process.h>
#include <grove/term.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the pure parts ------------------------------------------------------------------------ */

/* The counted set of n known members, indexed 0..n-1 in the order of
 * their names (byte order). links[i * n + j] says that member i reports
 * hearing member j (the diagonal is ignored); two members are linked
 * when both report the other. While some two members left are not
 * linked, the one with the fewest links to the others left is dropped
 * (ties: the greatest name). Fills in[0..n) and returns how many are
 * left: a set of pairwise linked members, the same for every member that
 * computes it from the same reports. */
size_t gv_csup_counted(size_t n, const bool *links, bool *in);

/* True when `counted` members out of `known` are a majority. */
static inline bool gv_csup_majority(size_t counted, size_t known)
{
    return counted * 2 > known;
}

/* The rendezvous weight of child id on node (FNV-1a of both). */
uint64_t gv_csup_weight(const char *id, const char *node);

/* Where child id goes among nodes[0..n) (n >= 1): the node holding the
 * fewest children (owned[k]), then the greatest weight, then the first
 * name. Returns the index. */
size_t gv_csup_pick(const char *id, const char *const *nodes, const size_t *owned, size_t n);

/* ---- state ------------------------------------------------------------------------------ */

#define GV_CSUP_PREFIX "grove_csup:"
#define GV_CSUP_NAME_MAX 200
#define GV_CSUP_LNAME_MAX (sizeof GV_CSUP_PREFIX - 1 + GV_CSUP_NAME_MAX)

typedef enum gv_csup_lstate {
    GV_CSUP_L_NONE = 0, /* not running here */
    GV_CSUP_L_STARTING, /* started, its acknowledgement awaited */
    GV_CSUP_L_RUNNING,
    GV_CSUP_L_STOPPING, /* asked to stop, its DOWN awaited */
} gv_csup_lstate;

typedef struct gv_csup_entry {
    char *id;
    /* the spec */
    gv_otp_kind kind;
    char *target;     /* the target's registered name */
    const void *impl; /* on this node; NULL: not registered here */
    grove_term *arg;  /* NULL: none */
    grove_restart restart;
    int64_t shutdown_ms;
    char *gname; /* its global name, or NULL */
    /* the assignment */
    uint64_t gen;
    grove_nodename owner; /* 0: not placed yet */
    bool removed;
    /* the status, as told by the owner */
    uint64_t sseq;
    bool running;
    grove_pid pid;
    /* hosted here */
    gv_csup_lstate ls;
    grove_pid lpid;
    grove_ref
        lref; /* GV_CSUP_L_STARTING: the acknowledgement's; GV_CSUP_L_STOPPING: the monitor's */
    grove_timer kill_timer;
    bool retry; /* a retry timer is pending */
    uint32_t backoff_ms;
    /* added by start_child and not started yet: who is waiting */
    bool fresh;
    grove_pid add_to;
    grove_ref add_ref;
} gv_csup_entry;

typedef struct gv_csup_peer {
    grove_nodename node;
    bool connected; /* a session is up */
    bool heard;     /* its member said hello in this session */
    bool known;     /* one of the known members */
    bool counted;
    uint64_t down_since; /* when its session ended */
    uint64_t out_since;  /* when it left the counted set */
    uint64_t row_seq;    /* its last row: the members it hears */
    grove_nodename *row;
    size_t nrow;
} gv_csup_peer;

typedef struct gv_csup_pending {
    grove_ref ref;
    grove_from from;
    grove_nodename owner;
} gv_csup_pending;

typedef struct gv_csup_member {
    char name[GV_CSUP_NAME_MAX + 1];
    char lname[GV_CSUP_LNAME_MAX + 1];
    grove_nodename self;
    int intensity;
    uint32_t period_ms, hb_ms, nd_ms, forget_ms;
    uint64_t started_ms;
    gv_csup_entry **ents; /* sorted by id */
    size_t nents, ecap;
    gv_csup_peer *peers;
    size_t npeers, pcap;
    uint64_t row_seq;
    bool majority;
    uint64_t minority_since; /* when the majority was lost (valid while !majority) */
    bool settled;            /* unplaced children may be placed */
    uint64_t *restarts;
    size_t nrestarts;
    gv_csup_pending *pend;
    size_t npend, pendcap;
    bool stopping;
    bool has_stop_from;
    grove_from stop_from;    /* the stop call to answer, unless stop_reason */
    grove_term *stop_reason; /* stopping for the parent's exit: exit with this */
    grove_pid parent;        /* its supervisor's pid, or the node's own pid */
} gv_csup_member;

/* ---- the replicated table (cluster_sup_table.c) --------------------------------------------- */

/* The name of a kind as a spec carries it. */
const char *gv_csup_kind_name(gv_otp_kind kind);

/* Frees an entry and what it owns; NULL is ignored. */
void gv_csup_entry_free(gv_csup_entry *e);

/* The entry of id, or NULL. */
gv_csup_entry *gv_csup_find(const gv_csup_member *m, const char *id);

/* Adds e (taking ownership) in id order; its id must be new. */
void gv_csup_insert(gv_csup_member *m, gv_csup_entry *e);

/* The spec of e as it travels. Caller owns the result. */
grove_term *gv_csup_spec_term(const gv_csup_entry *e);

/* Reads a travelling spec into e (which owns what it gets); false on a
 * malformed one. */
bool gv_csup_spec_read(const grove_term *t, gv_csup_entry *e);

/* Entry e as it travels: {csup_entry, ...}. Caller owns the result. */
grove_term *gv_csup_entry_term(const gv_csup_entry *e);

/* An entry read from {csup_entry, ...}, or NULL when malformed. Caller
 * owns the result. */
gv_csup_entry *gv_csup_entry_read(const grove_term *t);

/* > 0 when a replica keeps a over b, < 0 for b, 0 for equals. */
int gv_csup_rank_cmp(const gv_csup_entry *a, const gv_csup_entry *b);

/* Takes a replica's entry (consumes in). */
void gv_csup_merge(grove_proc *self, gv_csup_member *m, gv_csup_entry *in);

/* ---- the view: who counts, where children go (cluster_sup_view.c) --------------------------- */

/* The peer of node, or NULL. */
gv_csup_peer *gv_csup_peer_find(gv_csup_member *m, grove_nodename node);

/* The peer of node, added when new. The pointer lasts until the next
 * peer is added. */
gv_csup_peer *gv_csup_peer_get(gv_csup_member *m, grove_nodename node);

/* Sends msg (consumed) to the member on node. */
void gv_csup_send(grove_proc *self, gv_csup_member *m, grove_nodename node, grove_term *msg);

/* Sends a copy of msg to every member heard. */
void gv_csup_to_heard(grove_proc *self, gv_csup_member *m, const grove_term *msg);

/* An entry changed here: every member hears of it. */
void gv_csup_publish(grove_proc *self, gv_csup_member *m, const gv_csup_entry *e);

/* Every row this member holds, its own included. Caller owns the
 * result. */
grove_term *gv_csup_rows_term(const gv_csup_member *m);

/* Takes the newer rows of a peer's list (*changed set when any is);
 * false if it is malformed. */
bool gv_csup_rows_merge(gv_csup_member *m, const grove_term *rows, bool *changed);

/* Numbers a new own row. */
void gv_csup_bump_row(gv_csup_member *m);

/* Sends the rows to every member heard. */
void gv_csup_gossip(grove_proc *self, gv_csup_member *m);

/* Recomputes the known members, the counted set and the majority. */
void gv_csup_view(grove_proc *self, gv_csup_member *m);

/* Where child id goes among the counted members (but `except`): 0 for
 * nowhere. */
grove_nodename gv_csup_place(const gv_csup_member *m, const char *id, grove_nodename except);

/* Places what needs a place, as every counted member does. */
void gv_csup_assign(grove_proc *self, gv_csup_member *m);

/* ---- the member process (cluster_sup.c) ------------------------------------------------------ */

/* Answers the start_child waiting on e, if any, with result (consumed). */
void gv_csup_reply_add(grove_proc *self, gv_csup_entry *e, grove_term *result);

/* The member: started with {Name, Intensity, PeriodMs, HeartbeatMs,
 * NodedownMs, ForgetMs, [{Id, Spec}]}, registered as GV_CSUP_PREFIX
 * followed by the supervisor's name. */
extern const grove_behaviour gv_csup_member_behaviour;

#endif
