/*
 * tsan_zmq.c - ThreadSanitizer suppressions for programs that run libzmq.
 *
 * libzmq hands messages between the caller's thread and its own I/O
 * threads through lock-free pipes built on atomics in uninstrumented code,
 * so ThreadSanitizer sees a buffer written by the caller and then read or
 * freed by a ZeroMQ thread with no ordering between them, and reports a
 * race that is not one. These suppressions silence reports whose accesses
 * come from inside libzmq (and from the C++ runtime it calls); every
 * access made by Grove's own code is still checked.
 *
 * Linked into every test that runs transports; the sanitizer runtime calls
 * this function at start-up (it has no effect in other builds).
 */
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libzmq.so\n"
           "called_from_lib:libsodium.so\n"
           "called_from_lib:libstdc++.so\n"
           "race:libzmq.so\n";
}
