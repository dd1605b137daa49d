#include "transport/tp_codec.h"

#include "base/gv_alloc.h"
#include "base/gv_utf8.h"

#include <stdio.h>
#include <string.h>

static const char *const s_kind_names[GV_TP_KIND_COUNT_] = {
    [GV_TP_NONE] = "none",
    [GV_TP_SEND] = "send",
    [GV_TP_SEND_NAME] = "send_name",
    [GV_TP_LINK] = "link",
    [GV_TP_UNLINK] = "unlink",
    [GV_TP_UNLINK_ACK] = "unlink_ack",
    [GV_TP_EXIT] = "exit",
    [GV_TP_MONITOR] = "monitor",
    [GV_TP_DEMONITOR] = "demonitor",
    [GV_TP_DOWN] = "down",
    [GV_TP_SPAWN_REQUEST] = "spawn_request",
    [GV_TP_SPAWN_REPLY] = "spawn_reply",
    [GV_TP_REG_CLAIM] = "reg_claim",
    [GV_TP_REG_CLAIM_REPLY] = "reg_claim_reply",
    [GV_TP_REG_RELEASE] = "reg_release",
    [GV_TP_REG_SYNC] = "reg_sync",
    [GV_TP_INSPECT_REQUEST] = "inspect_request",
    [GV_TP_INSPECT_REPLY] = "inspect_reply",
    [GV_TP_HELLO] = "hello",
    [GV_TP_WELCOME] = "welcome",
    [GV_TP_HEARTBEAT] = "heartbeat",
    [GV_TP_MEMBERSHIP] = "membership",
    [GV_TP_GOODBYE] = "goodbye",
};

const char *gv_tp_kind_name(gv_tp_kind k)
{
    if ((unsigned)k >= GV_TP_KIND_COUNT_ || !s_kind_names[k])
        return "?";
    return s_kind_names[k];
}

bool gv_tp_valid_node_name(const char *text, size_t len)
{
    size_t chars;
    if (!text || len == 0 || len > GV_TP_MAX_NODE_BYTES ||
        !gv_utf8_count((const uint8_t *)text, len, &chars))
        return false;
    const char *at = memchr(text, '@', len);
    if (!at || at == text || at == text + len - 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* ======================================================================== */
/* encoding                                                                  */
/* ======================================================================== */

static size_t s_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static size_t s_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t gv_tp_batch_header(uint8_t out[GV_TP_BATCH_HEADER_MAX], uint64_t base_seq)
{
    if (base_seq == 0)
        return 0;
    out[0] = 0x08; /* field 1, varint */
    return 1 + s_varint(out + 1, base_seq);
}

static char *s_str(const char *s)
{
    /* protobuf-c never writes through these; proto3 leaves "" out. */
    return (char *)(s ? s : "");
}

static bool s_text_ok(const char *s, size_t max)
{
    return !s || strlen(s) <= max;
}

static bool s_present(const gv_tp_pid *p)
{
    return p->creation != 0;
}

/* Fills slot from in, or returns NULL for an absent pid. */
static Grove__Pid *s_pid_out(Grove__Pid *slot, const gv_tp_pid *in)
{
    if (!s_present(in))
        return NULL;
    grove__pid__init(slot);
    slot->id = in->id;
    slot->serial = in->serial;
    slot->creation = in->creation;
    slot->node = s_str(in->node);
    return slot;
}

static Grove__Ref *s_ref_out(Grove__Ref *slot, const gv_tp_ref *in)
{
    if (in->creation == 0 || in->len == 0 || in->len > GV_TP_REF_WORDS)
        return NULL;
    grove__ref__init(slot);
    slot->creation = in->creation;
    slot->n_id = in->len;
    slot->id = (uint32_t *)in->id;
    slot->node = s_str(in->node);
    return slot;
}

static ProtobufCBinaryData s_bin(gv_tp_bytes b)
{
    ProtobufCBinaryData d = {.len = b.len, .data = (uint8_t *)(b.len ? b.data : NULL)};
    return d;
}

static bool s_pid_text_ok(const gv_tp_pid *p)
{
    return s_text_ok(p->node, GV_TP_MAX_TEXT_BYTES);
}

/* Builds the protobuf-c view of env in p. Returns false when a required
 * field is absent. */
static bool s_build(gv_tp_packer *p, const gv_tp_env *env)
{
    Grove__Envelope *e = &p->env;
    grove__envelope__init(e);
    const union gv_tp_env_u *u = &env->u;
    switch (env->kind) {
    case GV_TP_SEND: {
        Grove__Send *m = &p->m.send;
        grove__send__init(m);
        m->to = s_pid_out(&p->pid[0], &u->send.to);
        m->from = s_pid_out(&p->pid[1], &u->send.from);
        m->payload = s_bin(u->send.payload);
        if (!m->to || !u->send.payload.len || !s_pid_text_ok(&u->send.to) ||
            !s_pid_text_ok(&u->send.from))
            return false;
        e->kind_case = GROVE__ENVELOPE__KIND_SEND;
        e->send = m;
        return true;
    }
    case GV_TP_SEND_NAME: {
        Grove__SendName *m = &p->m.send_name;
        grove__send_name__init(m);
        m->name = s_str(u->send_name.name);
        m->payload = s_bin(u->send_name.payload);
        m->from = s_pid_out(&p->pid[0], &u->send_name.from);
        if (!m->name[0] || !u->send_name.payload.len || !s_text_ok(m->name, GV_TP_MAX_TEXT_BYTES) ||
            !s_pid_text_ok(&u->send_name.from))
            return false;
        e->kind_case = GROVE__ENVELOPE__KIND_SEND_NAME;
        e->send_name = m;
        return true;
    }
    case GV_TP_LINK: {
        Grove__Link *m = &p->m.link;
        grove__link__init(m);
        m->from = s_pid_out(&p->pid[0], &u->link.from);
        m->to = s_pid_out(&p->pid[1], &u->link.to);
        e->kind_case = GROVE__ENVELOPE__KIND_LINK;
        e->link = m;
        return m->from && m->to && s_pid_text_ok(&u->link.from) && s_pid_text_ok(&u->link.to);
    }
    case GV_TP_UNLINK: {
        Grove__Unlink *m = &p->m.unlink;
        grove__unlink__init(m);
        m->from = s_pid_out(&p->pid[0], &u->link.from);
        m->to = s_pid_out(&p->pid[1], &u->link.to);
        m->id = u->link.id;
        e->kind_case = GROVE__ENVELOPE__KIND_UNLINK;
        e->unlink = m;
        return m->from && m->to && s_pid_text_ok(&u->link.from) && s_pid_text_ok(&u->link.to);
    }
    case GV_TP_UNLINK_ACK: {
        Grove__UnlinkAck *m = &p->m.unlink_ack;
        grove__unlink_ack__init(m);
        m->from = s_pid_out(&p->pid[0], &u->link.from);
        m->to = s_pid_out(&p->pid[1], &u->link.to);
        m->id = u->link.id;
        e->kind_case = GROVE__ENVELOPE__KIND_UNLINK_ACK;
        e->unlink_ack = m;
        return m->from && m->to && s_pid_text_ok(&u->link.from) && s_pid_text_ok(&u->link.to);
    }
    case GV_TP_EXIT: {
        Grove__Exit *m = &p->m.exit;
        grove__exit__init(m);
        m->from = s_pid_out(&p->pid[0], &u->exit.from);
        m->to = s_pid_out(&p->pid[1], &u->exit.to);
        m->reason = s_bin(u->exit.reason);
        m->link = u->exit.link;
        e->kind_case = GROVE__ENVELOPE__KIND_EXIT;
        e->exit = m;
        return m->from && m->to && u->exit.reason.len && s_pid_text_ok(&u->exit.from) &&
               s_pid_text_ok(&u->exit.to);
    }
    case GV_TP_MONITOR:
    case GV_TP_DEMONITOR: {
        Grove__Pid *from = s_pid_out(&p->pid[0], &u->monitor.from);
        Grove__Pid *to = s_pid_out(&p->pid[1], &u->monitor.to);
        Grove__Ref *ref = s_ref_out(&p->ref, &u->monitor.ref);
        bool by_name = u->monitor.name && u->monitor.name[0];
        if (!from || !ref || (!by_name && !to) || !s_pid_text_ok(&u->monitor.from) ||
            !s_pid_text_ok(&u->monitor.to) || !s_text_ok(u->monitor.name, GV_TP_MAX_TEXT_BYTES) ||
            !s_text_ok(u->monitor.ref.node, GV_TP_MAX_TEXT_BYTES))
            return false;
        if (env->kind == GV_TP_MONITOR) {
            Grove__Monitor *m = &p->m.monitor;
            grove__monitor__init(m);
            m->from = from;
            m->ref = ref;
            if (by_name) {
                m->target_case = GROVE__MONITOR__TARGET_NAME;
                m->name = (char *)u->monitor.name;
            } else {
                m->target_case = GROVE__MONITOR__TARGET_TO;
                m->to = to;
            }
            e->kind_case = GROVE__ENVELOPE__KIND_MONITOR;
            e->monitor = m;
        } else {
            Grove__Demonitor *m = &p->m.demonitor;
            grove__demonitor__init(m);
            m->from = from;
            m->ref = ref;
            if (by_name) {
                m->target_case = GROVE__DEMONITOR__TARGET_NAME;
                m->name = (char *)u->monitor.name;
            } else {
                m->target_case = GROVE__DEMONITOR__TARGET_TO;
                m->to = to;
            }
            e->kind_case = GROVE__ENVELOPE__KIND_DEMONITOR;
            e->demonitor = m;
        }
        return true;
    }
    case GV_TP_DOWN: {
        Grove__Down *m = &p->m.down;
        grove__down__init(m);
        m->ref = s_ref_out(&p->ref, &u->down.ref);
        m->to = s_pid_out(&p->pid[0], &u->down.to);
        m->reason = s_bin(u->down.reason);
        Grove__Pid *from = s_pid_out(&p->pid[1], &u->down.from);
        bool by_name = u->down.name && u->down.name[0];
        if (by_name) {
            m->object_case = GROVE__DOWN__OBJECT_NAME;
            m->name = (char *)u->down.name;
        } else {
            m->object_case = GROVE__DOWN__OBJECT_FROM;
            m->from = from;
        }
        e->kind_case = GROVE__ENVELOPE__KIND_DOWN;
        e->down = m;
        return m->ref && m->to && (by_name || from) && u->down.reason.len &&
               s_pid_text_ok(&u->down.to) && s_pid_text_ok(&u->down.from) &&
               s_text_ok(u->down.name, GV_TP_MAX_TEXT_BYTES) &&
               s_text_ok(u->down.ref.node, GV_TP_MAX_TEXT_BYTES);
    }
    case GV_TP_SPAWN_REQUEST: {
        Grove__SpawnRequest *m = &p->m.spawn_request;
        grove__spawn_request__init(m);
        m->ref = s_ref_out(&p->ref, &u->spawn_request.ref);
        m->from = s_pid_out(&p->pid[0], &u->spawn_request.from);
        m->behaviour = s_str(u->spawn_request.behaviour);
        m->arg = s_bin(u->spawn_request.arg);
        m->link = u->spawn_request.link;
        m->monitor = u->spawn_request.monitor;
        m->trap_exit = u->spawn_request.trap_exit;
        m->name = s_str(u->spawn_request.name);
        e->kind_case = GROVE__ENVELOPE__KIND_SPAWN_REQUEST;
        e->spawn_request = m;
        return m->ref && m->from && m->behaviour[0] &&
               s_text_ok(m->behaviour, GV_TP_MAX_TEXT_BYTES) &&
               s_text_ok(m->name, GV_TP_MAX_TEXT_BYTES) && s_pid_text_ok(&u->spawn_request.from) &&
               s_text_ok(u->spawn_request.ref.node, GV_TP_MAX_TEXT_BYTES);
    }
    case GV_TP_SPAWN_REPLY: {
        Grove__SpawnReply *m = &p->m.spawn_reply;
        grove__spawn_reply__init(m);
        m->ref = s_ref_out(&p->ref, &u->spawn_reply.ref);
        m->to = s_pid_out(&p->pid[0], &u->spawn_reply.to);
        m->link = u->spawn_reply.link;
        m->monitor = u->spawn_reply.monitor;
        Grove__Pid *pid = s_pid_out(&p->pid[1], &u->spawn_reply.pid);
        if (pid) {
            m->result_case = GROVE__SPAWN_REPLY__RESULT_PID;
            m->pid = pid;
        } else {
            m->result_case = GROVE__SPAWN_REPLY__RESULT_ERROR;
            m->error = s_bin(u->spawn_reply.error);
        }
        e->kind_case = GROVE__ENVELOPE__KIND_SPAWN_REPLY;
        e->spawn_reply = m;
        return m->ref && m->to && (pid || u->spawn_reply.error.len) &&
               s_pid_text_ok(&u->spawn_reply.to) && s_pid_text_ok(&u->spawn_reply.pid) &&
               s_text_ok(u->spawn_reply.ref.node, GV_TP_MAX_TEXT_BYTES);
    }
    case GV_TP_REG_CLAIM:
    case GV_TP_REG_RELEASE: {
        Grove__Pid *pid = s_pid_out(&p->pid[0], &u->reg_claim.pid);
        const char *name = s_str(u->reg_claim.name);
        if (!pid || !pid->node[0] || !name[0] || !s_text_ok(name, GV_TP_MAX_TEXT_BYTES) ||
            !s_pid_text_ok(&u->reg_claim.pid))
            return false;
        if (env->kind == GV_TP_REG_CLAIM) {
            Grove__RegClaim *m = &p->m.reg_claim;
            grove__reg_claim__init(m);
            m->request = u->reg_claim.request;
            m->name = (char *)name;
            m->pid = pid;
            m->epoch = u->reg_claim.epoch;
            e->kind_case = GROVE__ENVELOPE__KIND_REG_CLAIM;
            e->reg_claim = m;
        } else {
            Grove__RegRelease *m = &p->m.reg_release;
            grove__reg_release__init(m);
            m->name = (char *)name;
            m->pid = pid;
            m->epoch = u->reg_claim.epoch;
            e->kind_case = GROVE__ENVELOPE__KIND_REG_RELEASE;
            e->reg_release = m;
        }
        return true;
    }
    case GV_TP_REG_CLAIM_REPLY: {
        Grove__RegClaimReply *m = &p->m.reg_claim_reply;
        grove__reg_claim_reply__init(m);
        m->request = u->reg_claim_reply.request;
        m->accepted = u->reg_claim_reply.accepted;
        m->owner = s_pid_out(&p->pid[0], &u->reg_claim_reply.owner);
        m->epoch = u->reg_claim_reply.epoch;
        e->kind_case = GROVE__ENVELOPE__KIND_REG_CLAIM_REPLY;
        e->reg_claim_reply = m;
        return (!m->owner || m->owner->node[0]) && s_pid_text_ok(&u->reg_claim_reply.owner);
    }
    case GV_TP_REG_SYNC: {
        size_t n = u->reg_sync.n;
        if (n > GV_TP_MAX_ITEMS || (n && !u->reg_sync.entries))
            return false;
        Grove__RegSync *m = &p->m.reg_sync;
        grove__reg_sync__init(m);
        m->last = u->reg_sync.last;
        e->kind_case = GROVE__ENVELOPE__KIND_REG_SYNC;
        e->reg_sync = m;
        if (n == 0)
            return true;
        /* One block: n pointers, n entries, n pids. */
        char *block = gv_malloc(
            n * (sizeof(Grove__RegEntry *) + sizeof(Grove__RegEntry) + sizeof(Grove__Pid)));
        p->heap = block;
        Grove__RegEntry **ptrs = (Grove__RegEntry **)block;
        Grove__RegEntry *ents = (Grove__RegEntry *)(block + n * sizeof *ptrs);
        Grove__Pid *pids = (Grove__Pid *)(block + n * (sizeof *ptrs + sizeof *ents));
        for (size_t i = 0; i < n; i++) {
            const gv_tp_reg_entry *in = &u->reg_sync.entries[i];
            grove__reg_entry__init(&ents[i]);
            ents[i].name = s_str(in->name);
            ents[i].pid = s_pid_out(&pids[i], &in->pid);
            ents[i].epoch = in->epoch;
            ptrs[i] = &ents[i];
            if (!ents[i].name[0] || !ents[i].pid || !ents[i].pid->node[0] ||
                !s_text_ok(in->name, GV_TP_MAX_TEXT_BYTES) || !s_pid_text_ok(&in->pid))
                return false;
        }
        m->n_entries = n;
        m->entries = ptrs;
        return true;
    }
    case GV_TP_INSPECT_REQUEST: {
        Grove__InspectRequest *m = &p->m.inspect_request;
        grove__inspect_request__init(m);
        m->request = u->inspect_request.request;
        m->what = s_str(u->inspect_request.what);
        m->args = s_bin(u->inspect_request.args);
        m->reply_to = s_pid_out(&p->pid[0], &u->inspect_request.reply_to);
        e->kind_case = GROVE__ENVELOPE__KIND_INSPECT_REQUEST;
        e->inspect_request = m;
        return m->what[0] && s_text_ok(m->what, GV_TP_MAX_TEXT_BYTES) &&
               s_pid_text_ok(&u->inspect_request.reply_to);
    }
    case GV_TP_INSPECT_REPLY: {
        Grove__InspectReply *m = &p->m.inspect_reply;
        grove__inspect_reply__init(m);
        m->request = u->inspect_reply.request;
        m->result = s_bin(u->inspect_reply.result);
        m->last = u->inspect_reply.last;
        e->kind_case = GROVE__ENVELOPE__KIND_INSPECT_REPLY;
        e->inspect_reply = m;
        return true;
    }
    case GV_TP_HELLO: {
        Grove__Hello *m = &p->m.hello;
        grove__hello__init(m);
        m->version = u->hello.version;
        m->minor = u->hello.minor;
        m->node = s_str(u->hello.node);
        m->creation = u->hello.creation;
        m->session = u->hello.session;
        m->capabilities = u->hello.capabilities;
        m->address = s_str(u->hello.address);
        m->probe = u->hello.probe;
        m->probe_echo = u->hello.probe_echo;
        m->hidden = u->hello.hidden;
        e->kind_case = GROVE__ENVELOPE__KIND_HELLO;
        e->hello = m;
        return gv_tp_valid_node_name(m->node, strlen(m->node)) && m->creation && m->session &&
               s_text_ok(m->address, GV_TP_MAX_TEXT_BYTES);
    }
    case GV_TP_WELCOME: {
        Grove__Welcome *m = &p->m.welcome;
        grove__welcome__init(m);
        m->version = u->hello.version;
        m->minor = u->hello.minor;
        m->node = s_str(u->hello.node);
        m->creation = u->hello.creation;
        m->session = u->hello.session;
        m->capabilities = u->hello.capabilities;
        m->address = s_str(u->hello.address);
        m->echo = u->hello.echo;
        m->hidden = u->hello.hidden;
        e->kind_case = GROVE__ENVELOPE__KIND_WELCOME;
        e->welcome = m;
        return gv_tp_valid_node_name(m->node, strlen(m->node)) && m->creation && m->session &&
               m->echo && s_text_ok(m->address, GV_TP_MAX_TEXT_BYTES);
    }
    case GV_TP_HEARTBEAT: {
        Grove__Heartbeat *m = &p->m.heartbeat;
        grove__heartbeat__init(m);
        m->echo = u->heartbeat.echo;
        m->run_queue = u->heartbeat.run_queue;
        m->processes = u->heartbeat.processes;
        e->kind_case = GROVE__ENVELOPE__KIND_HEARTBEAT;
        e->heartbeat = m;
        return true;
    }
    case GV_TP_MEMBERSHIP: {
        size_t n = u->membership.n;
        if (n > GV_TP_MAX_ITEMS || (n && !u->membership.members))
            return false;
        Grove__Membership *m = &p->m.membership;
        grove__membership__init(m);
        e->kind_case = GROVE__ENVELOPE__KIND_MEMBERSHIP;
        e->membership = m;
        if (n == 0)
            return true;
        char *block = gv_malloc(n * (sizeof(Grove__Member *) + sizeof(Grove__Member)));
        p->heap = block;
        Grove__Member **ptrs = (Grove__Member **)block;
        Grove__Member *mem = (Grove__Member *)(block + n * sizeof *ptrs);
        for (size_t i = 0; i < n; i++) {
            const gv_tp_member_info *in = &u->membership.members[i];
            grove__member__init(&mem[i]);
            mem[i].node = s_str(in->node);
            mem[i].address = s_str(in->address);
            mem[i].creation = in->creation;
            ptrs[i] = &mem[i];
            if (!gv_tp_valid_node_name(mem[i].node, strlen(mem[i].node)) || !in->creation ||
                !mem[i].address[0] || !s_text_ok(mem[i].address, GV_TP_MAX_TEXT_BYTES))
                return false;
        }
        m->n_members = n;
        m->members = ptrs;
        return true;
    }
    case GV_TP_GOODBYE: {
        Grove__Goodbye *m = &p->m.goodbye;
        grove__goodbye__init(m);
        m->reason = u->goodbye.reason == GV_TP_GOODBYE_LEAVE ? GROVE__GOODBYE__REASON__LEAVE
                                                             : GROVE__GOODBYE__REASON__SHUTDOWN;
        m->last_seq = u->goodbye.last_seq;
        m->detail = s_str(u->goodbye.detail);
        e->kind_case = GROVE__ENVELOPE__KIND_GOODBYE;
        e->goodbye = m;
        return s_text_ok(m->detail, GV_TP_MAX_TEXT_BYTES);
    }
    default:
        return false;
    }
}

/* ---- send, by hand ----------------------------------------------------------- */

/* The hottest envelope is written without protobuf-c: the same bytes in
 * the same order (fields by number, proto3 zeros and empty strings left
 * out, minimal varints), with no descriptor walk and no second pass.
 * tests/unit/transport/codec_fast_test.c compares the two on random
 * envelopes. */

/* Envelope.send, Send.to / payload / from, Pid.id / serial / creation / node */
enum {
    TAG_ENV_SEND = 0x0a,
    TAG_SEND_TO = 0x0a,
    TAG_SEND_PAYLOAD = 0x12,
    TAG_SEND_FROM = 0x1a,
    TAG_PID_ID = 0x08,
    TAG_PID_SERIAL = 0x10,
    TAG_PID_CREATION = 0x18,
    TAG_PID_NODE = 0x22,
};

static size_t s_node_len(const gv_tp_pid *pid)
{
    return pid->node ? strlen(pid->node) : 0;
}

/* Bytes of a present pid's Pid message (creation != 0). */
static size_t s_pid_size(const gv_tp_pid *pid)
{
    size_t n = 1 + s_varint_len(pid->creation);
    if (pid->id)
        n += 1 + s_varint_len(pid->id);
    if (pid->serial)
        n += 1 + s_varint_len(pid->serial);
    size_t len = s_node_len(pid);
    if (len)
        n += 1 + s_varint_len(len) + len;
    return n;
}

static size_t s_pid_write(uint8_t *out, uint8_t tag, const gv_tp_pid *pid, size_t size)
{
    size_t n = 0;
    out[n++] = tag;
    n += s_varint(out + n, size);
    if (pid->id) {
        out[n++] = TAG_PID_ID;
        n += s_varint(out + n, pid->id);
    }
    if (pid->serial) {
        out[n++] = TAG_PID_SERIAL;
        n += s_varint(out + n, pid->serial);
    }
    out[n++] = TAG_PID_CREATION;
    n += s_varint(out + n, pid->creation);
    size_t len = s_node_len(pid);
    if (len) {
        out[n++] = TAG_PID_NODE;
        n += s_varint(out + n, len);
        memcpy(out + n, pid->node, len);
        n += len;
    }
    return n;
}

static grove_err s_send_begin(gv_tp_packer *p, const gv_tp_env *env, size_t *record_size)
{
    const gv_tp_pid *to = &env->u.send.to, *from = &env->u.send.from;
    size_t payload = env->u.send.payload.len;
    if (!s_present(to) || !payload || !s_pid_text_ok(to) || !s_pid_text_ok(from))
        return GROVE_EINVAL;
    p->send = env;
    p->to_size = s_pid_size(to);
    p->from_size = s_present(from) ? s_pid_size(from) : 0;
    size_t send = 1 + s_varint_len(p->to_size) + p->to_size;
    send += 1 + s_varint_len(payload) + payload;
    if (p->from_size)
        send += 1 + s_varint_len(p->from_size) + p->from_size;
    p->send_size = send;
    p->env_size = 1 + s_varint_len(send) + send;
    *record_size = 1 + s_varint_len(p->env_size) + p->env_size;
    return GROVE_OK;
}

static size_t s_send_write(const gv_tp_packer *p, uint8_t *out)
{
    const gv_tp_env *env = p->send;
    size_t n = 0;
    out[n++] = TAG_ENV_SEND;
    n += s_varint(out + n, p->send_size);
    n += s_pid_write(out + n, TAG_SEND_TO, &env->u.send.to, p->to_size);
    out[n++] = TAG_SEND_PAYLOAD;
    n += s_varint(out + n, env->u.send.payload.len);
    memcpy(out + n, env->u.send.payload.data, env->u.send.payload.len);
    n += env->u.send.payload.len;
    if (p->from_size)
        n += s_pid_write(out + n, TAG_SEND_FROM, &env->u.send.from, p->from_size);
    return n;
}

grove_err gv_tp_pack_begin(gv_tp_packer *p, const gv_tp_env *env, size_t *record_size)
{
    p->heap = NULL;
    p->send = NULL;
    if (env->kind == GV_TP_SEND)
        return s_send_begin(p, env, record_size);
    if (!s_build(p, env)) {
        gv_free(p->heap);
        p->heap = NULL;
        return GROVE_EINVAL;
    }
    p->env_size = protobuf_c_message_get_packed_size(&p->env.base);
    *record_size = 1 + s_varint_len(p->env_size) + p->env_size;
    return GROVE_OK;
}

void gv_tp_pack_end(gv_tp_packer *p, uint8_t *out)
{
    out[0] = GV_TP_RECORD_TAG;
    size_t n = 1 + s_varint(out + 1, p->env_size);
    size_t written =
        p->send ? s_send_write(p, out + n) : protobuf_c_message_pack(&p->env.base, out + n);
    /* The size and the writing walk the same message: a mismatch is a
     * bug, not bad input. */
    if (written != p->env_size)
        gv_panic("tp_codec: packed %zu bytes, expected %zu", written, p->env_size);
    gv_tp_pack_abort(p);
}

void gv_tp_pack_abort(gv_tp_packer *p)
{
    gv_free(p->heap);
    p->heap = NULL;
}

grove_err gv_tp_encode_batch(uint64_t base_seq, const gv_tp_env *envs, size_t n, uint8_t **out,
                             size_t *out_len)
{
    uint8_t header[GV_TP_BATCH_HEADER_MAX];
    size_t hlen = gv_tp_batch_header(header, base_seq);
    size_t total = hlen;
    /* Size first, so the buffer is allocated once. */
    for (size_t i = 0; i < n; i++) {
        gv_tp_packer p;
        size_t size;
        grove_err rc = gv_tp_pack_begin(&p, &envs[i], &size);
        if (rc)
            return rc;
        gv_tp_pack_abort(&p);
        total += size;
    }
    uint8_t *buf = gv_malloc(total ? total : 1);
    memcpy(buf, header, hlen);
    size_t off = hlen;
    for (size_t i = 0; i < n; i++) {
        gv_tp_packer p;
        size_t size;
        grove_err rc = gv_tp_pack_begin(&p, &envs[i], &size);
        if (rc != GROVE_OK) { /* cannot happen: the same envelope passed above */
            gv_free(buf);
            return rc;
        }
        gv_tp_pack_end(&p, buf + off);
        off += size;
    }
    *out = buf;
    *out_len = total;
    return GROVE_OK;
}
