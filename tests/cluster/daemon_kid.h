/*
 * daemon_kid.h - child processes for the tests that run real daemons
 * (grove-node, cluster_test_node): an environment free of the test's own
 * GROVE_* variables, fork and exec with the child tied to the test
 * process's life, a reap that survives signals, and the marks of a
 * sanitizer report in a child's log.
 */
#ifndef GROVE_DAEMON_KID_H
#define GROVE_DAEMON_KID_H

#include <sys/types.h>

/* The environment without any GROVE_* variable, plus `extra` (each
 * "NAME=value", NULL-terminated; NULL: none). Caller frees with
 * dk_free_env. */
char **dk_env(char *const *extra);

void dk_free_env(char **env);

/* Forks and execs bin with argv and env, its stdout and stderr on the
 * given descriptors (-1: inherited). The child gets SIGKILL when the
 * calling thread's process ends (PR_SET_PDEATHSIG). Returns its pid, or
 * -1 if fork failed. */
pid_t dk_fork_exec(const char *bin, char *const *argv, char *const *env, int out_fd, int err_fd);

/* Waits for pid to end (again after EINTR); returns its wait status. */
int dk_reap(pid_t pid);

/* The first mark of a sanitizer report (ASan, LSan, TSan, UBSan) in log,
 * or NULL if it holds none. */
const char *dk_sanitizer_mark(const char *log);

#endif
