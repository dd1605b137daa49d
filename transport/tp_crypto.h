/*
 * tp_crypto.h - the cluster's CURVE keys (docs/transport.md, "Keys").
 *
 * Two ways to key a cluster:
 *
 *  - A cluster secret (GROVE_COOKIE_FILE, or GROVE_COOKIE for demos) from
 *    which every node derives the same CURVE keypair. Every ROUTER serves
 *    with it, every DEALER proves it, and ZAP admits only that public key.
 *    A secret with at least 128 bits of entropy is hashed (BLAKE2b) into
 *    the keypair's seed; a weaker one is stretched with Argon2id
 *    (crypto_pwhash) first. What counts as strong:
 *      - a file holding bytes that are not printable text: 16 bytes or more;
 *      - text of 32 or more hex digits;
 *      - text of 22 or more base64 characters (either alphabet, '='
 *        padding aside) mixing upper case, lower case and digits.
 *    Text is trimmed of surrounding white space first. Anything else is
 *    weak. The rule only decides the cost of derivation: every node
 *    classifies the same secret the same way, so it always gets the same
 *    keys.
 *
 *  - Per-node keypairs (GROVE_NODE_KEY_FILE holds this node's secret key)
 *    and an allow-list file (GROVE_ALLOWLIST_FILE) naming every node and
 *    its public key. A ROUTER serves with its node's own key; a DEALER
 *    dials a peer with the key the allow-list gives for the peer's name;
 *    ZAP admits allow-listed keys only and sets the session's User-Id to
 *    the node name, which must equal the name in the peer's hello.
 *
 * A well-known demo secret (GV_TP_DEMO_COOKIE and a few common words) is
 * refused unless insecure operation is allowed; an insecure node without
 * any secret uses GV_TP_DEMO_COOKIE, so CURVE stays on but proves nothing.
 *
 * Threads: every function here may run on any thread; none blocks, except
 * that stretching a weak secret takes tens of milliseconds of CPU.
 */
#ifndef GV_TP_CRYPTO_H
#define GV_TP_CRYPTO_H

#include <grove/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GV_TP_KEY_BYTES 32
#define GV_TP_Z85_LEN 40 /* a key in Z85, without the NUL */

/* The demo secret: accepted only when insecure operation is allowed. */
#define GV_TP_DEMO_COOKIE "grove-demo-cookie"

/* Largest cookie or key file read (bytes). */
#define GV_TP_SECRET_FILE_MAX 4096
/* Largest allow-list file read (bytes). */
#define GV_TP_ALLOWLIST_FILE_MAX (1024 * 1024)

typedef struct gv_tp_allowlist gv_tp_allowlist;

typedef struct gv_tp_keys {
    bool node_keys; /* per-node keypairs with an allow-list */
    /* This node's keypair: the cluster keypair, or the node's own. */
    uint8_t public_key[GV_TP_KEY_BYTES];
    char public_z85[GV_TP_Z85_LEN + 1];
    char secret_z85[GV_TP_Z85_LEN + 1];
    gv_tp_allowlist *allow; /* node_keys: who may connect (owned) */
    bool demo;              /* derived from a well-known demo secret */
    bool stretched;         /* the secret was weak and stretched */
} gv_tp_keys;

/* How a secret is classified (see above). */
typedef enum gv_tp_secret_class {
    GV_TP_SECRET_WEAK = 0,
    GV_TP_SECRET_STRONG = 1,
} gv_tp_secret_class;

/* Classifies secret[0..len) (after trimming text). */
gv_tp_secret_class gv_tp_secret_classify(const void *secret, size_t len);

/* Derives the cluster keypair from secret[0..len) into *out (which the
 * caller later releases with gv_tp_keys_fini). GROVE_EINVAL for an empty
 * secret, GROVE_EPERM for a demo secret unless `insecure`; *why (which may
 * be NULL, why_len bytes) then tells why. */
grove_err gv_tp_keys_from_secret(gv_tp_keys *out, const void *secret, size_t len, bool insecure,
                                 char *why, size_t why_len);

/* Per-node keys: this node's secret key as Z85 text (40 characters,
 * surrounding white space ignored) and the allow-list's text. The node's
 * own name must be in the allow-list with the matching public key.
 * Takes nothing; *out owns a parsed copy of the allow-list. */
grove_err gv_tp_keys_for_node(gv_tp_keys *out, const char *node, const char *secret_z85,
                              size_t secret_len, const char *allow_text, size_t allow_len,
                              char *why, size_t why_len);

/* Reads the keys the environment names, in this order:
 * GROVE_NODE_KEY_FILE + GROVE_ALLOWLIST_FILE (both or neither),
 * GROVE_COOKIE_FILE, GROVE_COOKIE. With none of them: GROVE_EPERM,
 * unless `insecure`, which uses GV_TP_DEMO_COOKIE. `node` is this node's
 * name (needed for per-node keys). */
grove_err gv_tp_keys_from_env(gv_tp_keys *out, const char *node, bool insecure, char *why,
                              size_t why_len);

/* Wipes the secret and frees the allow-list. Safe to call twice. */
void gv_tp_keys_fini(gv_tp_keys *k);

/* A fresh random keypair in Z85 (for tests and key generation). */
void gv_tp_keygen(char public_z85[GV_TP_Z85_LEN + 1], char secret_z85[GV_TP_Z85_LEN + 1]);

/* ---- allow-list ------------------------------------------------------------

   The allow-list file, strictly (docs/transport.md):

     grove-allowlist 1
     # comment lines start with '#'; blank lines are ignored
     alpha@host1  <40-character Z85 public key>
     beta@host2   <40-character Z85 public key>

   The first line that is not blank or a comment is the header exactly
   "grove-allowlist 1". Each further line is a node name (name@host), one
   or more spaces or tabs, and a Z85 public key, with nothing after it but
   spaces or tabs. No name and no key may appear twice. Lines end with
   "\n" (a "\r" is an error); a line is at most 1024 bytes. */

/* Parses text; on failure returns GROVE_EINVAL and writes "line N: ..."
 * to *why. Caller owns *out (gv_tp_allowlist_destroy). */
grove_err gv_tp_allowlist_parse(const char *text, size_t len, gv_tp_allowlist **out, char *why,
                                size_t why_len);

void gv_tp_allowlist_destroy(gv_tp_allowlist **a);

size_t gv_tp_allowlist_count(const gv_tp_allowlist *a);

/* The node name of a public key, or NULL. The string lives as long as a. */
const char *gv_tp_allowlist_name_of(const gv_tp_allowlist *a, const uint8_t key[GV_TP_KEY_BYTES]);

/* The Z85 public key of a node name, or NULL. */
const char *gv_tp_allowlist_key_of(const gv_tp_allowlist *a, const char *node);

#endif
