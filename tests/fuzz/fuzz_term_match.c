/*
 * fuzz_term_match.c - grove_match with a fuzzed pattern against a fixed
 * set of terms.
 *
 * Properties: matching never crashes; a mismatch (or a malformed pattern)
 * returns false and writes through no capture; a match fills ~t captures
 * with valid terms (the caller owns them) and ~s/~b captures with pointers
 * into the matched term.
 *
 * Placeholders read arguments, so the harness reads the pattern's
 * placeholders first and passes one capture per placeholder, of the right
 * shape, each pointing into a scratch area filled with a known byte. To
 * keep that reading unambiguous it skips patterns holding a '~' together
 * with a quote, '$' or '%' (a '~' inside an atom, string, character or
 * comment is no placeholder). Every argument travels as a pointer-sized
 * value, also the size of ~a: on the LP64 targets Grove supports, size_t
 * and pointers are passed alike.
 * Seeds: tests/fuzz/corpus/fuzz_term_match/.
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HOLES 12
#define MAX_ARGS (2 * MAX_HOLES)
#define ZONE 128
#define ATOM_BUF 64
#define FILL 0xA5

static const char *const s_texts[] = {
    "{deposit, 50}",
    "{ok, [1, -2, 2.5, <<\"bin\">>, \"str\", 'Quoted atom', #{a => 1}]}",
    "[1, 2, 3]",
    "[a | b]",
    "#{a => 1, b => {x, y}, 1 => [], <<\"k\">> => 2.5, 2.0 => z}",
    "#Pid<node@host.85.0.1234>",
    "#Ref<node@host.1.2.3.1234>",
    "18446744073709551616",
    "-5",
    "'caf\xC3\xA9'",
    "'\xD0\xBF\xD1\x80\xD0\xB8'",
    "<<>>",
    "[]",
    "{}",
    "#{}",
    "\"hello\"",
    "{'$gen_call', {#Pid<a@h.1.2.3>, [alias | #Ref<a@h.1.2.3.4>]}, {get, key}}",
    "1.5",
    "{a, {b, {c, {d}}}}",
    "[{k, v}, {k2, v2}]",
    "{'EXIT', #Pid<'a@127.0.0.1'.7.0.1>, {badarg, [{m, f, 2, []}]}}",
    "9223372036854775807",
    "-9223372036854775809",
};
#define NTERMS (sizeof s_texts / sizeof s_texts[0])

static grove_term *s_terms[NTERMS];

static void s_init(void)
{
    static bool done;
    if (done) {
        return;
    }
    for (size_t i = 0; i < NTERMS; i++) {
        grove_term_error err;
        grove_err rc = grove_term_parse(s_texts[i], strlen(s_texts[i]), &s_terms[i], &err);
        FUZZ_CHECK(rc == GROVE_OK, "the fixed term %s does not parse: %s", s_texts[i], err.message);
    }
    done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_init();
    if (size > 4096) {
        return 0;
    }
    char *pat = malloc(size + 1);
    FUZZ_CHECK(pat != NULL, "out of memory");
    memcpy(pat, data, size);
    pat[size] = 0;

    /* The placeholders, in order (the pattern ends at a NUL). */
    char holes[MAX_HOLES];
    size_t nholes = 0;
    bool tilde = false, ambiguous = false;
    for (size_t i = 0; pat[i]; i++) {
        char c = pat[i];
        if (c == '\'' || c == '"' || c == '$' || c == '%') {
            ambiguous = true;
        }
        if (c == '~') {
            tilde = true;
            if (nholes == MAX_HOLES) {
                free(pat);
                return 0;
            }
            holes[nholes++] = pat[i + 1];
        }
    }
    if (tilde && ambiguous) {
        free(pat);
        return 0;
    }

    static uint8_t scratch[MAX_ARGS][ZONE] __attribute__((aligned(16)));
    void *args[MAX_ARGS];
    char kind[MAX_ARGS]; /* the placeholder each argument belongs to; 'n' for a size */
    size_t nargs = 0;
    for (size_t h = 0; h < nholes; h++) {
        kind[nargs] = holes[h];
        args[nargs] = scratch[nargs];
        nargs++;
        if (holes[h] == 'a') {
            kind[nargs] = 'n';
            args[nargs] = (void *)(uintptr_t)ATOM_BUF;
            nargs++;
        } else if (holes[h] == 's' || holes[h] == 'b') {
            kind[nargs] = 'z';
            args[nargs] = scratch[nargs];
            nargs++;
        }
    }
    for (size_t i = nargs; i < MAX_ARGS; i++) {
        kind[i] = 0;
        args[i] = scratch[i];
    }

    FUZZ_CHECK(!grove_match(NULL, pat, args[0], args[1], args[2], args[3]), "a NULL term matched");

    for (size_t k = 0; k < NTERMS; k++) {
        memset(scratch, FILL, sizeof scratch);
        bool ok = grove_match(s_terms[k], pat, args[0], args[1], args[2], args[3], args[4], args[5],
                              args[6], args[7], args[8], args[9], args[10], args[11], args[12],
                              args[13], args[14], args[15], args[16], args[17], args[18], args[19],
                              args[20], args[21], args[22], args[23]);
        if (!ok) {
            for (size_t i = 0; i < MAX_ARGS; i++) {
                for (size_t j = 0; j < ZONE; j++) {
                    FUZZ_CHECK(scratch[i][j] == FILL,
                               "a failed match wrote through capture %zu (pattern %.200s, "
                               "term %s)",
                               i, pat, s_texts[k]);
                }
            }
            continue;
        }
        size_t tlen;
        const uint8_t *tb = grove_term_bytes(s_terms[k], &tlen);
        for (size_t i = 0; i < nargs; i++) {
            if (kind[i] == 't') {
                grove_term *cap;
                memcpy(&cap, scratch[i], sizeof cap);
                FUZZ_CHECK(cap != NULL, "~t captured NULL (pattern %.200s)", pat);
                fuzz_check_term(cap);
                grove_term_destroy(&cap);
            } else if (kind[i] == 's' || kind[i] == 'b') {
                const uint8_t *p;
                size_t n;
                memcpy(&p, scratch[i], sizeof p);
                memcpy(&n, scratch[i + 1], sizeof n);
                FUZZ_CHECK(n == 0 || (p >= tb && p + n <= tb + tlen),
                           "~%c points outside the matched term (pattern %.200s)", kind[i], pat);
            } else if (kind[i] == 'a') {
                FUZZ_CHECK(memchr(scratch[i], 0, ATOM_BUF) != NULL,
                           "~a filled a buffer of %d without a NUL (pattern %.200s)", ATOM_BUF,
                           pat);
            }
        }
    }
    free(pat);
    return 0;
}
