/*
 * sup_child.c - child specs, the child list a supervisor's init fills, the
 * dynamic supervisor module, and the blocking management calls.
 */
#include "otp/sup.h"

#include "base/gv_alloc.h"
#include "base/gv_log.h"

#include <stdlib.h>
#include <string.h>

/* ---- child specs ----------------------------------------------------------------------- */

static bool s_text_ok(const char *s)
{
    size_t n = strnlen(s, GV_NAME_MAX + 1);
    return n >= 1 && n <= GV_NAME_MAX;
}

static const char *s_restart_name(grove_restart r)
{
    return r == GROVE_TRANSIENT ? "transient" : r == GROVE_TEMPORARY ? "temporary" : "permanent";
}

static const char *s_kind_label(gv_otp_kind kind)
{
    return kind == GV_KIND_GEN_SERVER   ? "gen_server"
           : kind == GV_KIND_SUPERVISOR ? "supervisor"
                                        : "behaviour";
}

/* Checks a spec's placement (*node: the named node), logging why it is
 * refused: a child off the local node is started by name, so its target
 * must be registered. */
static bool s_placement_ok(const grove_child_spec *spec, gv_otp_kind kind, const void *impl,
                           grove_nodename *node)
{
    *node = 0;
    grove_place where = spec->placement.where;
    if (where == GROVE_PLACE_LOCAL)
        return true;
    if ((where != GROVE_PLACE_NODE && where != GROVE_PLACE_ANY) ||
        (where == GROVE_PLACE_NODE &&
         (!spec->placement.node ||
          grove_nodename_intern(spec->placement.node, strnlen(spec->placement.node, 1024), node) !=
              GROVE_OK))) {
        gv_log(GV_LOG_ERROR, "supervisor", "bad_placement", "id=%s where=%d node=%s",
               spec->id ? spec->id : "-", (int)where,
               spec->placement.node ? spec->placement.node : "NULL");
        return false;
    }
    if (!gv_otp_target_registered(kind, impl)) {
        const char *name = gv_child_label(&(sup_child){.kind = kind, .impl = impl});
        gv_log(GV_LOG_ERROR, "supervisor", "child_not_registered",
               "id=%s kind=%s target=%s reason=\"a child placed on another node is started by "
               "name: register its %s with grove_%s_register on every node\"",
               spec->id ? spec->id : "-", s_kind_label(kind), name ? name : "NULL",
               s_kind_label(kind),
               kind == GV_KIND_BEHAVIOUR ? "child_behaviour" : s_kind_label(kind));
        return false;
    }
    return true;
}

sup_child *gv_child_from_spec(const grove_child_spec *spec, bool need_id, grove_err *err)
{
    grove_term *arg = spec->arg;
    int targets =
        (spec->gen_server != NULL) + (spec->supervisor != NULL) + (spec->behaviour != NULL);
    gv_otp_kind kind = spec->gen_server   ? GV_KIND_GEN_SERVER
                       : spec->supervisor ? GV_KIND_SUPERVISOR
                                          : GV_KIND_BEHAVIOUR;
    const void *impl = spec->gen_server   ? (const void *)spec->gen_server
                       : spec->supervisor ? (const void *)spec->supervisor
                                          : (const void *)spec->behaviour;
    grove_nodename node = 0;
    bool ok =
        targets == 1 && (!need_id || (spec->id && s_text_ok(spec->id))) &&
        (!spec->name || s_text_ok(spec->name)) && (unsigned)spec->restart <= GROVE_TEMPORARY &&
        spec->shutdown_ms >= GROVE_SHUTDOWN_BRUTAL_KILL &&
        (!spec->behaviour || spec->behaviour->handle) && s_placement_ok(spec, kind, impl, &node);
    if (!ok) {
        grove_term_destroy(&arg);
        *err = GROVE_EINVAL;
        return NULL;
    }
    sup_child *c = gv_calloc(1, sizeof *c);
    c->id = need_id ? gv_strndup(spec->id, strlen(spec->id)) : NULL;
    c->kind = kind;
    c->impl = impl;
    c->arg = arg;
    c->restart = spec->restart;
    c->shutdown_ms = spec->shutdown_ms    ? spec->shutdown_ms
                     : gv_child_is_sup(c) ? GROVE_SHUTDOWN_INFINITY
                                          : 5000;
    c->name = spec->name ? gv_strndup(spec->name, strlen(spec->name)) : NULL;
    c->scope = GROVE_NAME_LOCAL;
    c->where = spec->placement.where;
    c->node = node;
    *err = GROVE_OK;
    return c;
}

grove_term *gv_child_to_term(const sup_child *c)
{
    grove_term *id = c->id ? grove_pack("~b", c->id, strlen(c->id)) : grove_atom("undefined");
    grove_term *arg =
        c->arg ? grove_pack("{arg, ~t}", grove_term_copy(c->arg)) : grove_atom("noarg");
    grove_term *name =
        c->name ? grove_pack("{~a, ~b}", c->scope == GROVE_NAME_GLOBAL ? "global" : "local",
                             c->name, strlen(c->name))
                : grove_atom("undefined");
    grove_term *place = c->where == GROVE_PLACE_NODE
                            ? grove_pack("{node, ~a}", grove_nodename_str(c->node))
                        : c->where == GROVE_PLACE_ANY ? grove_atom("any")
                                                      : grove_atom("local");
    grove_term *t =
        grove_pack("{~t, ~i, ~u, ~t, ~a, ~l, ~t, ~t}", id, (int)c->kind, gv_ptr_u64(c->impl), arg,
                   s_restart_name(c->restart), c->shutdown_ms, name, place);
    if (!t)
        gv_panic("cannot build a child spec term");
    return t;
}

static bool s_place_from_term(const grove_term *t, grove_place *where, grove_nodename *node)
{
    char nm[GROVE_ATOM_MAX_BYTES + 1];
    *node = 0;
    if (grove_match(t, "local")) {
        *where = GROVE_PLACE_LOCAL;
        return true;
    }
    if (grove_match(t, "any")) {
        *where = GROVE_PLACE_ANY;
        return true;
    }
    *where = GROVE_PLACE_NODE;
    return grove_match(t, "{node, ~a}", nm, sizeof nm) &&
           grove_nodename_intern(nm, strlen(nm), node) == GROVE_OK;
}

sup_child *gv_child_from_term(const grove_term *t)
{
    grove_term *id = NULL, *arg = NULL, *name = NULL, *place = NULL;
    int kind;
    uint64_t impl;
    char restart[16];
    int64_t shutdown;
    grove_place where;
    grove_nodename node;
    if (!grove_match(t, "{~t, ~i, ~u, ~t, ~a, ~l, ~t, ~t}", &id, &kind, &impl, &arg, restart,
                     sizeof restart, &shutdown, &name, &place))
        return NULL;
    if (kind < GV_KIND_GEN_SERVER || kind > GV_KIND_TASK || shutdown < GROVE_SHUTDOWN_BRUTAL_KILL ||
        !s_place_from_term(place, &where, &node)) {
        grove_term_destroy(&id);
        grove_term_destroy(&arg);
        grove_term_destroy(&name);
        grove_term_destroy(&place);
        return NULL;
    }
    sup_child *c = gv_calloc(1, sizeof *c);
    const void *bytes;
    size_t len;
    if (grove_match(id, "~b", &bytes, &len))
        c->id = gv_strndup(bytes, len);
    c->kind = (gv_otp_kind)kind;
    c->impl = gv_u64_ptr(impl);
    grove_match(arg, "{arg, ~t}", &c->arg);
    c->restart = strcmp(restart, "transient") == 0   ? GROVE_TRANSIENT
                 : strcmp(restart, "temporary") == 0 ? GROVE_TEMPORARY
                                                     : GROVE_PERMANENT;
    c->shutdown_ms = shutdown;
    char scope[8];
    if (grove_match(name, "{~a, ~b}", scope, sizeof scope, &bytes, &len)) {
        c->name = gv_strndup(bytes, len);
        c->scope = strcmp(scope, "global") == 0 ? GROVE_NAME_GLOBAL : GROVE_NAME_LOCAL;
    }
    c->where = where;
    c->node = node;
    grove_term_destroy(&id);
    grove_term_destroy(&arg);
    grove_term_destroy(&name);
    grove_term_destroy(&place);
    return c;
}

void gv_child_free(sup_child *c)
{
    if (!c)
        return;
    gv_free(c->id);
    gv_free(c->name);
    grove_term_destroy(&c->arg);
    gv_free(c);
}

const char *gv_child_label(const sup_child *c)
{
    switch (c->kind) {
    case GV_KIND_GEN_SERVER:
        return ((const grove_gen_server *)c->impl)->name;
    case GV_KIND_SUPERVISOR:
        return ((const grove_supervisor *)c->impl)->name;
    case GV_KIND_BEHAVIOUR:
        return ((const grove_behaviour *)c->impl)->name;
    case GV_KIND_TASK:
        return "task";
    }
    return NULL;
}

grove_term *gv_spec_pack(const grove_child_spec *spec, bool need_id, grove_err *err)
{
    sup_child *c = gv_child_from_spec(spec, need_id, err);
    if (!c)
        return NULL;
    grove_term *t = gv_child_to_term(c);
    gv_child_free(c);
    return t;
}

grove_term *gv_spec_pack_task(grove_term *task_arg)
{
    sup_child c = {
        .kind = GV_KIND_TASK, .arg = task_arg, .restart = GROVE_TEMPORARY, .shutdown_ms = 5000};
    grove_term *t = gv_child_to_term(&c);
    grove_term_destroy(&c.arg);
    return t;
}

/* ---- the child list of init ------------------------------------------------------------- */

grove_err grove_sup_add(grove_children *children, const grove_child_spec *spec)
{
    grove_err err;
    sup_child *c = gv_child_from_spec(spec, !children->dynamic, &err);
    if (!c)
        return err;
    for (size_t i = 0; c->id && i < children->n; i++) {
        if (children->kids[i]->id && strcmp(children->kids[i]->id, c->id) == 0) {
            gv_child_free(c);
            return GROVE_EINVAL;
        }
    }
    if (children->n == children->cap) {
        children->cap = children->cap ? children->cap * 2 : 8;
        children->kids = gv_realloc(children->kids, children->cap * sizeof *children->kids);
    }
    children->kids[children->n++] = c;
    return GROVE_OK;
}

void gv_children_set_dynamic(grove_children *children)
{
    children->dynamic = true;
}

/* ---- dynamic supervisors ------------------------------------------------------------------- */

void gv_dynsup_flags(const grove_term *arg, grove_sup_flags *flags)
{
    int v;
    int64_t l;
    if (grove_match(arg, "#{intensity => ~i}", &v))
        flags->intensity = v;
    if (grove_match(arg, "#{period_ms => ~l}", &l) && l >= 0 && l <= UINT32_MAX)
        flags->period_ms = (uint32_t)l;
    if (grove_match(arg, "#{max_children => ~l}", &l) && l >= 0 && l <= UINT32_MAX)
        flags->max_children = (unsigned)l;
}

static grove_err s_dynsup_init(grove_proc *self, const grove_term *arg, grove_sup_flags *flags,
                               grove_children *children)
{
    gv_children_set_dynamic(children);
    flags->strategy = GROVE_ONE_FOR_ONE;
    gv_dynsup_flags(arg, flags);
    return GROVE_OK;
}

const grove_supervisor grove_dynamic_supervisor = {.name = "dynamic_supervisor",
                                                   .init = s_dynsup_init};
const grove_supervisor grove_task_supervisor = {.name = "task_supervisor", .init = s_dynsup_init};

grove_term *grove_dynsup_arg(const grove_sup_flags *flags)
{
    static const grove_sup_flags none = {0};
    if (!flags)
        flags = &none;
    return grove_pack("#{intensity => ~i, period_ms => ~l, max_children => ~l}", flags->intensity,
                      (int64_t)flags->period_ms, (int64_t)flags->max_children);
}

/* ---- starting -----------------------------------------------------------------------------------
 */

grove_err grove_supervisor_start(grove_node *node, const grove_supervisor *sup, grove_term *arg,
                                 const grove_start_opts *opts, grove_pid *out)
{
    if (!sup || !sup->init) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return gv_start_wait(node, GV_KIND_SUPERVISOR, sup, sup->name, arg, opts, out);
}

grove_err grove_supervisor_start_async(grove_proc *self, const grove_supervisor *sup,
                                       grove_term *arg, const grove_start_opts *opts,
                                       grove_pid *out, grove_ref *ack)
{
    static const grove_start_opts none = {0};
    if (!opts)
        opts = &none;
    if (!sup || !sup->init) {
        grove_term_destroy(&arg);
        return GROVE_EINVAL;
    }
    return gv_start_async(self, GV_KIND_SUPERVISOR, sup, sup->name, arg, opts->name, opts->scope,
                          opts->link, out, ack);
}

grove_err grove_dynsup_start(grove_node *node, const grove_sup_flags *flags,
                             const grove_start_opts *opts, grove_pid *out)
{
    return grove_supervisor_start(node, &grove_dynamic_supervisor, grove_dynsup_arg(flags), opts,
                                  out);
}

/* ---- management calls
 * ------------------------------------------------------------------------------ */

/* Reads {ok, Pid}, ok, or {error, Why} into an error code. */
grove_err gv_sup_result(grove_err err, const grove_term *reply, grove_pid *pid)
{
    if (err)
        return err;
    if (grove_match(reply, "ok"))
        return GROVE_OK;
    grove_pid p;
    if (grove_match(reply, "{ok, ~p}", &p)) {
        if (pid)
            *pid = p;
        return GROVE_OK;
    }
    if (grove_match(reply, "{error, not_found}"))
        return GROVE_ENOTFOUND;
    if (grove_match(reply, "{error, running}") || grove_match(reply, "{error, already_present}") ||
        grove_match(reply, "{error, {already_started, _}}"))
        return GROVE_EEXIST;
    if (grove_match(reply, "{error, max_children}"))
        return GROVE_EAGAIN;
    if (grove_match(reply, "{error, invalid}"))
        return GROVE_EINVAL;
    /* a child placed on a node that does not know its target */
    if (grove_match(reply, "{error, {not_registered, _, _}}") ||
        grove_match(reply, "{error, {remote_spawn_failed, _, unknown_behaviour}}"))
        return GROVE_ENOTFOUND;
    grove_term *why = NULL;
    if (grove_match(reply, "{error, ~t}", &why)) {
        err = gv_reason_err(why);
        grove_term_destroy(&why);
        return err;
    }
    return GROVE_EPROTO;
}

static grove_err s_call_id(grove_node *node, grove_pid sup, const char *op, const char *id,
                           grove_pid *pid)
{
    if (!id || !s_text_ok(id))
        return GROVE_EINVAL;
    grove_term *reply = NULL;
    grove_err err =
        gv_call(node, sup, grove_pack("{~a, ~b}", op, id, strlen(id)), GROVE_INFINITY, &reply);
    err = gv_sup_result(err, reply, pid);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_supervisor_which_children(grove_node *node, grove_pid sup, grove_child_info **out,
                                          size_t *n)
{
    *out = NULL;
    *n = 0;
    grove_term *reply = NULL;
    grove_err err = gv_call(node, sup, grove_atom("which_children"), GROVE_INFINITY, &reply);
    if (err) {
        grove_term_destroy(&reply);
        return err;
    }
    /* [{Id | undefined, Pid | undefined, worker | supervisor}, ...] */
    grove_reader r = grove_reader_of(reply);
    grove_value v;
    if (!grove_reader_next(&r, &v) || (v.type != GROVE_TYPE_LIST && v.type != GROVE_TYPE_NIL)) {
        grove_term_destroy(&reply);
        return GROVE_EPROTO;
    }
    size_t count = v.type == GROVE_TYPE_LIST ? v.as.compound.arity : 0;
    grove_child_info *info = count ? calloc(count, sizeof *info) : NULL;
    if (count && !info)
        gv_panic("out of memory");
    for (size_t i = 0; i < count; i++) {
        grove_value tup, id, pid, type;
        grove_reader_next(&r, &tup);
        grove_reader_next(&r, &id);
        if (id.type == GROVE_TYPE_BINARY) {
            size_t len = id.as.binary.size < 255 ? id.as.binary.size : 255;
            memcpy(info[i].id, id.as.binary.data, len);
        }
        grove_reader_next(&r, &pid);
        if (pid.type == GROVE_TYPE_PID && grove_value_pid(&pid, &info[i].pid) == GROVE_OK)
            info[i].running = true;
        grove_reader_next(&r, &type);
        info[i].supervisor = grove_value_is_atom(&type, "supervisor");
    }
    grove_term_destroy(&reply);
    *out = info;
    *n = count;
    return GROVE_OK;
}

grove_err grove_supervisor_count_children(grove_node *node, grove_pid sup, grove_child_counts *out)
{
    memset(out, 0, sizeof *out);
    grove_term *reply = NULL;
    grove_err err = gv_call(node, sup, grove_atom("count_children"), GROVE_INFINITY, &reply);
    int64_t specs, active, sups, workers;
    if (!err &&
        !grove_match(reply, "#{specs => ~l, active => ~l, supervisors => ~l, workers => ~l}",
                     &specs, &active, &sups, &workers))
        err = GROVE_EPROTO;
    if (!err) {
        out->specs = (size_t)specs;
        out->active = (size_t)active;
        out->supervisors = (size_t)sups;
        out->workers = (size_t)workers;
    }
    grove_term_destroy(&reply);
    return err;
}

static grove_err s_start_child(grove_node *node, grove_pid sup, const grove_child_spec *spec,
                               bool need_id, grove_pid *out)
{
    grove_err err;
    grove_term *t = gv_spec_pack(spec, need_id, &err);
    if (!t)
        return err;
    grove_term *reply = NULL;
    err = gv_call(node, sup, grove_pack("{start_child, ~t}", t), GROVE_INFINITY, &reply);
    err = gv_sup_result(err, reply, out);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_supervisor_start_child(grove_node *node, grove_pid sup,
                                       const grove_child_spec *spec, grove_pid *out)
{
    return s_start_child(node, sup, spec, true, out);
}

grove_err grove_dynsup_start_child(grove_node *node, grove_pid sup, const grove_child_spec *spec,
                                   grove_pid *out)
{
    return s_start_child(node, sup, spec, false, out);
}

grove_err grove_supervisor_terminate_child(grove_node *node, grove_pid sup, const char *id)
{
    return s_call_id(node, sup, "terminate_child", id, NULL);
}

grove_err grove_supervisor_restart_child(grove_node *node, grove_pid sup, const char *id,
                                         grove_pid *out)
{
    return s_call_id(node, sup, "restart_child", id, out);
}

grove_err grove_supervisor_delete_child(grove_node *node, grove_pid sup, const char *id)
{
    return s_call_id(node, sup, "delete_child", id, NULL);
}

grove_err grove_dynsup_terminate_child(grove_node *node, grove_pid sup, grove_pid child)
{
    grove_term *reply = NULL;
    grove_err err =
        gv_call(node, sup, grove_pack("{terminate_child, ~p}", child), GROVE_INFINITY, &reply);
    err = gv_sup_result(err, reply, NULL);
    grove_term_destroy(&reply);
    return err;
}

grove_err grove_supervisor_stop(grove_node *node, grove_pid sup, grove_term *reason,
                                int64_t timeout_ms)
{
    return grove_gen_server_stop(node, sup, reason, timeout_ms);
}
