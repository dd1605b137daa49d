/*
 * line.h - the test node programs' own log lines on stderr (test_node.c,
 * part_node.c): one line, one write(2), so they never interleave with the
 * node's structured lines, which are written the same way.
 */
#ifndef GROVE_TEST_LINE_H
#define GROVE_TEST_LINE_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((format(printf, 1, 2))) static inline void tn_line(const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
}

#endif
