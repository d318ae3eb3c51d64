/*
 * clock: the one place that reads the time. Deadlines and durations use the
 * monotonic clock (never stepped by NTP); timestamps shown to people and
 * stored in records use the wall clock, as RFC 3339 UTC with milliseconds.
 */
#ifndef MINILAMBDA_CLOCK_H
#define MINILAMBDA_CLOCK_H

#include <stddef.h>

/* Milliseconds on the monotonic clock (an arbitrary origin). */
long long clock_mono_ms(void);

/* Microseconds on the monotonic clock, for measuring short spans. */
long long clock_mono_us(void);

/* Milliseconds since the Unix epoch. */
long long clock_wall_ms(void);

/*
 * The pool's clock, in milliseconds since the Unix epoch: the wall clock
 * read once (clock_anchor), plus the monotonic time since. A step of the
 * wall clock while the pool runs moves it not at all: what orders records,
 * times retries and ages records for retention reads it, so a step neither
 * disorders listings nor delays retries nor prunes history. (It keeps the
 * start's reading until the next start: a stepped clock is taken then.)
 */
long long clock_pool_ms(void);

/* Read the wall clock for clock_pool_ms now, once per process tree: call it
 * before the first fork so that every process shares the reading (without
 * it, the first clock_pool_ms of each process reads it). */
void clock_anchor(void);

/* Write the wall-clock time `wall_ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into
 * `out`; `outlen` must be at least CLOCK_RFC3339_LEN. */
#define CLOCK_RFC3339_LEN 32
void clock_rfc3339(long long wall_ms, char *out, size_t outlen);

/* clock_rfc3339 of the current time. */
void clock_now(char *out, size_t outlen);

/* clock_rfc3339 of clock_pool_ms(): the times records store. */
void clock_pool_now(char *out, size_t outlen);

/* Parse "YYYY-MM-DDTHH:MM:SS[.fff]Z" (as clock_rfc3339 writes it) to Unix
 * seconds. Returns 0, or -1 (`*out` untouched) for anything else. */
int clock_parse_rfc3339(const char *s, long long *out);

/* clock_parse_rfc3339 to Unix milliseconds (fraction digits past the third
 * ignored). Returns 0, or -1 (`*out` untouched). */
int clock_parse_rfc3339_ms(const char *s, long long *out);

#endif
