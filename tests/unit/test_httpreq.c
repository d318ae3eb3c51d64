/*
 * Unit tests for httpreq, the Runtime API's request-head parser: whole
 * heads, heads in pieces, pipelined requests, lengths, the headers it
 * keeps, and each malformed shape refused with its status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parse/httpreq.h"

static void test_next(void **state)
{
    static const char req[] = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
                              "Host: 127.0.0.1:9001\r\nUser-Agent: x\r\n\r\n";
    httpreq_head h;
    (void)state;
    assert_int_equal(httpreq_parse(req, strlen(req), 16384, &h), HTTPREQ_OK);
    assert_string_equal(h.method, "GET");
    assert_string_equal(h.path, "/2018-06-01/runtime/invocation/next");
    assert_int_equal(h.content_length, 0);
    assert_true(h.keep_alive);
    assert_int_equal(h.head_len, strlen(req));
}

static void test_post_headers(void **state)
{
    static const char req[] = "POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\n"
                              "content-length:  12 \n"
                              "Lambda-Runtime-Function-Error-Type: Runtime.Boom\n"
                              "Connection: keep-alive, close\n"
                              "Expect: 100-continue\n\n{\"a\":\"bcdef\"}";
    httpreq_head h;
    (void)state;
    assert_int_equal(httpreq_parse(req, strlen(req), 16384, &h), HTTPREQ_OK);
    assert_string_equal(h.method, "POST");
    assert_int_equal(h.content_length, 12);
    assert_string_equal(h.error_type, "Runtime.Boom");
    assert_false(h.keep_alive);
    assert_true(h.expect_continue);
    assert_string_equal(req + h.head_len, "{\"a\":\"bcdef\"}");
}

/* Every prefix of a head is MORE; the whole is OK. */
static void test_pieces(void **state)
{
    static const char req[] = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    size_t head = strlen(req) - 3;
    httpreq_head h;
    (void)state;
    for (size_t n = 0; n < head; n++)
        assert_int_equal(httpreq_parse(req, n, 16384, &h), HTTPREQ_MORE);
    assert_int_equal(httpreq_parse(req, head, 16384, &h), HTTPREQ_OK);
    assert_int_equal(h.head_len, head);
}

/* Two requests in one buffer: the second starts where the first's body
 * ends. */
static void test_pipelined(void **state)
{
    static const char req[] = "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                              "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    httpreq_head h;
    (void)state;
    assert_int_equal(httpreq_parse(req, strlen(req), 16384, &h), HTTPREQ_OK);
    size_t next = h.head_len + (size_t)h.content_length;
    assert_int_equal(httpreq_parse(req + next, strlen(req) - next, 16384, &h), HTTPREQ_OK);
    assert_string_equal(h.path, "/b");
    assert_true(h.keep_alive);
    static const char v10[] = "GET /b HTTP/1.0\r\n\r\n";
    assert_int_equal(httpreq_parse(v10, strlen(v10), 16384, &h), HTTPREQ_OK);
    assert_false(h.keep_alive);
}

static void test_refused(void **state)
{
    static const struct {
        const char *req;
        httpreq_rc rc;
    } bad[] = {
        {"GET\r\n\r\n", HTTPREQ_BAD},
        {"GET /x\r\n\r\n", HTTPREQ_BAD},
        {"GET  /x HTTP/1.1\r\n\r\n", HTTPREQ_BAD},
        {"GET /x HTTP/1.1 extra\r\n\r\n", HTTPREQ_BAD},
        {"G(T /x HTTP/1.1\r\n\r\n", HTTPREQ_BAD},
        {"GET /x FTP/1.1\r\n\r\n", HTTPREQ_BAD},
        {"GET /x HTTP/2.0\r\n\r\n", HTTPREQ_VERSION},
        {"GET /x HTTP/1.2\r\n\r\n", HTTPREQ_VERSION},
        {"GET /x HTTP/1.1\r\nNoColon\r\n\r\n", HTTPREQ_BAD},
        {"GET /x HTTP/1.1\r\n: empty\r\n\r\n", HTTPREQ_BAD},
        {"GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", HTTPREQ_BAD},
        {"GET /x HTTP/1.1\r\nBad Name: b\r\n\r\n", HTTPREQ_BAD},
        {"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTPREQ_BAD},
        {"POST /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", HTTPREQ_BAD},
        {"POST /x HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTPREQ_BAD},
        {"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTPREQ_BAD},
        {"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", HTTPREQ_BAD},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", HTTPREQ_NO_LENGTH},
        {"POST /x HTTP/1.1\r\nExpect: something\r\n\r\n", HTTPREQ_BAD},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        httpreq_head h;
        httpreq_rc rc = httpreq_parse(bad[i].req, strlen(bad[i].req), 16384, &h);
        if (rc != bad[i].rc)
            fail_msg("\"%s\": %d, want %d", bad[i].req, rc, bad[i].rc);
    }
    /* The same Content-Length twice is one. */
    static const char twice[] =
        "POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n";
    httpreq_head h;
    assert_int_equal(httpreq_parse(twice, strlen(twice), 16384, &h), HTTPREQ_OK);
    assert_int_equal(h.content_length, 2);
}

static void test_bounds(void **state)
{
    char big[20000];
    httpreq_head h;
    const char *reason;
    (void)state;
    /* A head that does not end within the bound, complete or not. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /x HTTP/1.1\r\nX: ", 20);
    assert_int_equal(httpreq_parse(big, sizeof(big), 16384, &h), HTTPREQ_HEAD_LARGE);
    assert_int_equal(httpreq_parse(big, 1000, 16384, &h), HTTPREQ_MORE);
    memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
    assert_int_equal(httpreq_parse(big, sizeof(big), 16384, &h), HTTPREQ_HEAD_LARGE);
    /* A path past HTTPREQ_PATH_MAX. */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'p', HTTPREQ_PATH_MAX);
    memcpy(big + 5 + HTTPREQ_PATH_MAX, " HTTP/1.1\r\n\r\n", 13);
    assert_int_equal(httpreq_parse(big, 5 + HTTPREQ_PATH_MAX + 13, 16384, &h), HTTPREQ_URI_LARGE);
    /* A long error type is cut to its bound. */
    char et[400];
    int n = snprintf(et, sizeof(et),
                     "POST /x HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: %0200d\r\n\r\n", 0);
    assert_int_equal(httpreq_parse(et, (size_t)n, 16384, &h), HTTPREQ_OK);
    assert_int_equal(strlen(h.error_type), HTTPREQ_ERROR_TYPE_MAX);
    assert_int_equal(httpreq_status(HTTPREQ_HEAD_LARGE, &reason), 431);
    assert_int_equal(httpreq_status(HTTPREQ_NO_LENGTH, &reason), 411);
    assert_int_equal(httpreq_status(HTTPREQ_BAD, &reason), 400);
    assert_string_equal(reason, "Bad Request");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),    cmocka_unit_test(test_post_headers),
        cmocka_unit_test(test_pieces),  cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_refused), cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
