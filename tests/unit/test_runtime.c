/*
 * Unit tests for the runtime seam: runtime_run drives any implementation
 * through acquire, run and release with one cleanup path; the invoke
 * bracket keeps the metrics around it; the cold runtime's `live` answers
 * from the slots table; and the container spec carries every isolation
 * default, read from the function's field table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "run/container.h"
#include "run/invoke.h"
#include "run/runtime.h"
#include "run/start.h"
#include "state/metrics.h"

/* A runtime that records what was asked of it. */
typedef struct {
    char calls[64];
    int fail_acquire, fail_run;
    int exit_code;
    bool saw_ran;
    int freed;
} fake_state;

static void fake_note(fake_state *f, char c)
{
    size_t n = strlen(f->calls);
    f->calls[n] = c;
    f->calls[n + 1] = '\0';
}

static int fake_acquire(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                        runtime_lease *l, runtime_result *res)
{
    fake_state *f = rt->impl;
    (void)seat;
    assert_true(l->deadline > 0);
    assert_int_equal(l->cid[0], '\0');
    fake_note(f, 'a');
    snprintf(l->cid, sizeof(l->cid), "c-%s", req->id);
    if (f->fail_acquire) {
        runtime_fail(res, STATUS_UNREACHABLE, "no engine");
        return -1;
    }
    return 0;
}

static int fake_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                    runtime_lease *l, runtime_result *res)
{
    fake_state *f = rt->impl;
    (void)seat;
    (void)l;
    fake_note(f, 'r');
    buf_append(&res->out, req->event, req->event_len);
    if (f->fail_run) {
        runtime_fail(res, STATUS_TIMEOUT, "slow");
        return -1;
    }
    return 0;
}

static void fake_release(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                         runtime_lease *l, runtime_result *res)
{
    fake_state *f = rt->impl;
    (void)seat;
    (void)req;
    fake_note(f, 'x');
    f->saw_ran = l->ran;
    assert_int_equal(strncmp(l->cid, "c-", 2), 0);
    if (l->ran) {
        res->exit_code = f->exit_code;
        res->status = f->exit_code == 0 ? STATUS_SUCCEEDED : STATUS_FAILED;
    }
}

static bool fake_live(runtime_t *rt, json_object *labels)
{
    (void)rt;
    return json_object_object_get_ex(labels, "keep", NULL);
}

static void fake_free(void *impl)
{
    ((fake_state *)impl)->freed++;
}

static const runtime_ops fake_ops = {"fake",       fake_acquire, fake_run,
                                     fake_release, fake_live,    fake_free};

/* The function record `json`, typed. */
static func_t *fn_of(const char *json)
{
    err_t e;
    func_t *f = func_parse(json_tokener_parse(json), &e);
    assert_non_null(f);
    return f;
}

static void fake_req(runtime_req *req, const func_t *fn)
{
    memset(req, 0, sizeof(*req));
    req->function = fn;
    req->event = "{\"x\":1}";
    req->event_len = 7;
    req->timeout_s = 5;
    req->attempt = 1;
    req->cancel_fd = -1;
    snprintf(req->id, sizeof(req->id), "11111111-1111-4111-8111-111111111111");
    snprintf(req->run, sizeof(req->run), "%s", req->id);
}

static void test_run_order(void **state)
{
    fake_state f;
    runtime_req req;
    runtime_result res;
    runtime_seat seat = {NULL, NULL, 0, 0, NULL};
    func_t *fn = fn_of("{\"name\":\"f\",\"id\":\"i\"}");
    (void)state;

    memset(&f, 0, sizeof(f));
    runtime_t *rt = runtime_new(&fake_ops, &f, "inst");
    assert_non_null(rt);
    assert_string_equal(rt->instance, "inst");
    fake_req(&req, fn);

    /* The whole way: the release sees a run that ended. */
    runtime_result_init(&res);
    runtime_run(rt, &seat, &req, &res);
    assert_string_equal(f.calls, "arx");
    assert_true(f.saw_ran);
    assert_int_equal(res.status, STATUS_SUCCEEDED);
    assert_int_equal(res.exit_code, 0);
    assert_true(res.duration_ms >= 0);
    assert_int_equal(res.out.len, 7);
    runtime_result_free(&res);

    /* A failed acquire: no run, and the release still happens once. */
    f.calls[0] = '\0';
    f.fail_acquire = 1;
    runtime_result_init(&res);
    runtime_run(rt, &seat, &req, &res);
    assert_string_equal(f.calls, "ax");
    assert_false(f.saw_ran);
    assert_int_equal(res.status, STATUS_UNREACHABLE);
    assert_string_equal(res.message, "no engine");
    assert_int_equal(res.exit_code, -1);
    runtime_result_free(&res);

    /* A failed run: released, not as one that ended. */
    f.calls[0] = '\0';
    f.fail_acquire = 0;
    f.fail_run = 1;
    runtime_result_init(&res);
    runtime_run(rt, &seat, &req, &res);
    assert_string_equal(f.calls, "arx");
    assert_false(f.saw_ran);
    assert_int_equal(res.status, STATUS_TIMEOUT);
    runtime_result_free(&res);

    json_object *keep = json_tokener_parse("{\"keep\":\"1\"}");
    json_object *drop = json_tokener_parse("{}");
    assert_true(runtime_live(rt, keep));
    assert_false(runtime_live(rt, drop));
    json_object_put(keep);
    json_object_put(drop);
    runtime_free(rt);
    assert_int_equal(f.freed, 1);
    func_free(fn);
}

static int always_cancelled(void *arg)
{
    (void)arg;
    return 1;
}

/* invoke_call counts the outcome under the function's name and keeps the
 * in-flight gauge up only while the run lasts. */
static void test_invoke_bracket_metrics(void **state)
{
    fake_state f;
    runtime_req req;
    runtime_result res;
    char shm[64], why[256];
    buf_t text;
    func_t *fn = fn_of("{\"name\":\"bracketed\",\"id\":\"i\"}");
    (void)state;

    snprintf(shm, sizeof(shm), "/ml-test-runtime-%d", (int)getpid());
    metrics_t *m = metrics_create(shm, 8, 1, 1, 300, why, sizeof(why));
    assert_non_null(m);
    memset(&f, 0, sizeof(f));
    f.exit_code = 3;
    runtime_t *rt = runtime_new(&fake_ops, &f, "inst");
    invoke_ctx x = {.rt = rt, .seat = {NULL, NULL, 0, 0, NULL}, .metrics = m};
    fake_req(&req, fn);
    runtime_result_init(&res);
    invoke_call(&x, &req, false, &res);
    assert_int_equal(res.status, STATUS_FAILED);
    runtime_result_free(&res);
    /* A run its record says was cancelled counts as cancelled. */
    req.cancelled = always_cancelled;
    f.exit_code = 0;
    runtime_result_init(&res);
    invoke_call(&x, &req, true, &res);
    runtime_result_free(&res);

    metrics_gauges g = {.functions = 1, .queue_depth = 0};
    buf_init(&text, 1 << 20);
    assert_int_equal(metrics_render(m, &g, &text), 0);
    assert_non_null(strstr(text.data, "Total_Invocations{function=\"bracketed\"} 2\n"));
    assert_non_null(strstr(
        text.data, "minilambda_invocations_total{function=\"bracketed\",status=\"failed\"} 1\n"));
    assert_non_null(
        strstr(text.data,
               "minilambda_invocations_total{function=\"bracketed\",status=\"cancelled\"} 1\n"));
    assert_non_null(
        strstr(text.data, "minilambda_invocations_in_flight{function=\"bracketed\"} 0\n"));
    buf_free(&text);
    runtime_free(rt);
    metrics_close(m, 1);
    func_free(fn);
}

static void test_warm_live(void **state)
{
    uuid_t u;
    char run[40], text[160];
    (void)state;
    slots_t *s = slots_create(1, 0, 2);
    runtime_t *rt = start_new(s, "inst", "");
    assert_non_null(rt);
    uuid_generate_random(u);
    uuid_unparse_lower(u, run);
    snprintf(text, sizeof(text), "{\"minilambda.run\":\"%s\"}", run);
    json_object *labels = json_tokener_parse(text);
    json_object *bad = json_tokener_parse("{\"minilambda.run\":\"not-a-uuid\"}");
    json_object *none = json_tokener_parse("{}");
    assert_false(runtime_live(rt, labels));
    slots_track(s, 0, 1, u);
    assert_true(runtime_live(rt, labels));
    assert_false(runtime_live(rt, bad));
    assert_false(runtime_live(rt, none));
    slots_untrack(s, 0, 1);
    assert_false(runtime_live(rt, labels));
    /* A ready warm container the keeper holds is live too, until the
     * keeper dies and the master clears its table. */
    slots_keep(s, 7, u);
    assert_true(runtime_live(rt, labels));
    slots_reset_keeper(s);
    assert_false(runtime_live(rt, labels));
    /* The keeper hands it to a seat only while that seat is free. */
    assert_true(slots_track_if_free(s, 0, 0, u));
    assert_false(slots_track_if_free(s, 0, 0, u));
    assert_true(runtime_live(rt, labels));
    assert_true(slots_untrack_if(s, 0, 0, u));
    assert_false(slots_untrack_if(s, 0, 0, u));
    assert_false(runtime_live(rt, labels));
    json_object_put(labels);
    json_object_put(bad);
    json_object_put(none);
    runtime_free(rt);
    slots_destroy(s);
}

static json_object *at(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
    return v;
}

static bool env_has(json_object *env, const char *line)
{
    for (size_t i = 0; i < json_object_array_length(env); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(env, i)), line) == 0)
            return true;
    return false;
}

static bool env_has_prefix(json_object *env, const char *prefix)
{
    for (size_t i = 0; i < json_object_array_length(env); i++)
        if (strncmp(json_object_get_string(json_object_array_get_idx(env, i)), prefix,
                    strlen(prefix)) == 0)
            return true;
    return false;
}

/* Every hardening field of the create body, for a record with settings
 * and for a bare first-format one (defaults from the field table). */
static void test_container_spec(void **state)
{
    runtime_req req;
    (void)state;
    func_t *fn = fn_of(
        "{\"id\":\"fid\",\"name\":\"fname\",\"image\":\"img:1\",\"memory_mb\":64,\"cpus\":0.5,"
        "\"env\":{\"A\":\"b=c\"},\"command\":[\"sh\",\"-c\",\"cat\"],\"network\":\"none\"}");
    fake_req(&req, fn);
    req.attempt = 2;
    snprintf(req.run, sizeof(req.run), "22222222-2222-4222-8222-222222222222");
    json_object *spec = container_spec(&req, "inst1", CONTAINER_COLD, NULL, NULL);
    json_object *host = at(spec, "HostConfig");

    assert_string_equal(json_object_get_string(at(spec, "Image")), "img:1");
    assert_string_equal(json_object_to_json_string_ext(at(spec, "Cmd"), JSON_C_TO_STRING_PLAIN),
                        "[\"sh\",\"-c\",\"cat\"]");
    assert_true(json_object_get_boolean(at(spec, "AttachStdin")));
    assert_true(json_object_get_boolean(at(spec, "AttachStdout")));
    assert_true(json_object_get_boolean(at(spec, "AttachStderr")));
    assert_true(json_object_get_boolean(at(spec, "OpenStdin")));
    assert_true(json_object_get_boolean(at(spec, "StdinOnce")));
    assert_false(json_object_get_boolean(at(spec, "Tty")));
    assert_true(json_object_get_boolean(at(spec, "NetworkDisabled")));

    json_object *env = at(spec, "Env");
    assert_true(env_has(env, "A=b=c"));
    assert_true(env_has(env, "MINILAMBDA_FUNCTION_NAME=fname"));
    assert_true(env_has(env, "MINILAMBDA_INVOCATION_ID=11111111-1111-4111-8111-111111111111"));
    assert_true(env_has(env, "MINILAMBDA_ATTEMPT=2"));
    assert_true(env_has_prefix(env, "MINILAMBDA_DEADLINE_MS=1"));

    json_object *labels = at(spec, "Labels");
    assert_string_equal(json_object_get_string(at(labels, "minilambda.managed")), "1");
    assert_string_equal(json_object_get_string(at(labels, "minilambda.function")), "fid");
    assert_string_equal(json_object_get_string(at(labels, "minilambda.invocation")), req.id);
    assert_string_equal(json_object_get_string(at(labels, "minilambda.run")), req.run);
    assert_string_equal(json_object_get_string(at(labels, "minilambda.instance")), "inst1");

    assert_int_equal(json_object_get_int64(at(host, "Memory")), 64LL * 1024 * 1024);
    assert_int_equal(json_object_get_int64(at(host, "MemorySwap")), 64LL * 1024 * 1024);
    assert_int_equal(json_object_get_int64(at(host, "NanoCpus")), 500000000LL);
    assert_int_equal(json_object_get_int64(at(host, "PidsLimit")), CONTAINER_PIDS_LIMIT);
    assert_string_equal(json_object_get_string(at(host, "NetworkMode")), "none");
    assert_string_equal(json_object_to_json_string_ext(at(host, "CapDrop"), JSON_C_TO_STRING_PLAIN),
                        "[\"ALL\"]");
    assert_string_equal(
        json_object_to_json_string_ext(at(host, "SecurityOpt"), JSON_C_TO_STRING_PLAIN),
        "[\"no-new-privileges\"]");
    assert_true(json_object_get_boolean(at(host, "ReadonlyRootfs")));
    assert_string_equal(json_object_get_string(at(at(host, "Tmpfs"), "/tmp")), CONTAINER_TMPFS);
    assert_string_equal(json_object_get_string(at(at(host, "LogConfig"), "Type")), "none");
    assert_false(json_object_object_get_ex(host, "Privileged", NULL));
    assert_false(json_object_object_get_ex(host, "CapAdd", NULL));
    json_object_put(spec);
    func_free(fn);

    /* A bare record: the table's defaults, the image's own command. */
    fn = fn_of("{\"id\":\"fid\",\"name\":\"fname\",\"image\":\"img\"}");
    fake_req(&req, fn);
    spec = container_spec(&req, "inst1", CONTAINER_COLD, NULL, NULL);
    host = at(spec, "HostConfig");
    assert_false(json_object_object_get_ex(spec, "Cmd", NULL));
    assert_int_equal(json_object_get_int64(at(host, "Memory")), 256LL * 1024 * 1024);
    assert_int_equal(json_object_get_int64(at(host, "NanoCpus")), 1000000000LL);
    assert_string_equal(json_object_get_string(at(host, "NetworkMode")), "none");
    assert_true(env_has(at(spec, "Env"), "MINILAMBDA_ATTEMPT=1"));
    assert_string_equal(json_object_get_string(at(spec, "User")), "65534:65534");
    assert_string_equal(json_object_get_string(at(spec, "Image")), "img");
    assert_false(json_object_object_get_ex(host, "Runtime", NULL));
    json_object_put(spec);
    func_free(fn);

    /* The image's VOLUMEs get a bounded tmpfs each, never a volume. */
    fn = fn_of("{\"id\":\"fid\",\"name\":\"fname\",\"image\":\"img\","
               "\"image_id\":\"sha256:abc\",\"user\":\"1000:1000\","
               "\"runtime\":\"runsc\"}");
    fake_req(&req, fn);
    json_object *vols = json_tokener_parse("{\"volumes\":[\"/data\",\"/var/cache\"]}");
    spec = container_spec(&req, "inst1", CONTAINER_COLD, NULL, vols);
    host = at(spec, "HostConfig");
    assert_string_equal(json_object_get_string(at(at(host, "Tmpfs"), "/data")), CONTAINER_TMPFS);
    assert_string_equal(json_object_get_string(at(at(host, "Tmpfs"), "/var/cache")),
                        CONTAINER_TMPFS);
    assert_false(json_object_object_get_ex(host, "Mounts", NULL));
    assert_false(json_object_object_get_ex(spec, "Volumes", NULL));
    /* A pinned function runs its image id, as its user, in its runtime. */
    assert_string_equal(json_object_get_string(at(spec, "Image")), "sha256:abc");
    assert_string_equal(json_object_get_string(at(spec, "User")), "1000:1000");
    assert_string_equal(json_object_get_string(at(host, "Runtime")), "runsc");
    json_object_put(vols);
    json_object_put(spec);
    func_free(fn);

    /* network "bridge" is the one way to a network. */
    fn = fn_of("{\"id\":\"fid\",\"name\":\"fname\",\"image\":\"img\",\"network\":\"bridge\"}");
    fake_req(&req, fn);
    spec = container_spec(&req, "inst1", CONTAINER_COLD, NULL, NULL);
    assert_string_equal(json_object_get_string(at(at(spec, "HostConfig"), "NetworkMode")),
                        "bridge");
    assert_false(json_object_get_boolean(at(spec, "NetworkDisabled")));
    json_object_put(spec);
    func_free(fn);

    /* Warm: minilambda-init wraps the image's entrypoint and command, the
     * call's values are not in the env (they come with the call). */
    fn = fn_of("{\"id\":\"fid\",\"name\":\"fname\",\"image\":\"img\"}");
    fake_req(&req, fn);
    req.id[0] = '\0';
    json_object *image =
        json_tokener_parse("{\"volumes\":[],\"entrypoint\":[\"/entry\",\"-x\"],\"cmd\":[\"run\"]}");
    spec = container_spec(&req, "inst1", CONTAINER_REUSE, "/opt/ml/minilambda-init", image);
    assert_string_equal(
        json_object_to_json_string_ext(at(spec, "Entrypoint"), JSON_C_TO_STRING_PLAIN),
        "[\"\\/.minilambda\\/init\",\"reuse\",\"--\",\"\\/entry\",\"-x\"]");
    assert_string_equal(json_object_to_json_string_ext(at(spec, "Cmd"), JSON_C_TO_STRING_PLAIN),
                        "[\"run\"]");
    json_object *mount = json_object_array_get_idx(at(at(spec, "HostConfig"), "Mounts"), 0);
    assert_string_equal(json_object_get_string(at(mount, "Type")), "bind");
    assert_string_equal(json_object_get_string(at(mount, "Source")), "/opt/ml/minilambda-init");
    assert_string_equal(json_object_get_string(at(mount, "Target")), "/.minilambda/init");
    assert_true(json_object_get_boolean(at(mount, "ReadOnly")));
    env = at(spec, "Env");
    assert_true(env_has(env, "MINILAMBDA_FUNCTION_NAME=fname"));
    assert_false(env_has_prefix(env, "MINILAMBDA_INVOCATION_ID="));
    assert_false(env_has_prefix(env, "MINILAMBDA_DEADLINE_MS="));
    labels = at(spec, "Labels");
    assert_string_equal(json_object_get_string(at(labels, "minilambda.invocation")), "warm");
    assert_string_equal(json_object_get_string(at(labels, "minilambda.mode")), "reuse");
    json_object_put(spec);
    /* The loop protocol: the image as it is, told to loop. */
    spec = container_spec(&req, "inst1", CONTAINER_PROCESS, "/opt/ml/minilambda-init", image);
    assert_false(json_object_object_get_ex(spec, "Entrypoint", NULL));
    assert_false(json_object_object_get_ex(at(spec, "HostConfig"), "Mounts", NULL));
    assert_true(env_has(at(spec, "Env"), "MINILAMBDA_LOOP=1"));
    json_object_put(spec);
    json_object_put(image);
    func_free(fn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_order),
        cmocka_unit_test(test_invoke_bracket_metrics),
        cmocka_unit_test(test_warm_live),
        cmocka_unit_test(test_container_spec),
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
