/*
 * crypto_test.c - cluster keys from secrets, per-node keys, allow-lists
 * (transport/tp_crypto.h).
 */
#include "base/gv_clock.h"
#include "transport/tp_crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const char s_strong_hex[] = "9f1c2b7e4a6d8c0f1e3a5b7c9d2e4f6a"; /* 32 hex digits */
static const char s_strong_b64[] = "q3Vx9LmZ2pT8rK1wYb6NcA==";         /* 16 bytes */
static const char s_weak[] = "correct horse battery staple";

static void s_derive(const char *secret, bool insecure, gv_tp_keys *k)
{
    char why[200] = "";
    grove_err rc = gv_tp_keys_from_secret(k, secret, strlen(secret), insecure, why, sizeof why);
    if (rc != GROVE_OK)
        fail_msg("derivation failed: %s", why);
}

static void test_secrets_are_classified_by_entropy(void **state)
{
    (void)state;
    assert_int_equal(gv_tp_secret_classify(s_strong_hex, strlen(s_strong_hex)),
                     GV_TP_SECRET_STRONG);
    assert_int_equal(gv_tp_secret_classify(s_strong_b64, strlen(s_strong_b64)),
                     GV_TP_SECRET_STRONG);
    /* white space around text does not count */
    assert_int_equal(gv_tp_secret_classify("  9f1c2b7e4a6d8c0f1e3a5b7c9d2e4f6a\n", 35),
                     GV_TP_SECRET_STRONG);
    /* 31 hex digits: weak */
    assert_int_equal(gv_tp_secret_classify(s_strong_hex, 31), GV_TP_SECRET_WEAK);
    /* a long phrase of letters only is not base64 with mixed classes */
    assert_int_equal(gv_tp_secret_classify(s_weak, strlen(s_weak)), GV_TP_SECRET_WEAK);
    assert_int_equal(gv_tp_secret_classify("abcdefghijklmnopqrstuvwxyz", 26), GV_TP_SECRET_WEAK);
    /* binary: 16 random bytes are strong, 15 are not */
    uint8_t bin[16] = {0x00, 0xff, 0x13, 0x80, 0x7f, 0x01, 0xfe, 0x22,
                       0x90, 0x05, 0xc3, 0x28, 0xaa, 0x00, 0x11, 0xe0};
    assert_int_equal(gv_tp_secret_classify(bin, 16), GV_TP_SECRET_STRONG);
    assert_int_equal(gv_tp_secret_classify(bin, 15), GV_TP_SECRET_WEAK);
    /* a UTF-8 passphrase is text, not binary */
    const char *utf8 = "pässwörd-pässwörd-pässwörd";
    assert_int_equal(gv_tp_secret_classify(utf8, strlen(utf8)), GV_TP_SECRET_WEAK);
}

static void test_derivation_is_deterministic_and_secret_specific(void **state)
{
    (void)state;
    gv_tp_keys a, b, c;
    s_derive(s_strong_hex, false, &a);
    s_derive(s_strong_hex, false, &b);
    assert_string_equal(a.public_z85, b.public_z85);
    assert_string_equal(a.secret_z85, b.secret_z85);
    assert_int_equal(strlen(a.public_z85), GV_TP_Z85_LEN);
    assert_false(a.stretched);
    assert_false(a.demo);
    /* trailing newline of a cookie file changes nothing */
    char with_nl[64];
    snprintf(with_nl, sizeof with_nl, "%s\n", s_strong_hex);
    s_derive(with_nl, false, &c);
    assert_string_equal(a.public_z85, c.public_z85);
    gv_tp_keys_fini(&c);
    /* one character more: other keys */
    char other[64];
    snprintf(other, sizeof other, "%sa", s_strong_hex);
    s_derive(other, false, &c);
    assert_string_not_equal(a.public_z85, c.public_z85);
    gv_tp_keys_fini(&a);
    gv_tp_keys_fini(&b);
    gv_tp_keys_fini(&c);
}

static void test_weak_secret_is_stretched_deterministically_and_quickly(void **state)
{
    (void)state;
    gv_tp_keys a, b;
    uint64_t t0 = gv_now_ms();
    s_derive(s_weak, false, &a);
    uint64_t took = gv_now_ms() - t0;
    s_derive(s_weak, false, &b);
    assert_true(a.stretched);
    assert_string_equal(a.public_z85, b.public_z85);
    /* "well under a second" is the design; 10x generous for sanitizers */
    assert_true(took < 10000);
    gv_tp_keys_fini(&a);
    gv_tp_keys_fini(&b);
}

static void test_demo_and_empty_secrets_are_refused_unless_insecure(void **state)
{
    (void)state;
    gv_tp_keys k;
    char why[200] = "";
    assert_int_equal(gv_tp_keys_from_secret(&k, GV_TP_DEMO_COOKIE, strlen(GV_TP_DEMO_COOKIE), false,
                                            why, sizeof why),
                     GROVE_EPERM);
    assert_non_null(strstr(why, "demo"));
    assert_int_equal(gv_tp_keys_from_secret(&k, " Secret\n", 8, false, why, sizeof why),
                     GROVE_EPERM);
    assert_int_equal(gv_tp_keys_from_secret(&k, " \n", 2, true, why, sizeof why), GROVE_EINVAL);
    s_derive(GV_TP_DEMO_COOKIE, true, &k);
    assert_true(k.demo);
    gv_tp_keys_fini(&k);
}

static char s_tmpdir[64];

static int s_setup_dir(void **state)
{
    (void)state;
    snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/grove-crypto-XXXXXX");
    return mkdtemp(s_tmpdir) ? 0 : -1;
}

static int s_teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void s_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void s_clear_env(void)
{
    unsetenv("GROVE_COOKIE");
    unsetenv("GROVE_COOKIE_FILE");
    unsetenv("GROVE_NODE_KEY_FILE");
    unsetenv("GROVE_ALLOWLIST_FILE");
}

static void test_environment_cookie_file_wins_over_cookie(void **state)
{
    (void)state;
    s_clear_env();
    char why[256] = "";
    gv_tp_keys k, direct;
    assert_int_equal(gv_tp_keys_from_env(&k, "a@b", false, why, sizeof why), GROVE_EPERM);
    assert_non_null(strstr(why, "GROVE_COOKIE_FILE"));
    assert_int_equal(gv_tp_keys_from_env(&k, "a@b", true, why, sizeof why), GROVE_OK);
    assert_true(k.demo);
    gv_tp_keys_fini(&k);

    setenv("GROVE_COOKIE", s_strong_b64, 1);
    assert_int_equal(gv_tp_keys_from_env(&k, "a@b", false, why, sizeof why), GROVE_OK);
    s_derive(s_strong_b64, false, &direct);
    assert_string_equal(k.public_z85, direct.public_z85);
    gv_tp_keys_fini(&k);
    gv_tp_keys_fini(&direct);

    char path[128];
    snprintf(path, sizeof path, "%s/cookie", s_tmpdir);
    uint8_t bin[32];
    for (int i = 0; i < 32; i++)
        bin[i] = (uint8_t)(i * 37 + 11);
    s_write(path, bin, sizeof bin);
    setenv("GROVE_COOKIE_FILE", path, 1);
    assert_int_equal(gv_tp_keys_from_env(&k, "a@b", false, why, sizeof why), GROVE_OK);
    assert_false(k.stretched);
    assert_int_equal(gv_tp_keys_from_secret(&direct, bin, sizeof bin, false, NULL, 0), GROVE_OK);
    assert_string_equal(k.public_z85, direct.public_z85);
    gv_tp_keys_fini(&k);
    gv_tp_keys_fini(&direct);

    setenv("GROVE_COOKIE_FILE", "/nonexistent/grove/cookie", 1);
    assert_int_equal(gv_tp_keys_from_env(&k, "a@b", false, why, sizeof why), GROVE_EIO);
    s_clear_env();
}

static void s_allow_text(char *out, size_t cap, const char *a_key, const char *b_key)
{
    snprintf(out, cap,
             "# cluster allow-list\n"
             "\n"
             "grove-allowlist 1\n"
             "alpha@host1\t%s\n"
             "   # indented comment\n"
             "beta@host2   %s  \n",
             a_key, b_key);
}

static void test_allowlist_parses_strictly(void **state)
{
    (void)state;
    char pa[41], sa[41], pb[41], sb[41];
    gv_tp_keygen(pa, sa);
    gv_tp_keygen(pb, sb);
    char text[1024];
    s_allow_text(text, sizeof text, pa, pb);
    gv_tp_allowlist *a = NULL;
    char why[200] = "";
    if (gv_tp_allowlist_parse(text, strlen(text), &a, why, sizeof why) != GROVE_OK)
        fail_msg("%s", why);
    assert_int_equal(gv_tp_allowlist_count(a), 2);
    assert_string_equal(gv_tp_allowlist_key_of(a, "alpha@host1"), pa);
    assert_string_equal(gv_tp_allowlist_key_of(a, "beta@host2"), pb);
    assert_null(gv_tp_allowlist_key_of(a, "gamma@host3"));
    gv_tp_allowlist_destroy(&a);
    assert_null(a);

    struct {
        const char *text;
        const char *needle;
    } bad[] = {
        {"alpha@host1 %s\n", "header"},
        {"grove-allowlist 2\nalpha@host1 %s\n", "header"},
        {"grove-allowlist 1\n", "names no node"},
        {"grove-allowlist 1\nalpha %s\n", "line 2"},
        {"grove-allowlist 1\nalpha@host1\n", "line 2"},
        {"grove-allowlist 1\nalpha@host1 %s extra\n", "after the key"},
        {"grove-allowlist 1\nalpha@host1 %s\r\n", "carriage return"},
        {"grove-allowlist 1\n alpha@host1 %s\n", "leading white space"},
        {"grove-allowlist 1\nalpha@host1 abcdefghij\n", "Z85"},
        {"grove-allowlist 1\nalpha@host1 %s\nalpha@host1 %s\n", "listed twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[1024];
        snprintf(t, sizeof t, bad[i].text, pa, pb);
        why[0] = 0;
        assert_int_equal(gv_tp_allowlist_parse(t, strlen(t), &a, why, sizeof why), GROVE_EINVAL);
        if (!strstr(why, bad[i].needle))
            fail_msg("case %zu: '%s' does not mention '%s'", i, why, bad[i].needle);
        assert_null(a);
    }
    /* the same key under two names */
    snprintf(text, sizeof text, "grove-allowlist 1\nalpha@h %s\nbeta@h %s\n", pa, pa);
    assert_int_equal(gv_tp_allowlist_parse(text, strlen(text), &a, why, sizeof why), GROVE_EINVAL);
    assert_non_null(strstr(why, "line 3"));
    /* a line over the limit */
    char *huge = malloc(3000);
    memset(huge, 'x', 3000);
    memcpy(huge, "grove-allowlist 1\n", 18);
    assert_int_equal(gv_tp_allowlist_parse(huge, 3000, &a, why, sizeof why), GROVE_EINVAL);
    assert_non_null(strstr(why, "longer"));
    free(huge);
}

static void test_node_keys_need_their_own_entry(void **state)
{
    (void)state;
    char pa[41], sa[41], pb[41], sb[41];
    gv_tp_keygen(pa, sa);
    gv_tp_keygen(pb, sb);
    char text[1024], why[200] = "";
    s_allow_text(text, sizeof text, pa, pb);
    gv_tp_keys k;
    assert_int_equal(
        gv_tp_keys_for_node(&k, "alpha@host1", sa, strlen(sa), text, strlen(text), why, sizeof why),
        GROVE_OK);
    assert_true(k.node_keys);
    assert_string_equal(k.public_z85, pa);
    assert_string_equal(k.secret_z85, sa);
    assert_string_equal(gv_tp_allowlist_name_of(k.allow, k.public_key), "alpha@host1");
    gv_tp_keys_fini(&k);
    assert_null(k.allow);
    /* alpha's key does not make beta */
    assert_int_equal(
        gv_tp_keys_for_node(&k, "beta@host2", sa, strlen(sa), text, strlen(text), why, sizeof why),
        GROVE_EINVAL);
    assert_non_null(strstr(why, "beta@host2"));
    /* a key that is not Z85 */
    assert_int_equal(
        gv_tp_keys_for_node(&k, "alpha@host1", "nope", 4, text, strlen(text), why, sizeof why),
        GROVE_EINVAL);

    /* through the environment */
    char kpath[128], apath[128];
    snprintf(kpath, sizeof kpath, "%s/node.key", s_tmpdir);
    snprintf(apath, sizeof apath, "%s/allow", s_tmpdir);
    char line[64];
    snprintf(line, sizeof line, "%s\n", sb);
    s_write(kpath, line, strlen(line));
    s_write(apath, text, strlen(text));
    s_clear_env();
    setenv("GROVE_NODE_KEY_FILE", kpath, 1);
    assert_int_equal(gv_tp_keys_from_env(&k, "beta@host2", false, why, sizeof why),
                     GROVE_EINVAL); /* without the allow-list */
    setenv("GROVE_ALLOWLIST_FILE", apath, 1);
    setenv("GROVE_COOKIE", s_strong_hex, 1); /* node keys take precedence */
    if (gv_tp_keys_from_env(&k, "beta@host2", false, why, sizeof why) != GROVE_OK)
        fail_msg("%s", why);
    assert_true(k.node_keys);
    assert_string_equal(k.public_z85, pb);
    gv_tp_keys_fini(&k);
    s_clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_are_classified_by_entropy),
        cmocka_unit_test(test_derivation_is_deterministic_and_secret_specific),
        cmocka_unit_test(test_weak_secret_is_stretched_deterministically_and_quickly),
        cmocka_unit_test(test_demo_and_empty_secrets_are_refused_unless_insecure),
        cmocka_unit_test(test_environment_cookie_file_wins_over_cookie),
        cmocka_unit_test(test_allowlist_parses_strictly),
        cmocka_unit_test(test_node_keys_need_their_own_entry),
    };
    return cmocka_run_group_tests(tests, s_setup_dir, s_teardown_dir);
}
