/*
 * Unit tests for minilambda-init's lambda protocol (init/rapi.h): the
 * built binary run with pipes, no Docker, the test itself the runtime,
 * speaking HTTP to 127.0.0.1:9001 (the runtime init starts is a `sleep`).
 * The /next answer and its headers, /response, /error with its type, the
 * Runtime API's 4xx (a wrong id, a second answer, unknown paths and
 * methods, garbage, chunked bodies, a body past 6 MiB), pipelining, a
 * parked /next, Expect: 100-continue; /init/error and a runtime that
 * exits, each answering the next call with an "i" frame. Skipped when the
 * port is taken.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parse/initwire.h"

#define T_NONCE "feedc0de12345678"
#define T_DEADLINE_MS 20000
#define T_API "/2018-06-01/runtime"

typedef struct {
    pid_t pid;
    int in, out;
    char buf[1 << 16]; /* init's stdout not parsed yet */
    size_t len;
} sess;

static long long t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start init in `mode` with the runtime `cmd`; false when the port is
 * taken (init exits). */
static bool sess_start(sess *s, const char *mode, const char *const cmd[])
{
    int in[2], out[2];
    char path[4096];
    /* The port must be free, or the answers would be someone else's. */
    struct sockaddr_in free_a = {.sin_family = AF_INET, .sin_port = htons(9001)};
    inet_pton(AF_INET, "127.0.0.1", &free_a.sin_addr);
    int probe = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool port_free = bind(probe, (struct sockaddr *)&free_a, sizeof(free_a)) == 0;
    close(probe);
    if (!port_free)
        return false;
    const char *dir = getenv("ML_BUILD");
    snprintf(path, sizeof(path), "%s/minilambda-init", dir ? dir : ".");
    const char *argv[8] = {"minilambda-init", mode, "--"};
    size_t n = 3;
    for (size_t i = 0; cmd[i] != NULL && n < 7; i++)
        argv[n++] = cmd[i];
    argv[n] = NULL;
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(99);
        setenv("AWS_LAMBDA_FUNCTION_NAME", "fn", 1);
        execv(path, (char *const *)argv);
        _exit(98);
    }
    close(in[0]);
    close(out[1]);
    s->in = in[1];
    s->out = out[0];
    s->len = 0;
    /* Up once it accepts a connection. */
    for (long long end = t_now_ms() + T_DEADLINE_MS; t_now_ms() < end;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9001)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return true;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
            return false;
        usleep(10000);
    }
    fail_msg("init never listened on 9001");
    return false;
}

static int sess_exit(sess *s)
{
    int st;
    close(s->in);
    assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
    close(s->out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sess_request(sess *s, const char *id, const char *event)
{
    char req[1024];
    int n = snprintf(
        req, sizeof(req),
        "MLINIT/3 4 %zu " T_NONCE "\nMINILAMBDA_FUNCTION_NAME=fn\n"
        "MINILAMBDA_INVOCATION_ID=%s\nMINILAMBDA_DEADLINE_MS=123456\n" INITWIRE_ENV_CLIENT_CONTEXT
        "={\"custom\":{\"k\":1}}\n%s",
        strlen(event), id, event);
    assert_int_equal(write(s->in, req, (size_t)n), n);
}

/* The frames of one call, up to its end ('x', 'f' or 'i'): kinds in
 * order into `kinds`, 'o' data into `body`, the end's payload into
 * `type`. */
static void sess_call(sess *s, char *kinds, size_t kmax, char *body, size_t bmax, char *type)
{
    size_t nk = 0, nb = 0;
    long long end = t_now_ms() + T_DEADLINE_MS;
    type[0] = body[0] = kinds[0] = '\0';
    for (;;) {
        char *nl = memchr(s->buf, '\n', s->len);
        if (nl != NULL) {
            char kind = s->buf[0];
            unsigned long long num = strtoull(s->buf + 3 + strlen(T_NONCE), NULL, 10);
            assert_memory_equal(s->buf + 2, T_NONCE, strlen(T_NONCE));
            size_t head = (size_t)(nl - s->buf) + 1;
            size_t data = kind == 'x' || kind == 'n' ? 0 : (size_t)num;
            if (s->len >= head + data) {
                assert_true(nk + 1 < kmax);
                kinds[nk++] = kind;
                kinds[nk] = '\0';
                if (kind == 'o') {
                    assert_true(nb + data < bmax);
                    memcpy(body + nb, s->buf + head, data);
                    body[nb += data] = '\0';
                }
                if (kind == 'f' || kind == 'i') {
                    memcpy(type, s->buf + head, data);
                    type[data] = '\0';
                }
                memmove(s->buf, s->buf + head + data, s->len - head - data);
                s->len -= head + data;
                if (kind == 'x' || kind == 'f' || kind == 'i')
                    return;
                continue;
            }
        }
        struct pollfd p = {s->out, POLLIN, 0};
        assert_true(t_now_ms() < end);
        assert_true(poll(&p, 1, 1000) >= 0);
        if (p.revents == 0)
            continue;
        ssize_t r = read(s->out, s->buf + s->len, sizeof(s->buf) - s->len);
        assert_true(r > 0);
        s->len += (size_t)r;
    }
}

static int t_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9001)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void t_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void t_sends(int fd, const char *p)
{
    t_send(fd, p, strlen(p));
}

/* Read one answer (head and Content-Length body) into `out`; its status. */
static int t_answer(int fd, char *out, size_t max)
{
    size_t n = 0;
    for (;;) {
        out[n] = '\0';
        char *end = strstr(out, "\r\n\r\n");
        if (end != NULL) {
            const char *cl = strstr(out, "Content-Length: ");
            size_t want = (size_t)(end + 4 - out) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
            if (n >= want) {
                out[want] = '\0';
                return atoi(out + 9);
            }
        }
        assert_true(n + 1 < max);
        ssize_t r = recv(fd, out + n, 1, 0); /* one byte at a time: pipelined answers stay */
        if (r <= 0)
            return 0;
        n += (size_t)r;
    }
}

/* One request on a new connection; its status, the answer in `out`. */
static int t_http(const char *req, char *out, size_t max)
{
    int fd = t_connect();
    t_send(fd, req, strlen(req));
    int st = t_answer(fd, out, max);
    close(fd);
    return st;
}

static const char *const t_sleep[] = {"sleep", "60", NULL};

static void test_calls_and_answers(void **state)
{
    static char ans[1 << 16], body[4096];
    char kinds[32], type[256];
    sess s;
    (void)state;
    if (!sess_start(&s, "lambda-reuse", t_sleep))
        skip();
    int rt = t_connect();
    sess_request(&s, "inv-1", "{\"a\":1}");
    t_sends(rt, "GET " T_API "/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 200);
    assert_non_null(strstr(ans, "Lambda-Runtime-Aws-Request-Id: inv-1\r\n"));
    assert_non_null(strstr(ans, "Lambda-Runtime-Deadline-Ms: 123456\r\n"));
    assert_non_null(strstr(ans,
                           "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:"
                           "function:fn\r\n"));
    assert_non_null(strstr(ans, "Lambda-Runtime-Client-Context: {\"custom\":{\"k\":1}}\r\n"));
    assert_non_null(strstr(ans, "Lambda-Runtime-Trace-Id: Root=1-"));
    assert_non_null(strstr(ans, "\r\n\r\n{\"a\":1}"));

    /* The Runtime API's own answers, the call going on. */
    assert_int_equal(t_http("POST " T_API "/invocation/other/response HTTP/1.1\r\n"
                            "Content-Length: 2\r\n\r\n{}",
                            ans, sizeof(ans)),
                     400);
    assert_non_null(strstr(ans, "\"errorType\":\"InvalidRequestID\""));
    assert_int_equal(t_http("GET " T_API "/nothing HTTP/1.1\r\n\r\n", ans, sizeof(ans)), 404);
    assert_int_equal(t_http("DELETE " T_API "/invocation/next HTTP/1.1\r\n\r\n", ans, sizeof(ans)),
                     405);
    assert_int_equal(t_http("not http\r\n\r\n", ans, sizeof(ans)), 400);
    assert_int_equal(t_http("POST " T_API "/init/error HTTP/1.1\r\nTransfer-Encoding: chunked"
                            "\r\n\r\n0\r\n\r\n",
                            ans, sizeof(ans)),
                     411);
    assert_int_equal(t_http("GET " T_API "/invocation/next HTTP/1.1\r\n\r\n", ans, sizeof(ans)),
                     403);
    assert_int_equal(t_http("POST " T_API "/init/error HTTP/1.1\r\n\r\n", ans, sizeof(ans)), 403);
    /* Two requests in one write: two answers, in order. */
    int pl = t_connect();
    static const char two[] = "GET " T_API "/x HTTP/1.1\r\n\r\n"
                              "POST " T_API "/invocation/nope/error HTTP/1.1\r\n"
                              "Content-Length: 0\r\n\r\n";
    t_send(pl, two, sizeof(two) - 1);
    assert_int_equal(t_answer(pl, ans, sizeof(ans)), 404);
    assert_int_equal(t_answer(pl, ans, sizeof(ans)), 400);
    close(pl);

    /* A function error, with its type. */
    static const char err[] = "POST " T_API "/invocation/inv-1/error HTTP/1.1\r\n"
                              "Lambda-Runtime-Function-Error-Type: Boom.Error\r\n"
                              "Content-Length: 15\r\n\r\n{\"errorType\":1}";
    t_send(rt, err, sizeof(err) - 1);
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 202);
    sess_call(&s, kinds, sizeof(kinds), body, sizeof(body), type);
    assert_string_equal(kinds, "nof");
    assert_string_equal(body, "{\"errorType\":1}");
    assert_string_equal(type, "Boom.Error");
    /* A second answer to it. */
    assert_int_equal(t_http("POST " T_API "/invocation/inv-1/response HTTP/1.1\r\n"
                            "Content-Length: 0\r\n\r\n",
                            ans, sizeof(ans)),
                     403);

    /* A /next parked before the call; a response after 100-continue. */
    t_sends(rt, "GET " T_API "/invocation/next HTTP/1.1\r\n\r\n");
    usleep(50000);
    sess_request(&s, "inv-2", "");
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 200);
    assert_non_null(strstr(ans, "Lambda-Runtime-Aws-Request-Id: inv-2\r\n"));
    t_sends(rt, "POST " T_API "/invocation/inv-2/response HTTP/1.1\r\nExpect: 100-continue\r\n"
                "Content-Length: 4\r\n\r\n");
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 100);
    t_sends(rt, "\"ok\"");
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 202);
    sess_call(&s, kinds, sizeof(kinds), body, sizeof(body), type);
    assert_string_equal(kinds, "nox");
    assert_string_equal(body, "\"ok\"");

    /* A response past 6 MiB: 413 to the runtime, the call's error. */
    sess_request(&s, "inv-3", "{}");
    t_sends(rt, "GET " T_API "/invocation/next HTTP/1.1\r\n\r\n");
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 200);
    char head[200];
    size_t big = INITWIRE_LAMBDA_BODY_MAX + 1;
    int hn = snprintf(head, sizeof(head),
                      "POST " T_API "/invocation/inv-3/response HTTP/1.1\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      big);
    t_send(rt, head, (size_t)hn);
    char *blob = malloc(big);
    assert_non_null(blob);
    memset(blob, 'x', big);
    t_send(rt, blob, big);
    free(blob);
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 413);
    assert_non_null(strstr(ans, "RequestEntityTooLarge"));
    sess_call(&s, kinds, sizeof(kinds), body, sizeof(body), type);
    assert_string_equal(type, "Function.ResponseSizeTooLarge");
    /* The connection is still good after it. */
    t_sends(rt, "GET " T_API "/nothing HTTP/1.1\r\n\r\n");
    assert_int_equal(t_answer(rt, ans, sizeof(ans)), 404);
    close(rt);
    assert_int_equal(sess_exit(&s), 0);
}

/* /init/error before a call: the call is answered with it, init exits. */
static void test_init_error(void **state)
{
    static char ans[4096], body[4096];
    char kinds[32], type[256];
    sess s;
    (void)state;
    if (!sess_start(&s, "lambda-reuse", t_sleep))
        skip();
    assert_int_equal(t_http("POST " T_API "/init/error HTTP/1.1\r\n"
                            "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\n"
                            "Content-Length: 2\r\n\r\n{}",
                            ans, sizeof(ans)),
                     202);
    sess_request(&s, "inv-1", "{}");
    sess_call(&s, kinds, sizeof(kinds), body, sizeof(body), type);
    assert_string_equal(kinds, "oi");
    assert_string_equal(type, "Runtime.ImportModuleError");
    assert_string_equal(body, "{}");
    assert_int_equal(sess_exit(&s), 0);
}

/* A runtime that exits: the call gets Runtime.ExitError. */
static void test_runtime_exits(void **state)
{
    static const char *const t_exit3[] = {"sh", "-c", "sleep 0.2; echo bye; exit 3", NULL};
    static char body[4096];
    char kinds[32], type[256];
    sess s;
    (void)state;
    if (!sess_start(&s, "lambda-fresh", t_exit3))
        skip();
    sess_request(&s, "inv-1", "{}");
    sess_call(&s, kinds, sizeof(kinds), body, sizeof(body), type);
    assert_string_equal(type, "Runtime.ExitError");
    assert_non_null(strstr(body, "exit status 3"));
    assert_non_null(strchr(kinds, 'e')); /* its "bye" is a log */
    assert_int_equal(sess_exit(&s), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_and_answers),
        cmocka_unit_test(test_init_error),
        cmocka_unit_test(test_runtime_exits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
