/*
 * Unit tests for the runtime of run/start (start_new), driven through
 * runtime_run against the scripted fake engine (fake.h), up to the point
 * where a container would start: what fails before any engine call (an
 * unpinned function, a run id that is no UUID), placement when no engine
 * is healthy, an image no engine has (each engine asked once, the answer
 * image_not_found, not the engines' health), and a failover: an engine
 * that does not answer is taken out and the run placed on the other,
 * where a container made but never started is removed at release. The
 * run's seat is tracked while it runs and free after. (The run itself,
 * over an attached stream, is the integration tests'.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/config.h"
#include "engine/engines.h"
#include "fake.h"
#include "run/runtime.h"
#include "run/start.h"

#define ENGINE_VERSION                                                                             \
    "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}"
#define RUN "6f1c2b7e-3d4a-4b5c-8d9e-0a1b2c3d4e5f"

/* One seat on the engines of `spec` (MINILAMBDA_ENGINES syntax; NULL:
 * DOCKER_HOST's one), with a slots table to track in. */
typedef struct {
    config_t cfg;
    engines_t *en;
    engines_conns conns;
    slots_t *slots;
    runtime_t *rt;
    runtime_seat seat;
} bench;

static void bench_open(bench *b, const char *spec)
{
    err_t e;
    memset(b, 0, sizeof(*b));
    if (spec != NULL && config_parse_engines(spec, b->cfg.engine, &b->cfg.nengines, &e) != 0)
        fail_msg("config_parse_engines: %s", e.msg);
    b->en = engines_open(&b->cfg, NULL, &e);
    assert_non_null(b->en);
    assert_int_equal(engines_conns_init(&b->conns, b->en, &e), 0);
    b->slots = slots_create(1, 0, 1);
    assert_non_null(b->slots);
    b->rt = start_new(b->slots, "inst-1", "");
    assert_non_null(b->rt);
    b->seat = (runtime_seat){
        .conn = b->conns.conn[0], .lease = NULL, .row = 0, .thread = 0, .conns = &b->conns};
}

static void bench_close(bench *b)
{
    runtime_free(b->rt);
    slots_destroy(b->slots);
    engines_conns_free(&b->conns);
    engines_close(b->en);
}

static func_t *fn_of(const char *json)
{
    err_t e;
    func_t *f = func_parse(json_tokener_parse(json), &e);
    assert_non_null(f);
    return f;
}

static void req_of(runtime_req *req, const func_t *fn)
{
    memset(req, 0, sizeof(*req));
    req->function = fn;
    req->event = "{}";
    req->event_len = 2;
    req->timeout_s = 5;
    req->attempt = 1;
    req->cancel_fd = -1;
    snprintf(req->id, sizeof(req->id), "%s", RUN);
    snprintf(req->run, sizeof(req->run), "%s", RUN);
}

static bool tracked(bench *b)
{
    uuid_t u;
    assert_int_equal(uuid_parse(RUN, u), 0);
    return slots_running(b->slots, u);
}

/* No engine is asked: the function is not pinned, or the run id is bad. */
static void test_before_the_engine(void **state)
{
    bench b;
    runtime_req req;
    runtime_result res;
    (void)state;
    setenv("DOCKER_HOST", "unix:///nonexistent/engine.sock", 1);
    bench_open(&b, NULL);
    func_t *fn = fn_of("{\"id\":\"fid\",\"name\":\"f\",\"image\":\"img:1\"}");
    req_of(&req, fn);
    runtime_result_init(&res);
    runtime_run(b.rt, &b.seat, &req, &res);
    assert_int_equal(res.status, STATUS_IMAGE_MISSING);
    assert_non_null(strstr(res.message, "not pinned"));
    assert_false(res.engine_fault);
    assert_int_equal(res.start, METRICS_START_COLD);
    assert_false(tracked(&b));
    runtime_result_free(&res);
    func_free(fn);

    fn = fn_of("{\"id\":\"fid\",\"name\":\"f\",\"image\":\"img:1\",\"image_id\":\"sha256:a1\"}");
    req_of(&req, fn);
    snprintf(req.run, sizeof(req.run), "not-a-uuid");
    runtime_result_init(&res);
    runtime_run(b.rt, &b.seat, &req, &res);
    assert_int_equal(res.status, STATUS_ENGINE_ERROR);
    assert_non_null(strstr(res.message, "not a UUID"));
    runtime_result_free(&res);
    func_free(fn);
    bench_close(&b);
}

/* With several engines and none healthy: 503 engine_unavailable, the
 * engine's fault (an async run goes back to the queue). */
static void test_none_healthy(void **state)
{
    bench b;
    runtime_req req;
    runtime_result res;
    (void)state;
    bench_open(&b, "unix:///nonexistent/a.sock unix:///nonexistent/b.sock");
    engines_set_up(b.en, 0, false, "test");
    engines_set_up(b.en, 1, false, "test");
    func_t *fn =
        fn_of("{\"id\":\"fid\",\"name\":\"f\",\"image\":\"img\",\"image_id\":\"sha256:a2\"}");
    req_of(&req, fn);
    runtime_result_init(&res);
    runtime_run(b.rt, &b.seat, &req, &res);
    assert_int_equal(res.status, STATUS_UNAVAILABLE);
    assert_true(res.engine_fault);
    assert_false(tracked(&b));
    runtime_result_free(&res);
    func_free(fn);
    bench_close(&b);
}

/* Two engines, neither has the image: each is asked once, and the answer
 * is the image's, both engines still up. */
static void test_image_nowhere(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION},
        {404, "{\"message\":\"No such image\"}"},
        {404, "{\"message\":\"No such image: sha256:a3\"}"},
    };
    fake_server fa, fb;
    bench b;
    runtime_req req;
    runtime_result res;
    char spec[300];
    (void)state;
    fake_start(&fa, replies, 3);
    fake_start(&fb, replies, 3);
    snprintf(spec, sizeof(spec), "unix://%s unix://%s", fa.sock, fb.sock);
    bench_open(&b, spec);
    func_t *fn =
        fn_of("{\"id\":\"fid\",\"name\":\"f\",\"image\":\"img\",\"image_id\":\"sha256:a3\"}");
    req_of(&req, fn);
    runtime_result_init(&res);
    runtime_run(b.rt, &b.seat, &req, &res);
    assert_int_equal(res.status, STATUS_IMAGE_MISSING);
    assert_non_null(strstr(res.message, "not present in the engine"));
    assert_false(res.engine_fault);
    assert_true(engines_up(b.en, 0));
    assert_true(engines_up(b.en, 1));
    assert_int_equal(engines_in_flight(b.en, 0) + engines_in_flight(b.en, 1), 0);
    assert_false(tracked(&b));
    runtime_result_free(&res);
    func_free(fn);
    bench_close(&b);
    fake_stop(&fa);
    fake_stop(&fb);
    assert_int_equal(fa.nrequests, 3);
    assert_int_equal(fb.nrequests, 3);
    assert_string_equal(fa.requests[2], "POST /v1.41/containers/create");
    assert_string_equal(fb.requests[2], "POST /v1.41/containers/create");
}

/* The first engine does not answer: taken out, the run goes to the
 * second, whose container fails to attach: it is removed at release. */
static void test_failover_and_removal(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION},
        {404, "{\"message\":\"No such image\"}"},
        {201, "{\"Id\":\"c0ffee\",\"Warnings\":[]}"},
        {500, "{\"message\":\"attach refused\"}"},
        {200, "OK"},
        {200, "OK"},
        {204, ""},
    };
    fake_server fb;
    bench b;
    runtime_req req;
    runtime_result res;
    char spec[300];
    (void)state;
    fake_start(&fb, replies, 7);
    snprintf(spec, sizeof(spec), "unix:///nonexistent/a.sock unix://%s", fb.sock);
    bench_open(&b, spec);
    func_t *fn =
        fn_of("{\"id\":\"fid\",\"name\":\"f\",\"image\":\"img\",\"image_id\":\"sha256:a4\"}");
    req_of(&req, fn);
    runtime_result_init(&res);
    runtime_run(b.rt, &b.seat, &req, &res);
    assert_int_equal(res.status, STATUS_ENGINE_ERROR);
    assert_non_null(strstr(res.message, "attach"));
    assert_int_equal(res.engine, 1);
    assert_false(engines_up(b.en, 0));
    assert_true(engines_up(b.en, 1));
    assert_int_equal(engines_in_flight(b.en, 1), 0);
    assert_false(tracked(&b));
    runtime_result_free(&res);
    func_free(fn);
    bench_close(&b);
    fake_stop(&fb);
    assert_int_equal(fb.nrequests, 7);
    assert_string_equal(fb.requests[2], "POST /v1.41/containers/create");
    assert_string_equal(fb.requests[3],
                        "POST /v1.41/containers/c0ffee/attach?stream=1&stdin=1&stdout=1&stderr=1");
    assert_string_equal(fb.requests[6], "DELETE /v1.41/containers/c0ffee?force=1&v=1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_the_engine),
        cmocka_unit_test(test_none_healthy),
        cmocka_unit_test(test_image_nowhere),
        cmocka_unit_test(test_failover_and_removal),
    };
    return cmocka_run_group_tests_name("start", tests, fake_group_setup, fake_group_teardown);
}
