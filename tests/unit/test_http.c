/*
 * Unit tests for http_route: every route and method, 404 and 405, trailing
 * slashes, query strings, and percent-decoding of {ref}.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http.h"

#define ID "123e4567-e89b-42d3-a456-426614174000"

static const char *const all_methods[] = {"GET", "HEAD",    "POST", "PATCH", "DELETE",
                                          "PUT", "OPTIONS", "get",  "",      "TRACE"};

#define N_METHODS (sizeof(all_methods) / sizeof(all_methods[0]))

typedef struct {
    const char *path;
    http_route_id route;
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

static const route_case route_cases[] = {
    {"/functions", ROUTE_FUNCTIONS, "GET, HEAD, POST", "/functions", "", functions_ok},
    {"/functions/hello", ROUTE_FUNCTION, "GET, HEAD, PATCH, DELETE", "/functions/{ref}", "hello",
     function_ok},
    {"/invoke/hello", ROUTE_INVOKE, "POST", "/invoke/{ref}", "hello", invoke_ok},
    {"/healthz", ROUTE_HEALTHZ, "GET, HEAD", "/healthz", "", healthz_ok},
    {"/metrics", ROUTE_METRICS, "GET, HEAD", "/metrics", "", metrics_ok},
    {"/images", ROUTE_IMAGES, "GET, HEAD, POST", "/images", "", images_ok},
    {"/invoke/hello/async", ROUTE_INVOKE_ASYNC, "POST", "/invoke/{ref}/async", "hello", invoke_ok},
    {"/invocations", ROUTE_INVOCATIONS, "GET, HEAD", "/invocations", "", invocations_ok},
    {"/invocations/" ID, ROUTE_INVOCATION, "GET, HEAD, POST, DELETE", "/invocations/{id}", ID,
     invocation_ok},
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
            http_match m;
            http_match_rc rc = http_route(all_methods[i], c->path, &m);
            if (method_allowed(c->ok, all_methods[i]))
                assert_int_equal(rc, HTTP_MATCH_OK);
            else
                assert_int_equal(rc, HTTP_MATCH_BAD_METHOD);
            /* The route, allow string and ref are filled either way. */
            assert_int_equal(m.route, c->route);
            assert_non_null(m.allow);
            assert_string_equal(m.allow, c->allow);
            assert_string_equal(m.ref, c->ref);
        }
    }
}

/* http.h: m.tmpl is the "static route template, e.g. /functions/{ref}",
 * the same spelling as http_route_templates[] uses for metrics labels. */
static void test_match_template(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(route_cases) / sizeof(route_cases[0]); r++) {
        const route_case *c = &route_cases[r];
        http_match m;
        assert_int_equal(http_route(c->ok[0], c->path, &m), HTTP_MATCH_OK);
        assert_non_null(m.tmpl);
        assert_string_equal(http_route_templates[c->route], c->tmpl);
        assert_string_equal(m.tmpl, c->tmpl);
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
            http_match m;
            memset(&m, 0x41, sizeof(m));
            assert_int_equal(http_route(all_methods[j], paths[i], &m), HTTP_MATCH_NOT_FOUND);
            assert_int_equal(m.route, ROUTE_NONE);
        }
    }
}

static void test_trailing_slash(void **state)
{
    http_match m;
    (void)state;
    assert_int_equal(http_route("GET", "/functions/", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_FUNCTIONS);
    assert_int_equal(http_route("POST", "/functions/", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_FUNCTIONS);

    assert_int_equal(http_route("GET", "/functions/abc/", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_FUNCTION);
    assert_string_equal(m.ref, "abc");

    assert_int_equal(http_route("POST", "/invoke/abc/", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE);
    assert_string_equal(m.ref, "abc");

    assert_int_equal(http_route("GET", "/healthz/", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_HEALTHZ);

    assert_int_equal(http_route("PUT", "/healthz/", &m), HTTP_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD");
}

static void test_query_and_fragment_ignored(void **state)
{
    http_match m;
    (void)state;
    assert_int_equal(http_route("GET", "/functions?limit=10", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_FUNCTIONS);

    assert_int_equal(http_route("GET", "/functions/?a=b/c", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_FUNCTIONS);

    assert_int_equal(http_route("GET", "/functions/abc?x=1&y=/z", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_FUNCTION);
    assert_string_equal(m.ref, "abc");

    /* A bad escape in the query is not the path's business. */
    assert_int_equal(http_route("GET", "/functions/abc?x=%zz%00%4", &m), HTTP_MATCH_OK);
    assert_string_equal(m.ref, "abc");

    assert_int_equal(http_route("POST", "/invoke/fn?", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE);
    assert_string_equal(m.ref, "fn");

    assert_int_equal(http_route("GET", "/healthz?verbose", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_HEALTHZ);

    assert_int_equal(http_route("GET", "/functions/abc#frag", &m), HTTP_MATCH_OK);
    assert_string_equal(m.ref, "abc");

    assert_int_equal(http_route("GET", "/functions/a/b?x", &m), HTTP_MATCH_NOT_FOUND);
    assert_int_equal(http_route("DELETE", "/functions?x=1", &m), HTTP_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, POST");
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
        http_match m;
        assert_int_equal(http_route("GET", cases[i].uri, &m), HTTP_MATCH_OK);
        assert_int_equal(m.route, ROUTE_FUNCTION);
        assert_string_equal(m.ref, cases[i].ref);
    }
    http_match m;
    assert_int_equal(http_route("POST", "/invoke/my%2Dfn", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE);
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
        http_match m;
        assert_int_equal(http_route("GET", uris[i], &m), HTTP_MATCH_BAD_PATH);
        assert_int_equal(m.route, ROUTE_NONE);
        assert_int_equal(http_route("POST", uris[i], &m), HTTP_MATCH_BAD_PATH);
    }
}

static void test_ref_length(void **state)
{
    char uri[4096];
    char want[HTTP_REF_MAX + 8];
    http_match m;
    (void)state;

    /* 255 bytes: the largest ref that fits. */
    memset(want, 'r', 255);
    want[255] = '\0';
    snprintf(uri, sizeof(uri), "/functions/%s", want);
    assert_int_equal(http_route("GET", uri, &m), HTTP_MATCH_OK);
    assert_int_equal(strlen(m.ref), 255);
    assert_string_equal(m.ref, want);

    /* 256 bytes: too long. */
    snprintf(uri, sizeof(uri), "/functions/%sr", want);
    assert_int_equal(http_route("GET", uri, &m), HTTP_MATCH_BAD_PATH);
    snprintf(uri, sizeof(uri), "/invoke/%sr", want);
    assert_int_equal(http_route("POST", uri, &m), HTTP_MATCH_BAD_PATH);

    /* The limit is on the decoded length: 255 escapes fit, 256 do not. */
    size_t off = (size_t)snprintf(uri, sizeof(uri), "/functions/");
    for (int i = 0; i < 255; i++)
        off += (size_t)snprintf(uri + off, sizeof(uri) - off, "%%41");
    assert_int_equal(http_route("GET", uri, &m), HTTP_MATCH_OK);
    assert_int_equal(strlen(m.ref), 255);
    assert_int_equal(m.ref[0], 'A');
    assert_int_equal(m.ref[254], 'A');
    snprintf(uri + off, sizeof(uri) - off, "%%41");
    assert_int_equal(http_route("GET", uri, &m), HTTP_MATCH_BAD_PATH);

    /* Much longer still. */
    memset(uri, 'q', sizeof(uri) - 1);
    memcpy(uri, "/functions/", 11);
    uri[sizeof(uri) - 1] = '\0';
    assert_int_equal(http_route("GET", uri, &m), HTTP_MATCH_BAD_PATH);
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
        http_match m;
        assert_int_equal(http_route("GET", cases[i].uri, &m), HTTP_MATCH_OK);
        assert_int_equal(m.route, ROUTE_FUNCTION);
        assert_string_equal(m.ref, cases[i].ref);
    }
    http_match m;
    assert_int_equal(http_route("POST", "/invoke/..%2Ffunctions", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE);
    assert_string_equal(m.ref, "../functions");
    /* Literal dot segments are not resolved into another route. */
    assert_int_equal(http_route("GET", "/functions/../healthz", &m), HTTP_MATCH_NOT_FOUND);
    assert_int_equal(http_route("GET", "/healthz/..", &m), HTTP_MATCH_NOT_FOUND);
}

static void test_async_route(void **state)
{
    http_match m;
    (void)state;
    /* "/invoke/async" is the sync route for a function named "async". */
    assert_int_equal(http_route("POST", "/invoke/async", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE);
    assert_string_equal(m.ref, "async");
    assert_int_equal(http_route("POST", "/invoke/async/async", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE_ASYNC);
    assert_string_equal(m.ref, "async");
    assert_int_equal(http_route("POST", "/invoke/fn/async/?x=1", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE_ASYNC);
    assert_string_equal(m.ref, "fn");
    /* An escaped slash stays inside the ref. */
    assert_int_equal(http_route("POST", "/invoke/fn%2Fasync", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE);
    assert_string_equal(m.ref, "fn/async");
    assert_int_equal(http_route("POST", "/invoke/a%20b/async", &m), HTTP_MATCH_OK);
    assert_int_equal(m.route, ROUTE_INVOKE_ASYNC);
    assert_string_equal(m.ref, "a b");
    assert_int_equal(http_route("POST", "/invoke/%zz/async", &m), HTTP_MATCH_BAD_PATH);
    assert_int_equal(http_route("GET", "/invoke/fn/async", &m), HTTP_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "POST");
}

static void test_match_is_reset(void **state)
{
    http_match m;
    (void)state;
    assert_int_equal(http_route("GET", "/functions/first", &m), HTTP_MATCH_OK);
    assert_string_equal(m.ref, "first");
    /* A later match without a ref does not keep the old one. */
    assert_int_equal(http_route("GET", "/functions", &m), HTTP_MATCH_OK);
    assert_string_equal(m.ref, "");
    assert_int_equal(http_route("GET", "/functions/second", &m), HTTP_MATCH_OK);
    assert_int_equal(http_route("GET", "/nowhere", &m), HTTP_MATCH_NOT_FOUND);
    assert_string_equal(m.ref, "");
    assert_int_equal(m.route, ROUTE_NONE);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_member),      cmocka_unit_test(test_every_route_and_method),
        cmocka_unit_test(test_match_template),   cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_trailing_slash),   cmocka_unit_test(test_query_and_fragment_ignored),
        cmocka_unit_test(test_percent_decoding), cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_ref_length),       cmocka_unit_test(test_dot_segments_are_refs),
        cmocka_unit_test(test_async_route),      cmocka_unit_test(test_match_is_reset),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
