/*
 * Unit tests for async records: acceptance, claims, outcomes and retries,
 * cancellation, listing, recovery of claims a dead executor held, and
 * pruning, in a temporary data dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "history/async.h"
#include "state/status.h"

#define FN_ID "123e4567-e89b-42d3-a456-426614174000"

typedef struct {
    char dir[64];
    async_t *a;
    func_t *fn;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    err_t e;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ml-async-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->a = async_open(f->dir, &e);
    f->fn =
        func_parse(json_tokener_parse("{\"id\":\"" FN_ID "\",\"name\":\"fn\",\"retries\":1}"), &e);
    *state = f;
    return f->a != NULL && f->fn != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    async_close(f->a);
    func_free(f->fn);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

/* Accept a run of the fixture's function; its id into `id`. */
static void accept_one(fixture *f, const char *event, char *id)
{
    json_object *rec = NULL;
    err_t e;
    assert_int_equal(async_accept(f->a, f->fn, event, strlen(event), 7, 0, "key-1", NULL, &rec, &e),
                     0);
    assert_string_equal(str(rec, "status"), "PENDING");
    assert_string_equal(str(rec, "function_name"), "fn");
    assert_string_equal(str(rec, "created_by"), "key-1");
    assert_int_equal(json_object_get_int(json_object_object_get(rec, "max_attempts")), 2);
    snprintf(id, RUNTIME_ID_LEN, "%s", str(rec, "id"));
    json_object_put(rec);
}

static const char *status_of(fixture *f, const char *id)
{
    static char out[32];
    json_object *rec = NULL;
    err_t e;
    if (async_get(f->a, id, &rec, &e) != 0)
        return "absent";
    snprintf(out, sizeof(out), "%s", str(rec, "status"));
    json_object_put(rec);
    return out;
}

static void result_of(runtime_result *res, status_outcome st, const char *out)
{
    runtime_result_init(res);
    res->status = st;
    res->exit_code = st == STATUS_SUCCEEDED ? 0 : 1;
    buf_append(&res->out, out, strlen(out));
}

static void test_accept_claim_finish(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    async_job job;
    long long next = 0;
    err_t e;
    runtime_result res;
    json_object *rec = NULL;

    accept_one(f, "{\"big\":123456789012345678901234567890}", id);
    assert_int_equal(async_queue_depth(f->a), 1);
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    assert_string_equal(job.id, id);
    assert_int_equal(job.attempt, 1);
    assert_int_equal(job.timeout_s, 7);
    assert_string_equal(job.function_id, FN_ID);
    /* The event comes back byte for byte. */
    assert_string_equal(job.event.data, "{\"big\":123456789012345678901234567890}");
    assert_string_equal(status_of(f, id), "RUNNING");
    assert_int_equal(async_queue_depth(f->a), 0);

    async_job other;
    assert_int_equal(async_claim(f->a, 1, &other, &next, &e), 0);
    assert_int_equal(next, -1);
    async_job_free(&other);

    result_of(&res, STATUS_SUCCEEDED, "done");
    assert_int_equal(async_finish(f->a, &job, &res, 1000, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    assert_int_equal(async_get(f->a, id, &rec, &e), 0);
    assert_string_equal(str(rec, "status"), "COMPLETED");
    assert_non_null(str(rec, "completed_at"));
    json_object *result = json_object_object_get(rec, "result");
    assert_string_equal(str(result, "output"), "done");
    assert_int_equal(json_object_get_int(json_object_object_get(result, "exit_code")), 0);
    json_object_put(rec);
    /* Finished: cancelling is a conflict. */
    bool running;
    assert_int_equal(async_cancel(f->a, id, &rec, &running, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_string_equal(err_code(&e), "already_finished");
    assert_non_null(strstr(e.msg, "COMPLETED"));
}

/* A failure with attempts left goes back to PENDING, due after the
 * backoff; the last attempt's failure is final. */
static void test_retry_then_fail(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    async_job job;
    long long next = 0;
    err_t e;
    runtime_result res;

    accept_one(f, "{}", id);
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    result_of(&res, STATUS_FAILED, "");
    assert_int_equal(async_finish(f->a, &job, &res, 60000, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    assert_string_equal(status_of(f, id), "PENDING");
    /* Not due for a minute: nothing to claim, and the due time is known. */
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 0);
    assert_true(next > 0);
    async_job_free(&job);

    /* Retry with no backoff this time. */
    char id2[RUNTIME_ID_LEN];
    accept_one(f, "{}", id2);
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    result_of(&res, STATUS_TIMEOUT, "");
    assert_int_equal(async_finish(f->a, &job, &res, 1, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    /* Due 1 ms after the failure: poll for it, with a deadline. */
    int got = 0;
    for (long long until = clock_mono_ms() + 5000; got == 0 && clock_mono_ms() < until;) {
        got = async_claim(f->a, 0, &job, &next, &e);
        if (got == 0)
            async_job_free(&job);
    }
    assert_int_equal(got, 1);
    assert_string_equal(job.id, id2);
    assert_int_equal(job.attempt, 2);
    result_of(&res, STATUS_TIMEOUT, "");
    assert_int_equal(async_finish(f->a, &job, &res, 1, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    assert_string_equal(status_of(f, id2), "TIMEOUT");
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN], id2[RUNTIME_ID_LEN];
    json_object *rec = NULL;
    bool running = true;
    err_t e;
    async_job job;
    long long next;
    runtime_result res;

    accept_one(f, "{}", id);
    assert_int_equal(async_cancel(f->a, id, &rec, &running, &e), 0);
    assert_false(running);
    assert_string_equal(str(rec, "status"), "CANCELLED");
    json_object_put(rec);
    assert_true(async_is_cancelled(f->a, id));
    /* Its marker went: nothing to claim. */
    assert_int_equal(async_queue_depth(f->a), 0);
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 0);
    async_job_free(&job);

    /* A running one is reported running; its outcome does not overwrite
     * the cancellation. */
    accept_one(f, "{}", id2);
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    assert_int_equal(async_cancel(f->a, id2, &rec, &running, &e), 0);
    assert_true(running);
    json_object_put(rec);
    result_of(&res, STATUS_SUCCEEDED, "late");
    assert_int_equal(async_finish(f->a, &job, &res, 1000, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    assert_string_equal(status_of(f, id2), "CANCELLED");

    assert_int_equal(async_cancel(f->a, "not-an-id", &rec, &running, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(async_cancel(f->a, "00000000-0000-4000-8000-000000000000", &rec, &running, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
}

static void test_list(void **state)
{
    fixture *f = *state;
    char a[RUNTIME_ID_LEN], b[RUNTIME_ID_LEN];
    json_object *list = NULL, *rec = NULL;
    bool running;
    err_t e;

    accept_one(f, "{}", a);
    /* created_at has milliseconds: let the clock move on before the next. */
    for (long long t = clock_wall_ms(); clock_wall_ms() == t;)
        ;
    accept_one(f, "{}", b);
    assert_int_equal(async_cancel(f->a, a, &rec, &running, &e), 0);
    json_object_put(rec);
    assert_int_equal(async_list(f->a, NULL, NULL, NULL, NULL, 10, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 2);
    /* Newest first. */
    assert_string_equal(str(json_object_array_get_idx(list, 0), "id"), b);
    json_object_put(list);
    assert_int_equal(async_list(f->a, "fn", "cancelled", NULL, NULL, 10, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 1);
    assert_string_equal(str(json_object_array_get_idx(list, 0), "id"), a);
    json_object_put(list);
    assert_int_equal(async_list(f->a, FN_ID, "PENDING", NULL, NULL, 10, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 1);
    json_object_put(list);
    assert_int_equal(async_list(f->a, "other", NULL, NULL, NULL, 10, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 0);
    json_object_put(list);
    assert_int_equal(async_list(f->a, NULL, "NO_SUCH_STATUS", NULL, NULL, 10, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 0);
    json_object_put(list);
    assert_int_equal(async_list(f->a, NULL, NULL, NULL, NULL, 1, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 1);
    json_object_put(list);
}

/* Claims of a dead executor: requeued while attempts remain, else FAILED
 * "interrupted". */
static void test_recover(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    async_job job;
    long long next;
    err_t e;
    json_object *rec = NULL;

    accept_one(f, "{}", id);
    assert_int_equal(async_claim(f->a, 3, &job, &next, &e), 1);
    async_job_free(&job);
    assert_int_equal(async_recover(f->a, 2, &e), 0); /* another executor's: untouched */
    assert_string_equal(status_of(f, id), "RUNNING");
    assert_int_equal(async_recover(f->a, 3, &e), 1);
    assert_int_equal(async_get(f->a, id, &rec, &e), 0);
    assert_string_equal(str(rec, "status"), "PENDING");
    assert_string_equal(str(rec, "error"), "interrupted");
    json_object_put(rec);

    assert_int_equal(async_claim(f->a, 3, &job, &next, &e), 1);
    assert_int_equal(job.attempt, 2);
    async_job_free(&job);
    assert_int_equal(async_recover(f->a, -1, &e), 1);
    assert_int_equal(async_get(f->a, id, &rec, &e), 0);
    assert_string_equal(str(rec, "status"), "FAILED");
    assert_string_equal(str(rec, "error"), "interrupted");
    assert_non_null(str(rec, "completed_at"));
    json_object_put(rec);
    assert_int_equal(async_recover(f->a, -1, &e), 0);
}

static void test_prune(void **state)
{
    fixture *f = *state;
    char done[RUNTIME_ID_LEN], waiting[RUNTIME_ID_LEN];
    json_object *rec = NULL;
    bool running;
    err_t e;

    accept_one(f, "{}", done);
    accept_one(f, "{}", waiting);
    assert_int_equal(async_cancel(f->a, done, &rec, &running, &e), 0);
    json_object_put(rec);
    assert_int_equal(async_prune(f->a, 3600, &e), 0);
    assert_string_equal(status_of(f, done), "CANCELLED");
    assert_int_equal(async_prune(f->a, 0, &e), 1);
    assert_string_equal(status_of(f, done), "absent");
    /* Unfinished records are never pruned. */
    assert_string_equal(status_of(f, waiting), "PENDING");

    /* A records directory that cannot be read is an error that names the
     * call and the path, never "nothing to prune". */
    char records[128], away[140];
    snprintf(records, sizeof(records), "%s/async/records", f->dir);
    snprintf(away, sizeof(away), "%s.away", records);
    assert_int_equal(rename(records, away), 0);
    assert_int_equal(async_prune(f->a, 0, &e), -1);
    assert_int_equal(e.kind, ERR_STORAGE);
    assert_non_null(strstr(e.msg, "opendir("));
    assert_int_equal(async_bound(f->a, 1, 1, &e), -1);
    assert_int_equal(e.kind, ERR_STORAGE);
    assert_non_null(strstr(e.msg, "/async/records"));
    assert_int_equal(rename(away, records), 0);
    assert_string_equal(status_of(f, waiting), "PENDING");
}

/* Finish `n` runs of the fixture's function, each completed 10 s after
 * the one before (their record files' mtimes), ids into `ids`. */
static void finish_runs(fixture *f, int n, char ids[][RUNTIME_ID_LEN])
{
    json_object *rec = NULL;
    bool running;
    err_t e;
    for (int i = 0; i < n; i++) {
        char path[320];
        accept_one(f, "{}", ids[i]);
        assert_int_equal(async_cancel(f->a, ids[i], &rec, &running, &e), 0);
        json_object_put(rec);
        snprintf(path, sizeof(path), "%s/async/records/%s.json", f->dir, ids[i]);
        struct timespec t[2] = {{.tv_sec = 1700000000 + i * 10}, {.tv_sec = 1700000000 + i * 10}};
        assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
    }
}

static void test_bound(void **state)
{
    fixture *f = *state;
    char ids[5][RUNTIME_ID_LEN], waiting[RUNTIME_ID_LEN];
    err_t e;
    finish_runs(f, 5, ids);
    accept_one(f, "{}", waiting);
    /* Within both bounds: nothing goes. */
    assert_int_equal(async_bound(f->a, 10, 1LL << 40, &e), 0);
    /* Two per function: the three oldest finished go, the pending stays. */
    assert_int_equal(async_bound(f->a, 2, 1LL << 40, &e), 3);
    assert_string_equal(status_of(f, ids[0]), "absent");
    assert_string_equal(status_of(f, ids[2]), "absent");
    assert_string_equal(status_of(f, ids[3]), "CANCELLED");
    assert_string_equal(status_of(f, ids[4]), "CANCELLED");
    assert_string_equal(status_of(f, waiting), "PENDING");
    /* A byte cap nothing fits under: every finished one goes, oldest
     * first; the pending one is never deleted. */
    assert_int_equal(async_bound(f->a, 10, 1, &e), 2);
    assert_string_equal(status_of(f, ids[4]), "absent");
    assert_string_equal(status_of(f, waiting), "PENDING");
}

/* An acceptance under a chosen id (an Idempotency-Key's retry): a run
 * with that id already is returned as it is, queued again only when an
 * acceptance that died left it without its marker. */
static void test_accept_with_id(void **state)
{
    fixture *f = *state;
    const char *id = "0a3e4567-e89b-42d3-a456-426614174999";
    json_object *rec = NULL, *again = NULL;
    async_job job;
    long long next = 0;
    char cmd[160];
    err_t e;

    assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 0, NULL, id, &rec, &e), 0);
    assert_string_equal(str(rec, "id"), id);
    assert_int_equal(async_queue_depth(f->a), 1);
    assert_int_equal(async_accept(f->a, f->fn, "{\"x\":1}", 7, 9, 0, NULL, id, &again, &e), 0);
    assert_string_equal(str(again, "created_at"), str(rec, "created_at"));
    assert_int_equal(json_object_get_int(json_object_object_get(again, "timeout")), 7);
    assert_int_equal(async_queue_depth(f->a), 1);
    json_object_put(again);

    /* Died between its record and its marker: the retry queues it. */
    snprintf(cmd, sizeof(cmd), "rm -f %s/async/queue/*", f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(async_queue_depth(f->a), 0);
    assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 0, NULL, id, &again, &e), 0);
    json_object_put(again);
    assert_int_equal(async_queue_depth(f->a), 1);

    /* Claimed: never a second marker. */
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    async_job_free(&job);
    assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 0, NULL, id, &again, &e), 0);
    assert_string_equal(str(again, "status"), "RUNNING");
    json_object_put(again);
    assert_int_equal(async_queue_depth(f->a), 0);

    assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 0, NULL, "not-an-id", &again, &e), -1);
    assert_null(again);
    json_object_put(rec);
}

/* Overwrite records/<id><ext> with `len` bytes of `data`. */
static void damage(fixture *f, const char *id, const char *ext, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/async/records/%s%s", f->dir, id, ext);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Whether async/quarantine/<id><ext> exists. */
static bool quarantined(fixture *f, const char *id, const char *ext)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/async/quarantine/%s%s", f->dir, id, ext);
    return access(path, F_OK) == 0;
}

static void test_damaged(void **state)
{
    fixture *f = *state;
    char torn[RUNTIME_ID_LEN], cut[RUNTIME_ID_LEN], changed[RUNTIME_ID_LEN], ok[RUNTIME_ID_LEN];
    async_job job;
    long long next;
    err_t e;
    json_object *rec = NULL;
    accept_one(f, "{\"n\":1}", torn);
    accept_one(f, "{\"event\":\"thirty-four bytes long\"}", cut);
    accept_one(f, "{\"n\":3}", changed);
    accept_one(f, "{\"n\":4}", ok);
    damage(f, torn, ".json", "{\"id\":\"", 7);
    damage(f, cut, ".event", "{\"event\":", 10);
    damage(f, changed, ".event", "{\"n\":9}", 7);
    /* Only the sound run is claimed; the others end FAILED in its stead. */
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    assert_string_equal(job.id, ok);
    async_job other;
    assert_int_equal(async_claim(f->a, 0, &other, &next, &e), 0);
    async_job_free(&other);
    /* Damaged while it ran: its outcome is kept beside the FAILED record. */
    damage(f, ok, ".json", "{", 1);
    runtime_result res;
    result_of(&res, STATUS_SUCCEEDED, "ran");
    assert_int_equal(async_finish(f->a, &job, &res, 1000, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    assert_int_equal(async_get(f->a, ok, &rec, &e), 0);
    assert_string_equal(str(rec, "status"), "FAILED");
    assert_string_equal(str(rec, "code"), "record_corrupt");
    assert_string_equal(str(json_object_object_get(rec, "result"), "output"), "ran");
    json_object_put(rec);
    assert_true(quarantined(f, ok, ".json"));
    const char *bad[] = {torn, cut, changed};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(async_get(f->a, bad[i], &rec, &e), 0);
        assert_string_equal(str(rec, "status"), "FAILED");
        assert_string_equal(str(rec, "code"), "record_corrupt");
        assert_string_equal(str(rec, "function_id"), FN_ID);
        assert_non_null(str(rec, "completed_at"));
        assert_non_null(strstr(str(rec, "error"), "quarantine"));
        json_object_put(rec);
        assert_true(quarantined(f, bad[i], ".json"));
        assert_true(quarantined(f, bad[i], ".event"));
    }
    /* What it still knew is kept: the cut run's name and creator. */
    assert_int_equal(async_get(f->a, cut, &rec, &e), 0);
    assert_string_equal(str(rec, "function_name"), "fn");
    assert_string_equal(str(rec, "created_by"), "key-1");
    json_object_put(rec);
}

/* MINILAMBDA_ASYNC_MAX_PENDING: exactly `max` queued, the next refused; a
 * claim makes room. */
static void test_max_pending(void **state)
{
    fixture *f = *state;
    json_object *rec = NULL;
    async_job job;
    long long next = 0;
    err_t e;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 3, NULL, NULL, &rec, &e), 0);
        json_object_put(rec);
    }
    assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 3, NULL, NULL, &rec, &e), -1);
    assert_null(rec);
    assert_int_equal(e.kind, ERR_LIMIT);
    assert_string_equal(e.code, "queue_full");
    assert_int_equal(async_queue_depth(f->a), 3);
    assert_int_equal(async_claim(f->a, 0, &job, &next, &e), 1);
    async_job_free(&job);
    assert_int_equal(async_accept(f->a, f->fn, "{}", 2, 7, 3, NULL, NULL, &rec, &e), 0);
    json_object_put(rec);
    assert_int_equal(async_queue_depth(f->a), 3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_accept_claim_finish),
        T(test_retry_then_fail),
        T(test_cancel),
        T(test_list),
        T(test_recover),
        T(test_prune),
        T(test_bound),
        T(test_accept_with_id),
        T(test_damaged),
        T(test_max_pending),
    };
#undef T
    return cmocka_run_group_tests_name("async", tests, NULL, NULL);
}
