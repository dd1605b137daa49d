/*
 * gv_log.h - one structured line per event, to stderr.
 *
 * A line reads
 *   2024-05-01T12:00:00.123Z warn sched long_handler worker=1 pid=<0.42.1> ms=1500
 * that is: UTC time, level, component, event, then key=value pairs written
 * by the caller. Each line is written with a single write(2), so lines from
 * different threads never interleave.
 *
 * The level comes from GROVE_LOG (error, warn, info, debug, trace; default
 * warn), read once; gv_log_set_level overrides it. Any thread.
 */
#ifndef GV_LOG_H
#define GV_LOG_H

#include <stdbool.h>

typedef enum gv_log_level {
    GV_LOG_ERROR = 0,
    GV_LOG_WARN,
    GV_LOG_INFO,
    GV_LOG_DEBUG,
    GV_LOG_TRACE,
} gv_log_level;

/* True when a line at `level` would be written: test this before building
 * expensive arguments. */
bool gv_log_enabled(gv_log_level level);

/* Writes one line. `fmt` formats the key=value part (may be NULL). */
void gv_log(gv_log_level level, const char *component, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void gv_log_set_level(gv_log_level level);

/* Parses a level name ("warn", "WARN", "3"); false if unknown. */
bool gv_log_parse_level(const char *text, gv_log_level *out);

/* Sends lines to fd instead of stderr (tests capture them); -1 restores
 * stderr. */
void gv_log_set_fd(int fd);

#endif
