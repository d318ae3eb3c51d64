/*
 * records: the cost of sync invocation records (fcgi-app/records.c) for
 * scripts/bench-records, in-process, in a data dir of its own:
 *
 *   records DIR N FUNCTIONS REPS
 *
 * writes N records spread round-robin over FUNCTIONS functions through
 * records_append (each a small call: 20 bytes of stdout, 8 of stderr; one
 * in 100 FAILED; completed 10 ms apart up to now, as 100 calls a second
 * would), timing every append; then times REPS times each listing:
 * the newest 50 of all, of one function, the page after those (cursor),
 * the newest 50 FAILED (sparse), and the newest 50 since a minute ago; and
 * REPS lookups by id of records spread over the whole set. Prints one line
 * per figure: "name p50 p99 max" in milliseconds (appends in
 * microseconds). Page-cache warm: what a running platform sees.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/config.h"
#include "history/records.h"

#define BENCH_PAGE 50

static int bench_cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Print "name p50 p99 max" of `n` samples in microseconds, scaled by
 * `div` (1: µs, 1000: ms). */
static void bench_print(const char *name, long long *v, size_t n, double div)
{
    qsort(v, n, sizeof(*v), bench_cmp);
    size_t i50 = n / 2, i99 = n * 99 / 100;
    printf("%s %.3f %.3f %.3f\n", name, (double)v[i50] / div,
           (double)v[i99 < n ? i99 : n - 1] / div, (double)v[n - 1] / div);
}

/* Time `reps` listings of `q`; 0, or -1 when one fails or lists less than
 * `want`. */
static int bench_list(records_t *r, const char *name, const records_query *q, int reps, size_t want)
{
    long long *t = calloc((size_t)reps, sizeof(*t));
    err_t e;
    int rc = 0;
    for (int i = 0; i < reps && rc == 0; i++) {
        json_object *out = NULL;
        long long t0 = clock_mono_us();
        rc = records_list(r, q, &out, &e);
        t[i] = clock_mono_us() - t0;
        if (rc == 0 && json_object_array_length(out) < want) {
            fprintf(stderr, "%s: listed %zu, expected %zu\n", name, json_object_array_length(out),
                    want);
            rc = -1;
        } else if (rc != 0) {
            fprintf(stderr, "%s: %s\n", name, e.msg);
        }
        json_object_put(out);
    }
    if (rc == 0)
        bench_print(name, t, (size_t)reps, 1000.0);
    free(t);
    return rc;
}

int main(int argc, char **argv)
{
    long long n, fns, reps;
    err_t e;
    if (argc != 5 || config_parse_int(argv[2], 1, 100000000, &n) != 0 ||
        config_parse_int(argv[3], 1, 10000, &fns) != 0 ||
        config_parse_int(argv[4], 1, 100000, &reps) != 0) {
        fprintf(stderr, "usage: records DIR N FUNCTIONS REPS\n");
        return 2;
    }
    /* No cap but the count: every record stays listable. */
    records_limits lim = {.enabled = true,
                          .output_max = 65536,
                          .per_function = 1000000000,
                          .max_bytes = 1LL << 40,
                          .retention_s = 365LL * 86400};
    records_t *r = records_open(argv[1], &lim, &e);
    if (r == NULL) {
        fprintf(stderr, "records_open: %s\n", e.msg);
        return 1;
    }
    func_t **fn = calloc((size_t)fns, sizeof(*fn));
    for (long long i = 0; i < fns; i++) {
        char text[128];
        uuid_t u;
        char id[RUNTIME_ID_LEN];
        uuid_generate_random(u);
        uuid_unparse_lower(u, id);
        snprintf(text, sizeof(text), "{\"id\":\"%s\",\"name\":\"bench-%lld\"}", id, i);
        fn[i] = func_parse(json_tokener_parse(text), &e);
        if (fn[i] == NULL) {
            fprintf(stderr, "func_parse: %s\n", e.msg);
            return 1;
        }
    }
    long long *t = calloc((size_t)n, sizeof(*t));
    size_t nsample = (size_t)reps;
    char(*sample)[RUNTIME_ID_LEN] = calloc(nsample, RUNTIME_ID_LEN);
    runtime_result res;
    runtime_result_init(&res);
    res.started = true;
    res.start = METRICS_START_COLD;
    res.duration_ms = 5;
    buf_append(&res.err, "log line", 8);
    long long step = n / (long long)nsample > 0 ? n / (long long)nsample : 1;
    size_t taken = 0;
    long long w0 = clock_mono_ms();
    for (long long i = 0; i < n; i++) {
        char id[RUNTIME_ID_LEN], out[32];
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, id);
        int len = snprintf(out, sizeof(out), "{\"ok\":true,\"n\":%lld}", i % 1000000);
        buf_reset(&res.out);
        buf_append(&res.out, out, (size_t)len);
        res.status = i % 100 == 99 ? STATUS_FAILED : STATUS_SUCCEEDED;
        /* A steady 100 calls a second up to now, each taking 5 ms: the
         * newest was just made when the listings start. */
        long long done = clock_wall_ms() - (n - 1 - i) * 10;
        res.exit_code = res.status == STATUS_FAILED ? 1 : 0;
        records_call c = {.id = id,
                          .function = fn[i % fns],
                          .created_ms = done - 5,
                          .done_ms = done,
                          .timeout_s = 60,
                          .res = &res,
                          .http_status = status_http(res.status),
                          .code = status_code(res.status)};
        long long t0 = clock_mono_us();
        if (records_append(r, &c, &e) != 0) {
            fprintf(stderr, "records_append: %s\n", e.msg);
            return 1;
        }
        t[i] = clock_mono_us() - t0;
        /* Ids to look up later, spread over the whole set. */
        if (i % step == 0 && i / step < (long long)nsample)
            snprintf(sample[taken++], RUNTIME_ID_LEN, "%s", id);
    }
    fprintf(stderr, "wrote %lld records in %.1f s\n", n, (double)(clock_mono_ms() - w0) / 1000.0);
    runtime_result_free(&res);
    bench_print("append_us", t, (size_t)n, 1.0);

    size_t page = (size_t)(n < BENCH_PAGE ? n : BENCH_PAGE);
    records_query all = {.status = -1, .since_ms = -1, .limit = BENCH_PAGE};
    records_query one = all;
    one.function = "bench-0";
    size_t per_fn = (size_t)(n / fns);
    int rc = bench_list(r, "list50_all_ms", &all, (int)reps, page) |
             bench_list(r, "list50_function_ms", &one, (int)reps, per_fn < page ? per_fn : page);
    /* The page after the first: from a cursor. */
    json_object *first = NULL;
    records_key after;
    if (records_list(r, &all, &first, &e) == 0 && json_object_array_length(first) > 0 &&
        records_key_of(json_object_array_get_idx(first, json_object_array_length(first) - 1),
                       &after) == 0) {
        records_query next = all;
        next.before = &after;
        rc |= bench_list(r, "list50_next_page_ms", &next, (int)reps,
                         n > 2 * BENCH_PAGE ? BENCH_PAGE : 0);
    }
    json_object_put(first);
    records_query failed = all;
    failed.status = STATUS_REC_FAILED;
    rc |= bench_list(r, "list50_failed_ms", &failed, (int)reps, n >= 100 * BENCH_PAGE ? page : 0);
    records_query since = all;
    since.since_ms = clock_wall_ms() - 60000;
    rc |= bench_list(r, "list50_since_1min_ms", &since, (int)reps, 0);

    for (size_t i = 0; i < taken; i++) {
        json_object *rec = NULL;
        long long t0 = clock_mono_us();
        if (records_get(r, sample[i], &rec, &e) != 0) {
            fprintf(stderr, "records_get %s: %s\n", sample[i], e.msg);
            rc = -1;
        }
        t[i] = clock_mono_us() - t0;
        json_object_put(rec);
    }
    bench_print("get_by_id_ms", t, taken, 1000.0);
    free(sample);
    free(t);
    for (long long i = 0; i < fns; i++)
        func_free(fn[i]);
    free(fn);
    records_close(r);
    return rc == 0 ? 0 : 1;
}
