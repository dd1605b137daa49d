/*
 * fuzz_replay.c - runs a fuzz target's LLVMFuzzerTestOneInput over files,
 * without libFuzzer, so the fuzzers' properties are checked in every build
 * (and under ASan + UBSan in the sanitizer build).
 *
 *   fuzz_xxx_replay PATH...   (files, or directories of files)
 *
 * A broken property aborts (the test fails); otherwise prints how many
 * inputs ran. No input at all is a failure too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t s_runs;

static int s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    /* An exact-size copy, so ASan sees any read past the input. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        exit(1);
    }
    memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    s_runs++;
    return 0;
}

static int s_run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return s_run_file(path);
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        perror(path);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
            rc |= s_run_path(full);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        rc |= s_run_path(argv[i]);
    }
    printf("%s: %zu inputs replayed\n", argv[0], s_runs);
    return rc != 0 || s_runs == 0;
}
