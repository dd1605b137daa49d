/*
 * cluster_sup_api.c - the cluster-wide supervisor's API
 * (include/grove/cluster_sup.h; docs/otp.md, "The cluster-wide
 * supervisor"): starting a member, and calls to the member on this node.
 */
#include <grove/cluster_sup.h>
#include <grove/names.h>

#include "otp/cluster_sup_impl.h"
#include "otp/sup.h"

#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

static bool s_name_ok(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    return n >= 1 && n <= max;
}

/* ---- the API
 * ------------------------------------------------------------------------------------------ */

static uint32_t s_setting(uint32_t given, const char *env, uint32_t dflt)
{
    if (given)
        return given;
    const char *v = getenv(env);
    if (v && *v) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (*end == '\0' && x > 0 && x <= 86400000ul)
            return (uint32_t)x;
    }
    return dflt;
}

static bool s_lname(const char *sup, char *out)
{
    if (!s_name_ok(sup, GV_CSUP_NAME_MAX))
        return false;
    memcpy(out, GV_CSUP_PREFIX, sizeof GV_CSUP_PREFIX - 1);
    strcpy(out + sizeof GV_CSUP_PREFIX - 1, sup);
    return true;
}

/* {Id, Spec} for a user's spec (consumes spec->arg); NULL on a bad one. */
static grove_term *s_spec_pack(const grove_child_spec *spec)
{
    grove_child_spec local = *spec;
    local.placement = (grove_placement){.where = GROVE_PLACE_LOCAL};
    grove_err err;
    sup_child *c = gv_child_from_spec(&local, true, &err);
    if (!c)
        return NULL;
    if (strlen(c->id) > GV_NAME_MAX || !gv_otp_target_registered(c->kind, c->impl)) {
        const char *target = gv_child_label(c);
        gv_log(GV_LOG_ERROR, "cluster_sup", "child_not_registered",
               "id=%s kind=%s target=%s reason=\"children of a cluster-wide supervisor are "
               "started by name: register the target on every node\"",
               c->id, gv_csup_kind_name(c->kind), target ? target : "NULL");
        gv_child_free(c);
        return NULL;
    }
    gv_csup_entry e = {.kind = c->kind,
                       .target = (char *)gv_child_label(c),
                       .arg = c->arg,
                       .restart = c->restart,
                       .shutdown_ms = c->shutdown_ms,
                       .gname = c->name};
    grove_term *t = grove_pack("{~b, ~t}", c->id, strlen(c->id), gv_csup_spec_term(&e));
    gv_child_free(c);
    return t;
}

/* The member's start argument, in *arg; false (children's args
 * consumed) for bad arguments. lname: the member's local name. */
static bool s_member_arg(const grove_cluster_sup_opts *opts, const grove_child_spec *children,
                         size_t n, char *lname, grove_term **arg)
{
    bool ok = opts && s_lname(opts->name, lname) && (n == 0 || children);
    grove_term *list = grove_pack("[]");
    for (size_t i = n; i-- > 0;) {
        grove_term *t = ok ? s_spec_pack(&children[i]) : NULL;
        if (!t) {
            grove_term *a = children ? children[i].arg : NULL;
            if (ok)
                ok = false; /* s_spec_pack consumed it */
            else
                grove_term_destroy(&a);
            continue;
        }
        list = grove_pack("[~t | ~t]", t, list);
    }
    /* Ids unique among the initial children. */
    for (size_t i = 0; ok && i < n; i++)
        for (size_t j = i + 1; ok && j < n; j++)
            if (strcmp(children[i].id, children[j].id) == 0)
                ok = false;
    if (!ok) {
        grove_term_destroy(&list);
        return false;
    }
    uint32_t hb = s_setting(opts->heartbeat_ms, "GROVE_HEARTBEAT_MS", 250);
    uint32_t nd = s_setting(opts->nodedown_ms, "GROVE_NODEDOWN_MS", 1500);
    uint32_t forget = s_setting(opts->forget_ms, "GROVE_FORGET_MS", 60000);
    *arg =
        grove_pack("{~b, ~i, ~u, ~u, ~u, ~u, ~t}", opts->name, strlen(opts->name), opts->intensity,
                   (uint64_t)opts->period_ms, (uint64_t)hb, (uint64_t)nd, (uint64_t)forget, list);
    return true;
}

grove_err grove_cluster_sup_start(grove_node *node, const grove_cluster_sup_opts *opts,
                                  const grove_child_spec *children, size_t n, grove_pid *member)
{
    char lname[GV_CSUP_LNAME_MAX + 1];
    grove_term *arg;
    if (!s_member_arg(opts, children, n, lname, &arg))
        return GROVE_EINVAL;
    if (gv_on_scheduler()) {
        grove_term_destroy(&arg);
        return GROVE_EWOULDBLOCK;
    }
    return gv_start_wait(node, GV_KIND_BEHAVIOUR, &gv_csup_member_behaviour, "cluster_sup", arg,
                         &(grove_start_opts){.name = lname}, member);
}

grove_err grove_cluster_sup_add_member(grove_children *sup_children,
                                       const grove_cluster_sup_opts *opts,
                                       const grove_child_spec *children, size_t n)
{
    char lname[GV_CSUP_LNAME_MAX + 1];
    grove_term *arg;
    if (!sup_children || !s_member_arg(opts, children, n, lname, &arg))
        return GROVE_EINVAL;
    /* Its id and local name are both "grove_csup:<name>"; it stops its
     * children in order before it exits, so give it time. */
    return grove_sup_add(sup_children, &(grove_child_spec){.id = lname,
                                                           .behaviour = &gv_csup_member_behaviour,
                                                           .arg = arg,
                                                           .restart = GROVE_PERMANENT,
                                                           .shutdown_ms = GROVE_SHUTDOWN_INFINITY,
                                                           .name = lname});
}

static grove_err s_member_call(grove_node *node, const char *sup, grove_term *req,
                               grove_term **reply)
{
    char lname[GV_CSUP_LNAME_MAX + 1];
    grove_pid pid;
    *reply = NULL;
    if (!s_lname(sup, lname)) {
        grove_term_destroy(&req);
        return GROVE_EINVAL;
    }
    if (grove_whereis(node, lname, &pid) != GROVE_OK) {
        grove_term_destroy(&req);
        return GROVE_ENOTFOUND;
    }
    return gv_call(node, pid, req, GROVE_INFINITY, reply);
}

static grove_err s_result(grove_err err, const grove_term *reply, grove_pid *pid)
{
    if (!err && grove_match(reply, "{error, no_majority}"))
        return GROVE_EAGAIN;
    if (!err && grove_match(reply, "{error, not_registered}"))
        return GROVE_ENOTFOUND;
    return gv_sup_result(err, reply, pid);
}

grove_err grove_cluster_sup_start_child(grove_node *node, const char *sup,
                                        const grove_child_spec *spec, grove_pid *child)
{
    grove_term *t = spec ? s_spec_pack(spec) : NULL;
    if (!t)
        return GROVE_EINVAL;
    grove_term *reply = NULL;
    grove_err err = s_member_call(node, sup, grove_pack("{start_child, ~t}", t), &reply);
    err = s_result(err, reply, child);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_cluster_sup_terminate_child(grove_node *node, const char *sup, const char *id)
{
    if (!s_name_ok(id, GV_NAME_MAX))
        return GROVE_EINVAL;
    grove_term *reply = NULL;
    grove_err err =
        s_member_call(node, sup, grove_pack("{terminate_child, ~b}", id, strlen(id)), &reply);
    err = s_result(err, reply, NULL);
    grove_term_destroy(&reply);
    return err;
}

size_t grove_cluster_sup_which_children(grove_node *node, const char *sup, grove_cluster_child *out,
                                        size_t cap)
{
    grove_term *reply = NULL;
    if (s_member_call(node, sup, grove_atom("which_children"), &reply) != GROVE_OK) {
        grove_term_destroy(&reply);
        return 0;
    }
    /* [{Id, Pid | undefined}] */
    grove_reader r = grove_reader_of(reply);
    grove_value v;
    size_t count = 0;
    if (grove_reader_next(&r, &v) && v.type == GROVE_TYPE_LIST) {
        count = v.as.compound.arity;
        for (size_t i = 0; i < count; i++) {
            grove_value tup, id, pid;
            grove_reader_next(&r, &tup);
            grove_reader_next(&r, &id);
            grove_reader_next(&r, &pid);
            if (i >= cap)
                continue;
            memset(&out[i], 0, sizeof out[i]);
            if (id.type == GROVE_TYPE_BINARY) {
                size_t len = id.as.binary.size < sizeof out[i].id - 1 ? id.as.binary.size
                                                                      : sizeof out[i].id - 1;
                memcpy(out[i].id, id.as.binary.data, len);
            }
            if (pid.type == GROVE_TYPE_PID && grove_value_pid(&pid, &out[i].pid) == GROVE_OK)
                out[i].running = true;
        }
    }
    grove_term_destroy(&reply);
    return count;
}

grove_err grove_cluster_sup_stop(grove_node *node, const char *sup)
{
    grove_term *reply = NULL;
    grove_err err = s_member_call(node, sup, grove_atom("stop"), &reply);
    err = s_result(err, reply, NULL);
    grove_term_destroy(&reply);
    return err;
}
