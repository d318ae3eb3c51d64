/*
 * Unit tests for the handlers, one route at a time, on requests in memory
 * (request.h) against the stores of a temporary data dir (platform.h),
 * called as the gate would call them (function resolved, key given). The
 * engine is a socket nothing listens on: whatever needs it finds it
 * unreachable. Covered: the registry (create, get, patch, delete; image
 * pins left null without an engine), what a key limited to some functions
 * sees (listing, redaction, metrics), the invoke body's fields, async
 * acceptance and its bound, a synchronous call's answer and record, the
 * invocation listing's query, paging and owner rule, cancellation, keys,
 * and /healthz.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "http/handlers.h"
#include "platform.h"

static const char *text(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v != NULL ? json_object_get_string(v) : NULL;
}

static bool has(json_object *o, const char *key)
{
    return json_object_object_get_ex(o, key, NULL);
}

/* A key with `scopes`, limited to the names or ids of `functions` (a JSON
 * array, NULL: all). keys_key_free releases it. */
static keys_key key_of(const char *id, unsigned scopes, const char *functions)
{
    keys_key k = {.scopes = scopes};
    snprintf(k.id, sizeof(k.id), "%s", id);
    k.functions = functions != NULL ? json_tokener_parse(functions) : NULL;
    return k;
}

/* Call `h` on `q` as the gate would, with the function `ref` names
 * resolved (NULL: none) and key `k` (NULL: none). Returns its result;
 * its error into `e`. */
static int call(platform_t *p, request_t *q, route_handler h, const char *ref, const keys_key *k,
                err_t *e)
{
    route_call c;
    platform_call(p, q, &c);
    c.key = k;
    if (ref != NULL) {
        snprintf(c.ref, sizeof(c.ref), "%s", ref);
        /* A function that does not exist reaches the handler as none. */
        if (store_get(p->app.store, ref, &c.function, e) != 0)
            c.function = NULL;
    }
    err_clear(e);
    int rc = h(&c, e);
    func_free(c.function);
    return rc;
}

/* The same, with the gate's decisions given in `c` (owner, redact, id). */
static int call_as(platform_t *p, request_t *q, route_handler h, route_call *c, err_t *e)
{
    route_call g = *c;
    platform_call(p, q, c);
    c->key = g.key;
    c->owner = g.owner;
    c->redact = g.redact;
    memcpy(c->id, g.id, sizeof(c->id));
    memcpy(c->ref, g.ref, sizeof(c->ref));
    if (c->ref[0] != '\0' && store_get(p->app.store, c->ref, &c->function, e) != 0)
        c->function = NULL;
    err_clear(e);
    int rc = h(c, e);
    func_free(c->function);
    c->function = NULL;
    return rc;
}

static void body(request_t *q, const char *method, const char *uri, const char *json)
{
    request_init(q, method, uri);
    if (json != NULL)
        request_body(q, "application/json", json, strlen(json));
}

static int setup(void **state)
{
    static const char *const env[] = {"MINILAMBDA_MIN_FREE_BYTES=0", "MINILAMBDA_WARM_MAX=0", NULL};
    platform_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    platform_open(p, "handlers", env);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    platform_close(*state);
    free(*state);
    return 0;
}

/* Register, read, change and delete one function. */
static void test_registry(void **state)
{
    platform_t *p = *state;
    request_t q;
    err_t e;
    char loc[128], want[128];

    body(&q, "POST", "/functions", "{\"name\":\"f1\",\"image\":\"img:1\",\"env\":{\"A\":\"s\"}}");
    assert_int_equal(call(p, &q, handlers_create_function, NULL, NULL, &e), 0);
    assert_int_equal(request_status(&q), 201);
    json_object *rec = request_json(&q);
    const char *id = text(rec, "id");
    assert_non_null(id);
    snprintf(want, sizeof(want), "/functions/%s", id);
    assert_string_equal(request_header_value(&q, "Location", loc, sizeof(loc)), want);
    /* No engine: the image pins to nothing yet; no key made it. */
    assert_true(has(rec, "image_id"));
    assert_null(json_object_object_get(rec, "image_id"));
    assert_true(has(rec, "created_by"));
    assert_null(json_object_object_get(rec, "created_by"));
    char fid[RUNTIME_ID_LEN];
    snprintf(fid, sizeof(fid), "%s", id);
    json_object_put(rec);
    request_free(&q);

    /* A key limited to other functions may not register this one. */
    keys_key k = key_of("k-deploy", KEYS_DEPLOY, "[\"other\"]");
    body(&q, "POST", "/functions", "{\"name\":\"f2\",\"image\":\"img:1\"}");
    assert_int_equal(call(p, &q, handlers_create_function, NULL, &k, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(request_status(&q), 0);
    request_free(&q);
    /* One allowed to: the record names it. */
    body(&q, "POST", "/functions", "{\"name\":\"other\",\"image\":\"img:1\"}");
    assert_int_equal(call(p, &q, handlers_create_function, NULL, &k, &e), 0);
    rec = request_json(&q);
    assert_string_equal(text(rec, "created_by"), "k-deploy");
    json_object_put(rec);
    request_free(&q);
    keys_key_free(&k);

    /* A bad field is the store's error, nothing sent. */
    body(&q, "POST", "/functions", "{\"name\":\"f3\",\"image\":\"img:1\",\"memory_mb\":\"x\"}");
    assert_int_equal(call(p, &q, handlers_create_function, NULL, NULL, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(request_status(&q), 0);
    request_free(&q);

    /* GET: the engine cannot tell whether it has the image, so no flag. */
    body(&q, "GET", "/functions/f1", NULL);
    assert_int_equal(call(p, &q, handlers_get_function, "f1", NULL, &e), 0);
    assert_int_equal(request_status(&q), 200);
    rec = request_json(&q);
    assert_string_equal(text(rec, "id"), fid);
    assert_false(has(rec, "image_present"));
    assert_string_equal(text(json_object_object_get(rec, "env"), "A"), "s");
    json_object_put(rec);
    request_free(&q);

    body(&q, "PATCH", "/functions/f1", "{\"memory_mb\":128}");
    assert_int_equal(call(p, &q, handlers_update_function, "f1", NULL, &e), 0);
    assert_int_equal(request_status(&q), 200);
    rec = request_json(&q);
    assert_int_equal(json_object_get_int(json_object_object_get(rec, "memory_mb")), 128);
    json_object_put(rec);
    request_free(&q);

    body(&q, "DELETE", "/functions/f1", NULL);
    assert_int_equal(call(p, &q, handlers_delete_function, "f1", NULL, &e), 0);
    assert_int_equal(request_status(&q), 204);
    func_t *gone = NULL;
    assert_int_equal(store_get(p->app.store, fid, &gone, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    request_free(&q);
}

/* A key limited to some functions lists those only; a read key sees env
 * values redacted. */
static void test_list_visible(void **state)
{
    platform_t *p = *state;
    request_t q;
    route_call c;
    err_t e;
    char id_c[RUNTIME_ID_LEN];
    platform_function(p, "{\"name\":\"a\",\"image\":\"img\",\"env\":{\"S\":\"secret\"}}", NULL);
    platform_function(p, "{\"name\":\"b\",\"image\":\"img\"}", NULL);
    platform_function(p, "{\"name\":\"c\",\"image\":\"img\"}", id_c);

    body(&q, "GET", "/functions", NULL);
    assert_int_equal(call(p, &q, handlers_list_functions, NULL, NULL, &e), 0);
    json_object *all = request_json(&q);
    assert_int_equal(json_object_array_length(all), 3);
    assert_string_equal(text(json_object_array_get_idx(all, 0), "name"), "a");
    json_object_put(all);
    request_free(&q);

    char list[128];
    snprintf(list, sizeof(list), "[\"a\",\"%s\"]", id_c);
    keys_key k = key_of("k-read", KEYS_READ, list);
    memset(&c, 0, sizeof(c));
    c.key = &k;
    c.redact = true;
    body(&q, "GET", "/functions", NULL);
    assert_int_equal(call_as(p, &q, handlers_list_functions, &c, &e), 0);
    json_object *seen = request_json(&q);
    assert_int_equal(json_object_array_length(seen), 2);
    json_object *a = json_object_array_get_idx(seen, 0);
    assert_string_equal(text(a, "name"), "a");
    assert_string_equal(text(json_object_object_get(a, "env"), "S"), "***");
    assert_string_equal(text(json_object_array_get_idx(seen, 1), "name"), "c");
    json_object_put(seen);
    request_free(&q);
    /* Redaction alone, for an unlimited read key. */
    keys_key_free(&k);
    k = key_of("k-read", KEYS_READ, NULL);
    body(&q, "GET", "/functions", NULL);
    assert_int_equal(call_as(p, &q, handlers_list_functions, &c, &e), 0);
    seen = request_json(&q);
    assert_int_equal(json_object_array_length(seen), 3);
    assert_null(strstr(request_answer_body(&q), "secret"));
    json_object_put(seen);
    request_free(&q);
    keys_key_free(&k);
}

/* invoke_async with body `json` on function "fn": its result, error in
 * `e`, the answer in `q` (the caller frees it). */
static int invoke_async(platform_t *p, request_t *q, const char *json, err_t *e)
{
    request_init(q, "POST", "/invoke/fn/async");
    if (json != NULL)
        request_body(q, "application/json", json, strlen(json));
    return call(p, q, handlers_invoke_async, "fn", NULL, e);
}

/* Only `event` and `timeout` (an integer, 0 to 900); the event is queued
 * as the client wrote it; the function's timeout when none is given. */
static void test_invoke_body(void **state)
{
    platform_t *p = *state;
    request_t q;
    err_t e;
    char path[256], loc[128], want[128];
    platform_function(p, "{\"name\":\"fn\",\"image\":\"img\",\"timeout\":42}", NULL);

    static const struct {
        const char *body, *code;
    } bad[] = {
        {"{\"event\":{},\"extra\":1}", "unknown_field"}, {"{\"timeout\":\"5\"}", "invalid_timeout"},
        {"{\"timeout\":901}", "invalid_timeout"},        {"{\"timeout\":-1}", "invalid_timeout"},
        {"{\"timeout\":1.5}", "invalid_timeout"},        {"[1]", "invalid_body"},
        {"{\"event\":1,\"event\":2}", "duplicate_key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(invoke_async(p, &q, bad[i].body, &e), -1);
        assert_string_equal(err_code(&e), bad[i].code);
        assert_int_equal(err_status(&e), 400);
        request_free(&q);
    }
    assert_int_equal(async_queue_depth(p->app.async), 0);

    /* A number json-c would round, and escapes it would rewrite. */
    const char *event = "{ \"n\": 123456789012345678901234567890, \"s\": \"\\u00e9\\/\" }";
    char json[256];
    snprintf(json, sizeof(json), "{\"timeout\":9,\"event\":%s}", event);
    assert_int_equal(invoke_async(p, &q, json, &e), 0);
    assert_int_equal(request_status(&q), 202);
    json_object *out = request_json(&q);
    const char *id = text(out, "invocation_id");
    assert_non_null(id);
    assert_string_equal(text(out, "status"), "PENDING");
    assert_non_null(text(out, "created_at"));
    snprintf(want, sizeof(want), "/invocations/%s", id);
    assert_string_equal(request_header_value(&q, "Location", loc, sizeof(loc)), want);
    assert_string_equal(request_header_value(&q, "X-Invocation-Id", loc, sizeof(loc)), id);
    snprintf(path, sizeof(path), "%s/async/records/%s.event", p->data, id);
    buf_t ev;
    buf_init(&ev, 4096);
    assert_int_equal(files_read(path, &ev, &e), 0);
    assert_int_equal(ev.len, strlen(event));
    assert_memory_equal(ev.data, event, ev.len);
    buf_free(&ev);
    json_object *rec = NULL;
    assert_int_equal(async_get(p->app.async, id, &rec, &e), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(rec, "timeout")), 9);
    json_object_put(rec);
    json_object_put(out);
    request_free(&q);

    /* No body at all: the event {} and the function's own timeout. */
    assert_int_equal(invoke_async(p, &q, NULL, &e), 0);
    out = request_json(&q);
    id = text(out, "invocation_id");
    assert_int_equal(async_get(p->app.async, id, &rec, &e), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(rec, "timeout")), 42);
    snprintf(path, sizeof(path), "%s/async/records/%s.event", p->data, id);
    buf_init(&ev, 4096);
    assert_int_equal(files_read(path, &ev, &e), 0);
    assert_int_equal(ev.len, 2);
    assert_memory_equal(ev.data, "{}", 2);
    buf_free(&ev);
    json_object_put(rec);
    json_object_put(out);
    request_free(&q);
    assert_int_equal(async_queue_depth(p->app.async), 2);
}

/* MINILAMBDA_ASYNC_MAX_PENDING bounds the queue: 429 queue_full. */
static void test_queue_bound(void **state)
{
    static const char *const env[] = {"MINILAMBDA_ASYNC_MAX_PENDING=1", NULL};
    platform_t p;
    request_t q;
    err_t e;
    (void)state;
    platform_open(&p, "handlers", env);
    platform_function(&p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    assert_int_equal(invoke_async(&p, &q, "{}", &e), 0);
    request_free(&q);
    assert_int_equal(invoke_async(&p, &q, "{}", &e), -1);
    assert_int_equal(err_status(&e), 429);
    assert_string_equal(err_code(&e), "queue_full");
    request_free(&q);
    platform_close(&p);
}

/* A synchronous call of an unpinned function: the run's error answered
 * with its id, and its record readable under that id. */
static void test_invoke_sync(void **state)
{
    platform_t *p = *state;
    request_t q;
    route_call c;
    err_t e;
    char v[64];
    const char *id = "0b5c4c71-9a9c-4d54-9cf6-4f2c8c1e3d11";
    platform_function(p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    memset(&c, 0, sizeof(c));
    snprintf(c.ref, sizeof(c.ref), "fn");
    snprintf(c.id, sizeof(c.id), "%s", id);
    body(&q, "POST", "/invoke/fn", "{\"event\":{\"x\":1}}");
    assert_int_equal(call_as(p, &q, handlers_invoke, &c, &e), 0);
    assert_int_equal(request_status(&q), 502);
    assert_string_equal(request_header_value(&q, "X-Invocation-Id", v, sizeof(v)), id);
    json_object *out = request_json(&q);
    assert_string_equal(text(out, "invocation_id"), id);
    assert_string_equal(text(out, "status"), "error");
    assert_string_equal(text(out, "code"), "image_not_found");
    assert_null(json_object_object_get(out, "exit_code"));
    assert_true(has(out, "exit_code"));
    assert_string_equal(text(out, "result"), "");
    assert_false(has(out, "record_kept"));
    json_object_put(out);
    request_free(&q);

    /* The record is there, and a synchronous run cannot be cancelled. */
    memset(&c, 0, sizeof(c));
    snprintf(c.ref, sizeof(c.ref), "%s", id);
    body(&q, "GET", "/invocations/x", NULL);
    route_call g = c;
    assert_int_equal(call_as(p, &q, handlers_get_invocation, &g, &e), 0);
    json_object *rec = request_json(&q);
    assert_string_equal(text(rec, "type"), "sync");
    assert_string_equal(text(rec, "function_name"), "fn");
    json_object_put(rec);
    request_free(&q);
    body(&q, "DELETE", "/invocations/x", NULL);
    g = c;
    assert_int_equal(call_as(p, &q, handlers_cancel_invocation, &g, &e), -1);
    assert_string_equal(err_code(&e), "already_finished");
    request_free(&q);
}

/* A listing of `uri`: its result (error in `e`), its answer in `q`. */
static int list(platform_t *p, request_t *q, const char *uri, route_call *c, err_t *e)
{
    request_init(q, "GET", uri);
    return call_as(p, q, handlers_list_invocations, c, e);
}

/* The listing's parameters are checked; pages follow the cursor to the
 * end, each run once; filters by status and function. */
static void test_list_invocations(void **state)
{
    platform_t *p = *state;
    request_t q;
    route_call c;
    err_t e;
    char v[RECORDS_CURSOR_LEN + 8];
    platform_function(p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    platform_function(p, "{\"name\":\"other\",\"image\":\"img\"}", NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(invoke_async(p, &q, "{}", &e), 0);
        request_free(&q);
    }
    request_init(&q, "POST", "/invoke/other/async");
    assert_int_equal(call(p, &q, handlers_invoke_async, "other", NULL, &e), 0);
    request_free(&q);

    static const struct {
        const char *uri, *code;
    } bad[] = {
        {"/invocations?limit=0", "invalid_query"},
        {"/invocations?limit=1001", "invalid_query"},
        {"/invocations?limit=two", "invalid_query"},
        {"/invocations?status=DONE", "invalid_status"},
        {"/invocations?since=yesterday", "invalid_since"},
        {"/invocations?cursor=not-a-cursor", "invalid_cursor"},
        {"/invocations?function=%zz", "invalid_query"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&c, 0, sizeof(c));
        assert_int_equal(list(p, &q, bad[i].uri, &c, &e), -1);
        assert_string_equal(err_code(&e), bad[i].code);
        request_free(&q);
    }

    /* Two pages of 2 from the newest: 4 runs, each once. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(list(p, &q, "/invocations?limit=2&cursor=", &c, &e), 0);
    json_object *page = request_json(&q);
    json_object *runs = json_object_object_get(page, "invocations");
    assert_int_equal(json_object_array_length(runs), 2);
    const char *next = text(page, "next_cursor");
    assert_non_null(next);
    assert_string_equal(request_header_value(&q, "X-Next-Cursor", v, sizeof(v)), next);
    char ids[4][RUNTIME_ID_LEN];
    for (int i = 0; i < 2; i++)
        snprintf(ids[i], sizeof(ids[i]), "%s", text(json_object_array_get_idx(runs, i), "id"));
    assert_string_equal(text(json_object_array_get_idx(runs, 0), "type"), "async");
    char uri[256];
    snprintf(uri, sizeof(uri), "/invocations?limit=2&cursor=%s", next);
    json_object_put(page);
    request_free(&q);
    assert_int_equal(list(p, &q, uri, &c, &e), 0);
    page = request_json(&q);
    runs = json_object_object_get(page, "invocations");
    assert_int_equal(json_object_array_length(runs), 2);
    assert_null(json_object_object_get(page, "next_cursor"));
    assert_false(request_has_header(&q, "X-Next-Cursor:"));
    for (int i = 0; i < 2; i++)
        snprintf(ids[2 + i], sizeof(ids[2 + i]), "%s",
                 text(json_object_array_get_idx(runs, i), "id"));
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < i; k++)
            assert_string_not_equal(ids[i], ids[k]);
    json_object_put(page);
    request_free(&q);

    /* Without a cursor parameter: a bare array. Filters narrow it. */
    assert_int_equal(list(p, &q, "/invocations?function=fn&status=pending", &c, &e), 0);
    json_object *arr = request_json(&q);
    assert_true(json_object_is_type(arr, json_type_array));
    assert_int_equal(json_object_array_length(arr), 3);
    json_object_put(arr);
    request_free(&q);
    assert_int_equal(list(p, &q, "/invocations?status=COMPLETED", &c, &e), 0);
    arr = request_json(&q);
    assert_int_equal(json_object_array_length(arr), 0);
    json_object_put(arr);
    request_free(&q);
}

/* A key limited to its own runs sees those only; a read key may read
 * another's run but not cancel it; a pending run is cancelled once. */
static void test_runs_of_a_key(void **state)
{
    platform_t *p = *state;
    request_t q;
    route_call c;
    err_t e;
    char mine[RUNTIME_ID_LEN], theirs[RUNTIME_ID_LEN];
    platform_function(p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    keys_key k1 = key_of("k1", KEYS_INVOKE, NULL), k2 = key_of("k2", KEYS_INVOKE | KEYS_READ, NULL);
    const keys_key *who[2] = {&k1, &k2};
    char *ids[2] = {mine, theirs};
    for (int i = 0; i < 2; i++) {
        request_init(&q, "POST", "/invoke/fn/async");
        assert_int_equal(call(p, &q, handlers_invoke_async, "fn", who[i], &e), 0);
        json_object *out = request_json(&q);
        snprintf(ids[i], RUNTIME_ID_LEN, "%s", text(out, "invocation_id"));
        json_object_put(out);
        request_free(&q);
    }

    memset(&c, 0, sizeof(c));
    c.key = &k1;
    c.owner = "k1";
    assert_int_equal(list(p, &q, "/invocations", &c, &e), 0);
    json_object *arr = request_json(&q);
    assert_int_equal(json_object_array_length(arr), 1);
    assert_string_equal(text(json_object_array_get_idx(arr, 0), "id"), mine);
    assert_string_equal(text(json_object_array_get_idx(arr, 0), "created_by"), "k1");
    json_object_put(arr);
    request_free(&q);

    /* Another's run is not there for k1 (404), and k2 (read) may read
     * k1's but not act on it (403). */
    route_call g;
    memset(&g, 0, sizeof(g));
    g.key = &k1;
    g.owner = "k1";
    snprintf(g.ref, sizeof(g.ref), "%s", theirs);
    request_init(&q, "GET", "/invocations/x");
    assert_int_equal(call_as(p, &q, handlers_get_invocation, &g, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    request_free(&q);
    memset(&g, 0, sizeof(g));
    g.key = &k2;
    g.owner = "k2";
    snprintf(g.ref, sizeof(g.ref), "%s", mine);
    request_init(&q, "DELETE", "/invocations/x");
    assert_int_equal(call_as(p, &q, handlers_cancel_invocation, &g, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    request_free(&q);

    /* Its owner cancels it; a second cancel finds it finished. */
    memset(&g, 0, sizeof(g));
    g.key = &k1;
    g.owner = "k1";
    snprintf(g.ref, sizeof(g.ref), "%s", mine);
    route_call g2 = g;
    request_init(&q, "DELETE", "/invocations/x");
    assert_int_equal(call_as(p, &q, handlers_cancel_invocation, &g, &e), 0);
    assert_int_equal(request_status(&q), 200);
    json_object *rec = request_json(&q);
    assert_string_equal(text(rec, "status"), "CANCELLED");
    json_object_put(rec);
    request_free(&q);
    request_init(&q, "DELETE", "/invocations/x");
    assert_int_equal(call_as(p, &q, handlers_cancel_invocation, &g2, &e), -1);
    assert_string_equal(err_code(&e), "already_finished");
    request_free(&q);
    keys_key_free(&k1);
    keys_key_free(&k2);
}

/* A key: made with its secret shown once, listed without it, revoked. */
static void test_keys(void **state)
{
    platform_t *p = *state;
    request_t q;
    err_t e;
    char v[128], want[128];
    body(&q, "POST", "/keys", "{\"name\":\"ci\",\"scopes\":[\"invoke\"]}");
    assert_int_equal(call(p, &q, handlers_create_key, NULL, NULL, &e), 0);
    assert_int_equal(request_status(&q), 201);
    json_object *made = request_json(&q);
    char id[64];
    snprintf(id, sizeof(id), "%s", text(made, "id"));
    assert_int_equal(strncmp(text(made, "key"), KEYS_PREFIX, strlen(KEYS_PREFIX)), 0);
    snprintf(want, sizeof(want), "/keys/%s", id);
    assert_string_equal(request_header_value(&q, "Location", v, sizeof(v)), want);
    assert_string_equal(request_header_value(&q, "Cache-Control", v, sizeof(v)), "no-store");
    char secret[128];
    snprintf(secret, sizeof(secret), "%s", text(made, "key"));
    json_object_put(made);
    request_free(&q);

    body(&q, "GET", "/keys", NULL);
    assert_int_equal(call(p, &q, handlers_list_keys, NULL, NULL, &e), 0);
    json_object *all = request_json(&q);
    assert_int_equal(json_object_array_length(all), 1);
    assert_string_equal(text(json_object_array_get_idx(all, 0), "id"), id);
    assert_null(strstr(request_answer_body(&q), secret));
    json_object_put(all);
    request_free(&q);

    body(&q, "POST", "/keys", "{\"name\":\"bad\",\"scopes\":[\"root\"]}");
    assert_int_equal(call(p, &q, handlers_create_key, NULL, NULL, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    request_free(&q);

    for (int i = 0; i < 2; i++) {
        body(&q, "DELETE", "/keys/x", NULL);
        route_call c;
        memset(&c, 0, sizeof(c));
        snprintf(c.ref, sizeof(c.ref), "%s", id);
        int rc = call_as(p, &q, handlers_delete_key, &c, &e);
        if (i == 0) {
            assert_int_equal(rc, 0);
            assert_int_equal(request_status(&q), 204);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(e.kind, ERR_NOT_FOUND);
        }
        request_free(&q);
    }
}

/* /healthz: each part with its status; 503 naming the failed ones (no
 * engine answers here; the executors are not running, then are), the
 * first failed part's code, one line of every failure. */
static void test_healthz(void **state)
{
    platform_t *p = *state;
    request_t q;
    err_t e;
    platform_function(p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    body(&q, "GET", "/healthz", NULL);
    assert_int_equal(call(p, &q, handlers_healthz, NULL, NULL, &e), 0);
    assert_int_equal(request_status(&q), 503);
    json_object *h = request_json(&q);
    assert_string_equal(text(h, "status"), "unavailable");
    assert_string_equal(text(h, "docker"), "unreachable");
    assert_string_equal(text(h, "code"), "engine_unreachable");
    json_object *parts = json_object_object_get(h, "components");
    json_object *store = json_object_object_get(parts, "store");
    assert_string_equal(text(store, "status"), "ok");
    assert_int_equal(json_object_get_int(json_object_object_get(store, "functions")), 1);
    json_object *ex = json_object_object_get(parts, "executors");
    assert_string_equal(text(ex, "status"), "failed");
    assert_string_equal(text(ex, "code"), "executors_down");
    assert_int_equal(json_object_get_int(json_object_object_get(ex, "configured")),
                     p->cfg.async_workers);
    assert_int_equal(json_object_get_int(json_object_object_get(ex, "running")), 0);
    json_object *failed = json_object_object_get(h, "failed");
    assert_int_equal(json_object_array_length(failed), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(failed, 0)), "engine");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(failed, 1)), "executors");
    assert_non_null(strstr(text(h, "error"), "engine: "));
    assert_non_null(strstr(text(h, "error"), "; executors: "));
    json_object *disk = json_object_object_get(parts, "disk");
    assert_string_equal(text(disk, "status"), "ok");
    assert_int_equal(json_object_get_int64(json_object_object_get(disk, "min_free_bytes")), 0);
    json_object_put(h);
    request_free(&q);

    /* The executors up: only the engine fails. */
    for (int i = 0; i < p->cfg.async_workers; i++)
        slots_set_state(p->slots, p->cfg.workers + i, SLOTS_UP, 0);
    body(&q, "GET", "/healthz", NULL);
    assert_int_equal(call(p, &q, handlers_healthz, NULL, NULL, &e), 0);
    h = request_json(&q);
    failed = json_object_object_get(h, "failed");
    assert_int_equal(json_object_array_length(failed), 1);
    ex = json_object_object_get(json_object_object_get(h, "components"), "executors");
    assert_string_equal(text(ex, "status"), "ok");
    assert_int_equal(json_object_get_int(json_object_object_get(ex, "running")),
                     p->cfg.async_workers);
    json_object_put(h);
    request_free(&q);
}

/* /metrics: a key limited to some functions sees their series only. */
static void test_metrics_view(void **state)
{
    platform_t *p = *state;
    request_t q;
    err_t e;
    platform_function(p, "{\"name\":\"seen\",\"image\":\"img\"}", NULL);
    platform_function(p, "{\"name\":\"hidden\",\"image\":\"img\"}", NULL);
    metrics_observe(p->metrics, "seen", METRICS_SUCCEEDED, 5);
    metrics_observe(p->metrics, "hidden", METRICS_SUCCEEDED, 5);

    body(&q, "GET", "/metrics", NULL);
    assert_int_equal(call(p, &q, handlers_metrics, NULL, NULL, &e), 0);
    assert_int_equal(request_status(&q), 200);
    const char *all = request_answer_body(&q);
    assert_non_null(strstr(all, "function=\"seen\""));
    assert_non_null(strstr(all, "function=\"hidden\""));
    assert_non_null(strstr(all, "minilambda_up{component=\"engine\"} 0"));
    assert_non_null(strstr(all, "minilambda_up{component=\"store\"} 1"));
    request_free(&q);

    keys_key k = key_of("k-m", KEYS_METRICS, "[\"seen\"]");
    body(&q, "GET", "/metrics", NULL);
    assert_int_equal(call(p, &q, handlers_metrics, NULL, &k, &e), 0);
    const char *mine = request_answer_body(&q);
    assert_non_null(strstr(mine, "function=\"seen\""));
    assert_null(strstr(mine, "function=\"hidden\""));
    request_free(&q);
    keys_key_free(&k);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_registry),
        T(test_list_visible),
        T(test_invoke_body),
        T(test_invoke_sync),
        T(test_list_invocations),
        T(test_runs_of_a_key),
        T(test_keys),
        T(test_healthz),
        T(test_metrics_view),
        cmocka_unit_test(test_queue_bound),
    };
#undef T
    return cmocka_run_group_tests_name("handlers", tests, NULL, NULL);
}
