#include "gv_log.h"

#include "gv_clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* -1: not read from the environment yet. Relaxed everywhere: the level is
 * a single independent value; a racing first read computes the same. */
static _Atomic int s_level = -1;
static _Atomic int s_fd = 2;

static const char *const s_names[] = {"error", "warn", "info", "debug", "trace"};

bool gv_log_parse_level(const char *text, gv_log_level *out)
{
    if (!text)
        return false;
    for (int i = 0; i <= GV_LOG_TRACE; i++) {
        if (strcasecmp(text, s_names[i]) == 0 || (text[0] == '0' + i && text[1] == '\0')) {
            *out = (gv_log_level)i;
            return true;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = GV_LOG_WARN;
        return true;
    }
    return false;
}

static int s_current(void)
{
    int lv = atomic_load_explicit(&s_level, memory_order_relaxed);
    if (lv >= 0)
        return lv;
    gv_log_level parsed = GV_LOG_WARN;
    gv_log_parse_level(getenv("GROVE_LOG"), &parsed);
    atomic_store_explicit(&s_level, (int)parsed, memory_order_relaxed);
    return (int)parsed;
}

bool gv_log_enabled(gv_log_level level)
{
    return (int)level <= s_current();
}

void gv_log_set_level(gv_log_level level)
{
    atomic_store_explicit(&s_level, (int)level, memory_order_relaxed);
}

void gv_log_set_fd(int fd)
{
    atomic_store_explicit(&s_fd, fd < 0 ? 2 : fd, memory_order_relaxed);
}

void gv_log(gv_log_level level, const char *component, const char *event, const char *fmt, ...)
{
    if (!gv_log_enabled(level))
        return;
    char line[1024];
    uint64_t now = gv_wall_ns();
    time_t secs = (time_t)(now / 1000000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s %s %s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unsigned)((now / 1000000u) % 1000u), s_names[level],
                     component ? component : "-", event ? event : "-");
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fmt && len < sizeof line - 2) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    }
    /* Control characters would split the line: replace them. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20)
            line[i] = ' ';
    if (len >= sizeof line - 1)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(atomic_load_explicit(&s_fd, memory_order_relaxed), line, len);
    (void)w;
}
