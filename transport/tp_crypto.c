#include "transport/tp_crypto.h"

#include "base/gv_alloc.h"
#include "base/gv_log.h"
#include "base/gv_utf8.h"
#include "transport/tp_codec.h"

#include <sodium.h>
#include <zmq.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Domain separation: the same secret used elsewhere gives other bytes. */
static const char s_hash_key[] = "grove-cluster-key-v1";
static const char s_salt_text[] = "grove-cluster-salt-v1";

/* Argon2id cost for weak secrets: about 50-150 ms on a current core. */
#define PWHASH_OPSLIMIT 3u
#define PWHASH_MEMLIMIT (32u * 1024u * 1024u)

/* Secrets everyone knows: refused unless insecure. */
static const char *const s_demo_secrets[] = {
    GV_TP_DEMO_COOKIE, "grove", "cookie", "secret", "changeme", "password", "demo", "test",
};

struct gv_tp_allowlist {
    size_t n;
    struct allow_entry {
        char *name;
        uint8_t key[GV_TP_KEY_BYTES];
        char z85[GV_TP_Z85_LEN + 1];
    } * entries;
};

static void s_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_why(char *why, size_t len, const char *fmt, ...)
{
    if (!why || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static void s_sodium(void)
{
    /* Idempotent and thread-safe; fails only without a random source. */
    if (sodium_init() < 0)
        gv_panic("libsodium cannot start (no random source?)");
}

/* ---- classifying --------------------------------------------------------------- */

static bool s_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Text: valid UTF-8 with no control characters other than white space. */
static bool s_is_text(const uint8_t *s, size_t len)
{
    size_t chars;
    if (!gv_utf8_count(s, len, &chars))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((s[i] < 0x20 && !s_is_space(s[i])) || s[i] == 0x7f)
            return false;
    return true;
}

/* The secret's significant bytes: text is trimmed, binary kept whole. */
static void s_significant(const uint8_t *s, size_t len, const uint8_t **out, size_t *out_len,
                          bool *text)
{
    *text = s_is_text(s, len);
    if (*text) {
        while (len && s_is_space(s[0])) {
            s++;
            len--;
        }
        while (len && s_is_space(s[len - 1]))
            len--;
    }
    *out = s;
    *out_len = len;
}

static gv_tp_secret_class s_classify_significant(const uint8_t *s, size_t len, bool text)
{
    if (!text)
        return len >= 16 ? GV_TP_SECRET_STRONG : GV_TP_SECRET_WEAK;
    bool hex = true, b64 = true, upper = false, lower = false, digit = false;
    size_t pad = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (!isxdigit(c))
            hex = false;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad)
            b64 = false; /* '=' only at the end */
        if (isupper(c))
            upper = true;
        else if (islower(c))
            lower = true;
        else if (isdigit(c))
            digit = true;
        else if (c != '+' && c != '/' && c != '-' && c != '_')
            b64 = false;
    }
    if (hex && len >= 32)
        return GV_TP_SECRET_STRONG;
    if (b64 && pad <= 2 && len - pad >= 22 && upper && lower && digit)
        return GV_TP_SECRET_STRONG;
    return GV_TP_SECRET_WEAK;
}

gv_tp_secret_class gv_tp_secret_classify(const void *secret, size_t len)
{
    const uint8_t *s;
    size_t n;
    bool text;
    s_significant(secret, len, &s, &n, &text);
    return s_classify_significant(s, n, text);
}

static bool s_is_demo(const uint8_t *s, size_t len, bool text)
{
    if (!text)
        return false;
    for (size_t i = 0; i < sizeof s_demo_secrets / sizeof s_demo_secrets[0]; i++) {
        const char *d = s_demo_secrets[i];
        if (strlen(d) == len && strncasecmp(d, (const char *)s, len) == 0)
            return true;
    }
    return false;
}

/* ---- keys --------------------------------------------------------------------- */

static void s_set_keypair(gv_tp_keys *k, const uint8_t pk[GV_TP_KEY_BYTES],
                          const uint8_t sk[GV_TP_KEY_BYTES])
{
    memcpy(k->public_key, pk, GV_TP_KEY_BYTES);
    if (!zmq_z85_encode(k->public_z85, pk, GV_TP_KEY_BYTES) ||
        !zmq_z85_encode(k->secret_z85, sk, GV_TP_KEY_BYTES))
        gv_panic("zmq_z85_encode refused a 32-byte key");
}

grove_err gv_tp_keys_from_secret(gv_tp_keys *out, const void *secret, size_t len, bool insecure,
                                 char *why, size_t why_len)
{
    s_sodium();
    memset(out, 0, sizeof *out);
    const uint8_t *s;
    size_t n;
    bool text;
    s_significant(secret, len, &s, &n, &text);
    if (n == 0) {
        s_why(why, why_len, "the cluster secret is empty");
        return GROVE_EINVAL;
    }
    bool demo = s_is_demo(s, n, text);
    if (demo && !insecure) {
        s_why(why, why_len,
              "the cluster secret is a well-known demo secret; "
              "use a random one (32+ hex digits) or allow insecure operation");
        return GROVE_EPERM;
    }
    uint8_t seed[crypto_box_SEEDBYTES];
    gv_tp_secret_class cls = s_classify_significant(s, n, text);
    if (cls == GV_TP_SECRET_STRONG) {
        crypto_generichash(seed, sizeof seed, s, n, (const uint8_t *)s_hash_key,
                           sizeof s_hash_key - 1);
    } else {
        uint8_t salt[crypto_pwhash_SALTBYTES];
        uint8_t stretched[32];
        crypto_generichash(salt, sizeof salt, (const uint8_t *)s_salt_text, sizeof s_salt_text - 1,
                           NULL, 0);
        if (crypto_pwhash(stretched, sizeof stretched, (const char *)s, n, salt, PWHASH_OPSLIMIT,
                          PWHASH_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0) {
            s_why(why, why_len, "crypto_pwhash failed (out of memory?)");
            return GROVE_EIO;
        }
        crypto_generichash(seed, sizeof seed, stretched, sizeof stretched,
                           (const uint8_t *)s_hash_key, sizeof s_hash_key - 1);
        sodium_memzero(stretched, sizeof stretched);
        out->stretched = true;
    }
    uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_seed_keypair(pk, sk, seed);
    s_set_keypair(out, pk, sk);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    out->demo = demo;
    return GROVE_OK;
}

static bool s_z85_key(const char *text, size_t len, uint8_t key[GV_TP_KEY_BYTES])
{
    char buf[GV_TP_Z85_LEN + 1];
    if (len != GV_TP_Z85_LEN)
        return false;
    memcpy(buf, text, len);
    buf[len] = 0;
    return zmq_z85_decode(key, buf) != NULL;
}

grove_err gv_tp_keys_for_node(gv_tp_keys *out, const char *node, const char *secret_z85,
                              size_t secret_len, const char *allow_text, size_t allow_len,
                              char *why, size_t why_len)
{
    s_sodium();
    memset(out, 0, sizeof *out);
    const uint8_t *s;
    size_t n;
    bool text;
    s_significant((const uint8_t *)secret_z85, secret_len, &s, &n, &text);
    uint8_t sk[GV_TP_KEY_BYTES], pk[GV_TP_KEY_BYTES];
    if (!text || !s_z85_key((const char *)s, n, sk)) {
        s_why(why, why_len, "the node key is not a 40-character Z85 secret key");
        return GROVE_EINVAL;
    }
    crypto_scalarmult_base(pk, sk);
    gv_tp_allowlist *allow = NULL;
    grove_err rc = gv_tp_allowlist_parse(allow_text, allow_len, &allow, why, why_len);
    if (rc != GROVE_OK) {
        sodium_memzero(sk, sizeof sk);
        return rc;
    }
    const char *listed = gv_tp_allowlist_name_of(allow, pk);
    if (!listed || strcmp(listed, node) != 0) {
        s_why(why, why_len, "the allow-list does not give node %s this node key's public key",
              node);
        gv_tp_allowlist_destroy(&allow);
        sodium_memzero(sk, sizeof sk);
        return GROVE_EINVAL;
    }
    s_set_keypair(out, pk, sk);
    sodium_memzero(sk, sizeof sk);
    out->node_keys = true;
    out->allow = allow;
    return GROVE_OK;
}

void gv_tp_keys_fini(gv_tp_keys *k)
{
    if (!k)
        return;
    gv_tp_allowlist_destroy(&k->allow);
    sodium_memzero(k->secret_z85, sizeof k->secret_z85);
    k->node_keys = false;
}

void gv_tp_keygen(char public_z85[GV_TP_Z85_LEN + 1], char secret_z85[GV_TP_Z85_LEN + 1])
{
    s_sodium();
    uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(pk, sk);
    if (!zmq_z85_encode(public_z85, pk, sizeof pk) || !zmq_z85_encode(secret_z85, sk, sizeof sk))
        gv_panic("zmq_z85_encode refused a 32-byte key");
    sodium_memzero(sk, sizeof sk);
}

/* ---- files and the environment ---------------------------------------------------- */

/* Reads a whole file of at most max bytes. Caller frees *out. */
static grove_err s_read_file(const char *path, size_t max, char **out, size_t *len, bool secret,
                             char *why, size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        s_why(why, why_len, "cannot open %s", path);
        return GROVE_EIO;
    }
    struct stat st;
    if (secret && fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
        gv_log(GV_LOG_WARN, "transport", "secret_file_readable", "path=%s mode=%03o", path,
               (unsigned)(st.st_mode & 0777));
    char *buf = gv_malloc(max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        s_why(why, why_len, "cannot read %s", path);
        sodium_memzero(buf, max + 1);
        gv_free(buf);
        return GROVE_EIO;
    }
    if (n > max) {
        s_why(why, why_len, "%s is larger than %zu bytes", path, max);
        sodium_memzero(buf, max + 1);
        gv_free(buf);
        return GROVE_EINVAL;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return GROVE_OK;
}

static void s_free_secret(char *buf, size_t len)
{
    if (buf) {
        sodium_memzero(buf, len);
        gv_free(buf);
    }
}

grove_err gv_tp_keys_from_env(gv_tp_keys *out, const char *node, bool insecure, char *why,
                              size_t why_len)
{
    memset(out, 0, sizeof *out);
    const char *key_file = getenv("GROVE_NODE_KEY_FILE");
    const char *allow_file = getenv("GROVE_ALLOWLIST_FILE");
    const char *cookie_file = getenv("GROVE_COOKIE_FILE");
    const char *cookie = getenv("GROVE_COOKIE");
    if (key_file && !*key_file)
        key_file = NULL;
    if (allow_file && !*allow_file)
        allow_file = NULL;
    if (cookie_file && !*cookie_file)
        cookie_file = NULL;
    if (cookie && !*cookie)
        cookie = NULL;

    if (key_file || allow_file) {
        if (!key_file || !allow_file) {
            s_why(why, why_len, "GROVE_NODE_KEY_FILE and GROVE_ALLOWLIST_FILE go together");
            return GROVE_EINVAL;
        }
        char *sk = NULL, *allow = NULL;
        size_t sk_len = 0, allow_len = 0;
        grove_err rc =
            s_read_file(key_file, GV_TP_SECRET_FILE_MAX, &sk, &sk_len, true, why, why_len);
        if (rc == GROVE_OK)
            rc = s_read_file(allow_file, GV_TP_ALLOWLIST_FILE_MAX, &allow, &allow_len, false, why,
                             why_len);
        if (rc == GROVE_OK)
            rc = gv_tp_keys_for_node(out, node, sk, sk_len, allow, allow_len, why, why_len);
        s_free_secret(sk, sk_len);
        gv_free(allow);
        return rc;
    }
    if (cookie_file) {
        char *buf = NULL;
        size_t len = 0;
        grove_err rc =
            s_read_file(cookie_file, GV_TP_SECRET_FILE_MAX, &buf, &len, true, why, why_len);
        if (rc == GROVE_OK)
            rc = gv_tp_keys_from_secret(out, buf, len, insecure, why, why_len);
        s_free_secret(buf, len);
        return rc;
    }
    if (cookie)
        return gv_tp_keys_from_secret(out, cookie, strlen(cookie), insecure, why, why_len);
    if (insecure) {
        gv_log(GV_LOG_WARN, "transport", "insecure_demo_secret",
               "reason=\"no GROVE_COOKIE_FILE or GROVE_COOKIE\"");
        return gv_tp_keys_from_secret(out, GV_TP_DEMO_COOKIE, strlen(GV_TP_DEMO_COOKIE), true, why,
                                      why_len);
    }
    s_why(why, why_len,
          "a node that listens needs a cluster secret: set GROVE_COOKIE_FILE (or GROVE_COOKIE), "
          "or allow insecure operation");
    return GROVE_EPERM;
}

/* ---- allow-list ------------------------------------------------------------------ */

#define ALLOW_LINE_MAX 1024
static const char s_allow_header[] = "grove-allowlist 1";

void gv_tp_allowlist_destroy(gv_tp_allowlist **a)
{
    if (!a || !*a)
        return;
    for (size_t i = 0; i < (*a)->n; i++)
        gv_free((*a)->entries[i].name);
    gv_free((*a)->entries);
    gv_free(*a);
    *a = NULL;
}

size_t gv_tp_allowlist_count(const gv_tp_allowlist *a)
{
    return a ? a->n : 0;
}

const char *gv_tp_allowlist_name_of(const gv_tp_allowlist *a, const uint8_t key[GV_TP_KEY_BYTES])
{
    if (!a)
        return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (sodium_memcmp(a->entries[i].key, key, GV_TP_KEY_BYTES) == 0)
            return a->entries[i].name;
    return NULL;
}

const char *gv_tp_allowlist_key_of(const gv_tp_allowlist *a, const char *node)
{
    if (!a || !node)
        return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->entries[i].name, node) == 0)
            return a->entries[i].z85;
    return NULL;
}

static bool s_blank(char c)
{
    return c == ' ' || c == '\t';
}

grove_err gv_tp_allowlist_parse(const char *text, size_t len, gv_tp_allowlist **out, char *why,
                                size_t why_len)
{
    gv_tp_allowlist *a = gv_calloc(1, sizeof *a);
    size_t cap = 0;
    bool header = false;
    size_t lineno = 0;
    size_t pos = 0;
    grove_err rc = GROVE_OK;
    if (!text)
        len = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > ALLOW_LINE_MAX) {
            s_why(why, why_len, "line %zu: longer than %d bytes", lineno, ALLOW_LINE_MAX);
            rc = GROVE_EINVAL;
            break;
        }
        if (memchr(line, '\r', n) || memchr(line, '\0', n)) {
            s_why(why, why_len, "line %zu: carriage return or NUL byte", lineno);
            rc = GROVE_EINVAL;
            break;
        }
        size_t i = 0;
        while (i < n && s_blank(line[i]))
            i++;
        if (i == n || line[i] == '#')
            continue;
        if (i != 0) {
            s_why(why, why_len, "line %zu: leading white space", lineno);
            rc = GROVE_EINVAL;
            break;
        }
        size_t end = n;
        while (end > 0 && s_blank(line[end - 1]))
            end--;
        if (!header) {
            if (end != sizeof s_allow_header - 1 || memcmp(line, s_allow_header, end) != 0) {
                s_why(why, why_len, "line %zu: expected the header \"%s\"", lineno, s_allow_header);
                rc = GROVE_EINVAL;
                break;
            }
            header = true;
            continue;
        }
        size_t name_end = 0;
        while (name_end < end && !s_blank(line[name_end]))
            name_end++;
        size_t key_start = name_end;
        while (key_start < end && s_blank(line[key_start]))
            key_start++;
        if (key_start == name_end || key_start == end) {
            s_why(why, why_len, "line %zu: expected \"<node name> <public key>\"", lineno);
            rc = GROVE_EINVAL;
            break;
        }
        size_t key_end = key_start;
        while (key_end < end && !s_blank(line[key_end]))
            key_end++;
        if (key_end != end) {
            s_why(why, why_len, "line %zu: text after the key", lineno);
            rc = GROVE_EINVAL;
            break;
        }
        if (!gv_tp_valid_node_name(line, name_end)) {
            s_why(why, why_len, "line %zu: \"%.*s\" is not a node name (name@host)", lineno,
                  (int)(name_end > 64 ? 64 : name_end), line);
            rc = GROVE_EINVAL;
            break;
        }
        uint8_t key[GV_TP_KEY_BYTES];
        if (!s_z85_key(line + key_start, key_end - key_start, key)) {
            s_why(why, why_len, "line %zu: the key is not 40 characters of Z85", lineno);
            rc = GROVE_EINVAL;
            break;
        }
        char *name = gv_strndup(line, name_end);
        if (gv_tp_allowlist_key_of(a, name)) {
            s_why(why, why_len, "line %zu: node %s is listed twice", lineno, name);
            gv_free(name);
            rc = GROVE_EINVAL;
            break;
        }
        if (gv_tp_allowlist_name_of(a, key)) {
            s_why(why, why_len, "line %zu: the key of %s is also %s's", lineno, name,
                  gv_tp_allowlist_name_of(a, key));
            gv_free(name);
            rc = GROVE_EINVAL;
            break;
        }
        if (a->n == cap) {
            cap = cap ? cap * 2 : 8;
            a->entries = gv_realloc(a->entries, cap * sizeof *a->entries);
        }
        struct allow_entry *e = &a->entries[a->n++];
        e->name = name;
        memcpy(e->key, key, sizeof key);
        memcpy(e->z85, line + key_start, GV_TP_Z85_LEN);
        e->z85[GV_TP_Z85_LEN] = 0;
    }
    if (rc == GROVE_OK && !header) {
        s_why(why, why_len, "no header \"%s\"", s_allow_header);
        rc = GROVE_EINVAL;
    }
    if (rc == GROVE_OK && a->n == 0) {
        s_why(why, why_len, "the allow-list names no node");
        rc = GROVE_EINVAL;
    }
    if (rc != GROVE_OK) {
        gv_tp_allowlist_destroy(&a);
        return rc;
    }
    *out = a;
    return GROVE_OK;
}
