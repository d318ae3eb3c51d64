/*
 * Unit tests for the http layer's own rules: strict JSON bodies (duplicate
 * keys however spelled, NUL bytes, UTF-8, depth), the streamed JSON text
 * of outputs, and the address lists of the metrics allow list (cidr).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cidr.h"
#include "http/http.h"

/* http_parse_json on `text` (`n` bytes): the error code, or "ok". */
static const char *parse_code(const char *text, size_t n)
{
    static char code[64];
    buf_t b;
    err_t e;
    json_object *o = NULL;
    buf_init(&b, 1 << 20);
    buf_append(&b, text, n);
    int rc = http_parse_json(&b, &o, &e);
    snprintf(code, sizeof(code), "%s", rc == 0 ? "ok" : err_code(&e));
    json_object_put(o);
    buf_free(&b);
    return code;
}

static const char *parse(const char *text)
{
    return parse_code(text, strlen(text));
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    assert_string_equal(parse("{\"event\":1,\"timeout\":2}"), "ok");
    assert_string_equal(parse("{\"event\":\"A\",\"event\":\"B\"}"), "duplicate_key");
    /* The same key spelled with escapes, as json-c would merge it. */
    assert_string_equal(parse("{\"event\":\"A\",\"\\u0065vent\":\"B\"}"), "duplicate_key");
    assert_string_equal(parse("{\"\\u00e9\":1,\"\xc3\xa9\":2}"), "duplicate_key");
    assert_string_equal(parse("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"), "duplicate_key");
    assert_string_equal(parse("{\"a\\/b\":1,\"a/b\":2}"), "duplicate_key");
    /* Deep in an event too, and in objects inside arrays. */
    assert_string_equal(parse("{\"event\":{\"a\":{\"x\":1,\"y\":2,\"x\":3}}}"), "duplicate_key");
    assert_string_equal(parse("{\"event\":[{\"k\":1},{\"k\":2,\"k\":3}]}"), "duplicate_key");
    /* The same key in sibling objects, or as a value, is no repeat. */
    assert_string_equal(parse("{\"event\":[{\"k\":1},{\"k\":2}],\"k\":\"k\"}"), "ok");
    assert_string_equal(parse("{\"a\":{\"a\":{\"a\":1}}}"), "ok");
    assert_string_equal(parse("{\"ab\":1,\"a\":2,\"abc\":3,\"\":4}"), "ok");
    assert_string_equal(parse("{\"\":1,\"\":2}"), "duplicate_key");
    /* Empty objects have nothing to repeat (and nothing to sort). */
    assert_string_equal(parse("{}"), "ok");
    assert_string_equal(parse("{\"event\":{},\"e\":[{}]}"), "ok");
    /* Quotes and braces inside strings confuse nothing. */
    assert_string_equal(parse("{\"a\":\"}{,\\\"b\\\":\",\"b\":1}"), "ok");
}

static void test_strict_bodies(void **state)
{
    (void)state;
    assert_string_equal(parse_code("{\"a\":1}\0", 8), "invalid_json");
    assert_string_equal(parse("{\"a\":\"\xff\"}"), "invalid_json");
    assert_string_equal(parse("{\"a\\u0000\":1}"), "invalid_json");
    assert_string_equal(parse("{\"a\":\"x\\u0000y\"}"), "ok");
    assert_string_equal(parse("[1]"), "invalid_body");
    assert_string_equal(parse("{\"a\":1} x"), "invalid_json");
    assert_string_equal(parse("{'a':1}"), "invalid_json");
    /* json-c would take this and merge the keys; a key so spelled would
     * hide from the duplicate check. */
    assert_string_equal(parse("{\"event\":\"A\",'event':\"B\"}"), "invalid_json");
    assert_string_equal(parse("{\"a\":\"it's fine\"}"), "ok");
    char deep[200];
    memset(deep, '[', 70);
    snprintf(deep + 70, sizeof(deep) - 70, "1");
    char body[300];
    snprintf(body, sizeof(body), "{\"a\":%s", deep);
    for (int i = 0; i < 70; i++)
        strcat(body, "]");
    strcat(body, "}");
    assert_string_equal(parse(body), "json_too_deep");
}

static void collect(void *arg, const char *p, size_t n)
{
    buf_append(arg, p, n);
}

/* http_json_text of `in`: the literal, checked against its own length and
 * against json-c's reading of it; returns the decoded string (static). */
static const char *text_roundtrip(const char *in, size_t n, bool cut)
{
    static char out[4096];
    buf_t b;
    buf_init(&b, 1 << 20);
    size_t len = http_json_text(in, n, cut, collect, &b);
    assert_int_equal(len, b.len);
    assert_int_equal(http_json_text(in, n, cut, NULL, NULL), len);
    json_object *o = json_tokener_parse(b.data);
    if (o == NULL)
        fail_msg("not a JSON string: %s", b.data);
    assert_true(json_object_is_type(o, json_type_string));
    snprintf(out, sizeof(out), "%s", json_object_get_string(o));
    json_object_put(o);
    buf_free(&b);
    return out;
}

static void test_json_text(void **state)
{
    (void)state;
    assert_string_equal(text_roundtrip("plain", 5, false), "plain");
    assert_string_equal(text_roundtrip("q\"b\\s/", 6, false), "q\"b\\s/");
    assert_string_equal(text_roundtrip("a\nb\tc\r\b\f", 9, false), "a\nb\tc\r\b\f");
    assert_string_equal(text_roundtrip("\x01\x1f", 2, false), "\x01\x1f");
    assert_string_equal(text_roundtrip("h\xc3\xa9", 3, false), "h\xc3\xa9");
    /* A byte that is not UTF-8 becomes U+FFFD. */
    assert_string_equal(text_roundtrip("a\xff"
                                       "b",
                                       3, false),
                        "a\xef\xbf\xbd"
                        "b");
    /* A character cut at a cap: dropped when cut, replaced when not. */
    assert_string_equal(text_roundtrip("ab\xc3", 3, true), "ab");
    assert_string_equal(text_roundtrip("ab\xc3", 3, false), "ab\xef\xbf\xbd");
    assert_string_equal(text_roundtrip("", 0, false), "");
    /* 6 bytes of JSON for each control byte: the inflation is counted. */
    char ctl[1000];
    memset(ctl, 1, sizeof(ctl));
    assert_int_equal(http_json_text(ctl, sizeof(ctl), false, NULL, NULL), 6 * 1000 + 2);
}

static void test_cidr(void **state)
{
    err_t e;
    (void)state;
    assert_int_equal(cidr_check("", &e), 0);
    assert_int_equal(cidr_check("10.0.0.0/8, 127.0.0.1,::1 fd00::/8", &e), 0);
    assert_int_equal(cidr_check("10.0.0.0/33", &e), -1);
    assert_non_null(strstr(e.msg, "10.0.0.0/33"));
    assert_int_equal(cidr_check("10.0.0.0/", &e), -1);
    assert_int_equal(cidr_check("300.1.1.1", &e), -1);
    assert_int_equal(cidr_check("::1/129", &e), -1);
    assert_int_equal(cidr_check("example.com", &e), -1);
    assert_true(cidr_allows("", "10.9.9.9"));
    assert_true(cidr_allows("10.1.2.0/24", "10.1.2.255"));
    assert_false(cidr_allows("10.1.2.0/24", "10.1.3.0"));
    assert_true(cidr_allows("10.1.2.0/23", "10.1.3.0"));
    assert_true(cidr_allows("127.0.0.1", "127.0.0.1"));
    assert_false(cidr_allows("127.0.0.1", "127.0.0.2"));
    assert_true(cidr_allows("0.0.0.0/0", "8.8.8.8"));
    /* IPv4 seen through an IPv6 socket is still IPv4. */
    assert_true(cidr_allows("10.1.2.0/24", "::ffff:10.1.2.3"));
    assert_true(cidr_allows("fd00::/8", "fd12::1"));
    assert_false(cidr_allows("fd00::/8", "fe80::1"));
    assert_false(cidr_allows("10.0.0.0/8", NULL));
    assert_false(cidr_allows("10.0.0.0/8", "garbage"));
    assert_false(cidr_allows("10.0.0.0/8", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_strict_bodies),
        cmocka_unit_test(test_json_text),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
