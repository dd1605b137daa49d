/*
 * terms_demo - what a Grove message is: a term built from a format
 * string, printed, encoded in Erlang's External Term Format, decoded and
 * matched.
 */
#include <grove/term.h>

#include <inttypes.h>
#include <stdio.h>

static void s_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%u", i ? "," : "", p[i]);
}

int main(void)
{
    puts("1. Build a message with a format string:");
    puts("     grove_pack(\"{deposit, ~s, ~l, #{currency => eur, memo => ~b}}\", ...)");
    grove_term *msg = grove_pack("{deposit, ~s, ~l, #{currency => eur, memo => ~b}}", "alice",
                                 (size_t)5, (int64_t)50, "rent", (size_t)4);
    if (!msg) {
        fputs("packing failed\n", stderr);
        return 1;
    }
    printf("   It prints as Erlang would print it:\n     ");
    grove_term_print(stdout, msg);

    size_t n;
    const uint8_t *bytes = grove_term_bytes(msg, &n);
    printf("\n2. Its bytes are exactly Erlang's term_to_binary/1 (%zu bytes):\n     <<", n);
    s_hex(bytes, n);
    puts(">>");

    grove_term *back = NULL;
    grove_term_error err;
    if (grove_term_decode(bytes, n, &back, &err) != GROVE_OK) {
        fprintf(stderr, "decode failed: %s\n", err.message);
        return 1;
    }
    printf("\n3. Decoding them gives the same term back: %s\n",
           grove_term_equal(msg, back) ? "yes" : "NO");

    const char *who;
    size_t who_len;
    int64_t amount;
    if (grove_match(back, "{deposit, ~s, ~l, #{currency := eur}}", &who, &who_len, &amount))
        printf("\n4. Matched {deposit, ~s, ~l, #{currency := eur}}: %.*s deposits %" PRId64 "\n",
               (int)who_len, who, amount);
    if (!grove_match(back, "{withdraw, _, _, _}"))
        puts("   and {withdraw, _, _, _} does not match.");

    const char *text = "{ok, [1, -2, 2.5, <<\"bin\">>, \"str\", 'Quoted atom', #{a => 1}]}";
    grove_term *parsed = NULL;
    if (grove_term_parse(text,
                         sizeof "{ok, [1, -2, 2.5, <<\"bin\">>, \"str\", 'Quoted atom', "
                                "#{a => 1}]}" -
                             1,
                         &parsed, &err) != GROVE_OK) {
        fprintf(stderr, "parse failed: %s\n", err.message);
        return 1;
    }
    printf("\n5. Text parses to terms too:\n     %s\n  -> ", text);
    grove_term_print(stdout, parsed);

    grove_term *bad = NULL;
    grove_term_parse("{ok, [1, 2}", 11, &bad, &err);
    printf("\n6. Bad input is an error, never a crash:\n     {ok, [1, 2}  -> %s\n", err.message);

    grove_term_destroy(&msg);
    grove_term_destroy(&back);
    grove_term_destroy(&parsed);
    return 0;
}
