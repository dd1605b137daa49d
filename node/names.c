/*
 * names.c - the local unique name table and the duplicate-key registry.
 *
 * Both are chained hash tables under one node-wide mutex: lookups are
 * short, and a read-mostly lock (or a lock-free table) can replace it if
 * send-by-name ever shows in a profile. A process remembers its name
 * (under the same mutex, since other threads register it) and the keys it
 * joined (only it joins, so that list is its own), so its exit removes
 * exactly its entries.
 */
#include "node/node_impl.h"
#include "node/proc.h"

#include <grove/names.h>

#include "base/gv_alloc.h"

#include <string.h>

typedef struct gv_name_ent {
    struct gv_name_ent *next;
    uint64_t hash;
    grove_pid pid;
    char key[];
} gv_name_ent;

typedef struct gv_reg_ent {
    struct gv_reg_ent *next;
    uint64_t hash;
    grove_pid *pids;
    uint32_t n, cap;
    char key[];
} gv_reg_ent;

struct gv_keys {
    char **keys;
    uint32_t n, cap;
};

static uint64_t s_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3u;
    return h;
}

static bool s_valid(const char *name)
{
    size_t n = name ? strnlen(name, 256) : 0;
    return n >= 1 && n <= 255;
}

void gv_names_init(gv_names *t)
{
    memset(t, 0, sizeof *t);
    gv_mutex_init(&t->mu);
    t->ncap = t->rcap = 64;
    t->nb = gv_calloc(t->ncap, sizeof *t->nb);
    t->rb = gv_calloc(t->rcap, sizeof *t->rb);
}

void gv_names_fini(gv_names *t)
{
    for (size_t i = 0; i < t->ncap; i++)
        for (gv_name_ent *e = t->nb[i], *next; e; e = next) {
            next = e->next;
            gv_free(e);
        }
    for (size_t i = 0; i < t->rcap; i++)
        for (gv_reg_ent *e = t->rb[i], *next; e; e = next) {
            next = e->next;
            gv_free(e->pids);
            gv_free(e);
        }
    gv_free(t->nb);
    gv_free(t->rb);
    gv_mutex_fini(&t->mu);
}

/* Grows a table of chains linked through their first field. */
static void s_grow(void ***buckets, size_t *cap, size_t count)
{
    if (count < *cap)
        return;
    size_t ncap = *cap * 2;
    void **nb = gv_calloc(ncap, sizeof *nb);
    for (size_t i = 0; i < *cap; i++) {
        gv_name_ent *e = (*buckets)[i], *next; /* both kinds start next, hash */
        for (; e; e = next) {
            next = e->next;
            size_t j = e->hash & (ncap - 1);
            e->next = nb[j];
            nb[j] = e;
        }
    }
    gv_free(*buckets);
    *buckets = nb;
    *cap = ncap;
}

static gv_name_ent **s_name_find(gv_names *t, const char *name, uint64_t h)
{
    gv_mutex_assert_held(&t->mu);
    gv_name_ent **pp = &t->nb[h & (t->ncap - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->key, name) == 0)
            return pp;
    return pp;
}

static gv_reg_ent **s_reg_find(gv_names *t, const char *key, uint64_t h)
{
    gv_mutex_assert_held(&t->mu);
    gv_reg_ent **pp = &t->rb[h & (t->rcap - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
            return pp;
    return pp;
}

/* ---- unique names --------------------------------------------------------------- */

grove_err grove_register(grove_node *node, const char *name, grove_pid pid)
{
    if (!s_valid(name))
        return GROVE_EINVAL;
    if (!gv_pid_is_local(node, pid))
        return GROVE_ENOPROC;
    gv_names *t = &node->names;
    uint64_t h = s_hash(name);
    /* seq_cst, before resolving pid: see gv_proc_exit. */
    atomic_store_explicit(&node->names_used, true, memory_order_seq_cst);
    gv_mutex_lock(&t->mu);
    grove_proc *p = gv_ptab_acquire(&node->ptab, pid.id, pid.serial);
    grove_err err = GROVE_OK;
    if (!p || (gv_proc_flags(p) & GV_PF_EXTERNAL)) {
        err = GROVE_ENOPROC;
    } else if (p->reg_name || *s_name_find(t, name, h)) {
        err = GROVE_EEXIST;
    } else {
        size_t len = strlen(name);
        gv_name_ent *e = gv_malloc(sizeof *e + len + 1);
        memcpy(e->key, name, len + 1);
        e->hash = h;
        e->pid = pid;
        gv_name_ent **pp = &t->nb[h & (t->ncap - 1)];
        e->next = *pp;
        *pp = e;
        t->ncount++;
        p->reg_name = gv_strndup(name, len); /* its own copy: the entry may go first */
        s_grow((void ***)&t->nb, &t->ncap, t->ncount);
    }
    gv_mutex_unlock(&t->mu);
    /* The exit path takes the names lock after clearing `alive`, so a
     * process that exits from here on finds its name and removes it. */
    if (p && gv_ptab_release(&node->ptab, pid.id))
        gv_proc_finalize(p);
    return err;
}

/* Removes the entry *pp and clears its process's name, with the lock held. */
static void s_name_drop(grove_node *node, gv_name_ent **pp)
{
    gv_name_ent *e = *pp;
    *pp = e->next;
    node->names.ncount--;
    /* A live process forgets its name now; a dying one does in its exit
     * path (which checks that the entry is still its own). */
    grove_proc *p = gv_ptab_acquire(&node->ptab, e->pid.id, e->pid.serial);
    if (p) {
        gv_free(p->reg_name);
        p->reg_name = NULL;
        /* Never the last reference: p is alive, so it holds its own. */
        if (gv_ptab_release(&node->ptab, e->pid.id))
            gv_proc_finalize(p);
    }
    gv_free(e);
}

grove_err grove_unregister(grove_node *node, const char *name)
{
    if (!s_valid(name))
        return GROVE_EINVAL;
    gv_names *t = &node->names;
    gv_mutex_lock(&t->mu);
    gv_name_ent **pp = s_name_find(t, name, s_hash(name));
    grove_err err = *pp ? GROVE_OK : GROVE_ENOTFOUND;
    if (*pp)
        s_name_drop(node, pp);
    gv_mutex_unlock(&t->mu);
    return err;
}

grove_err grove_whereis(grove_node *node, const char *name, grove_pid *out)
{
    if (!s_valid(name))
        return GROVE_EINVAL;
    gv_names *t = &node->names;
    gv_mutex_lock(&t->mu);
    gv_name_ent *e = *s_name_find(t, name, s_hash(name));
    if (e && out)
        *out = e->pid;
    gv_mutex_unlock(&t->mu);
    return e ? GROVE_OK : GROVE_ENOTFOUND;
}

grove_err grove_node_send_name(grove_node *node, const char *name, grove_term *msg)
{
    grove_pid to;
    grove_err err = msg ? grove_whereis(node, name, &to) : GROVE_EINVAL;
    if (err) {
        grove_term_destroy(&msg);
        return err;
    }
    return grove_node_send(node, to, msg);
}

grove_err grove_proc_send_name(grove_proc *self, const char *name, grove_term *msg)
{
    grove_pid to;
    grove_err err = msg ? grove_whereis(self->node, name, &to) : GROVE_EINVAL;
    if (err) {
        grove_term_destroy(&msg);
        return err;
    }
    return grove_proc_send(self, to, msg);
}

/* ---- names on a node, here or remote ({Name, Node} ! Msg) -------------------------------- */

grove_err gv_send_name_local(void *ctx, grove_nodename node, const char *name, grove_term *msg)
{
    grove_node *n = ctx;
    if (node != n->name) {
        grove_term_destroy(&msg);
        return GROVE_ENOCONN;
    }
    return grove_node_send_name(n, name, msg);
}

grove_err gv_register_async_none(void *ctx, const char *name, grove_pid pid, grove_pid reply_to,
                                 grove_ref ref)
{
    return GROVE_ENOCONN;
}

/* Checks the arguments; the own node's names are sent to here, so a
 * name nobody has is GROVE_ENOTFOUND as for grove_send_name. */
static grove_err s_send_name_at(grove_node *n, grove_proc *self, grove_nodename node,
                                const char *name, grove_term *msg)
{
    if (!msg || !s_valid(name) || !node) {
        grove_term_destroy(&msg);
        return GROVE_EINVAL;
    }
    if (node == n->name)
        return self ? grove_proc_send_name(self, name, msg) : grove_node_send_name(n, name, msg);
    const gv_cluster_ops *c = &gv_node_ops(n)->cluster;
    return c->send_name(c->ctx, node, name, msg);
}

grove_err grove_proc_send_name_at(grove_proc *self, grove_nodename node, const char *name,
                                  grove_term *msg)
{
    return s_send_name_at(self->node, self, node, name, msg);
}

grove_err grove_node_send_name_at(grove_node *n, grove_nodename node, const char *name,
                                  grove_term *msg)
{
    return s_send_name_at(n, NULL, node, name, msg);
}

/* ---- the duplicate-key registry ------------------------------------------------------ */

grove_err grove_registry_join(grove_proc *self, const char *key)
{
    if (!s_valid(key))
        return GROVE_EINVAL;
    gv_names *t = &self->node->names;
    uint64_t h = s_hash(key);
    /* Relaxed would do (only self joins, on its own thread), but keep
     * the one rule: seq_cst before the entry exists. */
    atomic_store_explicit(&self->node->names_used, true, memory_order_seq_cst);
    gv_mutex_lock(&t->mu);
    gv_reg_ent **pp = s_reg_find(t, key, h);
    gv_reg_ent *e = *pp;
    if (!e) {
        size_t len = strlen(key);
        e = gv_calloc(1, sizeof *e + len + 1);
        memcpy(e->key, key, len + 1);
        e->hash = h;
        gv_reg_ent **bp = &t->rb[h & (t->rcap - 1)];
        e->next = *bp;
        *bp = e;
        t->rcount++;
        s_grow((void ***)&t->rb, &t->rcap, t->rcount);
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->pids = gv_realloc(e->pids, e->cap * sizeof *e->pids);
    }
    e->pids[e->n++] = self->pid;
    gv_mutex_unlock(&t->mu);
    /* Remember the key (owner-only list) so the exit path can leave it. */
    struct gv_keys *k = self->keys;
    if (!k)
        k = self->keys = gv_calloc(1, sizeof *k);
    for (uint32_t i = 0; i < k->n; i++)
        if (strcmp(k->keys[i], key) == 0)
            return GROVE_OK;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 4;
        k->keys = gv_realloc(k->keys, k->cap * sizeof *k->keys);
    }
    k->keys[k->n++] = gv_strndup(key, strlen(key));
    return GROVE_OK;
}

/* Removes pid's entries under key, with the lock held. Returns how many. */
static uint32_t s_leave(gv_names *t, const char *key, grove_pid pid)
{
    gv_reg_ent **pp = s_reg_find(t, key, s_hash(key));
    gv_reg_ent *e = *pp;
    if (!e)
        return 0;
    uint32_t kept = 0, removed = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        if (grove_pid_equal(e->pids[i], pid))
            removed++;
        else
            e->pids[kept++] = e->pids[i]; /* keep join order */
    }
    e->n = kept;
    if (!kept) {
        *pp = e->next;
        t->rcount--;
        gv_free(e->pids);
        gv_free(e);
    }
    return removed;
}

grove_err grove_registry_leave(grove_proc *self, const char *key)
{
    if (!s_valid(key))
        return GROVE_EINVAL;
    gv_names *t = &self->node->names;
    gv_mutex_lock(&t->mu);
    uint32_t removed = s_leave(t, key, self->pid);
    gv_mutex_unlock(&t->mu);
    struct gv_keys *k = self->keys;
    for (uint32_t i = 0; k && i < k->n; i++) {
        if (strcmp(k->keys[i], key) == 0) {
            gv_free(k->keys[i]);
            k->keys[i] = k->keys[--k->n];
            break;
        }
    }
    return removed ? GROVE_OK : GROVE_ENOTFOUND;
}

size_t grove_registry_lookup(grove_node *node, const char *key, grove_pid *out, size_t cap)
{
    if (!s_valid(key))
        return 0;
    gv_names *t = &node->names;
    gv_mutex_lock(&t->mu);
    gv_reg_ent *e = *s_reg_find(t, key, s_hash(key));
    size_t n = e ? e->n : 0;
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = e->pids[i];
    gv_mutex_unlock(&t->mu);
    return n;
}

grove_err grove_registry_dispatch(grove_node *node, const char *key, grove_term *msg, size_t *count)
{
    if (count)
        *count = 0;
    if (!msg)
        return GROVE_EINVAL;
    grove_pid small[32];
    grove_pid *pids = small;
    size_t n = grove_registry_lookup(node, key, small, 32);
    if (n > 32) { /* it may change meanwhile: send to a snapshot */
        pids = gv_malloc(n * sizeof *pids);
        n = grove_registry_lookup(node, key, pids, n);
    }
    for (size_t i = 0; i < n; i++)
        grove_node_send(node, pids[i], i + 1 == n ? msg : grove_term_copy(msg));
    if (!n)
        grove_term_destroy(&msg);
    if (pids != small)
        gv_free(pids);
    if (count)
        *count = n;
    return GROVE_OK;
}

/* ---- exit ------------------------------------------------------------------------------ */

void gv_names_exit(grove_proc *p)
{
    gv_names *t = &p->node->names;
    struct gv_keys *k = p->keys;
    gv_mutex_lock(&t->mu);
    if (p->reg_name) {
        gv_name_ent **pp = s_name_find(t, p->reg_name, s_hash(p->reg_name));
        if (*pp && grove_pid_equal((*pp)->pid, p->pid)) {
            gv_name_ent *e = *pp;
            *pp = e->next;
            t->ncount--;
            gv_free(e);
        }
        gv_free(p->reg_name);
        p->reg_name = NULL;
    }
    for (uint32_t i = 0; k && i < k->n; i++)
        s_leave(t, k->keys[i], p->pid);
    gv_mutex_unlock(&t->mu);
    if (k) {
        for (uint32_t i = 0; i < k->n; i++)
            gv_free(k->keys[i]);
        gv_free(k->keys);
        gv_free(k);
        p->keys = NULL;
    }
}
