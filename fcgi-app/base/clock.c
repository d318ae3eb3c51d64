#include "base/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

long long clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wall clock and the monotonic clock at the anchor. */
static long long clock_anchor_wall, clock_anchor_mono;
static pthread_once_t clock_anchored = PTHREAD_ONCE_INIT;

static void clock_take_anchor(void)
{
    clock_anchor_wall = clock_wall_ms();
    clock_anchor_mono = clock_mono_ms();
}

void clock_anchor(void)
{
    pthread_once(&clock_anchored, clock_take_anchor);
}

long long clock_pool_ms(void)
{
    clock_anchor();
    return clock_anchor_wall + (clock_mono_ms() - clock_anchor_mono);
}

void clock_rfc3339(long long wall_ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

void clock_now(char *out, size_t outlen)
{
    clock_rfc3339(clock_wall_ms(), out, outlen);
}

int clock_parse_rfc3339(const char *s, long long *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (end == NULL)
        return -1;
    if (*end == '.') {
        do
            end++;
        while (*end >= '0' && *end <= '9');
    }
    if (strcmp(end, "Z") != 0)
        return -1;
    *out = (long long)timegm(&tm);
    return 0;
}

int clock_parse_rfc3339_ms(const char *s, long long *out)
{
    long long secs, ms = 0;
    if (clock_parse_rfc3339(s, &secs) != 0)
        return -1;
    const char *dot = strchr(s, '.');
    for (int i = 0, scale = 100; dot != NULL && i < 3 && dot[1 + i] >= '0' && dot[1 + i] <= '9';
         i++, scale /= 10)
        ms += (dot[1 + i] - '0') * scale;
    *out = secs * 1000 + ms;
    return 0;
}

void clock_pool_now(char *out, size_t outlen)
{
    clock_rfc3339(clock_pool_ms(), out, outlen);
}
