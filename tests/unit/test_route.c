/*
 * Unit tests for the route table and its matching (route_match over
 * http_match_path): every route and method, 404 and 405, trailing slashes,
 * query strings, percent-decoding of {ref}, X-Invocation-Type, the table's
 * own checks, metrics ids and the nginx locations rendered from it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "http/http.h"
#include "http/route.h"

typedef enum { M_OK, M_NOT_FOUND, M_BAD_METHOD, M_BAD_PATH } m_rc;

/* route_match with no X-Invocation-Type, its outcome as one word. */
static m_rc match(const char *method, const char *uri, route_found *f)
{
    err_t e;
    if (route_match(method, uri, NULL, f, &e) == 0)
        return M_OK;
    if (e.kind == ERR_NOT_FOUND)
        return M_NOT_FOUND;
    return e.kind == ERR_METHOD ? M_BAD_METHOD : M_BAD_PATH;
}

/* The template the request matched (also on a 405), or "". */
static const char *tmpl_of(const route_found *f)
{
    int n;
    const char *const *names = route_metric_names(&n);
    return f->metric > 0 && f->metric < n ? names[f->metric] : "";
}

/* The Allow value of a match. */
static const char *allow_of(const route_found *f)
{
    static char out[64];
    http_allow(f->allow, out, sizeof(out));
    return out;
}

#define ID "123e4567-e89b-42d3-a456-426614174000"

static const char *const all_methods[] = {"GET", "HEAD",    "POST", "PATCH", "DELETE",
                                          "PUT", "OPTIONS", "get",  "",      "TRACE"};

#define N_METHODS (sizeof(all_methods) / sizeof(all_methods[0]))

typedef struct {
    const char *path;
    const char *route;
    const char *allow;
    const char *tmpl;
    const char *ref;
    const char *const *ok; /* NULL-terminated list of accepted methods */
} route_case;

static const char *const functions_ok[] = {"GET", "HEAD", "POST", NULL};
static const char *const function_ok[] = {"GET", "HEAD", "PATCH", "DELETE", NULL};
static const char *const invoke_ok[] = {"POST", NULL};
static const char *const healthz_ok[] = {"GET", "HEAD", NULL};
static const char *const metrics_ok[] = {"GET", "HEAD", NULL};
static const char *const images_ok[] = {"GET", "HEAD", "POST", NULL};
static const char *const invocations_ok[] = {"GET", "HEAD", NULL};
static const char *const invocation_ok[] = {"GET", "HEAD", "POST", "DELETE", NULL};
static const char *const lambda_function_ok[] = {"GET", "HEAD", "DELETE", NULL};
static const char *const lambda_config_ok[] = {"GET", "HEAD", NULL};

static const route_case route_cases[] = {
    {"/functions", "/functions", "GET, HEAD, POST", "/functions", "", functions_ok},
    {"/functions/hello", "/functions/{ref}", "GET, HEAD, PATCH, DELETE", "/functions/{ref}",
     "hello", function_ok},
    {"/invoke/hello", "/invoke/{ref}", "POST", "/invoke/{ref}", "hello", invoke_ok},
    {"/healthz", "/healthz", "GET, HEAD", "/healthz", "", healthz_ok},
    {"/metrics", "/metrics", "GET, HEAD", "/metrics", "", metrics_ok},
    {"/images", "/images", "GET, HEAD, POST", "/images", "", images_ok},
    {"/invoke/hello/async", "/invoke/{ref}/async", "POST", "/invoke/{ref}/async", "hello",
     invoke_ok},
    {"/invocations", "/invocations", "GET, HEAD", "/invocations", "", invocations_ok},
    {"/invocations/" ID, "/invocations/{id}", "GET, HEAD, POST, DELETE", "/invocations/{id}", ID,
     invocation_ok},
    {"/2015-03-31/functions", "/2015-03-31/functions", "GET, HEAD, POST", "/2015-03-31/functions",
     "", functions_ok},
    {"/2015-03-31/functions/hello", "/2015-03-31/functions/{ref}", "GET, HEAD, DELETE",
     "/2015-03-31/functions/{ref}", "hello", lambda_function_ok},
    {"/2015-03-31/functions/hello/configuration", "/2015-03-31/functions/{ref}/configuration",
     "GET, HEAD", "/2015-03-31/functions/{ref}/configuration", "hello", lambda_config_ok},
    {"/2015-03-31/functions/hello/invocations", "/2015-03-31/functions/{ref}/invocations", "POST",
     "/2015-03-31/functions/{ref}/invocations", "hello", invoke_ok},
};

static int method_allowed(const char *const *ok, const char *method)
{
    for (size_t i = 0; ok[i]; i++)
        if (strcmp(ok[i], method) == 0)
            return 1;
    return 0;
}

static void test_every_route_and_method(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(route_cases) / sizeof(route_cases[0]); r++) {
        const route_case *c = &route_cases[r];
        for (size_t i = 0; i < N_METHODS; i++) {
            route_found m;
            m_rc rc = match(all_methods[i], c->path, &m);
            if (method_allowed(c->ok, all_methods[i]))
                assert_int_equal(rc, M_OK);
            else
                assert_int_equal(rc, M_BAD_METHOD);
            /* The route, allow string and ref are filled either way. */
            assert_string_equal(tmpl_of(&m), c->route);
            assert_string_equal(allow_of(&m), c->allow);
            assert_string_equal(m.ref, c->ref);
        }
    }
}

/* The row served is the template's, and its metrics label is the
 * template, never the raw path. */
static void test_match_template(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(route_cases) / sizeof(route_cases[0]); r++) {
        const route_case *c = &route_cases[r];
        route_found m;
        assert_int_equal(match(c->ok[0], c->path, &m), M_OK);
        assert_non_null(m.row);
        assert_string_equal(m.row->tmpl, c->tmpl);
        assert_string_equal(tmpl_of(&m), c->tmpl);
    }
}

static void test_not_found(void **state)
{
    static const char *const paths[] = {
        "/",
        "",
        "/function",
        "/functionsx",
        "/functions/a/b",
        "/functions/a/b/",
        "/functions/a/b/c",
        "/functions//",
        "/invoke",
        "/invoke/",
        "/invoke/a/b",
        "/healthz/x",
        "/healthzz",
        "/metrics/x",
        "/metricsx",
        "/images/x",
        "/invoke//async",
        "/invoke/a/async/x",
        "/invoke/a/b/async",
        "/invoke/a/asyncx",
        "/invocations/a/b",
        "/Healthz",
        "/FUNCTIONS",
        "//functions",
        "functions",
        "/x/functions",
        "/functions/../healthz",
        "/invoke/../functions",
        "?/functions",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        for (size_t j = 0; j < N_METHODS; j++) {
            route_found m;
            memset(&m, 0x41, sizeof(m));
            assert_int_equal(match(all_methods[j], paths[i], &m), M_NOT_FOUND);
            assert_string_equal(tmpl_of(&m), "");
        }
    }
}

static void test_trailing_slash(void **state)
{
    route_found m;
    (void)state;
    assert_int_equal(match("GET", "/functions/", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/functions");
    assert_int_equal(match("POST", "/functions/", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/functions");

    assert_int_equal(match("GET", "/functions/abc/", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/functions/{ref}");
    assert_string_equal(m.ref, "abc");

    assert_int_equal(match("POST", "/invoke/abc/", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}");
    assert_string_equal(m.ref, "abc");

    assert_int_equal(match("GET", "/healthz/", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/healthz");

    assert_int_equal(match("PUT", "/healthz/", &m), M_BAD_METHOD);
    assert_string_equal(allow_of(&m), "GET, HEAD");
}

static void test_query_and_fragment_ignored(void **state)
{
    route_found m;
    (void)state;
    assert_int_equal(match("GET", "/functions?limit=10", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/functions");

    assert_int_equal(match("GET", "/functions/?a=b/c", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/functions");

    assert_int_equal(match("GET", "/functions/abc?x=1&y=/z", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/functions/{ref}");
    assert_string_equal(m.ref, "abc");

    /* A bad escape in the query is not the path's business. */
    assert_int_equal(match("GET", "/functions/abc?x=%zz%00%4", &m), M_OK);
    assert_string_equal(m.ref, "abc");

    assert_int_equal(match("POST", "/invoke/fn?", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}");
    assert_string_equal(m.ref, "fn");

    assert_int_equal(match("GET", "/healthz?verbose", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/healthz");

    assert_int_equal(match("GET", "/functions/abc#frag", &m), M_OK);
    assert_string_equal(m.ref, "abc");

    assert_int_equal(match("GET", "/functions/a/b?x", &m), M_NOT_FOUND);
    assert_int_equal(match("DELETE", "/functions?x=1", &m), M_BAD_METHOD);
    assert_string_equal(allow_of(&m), "GET, HEAD, POST");
}

static void test_percent_decoding(void **state)
{
    static const struct {
        const char *uri;
        const char *ref;
    } cases[] = {
        {"/functions/hello%20world", "hello world"},
        {"/functions/%41%62%63", "Abc"},
        {"/functions/%4a%4A", "JJ"},
        {"/functions/a%2Fb", "a/b"},
        {"/functions/a%2fb", "a/b"},
        {"/functions/a%3Fb", "a?b"},
        {"/functions/%25", "%"},
        {"/functions/%2525", "%25"},
        {"/functions/a+b", "a+b"},
        {"/functions/%C3%A9t%C3%A9", "\xc3\xa9t\xc3\xa9"},
        {"/functions/%ff", "\xff"},
        {"/functions/123e4567-e89b-42d3-a456-426614174000", "123e4567-e89b-42d3-a456-426614174000"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        route_found m;
        assert_int_equal(match("GET", cases[i].uri, &m), M_OK);
        assert_string_equal(tmpl_of(&m), "/functions/{ref}");
        assert_string_equal(m.ref, cases[i].ref);
    }
    route_found m;
    assert_int_equal(match("POST", "/invoke/my%2Dfn", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}");
    assert_string_equal(m.ref, "my-fn");
}

static void test_bad_escapes(void **state)
{
    static const char *const uris[] = {
        "/functions/%zz",   "/functions/%4",   "/functions/%",        "/functions/a%",
        "/functions/a%4",   "/functions/%4g",  "/functions/%g4",      "/functions/%00",
        "/functions/a%00b", "/functions/%%41", "/functions/%4/",      "/invoke/%zz",
        "/invoke/%00",      "/invoke/x%4",     "/functions/%zz?ok=1",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        route_found m;
        assert_int_equal(match("GET", uris[i], &m), M_BAD_PATH);
        assert_string_equal(tmpl_of(&m), "");
        assert_int_equal(match("POST", uris[i], &m), M_BAD_PATH);
    }
}

static void test_ref_length(void **state)
{
    char uri[4096];
    char want[HTTP_REF_MAX + 8];
    route_found m;
    (void)state;

    /* 255 bytes: the largest ref that fits. */
    memset(want, 'r', 255);
    want[255] = '\0';
    snprintf(uri, sizeof(uri), "/functions/%s", want);
    assert_int_equal(match("GET", uri, &m), M_OK);
    assert_int_equal(strlen(m.ref), 255);
    assert_string_equal(m.ref, want);

    /* 256 bytes: too long. */
    snprintf(uri, sizeof(uri), "/functions/%sr", want);
    assert_int_equal(match("GET", uri, &m), M_BAD_PATH);
    snprintf(uri, sizeof(uri), "/invoke/%sr", want);
    assert_int_equal(match("POST", uri, &m), M_BAD_PATH);

    /* The limit is on the decoded length: 255 escapes fit, 256 do not. */
    size_t off = (size_t)snprintf(uri, sizeof(uri), "/functions/");
    for (int i = 0; i < 255; i++)
        off += (size_t)snprintf(uri + off, sizeof(uri) - off, "%%41");
    assert_int_equal(match("GET", uri, &m), M_OK);
    assert_int_equal(strlen(m.ref), 255);
    assert_int_equal(m.ref[0], 'A');
    assert_int_equal(m.ref[254], 'A');
    snprintf(uri + off, sizeof(uri) - off, "%%41");
    assert_int_equal(match("GET", uri, &m), M_BAD_PATH);

    /* Much longer still. */
    memset(uri, 'q', sizeof(uri) - 1);
    memcpy(uri, "/functions/", 11);
    uri[sizeof(uri) - 1] = '\0';
    assert_int_equal(match("GET", uri, &m), M_BAD_PATH);
}

static void test_dot_segments_are_refs(void **state)
{
    static const struct {
        const char *uri;
        const char *ref;
    } cases[] = {
        {"/functions/..", ".."},
        {"/functions/.", "."},
        {"/functions/..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"},
        {"/functions/%2e%2e%2f%2e%2e%2fhealthz", "../../healthz"},
        {"/functions/%2E%2E", ".."},
        {"/functions/..%2f", "../"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        route_found m;
        assert_int_equal(match("GET", cases[i].uri, &m), M_OK);
        assert_string_equal(tmpl_of(&m), "/functions/{ref}");
        assert_string_equal(m.ref, cases[i].ref);
    }
    route_found m;
    assert_int_equal(match("POST", "/invoke/..%2Ffunctions", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}");
    assert_string_equal(m.ref, "../functions");
    /* Literal dot segments are not resolved into another route. */
    assert_int_equal(match("GET", "/functions/../healthz", &m), M_NOT_FOUND);
    assert_int_equal(match("GET", "/healthz/..", &m), M_NOT_FOUND);
}

static void test_async_route(void **state)
{
    route_found m;
    (void)state;
    /* "/invoke/async" is the sync route for a function named "async". */
    assert_int_equal(match("POST", "/invoke/async", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}");
    assert_string_equal(m.ref, "async");
    assert_int_equal(match("POST", "/invoke/async/async", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}/async");
    assert_string_equal(m.ref, "async");
    assert_int_equal(match("POST", "/invoke/fn/async/?x=1", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}/async");
    assert_string_equal(m.ref, "fn");
    /* An escaped slash stays inside the ref. */
    assert_int_equal(match("POST", "/invoke/fn%2Fasync", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}");
    assert_string_equal(m.ref, "fn/async");
    assert_int_equal(match("POST", "/invoke/a%20b/async", &m), M_OK);
    assert_string_equal(tmpl_of(&m), "/invoke/{ref}/async");
    assert_string_equal(m.ref, "a b");
    assert_int_equal(match("POST", "/invoke/%zz/async", &m), M_BAD_PATH);
    assert_int_equal(match("GET", "/invoke/fn/async", &m), M_BAD_METHOD);
    assert_string_equal(allow_of(&m), "POST");
}

static void test_match_is_reset(void **state)
{
    route_found m;
    (void)state;
    assert_int_equal(match("GET", "/functions/first", &m), M_OK);
    assert_string_equal(m.ref, "first");
    /* A later match without a ref does not keep the old one. */
    assert_int_equal(match("GET", "/functions", &m), M_OK);
    assert_string_equal(m.ref, "");
    assert_int_equal(match("GET", "/functions/second", &m), M_OK);
    assert_int_equal(match("GET", "/nowhere", &m), M_NOT_FOUND);
    assert_string_equal(m.ref, "");
    assert_string_equal(tmpl_of(&m), "");
}

/* The value of `key` in `json` as http_json_member finds it, or NULL. */
static char *member(const char *json, const char *key)
{
    size_t off = 0, len = 0;
    static char out[256];
    if (!http_json_member(json, strlen(json), key, &off, &len))
        return NULL;
    snprintf(out, sizeof(out), "%.*s", (int)len, json + off);
    return out;
}

static void test_json_member(void **state)
{
    (void)state;
    assert_string_equal(member("{\"event\":{\"a\":1}}", "event"), "{\"a\":1}");
    /* Big integers and escapes come through byte for byte. */
    assert_string_equal(member("{\"event\": 123456789012345678901234567890 }", "event"),
                        "123456789012345678901234567890");
    assert_string_equal(member("{\"timeout\":3,\"event\":\"\\u00e9\"}", "event"), "\"\\u00e9\"");
    /* Braces, brackets and quotes inside strings do not confuse nesting. */
    assert_string_equal(member("{\"event\":[\"}]\\\"{\",{\"x\":[1,2]}],\"timeout\":1}", "event"),
                        "[\"}]\\\"{\",{\"x\":[1,2]}]");
    /* A nested "event" key is not the top-level member. */
    assert_null(member("{\"a\":{\"event\":1}}", "event"));
    assert_null(member("{}", "event"));
    assert_null(member("{\"events\":1}", "event"));
    /* The last of repeated keys wins, as in json-c. */
    assert_string_equal(member("{\"event\":1, \"event\" : null }", "event"), "null");
    assert_string_equal(member(" {\n\"event\"\t:\ttrue\n}\n", "event"), "true");
}

static void test_invocation_type(void **state)
{
    route_found f;
    err_t e;
    (void)state;
    /* Event queues (the async row, no slot); RequestResponse or none waits. */
    assert_int_equal(route_match("POST", "/invoke/fn", &(route_types){"Event", NULL}, &f, &e), 0);
    assert_true(f.row->flags & ROUTE_IF_EVENT);
    assert_false(f.row->flags & ROUTE_SLOT);
    assert_int_equal(
        route_match("POST", "/invoke/fn", &(route_types){"RequestResponse", NULL}, &f, &e), 0);
    assert_true(f.row->flags & ROUTE_SLOT);
    assert_int_equal(route_match("POST", "/invoke/fn", NULL, &f, &e), 0);
    assert_true(f.row->flags & ROUTE_SLOT);
    assert_string_equal(f.ref, "fn");
    /* Any other value is a 400 counted under the route. */
    assert_int_equal(route_match("POST", "/invoke/fn", &(route_types){"event", NULL}, &f, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_string_equal(err_code(&e), "invalid_invocation_type");
    assert_string_equal(tmpl_of(&f), "/invoke/{ref}");
    /* The header means nothing to other routes. */
    assert_int_equal(route_match("POST", "/invoke/fn/async", &(route_types){"bogus", NULL}, &f, &e),
                     0);
    assert_string_equal(f.row->tmpl, "/invoke/{ref}/async");
    assert_int_equal(route_match("GET", "/functions", &(route_types){"bogus", NULL}, &f, &e), 0);
}

/* The Lambda invoke route: X-Amz-Invocation-Type picks its row (and
 * DryRun exists only there); X-Invocation-Type means nothing to it. */
static void test_amz_invocation_type(void **state)
{
    route_found f;
    err_t e;
    const char *uri = "/2015-03-31/functions/fn/invocations";
    (void)state;
    assert_int_equal(route_match("POST", uri, &(route_types){NULL, "Event"}, &f, &e), 0);
    assert_true(f.row->flags & ROUTE_IF_EVENT);
    assert_false(f.row->flags & ROUTE_SLOT);
    assert_int_equal(route_match("POST", uri, &(route_types){NULL, "DryRun"}, &f, &e), 0);
    assert_true(f.row->flags & ROUTE_IF_DRY_RUN);
    assert_false(f.row->flags & ROUTE_SLOT);
    assert_int_equal(route_match("POST", uri, &(route_types){"Event", "RequestResponse"}, &f, &e),
                     0);
    assert_true(f.row->flags & ROUTE_SLOT);
    assert_int_equal(f.row->plane, APP_INVOKE);
    assert_int_equal(route_match("POST", uri, &(route_types){NULL, "dryrun"}, &f, &e), -1);
    assert_string_equal(err_code(&e), "invalid_invocation_type");
    /* DryRun is not a type of the native route. */
    assert_int_equal(route_match("POST", "/invoke/fn", &(route_types){"DryRun", NULL}, &f, &e), -1);
    assert_string_equal(err_code(&e), "invalid_invocation_type");
    /* An ARN is one segment, decoded. */
    assert_int_equal(route_match("POST",
                                 "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A"
                                 "123456789012%3Afunction%3Afn/invocations",
                                 NULL, &f, &e),
                     0);
    assert_string_equal(f.ref, "arn:aws:lambda:us-east-1:123456789012:function:fn");
}

/* Which rows take a slot and resolve the function: the gate's work. */
static void test_gate_flags(void **state)
{
    route_found f;
    err_t e;
    (void)state;
    assert_int_equal(match("POST", "/invoke/fn", &f), M_OK);
    assert_true((f.row->flags & (ROUTE_SLOT | ROUTE_FUNCTION)) == (ROUTE_SLOT | ROUTE_FUNCTION));
    assert_int_equal(f.row->plane, APP_INVOKE);
    assert_int_equal(match("POST", "/invoke/fn/async", &f), M_OK);
    assert_true(f.row->flags & ROUTE_FUNCTION);
    assert_false(f.row->flags & ROUTE_SLOT);
    /* An upload takes an upload slot on the control plane, never an
     * invocation's thread or slot. */
    assert_int_equal(match("POST", "/images", &f), M_OK);
    assert_true(f.row->flags & ROUTE_UPLOAD);
    assert_false(f.row->flags & ROUTE_SLOT);
    assert_int_equal(f.row->plane, APP_CONTROL);
    assert_int_equal(match("GET", "/functions/fn", &f), M_OK);
    assert_true(f.row->flags & ROUTE_FUNCTION);
    assert_int_equal(f.row->plane, APP_CONTROL);
    /* PATCH and DELETE resolve it too, for a key's function list. */
    assert_int_equal(match("PATCH", "/functions/fn", &f), M_OK);
    assert_true(f.row->flags & ROUTE_FUNCTION);
    assert_int_equal(match("GET", "/functions", &f), M_OK);
    assert_int_equal(f.row->flags & (ROUTE_SLOT | ROUTE_FUNCTION), 0);
    assert_int_equal(match("GET", "/metrics", &f), M_OK);
    assert_true(f.row->flags & ROUTE_ALLOWLIST);
    /* Creating POSTs honour an Idempotency-Key; a synchronous run, which
     * leaves nothing to find by its id, is never run again by a retry. */
    assert_int_equal(match("POST", "/functions", &f), M_OK);
    assert_int_equal(f.row->flags & (ROUTE_IDEMPOTENT | ROUTE_NO_REDO), ROUTE_IDEMPOTENT);
    assert_int_equal(match("POST", "/invoke/fn/async", &f), M_OK);
    assert_int_equal(f.row->flags & (ROUTE_IDEMPOTENT | ROUTE_NO_REDO), ROUTE_IDEMPOTENT);
    assert_int_equal(match("POST", "/invoke/fn", &f), M_OK);
    assert_int_equal(f.row->flags & (ROUTE_IDEMPOTENT | ROUTE_NO_REDO),
                     ROUTE_IDEMPOTENT | ROUTE_NO_REDO);
    assert_int_equal(route_match("POST", "/invoke/fn", &(route_types){"Event", NULL}, &f, &e), 0);
    assert_int_equal(f.row->flags & (ROUTE_IDEMPOTENT | ROUTE_NO_REDO), ROUTE_IDEMPOTENT);
    assert_int_equal(match("PATCH", "/functions/fn", &f), M_OK);
    assert_false(f.row->flags & ROUTE_IDEMPOTENT);
    assert_int_equal(match("POST", "/images", &f), M_OK);
    assert_false(f.row->flags & ROUTE_IDEMPOTENT);
}

static void test_table_checks(void **state)
{
    err_t e;
    (void)state;
    err_clear(&e);
    if (route_check(&e) != 0)
        fail_msg("route_check: %s", e.msg);
}

static void test_metric_names(void **state)
{
    int n;
    const char *const *names = route_metric_names(&n);
    (void)state;
    /* "other" and the fifteen templates, each once. */
    assert_int_equal(n, 16);
    assert_string_equal(names[0], "other");
    assert_true(n <= METRICS_ROUTES);
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            assert_true(strcmp(names[i], names[k]) != 0);
    for (size_t r = 0; r < sizeof(route_cases) / sizeof(route_cases[0]); r++) {
        route_found m;
        match(route_cases[r].ok[0], route_cases[r].path, &m);
        assert_true(m.metric > 0 && m.metric < n);
        assert_string_equal(names[m.metric], route_cases[r].tmpl);
    }
}

/* One rendered nginx location. */
typedef struct {
    char kind[64]; /* "=", "^~" or "" */
    char path[64];
    char body[1024];
} loc;

/* Parse the location blocks route_print_nginx wrote. */
static int parse_locations(const char *text, loc *out, int max)
{
    int n = 0;
    const char *p = text;
    while (n < max && (p = strstr(p, "location ")) != NULL) {
        loc *l = &out[n];
        char a[64], b[64];
        const char *end = strchr(p, '}');
        assert_non_null(end);
        if (sscanf(p, "location %63s %63s {", a, b) == 2 && strcmp(b, "{") != 0) {
            snprintf(l->kind, sizeof(l->kind), "%s", a);
            snprintf(l->path, sizeof(l->path), "%s", b);
        } else {
            assert_int_equal(sscanf(p, "location %63s {", a), 1);
            l->kind[0] = '\0';
            snprintf(l->path, sizeof(l->path), "%s", a);
        }
        snprintf(l->body, sizeof(l->body), "%.*s", (int)(end - p), p);
        n++;
        p = end;
    }
    return n;
}

/* nginx's choice for `path` among `locs`, as nginx makes it: an exact
 * match; else the longest prefix, when it is a "^~" one; else the first
 * regex ("~") that matches; else that longest prefix. */
static const loc *nginx_pick(const loc *locs, int n, const char *path)
{
    const loc *best = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(locs[i].kind, "=") == 0 && strcmp(locs[i].path, path) == 0)
            return &locs[i];
    for (int i = 0; i < n; i++) {
        size_t len = strlen(locs[i].path);
        if (strcmp(locs[i].kind, "=") != 0 && strcmp(locs[i].kind, "~") != 0 &&
            strncmp(locs[i].path, path, len) == 0 && (best == NULL || len > strlen(best->path)))
            best = &locs[i];
    }
    if (best != NULL && strcmp(best->kind, "^~") == 0)
        return best;
    for (int i = 0; i < n; i++) {
        regex_t re;
        if (strcmp(locs[i].kind, "~") != 0)
            continue;
        assert_int_equal(regcomp(&re, locs[i].path, REG_EXTENDED | REG_NOSUB), 0);
        int hit = regexec(&re, path, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit)
            return &locs[i];
    }
    return best;
}

/* Every route reaches nginx's location for its plane, with its body and
 * access rules: the config cannot send a route to the wrong socket. */
static void test_nginx_locations(void **state)
{
    config_t cfg;
    err_t e;
    char *text = NULL;
    size_t len = 0;
    loc locs[64];
    (void)state;
    setenv("MINILAMBDA_RUN_DIR", "/tmp/ml-route-test", 1);
    setenv("MINILAMBDA_MAX_IMAGE_BYTES", "12345", 1);
    setenv("MINILAMBDA_METRICS_ALLOW", "10.0.0.0/8, 127.0.0.1", 1);
    assert_int_equal(config_load(&cfg, &e), 0);
    FILE *out = open_memstream(&text, &len);
    route_print_nginx(out, &cfg);
    fclose(out);
    int n = parse_locations(text, locs, 64);
    assert_true(n > 2);
    for (size_t r = 0; r < sizeof(route_cases) / sizeof(route_cases[0]); r++) {
        const route_case *c = &route_cases[r];
        const char *paths[2] = {c->path, NULL};
        char slashed[300];
        snprintf(slashed, sizeof(slashed), "%s/", c->path);
        paths[1] = slashed;
        for (int k = 0; k < 2; k++) {
            route_found m;
            const loc *l = nginx_pick(locs, n, paths[k]);
            assert_non_null(l);
            assert_int_equal(match(c->ok[0], paths[k], &m), M_OK);
            const char *want = m.row->plane == APP_INVOKE ? "fastcgi_pass minilambda_invoke;"
                                                          : "fastcgi_pass minilambda_control;";
            if (strstr(l->body, want) == NULL)
                fail_msg("%s goes to location %s %s, not %s", paths[k], l->kind, l->path, want);
            bool stream = strstr(l->body, "client_max_body_size 12345;") != NULL &&
                          strstr(l->body, "fastcgi_request_buffering off;") != NULL;
            assert_int_equal(stream, (m.row->flags & ROUTE_STREAM_BODY) != 0);
            bool allow = strstr(l->body, "allow 10.0.0.0/8;") != NULL &&
                         strstr(l->body, "allow 127.0.0.1;") != NULL &&
                         strstr(l->body, "deny all;") != NULL;
            assert_int_equal(allow, (m.row->flags & ROUTE_ALLOWLIST) != 0);
            assert_non_null(strstr(l->body, "include /tmp/ml-route-test/fastcgi_params;"));
        }
    }
    /* Anything else reaches the control plane, for the app's JSON 404. */
    const loc *other = nginx_pick(locs, n, "/nowhere");
    assert_non_null(other);
    assert_string_equal(other->path, "/");
    assert_non_null(strstr(other->body, "minilambda_control"));
    free(text);
    unsetenv("MINILAMBDA_RUN_DIR");
    unsetenv("MINILAMBDA_MAX_IMAGE_BYTES");
    unsetenv("MINILAMBDA_METRICS_ALLOW");
}

static void test_allow_and_match_path(void **state)
{
    char out[64], ref[16];
    (void)state;
    http_allow(HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PATCH | HTTP_DELETE, out, sizeof(out));
    assert_string_equal(out, "GET, HEAD, POST, PATCH, DELETE");
    http_allow(HTTP_POST, out, sizeof(out));
    assert_string_equal(out, "POST");
    http_allow(0, out, sizeof(out));
    assert_string_equal(out, "");
    assert_int_equal(http_match_path("/a/{x}/b", "/a/q/b", ref, sizeof(ref)), 1);
    assert_string_equal(ref, "q");
    assert_int_equal(http_match_path("/a/{x}/b", "/a/q/c", ref, sizeof(ref)), 0);
    assert_int_equal(http_match_path("/a", "/a/", ref, sizeof(ref)), 1);
    assert_string_equal(ref, "");
    /* The segment must fit `reflen` decoded. */
    assert_int_equal(http_match_path("/a/{x}", "/a/0123456789abcdef", ref, sizeof(ref)), -1);
    assert_int_equal(http_match_path("/a/{x}", "/a/0123456789abcde", ref, sizeof(ref)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_member),
        cmocka_unit_test(test_every_route_and_method),
        cmocka_unit_test(test_match_template),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_trailing_slash),
        cmocka_unit_test(test_query_and_fragment_ignored),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_ref_length),
        cmocka_unit_test(test_dot_segments_are_refs),
        cmocka_unit_test(test_async_route),
        cmocka_unit_test(test_match_is_reset),
        cmocka_unit_test(test_invocation_type),
        cmocka_unit_test(test_gate_flags),
        cmocka_unit_test(test_amz_invocation_type),
        cmocka_unit_test(test_table_checks),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_nginx_locations),
        cmocka_unit_test(test_allow_and_match_path),
    };
    return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
