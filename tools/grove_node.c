/*
 * grove-node - the generic node daemon: a node and the applications linked
 * into it, configured from GROVE_* and flags (grove-node --help;
 * docs/daemon.md). A program with applications of its own is this same
 * main() after grove_behaviour_register and grove_app_register calls.
 */
#include <grove/app.h>

#if defined(__SANITIZE_THREAD__)
#define GROVE_NODE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GROVE_NODE_TSAN 1
#endif
#endif

#ifdef GROVE_NODE_TSAN
/* libzmq passes buffers between threads through atomics that
 * ThreadSanitizer cannot see (uninstrumented code): silence reports from
 * inside libzmq and the libraries it calls, as the cluster tests do. */
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libzmq.so\n"
           "called_from_lib:libsodium.so\n"
           "called_from_lib:libstdc++.so\n"
           "race:libzmq.so\n";
}
#endif

int main(int argc, char **argv)
{
    return grove_node_main(argc, argv);
}
