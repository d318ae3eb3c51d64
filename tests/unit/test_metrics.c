/*
 * Unit tests for metrics: the text exposition of an empty and a populated
 * table, label escaping, histogram bucket boundaries, rejected invocations,
 * the overflow slot, the in-flight gauge, HTTP counters, and exact counts
 * when several processes update one shared segment at once.
 *
 * Every test maps its own segment under a unique name and unlinks it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "state/metrics.h"

#define RENDER_MAX (8u << 20)

static const char *const test_routes[] = {"other", "/functions", "/invoke/{ref}"};

typedef struct {
    char name[64];
    metrics_t *m;
    buf_t out;
} fixture;

static int test_seq;

static void fixture_name(char *dst, size_t n)
{
    snprintf(dst, n, "/ml-test-%ld-%d", (long)getpid(), test_seq++);
}

static metrics_t *open_segment(fixture *f, int slots)
{
    char err[256] = "";
    fixture_name(f->name, sizeof(f->name));
    f->m = metrics_create(f->name, slots, 4, 4, 300, err, sizeof(err));
    if (f->m == NULL)
        fail_msg("metrics_create(%s, %d): %s", f->name, slots, err);
    return f->m;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    buf_init(&f->out, RENDER_MAX);
    metrics_set_routes(test_routes, 3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m != NULL) {
        metrics_close(f->m, 1);
        /* The segment is gone once closed with unlink. */
        int fd = shm_open(f->name, O_RDONLY, 0);
        if (fd >= 0) {
            close(fd);
            shm_unlink(f->name);
            buf_free(&f->out);
            free(f);
            return -1;
        }
    }
    buf_free(&f->out);
    free(f);
    return 0;
}

/* Render the whole exposition into f->out (reset first) and return it. */
static const char *render(fixture *f, long functions, long queue_depth)
{
    metrics_gauges g = {.functions = functions, .queue_depth = queue_depth};
    buf_reset(&f->out);
    assert_int_equal(metrics_render(f->m, &g, &f->out), 0);
    assert_non_null(f->out.data);
    assert_int_equal(strlen(f->out.data), f->out.len);
    return f->out.data;
}

/* The whole line that is exactly `line` is present in `text`. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

static void assert_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("missing line [%s] in:\n%s", line, text);
}

static void assert_no_line(const char *text, const char *line)
{
    if (has_line(text, line))
        fail_msg("unexpected line [%s] in:\n%s", line, text);
}

/* The value of the series whose text before the value is exactly `series`
 * (e.g. `Total_Invocations{function="a"}`), or -1 when absent. */
static double series_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static void assert_series(const char *text, const char *series, double want)
{
    double got = series_value(text, series);
    if (got != want)
        fail_msg("%s: want %g, got %g (-1: absent) in:\n%s", series, want, got, text);
}

/* How many lines start with `prefix`. */
static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return n;
}

static void bucket_series(char *dst, size_t n, const char *fname, const char *le)
{
    snprintf(dst, n, "Invocation_Duration_ms_bucket{function=\"%s\",le=\"%s\"}", fname, le);
}

static void assert_bucket(const char *text, const char *fname, const char *le, double want)
{
    char s[256];
    bucket_series(s, sizeof(s), fname, le);
    assert_series(text, s, want);
}

static void assert_total(const char *text, const char *fname, double want)
{
    char s[256];
    snprintf(s, sizeof(s), "Total_Invocations{function=\"%s\"}", fname);
    assert_series(text, s, want);
}

static void assert_status(const char *text, const char *fname, const char *status, double want)
{
    char s[256];
    snprintf(s, sizeof(s), "minilambda_invocations_total{function=\"%s\",status=\"%s\"}", fname,
             status);
    assert_series(text, s, want);
}

static void assert_count(const char *text, const char *fname, double want)
{
    char s[256];
    snprintf(s, sizeof(s), "Invocation_Duration_ms_count{function=\"%s\"}", fname);
    assert_series(text, s, want);
}

static void assert_in_flight(const char *text, const char *fname, double want)
{
    char s[256];
    snprintf(s, sizeof(s), "minilambda_invocations_in_flight{function=\"%s\"}", fname);
    assert_series(text, s, want);
}

static const char *const families[][2] = {
    {"Total_Invocations", "counter"},
    {"Invocation_Duration_ms", "histogram"},
    {"minilambda_invocations_total", "counter"},
    {"minilambda_invocations_in_flight", "gauge"},
    {"minilambda_async_queue_depth", "gauge"},
    {"minilambda_functions", "gauge"},
    {"minilambda_http_requests_total", "counter"},
    {"process_start_time_seconds", "gauge"},
};

static void test_empty_table(void **state)
{
    fixture *f = *state;
    open_segment(f, 8);
    time_t before = time(NULL);
    const char *text = render(f, 0, 0);

    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char line[160];
        snprintf(line, sizeof(line), "# TYPE %s %s", families[i][0], families[i][1]);
        assert_line(text, line);
        snprintf(line, sizeof(line), "# HELP %s ", families[i][0]);
        assert_non_null(strstr(text, line));
        /* Each family is described exactly once. */
        snprintf(line, sizeof(line), "# TYPE %s ", families[i][0]);
        assert_int_equal(count_lines(text, line), 1);
    }
    assert_null(strstr(text, "function="));
    assert_null(strstr(text, "_overflow"));
    assert_null(strstr(text, "minilambda_http_requests_total{"));
    assert_line(text, "minilambda_async_queue_depth 0");
    assert_line(text, "minilambda_functions 0");
    double start = series_value(text, "process_start_time_seconds");
    assert_true(start >= (double)before - 5 && start <= (double)time(NULL) + 1);
    /* Text format: every line ends with a newline, the last one too. */
    assert_int_equal(text[f->out.len - 1], '\n');
    assert_null(strstr(text, "\n\n"));
}

static void test_gauges(void **state)
{
    fixture *f = *state;
    open_segment(f, 4);
    const char *text = render(f, 1234, 7);
    assert_line(text, "minilambda_functions 1234");
    assert_line(text, "minilambda_async_queue_depth 7");

    /* An unknown function count (-1) leaves that gauge out entirely. */
    text = render(f, -1, 0);
    assert_null(strstr(text, "minilambda_functions"));
    assert_line(text, "minilambda_async_queue_depth 0");
}

static void test_one_function(void **state)
{
    fixture *f = *state;
    open_segment(f, 8);
    metrics_observe(f->m, "hello", METRICS_SUCCEEDED, 5);
    metrics_observe(f->m, "hello", METRICS_SUCCEEDED, 250.25);
    metrics_observe(f->m, "hello", METRICS_FAILED, 150);
    metrics_observe(f->m, "hello", METRICS_TIMEOUT, 2000);
    metrics_observe(f->m, "hello", METRICS_ERROR, 0.5);
    const char *text = render(f, 1, 0);

    assert_total(text, "hello", 5);
    assert_bucket(text, "hello", "10", 2);
    assert_bucket(text, "hello", "110", 2);
    assert_bucket(text, "hello", "210", 3);
    assert_bucket(text, "hello", "310", 4);
    assert_bucket(text, "hello", "910", 4);
    assert_bucket(text, "hello", "+Inf", 5);
    assert_count(text, "hello", 5);
    assert_line(text, "Invocation_Duration_ms_sum{function=\"hello\"} 2405.750");
    assert_status(text, "hello", "succeeded", 2);
    assert_status(text, "hello", "failed", 1);
    assert_status(text, "hello", "timeout", 1);
    assert_status(text, "hello", "rejected", 0);
    assert_status(text, "hello", "error", 1);
    assert_in_flight(text, "hello", 0);

    /* Exactly the 10 finite buckets and +Inf, in increasing order. */
    assert_int_equal(count_lines(text, "Invocation_Duration_ms_bucket{function=\"hello\""), 11);
    const char *prev = text;
    for (int k = 0; k < 10; k++) {
        char s[128];
        snprintf(s, sizeof(s), "Invocation_Duration_ms_bucket{function=\"hello\",le=\"%d\"}",
                 10 + 100 * k);
        const char *p = strstr(text, s);
        assert_non_null(p);
        assert_true(p > prev);
        prev = p;
    }
    assert_true(strstr(text, "le=\"+Inf\"") > prev);
    /* succeeded, failed, timeout, rejected, error, cancelled */
    assert_int_equal(count_lines(text, "minilambda_invocations_total{function=\"hello\""), 6);
    assert_non_null(
        strstr(text, "minilambda_invocations_total{function=\"hello\",status=\"cancelled\"} 0"));
    assert_null(strstr(text, "_overflow"));
}

static void test_escape(void **state)
{
    fixture *f = *state;
    buf_t b;
    (void)f;
    buf_init(&b, 1024);
    assert_int_equal(metrics_escape(&b, "plain-name_1.2"), 0);
    assert_string_equal(b.data, "plain-name_1.2");

    buf_reset(&b);
    assert_int_equal(metrics_escape(&b, "a\\b\"c\nd"), 0);
    assert_string_equal(b.data, "a\\\\b\\\"c\\nd");

    buf_reset(&b);
    assert_int_equal(metrics_escape(&b, "\\\\\"\"\n\n"), 0);
    assert_string_equal(b.data, "\\\\\\\\\\\"\\\"\\n\\n");

    buf_reset(&b);
    assert_int_equal(metrics_escape(&b, ""), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* A full buffer is reported, never overrun. */
    buf_init(&b, 3);
    assert_int_equal(metrics_escape(&b, "ab\\"), -1);
    assert_true(b.len <= 3);
    buf_free(&b);
}

static void test_escaped_function_name(void **state)
{
    fixture *f = *state;
    open_segment(f, 8);
    /* we"ird\name<newline>x */
    const char *name = "we\"ird\\name\nx";
    const char *esc = "we\\\"ird\\\\name\\nx";
    metrics_begin(f->m, 0, 0, name);
    metrics_observe(f->m, name, METRICS_SUCCEEDED, 1);
    metrics_observe(f->m, name, METRICS_REJECTED, 0);
    const char *text = render(f, 1, 0);

    assert_total(text, esc, 1);
    assert_bucket(text, esc, "10", 1);
    assert_bucket(text, esc, "+Inf", 1);
    assert_count(text, esc, 1);
    assert_status(text, esc, "succeeded", 1);
    assert_status(text, esc, "rejected", 1);
    assert_in_flight(text, esc, 1);
    /* No raw newline or quote leaks: every line is a comment or a series
     * starting with a known name. */
    for (const char *p = text; *p;) {
        assert_true(*p == '#' || strncmp(p, "Total_Invocations", 17) == 0 ||
                    strncmp(p, "Invocation_Duration_ms", 22) == 0 ||
                    strncmp(p, "minilambda_", 11) == 0 ||
                    strncmp(p, "process_start_time_seconds", 26) == 0);
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        p = nl + 1;
    }
    metrics_end(f->m, 0, 0);
    text = render(f, 1, 0);
    assert_in_flight(text, esc, 0);
}

static void test_longest_name(void **state)
{
    fixture *f = *state;
    char name[64];
    open_segment(f, 8);
    /* The longest valid function name: 63 characters. */
    memset(name, 'n', 63);
    name[0] = 'L';
    name[63] = '\0';
    metrics_observe(f->m, name, METRICS_SUCCEEDED, 1);
    metrics_observe(f->m, name, METRICS_SUCCEEDED, 1);
    const char *text = render(f, 1, 0);
    assert_total(text, name, 2);
    assert_int_equal(count_lines(text, "Total_Invocations{"), 1);
}

static void test_bucket_boundaries(void **state)
{
    fixture *f = *state;
    open_segment(f, 16);
    metrics_observe(f->m, "b0", METRICS_SUCCEEDED, 0);
    metrics_observe(f->m, "bneg", METRICS_SUCCEEDED, -3);
    metrics_observe(f->m, "b10", METRICS_SUCCEEDED, 10);
    metrics_observe(f->m, "b10_5", METRICS_SUCCEEDED, 10.5);
    metrics_observe(f->m, "b110", METRICS_SUCCEEDED, 110);
    metrics_observe(f->m, "b111", METRICS_SUCCEEDED, 111);
    metrics_observe(f->m, "b910", METRICS_SUCCEEDED, 910);
    metrics_observe(f->m, "b911", METRICS_SUCCEEDED, 911);
    metrics_observe(f->m, "bbig", METRICS_SUCCEEDED, 1e7);
    const char *text = render(f, 9, 0);

    assert_bucket(text, "b0", "10", 1);
    assert_bucket(text, "bneg", "10", 1);
    assert_line(text, "Invocation_Duration_ms_sum{function=\"bneg\"} 0.000");

    assert_bucket(text, "b10", "10", 1);
    assert_bucket(text, "b10", "110", 1);
    assert_bucket(text, "b10", "+Inf", 1);

    assert_bucket(text, "b10_5", "10", 0);
    assert_bucket(text, "b10_5", "110", 1);
    assert_bucket(text, "b10_5", "+Inf", 1);
    assert_line(text, "Invocation_Duration_ms_sum{function=\"b10_5\"} 10.500");

    assert_bucket(text, "b110", "10", 0);
    assert_bucket(text, "b110", "110", 1);
    assert_bucket(text, "b111", "110", 0);
    assert_bucket(text, "b111", "210", 1);

    assert_bucket(text, "b910", "810", 0);
    assert_bucket(text, "b910", "910", 1);
    assert_bucket(text, "b910", "+Inf", 1);

    assert_bucket(text, "b911", "10", 0);
    assert_bucket(text, "b911", "910", 0);
    assert_bucket(text, "b911", "+Inf", 1);
    assert_count(text, "b911", 1);
    assert_line(text, "Invocation_Duration_ms_sum{function=\"b911\"} 911.000");

    assert_bucket(text, "bbig", "910", 0);
    assert_bucket(text, "bbig", "+Inf", 1);
    assert_line(text, "Invocation_Duration_ms_sum{function=\"bbig\"} 10000000.000");
}

static void test_rejected_not_total(void **state)
{
    fixture *f = *state;
    open_segment(f, 8);
    metrics_observe(f->m, "busy", METRICS_REJECTED, 0);
    metrics_observe(f->m, "busy", METRICS_REJECTED, 12);
    const char *text = render(f, 1, 0);
    assert_total(text, "busy", 0);
    assert_count(text, "busy", 0);
    assert_bucket(text, "busy", "+Inf", 0);
    assert_line(text, "Invocation_Duration_ms_sum{function=\"busy\"} 0.000");
    assert_status(text, "busy", "rejected", 2);
    assert_status(text, "busy", "succeeded", 0);

    metrics_observe(f->m, "busy", METRICS_SUCCEEDED, 20);
    text = render(f, 1, 0);
    assert_total(text, "busy", 1);
    assert_count(text, "busy", 1);
    assert_status(text, "busy", "rejected", 2);
    assert_status(text, "busy", "succeeded", 1);
}

static void test_overflow(void **state)
{
    fixture *f = *state;
    open_segment(f, 2);
    /* Nothing has overflowed yet: no _overflow series. */
    metrics_observe(f->m, "f1", METRICS_SUCCEEDED, 1);
    metrics_observe(f->m, "f2", METRICS_SUCCEEDED, 1);
    const char *text = render(f, 2, 0);
    assert_null(strstr(text, "_overflow"));
    assert_total(text, "f1", 1);
    assert_total(text, "f2", 1);

    /* Two more distinct names: the table is full, they count as _overflow. */
    metrics_observe(f->m, "f3", METRICS_SUCCEEDED, 1);
    metrics_observe(f->m, "f4", METRICS_FAILED, 500);
    metrics_observe(f->m, "f4", METRICS_REJECTED, 0);
    metrics_observe(f->m, "f5", METRICS_SUCCEEDED, 2000);
    /* Names that already have a slot keep it. */
    metrics_observe(f->m, "f1", METRICS_SUCCEEDED, 1);
    metrics_observe(f->m, "f2", METRICS_SUCCEEDED, 1);
    text = render(f, 5, 0);
    assert_total(text, "f1", 2);
    assert_total(text, "f2", 2);
    assert_total(text, "_overflow", 3);
    assert_count(text, "_overflow", 3);
    assert_bucket(text, "_overflow", "10", 1);
    assert_bucket(text, "_overflow", "510", 2);
    assert_bucket(text, "_overflow", "+Inf", 3);
    assert_status(text, "_overflow", "succeeded", 2);
    assert_status(text, "_overflow", "failed", 1);
    assert_status(text, "_overflow", "rejected", 1);
    assert_null(strstr(text, "\"f3\""));
    assert_null(strstr(text, "\"f4\""));
    assert_null(strstr(text, "\"f5\""));
    assert_int_equal(count_lines(text, "Total_Invocations{"), 3);
    assert_int_equal(count_lines(text, "Total_Invocations{function=\"_overflow\"}"), 1);
}

static void test_overflow_in_flight_only(void **state)
{
    fixture *f = *state;
    open_segment(f, 1);
    metrics_observe(f->m, "only", METRICS_SUCCEEDED, 1);
    metrics_begin(f->m, 0, 0, "other");
    const char *text = render(f, 2, 0);
    assert_in_flight(text, "_overflow", 1);
    assert_total(text, "_overflow", 0);
    metrics_end(f->m, 0, 0);
    metrics_observe(f->m, "other", METRICS_SUCCEEDED, 1);
    text = render(f, 2, 0);
    assert_in_flight(text, "_overflow", 0);
    assert_total(text, "_overflow", 1);
    assert_total(text, "only", 1);
}

static void test_in_flight(void **state)
{
    fixture *f = *state;
    open_segment(f, 8);
    metrics_begin(f->m, 0, 0, "fly");
    metrics_begin(f->m, 0, 1, "fly");
    metrics_begin(f->m, 1, 0, "other");
    const char *text = render(f, 2, 0);
    assert_in_flight(text, "fly", 2);
    assert_in_flight(text, "other", 1);
    /* Beginning is not an invocation yet. */
    assert_total(text, "fly", 0);

    metrics_observe(f->m, "fly", METRICS_SUCCEEDED, 3);
    metrics_end(f->m, 0, 0);
    text = render(f, 2, 0);
    assert_in_flight(text, "fly", 1);
    assert_total(text, "fly", 1);

    metrics_end(f->m, 0, 1);
    metrics_end(f->m, 1, 0);
    text = render(f, 2, 0);
    assert_in_flight(text, "fly", 0);
    assert_in_flight(text, "other", 0);
}

static void test_reset_row(void **state)
{
    fixture *f = *state;
    open_segment(f, 8);
    /* Row 1 dies with two invocations begun; row 0's is untouched. */
    metrics_begin(f->m, 1, 0, "crash");
    metrics_begin(f->m, 1, 3, "crash");
    metrics_begin(f->m, 0, 0, "crash");
    metrics_reset_row(f->m, 1);
    const char *text = render(f, 1, 0);
    assert_in_flight(text, "crash", 1);
    assert_total(text, "crash", 2);
    assert_status(text, "crash", "error", 2);
    assert_count(text, "crash", 2);
    /* A second reset finds nothing more; row 0 ends normally. */
    metrics_reset_row(f->m, 1);
    metrics_end(f->m, 0, 0);
    metrics_end(f->m, 0, 0); /* ending twice is harmless */
    text = render(f, 1, 0);
    assert_in_flight(text, "crash", 0);
    assert_total(text, "crash", 2);
}

#define CHILDREN 4
#define PER_CHILD 1000
#define SHARED_NAMES 50

/* A child: wait for the go signal, then count on the shared segment. */
static void child_run(metrics_t *m, int row, int go_fd)
{
    char c;
    if (read(go_fd, &c, 1) != 1)
        _exit(2);
    for (int i = 0; i < PER_CHILD; i++) {
        char name[32];
        metrics_observe(m, "shared", METRICS_SUCCEEDED, (double)(i % 1000));
        /* Every child claims the same fresh names at about the same time:
         * the slot claim must give each name exactly one slot. */
        snprintf(name, sizeof(name), "n%d", i % SHARED_NAMES);
        if (i < SHARED_NAMES)
            metrics_observe(m, name, METRICS_FAILED, 1);
        /* Each child is its own process row, as workers are. */
        metrics_begin(m, row, 0, "shared");
        metrics_end(m, row, 0);
    }
    metrics_http(m, 1, 200);
    _exit(0);
}

static void test_concurrent_processes(void **state)
{
    fixture *f = *state;
    int go[2];
    pid_t pids[CHILDREN];
    open_segment(f, 256);
    assert_int_equal(pipe(go), 0);
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            close(go[1]);
            child_run(f->m, c, go[0]);
        }
    }
    close(go[0]);
    /* Release them together. */
    char ones[CHILDREN];
    memset(ones, 'g', sizeof(ones));
    assert_int_equal(write(go[1], ones, sizeof(ones)), CHILDREN);
    close(go[1]);
    for (int c = 0; c < CHILDREN; c++) {
        int st = 0;
        assert_int_equal(waitpid(pids[c], &st, 0), pids[c]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }

    const char *text = render(f, 1, 0);
    assert_total(text, "shared", CHILDREN * PER_CHILD);
    assert_count(text, "shared", CHILDREN * PER_CHILD);
    assert_bucket(text, "shared", "+Inf", CHILDREN * PER_CHILD);
    /* Durations 0..999 once each per child: 0..10 is 11 values. */
    assert_bucket(text, "shared", "10", CHILDREN * 11);
    assert_bucket(text, "shared", "910", CHILDREN * 911);
    assert_status(text, "shared", "succeeded", CHILDREN * PER_CHILD);
    assert_in_flight(text, "shared", 0);
    /* sum of 0..999 = 499500 per child */
    assert_line(text, "Invocation_Duration_ms_sum{function=\"shared\"} 1998000.000");
    for (int i = 0; i < SHARED_NAMES; i++) {
        char name[32];
        snprintf(name, sizeof(name), "n%d", i);
        assert_total(text, name, CHILDREN);
        assert_status(text, name, "failed", CHILDREN);
    }
    assert_int_equal(count_lines(text, "Total_Invocations{"), SHARED_NAMES + 1);
    assert_null(strstr(text, "_overflow"));
    assert_line(text, "minilambda_http_requests_total{route=\"/functions\",code=\"200\"} 4");
}

static void test_http_counters(void **state)
{
    fixture *f = *state;
    open_segment(f, 4);
    metrics_http(f->m, 1, 200);
    metrics_http(f->m, 1, 200);
    metrics_http(f->m, 1, 404);
    metrics_http(f->m, 2, 429);
    metrics_http(f->m, 2, 504);
    metrics_http(f->m, 2, 418); /* not tracked individually: "other" */
    metrics_http(f->m, 0, 404);
    metrics_http(f->m, -1, 404); /* out of range: route 0 */
    metrics_http(f->m, 99, 404);
    const char *text = render(f, 0, 0);
    assert_line(text, "minilambda_http_requests_total{route=\"/functions\",code=\"200\"} 2");
    assert_line(text, "minilambda_http_requests_total{route=\"/functions\",code=\"404\"} 1");
    assert_line(text, "minilambda_http_requests_total{route=\"/invoke/{ref}\",code=\"429\"} 1");
    assert_line(text, "minilambda_http_requests_total{route=\"/invoke/{ref}\",code=\"504\"} 1");
    assert_line(text, "minilambda_http_requests_total{route=\"/invoke/{ref}\",code=\"other\"} 1");
    assert_line(text, "minilambda_http_requests_total{route=\"other\",code=\"404\"} 3");
    /* Zero counters are left out. */
    assert_no_line(text, "minilambda_http_requests_total{route=\"/functions\",code=\"201\"} 0");
    assert_int_equal(count_lines(text, "minilambda_http_requests_total{"), 6);
    /* No function series came from HTTP counting. */
    assert_null(strstr(text, "function="));
}

static void test_render_full_buffer(void **state)
{
    fixture *f = *state;
    buf_t small;
    metrics_gauges g = {.functions = 1, .queue_depth = 0};
    open_segment(f, 8);
    metrics_observe(f->m, "x", METRICS_SUCCEEDED, 1);
    metrics_http(f->m, 1, 200);
    size_t full = strlen(render(f, 1, 0));
    /* Exactly big enough: fits. */
    buf_init(&small, full);
    assert_int_equal(metrics_render(f->m, &g, &small), 0);
    assert_int_equal(small.len, full);
    buf_free(&small);
    /* Too small at any point of the exposition: always -1, never more than
     * the bound. */
    for (size_t max = 0; max < full; max++) {
        buf_init(&small, max);
        assert_int_equal(metrics_render(f->m, &g, &small), -1);
        assert_true(small.len <= max);
        buf_free(&small);
    }
}

static void test_create_errors_and_recreate(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    /* Not a valid shm name (a slash inside): an error, no mapping. */
    metrics_t *bad = metrics_create("/ml-test/bad", 4, 1, 1, 300, err, sizeof(err));
    assert_null(bad);
    assert_true(strlen(err) > 0);

    /* A leftover segment of an earlier run is replaced by a fresh one. */
    open_segment(f, 4);
    metrics_observe(f->m, "old", METRICS_SUCCEEDED, 1);
    metrics_close(f->m, 0);
    f->m = metrics_create(f->name, 4, 1, 1, 300, err, sizeof(err));
    assert_non_null(f->m);
    const char *text = render(f, 0, 0);
    assert_null(strstr(text, "function="));

    metrics_close(NULL, 1); /* harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gauges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_function_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longest_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_not_total, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_in_flight_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_full_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors_and_recreate, setup, teardown),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
