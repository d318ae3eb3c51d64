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

#include "frames.h"

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
    frames_call c = {.function = "fn", .id = "id-1", .attempt = 2, .deadline_ms = 1234};
    (void)state;
    buf_init(&b, 4096);
    assert_int_equal(frames_init_request(&b, &c, 7), 0);
    assert_string_equal(b.data, "MLINIT/1 4 7\nMINILAMBDA_FUNCTION_NAME=fn\n"
                                "MINILAMBDA_INVOCATION_ID=id-1\nMINILAMBDA_ATTEMPT=2\n"
                                "MINILAMBDA_DEADLINE_MS=1234\n");
    buf_free(&b);
    buf_init(&b, 4096);
    assert_int_equal(frames_loop_request(&b, &c, 7), 0);
    assert_string_equal(b.data, "{\"id\":\"id-1\",\"function\":\"fn\",\"attempt\":2,"
                                "\"deadline_ms\":1234,\"event_length\":7}\n");
    buf_free(&b);
    buf_init(&b, 10);
    assert_int_equal(frames_init_request(&b, &c, 7), -1);
    buf_free(&b);
}

static void init_case(size_t step)
{
    frames_parser p;
    sinkbufs s;
    const char text[] = "o 5\nhello"
                        "e 3\nerr"
                        "o 1\n!"
                        "x 3\n";
    buf_init(&s.out, 1024);
    buf_init(&s.err, 1024);
    frames_begin(&p, false, sink, &s);
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

static void test_init_broken(void **state)
{
    static const char *const bad[] = {
        "hello\n",   /* not a frame */
        "o 0\n",     /* empty frame */
        "o 70000\n", /* longer than init writes */
        "x 300\n",   /* no such status */
        "o -1\n",    /* sign */
        "o 2x\nab",  /* junk after the length */
        "x 0\nmore", /* output after the end */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        frames_parser p;
        sinkbufs s;
        buf_init(&s.out, 1024);
        buf_init(&s.err, 1024);
        frames_begin(&p, false, sink, &s);
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
    frames_begin(&p, false, sink, &s);
    assert_int_equal(frames_feed(&p, 1, longline, sizeof(longline)), -1);
}

static void loop_case(size_t step)
{
    frames_parser p;
    sinkbufs s;
    const char text[] = "{\"exit_code\":0,\"result_length\":4,\"log_length\":3}\nabcdlog";
    buf_init(&s.out, 1024);
    buf_init(&s.err, 1024);
    frames_begin(&p, true, sink, &s);
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
    frames_begin(&p, true, sink, &s);
    assert_int_equal(frames_feed(&p, 1, "{\"exit_code\":7,\"result_length\":0}\n", 34), 1);
    assert_int_equal(p.exit_code, 7);
    assert_int_equal(s.out.len, 0);
    /* stderr before the answer is the call's logs */
    frames_begin(&p, true, sink, &s);
    assert_int_equal(frames_feed(&p, 2, "x", 1), 0);
    assert_int_equal(s.err.len, 1);
    buf_free(&s.out);
    buf_free(&s.err);
}

static void test_loop_broken(void **state)
{
    static const char *const bad[] = {
        "hello\n",
        "{\"exit_code\":0}\n",
        "{\"result_length\":1}\nx",
        "{\"exit_code\":\"0\",\"result_length\":1}\nx",
        "{\"exit_code\":256,\"result_length\":1}\nx",
        "{\"exit_code\":0,\"result_length\":-1}\n",
        "{\"exit_code\":0,\"result_length\":1,\"log_length\":\"a\"}\nx",
        "{\"exit_code\":0,\"result_length\":1}\nxy",
        "[1]\n",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        frames_parser p;
        sinkbufs s;
        buf_init(&s.out, 1024);
        buf_init(&s.err, 1024);
        frames_begin(&p, true, sink, &s);
        if (feed_all(&p, bad[i], strlen(bad[i]), 1) != -1)
            fail_msg("accepted: %s", bad[i]);
        buf_free(&s.out);
        buf_free(&s.err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),    cmocka_unit_test(test_init_frames),
        cmocka_unit_test(test_init_broken), cmocka_unit_test(test_loop_answers),
        cmocka_unit_test(test_loop_broken),
    };
    return cmocka_run_group_tests_name("frames", tests, NULL, NULL);
}
