/*
 * Unit tests for the client's HTTP side that need no server: the exit code
 * for each kind of answer, the message made from the API's error, path
 * escaping, and the URL and key checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cli/client.h"

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(client_exit_for(200, NULL), CLI_OK);
    assert_int_equal(client_exit_for(201, NULL), CLI_OK);
    assert_int_equal(client_exit_for(204, NULL), CLI_OK);
    assert_int_equal(client_exit_for(202, NULL), CLI_OK);
    assert_int_equal(client_exit_for(404, "not_found"), CLI_NOT_FOUND);
    assert_int_equal(client_exit_for(404, NULL), CLI_NOT_FOUND);
    assert_int_equal(client_exit_for(502, "function_failed"), CLI_FAILED);
    assert_int_equal(client_exit_for(502, "image_not_found"), CLI_FAILED);
    assert_int_equal(client_exit_for(504, "timeout"), CLI_TIMEOUT);
    assert_int_equal(client_exit_for(504, "pool_timeout"), CLI_TIMEOUT);
    assert_int_equal(client_exit_for(408, "upload_too_slow"), CLI_TIMEOUT);
    assert_int_equal(client_exit_for(502, "pool_unavailable"), CLI_UNREACHABLE);
    assert_int_equal(client_exit_for(503, "engine_unreachable"), CLI_UNREACHABLE);
    assert_int_equal(client_exit_for(503, "store_corrupt"), CLI_FAILED);
    assert_int_equal(client_exit_for(400, "invalid_timeout"), CLI_USAGE);
    assert_int_equal(client_exit_for(400, "unknown_field"), CLI_USAGE);
    assert_int_equal(client_exit_for(413, "payload_too_large"), CLI_USAGE);
    assert_int_equal(client_exit_for(401, "unauthorized"), CLI_FAILED);
    assert_int_equal(client_exit_for(403, "forbidden"), CLI_FAILED);
    assert_int_equal(client_exit_for(409, "name_conflict"), CLI_FAILED);
    assert_int_equal(client_exit_for(409, "already_finished"), CLI_FAILED);
    assert_int_equal(client_exit_for(429, "too_many_requests"), CLI_FAILED);
    assert_int_equal(client_exit_for(500, NULL), CLI_FAILED);
    assert_int_equal(client_exit_for(507, "storage_full"), CLI_FAILED);
}

/* A reply as if `body` had come with `status`. */
static void reply(client_reply *r, long status, const char *body)
{
    client_reply_init(r);
    r->status = status;
    buf_puts(&r->body, body);
    r->json = json_tokener_parse(body);
}

static void test_check_message(void **state)
{
    client_reply r;
    err_t e;
    (void)state;
    reply(&r, 404, "{\"error\":\"function \\\"x\\\" not found\",\"code\":\"not_found\"}");
    assert_int_equal(client_check(&r, &e), CLI_NOT_FOUND);
    assert_string_equal(e.msg, "function \"x\" not found (404 not_found)");
    client_reply_free(&r);

    reply(&r, 502, "<html>bad gateway</html>");
    assert_int_equal(client_check(&r, &e), CLI_FAILED);
    assert_string_equal(e.msg, "the platform answered HTTP 502: <html>bad gateway</html>");
    client_reply_free(&r);

    reply(&r, 200, "{}");
    assert_int_equal(client_check(&r, &e), CLI_OK);
    assert_string_equal(client_str(&r, "missing") == NULL ? "null" : "set", "null");
    client_reply_free(&r);

    reply(&r, 201, "{\"name\":\"f\",\"timeout\":5}");
    assert_string_equal(client_str(&r, "name"), "f");
    assert_null(client_str(&r, "timeout"));
    client_reply_free(&r);
}

static void test_escape(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 1024);
    assert_int_equal(client_escape("hello-world_1.0~x", &b), 0);
    assert_string_equal(b.data, "hello-world_1.0~x");
    buf_reset(&b);
    assert_int_equal(client_escape("a/b?c=d&e f#g%\xc3\xa9", &b), 0);
    assert_string_equal(b.data, "a%2Fb%3Fc%3Dd%26e%20f%23g%25%C3%A9");
    buf_free(&b);
    buf_init(&b, 4);
    assert_int_equal(client_escape("/////", &b), -1);
    buf_free(&b);
}

static void test_init_checks(void **state)
{
    client_t c;
    err_t e;
    (void)state;
    assert_int_equal(client_init(&c, "http://127.0.0.1:8300///", "k", &e), 0);
    assert_string_equal(c.url, "http://127.0.0.1:8300");
    assert_string_equal(c.auth, "Authorization: Bearer k");
    client_free(&c);
    assert_int_equal(client_init(&c, "https://h", "", &e), 0);
    assert_null(c.auth);
    client_free(&c);
    assert_int_equal(client_init(&c, "127.0.0.1:8300", NULL, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_non_null(strstr(e.msg, "does not start with http:// or https://"));
    client_free(&c);
    assert_int_equal(client_init(&c, "http://h/ x", NULL, &e), -1);
    client_free(&c);
    /* A line break in the key would smuggle in a header of its own. */
    assert_int_equal(client_init(&c, "http://h", "k\r\nX-Evil: 1", &e), -1);
    assert_non_null(strstr(e.msg, "line break"));
    client_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_check_message),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_init_checks),
    };
    return cmocka_run_group_tests_name("cli_client", tests, NULL, NULL);
}
