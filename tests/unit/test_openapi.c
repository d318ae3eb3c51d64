/*
 * Unit tests for the OpenAPI document (openapi.c): every route of the
 * route table is an operation and every operation a route; a route without
 * documentation or with another route's, and rows of one operation
 * documented apart, fail the check; the schemas follow the function
 * field, status, health and key tables; every error code an operation
 * names has the status the error table gives it; every $ref resolves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "http/http.h"
#include "http/openapi.h"
#include "http/route.h"
#include "run/health.h"
#include "state/keys.h"
#include "state/status.h"

static const char *method_key(unsigned bit)
{
    switch (bit) {
    case HTTP_GET:
        return "get";
    case HTTP_POST:
        return "post";
    case HTTP_PATCH:
        return "patch";
    case HTTP_DELETE:
        return "delete";
    default:
        return "?";
    }
}

static json_object *doc(void)
{
    err_t e;
    json_object *d = openapi_document(&e);
    if (d == NULL)
        fail_msg("openapi_document: %s", e.msg);
    return d;
}

/* doc[a][b]... or NULL. */
static json_object *at(json_object *o, ...)
{
    va_list ap;
    const char *k;
    va_start(ap, o);
    while (o != NULL && (k = va_arg(ap, const char *)) != NULL)
        if (!json_object_object_get_ex(o, k, &o))
            o = NULL;
    va_end(ap);
    return o;
}

static bool array_has(json_object *arr, const char *s)
{
    for (size_t i = 0; arr != NULL && i < json_object_array_length(arr); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
            return true;
    return false;
}

/* Every row of the route table carries its documentation, and it passes. */
static void test_check_passes(void **state)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    err_t e;
    (void)state;
    for (size_t i = 0; i < n; i++)
        if (rows[i].doc == NULL)
            fail_msg("route %s %s has no documentation", method_key(rows[i].method), rows[i].tmpl);
    if (openapi_check(&e) != 0)
        fail_msg("%s", e.msg);
}

/* A route without documentation, and a route given another route's
 * documentation, both fail the check and name the route. (Documentation
 * of a route that is gone cannot be: it lives in the route's row.) */
static void test_check_catches_drift(void **state)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    route_def *more = calloc(n + 1, sizeof(*more));
    err_t e;
    (void)state;

    assert_non_null(more);
    memcpy(more, rows, n * sizeof(*rows));
    more[n] = (route_def){"/nowhere/{x}", HTTP_PATCH, NULL, APP_CONTROL, 0, KEYS_DEPLOY, NULL};
    assert_int_equal(openapi_check_routes(more, n + 1, &e), -1);
    assert_non_null(strstr(e.msg, "PATCH /nowhere/{x}"));
    assert_non_null(strstr(e.msg, "no documentation"));

    /* The first row's documentation on another route would document a
     * second operation with its id. */
    more[n].doc = rows[0].doc;
    assert_int_equal(openapi_check_routes(more, n + 1, &e), -1);
    assert_non_null(strstr(e.msg, "PATCH /nowhere/{x}"));
    assert_non_null(strstr(e.msg, rows[0].doc->op));

    /* Rows of one template and method (POST /invoke/{ref}, by
     * X-Invocation-Type) are one operation: documenting them apart fails. */
    size_t k = 1;
    while (k < n &&
           (strcmp(rows[k].tmpl, rows[k - 1].tmpl) != 0 || rows[k].method != rows[k - 1].method))
        k++;
    assert_true(k >= 2 && k < n);
    more[k].doc = rows[0].doc;
    assert_int_equal(openapi_check_routes(more, n, &e), -1);
    assert_non_null(strstr(e.msg, rows[k].tmpl));
    more[k].doc = rows[k].doc;

    assert_int_equal(openapi_check_routes(more, n, &e), 0);
    free(more);
}

/* Every row is an operation, and every operation is a row. */
static void test_routes_both_ways(void **state)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    json_object *d = doc(), *paths = at(d, "paths", NULL);
    (void)state;

    assert_string_equal(json_object_get_string(at(d, "openapi", NULL)), "3.1.0");
    for (size_t i = 0; i < n; i++)
        if (at(paths, rows[i].tmpl, method_key(rows[i].method), NULL) == NULL)
            fail_msg("route %s %s is not in the document", method_key(rows[i].method),
                     rows[i].tmpl);
    json_object_object_foreach(paths, tmpl, item)
    {
        json_object_object_foreach(item, method, op)
        {
            bool found = false;
            (void)op;
            for (size_t i = 0; i < n && !found; i++)
                found = strcmp(rows[i].tmpl, tmpl) == 0 &&
                        strcmp(method_key(rows[i].method), method) == 0;
            if (!found)
                fail_msg("the document has %s %s, which the route table does not", method, tmpl);
        }
    }
    json_object_put(d);
}

/* The route table's columns show: open routes need no key, the others
 * name their scopes; {ref} routes that resolve a function answer 404;
 * slot routes 429 too_many_requests. */
static void test_gate_columns(void **state)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    json_object *d = doc();
    (void)state;

    for (size_t i = 0; i < n; i++) {
        json_object *op = at(d, "paths", rows[i].tmpl, method_key(rows[i].method), NULL);
        json_object *security = at(op, "security", NULL);
        json_object *responses = at(op, "responses", NULL);
        assert_non_null(security);
        if (rows[i].access == ROUTE_OPEN) {
            assert_int_equal(json_object_array_length(security), 0);
        } else {
            json_object *scopes = at(json_object_array_get_idx(security, 0), "bearer", NULL);
            assert_true(array_has(scopes, "admin"));
            for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
                if (rows[i].access & bit)
                    assert_true(array_has(scopes, keys_scope_name(bit)));
            assert_non_null(at(responses, "403", NULL));
        }
        /* The Lambda API answers a missing or unknown key 403, as AWS does. */
        assert_non_null(at(responses, rows[i].flags & ROUTE_AMZ ? "403" : "401", NULL));
        if (rows[i].flags & ROUTE_FUNCTION)
            assert_non_null(at(responses, "404", NULL));
        if (rows[i].flags & (ROUTE_SLOT | ROUTE_UPLOAD))
            assert_non_null(at(responses, "429", NULL));
        if (strchr(rows[i].tmpl, '{') != NULL)
            assert_non_null(at(op, "parameters", NULL));
    }
    json_object_put(d);
}

/* The function schemas are the field table's. */
static void test_function_schema(void **state)
{
    json_object *d = doc(), *s = at(d, "components", "schemas", NULL);
    (void)state;

    assert_int_equal(
        json_object_get_int(at(s, "Function", "properties", "timeout", "default", NULL)), 120);
    assert_int_equal(
        json_object_get_int(at(s, "Function", "properties", "timeout", "maximum", NULL)), 900);
    assert_true(array_has(at(s, "FunctionCreate", "required", NULL), "name"));
    assert_true(array_has(at(s, "FunctionCreate", "required", NULL), "image"));
    assert_false(json_object_get_boolean(at(s, "FunctionCreate", "additionalProperties", NULL)));
    /* PATCH may not change the name; the platform's fields are not sent. */
    assert_null(at(s, "FunctionPatch", "properties", "name", NULL));
    assert_non_null(at(s, "FunctionPatch", "properties", "image", NULL));
    assert_null(at(s, "FunctionCreate", "properties", "image_id", NULL));
    assert_true(
        json_object_get_boolean(at(s, "Function", "properties", "image_id", "readOnly", NULL)));
    json_object *net = at(s, "Function", "properties", "network", "enum", NULL);
    assert_true(array_has(net, "none") && array_has(net, "bridge"));
    /* Every settable field's error code is a 400 of registration. */
    json_object *bad = at(d, "paths", "/functions", "post", "responses", "400", "content",
                          "application/json", "schema", "allOf", NULL);
    assert_non_null(bad);
    json_object *codes = at(json_object_array_get_idx(bad, 1), "properties", "code", "enum", NULL);
    json_object_object_foreach(at(s, "FunctionCreate", "properties", NULL), name, field)
    {
        (void)name;
        assert_true(array_has(codes, json_object_get_string(at(field, "x-error-code", NULL))));
    }
    assert_true(array_has(codes, "unknown_field"));
    json_object_put(d);
}

/* Status words, record statuses, health parts and scopes come from their
 * tables. */
static void test_table_enums(void **state)
{
    json_object *d = doc(), *s = at(d, "components", "schemas", NULL);
    (void)state;

    for (int i = 0; i < STATUS__RECORDS; i++)
        assert_true(
            array_has(at(s, "RecordStatus", "enum", NULL), status_record_name((status_record)i)));
    for (int i = 0; i < STATUS__OUTCOMES; i++)
        assert_true(array_has(at(s, "RunStatus", "enum", NULL), status_word((status_outcome)i)));
    for (int p = 0; p < HEALTH__N; p++)
        assert_non_null(
            at(s, "Health", "properties", "components", "properties", health_name(p), NULL));
    for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
        assert_true(array_has(at(s, "Scope", "enum", NULL), keys_scope_name(bit)));
    json_object_put(d);
}

/* A synchronous invoke answers every outcome of the status table at its
 * HTTP status, with an InvokeResult body. */
static void test_invoke_outcomes(void **state)
{
    json_object *d = doc();
    json_object *responses = at(d, "paths", "/invoke/{ref}", "post", "responses", NULL);
    (void)state;

    for (int o = 0; o < STATUS__OUTCOMES; o++) {
        char status[8];
        const char *code = status_code((status_outcome)o);
        if (code == NULL || o == STATUS_CANCELLED)
            continue;
        snprintf(status, sizeof(status), "%d", status_http((status_outcome)o));
        const char *desc = json_object_get_string(at(responses, status, "description", NULL));
        assert_non_null(desc);
        assert_non_null(strstr(desc, code));
        assert_non_null(
            strstr(json_object_to_json_string(at(responses, status, NULL)), "InvokeResult"));
    }
    assert_non_null(at(responses, "200", "content", "application/json", "examples", "sync", NULL));
    assert_non_null(at(responses, "202", "content", "application/json", "examples", "event", NULL));
    json_object_put(d);
}

/* Every code an operation names sits under the status err.c gives it, and
 * in the Error schema's list. */
static void test_codes_and_statuses(void **state)
{
    json_object *d = doc();
    json_object *all = at(d, "components", "schemas", "Error", "properties", "code", "enum", NULL);
    (void)state;

    assert_true(array_has(all, "not_found"));
    assert_true(array_has(all, "method_not_allowed"));
    assert_true(array_has(all, "pool_unavailable"));
    json_object_object_foreach(at(d, "paths", NULL), tmpl, item)
    {
        json_object_object_foreach(item, method, op)
        {
            /* The Lambda API's errors are Lambda's types, in LambdaError;
             * only nginx's own are in the Error schema. */
            const char *tag =
                json_object_get_string(json_object_array_get_idx(at(op, "tags", NULL), 0));
            bool amz = tag != NULL && strcmp(tag, "lambda") == 0;
            json_object_object_foreach(at(op, "responses", NULL), status, resp)
            {
                const char *desc = json_object_get_string(at(resp, "description", NULL));
                const char *p = desc != NULL ? strstr(desc, "Errors: ") : NULL;
                assert_non_null(desc);
                while (p != NULL && (p = strchr(p, '`')) != NULL) {
                    char code[64];
                    size_t len = strcspn(p + 1, "`");
                    snprintf(code, sizeof(code), "%.*s", (int)len, p + 1);
                    p += len + 2;
                    size_t cl = strlen(code);
                    if (amz && cl > 9 && strcmp(code + cl - 9, "Exception") == 0)
                        continue;
                    if (!array_has(all, code))
                        fail_msg("%s %s: %s is not in the Error schema", method, tmpl, code);
                    /* A kind's own code has the kind's status. */
                    for (int k = ERR_NONE + 1; k < ERR__COUNT; k++) {
                        err_t x = {.kind = (err_kind)k};
                        char want[8];
                        snprintf(want, sizeof(want), "%d", err_status(&x));
                        if (strcmp(err_code(&x), code) == 0 && strcmp(want, status) != 0)
                            fail_msg("%s %s: %s under %s, not %s", method, tmpl, code, status,
                                     want);
                    }
                }
            }
        }
    }
    json_object_put(d);
}

/* Every "$ref" names a schema the document has. */
static void check_refs(json_object *root, json_object *o)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            check_refs(root, json_object_array_get_idx(o, i));
        return;
    }
    if (!json_object_is_type(o, json_type_object))
        return;
    json_object_object_foreach(o, key, v)
    {
        if (strcmp(key, "$ref") == 0) {
            const char *ref = json_object_get_string(v);
            const char *prefix = "#/components/schemas/";
            assert_true(strncmp(ref, prefix, strlen(prefix)) == 0);
            if (at(root, "components", "schemas", ref + strlen(prefix), NULL) == NULL)
                fail_msg("$ref %s names no schema", ref);
        } else {
            check_refs(root, v);
        }
    }
}

static void test_refs_resolve(void **state)
{
    json_object *d = doc();
    (void)state;
    check_refs(d, d);
    json_object_put(d);
}

/* Example records get the field table's defaults filled in. */
static void test_examples_follow_the_field_table(void **state)
{
    json_object *d = doc();
    json_object *rec = at(d, "paths", "/functions/{ref}", "get", "responses", "200", "content",
                          "application/json", "examples", "echo", "value", NULL);
    (void)state;
    assert_non_null(rec);
    assert_int_equal(json_object_get_int(at(rec, "memory_mb", NULL)), 256);
    assert_string_equal(json_object_get_string(at(rec, "network", NULL)), "none");
    json_object_put(d);
}

static void test_print(void **state)
{
    char *text = NULL;
    size_t len = 0;
    err_t e;
    (void)state;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(openapi_print(f, &e), 0);
    fclose(f);
    json_object *back = json_tokener_parse(text);
    assert_non_null(back);
    assert_non_null(at(back, "paths", "/healthz", "get", NULL));
    json_object_put(back);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_passes),
        cmocka_unit_test(test_check_catches_drift),
        cmocka_unit_test(test_routes_both_ways),
        cmocka_unit_test(test_gate_columns),
        cmocka_unit_test(test_function_schema),
        cmocka_unit_test(test_table_enums),
        cmocka_unit_test(test_invoke_outcomes),
        cmocka_unit_test(test_codes_and_statuses),
        cmocka_unit_test(test_refs_resolve),
        cmocka_unit_test(test_examples_follow_the_field_table),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests_name("openapi", tests, NULL, NULL);
}
