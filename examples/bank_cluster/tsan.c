/*
 * tsan.c - ThreadSanitizer suppressions for the cluster demo's programs.
 *
 * libzmq passes buffers between threads through atomics that
 * ThreadSanitizer cannot see (uninstrumented code), so reports whose
 * accesses come from inside libzmq and the libraries it calls are
 * silenced, as grove-node does; every access made by Grove's own code is
 * still checked. The sanitizer runtime calls this at start-up; other
 * builds never do.
 */
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libzmq.so\n"
           "called_from_lib:libsodium.so\n"
           "called_from_lib:libstdc++.so\n"
           "race:libzmq.so\n";
}
