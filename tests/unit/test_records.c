/*
 * Unit tests for the records of synchronous calls: a record round trip with
 * its output cut to the cap, refused calls, listing newest first with
 * filters and cursors (stable while records are added), the per-function
 * cap, retention and byte cap with the janitor's pruning, torn index lines,
 * and a segment deleted under a writer, in a temporary data dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "history/records.h"

#define FN_A "123e4567-e89b-42d3-a456-426614174000"
#define FN_B "223e4567-e89b-42d3-a456-426614174000"

typedef struct {
    char dir[64];
    records_limits lim;
    records_t *r;
    func_t *fa, *fb;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    err_t e;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ml-records-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->lim = (records_limits){.enabled = true,
                              .output_max = 16,
                              .per_function = 1000,
                              .max_bytes = 1LL << 30,
                              .retention_s = 3600};
    f->r = records_open(f->dir, &f->lim, &e);
    f->fa = func_parse(json_tokener_parse("{\"id\":\"" FN_A "\",\"name\":\"alpha\"}"), &e);
    f->fb = func_parse(json_tokener_parse("{\"id\":\"" FN_B "\",\"name\":\"beta\"}"), &e);
    *state = f;
    return f->r != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    records_close(f->r);
    func_free(f->fa);
    func_free(f->fb);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Reopen the fixture's records with its (changed) limits. */
static void reopen(fixture *f)
{
    err_t e;
    records_close(f->r);
    f->r = records_open(f->dir, &f->lim, &e);
    assert_non_null(f->r);
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static long long num(json_object *o, const char *key)
{
    return json_object_get_int64(json_object_object_get(o, key));
}

/* Record one call of `fn` with id `id` created at `created_ms` that ended
 * `st` with `out` on stdout. */
static void add_as(fixture *f, const func_t *fn, long long created_ms, status_outcome st,
                   const char *out, const char *id)
{
    runtime_result res;
    err_t e;
    runtime_result_init(&res);
    res.status = st;
    res.exit_code = st == STATUS_SUCCEEDED ? 0 : 3;
    res.started = true;
    res.start = METRICS_START_COLD;
    res.duration_ms = 12;
    buf_append(&res.out, out, strlen(out));
    buf_append(&res.err, "log line", 8);
    records_call c = {.id = id,
                      .function = fn,
                      .created_ms = created_ms,
                      .timeout_s = 5,
                      .creator = "key-1",
                      .res = &res,
                      .http_status = status_http(st),
                      .code = status_code(st)};
    assert_int_equal(records_append(f->r, &c, &e), 0);
    runtime_result_free(&res);
}

/* add_as with a new id, into `id`. */
static void add(fixture *f, const func_t *fn, long long created_ms, status_outcome st,
                const char *out, char *id)
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    add_as(f, fn, created_ms, st, out, id);
}

/* List with `q`; the caller frees the array. */
static json_object *list(fixture *f, records_query q)
{
    json_object *out = NULL;
    err_t e;
    if (q.limit == 0)
        q.limit = 100;
    if (q.status == 0 && q.since_ms == 0) {
        q.status = -1;
        q.since_ms = -1;
    }
    assert_int_equal(records_list(f->r, &q, &out, &e), 0);
    return out;
}

static bool found(fixture *f, const char *id)
{
    json_object *rec = NULL;
    err_t e;
    int rc = records_get(f->r, id, &rec, &e);
    json_object_put(rec);
    if (rc != 0)
        assert_int_equal(e.kind, ERR_NOT_FOUND);
    return rc == 0;
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    json_object *rec = NULL;
    err_t e;
    long long now = clock_wall_ms();

    add(f, f->fa, now, STATUS_FAILED, "0123456789abcdefXYZ\n\"quoted\"", id);
    assert_int_equal(records_get(f->r, id, &rec, &e), 0);
    assert_string_equal(str(rec, "id"), id);
    assert_string_equal(str(rec, "type"), "sync");
    assert_string_equal(str(rec, "function_id"), FN_A);
    assert_string_equal(str(rec, "function_name"), "alpha");
    assert_string_equal(str(rec, "status"), "FAILED");
    assert_string_equal(str(rec, "start"), "cold");
    assert_string_equal(str(rec, "code"), "function_failed");
    assert_string_equal(str(rec, "created_by"), "key-1");
    assert_int_equal(num(rec, "http_status"), 502);
    assert_int_equal(num(rec, "timeout"), 5);
    long long created;
    assert_int_equal(clock_parse_rfc3339_ms(str(rec, "created_at"), &created), 0);
    assert_int_equal(created, now);
    json_object *result = json_object_object_get(rec, "result");
    /* Cut to the 16-byte cap, and said so. */
    assert_string_equal(str(result, "output"), "0123456789abcdef");
    assert_string_equal(str(result, "logs"), "log line");
    assert_int_equal(num(result, "output_bytes"), 28);
    assert_int_equal(num(result, "exit_code"), 3);
    assert_int_equal(num(result, "duration_ms"), 12);
    assert_true(json_object_get_boolean(json_object_object_get(rec, "truncated")));
    json_object_put(rec);

    /* Unknown and malformed ids. */
    assert_false(found(f, "00000000-0000-4000-8000-000000000000"));
    assert_false(found(f, "../../etc/passwd"));
}

static void test_refused(void **state)
{
    fixture *f = *state;
    json_object *rec = NULL;
    err_t e;
    const char *id = "33333333-0000-4000-8000-000000000000";
    records_call c = {.id = id,
                      .function = f->fb,
                      .created_ms = clock_wall_ms(),
                      .http_status = 429,
                      .code = "too_many_requests",
                      .error = "all 2 invocation slots are busy"};
    assert_int_equal(records_append(f->r, &c, &e), 0);
    assert_int_equal(records_get(f->r, id, &rec, &e), 0);
    assert_string_equal(str(rec, "status"), "REJECTED");
    assert_string_equal(str(rec, "error"), "all 2 invocation slots are busy");
    assert_null(json_object_object_get(rec, "result"));
    assert_null(str(rec, "started_at"));
    json_object_put(rec);
    json_object *l = list(f, (records_query){.status = STATUS_REC_REJECTED, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 1);
    assert_int_equal(num(json_object_array_get_idx(l, 0), "http_status"), 429);
    assert_null(str(json_object_array_get_idx(l, 0), "exit_code"));
    json_object_put(l);
}

static void test_list_filters(void **state)
{
    fixture *f = *state;
    char ids[10][RUNTIME_ID_LEN];
    long long t = clock_wall_ms() - 10000;
    for (int i = 0; i < 10; i++)
        add(f, i % 2 ? f->fb : f->fa, t + i * 100, i == 4 ? STATUS_TIMEOUT : STATUS_SUCCEEDED,
            "out", ids[i]);

    json_object *l = list(f, (records_query){0});
    assert_int_equal(json_object_array_length(l), 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(str(json_object_array_get_idx(l, (size_t)i), "id"), ids[9 - i]);
    /* Listed records carry no output. */
    assert_null(json_object_object_get(json_object_array_get_idx(l, 0), "result"));
    json_object_put(l);

    l = list(f, (records_query){.function = "alpha", .status = -1, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 5);
    assert_string_equal(str(json_object_array_get_idx(l, 0), "function_name"), "alpha");
    json_object_put(l);
    l = list(f, (records_query){.function = FN_B, .status = -1, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 5);
    json_object_put(l);
    l = list(f, (records_query){.function = "gamma", .status = -1, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 0);
    json_object_put(l);
    l = list(f, (records_query){.status = STATUS_REC_TIMEOUT, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 1);
    assert_string_equal(str(json_object_array_get_idx(l, 0), "id"), ids[4]);
    json_object_put(l);
    l = list(f, (records_query){.status = -1, .since_ms = t + 700});
    assert_int_equal(json_object_array_length(l), 3);
    json_object_put(l);
}

static void test_cursor_paging(void **state)
{
    fixture *f = *state;
    char ids[25][RUNTIME_ID_LEN], extra[RUNTIME_ID_LEN], text[RECORDS_CURSOR_LEN];
    long long t = clock_wall_ms() - 60000;
    records_key cur;
    bool seen[25] = {false};
    int pages = 0, total = 0;

    for (int i = 0; i < 25; i++)
        add(f, i % 3 ? f->fa : f->fb, t + i, STATUS_SUCCEEDED, "x", ids[i]);
    records_query q = {.status = -1, .since_ms = -1, .limit = 10};
    for (;;) {
        json_object *l = list(f, q);
        size_t n = json_object_array_length(l);
        pages++;
        for (size_t i = 0; i < n; i++) {
            const char *id = str(json_object_array_get_idx(l, i), "id");
            for (int k = 0; k < 25; k++)
                if (strcmp(id, ids[k]) == 0) {
                    assert_false(seen[k]);
                    seen[k] = true;
                    total++;
                }
        }
        /* A record written between pages is newer than every cursor: it
         * never shifts what the next page holds. */
        if (pages == 1)
            add(f, f->fa, clock_wall_ms(), STATUS_SUCCEEDED, "new", extra);
        if (n < 10) {
            json_object_put(l);
            break;
        }
        assert_int_equal(records_key_of(json_object_array_get_idx(l, n - 1), &cur), 0);
        assert_int_equal(records_cursor_encode(&cur, text, sizeof(text)), 0);
        json_object_put(l);
        static records_key dec;
        assert_int_equal(records_cursor_decode(text, &dec), 0);
        assert_int_equal(records_key_cmp(&dec, &cur), 0);
        q.before = &dec;
    }
    assert_int_equal(pages, 3);
    assert_int_equal(total, 25);

    records_key k;
    assert_int_equal(records_cursor_decode("", &k), -1);
    assert_int_equal(records_cursor_decode("not a cursor", &k), -1);
    assert_int_equal(records_cursor_decode("MS4xMjM", &k), -1); /* "1.123": no id */
}

static void test_cap(void **state)
{
    fixture *f = *state;
    char ids[40][RUNTIME_ID_LEN];
    records_pruned p;
    err_t e;
    f->lim.per_function = 5;
    reopen(f);
    long long t = clock_wall_ms() - 1000;
    for (int i = 0; i < 40; i++)
        add(f, f->fa, t + i, STATUS_SUCCEEDED, "payload-payload", ids[i]);
    json_object *l = list(f, (records_query){.function = "alpha", .status = -1, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 5);
    assert_string_equal(str(json_object_array_get_idx(l, 0), "id"), ids[39]);
    json_object_put(l);
    assert_true(found(f, ids[39]));
    assert_true(found(f, ids[35]));
    assert_false(found(f, ids[34]));
    assert_false(found(f, ids[0]));
    assert_int_equal(records_prune(f->r, clock_wall_ms(), &p, &e), 0);
    assert_true(found(f, ids[35]));
    assert_false(found(f, ids[0]));
}

/* Refusals (REJECTED, nothing ran) have their own cap and byte share: a
 * flood of them on one function pushes out neither that function's records
 * of calls that ran nor another function's. */
static void test_refusals_apart(void **state)
{
    fixture *f = *state;
    char ran_a[RUNTIME_ID_LEN], ran_b[RUNTIME_ID_LEN], ids[400][RUNTIME_ID_LEN];
    records_pruned p;
    err_t e;
    f->lim.per_function = 5;
    f->lim.max_bytes = 262144; /* refusals: a quarter, in blocks */
    reopen(f);
    long long t = clock_pool_ms() - 10000;
    add(f, f->fa, t, STATUS_SUCCEEDED, "ran", ran_a);
    add(f, f->fb, t + 1, STATUS_SUCCEEDED, "ran", ran_b);
    for (int i = 0; i < 400; i++) {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, ids[i]);
        records_call c = {.id = ids[i],
                          .function = f->fa,
                          .created_ms = t + 2 + i,
                          .http_status = 400,
                          .code = "invalid_json",
                          .error = "the request body is not valid JSON (unexpected end)"};
        assert_int_equal(records_append(f->r, &c, &e), 0);
    }
    assert_true(found(f, ran_a));
    assert_true(found(f, ids[399]));
    assert_true(found(f, ids[395]));
    assert_false(found(f, ids[394]));
    json_object *l = list(f, (records_query){.function = "alpha", .status = -1, .since_ms = -1});
    assert_int_equal(json_object_array_length(l), 6);
    assert_string_equal(str(json_object_array_get_idx(l, 5), "id"), ran_a);
    json_object_put(l);
    f->lim.per_function = 1000;
    reopen(f);
    assert_int_equal(records_prune(f->r, clock_pool_ms(), &p, &e), 0);
    assert_true(p.segments > 0);
    assert_true(found(f, ran_a));
    assert_true(found(f, ran_b));
    assert_true(found(f, ids[399]));
    assert_false(found(f, ids[0]));
}

static void test_retention_and_bytes(void **state)
{
    fixture *f = *state;
    char ids[200][RUNTIME_ID_LEN], big[2048];
    records_pruned p;
    err_t e;
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    f->lim.output_max = sizeof(big);
    f->lim.max_bytes = 262144;
    reopen(f);
    for (int i = 0; i < 200; i++)
        add(f, i % 2 ? f->fa : f->fb, clock_wall_ms(), STATUS_SUCCEEDED, big, ids[i]);
    assert_int_equal(records_prune(f->r, clock_wall_ms(), &p, &e), 0);
    assert_true(p.segments > 0);
    /* Counted in blocks: each id shard a record touched takes one more. */
    assert_true(p.bytes_left <= 262144 + 200 * 128 + 256 * 4096);
    /* The newest stay, the oldest went. */
    assert_true(found(f, ids[199]));
    assert_false(found(f, ids[0]));
    /* Another pass finds nothing more to do. */
    assert_int_equal(records_prune(f->r, clock_wall_ms(), &p, &e), 0);
    assert_int_equal(p.segments, 0);
    assert_true(found(f, ids[199]));

    /* Past the retention, everything goes, a quarter of each function's
     * segments per pass (a clock that jumped ahead thins the history, never
     * empties it at once): the newest stay after the first pass. */
    long long later = clock_wall_ms() + f->lim.retention_s * 1000 + 60000;
    assert_int_equal(records_prune(f->r, later, &p, &e), 0);
    assert_true(p.segments > 0);
    assert_true(found(f, ids[199]));
    int passes = 1;
    do {
        assert_int_equal(records_prune(f->r, later, &p, &e), 0);
        passes++;
    } while (p.segments > 0 && passes < 100);
    assert_true(passes > 2);
    assert_false(found(f, ids[199]));
    json_object *l = list(f, (records_query){0});
    assert_int_equal(json_object_array_length(l), 0);
    json_object_put(l);
    char again[RUNTIME_ID_LEN];
    add(f, f->fa, clock_wall_ms(), STATUS_SUCCEEDED, "x", again);
    assert_true(found(f, again));
}

/* Append `text` to `path` as a crash mid-write would leave it. */
static void tear(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_torn_and_deleted(void **state)
{
    fixture *f = *state;
    char a[RUNTIME_ID_LEN], b[RUNTIME_ID_LEN], c[RUNTIME_ID_LEN], path[256];
    struct stat st;
    long long t = clock_wall_ms() - 1000;
    add(f, f->fa, t, STATUS_SUCCEEDED, "a", a);
    /* Appends cut short (a full disk, a crash) leave part of a line at the
     * end of the log, the index and the id shard the next record uses. */
    snprintf(path, sizeof(path), "%s/records/fn/" FN_A "/0000000001.idx", f->dir);
    tear(path, "0000000000001 torn");
    snprintf(path, sizeof(path), "%s/records/fn/" FN_A "/0000000001.log", f->dir);
    tear(path, "{\"id\":\"torn");
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, b);
    snprintf(path, sizeof(path), "%s/records/ids/%.2s", f->dir, b);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    tear(path, "torn id line");
    add_as(f, f->fa, t + 1, STATUS_SUCCEEDED, "b", b);
    add(f, f->fa, t + 2, STATUS_SUCCEEDED, "c", c);
    json_object *l = list(f, (records_query){0});
    /* The writers padded past each torn tail: no record is lost. */
    assert_int_equal(json_object_array_length(l), 3);
    assert_string_equal(str(json_object_array_get_idx(l, 0), "id"), c);
    assert_string_equal(str(json_object_array_get_idx(l, 1), "id"), b);
    assert_string_equal(str(json_object_array_get_idx(l, 2), "id"), a);
    json_object_put(l);
    assert_true(found(f, a));
    assert_true(found(f, b));
    assert_true(found(f, c));
    /* Fixed-width files stay whole lines. */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size % 128, 0);
    snprintf(path, sizeof(path), "%s/records/fn/" FN_A "/0000000001.idx", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size % 192, 0);

    /* The janitor deletes the segment a writer holds open: the next record
     * goes to a fresh one and can be read. */
    unlink(path);
    snprintf(path, sizeof(path), "%s/records/fn/" FN_A "/0000000001.log", f->dir);
    unlink(path);
    add(f, f->fa, clock_wall_ms(), STATUS_SUCCEEDED, "after", a);
    assert_true(found(f, a));
}

static void test_off(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    f->lim.enabled = false;
    reopen(f);
    add(f, f->fa, clock_wall_ms(), STATUS_SUCCEEDED, "x", id);
    assert_false(found(f, id));
}

/* The whole bytes of the first file under `dir` whose name ends in `suffix`
 * into `out` (NUL-terminated); their count. */
static size_t slurp(const char *dir, const char *suffix, char *out, size_t cap)
{
    char cmd[256], path[256];
    snprintf(cmd, sizeof(cmd), "find '%s' -type f -path '*%s' | head -1", dir, suffix);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(path, sizeof(path), p));
    pclose(p);
    path[strcspn(path, "\n")] = '\0';
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    size_t n = fread(out, 1, cap - 1, in);
    fclose(in);
    out[n] = '\0';
    return n;
}

/* The column tables write the lines byte for byte as the formats always
 * were (the printf formats they replaced, kept here as the reference):
 * files written before read the same, and after. */
static void test_line_formats(void **state)
{
    fixture *f = *state;
    const char *id = "7d3c1e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
    /* Within the retention, or the record is not there to read back. */
    long long created = clock_pool_ms() - 5000, done = created + 4444;
    runtime_result res;
    err_t e;
    runtime_result_init(&res);
    res.status = STATUS_FAILED;
    res.exit_code = -1;
    res.started = true;
    res.start = METRICS_START_COLD;
    res.duration_ms = 4321;
    buf_append(&res.out, "out", 3);
    records_call c = {.id = id,
                      .function = f->fa,
                      .created_ms = created,
                      .done_ms = done,
                      .timeout_s = 7,
                      .creator = "",
                      .res = &res,
                      .http_status = 502,
                      .code = "function_failed"};
    assert_int_equal(records_append(f->r, &c, &e), 0);
    runtime_result_free(&res);

    char log[4096], idx[512], ids[512], want[512];
    size_t loglen = slurp(f->dir, ".log", log, sizeof(log));
    assert_true(loglen > 1);
    assert_int_equal(slurp(f->dir, ".idx", idx, sizeof(idx)), 192);
    int n = snprintf(want, sizeof(want),
                     "%013lld %013lld %-36.36s %d %c %010lld %012lld %010zu %4d %d %03d "
                     "%-36.36s %-24.24s %03d",
                     created, done, id, (int)status_sync(STATUS_FAILED), 'c', 4321LL, 0LL,
                     loglen - 1, -1, 0, 502, "-", "function_failed", 7);
    memset(want + n, ' ', 191 - (size_t)n);
    want[191] = '\n';
    want[192] = '\0';
    assert_string_equal(idx, want);

    /* The id shard is named for the id's first two characters; the first
     * segment is 1. */
    assert_int_equal(slurp(f->dir, "/ids/7d", ids, sizeof(ids)), 128);
    n = snprintf(want, sizeof(want), "%-36.36s %-36.36s %010lld %012lld %010zu %012lld %c", id,
                 FN_A, 1LL, 0LL, loglen, 0LL, 's');
    memset(want + n, ' ', 127 - (size_t)n);
    want[127] = '\n';
    want[128] = '\0';
    assert_string_equal(ids, want);

    /* And they read back. */
    json_object *rec = NULL;
    assert_int_equal(records_get(f->r, id, &rec, &e), 0);
    assert_string_equal(str(rec, "status"), "FAILED");
    json_object_put(rec);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),       T(test_refused), T(test_list_filters),
        T(test_cursor_paging),    T(test_cap),     T(test_retention_and_bytes),
        T(test_torn_and_deleted), T(test_off),     T(test_refusals_apart),
        T(test_line_formats),
    };
#undef T
    return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
