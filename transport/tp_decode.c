#include "transport/tp_codec.h"

#include "base/gv_utf8.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ETF's version byte: every term field starts with it. */
#define ETF_VERSION 131u

/* ======================================================================== */
/* decoding                                                                  */
/* ======================================================================== */

/* The decoder's arena: one batch may take this much per input byte, plus
 * a floor. protobuf-c's objects for a batch take a small multiple of its
 * size (each empty envelope costs about 80 bytes against 2 on the wire). */
#define ARENA_FIRST (64u * 1024u)
#define ARENA_PER_BYTE 48u
#define ARENA_FLOOR (256u * 1024u)

typedef struct dec {
    gv_tp_arena *arena;
    gv_tp_proto_error *err;
    size_t index;
} dec;

static bool s_fail(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool s_fail(dec *d, const char *fmt, ...)
{
    if (d->err) {
        d->err->index = d->index;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->reason, sizeof d->err->reason, fmt, ap);
        va_end(ap);
    }
    return false;
}

void gv_tp_decoder_init(gv_tp_decoder *d)
{
    gv_tp_arena_init(&d->arena, ARENA_FIRST, ARENA_FLOOR);
}

void gv_tp_decoder_fini(gv_tp_decoder *d)
{
    gv_tp_arena_fini(&d->arena);
}

static const char *s_in_str(const char *s)
{
    return s ? s : "";
}

/* A string field: at most max bytes of UTF-8. */
static bool s_text(dec *d, const char *what, const char *s, size_t max, bool required)
{
    size_t len = strlen(s), chars;
    if (required && len == 0)
        return s_fail(d, "%s is missing", what);
    if (len > max)
        return s_fail(d, "%s is %zu bytes long (at most %zu)", what, len, max);
    if (!gv_utf8_count((const uint8_t *)s, len, &chars))
        return s_fail(d, "%s is not UTF-8", what);
    return true;
}

static bool s_pid_in(dec *d, const char *what, const Grove__Pid *in, gv_tp_pid *out, bool required)
{
    memset(out, 0, sizeof *out);
    out->node = "";
    if (!in) {
        if (required)
            return s_fail(d, "%s is missing", what);
        return true;
    }
    if (in->creation == 0)
        return s_fail(d, "%s has creation 0", what);
    const char *node = s_in_str(in->node);
    if (!s_text(d, what, node, GV_TP_MAX_TEXT_BYTES, false))
        return false;
    out->id = in->id;
    out->serial = in->serial;
    out->creation = in->creation;
    out->node = node;
    return true;
}

static bool s_pid_with_node(dec *d, const char *what, const Grove__Pid *in, gv_tp_pid *out)
{
    if (!s_pid_in(d, what, in, out, true))
        return false;
    if (!out->node[0])
        return s_fail(d, "%s has no node", what);
    return true;
}

static bool s_ref_in(dec *d, const Grove__Ref *in, gv_tp_ref *out)
{
    memset(out, 0, sizeof *out);
    out->node = "";
    if (!in)
        return s_fail(d, "ref is missing");
    if (in->creation == 0)
        return s_fail(d, "ref has creation 0");
    if (in->n_id == 0 || in->n_id > GV_TP_REF_WORDS)
        return s_fail(d, "ref has %zu words (1 to %d)", in->n_id, GV_TP_REF_WORDS);
    const char *node = s_in_str(in->node);
    if (!s_text(d, "ref node", node, GV_TP_MAX_TEXT_BYTES, false))
        return false;
    out->creation = in->creation;
    out->len = (uint32_t)in->n_id;
    memcpy(out->id, in->id, in->n_id * sizeof in->id[0]);
    out->node = node;
    return true;
}

/* A term field: ETF bytes, version byte first. */
static bool s_term(dec *d, const char *what, ProtobufCBinaryData in, gv_tp_bytes *out,
                   bool required)
{
    out->data = in.len ? in.data : NULL;
    out->len = in.len;
    if (in.len == 0) {
        if (required)
            return s_fail(d, "%s is missing", what);
        return true;
    }
    if (in.len < 2 || in.data[0] != ETF_VERSION)
        return s_fail(d, "%s is not an ETF term", what);
    return true;
}

static bool s_hello_common(dec *d, const char *node, uint32_t creation, uint64_t session,
                           const char *address)
{
    if (!gv_tp_valid_node_name(node, strlen(node)))
        return s_fail(d, "node name is not name@host (at most %u bytes)", GV_TP_MAX_NODE_BYTES);
    if (creation == 0)
        return s_fail(d, "creation is 0");
    if (session == 0)
        return s_fail(d, "session is 0");
    return s_text(d, "address", address, GV_TP_MAX_TEXT_BYTES, false);
}

static bool s_convert(dec *d, const Grove__Envelope *e, gv_tp_env *out)
{
    memset(out, 0, sizeof *out);
    union gv_tp_env_u *u = &out->u;
    switch (e->kind_case) {
    case GROVE__ENVELOPE__KIND_SEND:
        out->kind = GV_TP_SEND;
        return s_pid_in(d, "send.to", e->send->to, &u->send.to, true) &&
               s_pid_in(d, "send.from", e->send->from, &u->send.from, false) &&
               s_term(d, "send.payload", e->send->payload, &u->send.payload, true);
    case GROVE__ENVELOPE__KIND_SEND_NAME:
        out->kind = GV_TP_SEND_NAME;
        u->send_name.name = s_in_str(e->send_name->name);
        return s_text(d, "send_name.name", u->send_name.name, GV_TP_MAX_TEXT_BYTES, true) &&
               s_pid_in(d, "send_name.from", e->send_name->from, &u->send_name.from, false) &&
               s_term(d, "send_name.payload", e->send_name->payload, &u->send_name.payload, true);
    case GROVE__ENVELOPE__KIND_LINK:
        out->kind = GV_TP_LINK;
        return s_pid_in(d, "link.from", e->link->from, &u->link.from, true) &&
               s_pid_in(d, "link.to", e->link->to, &u->link.to, true);
    case GROVE__ENVELOPE__KIND_UNLINK:
        out->kind = GV_TP_UNLINK;
        u->link.id = e->unlink->id;
        return s_pid_in(d, "unlink.from", e->unlink->from, &u->link.from, true) &&
               s_pid_in(d, "unlink.to", e->unlink->to, &u->link.to, true);
    case GROVE__ENVELOPE__KIND_UNLINK_ACK:
        out->kind = GV_TP_UNLINK_ACK;
        u->link.id = e->unlink_ack->id;
        return s_pid_in(d, "unlink_ack.from", e->unlink_ack->from, &u->link.from, true) &&
               s_pid_in(d, "unlink_ack.to", e->unlink_ack->to, &u->link.to, true);
    case GROVE__ENVELOPE__KIND_EXIT:
        out->kind = GV_TP_EXIT;
        u->exit.link = e->exit->link;
        return s_pid_in(d, "exit.from", e->exit->from, &u->exit.from, true) &&
               s_pid_in(d, "exit.to", e->exit->to, &u->exit.to, true) &&
               s_term(d, "exit.reason", e->exit->reason, &u->exit.reason, true);
    case GROVE__ENVELOPE__KIND_MONITOR:
    case GROVE__ENVELOPE__KIND_DEMONITOR: {
        bool mon = e->kind_case == GROVE__ENVELOPE__KIND_MONITOR;
        const Grove__Pid *from = mon ? e->monitor->from : e->demonitor->from;
        const Grove__Ref *ref = mon ? e->monitor->ref : e->demonitor->ref;
        int target = mon ? (int)e->monitor->target_case : (int)e->demonitor->target_case;
        const Grove__Pid *to = mon ? e->monitor->to : e->demonitor->to;
        const char *name = mon ? e->monitor->name : e->demonitor->name;
        out->kind = mon ? GV_TP_MONITOR : GV_TP_DEMONITOR;
        u->monitor.name = "";
        memset(&u->monitor.to, 0, sizeof u->monitor.to);
        u->monitor.to.node = "";
        if (!s_pid_in(d, "monitor.from", from, &u->monitor.from, true) ||
            !s_ref_in(d, ref, &u->monitor.ref))
            return false;
        if (target == GROVE__MONITOR__TARGET_TO)
            return s_pid_in(d, "monitor.to", to, &u->monitor.to, true);
        if (target == GROVE__MONITOR__TARGET_NAME) {
            u->monitor.name = s_in_str(name);
            return s_text(d, "monitor.name", u->monitor.name, GV_TP_MAX_TEXT_BYTES, true);
        }
        return s_fail(d, "monitor has no target");
    }
    case GROVE__ENVELOPE__KIND_DOWN: {
        const Grove__Down *m = e->down;
        out->kind = GV_TP_DOWN;
        u->down.name = "";
        memset(&u->down.from, 0, sizeof u->down.from);
        u->down.from.node = "";
        if (!s_ref_in(d, m->ref, &u->down.ref) ||
            !s_pid_in(d, "down.to", m->to, &u->down.to, true) ||
            !s_term(d, "down.reason", m->reason, &u->down.reason, true))
            return false;
        if (m->object_case == GROVE__DOWN__OBJECT_FROM)
            return s_pid_in(d, "down.from", m->from, &u->down.from, true);
        if (m->object_case == GROVE__DOWN__OBJECT_NAME) {
            u->down.name = s_in_str(m->name);
            return s_text(d, "down.name", u->down.name, GV_TP_MAX_TEXT_BYTES, true);
        }
        return s_fail(d, "down has no object");
    }
    case GROVE__ENVELOPE__KIND_SPAWN_REQUEST: {
        const Grove__SpawnRequest *m = e->spawn_request;
        out->kind = GV_TP_SPAWN_REQUEST;
        u->spawn_request.behaviour = s_in_str(m->behaviour);
        u->spawn_request.name = s_in_str(m->name);
        u->spawn_request.link = m->link;
        u->spawn_request.monitor = m->monitor;
        u->spawn_request.trap_exit = m->trap_exit;
        return s_ref_in(d, m->ref, &u->spawn_request.ref) &&
               s_pid_in(d, "spawn_request.from", m->from, &u->spawn_request.from, true) &&
               s_text(d, "spawn_request.behaviour", u->spawn_request.behaviour,
                      GV_TP_MAX_TEXT_BYTES, true) &&
               s_text(d, "spawn_request.name", u->spawn_request.name, GV_TP_MAX_TEXT_BYTES,
                      false) &&
               s_term(d, "spawn_request.arg", m->arg, &u->spawn_request.arg, false);
    }
    case GROVE__ENVELOPE__KIND_SPAWN_REPLY: {
        const Grove__SpawnReply *m = e->spawn_reply;
        out->kind = GV_TP_SPAWN_REPLY;
        u->spawn_reply.link = m->link;
        u->spawn_reply.monitor = m->monitor;
        memset(&u->spawn_reply.pid, 0, sizeof u->spawn_reply.pid);
        u->spawn_reply.pid.node = "";
        if (!s_ref_in(d, m->ref, &u->spawn_reply.ref) ||
            !s_pid_in(d, "spawn_reply.to", m->to, &u->spawn_reply.to, true))
            return false;
        if (m->result_case == GROVE__SPAWN_REPLY__RESULT_PID)
            return s_pid_in(d, "spawn_reply.pid", m->pid, &u->spawn_reply.pid, true);
        if (m->result_case == GROVE__SPAWN_REPLY__RESULT_ERROR)
            return s_term(d, "spawn_reply.error", m->error, &u->spawn_reply.error, true);
        return s_fail(d, "spawn_reply has no result");
    }
    case GROVE__ENVELOPE__KIND_REG_CLAIM:
        out->kind = GV_TP_REG_CLAIM;
        u->reg_claim.request = e->reg_claim->request;
        u->reg_claim.name = s_in_str(e->reg_claim->name);
        u->reg_claim.epoch = e->reg_claim->epoch;
        return s_text(d, "reg_claim.name", u->reg_claim.name, GV_TP_MAX_TEXT_BYTES, true) &&
               s_pid_with_node(d, "reg_claim.pid", e->reg_claim->pid, &u->reg_claim.pid);
    case GROVE__ENVELOPE__KIND_REG_RELEASE:
        out->kind = GV_TP_REG_RELEASE;
        u->reg_claim.name = s_in_str(e->reg_release->name);
        u->reg_claim.epoch = e->reg_release->epoch;
        return s_text(d, "reg_release.name", u->reg_claim.name, GV_TP_MAX_TEXT_BYTES, true) &&
               s_pid_with_node(d, "reg_release.pid", e->reg_release->pid, &u->reg_claim.pid);
    case GROVE__ENVELOPE__KIND_REG_CLAIM_REPLY: {
        const Grove__RegClaimReply *m = e->reg_claim_reply;
        out->kind = GV_TP_REG_CLAIM_REPLY;
        u->reg_claim_reply.request = m->request;
        u->reg_claim_reply.accepted = m->accepted;
        u->reg_claim_reply.epoch = m->epoch;
        if (!m->owner) {
            u->reg_claim_reply.owner.node = "";
            return true;
        }
        return s_pid_with_node(d, "reg_claim_reply.owner", m->owner, &u->reg_claim_reply.owner);
    }
    case GROVE__ENVELOPE__KIND_REG_SYNC: {
        const Grove__RegSync *m = e->reg_sync;
        out->kind = GV_TP_REG_SYNC;
        u->reg_sync.last = m->last;
        if (m->n_entries > GV_TP_MAX_ITEMS)
            return s_fail(d, "reg_sync has %zu entries (at most %u)", m->n_entries,
                          GV_TP_MAX_ITEMS);
        gv_tp_reg_entry *ents = NULL;
        if (m->n_entries) {
            ents = gv_tp_arena_alloc(d->arena, m->n_entries * sizeof *ents);
            if (!ents)
                return s_fail(d, "batch too large to decode");
        }
        for (size_t i = 0; i < m->n_entries; i++) {
            const Grove__RegEntry *in = m->entries[i];
            ents[i].name = s_in_str(in->name);
            ents[i].epoch = in->epoch;
            if (!s_text(d, "reg_sync.name", ents[i].name, GV_TP_MAX_TEXT_BYTES, true) ||
                !s_pid_with_node(d, "reg_sync.pid", in->pid, &ents[i].pid))
                return false;
        }
        u->reg_sync.n = m->n_entries;
        u->reg_sync.entries = ents;
        return true;
    }
    case GROVE__ENVELOPE__KIND_INSPECT_REQUEST: {
        const Grove__InspectRequest *m = e->inspect_request;
        out->kind = GV_TP_INSPECT_REQUEST;
        u->inspect_request.request = m->request;
        u->inspect_request.what = s_in_str(m->what);
        return s_text(d, "inspect_request.what", u->inspect_request.what, GV_TP_MAX_TEXT_BYTES,
                      true) &&
               s_term(d, "inspect_request.args", m->args, &u->inspect_request.args, false) &&
               s_pid_in(d, "inspect_request.reply_to", m->reply_to, &u->inspect_request.reply_to,
                        false);
    }
    case GROVE__ENVELOPE__KIND_INSPECT_REPLY:
        out->kind = GV_TP_INSPECT_REPLY;
        u->inspect_reply.request = e->inspect_reply->request;
        u->inspect_reply.last = e->inspect_reply->last;
        return s_term(d, "inspect_reply.result", e->inspect_reply->result, &u->inspect_reply.result,
                      false);
    case GROVE__ENVELOPE__KIND_HELLO: {
        const Grove__Hello *m = e->hello;
        out->kind = GV_TP_HELLO;
        u->hello.version = m->version;
        u->hello.minor = m->minor;
        u->hello.node = s_in_str(m->node);
        u->hello.creation = m->creation;
        u->hello.session = m->session;
        u->hello.capabilities = m->capabilities;
        u->hello.address = s_in_str(m->address);
        u->hello.probe = m->probe;
        u->hello.probe_echo = m->probe_echo;
        u->hello.hidden = m->hidden;
        return s_hello_common(d, u->hello.node, m->creation, m->session, u->hello.address);
    }
    case GROVE__ENVELOPE__KIND_WELCOME: {
        const Grove__Welcome *m = e->welcome;
        out->kind = GV_TP_WELCOME;
        u->hello.version = m->version;
        u->hello.minor = m->minor;
        u->hello.node = s_in_str(m->node);
        u->hello.creation = m->creation;
        u->hello.session = m->session;
        u->hello.capabilities = m->capabilities;
        u->hello.address = s_in_str(m->address);
        u->hello.echo = m->echo;
        u->hello.hidden = m->hidden;
        if (!s_hello_common(d, u->hello.node, m->creation, m->session, u->hello.address))
            return false;
        if (m->echo == 0)
            return s_fail(d, "welcome.echo is 0");
        return true;
    }
    case GROVE__ENVELOPE__KIND_HEARTBEAT:
        out->kind = GV_TP_HEARTBEAT;
        u->heartbeat.echo = e->heartbeat->echo;
        u->heartbeat.run_queue = e->heartbeat->run_queue;
        u->heartbeat.processes = e->heartbeat->processes;
        return true;
    case GROVE__ENVELOPE__KIND_MEMBERSHIP: {
        const Grove__Membership *m = e->membership;
        out->kind = GV_TP_MEMBERSHIP;
        if (m->n_members > GV_TP_MAX_ITEMS)
            return s_fail(d, "membership has %zu members (at most %u)", m->n_members,
                          GV_TP_MAX_ITEMS);
        gv_tp_member_info *mem = NULL;
        if (m->n_members) {
            mem = gv_tp_arena_alloc(d->arena, m->n_members * sizeof *mem);
            if (!mem)
                return s_fail(d, "batch too large to decode");
        }
        for (size_t i = 0; i < m->n_members; i++) {
            const Grove__Member *in = m->members[i];
            mem[i].node = s_in_str(in->node);
            mem[i].address = s_in_str(in->address);
            mem[i].creation = in->creation;
            if (!gv_tp_valid_node_name(mem[i].node, strlen(mem[i].node)))
                return s_fail(d, "member %zu: node name is not name@host", i);
            if (in->creation == 0)
                return s_fail(d, "member %zu: creation is 0", i);
            if (!s_text(d, "member address", mem[i].address, GV_TP_MAX_TEXT_BYTES, true))
                return false;
        }
        u->membership.n = m->n_members;
        u->membership.members = mem;
        return true;
    }
    case GROVE__ENVELOPE__KIND_GOODBYE:
        out->kind = GV_TP_GOODBYE;
        u->goodbye.reason = e->goodbye->reason == GROVE__GOODBYE__REASON__LEAVE
                                ? GV_TP_GOODBYE_LEAVE
                                : GV_TP_GOODBYE_SHUTDOWN;
        u->goodbye.last_seq = e->goodbye->last_seq;
        u->goodbye.detail = s_in_str(e->goodbye->detail);
        return s_text(d, "goodbye.detail", u->goodbye.detail, GV_TP_MAX_TEXT_BYTES, false);
    case GROVE__ENVELOPE__KIND__NOT_SET:
    default:
        return s_fail(d, "unknown envelope kind");
    }
}

/* ---- data batches of send envelopes, by hand -------------------------------------- */

/* A data batch made only of send envelopes, laid out exactly as Grove's
 * encoder writes it (tp_encode.c: fields in order, zeros left out), is
 * read here without protobuf-c. Anything else (another kind, another
 * order, an unknown field, a bad value) returns false and the batch goes
 * through protobuf-c, which also words any error: this path only ever
 * accepts what that one accepts, with the same result. */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static bool s_rd_varint(rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* A length-delimited field's body (its tag already matched). protobuf-c
 * takes a length of at most 5 bytes and INT_MAX: so does this. */
static bool s_rd_len(rd *r, rd *body)
{
    uint64_t len;
    const uint8_t *start = r->p;
    if (!s_rd_varint(r, &len) || r->p - start > 5 || len > INT_MAX ||
        len > (uint64_t)(r->end - r->p))
        return false;
    body->p = r->p;
    body->end = r->p + len;
    r->p += len;
    return true;
}

static bool s_rd_tag(rd *r, uint8_t tag)
{
    if (r->p < r->end && *r->p == tag) {
        r->p++;
        return true;
    }
    return false;
}

static bool s_rd_u32(rd *r, uint8_t tag, uint32_t *out)
{
    uint64_t v;
    if (!s_rd_tag(r, tag))
        return true; /* absent: 0 */
    if (!s_rd_varint(r, &v) || v == 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A Pid: id, serial, creation, node, each optional, in that order. */
static bool s_fast_pid(dec *d, rd *r, gv_tp_pid *out)
{
    memset(out, 0, sizeof *out);
    out->node = "";
    if (!s_rd_u32(r, 0x08, &out->id) || !s_rd_u32(r, 0x10, &out->serial) ||
        !s_rd_u32(r, 0x18, &out->creation) || out->creation == 0)
        return false;
    if (s_rd_tag(r, 0x22)) {
        rd node;
        size_t chars;
        if (!s_rd_len(r, &node))
            return false;
        size_t len = (size_t)(node.end - node.p);
        if (len == 0 || len > GV_TP_MAX_TEXT_BYTES || memchr(node.p, 0, len) ||
            !gv_utf8_count(node.p, len, &chars))
            return false;
        char *copy = gv_tp_arena_alloc(d->arena, len + 1);
        if (!copy)
            return false;
        memcpy(copy, node.p, len);
        copy[len] = 0;
        out->node = copy;
    }
    return r->p == r->end;
}

/* One record's Envelope: exactly one Send. */
static bool s_fast_send(dec *d, rd *env, gv_tp_env *out)
{
    rd send, pid, payload;
    if (!s_rd_tag(env, 0x0a) || !s_rd_len(env, &send) || env->p != env->end)
        return false;
    memset(out, 0, sizeof *out);
    out->kind = GV_TP_SEND;
    if (!s_rd_tag(&send, 0x0a) || !s_rd_len(&send, &pid) || !s_fast_pid(d, &pid, &out->u.send.to) ||
        !s_rd_tag(&send, 0x12) || !s_rd_len(&send, &payload))
        return false;
    size_t len = (size_t)(payload.end - payload.p);
    if (len < 2 || payload.p[0] != ETF_VERSION)
        return false;
    uint8_t *copy = gv_tp_arena_alloc(d->arena, len);
    if (!copy)
        return false;
    memcpy(copy, payload.p, len);
    out->u.send.payload.data = copy;
    out->u.send.payload.len = len;
    out->u.send.from.node = "";
    if (s_rd_tag(&send, 0x1a) &&
        (!s_rd_len(&send, &pid) || !s_fast_pid(d, &pid, &out->u.send.from)))
        return false;
    return send.p == send.end;
}

static bool s_fast_decode(dec *d, const void *buf, size_t len, gv_tp_batch *out)
{
    rd r = {buf, (const uint8_t *)buf + len};
    uint64_t base_seq;
    if (!s_rd_tag(&r, 0x08) || !s_rd_varint(&r, &base_seq) || base_seq == 0)
        return false;
    /* Count the records first, so the envelopes are one array. */
    size_t n = 0;
    for (rd c = r, rec; c.p < c.end; n++)
        if (!s_rd_tag(&c, GV_TP_RECORD_TAG) || !s_rd_len(&c, &rec))
            return false;
    if (n == 0 || n > GV_TP_MAX_ENVELOPES || base_seq > UINT64_MAX - n)
        return false;
    gv_tp_env *envs = gv_tp_arena_alloc(d->arena, n * sizeof *envs);
    if (!envs)
        return false;
    for (size_t i = 0; i < n; i++) {
        rd rec;
        s_rd_tag(&r, GV_TP_RECORD_TAG);
        s_rd_len(&r, &rec);
        if (!s_fast_send(d, &rec, &envs[i]))
            return false;
    }
    out->base_seq = base_seq;
    out->n = n;
    out->envs = envs;
    return true;
}

static grove_err s_decode(gv_tp_decoder *dd, gv_tp_lane lane, const void *buf, size_t len,
                          gv_tp_batch *out, gv_tp_proto_error *err, bool fast)
{
    dec d = {.arena = &dd->arena, .err = err, .index = 0};
    gv_tp_arena_reset(&dd->arena);
    size_t limit = ARENA_FLOOR;
    if (len <= (SIZE_MAX - ARENA_FLOOR) / ARENA_PER_BYTE)
        limit += len * ARENA_PER_BYTE;
    gv_tp_arena_set_limit(&dd->arena, limit);

    if (len == 0) {
        s_fail(&d, "empty frame");
        return GROVE_EPROTO;
    }
    if (fast && lane == GV_TP_LANE_DATA) {
        if (s_fast_decode(&d, buf, len, out))
            return GROVE_OK;
        /* Not the common shape: start over with protobuf-c. */
        gv_tp_arena_reset(&dd->arena);
    }
    Grove__Batch *b = grove__batch__unpack(&dd->arena.pb, len, buf);
    if (!b) {
        s_fail(&d, "not a Batch (protobuf decoding failed)");
        return GROVE_EPROTO;
    }
    d.index = b->n_envelopes;
    if (b->n_envelopes == 0) {
        s_fail(&d, "batch holds no envelope");
        return GROVE_EPROTO;
    }
    if (b->n_envelopes > GV_TP_MAX_ENVELOPES) {
        s_fail(&d, "batch holds %zu envelopes (at most %u)", b->n_envelopes, GV_TP_MAX_ENVELOPES);
        return GROVE_EPROTO;
    }
    if (lane == GV_TP_LANE_CONTROL && b->base_seq != 0) {
        s_fail(&d, "control batch with base_seq %llu", (unsigned long long)b->base_seq);
        return GROVE_EPROTO;
    }
    if (lane == GV_TP_LANE_DATA &&
        (b->base_seq == 0 || b->base_seq > UINT64_MAX - b->n_envelopes)) {
        s_fail(&d, "data batch with base_seq %llu", (unsigned long long)b->base_seq);
        return GROVE_EPROTO;
    }
    gv_tp_env *envs = gv_tp_arena_alloc(&dd->arena, b->n_envelopes * sizeof *envs);
    if (!envs) {
        s_fail(&d, "batch too large to decode");
        return GROVE_EPROTO;
    }
    for (size_t i = 0; i < b->n_envelopes; i++) {
        d.index = i;
        if (!s_convert(&d, b->envelopes[i], &envs[i]))
            return GROVE_EPROTO;
        bool data = gv_tp_kind_is_data(envs[i].kind);
        if (lane == GV_TP_LANE_DATA && !data) {
            s_fail(&d, "%s envelope on the data lane", gv_tp_kind_name(envs[i].kind));
            return GROVE_EPROTO;
        }
        if (lane == GV_TP_LANE_CONTROL && data) {
            s_fail(&d, "%s envelope on the control lane", gv_tp_kind_name(envs[i].kind));
            return GROVE_EPROTO;
        }
    }
    out->base_seq = b->base_seq;
    out->n = b->n_envelopes;
    out->envs = envs;
    return GROVE_OK;
}

grove_err gv_tp_decode(gv_tp_decoder *d, gv_tp_lane lane, const void *buf, size_t len,
                       gv_tp_batch *out, gv_tp_proto_error *err)
{
    return s_decode(d, lane, buf, len, out, err, true);
}

grove_err gv_tp_decode_generic(gv_tp_decoder *d, gv_tp_lane lane, const void *buf, size_t len,
                               gv_tp_batch *out, gv_tp_proto_error *err)
{
    return s_decode(d, lane, buf, len, out, err, false);
}
