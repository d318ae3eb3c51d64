/*
 * Unit tests for replay, the gate's Idempotency-Key bracket, on requests in
 * memory (request.h) and the Idempotency-Key records of a temporary data
 * dir: a request without the header passes untouched, a bad key or body
 * is refused, the first answer is replayed as it was to the same caller
 * and request only, a request that made nothing (or answered 503) leaves
 * no record, one in progress is 409, and a retry of one that died runs
 * again under its id where the route may redo it and is refused where it
 * may not (interrupted, or an answer too large to keep).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/handlers.h"
#include "http/replay.h"
#include "platform.h"

/* How many times a handler ran, and the body it read. */
static int runs;
static char seen_body[256];

/* Makes a thing under c->id from the body the bracket read ahead. */
static int make_thing(route_call *c, err_t *e)
{
    char headers[128], body[160];
    buf_t b;
    buf_init(&b, 0);
    if (http_read_body(c->r, HANDLERS_BODY_MAX, &b, e) != 0)
        return -1;
    snprintf(seen_body, sizeof(seen_body), "%.*s", (int)b.len, b.data ? b.data : "");
    buf_free(&b);
    runs++;
    snprintf(headers, sizeof(headers), "Location: /things/%s\r\n", c->id);
    int n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"run\":%d}", c->id, runs);
    http_send(c->r, 201, headers, "application/json", body, (size_t)n);
    return 0;
}

/* Makes nothing: the gate answers its error. */
static int make_nothing(route_call *c, err_t *e)
{
    (void)c;
    runs++;
    return err_set(e, ERR_INVALID, "invalid_thing", 0, "no thing");
}

/* Could not act: answers 503 itself. */
static int answer_503(route_call *c, err_t *e)
{
    (void)e;
    runs++;
    http_send_error(c->r, 503, "engine_unreachable", "no engine", NULL);
    return 0;
}

/* An answer larger than a record keeps. */
static int answer_huge(route_call *c, err_t *e)
{
    (void)e;
    size_t n = IDEM_ANSWER_MAX + 10;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    runs++;
    http_send(c->r, 200, NULL, "text/plain", big, n);
    free(big);
    return 0;
}

/* What one request through the bracket did. */
typedef struct {
    int begin;               /* replay_begin's result */
    char id[RUNTIME_ID_LEN]; /* c->id once it began */
    bool recorded;           /* c->recorded */
    long retry_after;
    err_t e; /* when begin or the handler failed */
} outcome;

/*
 * Serve `q` as the gate does a ROUTE_IDEMPOTENT row: replay_begin, the
 * handler `h` when it says so, replay_end, and the error answered when
 * there is one. `key_id` is the caller's key (NULL: none).
 */
static void serve(platform_t *p, request_t *q, const char *key_id, bool redo, route_handler h,
                  outcome *out)
{
    route_call c;
    replay_t o;
    keys_key key = {.scopes = KEYS_ADMIN};
    memset(out, 0, sizeof(*out));
    platform_call(p, q, &c);
    if (key_id != NULL) {
        snprintf(key.id, sizeof(key.id), "%s", key_id);
        c.key = &key;
    }
    replay_init(&o);
    err_clear(&out->e);
    int rc = out->begin = replay_begin(&c, redo, &o, &out->e);
    snprintf(out->id, sizeof(out->id), "%s", c.id);
    out->recorded = c.recorded;
    if (rc > 0)
        rc = h(&c, &out->e);
    replay_end(&c, &o, rc);
    out->retry_after = c.retry_after;
    assert_null(c.r->ahead);
    assert_null(c.r->copy);
    if (rc < 0)
        http_send_err(c.r, &out->e, NULL);
}

/* A POST of `body` with Idempotency-Key `key` (NULL: none). */
static void post(request_t *q, const char *key, const char *body)
{
    request_init(q, "POST", "/things");
    if (key != NULL)
        request_param(q, "HTTP_IDEMPOTENCY_KEY", key);
    request_body(q, "application/json", body, strlen(body));
}

static int setup(void **state)
{
    platform_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    platform_open(p, "replay", NULL);
    runs = 0;
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    platform_close(*state);
    free(*state);
    return 0;
}

/* Without the header the bracket does nothing: no id, no copy, no record. */
static void test_no_header(void **state)
{
    platform_t *p = *state;
    request_t q;
    outcome o;
    post(&q, NULL, "{\"a\":1}");
    serve(p, &q, NULL, true, make_thing, &o);
    assert_int_equal(o.begin, 1);
    assert_string_equal(o.id, "");
    assert_false(o.recorded);
    assert_int_equal(request_status(&q), 201);
    /* The handler read the body itself. */
    assert_string_equal(seen_body, "{\"a\":1}");
    request_free(&q);
    post(&q, NULL, "{\"a\":1}");
    serve(p, &q, NULL, true, make_thing, &o);
    assert_int_equal(runs, 2);
    assert_false(request_has_header(&q, "Idempotent-Replayed:"));
    assert_int_equal(idem_usage(p->app.idem), 0);
    request_free(&q);
}

/* A key of control bytes or over IDEM_KEY_MAX, or a body over the plane's
 * bound: refused before anything runs. */
static void test_refused(void **state)
{
    platform_t *p = *state;
    request_t q;
    outcome o;
    char long_key[IDEM_KEY_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    const char *bad[] = {"tab\there", long_key, ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        post(&q, bad[i], "{}");
        serve(p, &q, NULL, true, make_thing, &o);
        assert_int_equal(o.begin, -1);
        assert_string_equal(err_code(&o.e), "invalid_idempotency_key");
        assert_int_equal(request_status(&q), 400);
        request_free(&q);
    }
    size_t n = HANDLERS_BODY_MAX + 1;
    char *big = calloc(1, n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    post(&q, "k-big", big);
    serve(p, &q, NULL, true, make_thing, &o);
    assert_int_equal(o.begin, -1);
    assert_int_equal(err_status(&o.e), 413);
    free(big);
    request_free(&q);
    assert_int_equal(runs, 0);
}

/* The first answer again, marked, for the same caller, key and request;
 * the handler does not run twice. */
static void test_replayed(void **state)
{
    platform_t *p = *state;
    request_t q;
    outcome first, again;
    char v[128], answer[512];

    post(&q, "key-1", "{\"a\":1}");
    serve(p, &q, "caller-a", true, make_thing, &first);
    assert_int_equal(first.begin, 1);
    assert_true(first.recorded);
    assert_int_equal(strlen(first.id), 36);
    /* The handler got the body the bracket read ahead. */
    assert_string_equal(seen_body, "{\"a\":1}");
    assert_int_equal(request_status(&q), 201);
    snprintf(answer, sizeof(answer), "%s", request_answer_body(&q));
    request_free(&q);

    post(&q, "key-1", "{\"a\":1}");
    serve(p, &q, "caller-a", true, make_thing, &again);
    assert_int_equal(again.begin, 0);
    assert_int_equal(runs, 1);
    assert_int_equal(request_status(&q), 201);
    assert_string_equal(request_header_value(&q, "Idempotent-Replayed", v, sizeof(v)), "true");
    char loc[128];
    snprintf(loc, sizeof(loc), "/things/%s", first.id);
    assert_string_equal(request_header_value(&q, "Location", v, sizeof(v)), loc);
    assert_string_equal(request_answer_body(&q), answer);
    request_free(&q);

    /* Another request under the key: 422, nothing run. */
    post(&q, "key-1", "{\"a\":2}");
    serve(p, &q, "caller-a", true, make_thing, &again);
    assert_int_equal(again.begin, -1);
    assert_string_equal(err_code(&again.e), "idempotency_mismatch");
    assert_int_equal(request_status(&q), 422);
    request_free(&q);

    /* The same key from another caller is another key. */
    post(&q, "key-1", "{\"a\":1}");
    serve(p, &q, "caller-b", true, make_thing, &again);
    assert_int_equal(again.begin, 1);
    assert_string_not_equal(again.id, first.id);
    assert_int_equal(runs, 2);
    assert_false(request_has_header(&q, "Idempotent-Replayed:"));
    request_free(&q);
}

/* A handler that made nothing, or answered 503, leaves no record: the
 * retry acts afresh. */
static void test_forgotten(void **state)
{
    platform_t *p = *state;
    request_t q;
    outcome o;
    route_handler failing[] = {make_nothing, answer_503};
    for (size_t i = 0; i < 2; i++) {
        char key[16];
        snprintf(key, sizeof(key), "forget-%zu", i);
        runs = 0;
        post(&q, key, "{}");
        serve(p, &q, NULL, true, failing[i], &o);
        assert_int_equal(o.begin, 1);
        assert_int_equal(request_status(&q), i == 0 ? 400 : 503);
        request_free(&q);
        post(&q, key, "{}");
        serve(p, &q, NULL, true, make_thing, &o);
        assert_int_equal(o.begin, 1);
        assert_int_equal(runs, 2);
        assert_int_equal(request_status(&q), 201);
        assert_false(request_has_header(&q, "Idempotent-Replayed:"));
        request_free(&q);
    }
}

/* While the first request holds the key: 409 with a retry hint. When it
 * died without an answer: run again under its id (redo), or refused. */
static void test_in_progress_and_interrupted(void **state)
{
    platform_t *p = *state;
    request_t q, q2;
    route_call c;
    replay_t held;
    outcome o;
    err_t e;
    char v[64];

    post(&q, "dies", "{\"x\":1}");
    platform_call(p, &q, &c);
    replay_init(&held);
    assert_int_equal(replay_begin(&c, true, &held, &e), 1);
    char first_id[RUNTIME_ID_LEN];
    snprintf(first_id, sizeof(first_id), "%s", c.id);

    post(&q2, "dies", "{\"x\":1}");
    serve(p, &q2, NULL, true, make_thing, &o);
    assert_int_equal(o.begin, -1);
    assert_string_equal(err_code(&o.e), "idempotency_in_progress");
    assert_int_equal(err_status(&o.e), 409);
    assert_int_equal(o.retry_after, 1);
    request_free(&q2);

    /* The first dies: its lock goes, its intent stays. */
    idem_end(p->app.idem, &held.en);
    buf_free(&held.body);
    buf_free(&held.copy.body);
    request_free(&q);

    /* A synchronous run may have acted: not again. */
    post(&q2, "dies", "{\"x\":1}");
    serve(p, &q2, NULL, false, make_thing, &o);
    assert_int_equal(o.begin, 0);
    assert_int_equal(runs, 0);
    assert_int_equal(request_status(&q2), 409);
    json_object *err = request_json(&q2);
    assert_string_equal(json_object_get_string(json_object_object_get(err, "code")),
                        "idempotency_interrupted");
    json_object_put(err);
    assert_string_equal(request_header_value(&q2, "X-Invocation-Id", v, sizeof(v)), first_id);
    request_free(&q2);

    /* A route whose handler finds what it made: again, under the same id. */
    post(&q2, "dies", "{\"x\":1}");
    serve(p, &q2, NULL, true, make_thing, &o);
    assert_int_equal(o.begin, 1);
    assert_string_equal(o.id, first_id);
    assert_int_equal(runs, 1);
    assert_int_equal(request_status(&q2), 201);
    request_free(&q2);
}

/* An answer too large to keep: a retry of a run that cannot be redone is
 * refused with its id, one that can runs again under it. */
static void test_answer_not_kept(void **state)
{
    platform_t *p = *state;
    request_t q;
    outcome first, o;
    post(&q, "huge", "{}");
    serve(p, &q, NULL, false, answer_huge, &first);
    assert_int_equal(first.begin, 1);
    assert_int_equal(request_status(&q), 200);
    request_free(&q);

    post(&q, "huge", "{}");
    serve(p, &q, NULL, false, answer_huge, &o);
    assert_int_equal(o.begin, 0);
    assert_int_equal(runs, 1);
    assert_int_equal(request_status(&q), 409);
    assert_non_null(strstr(request_answer_body(&q), "idempotency_answer_not_kept"));
    assert_non_null(strstr(request_answer_body(&q), first.id));
    request_free(&q);

    post(&q, "huge", "{}");
    serve(p, &q, NULL, true, make_thing, &o);
    assert_int_equal(o.begin, 1);
    assert_string_equal(o.id, first.id);
    assert_int_equal(runs, 2);
    request_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_progress_and_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_not_kept, setup, teardown),
    };
    return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
