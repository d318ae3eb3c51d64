/*
 * Unit tests for reap against the scripted fake engine (fake.h): which
 * containers it asks for, which it removes (every match but the live ones
 * in a sweep; every one of an invocation), a 404 at removal counted as
 * gone, a failed removal not counted, and an engine that cannot list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "engine/docker.h"
#include "fake.h"
#include "run/reap.h"

#define ENGINE_VERSION                                                                             \
    "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}"
#define TWO                                                                                        \
    "[{\"Id\":\"aaaa1111\",\"Labels\":{\"minilambda.managed\":\"1\","                              \
    "\"minilambda.invocation\":\"live-run\"}},"                                                    \
    "{\"Id\":\"bbbb2222\",\"Labels\":{\"minilambda.managed\":\"1\","                               \
    "\"minilambda.invocation\":\"dead-run\"}}]"

/* The test runtime: live is the container of invocation "live-run". */
static bool live(runtime_t *rt, json_object *labels)
{
    json_object *inv;
    (void)rt;
    return json_object_object_get_ex(labels, "minilambda.invocation", &inv) &&
           strcmp(json_object_get_string(inv), "live-run") == 0;
}

static void nothing(void *impl)
{
    (void)impl;
}

static const runtime_ops ops = {.name = "test", .live = live, .free = nothing};

typedef struct {
    docker_t *d;
    docker_conn_t *c;
} engine;

static void open_engine(engine *en)
{
    char err[256] = "";
    en->d = docker_new(err, sizeof(err));
    assert_non_null(en->d);
    en->c = docker_conn_new(en->d);
    assert_non_null(en->c);
}

static void close_engine(engine *en)
{
    docker_conn_free(en->c);
    docker_free(en->d);
}

static void test_sweep_keeps_live(void **state)
{
    static const fake_reply replies[] = {{200, ENGINE_VERSION}, {200, TWO}, {204, ""}};
    fake_server fs;
    engine en;
    err_t e;
    (void)state;
    runtime_t *rt = runtime_new(&ops, NULL, "inst-1");
    assert_non_null(rt);
    fake_start(&fs, replies, 3);
    open_engine(&en);
    assert_int_equal(reap_sweep(en.c, rt, &e), 1);
    close_engine(&en);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 3);
    /* The instance's managed containers only, the live one kept. */
    assert_non_null(strstr(fs.requests[1], "GET /v1.41/containers/json?all=1&filters="));
    assert_non_null(strstr(fs.requests[1], "minilambda.instance%3Dinst-1"));
    assert_non_null(strstr(fs.requests[1], "minilambda.managed%3D1"));
    assert_string_equal(fs.requests[2], "DELETE /v1.41/containers/bbbb2222?force=1&v=1");
    runtime_free(rt);
}

static void test_invocation_removes_all(void **state)
{
    /* One already gone (404 counts as removed), one the engine refuses. */
    static const fake_reply replies[] = {{200, ENGINE_VERSION},
                                         {200, TWO},
                                         {404, "{\"message\":\"No such container\"}"},
                                         {500, "{\"message\":\"driver failed\"}"}};
    fake_server fs;
    engine en;
    err_t e;
    (void)state;
    fake_start(&fs, replies, 4);
    open_engine(&en);
    assert_int_equal(reap_remove_invocation(en.c, "dead-run", &e), 1);
    close_engine(&en);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 4);
    assert_non_null(strstr(fs.requests[1], "minilambda.invocation%3Ddead-run"));
    assert_string_equal(fs.requests[2], "DELETE /v1.41/containers/aaaa1111?force=1&v=1");
    assert_string_equal(fs.requests[3], "DELETE /v1.41/containers/bbbb2222?force=1&v=1");
}

static void test_cannot_list(void **state)
{
    static const fake_reply failing[] = {{200, ENGINE_VERSION}, {500, "{\"message\":\"boom\"}"}};
    static const fake_reply garbled[] = {{200, ENGINE_VERSION}, {200, "{\"not\":\"a list\"}"}};
    fake_server fs;
    engine en;
    err_t e;
    (void)state;
    fake_start(&fs, failing, 2);
    open_engine(&en);
    assert_int_equal(reap_remove_invocation(en.c, "x", &e), -1);
    /* The error says what failed and the engine's own message. */
    assert_int_equal(e.kind, ERR_ENGINE);
    assert_non_null(strstr(e.msg, "listing containers"));
    assert_non_null(strstr(e.msg, "boom"));
    close_engine(&en);
    fake_stop(&fs);
    fake_start(&fs, garbled, 2);
    open_engine(&en);
    assert_int_equal(reap_remove_invocation(en.c, "x", &e), -1);
    assert_non_null(strstr(e.msg, "not a JSON array"));
    close_engine(&en);
    fake_stop(&fs);
    /* Nothing was removed from what could not be read. */
    assert_int_equal(fs.nrequests, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_keeps_live),
        cmocka_unit_test(test_invocation_removes_all),
        cmocka_unit_test(test_cannot_list),
    };
    return cmocka_run_group_tests(tests, fake_group_setup, fake_group_teardown);
}
