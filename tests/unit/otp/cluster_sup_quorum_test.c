/* The cluster-wide supervisor's counted set and placement
 * (otp/cluster_sup_quorum.c): every member computes them alone, so the
 * same reports must give the same answer everywhere, and no split of
 * the members may give two majorities. */
#include "otp/cluster_sup_impl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MAXN 8

/* links from a list of "ij" pairs: member i reports hearing member j. */
static void s_links(size_t n, bool *links, const char *pairs)
{
    memset(links, 0, n * n * sizeof *links);
    for (const char *p = pairs; *p; p += 2) {
        while (*p == ' ')
            p++;
        if (!p[0] || !p[1])
            break;
        links[(size_t)(p[0] - '0') * n + (size_t)(p[1] - '0')] = true;
    }
}

/* Both ways. */
static void s_mutual(size_t n, bool *links, const char *pairs)
{
    char both[256] = {0};
    size_t k = 0;
    for (const char *p = pairs; *p;) {
        while (*p == ' ')
            p++;
        if (!p[0] || !p[1])
            break;
        both[k++] = p[0];
        both[k++] = p[1];
        both[k++] = p[1];
        both[k++] = p[0];
        p += 2;
    }
    s_links(n, links, both);
}

/* Who has a majority when each member sees its own view: here every
 * view is the same graph (consistent reports). */
static size_t s_majorities(size_t n, const bool *links, bool *has)
{
    bool in[MAXN];
    size_t c = gv_csup_counted(n, links, in);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        has[i] = in[i] && gv_csup_majority(c, n);
        count += has[i];
    }
    return count;
}

static void test_a_full_mesh_counts_everyone(void **state)
{
    (void)state;
    bool links[9], in[3];
    s_mutual(3, links, "010212");
    assert_int_equal(gv_csup_counted(3, links, in), 3);
    assert_true(in[0] && in[1] && in[2]);
    assert_true(gv_csup_majority(3, 3));
}

static void test_a_lone_member_of_one_is_a_majority(void **state)
{
    (void)state;
    bool links[1] = {false}, in[1];
    assert_int_equal(gv_csup_counted(1, links, in), 1);
    assert_true(in[0]);
    assert_true(gv_csup_majority(1, 1));
    /* one of two is not */
    assert_false(gv_csup_majority(1, 2));
    assert_false(gv_csup_majority(2, 4));
    assert_true(gv_csup_majority(3, 5));
}

static void test_two_against_one_gives_the_two_a_majority(void **state)
{
    (void)state;
    bool links[9], has[3], in[3];
    /* 0 and 1 hear each other; 2 is cut from both. */
    s_mutual(3, links, "01");
    assert_int_equal(s_majorities(3, links, has), 2);
    assert_true(has[0] && has[1] && !has[2]);
    /* From 2's side, with 0 and 1's rows from before the cut (they still
     * list 2) and its own row empty: 2 is linked to nobody. */
    s_links(3, links, "01 02 10 12");
    assert_int_equal(gv_csup_counted(3, links, in), 2);
    assert_false(in[2]);
}

static void test_three_ways_apart_gives_nobody_a_majority(void **state)
{
    (void)state;
    bool links[9], has[3];
    s_links(3, links, "");
    assert_int_equal(s_majorities(3, links, has), 0);
    /* stale rows claiming links the other end denies change nothing */
    s_links(3, links, "01 02 12");
    assert_int_equal(s_majorities(3, links, has), 0);
}

static void test_a_partial_partition_gives_exactly_one_majority(void **state)
{
    (void)state;
    bool links[9], has[3], in[3];
    /* 0 and 2 are cut; 1 hears both. Each of {0, 1} and {1, 2} is two of
     * three, but only one may count. */
    s_mutual(3, links, "01 12");
    assert_int_equal(s_majorities(3, links, has), 2);
    /* the tie (0 and 2 have one link each) drops the greater name */
    assert_true(has[0] && has[1] && !has[2]);
    assert_int_equal(gv_csup_counted(3, links, in), 2);
    /* 2's own view, with its row already without 0 and 0's still listing
     * 2 (stale): the same answer */
    s_links(3, links, "01 02 10 12 21");
    assert_int_equal(gv_csup_counted(3, links, in), 2);
    assert_true(in[0] && in[1] && !in[2]);
    /* and 0's view with 2's stale row listing 0 */
    s_links(3, links, "01 10 12 20 21");
    assert_int_equal(gv_csup_counted(3, links, in), 2);
    assert_true(in[0] && in[1] && !in[2]);
}

static void test_five_members_with_a_bridge_keep_one_majority(void **state)
{
    (void)state;
    bool links[25], has[5];
    /* {0,1} and {3,4} are cut from each other, 2 hears everyone. */
    s_mutual(5, links, "01 02 12 23 24 34");
    size_t n = s_majorities(5, links, has);
    assert_int_equal(n, 3);
    /* the counted three are pairwise linked */
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++)
            if (i != j && has[i] && has[j])
                assert_true(links[i * 5 + j] && links[j * 5 + i]);
    assert_true(has[2]);
}

/* Every split of five members into groups that hear only their own
 * group: at most one group has a majority, and exactly one when some
 * group holds three or more. */
static void test_no_split_of_five_gives_two_majorities(void **state)
{
    (void)state;
    size_t group[5];
    for (size_t code = 0; code < 3125; code++) { /* each member in one of 5 groups */
        size_t c = code;
        for (size_t i = 0; i < 5; i++) {
            group[i] = c % 5;
            c /= 5;
        }
        bool links[25] = {false}, has[5];
        size_t size[5] = {0};
        for (size_t i = 0; i < 5; i++) {
            size[group[i]]++;
            for (size_t j = 0; j < 5; j++)
                links[i * 5 + j] = i != j && group[i] == group[j];
        }
        size_t biggest = 0;
        for (size_t g = 0; g < 5; g++)
            biggest = size[g] > biggest ? size[g] : biggest;
        size_t n = s_majorities(5, links, has);
        assert_int_equal(n, biggest >= 3 ? biggest : 0);
        for (size_t i = 0; i < 5; i++)
            for (size_t j = 0; j < 5; j++)
                if (has[i] && has[j])
                    assert_int_equal(group[i], group[j]);
    }
}

static void test_placement_spreads_evenly_and_is_deterministic(void **state)
{
    (void)state;
    const char *nodes[3] = {"a@h", "b@h", "c@h"};
    size_t owned[3] = {0, 0, 0};
    char id[16];
    size_t first[30];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "child%d", i);
        size_t k = gv_csup_pick(id, nodes, owned, 3);
        assert_true(k < 3);
        first[i] = k;
        owned[k]++;
    }
    assert_int_equal(owned[0], 10);
    assert_int_equal(owned[1], 10);
    assert_int_equal(owned[2], 10);
    /* the same inputs, the same answers */
    size_t again[3] = {0, 0, 0};
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "child%d", i);
        size_t k = gv_csup_pick(id, nodes, again, 3);
        assert_int_equal(k, first[i]);
        again[k]++;
    }
    /* with equal counts the weight decides, whatever the order given */
    size_t zero[3] = {0, 0, 0};
    const char *rev[3] = {"c@h", "b@h", "a@h"};
    int differ = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "child%d", i);
        assert_string_equal(nodes[gv_csup_pick(id, nodes, zero, 3)],
                            rev[gv_csup_pick(id, rev, zero, 3)]);
        differ += gv_csup_pick(id, nodes, zero, 3) != 0;
    }
    assert_true(differ > 0); /* not always the first node */
    assert_true(gv_csup_weight("x", "a@h") != gv_csup_weight("x", "b@h"));
    assert_true(gv_csup_weight("ab", "c") != gv_csup_weight("a", "bc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_full_mesh_counts_everyone),
        cmocka_unit_test(test_a_lone_member_of_one_is_a_majority),
        cmocka_unit_test(test_two_against_one_gives_the_two_a_majority),
        cmocka_unit_test(test_three_ways_apart_gives_nobody_a_majority),
        cmocka_unit_test(test_a_partial_partition_gives_exactly_one_majority),
        cmocka_unit_test(test_five_members_with_a_bridge_keep_one_majority),
        cmocka_unit_test(test_no_split_of_five_gives_two_majorities),
        cmocka_unit_test(test_placement_spreads_evenly_and_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
