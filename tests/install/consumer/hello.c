/* A user's first program against an installed Grove: build a term, match
 * it, print it, and name an error. Its output is compared with
 * tests/install/expected.txt. */
#include <grove/err.h>
#include <grove/term.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    grove_term *t = grove_pack("{deposit, ~i}", 50);
    int64_t amount = 0;
    if (!t || !grove_match(t, "{deposit, ~l}", &amount)) {
        fprintf(stderr, "hello: pack or match failed\n");
        return 1;
    }
    size_t len = 0;
    grove_term_bytes(t, &len);
    char *text = grove_term_format(t);
    printf("%s amount=%" PRId64 " bytes=%zu\n", text, amount, len);
    printf("%s: %s\n", grove_errname(GROVE_ENOPROC), grove_strerror(GROVE_ENOPROC));
    free(text);
    grove_term_destroy(&t);
    return t == NULL ? 0 : 1;
}
