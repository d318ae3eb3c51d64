/*
 * Unit tests for frames: the request headers a warm container gets, and
 * the parsers of minilambda-init's frames and of the loop protocol's
 * answers — fed whole, byte by byte, and broken every way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parse/frames.h"

/* The call's nonce in every test: every frame and answer carries it. */
#define N "0123456789abcdef"
#define NJ ",\"nonce\":\"" N "\"}"

typedef struct {
    buf_t out, err;
} sinkbufs;

static void sink(void *arg, int stream, const char *p, size_t n)
{
    sinkbufs *s = arg;
    buf_append(stream == 2 ? &s->err : &s->out, p, n);
}

/* Feed `text` (len bytes of stdout) in pieces of `step`; the last result. */
static int feed_all(frames_parser *p, const char *text, size_t len, size_t step)
{
    int r = 0;
    for (size_t off = 0; off < len && r >= 0; off += step) {
        size_t n = len - off < step ? len - off : step;
        r = frames_feed(p, 1, text + off, n);
        if (r == 1 && off + n < len)
            return frames_feed(p, 1, text + off + n, len - off - n);
    }
    return r;
}

static void test_requests(void **state)
{
    buf_t b;
    frames_call c = {.function = "fn", .id = "id-1", .attempt = 2, .deadline_ms = 1234, .nonce = N};
    (void)state;
    buf_init(&b, 4096);
    assert_int_equal(frames_init_request(&b, &c, 7), 0);
    assert_string_equal(b.data, "MLINIT/3 4 7 " N "\nMINILAMBDA_FUNCTION_NAME=fn\n"
                                "MINILAMBDA_INVOCATION_ID=id-1\nMINILAMBDA_ATTEMPT=2\n"
                                "MINILAMBDA_DEADLINE_MS=1234\n");
    buf_free(&b);
    buf_init(&b, 4096);
    assert_int_equal(frames_loop_request(&b, &c, 7), 0);
    assert_string_equal(b.data, "{\"id\":\"id-1\",\"function\":\"fn\",\"attempt\":2,"
                                "\"deadline_ms\":1234,\"event_length\":7,\"nonce\":\"" N "\"}\n");
    buf_free(&b);
    buf_init(&b, 10);
    assert_int_equal(frames_init_request(&b, &c, 7), -1);
    buf_free(&b);
    /* The lambda protocol's optional lines: one line each, CR and LF as
     * spaces. */
    c.client_context = "{\"custom\":\n{\"a\":1}}\r";
    c.cognito_identity = "{}";
    buf_init(&b, 4096);
    assert_int_equal(frames_init_request(&b, &c, 0), 0);
    assert_string_equal(b.data, "MLINIT/3 6 0 " N "\nMINILAMBDA_FUNCTION_NAME=fn\n"
                                "MINILAMBDA_INVOCATION_ID=id-1\nMINILAMBDA_ATTEMPT=2\n"
                                "MINILAMBDA_DEADLINE_MS=1234\n"
                                "MINILAMBDA_CLIENT_CONTEXT={\"custom\": {\"a\":1}} \n"
                                "MINILAMBDA_COGNITO_IDENTITY={}\n");
    buf_free(&b);
    /* A context past an env line's bound is refused, not cut. */
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    c.client_context = big;
    buf_init(&b, 65536);
    assert_int_equal(frames_init_request(&b, &c, 0), -1);
    buf_free(&b);
}

/* The lambda protocol's ends: a response, an error with and without its
 * type, an init error; "n" marks the event taken. */
static void lambda_case(size_t step)
{
    static const struct {
        const char *text;
        char end;
        const char *type;
        bool taken;
    } cases[] = {
        {"n " N " 0\ne " N " 2\nlgo " N " 2\n{}x " N " 0\n", 'x', "", true},
        {"n " N " 0\no " N " 2\n{}f " N " 10\nValueError", 'f', "ValueError", true},
        {"n " N " 0\no " N " 2\n{}f " N " 0\n", 'f', "", true},
        {"o " N " 2\n{}i " N " 23\nRuntime.HandlerNotFound", 'i', "Runtime.HandlerNotFound", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        frames_parser p;
        sinkbufs s;
        buf_init(&s.out, 1024);
        buf_init(&s.err, 1024);
        frames_begin(&p, false, N, sink, &s);
        assert_int_equal(feed_all(&p, cases[i].text, strlen(cases[i].text), step), 1);
        assert_int_equal(p.end, cases[i].end);
        assert_string_equal(p.error_type, cases[i].type);
        assert_int_equal(p.taken, cases[i].taken);
        assert_int_equal(s.out.len, 2);
        assert_int_equal(frames_feed(&p, 1, "x", 1), -1);
        buf_free(&s.out);
        buf_free(&s.err);
    }
}

static void test_lambda_frames(void **state)
{
    (void)state;
    lambda_case(1);
    lambda_case(5);
    lambda_case(1000);
}

static void init_case(size_t step)
{
    frames_parser p;
    sinkbufs s;
    const char text[] = "o " N " 5\nhello"
                        "e " N " 3\nerr"
                        "o " N " 1\n!"
                        "x " N " 3\n";
    buf_init(&s.out, 1024);
    buf_init(&s.err, 1024);
    frames_begin(&p, false, N, sink, &s);
    assert_int_equal(feed_all(&p, text, sizeof(text) - 1, step), 1);
    assert_int_equal(p.exit_code, 3);
    assert_int_equal(s.out.len, 6);
    assert_memory_equal(s.out.data, "hello!", 6);
    assert_int_equal(s.err.len, 3);
    /* init's own stderr is logs too */
    assert_int_equal(frames_feed(&p, 2, "late", 4), 1);
    assert_int_equal(s.err.len, 7);
    /* stdout after the end is not */
    assert_int_equal(frames_feed(&p, 1, "o", 1), -1);
    /* a second answer, even with the nonce, is not either */
    frames_begin(&p, false, N, sink, &s);
    assert_int_equal(frames_feed(&p, 1, "x " N " 0\n", 21), 1);
    assert_int_equal(frames_feed(&p, 1, "x " N " 0\n", 21), -1);
    buf_free(&s.out);
    buf_free(&s.err);
}

static void test_init_frames(void **state)
{
    (void)state;
    init_case(1);
    init_case(3);
    init_case(1000);
}

static void test_nonce(void **state)
{
    char a[FRAMES_NONCE_LEN + 1], b[FRAMES_NONCE_LEN + 1];
    (void)state;
    assert_int_equal(frames_nonce(a), 0);
    assert_int_equal(frames_nonce(b), 0);
    assert_int_equal(strlen(a), FRAMES_NONCE_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), FRAMES_NONCE_LEN);
    /* 64 random bits: two alike would be a broken generator */
    assert_string_not_equal(a, b);
}

static void test_init_broken(void **state)
{
    static const char *const bad[] = {
        "hello\n",                /* not a frame */
        "o " N " 0\n",            /* empty frame */
        "o " N " 70000\n",        /* longer than init writes */
        "x " N " 300\n",          /* no such status */
        "o " N " -1\n",           /* sign */
        "o " N " 2x\nab",         /* junk after the length */
        "x " N " 0\nmore",        /* output after the end */
        "o 5\nhello",             /* no nonce: MLINIT/1's frames */
        "x 0\n",                  /* no nonce */
        "x fedcba9876543210 0\n", /* another call's */
        "o " N "0 1\na",          /* the nonce and more */
        "o 0123456789abcde 1\na", /* a prefix of the nonce */
        "x " N "\n",              /* no status */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        frames_parser p;
        sinkbufs s;
        buf_init(&s.out, 1024);
        buf_init(&s.err, 1024);
        frames_begin(&p, false, N, sink, &s);
        if (feed_all(&p, bad[i], strlen(bad[i]), 1) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(p.error[0] != '\0');
        buf_free(&s.out);
        buf_free(&s.err);
    }
    /* A header line longer than any frame's is refused, not buffered. */
    frames_parser p;
    sinkbufs s;
    char longline[400];
    memset(longline, 'o', sizeof(longline));
    frames_begin(&p, false, N, sink, &s);
    assert_int_equal(frames_feed(&p, 1, longline, sizeof(longline)), -1);
}

static void loop_case(size_t step)
{
    frames_parser p;
    sinkbufs s;
    const char text[] = "{\"exit_code\":0,\"result_length\":4,\"log_length\":3" NJ "\nabcdlog";
    buf_init(&s.out, 1024);
    buf_init(&s.err, 1024);
    frames_begin(&p, true, N, sink, &s);
    assert_int_equal(feed_all(&p, text, sizeof(text) - 1, step), 1);
    assert_int_equal(p.exit_code, 0);
    assert_int_equal(s.out.len, 4);
    assert_memory_equal(s.out.data, "abcd", 4);
    assert_int_equal(s.err.len, 3);
    buf_free(&s.out);
    buf_free(&s.err);
}

static void test_loop_answers(void **state)
{
    frames_parser p;
    sinkbufs s;
    (void)state;
    loop_case(1);
    loop_case(5);
    loop_case(4096);
    /* No result, no logs field: complete at the line. */
    buf_init(&s.out, 1024);
    buf_init(&s.err, 1024);
    frames_begin(&p, true, N, sink, &s);
    static const char bare[] = "{\"exit_code\":7,\"result_length\":0" NJ "\n";
    assert_int_equal(frames_feed(&p, 1, bare, sizeof(bare) - 1), 1);
    assert_int_equal(p.exit_code, 7);
    assert_int_equal(s.out.len, 0);
    /* stderr before the answer is the call's logs */
    frames_begin(&p, true, N, sink, &s);
    assert_int_equal(frames_feed(&p, 2, "x", 1), 0);
    assert_int_equal(s.err.len, 1);
    buf_free(&s.out);
    buf_free(&s.err);
}

static void test_loop_broken(void **state)
{
    static const char *const bad[] = {
        "hello\n",
        "{\"exit_code\":0" NJ "\n",
        "{\"result_length\":1" NJ "\nx",
        "{\"exit_code\":\"0\",\"result_length\":1" NJ "\nx",
        "{\"exit_code\":256,\"result_length\":1" NJ "\nx",
        "{\"exit_code\":0,\"result_length\":-1" NJ "\n",
        "{\"exit_code\":0,\"result_length\":1,\"log_length\":\"a\"" NJ "\nx",
        "{\"exit_code\":0,\"result_length\":1" NJ "\nxy",
        "[1]\n",
        /* a late or stale answer: without this call's nonce */
        "{\"exit_code\":0,\"result_length\":1}\nx",
        "{\"exit_code\":0,\"result_length\":1,\"nonce\":\"fedcba9876543210\"}\nx",
        "{\"exit_code\":0,\"result_length\":1,\"nonce\":\"" N "0\"}\nx",
        "{\"exit_code\":0,\"result_length\":1,\"nonce\":12}\nx",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        frames_parser p;
        sinkbufs s;
        buf_init(&s.out, 1024);
        buf_init(&s.err, 1024);
        frames_begin(&p, true, N, sink, &s);
        if (feed_all(&p, bad[i], strlen(bad[i]), 1) != -1)
            fail_msg("accepted: %s", bad[i]);
        buf_free(&s.out);
        buf_free(&s.err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),      cmocka_unit_test(test_init_frames),
        cmocka_unit_test(test_init_broken),   cmocka_unit_test(test_loop_answers),
        cmocka_unit_test(test_loop_broken),   cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_lambda_frames),
    };
    return cmocka_run_group_tests_name("frames", tests, NULL, NULL);
}
