/*
 * log: one line per event on stderr, with time, pid and level, so the lines
 * of every process in the pool interleave readably in one file.
 */
#ifndef MINILAMBDA_LOG_H
#define MINILAMBDA_LOG_H

typedef enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 } log_level;

/* Set the most verbose level that is written. Not thread-safe: call it before
 * starting threads. */
void log_set_level(log_level level);

/* Parse "error", "warn", "info" or "debug". Returns 0, or -1 (level untouched)
 * for any other word. */
int log_parse_level(const char *s, log_level *level);

/* The name of `level` ("info"). */
const char *log_level_name(log_level level);

/* Write one line. Safe from any thread; never fails visibly. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
