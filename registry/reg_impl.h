/*
 * reg_impl.h - what the registry's files share (internal).
 *
 * The replica (name -> pid, epoch) is read by any thread under a mutex
 * held for one lookup, and written only by the registry process
 * (reg_server.c), which also keeps its own state: claims, reservations,
 * epochs seen, monitors, peers.
 */
#ifndef GV_REG_IMPL_H
#define GV_REG_IMPL_H

#include "registry/reg_map.h"
#include "registry/registry.h"

#include <grove/global.h>

#include "base/gv_thread.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The local name of every node's registry process: peers address it as
 * {grove_global, Node}. Reserved. */
#define GV_REG_SERVER_NAME "grove_global"

/* The tag of every message the registry processes exchange. */
#define GV_REG_TAG "'$grove_global'"

#define GV_REG_NAME_MAX 255

struct gv_registry {
    grove_node *node;
    grove_nodename self;
    uint32_t creation;
    gv_mutex mu;   /* the replica */
    gv_rmap table; /* name -> gv_reg_entry */
    gv_mutex start_mu;
    _Atomic bool started; /* server is set (release) */
    grove_pid server;
    _Atomic int resolution;   /* grove_global_resolution */
    _Atomic uint32_t members; /* peers whose registry answers claims */
};

typedef struct gv_reg_entry {
    grove_pid pid;
    uint64_t epoch;
} gv_reg_entry;

/* The replica: get from any thread; set and del by the registry process
 * only. */
bool gv_reg_get(gv_registry *r, const char *name, size_t len, grove_pid *pid, uint64_t *epoch);
void gv_reg_set(gv_registry *r, const char *name, size_t len, grove_pid pid, uint64_t epoch);
void gv_reg_del(gv_registry *r, const char *name, size_t len);

/* The registry process; its spawn argument is {Registry address}. */
extern const grove_behaviour gv_reg_server_behaviour;

#endif
