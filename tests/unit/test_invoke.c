/*
 * Unit tests for invoke, what test_runtime's bracket test leaves out: the
 * JSON text a run's output takes in records (invoke_text: bad bytes
 * replaced, a character cut at the cap dropped only when the capture is
 * full), the words of a start, and the one log line each run leaves
 * ("invoke ..." or "async invoke ...", its status and error), read from
 * stderr.
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
#include <unistd.h>

#include "base/files.h"
#include "run/invoke.h"
#include "state/func.h"

static void test_text(void **state)
{
    buf_t b;
    (void)state;
    /* Valid UTF-8 as it is; a stray byte replaced. */
    buf_init(&b, 64);
    buf_append(&b, "h\xc3\xa9llo \xff!", 9);
    json_object *o = invoke_text(&b);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(o), "h\xc3\xa9llo \xef\xbf\xbd!");
    json_object_put(o);
    buf_free(&b);

    /* A capture that stopped at its cap (full) mid-character: dropped. */
    buf_init(&b, 3);
    assert_int_equal(buf_append(&b, "ab\xc3", 3), BUF_OK);
    o = invoke_text(&b);
    assert_string_equal(json_object_get_string(o), "ab");
    json_object_put(o);
    buf_free(&b);
    /* Not full: the same bytes are a bad one, replaced. */
    buf_init(&b, 4);
    assert_int_equal(buf_append(&b, "ab\xc3", 3), BUF_OK);
    o = invoke_text(&b);
    assert_string_equal(json_object_get_string(o), "ab\xef\xbf\xbd");
    json_object_put(o);
    buf_free(&b);
    /* Nothing captured: "". */
    buf_init(&b, 16);
    o = invoke_text(&b);
    assert_string_equal(json_object_get_string(o), "");
    assert_int_equal(json_object_get_string_len(o), 0);
    json_object_put(o);
    buf_free(&b);
    /* NUL bytes are kept as they are. */
    buf_init(&b, 16);
    buf_append(&b, "a\0b", 3);
    o = invoke_text(&b);
    assert_int_equal(json_object_get_string_len(o), 3);
    json_object_put(o);
    buf_free(&b);
}

static void test_start_words(void **state)
{
    (void)state;
    assert_string_equal(invoke_start_word(METRICS_START_COLD), "cold");
    assert_string_equal(invoke_start_word(METRICS_START_WARM), "warm");
    assert_string_equal(invoke_start_word(METRICS_START_REUSED), "reused");
    assert_string_equal(invoke_start_word(METRICS_START__COUNT), "cold");
}

/* A runtime whose runs end as `status` (a fixture's). */
static status_outcome ends_as;

static int ok_acquire(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                      runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    (void)req;
    (void)l;
    res->started = true;
    res->start = METRICS_START_WARM;
    return 0;
}

static int ends_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                    runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    (void)req;
    (void)l;
    buf_append(&res->out, "12345", 5);
    if (ends_as == STATUS_SUCCEEDED)
        return 0;
    runtime_fail(res, ends_as, "it went %s", "wrong");
    return -1;
}

static void ok_release(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                       runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    (void)req;
    if (l->ran) {
        res->exit_code = 0;
        res->status = STATUS_SUCCEEDED;
    }
}

static bool no_live(runtime_t *rt, json_object *labels)
{
    (void)rt;
    (void)labels;
    return false;
}

static void no_free(void *impl)
{
    (void)impl;
}

static const runtime_ops ends_ops = {"ends", ok_acquire, ends_run, ok_release, no_live, no_free};

/* Run one call with stderr into a file; the log line into `line`. */
static void logged(invoke_ctx *x, const runtime_req *req, bool async, char *line, size_t len)
{
    char path[] = "/tmp/ml-invoke-log-XXXXXX";
    runtime_result res;
    buf_t text;
    err_t e;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    runtime_result_init(&res);
    invoke_call(x, req, async, &res);
    runtime_result_free(&res);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(fd);
    buf_init(&text, 1 << 16);
    assert_int_equal(files_read(path, &text, &e), 0);
    unlink(path);
    snprintf(line, len, "%.*s", (int)text.len, text.data ? text.data : "");
    buf_free(&text);
}

static void test_log_line(void **state)
{
    runtime_req req;
    char line[1024], shm[64], why[256];
    err_t e;
    (void)state;
    func_t *fn = func_parse(json_tokener_parse("{\"name\":\"logged\",\"id\":\"fid\"}"), &e);
    assert_non_null(fn);
    snprintf(shm, sizeof(shm), "/ml-test-invoke-%d", (int)getpid());
    metrics_t *m = metrics_create(shm, 8, 1, 1, 300, why, sizeof(why));
    assert_non_null(m);
    runtime_t *rt = runtime_new(&ends_ops, NULL, "inst");
    invoke_ctx x = {.rt = rt, .seat = {NULL, NULL, 0, 0, NULL}, .metrics = m};
    memset(&req, 0, sizeof(req));
    req.function = fn;
    req.event = "{}";
    req.event_len = 2;
    req.attempt = 3;
    req.cancel_fd = -1;
    snprintf(req.id, sizeof(req.id), "inv-1");
    snprintf(req.run, sizeof(req.run), "inv-1");

    ends_as = STATUS_SUCCEEDED;
    logged(&x, &req, false, line, sizeof(line));
    assert_non_null(strstr(line, " info: invoke function=logged id=inv-1 attempt=3 start=warm "
                                 "status=succeeded exit=0 duration_ms="));
    assert_non_null(strstr(line, " out=5 err=0\n"));
    assert_null(strstr(line, "error="));

    ends_as = STATUS_TIMEOUT;
    logged(&x, &req, true, line, sizeof(line));
    assert_non_null(strstr(line, " info: async invoke function=logged id=inv-1 attempt=3"));
    assert_non_null(strstr(line, " status=timeout exit=-1 "));
    assert_non_null(strstr(line, " error=it went wrong\n"));
    runtime_free(rt);
    metrics_close(m, 1);
    func_free(fn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_start_words),
        cmocka_unit_test(test_log_line),
    };
    return cmocka_run_group_tests_name("invoke", tests, NULL, NULL);
}
