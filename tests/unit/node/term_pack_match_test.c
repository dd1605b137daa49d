/*
 * term_pack_match_test.c - building terms with grove_pack and taking them
 * apart with grove_match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <grove/term.h>

#include <pthread.h>

static void s_assert_text(const grove_term *t, const char *want)
{
    assert_non_null(t);
    char *got = grove_term_format(t);
    if (strcmp(got, want) != 0)
        fail_msg("got %s, want %s", got, want);
    free(got);
}

static void test_pack_fills_every_placeholder(void **state)
{
    (void)state;
    grove_nodename node;
    assert_int_equal(grove_nodename_intern("a@h", 3, &node), GROVE_OK);
    grove_pid pid = {node, 1, 2, 3};
    grove_ref ref = {.node = node, .creation = 9, .len = 3, .id = {4, 5, 6}};
    grove_term *inner = grove_pack("[x]");
    grove_term *t = grove_pack("{~i, ~l, ~u, ~f, ~a, ~s, ~b, ~p, ~r, ~t}", -7, (int64_t)INT64_MIN,
                               (uint64_t)UINT64_MAX, 2.5, "ok", "hi", (size_t)2, "\x01\x02",
                               (size_t)2, pid, ref, inner);
    s_assert_text(t, "{-7,-9223372036854775808,18446744073709551615,2.5,ok,\"hi\",<<1,2>>,"
                     "#Pid<a@h.1.2.3>,#Ref<a@h.4.5.6.9>,[x]}");
    grove_term_destroy(&t);
}

static void test_pack_builds_nested_and_empty_shapes(void **state)
{
    (void)state;
    grove_term *t =
        grove_pack("#{key => [~i, {~a}], <<\"k\">> => #{}, [] => ~s}", 1, "b", "", (size_t)0);
    s_assert_text(t, "#{key => [1,{b}],[] => [],<<\"k\">> => #{}}");
    grove_term_destroy(&t);
    t = grove_pack("[~i | ~t]", 1, grove_pack("[2, 3]"));
    s_assert_text(t, "[1,2,3]");
    grove_term_destroy(&t);
}

static void test_pack_refuses_bad_values_and_still_consumes_terms(void **state)
{
    (void)state;
    grove_term_error err = {0};
    /* Each case must free the ~t term (the sanitizer runs see a leak). */
    assert_null(grove_pack_ex(&err, "{~f, ~t}", 0.0 / 0.0, grove_pack("a")));
    assert_non_null(strstr(err.message, "NaN"));
    assert_null(grove_pack("{~a, ~t}", (const char *)NULL, grove_pack("a")));
    assert_null(grove_pack("{~t ~t}", grove_pack("a"), grove_pack("b")));
    assert_null(grove_pack("{Bad, ~t, '~t', ~t}", grove_pack("a"), grove_pack("b")));
    assert_null(grove_pack("{~t, ~t}", (grove_term *)NULL, grove_pack("b")));
    assert_null(grove_pack("~q"));
    assert_null(grove_pack("~a", "\xff"));
    assert_null(grove_pack("{}}"));
    assert_null(grove_pack(NULL));
}

static void test_match_captures_every_placeholder(void **state)
{
    (void)state;
    grove_term *t = grove_pack("{7, -9223372036854775808, 18446744073709551615, 2.5, 'café', "
                               "\"hi\", <<1,2>>, #Pid<a@h.1.2.3>, #Ref<a@h.4.5.6.9>, [x]}");
    int i = 0;
    int64_t l = 0;
    uint64_t u = 0;
    double f = 0;
    char atom[16];
    const char *s = NULL;
    size_t slen = 0, blen = 0;
    const void *b = NULL;
    grove_pid pid = {0};
    grove_ref ref = {0};
    grove_term *sub = NULL;
    assert_true(grove_match(t, "{~i, ~l, ~u, ~f, ~a, ~s, ~b, ~p, ~r, ~t}", &i, &l, &u, &f, atom,
                            sizeof atom, &s, &slen, &b, &blen, &pid, &ref, &sub));
    assert_int_equal(i, 7);
    assert_true(l == INT64_MIN);
    assert_true(u == UINT64_MAX);
    assert_true(f == 2.5);
    assert_string_equal(atom, "caf\xc3\xa9");
    assert_int_equal(slen, 2);
    assert_memory_equal(s, "hi", 2);
    assert_int_equal(blen, 2);
    assert_memory_equal(b, "\x01\x02", 2);
    assert_string_equal(grove_nodename_str(pid.node), "a@h");
    assert_int_equal(pid.id, 1);
    assert_int_equal(pid.creation, 3);
    assert_int_equal(ref.len, 3);
    assert_int_equal(ref.id[2], 6);
    assert_int_equal(ref.creation, 9);
    s_assert_text(sub, "[x]");
    grove_term_destroy(&sub);
    grove_term_destroy(&t);
}

static void test_failed_match_writes_no_capture(void **state)
{
    (void)state;
    grove_term *t = grove_pack("{deposit, 50, extra}");
    int64_t n = 12345;
    grove_term *sub = NULL;
    /* The first capture would match; the arity does not. */
    assert_false(grove_match(t, "{deposit, ~l}", &n));
    assert_int_equal(n, 12345);
    assert_false(grove_match(t, "{~t, 50, other}", &sub));
    assert_null(sub);
    /* Wrong kinds and ranges. */
    int i = 99;
    assert_false(grove_match(t, "{deposit, ~f, _}", &(double){0}));
    grove_term *big = grove_pack("2147483648");
    assert_false(grove_match(big, "~i", &i));
    assert_int_equal(i, 99);
    assert_true(grove_match(big, "~u", &(uint64_t){0}));
    grove_term *neg = grove_pack("-1");
    assert_false(grove_match(neg, "~u", &(uint64_t){0}));
    char small[3];
    grove_term *atom = grove_pack("abc");
    assert_false(grove_match(atom, "~a", small, sizeof small)); /* no room for the NUL */
    assert_false(grove_match(NULL, "_"));
    assert_false(grove_match(t, "{deposit, 50"));
    grove_term_destroy(&t);
    grove_term_destroy(&big);
    grove_term_destroy(&neg);
    grove_term_destroy(&atom);
}

static void test_match_literals_are_exact(void **state)
{
    (void)state;
    grove_term *t = grove_pack("{1, 1.0, \"ab\", <<\"ab\">>, 'Q a', [], #{}}");
    assert_true(grove_match(t, "{1, 1.0, \"ab\", <<\"ab\">>, 'Q a', [], #{}}"));
    assert_false(grove_match(t, "{1.0, _, _, _, _, _, _}"));
    assert_false(grove_match(t, "{_, 1, _, _, _, _, _}"));
    assert_false(grove_match(t, "{_, _, <<\"ab\">>, _, _, _, _}"));
    assert_true(grove_match(t, "{_, _, [$a, $b], _, _, _, _}"));
    assert_true(grove_match(t, "_"));
    grove_term_destroy(&t);
}

static void test_match_lists_with_tails(void **state)
{
    (void)state;
    grove_term *t = grove_pack("[1, 2, 3]");
    int h = 0;
    grove_term *rest = NULL;
    assert_true(grove_match(t, "[~i | ~t]", &h, &rest));
    assert_int_equal(h, 1);
    s_assert_text(rest, "[2,3]");
    grove_term_destroy(&rest);
    const char *s;
    size_t n;
    assert_true(grove_match(t, "[_ | ~s]", &s, &n));
    assert_int_equal(n, 2);
    assert_int_equal(s[0], 2);
    assert_true(grove_match(t, "[1 | [2 | [3]]]"));
    assert_true(grove_match(t, "[_, _, _ | []]"));
    assert_false(grove_match(t, "[_, _]"));
    assert_false(grove_match(t, "[_, _, _, _]"));
    grove_term_destroy(&t);

    t = grove_pack("[a, b | c]");
    grove_term *tail = NULL;
    assert_true(grove_match(t, "[a, b | ~t]", &tail));
    s_assert_text(tail, "c");
    grove_term_destroy(&tail);
    assert_true(grove_match(t, "[a | ~t]", &tail));
    s_assert_text(tail, "[b|c]");
    grove_term_destroy(&tail);
    assert_false(grove_match(t, "[a, b]"));
    grove_term_destroy(&t);

    t = grove_pack("[]");
    assert_true(grove_match(t, "[]"));
    assert_false(grove_match(t, "[_ | _]"));
    grove_term_destroy(&t);
}

static void test_match_maps_by_subset_of_keys(void **state)
{
    (void)state;
    grove_term *t = grove_pack("#{name => <<\"bob\">>, age => 42, {k, 1} => [v]}");
    int age = 0;
    const void *name;
    size_t len;
    assert_true(grove_match(t, "#{age => ~i}", &age));
    assert_int_equal(age, 42);
    assert_true(grove_match(t, "#{name := ~b, {k, 1} := [v]}", &name, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(name, "bob", 3);
    assert_true(grove_match(t, "#{}"));
    assert_false(grove_match(t, "#{missing => _}"));
    assert_false(grove_match(t, "#{age => 43}"));
    grove_term_destroy(&t);
}

static void test_match_pattern_errors_are_mismatches(void **state)
{
    (void)state;
    grove_term *t = grove_pack("{a, 1}");
    assert_false(grove_match(t, "{a, ~z}"));
    assert_false(grove_match(t, "{a, 1"));
    assert_false(grove_match(t, "{a, 1} extra"));
    assert_false(grove_match(t, "#{~a => 1}", "a"));
    assert_false(grove_match(t, "Var"));
    grove_term_destroy(&t);
}

static void s_assert_same_as_text(grove_term *t, const char *text)
{
    grove_term *want = NULL;
    assert_int_equal(grove_term_parse(text, strlen(text), &want, NULL), GROVE_OK);
    assert_non_null(t);
    size_t n1, n2;
    const uint8_t *a = grove_term_bytes(t, &n1), *b = grove_term_bytes(want, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    grove_term_destroy(&t);
    grove_term_destroy(&want);
}

/* Formats are compiled once per thread; the compiled and general paths
 * must agree, and a format rewritten in place is compiled again. */
static void test_compiled_formats_agree_with_the_general_path(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) { /* first use compiles, then cached */
        s_assert_same_as_text(
            grove_pack("{a, ~i, [b, \"c\"], ~s, {~a, <<1>>}}", 300, "x", (size_t)1, "z"),
            "{a, 300, [b, \"c\"], \"x\", {z, <<1>>}}");
        /* Holes inside lists and maps take the general path. */
        s_assert_same_as_text(grove_pack("[~i, ~i]", 1, 2), "[1, 2]");
        s_assert_same_as_text(grove_pack("#{k => ~i, j => 1.5}", 7), "#{j => 1.5, k => 7}");
        s_assert_same_as_text(grove_pack("{~t, ~t}", grove_pack("[]"), grove_pack("x")), "{[], x}");
    }
    char fmt[32];
    strcpy(fmt, "{one, ~i}");
    s_assert_same_as_text(grove_pack(fmt, 1), "{one, 1}");
    strcpy(fmt, "{two, ~i, ~i}"); /* same address, new text */
    s_assert_same_as_text(grove_pack(fmt, 1, 2), "{two, 1, 2}");
    grove_term *t = grove_pack("{two, 1, 2}");
    int a = 0, b = 0;
    assert_true(grove_match(t, fmt, &a, &b));
    assert_int_equal(a + b, 3);
    strcpy(fmt, "{two, ~i}");
    assert_false(grove_match(t, fmt, &a));
    grove_term_destroy(&t);
    /* '_' is for patterns only, compiled or not. */
    assert_null(grove_pack("{a, _}"));
    /* A 0.0 literal matches -0.0, as in OTP 25 (the general path). */
    t = grove_pack("{x, -0.0}");
    assert_true(grove_match(t, "{x, 0.0}"));
    grove_term_destroy(&t);
}

/* ---- pids, references and integers: the bytes term_to_binary writes ---- */

typedef struct name_case {
    const char *name; /* UTF-8 */
    const char *atom; /* its atom as ETF: tag, length, text */
    size_t atom_len;
} name_case;

/* Short, word-sized and long ASCII names, a Latin-1 one (ATOM_EXT with
 * Latin-1 bytes) and one beyond Latin-1 (SMALL_ATOM_UTF8_EXT). */
static const name_case s_names[] = {
    {"a@h",
     "\x64\x00\x03"
     "a@h",
     6},
    {"ab@cd",
     "\x64\x00\x05"
     "ab@cd",
     8},
    {"ab@ce",
     "\x64\x00\x05"
     "ab@ce",
     8},
    {"cache@hostA",
     "\x64\x00\x0b"
     "cache@hostA",
     14},
    {"cache@hostB",
     "\x64\x00\x0b"
     "cache@hostB",
     14},
    {"nonode@nohost",
     "\x64\x00\x0d"
     "nonode@nohost",
     16},
    {"a_rather_long_node_name@some.host.example",
     "\x64\x00\x29"
     "a_rather_long_node_name@some.host.example",
     44},
    {"n\xc3\xb6"
     "de@h\xc3\xb8st",
     "\x64\x00\x09"
     "n\xf6"
     "de@h\xf8st",
     12},
    {"\xc4\x89"
     "efo@host",
     "\x77\x0a\xc4\x89"
     "efo@host",
     12},
};
#define NNAMES (sizeof s_names / sizeof s_names[0])

static grove_nodename s_intern(const char *name)
{
    grove_nodename n = 0;
    assert_int_equal(grove_nodename_intern(name, strlen(name), &n), GROVE_OK);
    return n;
}

static void test_pids_and_refs_pack_as_erlang_writes_them_and_match_back(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) { /* compiled, then cached, names cached */
        for (size_t i = 0; i < NNAMES; i++) {
            const name_case *c = &s_names[i];
            grove_pid pid = {s_intern(c->name), 85, 3, 1234 + (uint32_t)i};
            uint8_t want[128];
            size_t n = 0;
            memcpy(want, "\x83\x68\x02\x64\x00\x01p\x58", 8), n = 8;
            memcpy(want + n, c->atom, c->atom_len), n += c->atom_len;
            memcpy(want + n, "\x00\x00\x00\x55\x00\x00\x00\x03\x00\x00", 10), n += 10;
            want[n++] = (uint8_t)(pid.creation >> 8), want[n++] = (uint8_t)pid.creation;
            grove_term *t = grove_pack("{p, ~p}", pid);
            size_t len;
            const uint8_t *bytes = grove_term_bytes(t, &len);
            assert_int_equal(len, n);
            assert_memory_equal(bytes, want, n);
            /* The general path (a hole inside a list) writes the same pid. */
            grove_term *l = grove_pack("[~p]", pid);
            size_t llen;
            const uint8_t *lb = grove_term_bytes(l, &llen);
            assert_int_equal(llen, 1 + 5 + (n - 7) + 1); /* 131, LIST_EXT, the pid, NIL */
            assert_memory_equal(lb + 6, want + 7, n - 7);
            grove_term_destroy(&l);
            grove_pid back = {0};
            assert_true(grove_match(t, "{p, ~p}", &back));
            assert_true(grove_pid_equal(back, pid));
            grove_term_destroy(&t);

            grove_ref ref = {.node = pid.node, .creation = 7, .len = 3, .id = {1, 2, 3}};
            t = grove_pack("{~r, ~r}", ref, ref);
            grove_term *g = grove_pack("[~r, ~r]", ref, ref);
            grove_ref r1 = {0}, r2 = {0};
            assert_true(grove_match(t, "{~r, ~r}", &r1, &r2));
            assert_true(grove_ref_equal(&r1, &ref) && grove_ref_equal(&r2, &ref));
            assert_true(grove_match(g, "[~r, ~r]", &r1, &r2));
            assert_true(grove_ref_equal(&r1, &ref));
            grove_term_destroy(&t);
            grove_term_destroy(&g);
        }
    }
    /* A pid of no node is refused by both paths. */
    grove_pid none = {0, 1, 2, 3};
    assert_null(grove_pack("{p, ~p}", none));
    assert_null(grove_pack("[~p]", none));
}

static void test_pid_node_found_from_any_spelling_of_its_atom(void **state)
{
    (void)state;
    grove_nodename n = s_intern("nonode@nohost");
    /* The reader hands out the atom as it is in the term; a value spelled
     * as UTF-8 (not canonical for this name) still names the same node,
     * before and after the canonical spelling was seen. */
    grove_value v = {.type = GROVE_TYPE_PID};
    v.as.pid.node = "nonode@nohost";
    v.as.pid.node_len = 13;
    v.as.pid.id = 1, v.as.pid.serial = 2, v.as.pid.creation = 3;
    for (int i = 0; i < 2; i++) {
        v.as.pid.node_latin1 = i == 0;
        grove_pid out = {0};
        assert_int_equal(grove_value_pid(&v, &out), GROVE_OK);
        assert_int_equal(out.node, n);
    }
    v.as.pid.node = "n\xf6"
                    "de@h\xf8st"; /* Latin-1 bytes */
    v.as.pid.node_len = 9;
    v.as.pid.node_latin1 = true;
    grove_pid out = {0};
    assert_int_equal(grove_value_pid(&v, &out), GROVE_OK);
    assert_int_equal(out.node, s_intern("n\xc3\xb6"
                                        "de@h\xc3\xb8st"));
    v.as.pid.node_latin1 = false; /* the same bytes as UTF-8 are invalid */
    assert_int_not_equal(grove_value_pid(&v, &out), GROVE_OK);
}

/* Threads match pids of more names than a thread remembers, at once. */
#define MATCHERS 4

static void *s_matcher(void *arg)
{
    long *bad = arg;
    for (int round = 0; round < 2000; round++) {
        size_t i = (size_t)round * 7 % NNAMES;
        grove_nodename n = 0;
        grove_nodename_intern(s_names[i].name, strlen(s_names[i].name), &n);
        grove_pid pid = {n, (uint32_t)round, 1, 2}, back = {0};
        grove_term *t = grove_pack("{p, ~p}", pid);
        if (!grove_match(t, "{p, ~p}", &back) || !grove_pid_equal(back, pid))
            (*bad)++;
        grove_term_destroy(&t);
    }
    return NULL;
}

static void test_pids_match_back_from_many_threads_and_names(void **state)
{
    (void)state;
    pthread_t th[MATCHERS];
    long bad[MATCHERS] = {0};
    for (int i = 0; i < MATCHERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_matcher, &bad[i]), 0);
    for (int i = 0; i < MATCHERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(bad[i], 0);
    }
}

static void test_integers_pack_as_erlang_writes_them_at_every_boundary(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *text;
    } ls[] = {
        {0, "0"},
        {255, "255"},
        {256, "256"},
        {-1, "-1"},
        {-256, "-256"},
        {INT32_MAX, "2147483647"},
        {INT32_MIN, "-2147483648"},
        {(int64_t)INT32_MAX + 1, "2147483648"},
        {(int64_t)INT32_MIN - 1, "-2147483649"},
        {(int64_t)1 << 40, "1099511627776"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    char text[64];
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        snprintf(text, sizeof text, "{i, %s}", ls[i].text);
        s_assert_same_as_text(grove_pack("{i, ~l}", ls[i].v), text);
        if (ls[i].v >= INT32_MIN && ls[i].v <= INT32_MAX)
            s_assert_same_as_text(grove_pack("{i, ~i}", (int)ls[i].v), text);
        int64_t back = 0;
        grove_term *t = grove_pack("{i, ~l}", ls[i].v);
        assert_true(grove_match(t, "{i, ~l}", &back));
        assert_true(back == ls[i].v);
        grove_term_destroy(&t);
    }
    static const struct {
        uint64_t v;
        const char *text;
    } us[] = {
        {0, "0"},
        {255, "255"},
        {(uint64_t)INT64_MAX, "9223372036854775807"},
        {(uint64_t)INT64_MAX + 1, "9223372036854775808"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        snprintf(text, sizeof text, "{u, %s}", us[i].text);
        s_assert_same_as_text(grove_pack("{u, ~u}", us[i].v), text);
    }
    /* ~t nesting past the limit is refused (and the term still freed). */
    grove_term *deep = grove_pack("x");
    for (int i = 0; i < GROVE_TERM_MAX_DEPTH; i++)
        deep = grove_pack("{~t}", deep);
    assert_non_null(deep);
    assert_null(grove_pack("{~t}", deep));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_fills_every_placeholder),
        cmocka_unit_test(test_pack_builds_nested_and_empty_shapes),
        cmocka_unit_test(test_pack_refuses_bad_values_and_still_consumes_terms),
        cmocka_unit_test(test_match_captures_every_placeholder),
        cmocka_unit_test(test_failed_match_writes_no_capture),
        cmocka_unit_test(test_match_literals_are_exact),
        cmocka_unit_test(test_match_lists_with_tails),
        cmocka_unit_test(test_match_maps_by_subset_of_keys),
        cmocka_unit_test(test_match_pattern_errors_are_mismatches),
        cmocka_unit_test(test_compiled_formats_agree_with_the_general_path),
        cmocka_unit_test(test_pids_and_refs_pack_as_erlang_writes_them_and_match_back),
        cmocka_unit_test(test_pid_node_found_from_any_spelling_of_its_atom),
        cmocka_unit_test(test_pids_match_back_from_many_threads_and_names),
        cmocka_unit_test(test_integers_pack_as_erlang_writes_them_at_every_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
