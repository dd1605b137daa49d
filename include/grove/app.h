/*
 * grove/app.h - applications and the node daemon.
 *
 * An application is what a node runs: a name, a start function that
 * starts its processes (typically one supervisor, its "top" process), and
 * an optional stop function. A program registers its behaviours and its
 * applications from main() and hands the rest to grove_node_main, which
 * is the whole `grove-node` daemon: configuration from GROVE_* and flags,
 * the node, the applications, signals and a graceful stop.
 *
 *   static grove_err bank_start(grove_node *node, void *arg, grove_pid *top)
 *   {
 *       return grove_supervisor_start(node, &bank_sup, NULL, NULL, top);
 *   }
 *
 *   int main(int argc, char **argv)
 *   {
 *       grove_behaviour_register(&account_behaviour);   // remote spawn by name
 *       grove_app_register(&(grove_app){.name = "bank", .start = bank_start});
 *       return grove_node_main(argc, argv);
 *   }
 *
 * On SIGTERM (or SIGINT) the daemon stops the applications in reverse
 * start order: each top process is stopped with reason `shutdown` (a
 * supervisor shuts its children down in reverse order first) and waited
 * for, within GROVE_SHUTDOWN_MS, then killed; then the application's stop
 * function runs; then the node stops and tells its peers goodbye.
 * docs/daemon.md has the configuration, exit codes and log lines.
 */
#ifndef GROVE_APP_H
#define GROVE_APP_H

#include <grove/err.h>
#include <grove/node.h>
#include <grove/term.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grove_app {
    /* The application's name (log lines; unique). Required. */
    const char *name;
    /* Starts the application on a running node, from the daemon's main
     * thread (blocking calls are fine). May set *top to the process that
     * stands for the application (its top supervisor): the daemon stops it
     * on shutdown, and its exit ends the daemon (as a permanent OTP
     * application's would). Anything but GROVE_OK fails the start: the
     * applications started before it are stopped and the daemon exits.
     * Required. */
    grove_err (*start)(grove_node *node, void *arg, grove_pid *top);
    /* Runs on shutdown after the top process is gone, before the node
     * stops, from the daemon's main thread. May be NULL. */
    void (*stop)(grove_node *node, void *arg);
    void *arg;
} grove_app;

/* Registers an application (copied; its strings and arg must outlive the
 * daemon). Applications start in the order registered. GROVE_EINVAL
 * without a name or start function, GROVE_EEXIST for a name already
 * registered, GROVE_ENOMEM past 64 applications. Call from main() before
 * grove_node_main; not thread-safe. */
grove_err grove_app_register(const grove_app *app);

/* The node daemon: parses argv (--help lists the flags) and the GROVE_*
 * environment, starts the node and the registered applications, waits for
 * SIGTERM or SIGINT, then stops everything in order. Returns the exit
 * status: 0 after a graceful stop, 64 (EX_USAGE) for a bad flag or value,
 * 70 (EX_SOFTWARE) when an application failed to start or its top process
 * exited abnormally, 78 (EX_CONFIG) when the node cannot start with this
 * configuration. A second SIGTERM or SIGINT while stopping exits at once
 * with status 1. Call once, from main(); blocks until the daemon ends. */
int grove_node_main(int argc, char **argv);

/* Grove's version, "major.minor.patch". Static. Any thread. */
const char *grove_version(void);

#ifdef __cplusplus
}
#endif
#endif
