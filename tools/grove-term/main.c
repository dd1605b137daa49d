/*
 * grove-term - convert between Erlang term text and External Term Format.
 *
 *   grove-term encode   text on stdin  -> ETF bytes on stdout
 *   grove-term decode   ETF on stdin   -> text and a newline on stdout
 *
 * Bad input: a message saying what is wrong and where on stderr, and exit
 * status 65 (EX_DATAERR).
 */
#include <grove/term.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EX_OK_ = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_IOERR_ = 74 };

static void s_usage(FILE *f)
{
    fputs("usage: grove-term encode|decode\n"
          "  encode  read a term in Erlang syntax on stdin, write its ETF bytes\n"
          "  decode  read ETF bytes on stdin, write the term as text\n",
          f);
}

static unsigned char *s_read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            unsigned char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return EX_OK_;
    }
    if (argc != 2 || (strcmp(argv[1], "encode") != 0 && strcmp(argv[1], "decode") != 0)) {
        s_usage(stderr);
        return EX_USAGE_;
    }
    bool encode = strcmp(argv[1], "encode") == 0;
    size_t len;
    unsigned char *in = s_read_all(stdin, &len);
    if (!in) {
        fputs("grove-term: cannot read standard input\n", stderr);
        return EX_IOERR_;
    }
    grove_term *t = NULL;
    grove_term_error err = {0};
    grove_err rc = encode ? grove_term_parse((const char *)in, len, &t, &err)
                          : grove_term_decode(in, len, &t, &err);
    free(in);
    if (rc != GROVE_OK) {
        fprintf(stderr, "grove-term: %s: %s\n", encode ? "bad term text" : "bad term bytes",
                err.message);
        return EX_DATAERR_;
    }
    int status = EX_OK_;
    if (encode) {
        size_t n;
        const uint8_t *bytes = grove_term_bytes(t, &n);
        if (fwrite(bytes, 1, n, stdout) != n)
            status = EX_IOERR_;
    } else if (grove_term_print(stdout, t) != GROVE_OK) {
        status = EX_IOERR_;
    }
    if (fflush(stdout) != 0)
        status = EX_IOERR_;
    grove_term_destroy(&t);
    if (status != EX_OK_)
        fputs("grove-term: cannot write standard output\n", stderr);
    return status;
}
