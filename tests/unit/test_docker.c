/*
 * Unit tests for docker: the stream demultiplexer, and the Engine API
 * client's error paths against a fake Engine on a unix socket served by a
 * thread of this test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "engine/docker.h"
#include "fake.h"

/* ---------------------------------------------------------------------- */
/* docker_demux                                                            */

typedef struct {
    buf_t out[3]; /* by stream; [0] must stay empty */
    int calls;
    int bad_stream;
} collect;

static void collect_init(collect *c)
{
    for (int i = 0; i < 3; i++)
        buf_init(&c->out[i], 1 << 24);
    c->calls = 0;
    c->bad_stream = 0;
}

static void collect_free(collect *c)
{
    for (int i = 0; i < 3; i++)
        buf_free(&c->out[i]);
}

static void collect_sink(void *arg, int stream, const char *p, size_t n)
{
    collect *c = arg;
    c->calls++;
    if (stream != 1 && stream != 2) {
        c->bad_stream++;
        return;
    }
    assert_int_equal(buf_append(&c->out[stream], p, n), BUF_OK);
}

/* Append one frame to `b`. */
static void frame(buf_t *b, unsigned char type, const char *payload, size_t n)
{
    unsigned char h[8] = {type,
                          0,
                          0,
                          0,
                          (unsigned char)(n >> 24),
                          (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8),
                          (unsigned char)n};
    assert_int_equal(buf_append(b, h, 8), BUF_OK);
    assert_int_equal(buf_append(b, payload, n), BUF_OK);
}

static void expect_out(collect *c, const char *out1, size_t n1, const char *out2, size_t n2)
{
    assert_int_equal(c->bad_stream, 0);
    assert_int_equal(c->out[0].len, 0);
    assert_int_equal(c->out[1].len, n1);
    assert_int_equal(c->out[2].len, n2);
    if (n1)
        assert_memory_equal(c->out[1].data, out1, n1);
    if (n2)
        assert_memory_equal(c->out[2].data, out2, n2);
}

static void test_demux_stdout_frame(void **state)
{
    docker_demux m;
    collect c;
    buf_t s;
    (void)state;
    buf_init(&s, 1 << 20);
    frame(&s, 1, "hello", 5);
    assert_int_equal(s.len, 13);
    assert_memory_equal(s.data, "\x01\0\0\0\0\0\0\x05hello", 13);
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, s.data, s.len, collect_sink, &c), 0);
    expect_out(&c, "hello", 5, NULL, 0);
    assert_int_equal(m.remaining, 0);
    assert_int_equal(m.head_len, 0);
    collect_free(&c);
    buf_free(&s);
}

static void test_demux_stderr_frame(void **state)
{
    docker_demux m;
    collect c;
    (void)state;
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, "\x02\0\0\0\0\0\0\x04oops", 12, collect_sink, &c), 0);
    expect_out(&c, NULL, 0, "oops", 4);
    collect_free(&c);
}

static void test_demux_stdin_type_goes_to_stdout(void **state)
{
    docker_demux m;
    collect c;
    (void)state;
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, "\x00\0\0\0\0\0\0\x02in", 10, collect_sink, &c), 0);
    expect_out(&c, "in", 2, NULL, 0);
    collect_free(&c);
}

static void test_demux_binary_payload(void **state)
{
    docker_demux m;
    collect c;
    buf_t s;
    unsigned char payload[300];
    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (unsigned char)(255 - i);
    payload[10] = 0;
    buf_init(&s, 1 << 20);
    frame(&s, 1, (const char *)payload, sizeof(payload)); /* length 0x012c: two bytes used */
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, s.data, s.len, collect_sink, &c), 0);
    expect_out(&c, (const char *)payload, sizeof(payload), NULL, 0);
    collect_free(&c);
    buf_free(&s);
}

/* The test stream for the split tests and what it decodes to. */
static void split_stream(buf_t *s)
{
    buf_init(s, 1 << 20);
    frame(s, 1, "hello ", 6);
    frame(s, 2, "err1", 4);
    frame(s, 1, "", 0);
    frame(s, 1, "world", 5);
    frame(s, 2, "\0x", 2);
}

static void test_demux_split_everywhere(void **state)
{
    buf_t s;
    (void)state;
    split_stream(&s);
    /* Two feeds, split at every position. */
    for (size_t k = 0; k <= s.len; k++) {
        docker_demux m;
        collect c;
        collect_init(&c);
        docker_demux_init(&m);
        assert_int_equal(docker_demux_feed(&m, s.data, k, collect_sink, &c), 0);
        assert_int_equal(docker_demux_feed(&m, s.data + k, s.len - k, collect_sink, &c), 0);
        expect_out(&c, "hello world", 11, "err1\0x", 6);
        assert_int_equal(m.remaining, 0);
        assert_int_equal(m.head_len, 0);
        collect_free(&c);
    }
    /* Three feeds, every pair of split points. */
    for (size_t i = 0; i <= s.len; i++) {
        for (size_t j = i; j <= s.len; j++) {
            docker_demux m;
            collect c;
            collect_init(&c);
            docker_demux_init(&m);
            assert_int_equal(docker_demux_feed(&m, s.data, i, collect_sink, &c), 0);
            assert_int_equal(docker_demux_feed(&m, s.data + i, j - i, collect_sink, &c), 0);
            assert_int_equal(docker_demux_feed(&m, s.data + j, s.len - j, collect_sink, &c), 0);
            expect_out(&c, "hello world", 11, "err1\0x", 6);
            collect_free(&c);
        }
    }
    /* One byte at a time. */
    docker_demux m;
    collect c;
    collect_init(&c);
    docker_demux_init(&m);
    for (size_t k = 0; k < s.len; k++)
        assert_int_equal(docker_demux_feed(&m, s.data + k, 1, collect_sink, &c), 0);
    expect_out(&c, "hello world", 11, "err1\0x", 6);
    collect_free(&c);
    buf_free(&s);
}

static void test_demux_header_split(void **state)
{
    docker_demux m;
    collect c;
    (void)state;
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, "\x02\0\0", 3, collect_sink, &c), 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(docker_demux_feed(&m, "\0\0\0", 3, collect_sink, &c), 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(docker_demux_feed(&m, "\0\x03", 2, collect_sink, &c), 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(m.remaining, 3);
    assert_int_equal(docker_demux_feed(&m, "ab", 2, collect_sink, &c), 0);
    assert_int_equal(docker_demux_feed(&m, "c\x01\0\0\0\0\0", 7, collect_sink, &c), 0);
    assert_int_equal(docker_demux_feed(&m, "\0\x01Z", 3, collect_sink, &c), 0);
    expect_out(&c, "Z", 1, "abc", 3);
    /* An empty feed changes nothing. */
    assert_int_equal(docker_demux_feed(&m, "", 0, collect_sink, &c), 0);
    expect_out(&c, "Z", 1, "abc", 3);
    collect_free(&c);
}

static void test_demux_zero_length_frames(void **state)
{
    docker_demux m;
    collect c;
    buf_t s;
    (void)state;
    buf_init(&s, 1 << 20);
    frame(&s, 1, "a", 1);
    frame(&s, 2, "", 0);
    frame(&s, 1, "", 0);
    frame(&s, 2, "e", 1);
    frame(&s, 1, "b", 1);
    frame(&s, 1, "", 0);
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, s.data, s.len, collect_sink, &c), 0);
    expect_out(&c, "ab", 2, "e", 1);
    assert_int_equal(m.remaining, 0);
    assert_int_equal(m.head_len, 0);
    /* Only zero-length frames: no output at all. */
    collect_free(&c);
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, s.data + 9, 16, collect_sink, &c), 0);
    expect_out(&c, NULL, 0, NULL, 0);
    collect_free(&c);
    buf_free(&s);
}

static void test_demux_many_frames(void **state)
{
    docker_demux m;
    collect c;
    buf_t s, want1, want2;
    char payload[64];
    (void)state;
    buf_init(&s, 1 << 22);
    buf_init(&want1, 1 << 22);
    buf_init(&want2, 1 << 22);
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i * 7) % 41;
        for (size_t k = 0; k < n; k++)
            payload[k] = (char)('a' + (i + (int)k) % 26);
        unsigned char type = (i % 3 == 0) ? 2 : 1;
        frame(&s, type, payload, n);
        assert_int_equal(buf_append(type == 2 ? &want2 : &want1, payload, n), BUF_OK);
    }
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(docker_demux_feed(&m, s.data, s.len, collect_sink, &c), 0);
    expect_out(&c, want1.data, want1.len, want2.data, want2.len);
    collect_free(&c);

    /* The same stream in uneven chunks. */
    collect_init(&c);
    docker_demux_init(&m);
    for (size_t off = 0, step = 1; off < s.len; off += step, step = step % 97 + 13) {
        size_t n = off + step <= s.len ? step : s.len - off;
        assert_int_equal(docker_demux_feed(&m, s.data + off, n, collect_sink, &c), 0);
    }
    expect_out(&c, want1.data, want1.len, want2.data, want2.len);
    collect_free(&c);
    buf_free(&s);
    buf_free(&want1);
    buf_free(&want2);
}

static void test_demux_length_is_big_endian(void **state)
{
    docker_demux m;
    collect c;
    (void)state;
    collect_init(&c);
    docker_demux_init(&m);
    /* Length 0x01020304 = 16909060: header plus 4 payload bytes. */
    assert_int_equal(docker_demux_feed(&m,
                                       "\x01\0\0\0\x01\x02\x03\x04"
                                       "abcd",
                                       12, collect_sink, &c),
                     0);
    assert_int_equal(m.remaining, 16909060u - 4);
    expect_out(&c, "abcd", 4, NULL, 0);
    collect_free(&c);

    collect_init(&c);
    docker_demux_init(&m);
    /* Length 0x00010000 = 65536. */
    assert_int_equal(docker_demux_feed(&m, "\x02\0\0\0\0\x01\0\0", 8, collect_sink, &c), 0);
    assert_int_equal(m.remaining, 65536);
    collect_free(&c);
}

static void test_demux_bad_header(void **state)
{
    static const char *const bad[] = {
        "\x07\0\0\0\0\0\0\x01x",   "\x03\0\0\0\0\0\0\x01x",   "\xff\0\0\0\0\0\0\x01x",
        "\x01\x01\0\0\0\0\0\x01x", "\x01\0\x01\0\0\0\0\x01x", "\x01\0\0\x01\0\0\0\x01x",
        "\x02\0\0\x80\0\0\0\x01x", "HTTP/1.1 200 OK\r\n",
    };
    static const size_t bad_len[] = {9, 9, 9, 9, 9, 9, 9, 17};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        docker_demux m;
        collect c;
        collect_init(&c);
        docker_demux_init(&m);
        assert_int_equal(docker_demux_feed(&m, bad[i], bad_len[i], collect_sink, &c), -1);
        assert_int_equal(c.calls, 0);
        collect_free(&c);

        /* The same header split in two: rejected when it is complete. */
        collect_init(&c);
        docker_demux_init(&m);
        assert_int_equal(docker_demux_feed(&m, bad[i], 4, collect_sink, &c), 0);
        assert_int_equal(docker_demux_feed(&m, bad[i] + 4, bad_len[i] - 4, collect_sink, &c), -1);
        assert_int_equal(c.calls, 0);
        collect_free(&c);
    }

    /* A bad header after a good frame, in the same feed. */
    docker_demux m;
    collect c;
    collect_init(&c);
    docker_demux_init(&m);
    assert_int_equal(
        docker_demux_feed(&m, "\x01\0\0\0\0\0\0\x02ok\x07\0\0\0\0\0\0\x01x", 19, collect_sink, &c),
        -1);
    expect_out(&c, "ok", 2, NULL, 0);
    collect_free(&c);
}

static docker_t *new_docker(void)
{
    char err[256] = "";
    docker_t *d = docker_new(err, sizeof(err));
    if (d == NULL)
        fail_msg("docker_new: %s", err);
    return d;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void test_docker_new_bad_host(void **state)
{
    static const char *const bad[] = {"bogus://x", "http://localhost:2375", "/var/run/docker.sock",
                                      "unix://", "tcp://"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        assert_int_equal(setenv("DOCKER_HOST", bad[i], 1), 0);
        docker_t *d = docker_new(err, sizeof(err));
        if (d != NULL) {
            docker_free(d);
            fail_msg("docker_new accepted DOCKER_HOST=%s", bad[i]);
        }
        assert_true(strlen(err) > 0);
    }
}

static void test_docker_new_good_hosts(void **state)
{
    (void)state;
    assert_int_equal(unsetenv("DOCKER_HOST"), 0);
    docker_t *d = new_docker();
    assert_string_equal(docker_endpoint(d), "unix:///var/run/docker.sock");
    docker_free(d);

    assert_int_equal(setenv("DOCKER_HOST", "", 1), 0);
    d = new_docker();
    assert_string_equal(docker_endpoint(d), "unix:///var/run/docker.sock");
    docker_free(d);

    assert_int_equal(setenv("DOCKER_HOST", "unix:///tmp/x.sock", 1), 0);
    d = new_docker();
    assert_string_equal(docker_endpoint(d), "unix:///tmp/x.sock");
    docker_free(d);

    assert_int_equal(setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1), 0);
    unsetenv("DOCKER_CERT_PATH");
    unsetenv("DOCKER_TLS_VERIFY");
    d = new_docker();
    assert_string_equal(docker_endpoint(d), "tcp://127.0.0.1:2375");
    docker_free(d);
}

static void test_docker_unreachable(void **state)
{
    char dir[64], host[128];
    docker_result res;
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ml-docker-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(host, sizeof(host), "unix://%s/missing.sock", dir);
    assert_int_equal(setenv("DOCKER_HOST", host, 1), 0);
    docker_t *d = new_docker();
    docker_conn_t *c = docker_conn_new(d);
    assert_non_null(c);

    memset(&res, 0, sizeof(res));
    res.status = 99;
    assert_int_equal(docker_ping(c, 1000, &res), DOCKER_UNREACHABLE);
    assert_int_equal(res.status, 0);
    assert_true(strlen(res.message) > 0);

    buf_t out;
    buf_init(&out, 4096);
    assert_int_equal(docker_call(c, "GET", "/info", NULL, 1000, &out, &res), DOCKER_UNREACHABLE);
    assert_int_equal(res.status, 0);
    assert_true(strlen(res.message) > 0);
    buf_free(&out);

    docker_conn_free(c);
    docker_free(d);

    /* A socket file nobody listens on (a dead engine's leftover). */
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.60s/stale.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    snprintf(host, sizeof(host), "unix://%s", sa.sun_path);
    assert_int_equal(setenv("DOCKER_HOST", host, 1), 0);
    d = new_docker();
    c = docker_conn_new(d);
    assert_int_equal(docker_ping(c, 1000, &res), DOCKER_UNREACHABLE);
    assert_int_equal(docker_call(c, "GET", "/info", NULL, 1000, NULL, &res), DOCKER_UNREACHABLE);
    docker_conn_free(c);
    docker_free(d);
    assert_int_equal(unlink(sa.sun_path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_docker_api_error_and_version(void **state)
{
    static const fake_reply replies[] = {
        {200, "{\"Version\":\"19.03.15\",\"ApiVersion\":\"1.40\",\"MinAPIVersion\":\"1.12\"}"},
        {404, "{\"message\":\"No such image: x\"}\n"},
        {201, "{\"Id\":\"abc\",\"Warnings\":[]}"},
    };
    fake_server fs;
    docker_result res;
    buf_t out;
    (void)state;
    fake_start(&fs, replies, 3);
    docker_t *d = new_docker();
    docker_conn_t *c = docker_conn_new(d);
    assert_non_null(c);

    buf_init(&out, 65536);
    memset(&res, 0, sizeof(res));
    assert_int_equal(docker_call(c, "GET", "/images/x/json", NULL, 5000, &out, &res),
                     DOCKER_API_ERROR);
    assert_int_equal(res.status, 404);
    assert_string_equal(res.message, "No such image: x");
    buf_free(&out);

    /* The version is negotiated once: the next call goes straight out. */
    buf_init(&out, 65536);
    assert_int_equal(docker_call(c, "POST", "/containers/create?name=t", "{\"Image\":\"busybox\"}",
                                 5000, &out, &res),
                     DOCKER_OK);
    assert_int_equal(res.status, 201);
    assert_string_equal(out.data, "{\"Id\":\"abc\",\"Warnings\":[]}");
    buf_free(&out);

    docker_conn_free(c);
    docker_free(d);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 3);
    assert_string_equal(fs.requests[0], "GET /version");
    assert_string_equal(fs.requests[1], "GET /v1.40/images/x/json");
    assert_string_equal(fs.requests[2], "POST /v1.40/containers/create?name=t");
}

static void test_docker_version_capped_at_ours(void **state)
{
    static const fake_reply replies[] = {
        {200, "{\"ApiVersion\":\"1.45\"}"},
        {200, "{}"},
    };
    fake_server fs;
    docker_result res;
    (void)state;
    fake_start(&fs, replies, 2);
    docker_t *d = new_docker();
    docker_conn_t *c = docker_conn_new(d);
    assert_int_equal(docker_call(c, "GET", "/info", NULL, 5000, NULL, &res), DOCKER_OK);
    assert_int_equal(res.status, 200);
    docker_conn_free(c);
    docker_free(d);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 2);
    assert_string_equal(fs.requests[1], "GET /v" DOCKER_API_VERSION "/info");
}

static void test_docker_ping_ok_unversioned(void **state)
{
    static const fake_reply replies[] = {{200, "OK"}};
    fake_server fs;
    docker_result res;
    (void)state;
    fake_start(&fs, replies, 1);
    docker_t *d = new_docker();
    docker_conn_t *c = docker_conn_new(d);
    assert_int_equal(docker_ping(c, 5000, &res), DOCKER_OK);
    assert_int_equal(res.status, 200);
    docker_conn_free(c);
    docker_free(d);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 1);
    assert_string_equal(fs.requests[0], "GET /_ping");
}

static void test_docker_error_body_not_json(void **state)
{
    static const fake_reply replies[] = {
        {200, "{\"ApiVersion\":\"1.41\"}"},
        {500, "engine exploded\r\n"},
    };
    fake_server fs;
    docker_result res;
    (void)state;
    fake_start(&fs, replies, 2);
    docker_t *d = new_docker();
    docker_conn_t *c = docker_conn_new(d);
    /* No output buffer: the error body is still read for the message. */
    assert_int_equal(docker_call(c, "DELETE", "/containers/abc?force=1", NULL, 5000, NULL, &res),
                     DOCKER_API_ERROR);
    assert_int_equal(res.status, 500);
    assert_string_equal(res.message, "engine exploded");
    docker_conn_free(c);
    docker_free(d);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 2);
    assert_string_equal(fs.requests[1], "DELETE /v1.41/containers/abc?force=1");
}

static void check_timeout(const fake_reply *replies, size_t n, size_t want_requests)
{
    fake_server fs;
    docker_result res;
    fake_start(&fs, replies, n);
    docker_t *d = new_docker();
    docker_conn_t *c = docker_conn_new(d);
    long t0 = now_ms();
    docker_rc rc = docker_call(c, "GET", "/containers/json", NULL, 300, NULL, &res);
    long elapsed = now_ms() - t0;
    assert_int_equal(rc, DOCKER_TIMEOUT);
    assert_int_equal(res.status, 0);
    assert_true(strlen(res.message) > 0);
    assert_in_range(elapsed, 250, 5000);
    docker_conn_free(c);
    docker_free(d);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, want_requests);
}

/* The engine accepts the connection and never answers /version. */
static void test_docker_timeout_on_negotiation(void **state)
{
    static const fake_reply replies[] = {{0, NULL}};
    (void)state;
    check_timeout(replies, 1, 1);
}

/* The engine answers /version, then never answers the call itself. */
static void test_docker_timeout_on_call(void **state)
{
    static const fake_reply replies[] = {{200, "{\"ApiVersion\":\"1.40\"}"}, {0, NULL}};
    (void)state;
    check_timeout(replies, 2, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demux_stdout_frame),
        cmocka_unit_test(test_demux_stderr_frame),
        cmocka_unit_test(test_demux_stdin_type_goes_to_stdout),
        cmocka_unit_test(test_demux_binary_payload),
        cmocka_unit_test(test_demux_split_everywhere),
        cmocka_unit_test(test_demux_header_split),
        cmocka_unit_test(test_demux_zero_length_frames),
        cmocka_unit_test(test_demux_many_frames),
        cmocka_unit_test(test_demux_length_is_big_endian),
        cmocka_unit_test(test_demux_bad_header),
        cmocka_unit_test(test_docker_new_bad_host),
        cmocka_unit_test(test_docker_new_good_hosts),
        cmocka_unit_test(test_docker_unreachable),
        cmocka_unit_test(test_docker_api_error_and_version),
        cmocka_unit_test(test_docker_version_capped_at_ours),
        cmocka_unit_test(test_docker_ping_ok_unversioned),
        cmocka_unit_test(test_docker_error_body_not_json),
        cmocka_unit_test(test_docker_timeout_on_negotiation),
        cmocka_unit_test(test_docker_timeout_on_call),
    };
    return cmocka_run_group_tests_name("docker", tests, fake_group_setup, fake_group_teardown);
}
