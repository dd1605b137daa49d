/*
 * nodes.h - the cluster demo's daemons as child processes of the driver.
 *
 * Each node is the bank_node program started with GROVE_* in its
 * environment, its stdout and stderr in a pipe that a thread reads into
 * memory, so the driver can find its log lines ("daemon started ...
 * address=...") and show them when something goes wrong. Every child asks
 * for SIGKILL when the driver's main thread ends (PR_SET_PDEATHSIG), so
 * nothing outlives the driver, whatever ends it.
 *
 * Start, signal and reap from the main thread only (the death signal is
 * tied to the thread that forked).
 */
#ifndef BANK_CLUSTER_NODES_H
#define BANK_CLUSTER_NODES_H

#include <grove/term.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct demo_node {
    char name[64]; /* "bank1@127.0.0.1" */
    grove_nodename nn;
    char addr[64]; /* "127.0.0.1:port", from its start line */
    pid_t pid;     /* 0: not started */
    bool reaped;
    int status; /* waitpid's, once reaped */
    /* its output */
    int fd;
    pthread_t reader;
    bool reader_running;
    pthread_mutex_t mu;
    char *log; /* under mu, NUL-terminated */
    size_t len, cap;
} demo_node;

/* Milliseconds of a monotonic clock; sleeping. */
int64_t dn_now_ms(void);
void dn_sleep_ms(int64_t ms);

/* Starts `bin` as node `name` (copied) listening on a free loopback port,
 * joining `seeds` (NULL: none), with the cluster secret `cookie`. The
 * child's environment is the driver's without GROVE_* variables, except
 * the tuning ones (GROVE_HEARTBEAT_MS, GROVE_NODEDOWN_MS,
 * GROVE_SCHEDULERS, GROVE_SHUTDOWN_MS), which pass through. false, with
 * a message in err, if it cannot be started. */
bool dn_start(demo_node *n, const char *bin, const char *name, const char *cookie,
              const char *seeds, char *err, size_t errlen);

/* Waits up to ms for a log line containing `needle` at or after byte
 * `from`; returns its offset, or -1 (time out, or the node exited: then
 * err says which). */
long dn_wait_log(demo_node *n, const char *needle, long from, int64_t ms, char *err, size_t errlen);

/* Copies the value of `key` ("address=") on the log line at `at`. */
void dn_log_value(demo_node *n, long at, const char *key, char *out, size_t len);

/* The length of the log so far. */
long dn_log_len(demo_node *n);

/* True if the log holds a sanitizer report. */
bool dn_sanitizer_report(demo_node *n);

/* Reaps the node within ms; false if it is still running. */
bool dn_reap(demo_node *n, int64_t ms);

/* Describes a reaped node's status ("exit 0", "killed by signal 9"). */
void dn_describe_status(const demo_node *n, char *out, size_t len);

/* Prints the last `lines` lines of the node's log to stderr. */
void dn_dump_tail(demo_node *n, int lines);

/* Kills (SIGKILL) and reaps a node that is still running, joins its
 * reader and frees its log. Safe on a node never started. */
void dn_destroy(demo_node *n);

#endif
