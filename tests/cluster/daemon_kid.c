/*
 * daemon_kid.c - child processes for the daemon tests (daemon_kid.h).
 */
#include "daemon_kid.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char **dk_env(char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        abort();
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "GROVE_", 6) != 0)
            env[j++] = strdup(environ[i]);
    for (size_t i = 0; i < m; i++)
        env[j++] = strdup(extra[i]);
    env[j] = NULL;
    return env;
}

void dk_free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

pid_t dk_fork_exec(const char *bin, char *const *argv, char *const *env, int out_fd, int err_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        if (out_fd >= 0 && dup2(out_fd, 1) < 0)
            _exit(127);
        if (err_fd >= 0 && dup2(err_fd, 2) < 0)
            _exit(127);
        execve(bin, argv, env);
        _exit(127);
    }
    return pid;
}

int dk_reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

const char *dk_sanitizer_mark(const char *log)
{
    static const char *const marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                        "WARNING: ThreadSanitizer", "runtime error:"};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (strstr(log, marks[i]))
            return marks[i];
    return NULL;
}
