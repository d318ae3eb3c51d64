#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

static log_level log_max = LOG_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_set_level(log_level level)
{
    log_max = level;
}

int log_parse_level(const char *s, log_level *level)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(s, log_names[i]) == 0) {
            *level = (log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(log_level level)
{
    return log_names[level];
}

void log_msg(log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;

    char line[2048], now[CLOCK_RFC3339_LEN];
    clock_now(now, sizeof(now));
    int n = snprintf(line, sizeof(line), "%s [%d] %s: ", now, (int)getpid(), log_names[level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: keep the newline */
    line[len++] = '\n';
    /* One write() per line keeps lines from different processes whole. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
