/*
 * cluster_sup_quorum.c - the counted set and placement of the
 * cluster-wide supervisor (docs/otp.md, "The cluster-wide supervisor").
 * Pure functions, unit-tested on their own.
 */
#include "otp/cluster_sup_impl.h"

#include <string.h>

static bool s_linked(size_t n, const bool *links, size_t i, size_t j)
{
    return links[i * n + j] && links[j * n + i];
}

size_t gv_csup_counted(size_t n, const bool *links, bool *in)
{
    for (size_t i = 0; i < n; i++)
        in[i] = true;
    size_t left = n;
    for (;;) {
        /* Links of each member left, to the others left. */
        bool complete = true;
        size_t worst = n, worst_deg = 0;
        for (size_t i = 0; i < n; i++) {
            if (!in[i])
                continue;
            size_t deg = 0;
            for (size_t j = 0; j < n; j++)
                if (j != i && in[j] && s_linked(n, links, i, j))
                    deg++;
            if (deg + 1 < left)
                complete = false;
            /* "<=": of equals, the later (greater) name is dropped. */
            if (worst == n || deg <= worst_deg) {
                worst = i;
                worst_deg = deg;
            }
        }
        if (complete || left <= 1)
            return left;
        in[worst] = false;
        left--;
    }
}

uint64_t gv_csup_weight(const char *id, const char *node)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    h = (h ^ 0xffu) * 1099511628211u; /* a separator no name contains */
    for (const unsigned char *p = (const unsigned char *)node; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    /* FNV's low bits mix poorly for short keys: finish with a mixer. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

size_t gv_csup_pick(const char *id, const char *const *nodes, const size_t *owned, size_t n)
{
    size_t best = 0;
    uint64_t best_w = gv_csup_weight(id, nodes[0]);
    for (size_t k = 1; k < n; k++) {
        uint64_t w = gv_csup_weight(id, nodes[k]);
        if (owned[k] < owned[best] ||
            (owned[k] == owned[best] &&
             (w > best_w || (w == best_w && strcmp(nodes[k], nodes[best]) < 0)))) {
            best = k;
            best_w = w;
        }
    }
    return best;
}
