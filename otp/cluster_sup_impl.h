/*
 * cluster_sup_impl.h - the cluster-wide supervisor's pure parts
 * (internal to otp/; docs/otp.md, "The cluster-wide supervisor"): which
 * members count toward a majority, and where a child goes. No state, no
 * clock: every member computes the same answers from the same inputs.
 */
#ifndef GV_OTP_CLUSTER_SUP_IMPL_H
#define GV_OTP_CLUSTER_SUP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
