/*
 * Unit tests for minilambda-init: the built binary run directly with pipes,
 * no Docker. Fresh mode: one call, framed, the header's pairs and the event
 * reaching the command, then init exits with its status. Reuse mode: calls in a row,
 * frames parsed and checked, a child that never reads stdin, a child that
 * writes megabytes to both streams at once, exit statuses, background
 * processes, orphans, malformed headers, end of stream, a stop signal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"

#define T_MAX (64u << 20)          /* bound of every buffer a test collects */
#define T_DEADLINE_MS 60000        /* a hang fails the test instead of blocking it */
#define T_NONCE "0123456789abcdef" /* the nonce of every request a test sends */

/* A running minilambda-init with our ends of its three pipes. */
typedef struct {
    pid_t pid;
    int in, out, err;
    buf_t out_buf; /* its stdout, from out_pos on not parsed yet */
    size_t out_pos;
    buf_t err_buf; /* its own stderr */
} sess;

/* One call's frames, reassembled. */
typedef struct {
    buf_t o, e;
    int status;
    size_t frames;
} call_out;

static long long t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *t_init_path(void)
{
    static char path[4096];
    const char *dir = getenv("ML_BUILD");
    int n = snprintf(path, sizeof(path), "%s/minilambda-init", dir != NULL ? dir : ".");
    assert_true(n > 0 && (size_t)n < sizeof(path));
    return path;
}

static void sess_start(sess *s, const char *mode, const char *const cmd[])
{
    int in[2], out[2], err[2];
    const char *argv[16] = {"minilambda-init", mode, "--"};
    size_t n = 3;
    for (size_t i = 0; cmd[i] != NULL; i++) {
        assert_true(n < 15);
        argv[n++] = cmd[i];
    }
    argv[n] = NULL;
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(99);
        execv(t_init_path(), (char *const *)argv);
        _exit(98);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    s->in = in[1];
    s->out = out[0];
    s->err = err[0];
    assert_int_equal(fcntl(s->in, F_SETFL, O_NONBLOCK), 0);
    buf_init(&s->out_buf, T_MAX);
    buf_init(&s->err_buf, T_MAX);
    s->out_pos = 0;
}

static void sess_free(sess *s)
{
    if (s->in >= 0)
        close(s->in);
    if (s->out >= 0)
        close(s->out);
    if (s->err >= 0)
        close(s->err);
    buf_free(&s->out_buf);
    buf_free(&s->err_buf);
}

static void call_init(call_out *c)
{
    buf_init(&c->o, T_MAX);
    buf_init(&c->e, T_MAX);
    c->status = -1;
    c->frames = 0;
}

static void call_free(call_out *c)
{
    buf_free(&c->o);
    buf_free(&c->e);
}

/*
 * Parse the frames of one call from the session's unparsed stdout into `c`:
 * 1 when its "x" frame was seen (the bytes are consumed), 0 when more is
 * needed. Every frame must be well formed, with 1..65536 bytes of data.
 */
static int sess_parse_call(sess *s, call_out *c)
{
    const char *p = s->out_buf.data != NULL ? s->out_buf.data : "";
    size_t pos = s->out_pos, end = s->out_buf.len;
    while (pos < end) {
        const char *nl = memchr(p + pos, '\n', end - pos);
        if (nl == NULL)
            return 0;
        char kind = p[pos];
        assert_true(kind == 'o' || kind == 'e' || kind == 'x');
        assert_int_equal(p[pos + 1], ' ');
        /* Every frame names the call: its request's nonce. */
        assert_true((size_t)(nl - (p + pos)) > 3 + strlen(T_NONCE));
        assert_memory_equal(p + pos + 2, T_NONCE " ", strlen(T_NONCE) + 1);
        char *num_end;
        errno = 0;
        unsigned long long v = strtoull(p + pos + 3 + strlen(T_NONCE), &num_end, 10);
        assert_int_equal(errno, 0);
        assert_ptr_equal(num_end, nl);
        size_t head = (size_t)(nl - (p + pos)) + 1;
        if (kind == 'x') {
            assert_true(v <= 255);
            c->status = (int)v;
            s->out_pos = pos + head;
            return 1;
        }
        assert_true(v >= 1 && v <= 65536);
        if (end - pos - head < v)
            return 0;
        assert_int_equal(buf_append(kind == 'o' ? &c->o : &c->e, p + pos + head, v), BUF_OK);
        c->frames++;
        pos += head + v;
        s->out_pos = pos;
    }
    return 0;
}

/* Read what is there on `*fd` into `b`; close it at end of stream. */
static void t_slurp(int *fd, buf_t *b)
{
    char tmp[65536];
    ssize_t n = read(*fd, tmp, sizeof(tmp));
    if (n < 0 && errno == EINTR)
        return;
    assert_true(n >= 0);
    if (n == 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    assert_int_equal(buf_append(b, tmp, (size_t)n), BUF_OK);
}

/*
 * Write all of `data` to init's stdin while collecting its stdout and
 * stderr, until `done(s, arg)` holds and everything is written. With
 * `close_in`, stdin is closed after the data. Fails the test past the
 * deadline.
 */
static void sess_pump(sess *s, const void *data, size_t len, int close_in,
                      int (*done)(sess *, void *), void *arg)
{
    size_t off = 0;
    long long deadline = t_now_ms() + T_DEADLINE_MS;
    for (;;) {
        if (off == len && close_in && s->in >= 0) {
            close(s->in);
            s->in = -1;
        }
        if (off == len && done(s, arg))
            return;
        struct pollfd p[3];
        int np = 0, i_in = -1, i_out = -1, i_err = -1;
        if (off < len) {
            i_in = np;
            p[np++] = (struct pollfd){s->in, POLLOUT, 0};
        }
        if (s->out >= 0) {
            i_out = np;
            p[np++] = (struct pollfd){s->out, POLLIN, 0};
        }
        if (s->err >= 0) {
            i_err = np;
            p[np++] = (struct pollfd){s->err, POLLIN, 0};
        }
        long long wait = deadline - t_now_ms();
        if (wait <= 0)
            fail_msg("minilambda-init did not answer within %d ms", T_DEADLINE_MS);
        if (np == 0) {
            /* Nothing left to watch and not done: the parse never completes. */
            fail_msg("minilambda-init closed its output before the expected answer");
        }
        int r = poll(p, (nfds_t)np, (int)(wait < 1000 ? wait : 1000));
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (i_in >= 0 && p[i_in].revents != 0) {
            ssize_t w = write(s->in, (const char *)data + off, len - off);
            if (w < 0 && errno == EPIPE)
                fail_msg("minilambda-init closed its stdin early");
            if (w > 0)
                off += (size_t)w;
        }
        if (i_out >= 0 && p[i_out].revents != 0)
            t_slurp(&s->out, &s->out_buf);
        if (i_err >= 0 && p[i_err].revents != 0)
            t_slurp(&s->err, &s->err_buf);
    }
}

static int t_call_done(sess *s, void *arg)
{
    return sess_parse_call(s, arg);
}

static int t_outputs_closed(sess *s, void *arg)
{
    (void)arg;
    return s->out < 0 && s->err < 0;
}

/* Send one request and collect its call's frames into `c`. */
static void sess_call(sess *s, const buf_t *req, call_out *c)
{
    call_init(c);
    sess_pump(s, req->data, req->len, 0, t_call_done, c);
}

/* The exit status of session `s`'s init, waited for within the deadline. */
static int t_exit_status(sess *s)
{
    long long deadline = t_now_ms() + T_DEADLINE_MS;
    for (;;) {
        int ws;
        pid_t p = waitpid(s->pid, &ws, WNOHANG);
        if (p == s->pid)
            return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        assert_true(p == 0 || (p < 0 && errno == EINTR));
        if (t_now_ms() > deadline)
            fail_msg("minilambda-init did not exit within %d ms", T_DEADLINE_MS);
        poll(NULL, 0, 10);
    }
}

/* Send `data`, close stdin, read to the end, reap: the exit status (or
 * 128 + signal). */
static int sess_finish(sess *s, const void *data, size_t len)
{
    sess_pump(s, data, len, 1, t_outputs_closed, NULL);
    return t_exit_status(s);
}

/* A request: header, the NULL-terminated "KEY=VALUE" list, the event. */
static void t_request(buf_t *b, const char *const env[], const void *event, size_t len)
{
    size_t n = 0;
    while (env != NULL && env[n] != NULL)
        n++;
    assert_int_equal(buf_printf(b, "MLINIT/3 %zu %zu %s\n", n, len, T_NONCE), BUF_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_printf(b, "%s\n", env[i]), BUF_OK);
    assert_int_equal(buf_append(b, event, len), BUF_OK);
}

static void t_assert_buf_str(const buf_t *b, const char *want)
{
    size_t n = strlen(want);
    if (b->len != n || (n > 0 && memcmp(b->data, want, n) != 0))
        fail_msg("expected [%s], got %zu bytes [%.200s]", want, b->len,
                 b->data != NULL ? b->data : "");
}

/* Run a fresh-mode init over `input` (stdin closed after it): its exit
 * status. */
static int t_fresh(const char *const cmd[], const void *input, size_t len, sess *s)
{
    sess_start(s, "fresh", cmd);
    return sess_finish(s, input, len);
}

/* A fresh-mode init over one request: its one call's frames into `c`
 * (exactly one call, nothing after it), and its exit status, which must be
 * the call's. */
static int t_fresh_call(const char *const cmd[], const void *input, size_t len, sess *s,
                        call_out *c)
{
    int rc = t_fresh(cmd, input, len, s);
    call_init(c);
    assert_int_equal(sess_parse_call(s, c), 1);
    assert_int_equal(s->out_pos, s->out_buf.len);
    assert_int_equal(c->status, rc);
    return rc;
}

static const char *const t_sh_eval[] = {"sh", "-c", "eval \"$SCRIPT\"", NULL};

/* ---- fresh mode ---------------------------------------------------- */

static void test_fresh_env_and_event(void **state)
{
    (void)state;
    static const char event[] = "{\"a\":1}\nMLINIT/3 0 0 " T_NONCE "\n\0tail";
    const char *const env[] = {"MINILAMBDA_FUNCTION_NAME=f1", "MINILAMBDA_INVOCATION_ID=id-1",
                               "EMPTY=", "WITH_EQ=a=b", NULL};
    const char *const cmd[] = {
        "sh", "-c",
        "printf '%s|%s|%s|%s|' \"$MINILAMBDA_FUNCTION_NAME\" \"$MINILAMBDA_INVOCATION_ID\""
        " \"${EMPTY-unset}\" \"$WITH_EQ\"; cat",
        NULL};
    buf_t req, want;
    sess s;
    call_out c;
    buf_init(&req, T_MAX);
    buf_init(&want, T_MAX);
    t_request(&req, env, event, sizeof(event) - 1);
    assert_int_equal(t_fresh_call(cmd, req.data, req.len, &s, &c), 0);
    /* The command read the event from right after the header, byte for byte
     * (a NUL and a header-looking line included), then EOF. */
    assert_int_equal(buf_puts(&want, "f1|id-1||a=b|"), BUF_OK);
    assert_int_equal(buf_append(&want, event, sizeof(event) - 1), BUF_OK);
    assert_int_equal(c.o.len, want.len);
    assert_memory_equal(c.o.data, want.data, want.len);
    assert_int_equal(c.e.len, 0);
    assert_int_equal(s.err_buf.len, 0);
    call_free(&c);
    sess_free(&s);
    buf_free(&req);
    buf_free(&want);
}

static void test_fresh_exit_code_and_stderr(void **state)
{
    (void)state;
    const char *const cmd[] = {"sh", "-c", "echo to-stderr >&2; exit 7", NULL};
    sess s;
    call_out c;
    static const char req[] = "MLINIT/3 0 0 " T_NONCE "\n";
    assert_int_equal(t_fresh_call(cmd, req, sizeof(req) - 1, &s, &c), 7);
    t_assert_buf_str(&c.o, "");
    t_assert_buf_str(&c.e, "to-stderr\n");
    t_assert_buf_str(&s.err_buf, "");
    call_free(&c);
    sess_free(&s);
}

static void test_fresh_exec_failure(void **state)
{
    (void)state;
    const char *const cmd[] = {"/nonexistent/function", NULL};
    sess s;
    call_out c;
    static const char req[] = "MLINIT/3 0 2 " T_NONCE "\n{}";
    assert_int_equal(t_fresh_call(cmd, req, sizeof(req) - 1, &s, &c), 127);
    assert_int_equal(buf_append(&c.e, "", 1), BUF_OK);
    assert_non_null(strstr(c.e.data, "execvp(/nonexistent/function)"));
    call_free(&c);
    sess_free(&s);
}

/* The platform never half-closes a fresh container's stdin: init ends the
 * call on its own, after the header's event length, even when the command
 * never reads its event, and exits with its status. */
static void test_fresh_stdin_left_open(void **state)
{
    (void)state;
    const char *const cmd[] = {"sh", "-c", "echo out; exit 4", NULL};
    buf_t req;
    sess s;
    call_out c;
    buf_init(&req, T_MAX);
    t_request(&req, NULL, "an event nobody reads", 21);
    sess_start(&s, "fresh", cmd);
    sess_call(&s, &req, &c);
    t_assert_buf_str(&c.o, "out\n");
    assert_int_equal(c.status, 4);
    assert_int_equal(t_exit_status(&s), 4);
    call_free(&c);
    sess_free(&s);
    buf_free(&req);
}

/* 32 lines of 4096 bytes are the most a header takes. */
static void test_fresh_limits(void **state)
{
    (void)state;
    const char *env[33];
    static char lines[32][4097];
    for (int i = 0; i < 32; i++) {
        int n = snprintf(lines[i], sizeof(lines[i]), "K%02d=", i);
        memset(lines[i] + n, 'v', 4096 - (size_t)n);
        lines[i][4096] = '\0';
        env[i] = lines[i];
    }
    env[32] = NULL;
    const char *const cmd[] = {"sh", "-c", "printf '%s %s' ${#K00} ${#K31}", NULL};
    buf_t req;
    sess s;
    call_out c;
    buf_init(&req, T_MAX);
    t_request(&req, env, "", 0);
    assert_int_equal(t_fresh_call(cmd, req.data, req.len, &s, &c), 0);
    t_assert_buf_str(&c.o, "4092 4092");
    call_free(&c);
    sess_free(&s);
    buf_free(&req);
}

/* Headers init must refuse, each with a message and 125, running nothing. */
static const struct {
    const char *what;
    const char *bytes;
    size_t len;
} t_bad[] = {
#define T_BAD(what, lit)                                                                           \
    {                                                                                              \
        what, lit, sizeof(lit) - 1                                                                 \
    }
    T_BAD("another version", "MLINIT/1 0 0\n"),
    T_BAD("no nonce", "MLINIT/3 0 0\n"),
    T_BAD("a nonce not alphanumeric", "MLINIT/3 0 0 ab-c\n"),
    T_BAD("a nonce past 32 characters", "MLINIT/3 0 0 0123456789abcdef0123456789abcdefX\n"),
    T_BAD("a space after the nonce", "MLINIT/3 0 0 ab \n"),
    T_BAD("no magic", "hello\n"),
    T_BAD("no event length", "MLINIT/3 0\n"),
    T_BAD("two spaces", "MLINIT/3  0 0 N\n"),
    T_BAD("a sign", "MLINIT/3 0 +5 N\n"),
    T_BAD("a negative count", "MLINIT/3 -1 0 N\n"),
    T_BAD("trailing junk", "MLINIT/3 0 5x N\n"),
    T_BAD("a trailing space", "MLINIT/3 0 0  \n"),
    T_BAD("33 env lines", "MLINIT/3 33 0 N\n"),
    T_BAD("an event length past 2^40", "MLINIT/3 0 1099511627777 N\n"),
    T_BAD("an event length past 2^64", "MLINIT/3 0 99999999999999999999999 N\n"),
    T_BAD("a lower-case key", "MLINIT/3 1 0 N\nlower=x\n"),
    T_BAD("no '='", "MLINIT/3 1 0 N\nNOEQUALS\n"),
    T_BAD("an empty key", "MLINIT/3 1 0 N\n=x\n"),
    T_BAD("a dash in a key", "MLINIT/3 1 0 N\nA-B=x\n"),
    T_BAD("a NUL in a value", "MLINIT/3 1 0 N\nA=x\0y\n"),
    T_BAD("an env line missing", "MLINIT/3 2 0 N\nA=1\n"),
    T_BAD("a header cut short", "MLINIT/3 0"),
    T_BAD("a CR before the newline", "MLINIT/3 0 0 N\r\n"),
#undef T_BAD
};

static void t_long_line(buf_t *b, size_t value_len)
{
    assert_int_equal(buf_puts(b, "MLINIT/3 1 0 " T_NONCE "\nK="), BUF_OK);
    for (size_t i = 0; i < value_len; i++)
        assert_int_equal(buf_append(b, "v", 1), BUF_OK);
    assert_int_equal(buf_append(b, "\n", 1), BUF_OK);
}

static void t_check_refused(const char *mode, const char *what, const void *bytes, size_t len)
{
    const char *const cmd[] = {"sh", "-c", "echo ran", NULL};
    sess s;
    sess_start(&s, mode, cmd);
    int rc = sess_finish(&s, bytes, len);
    if (rc != 125)
        fail_msg("%s mode, %s: exit %d, not 125", mode, what, rc);
    if (s.out_buf.len != 0)
        fail_msg("%s mode, %s: the command ran or frames came: %.100s", mode, what, s.out_buf.data);
    if (s.err_buf.len == 0 || strstr(s.err_buf.data, "minilambda-init: ") == NULL)
        fail_msg("%s mode, %s: no message on stderr", mode, what);
    sess_free(&s);
}

static void test_malformed_headers(void **state)
{
    (void)state;
    static const char *const modes[] = {"fresh", "reuse"};
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < sizeof(t_bad) / sizeof(t_bad[0]); i++)
            t_check_refused(modes[m], t_bad[i].what, t_bad[i].bytes, t_bad[i].len);
        buf_t b;
        buf_init(&b, T_MAX);
        t_long_line(&b, 4095); /* "K=" + 4095: one byte over the line limit */
        t_check_refused(modes[m], "a 4097-byte env line", b.data, b.len);
        buf_free(&b);
    }
}

/* The exit status of init run with `argv` (stdin, stdout, stderr: /dev/null). */
static int t_exit_of(const char *const argv[])
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(99);
        execv(t_init_path(), (char *const *)argv);
        _exit(98);
    }
    int ws;
    while (waitpid(p, &ws, 0) < 0)
        assert_int_equal(errno, EINTR);
    assert_true(WIFEXITED(ws));
    return WEXITSTATUS(ws);
}

static void test_fresh_eof_and_usage(void **state)
{
    (void)state;
    const char *const cmd[] = {"true", NULL};
    sess s;
    assert_int_equal(t_fresh(cmd, "", 0, &s), 125);
    assert_non_null(strstr(s.err_buf.data, "ended before a request"));
    sess_free(&s);
    /* No "--", an unknown mode, no command: usage and 125. */
    const char *const no_dashes[] = {"minilambda-init", "fresh", "true", NULL};
    const char *const bad_mode[] = {"minilambda-init", "warm", "--", "true", NULL};
    const char *const no_cmd[] = {"minilambda-init", "reuse", "--", NULL};
    assert_int_equal(t_exit_of(no_dashes), 125);
    assert_int_equal(t_exit_of(bad_mode), 125);
    assert_int_equal(t_exit_of(no_cmd), 125);
}

/* ---- reuse mode ---------------------------------------------------- */

/* One call of the `sh -c 'eval "$SCRIPT"'` session. */
static void t_eval_call(sess *s, const char *script, const char *const extra_env[],
                        const void *event, size_t len, call_out *c)
{
    char script_line[4096];
    const char *env[8];
    size_t n = 0;
    int w = snprintf(script_line, sizeof(script_line), "SCRIPT=%s", script);
    assert_true(w > 0 && (size_t)w < sizeof(script_line));
    env[n++] = script_line;
    for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL; i++) {
        assert_true(n < 7);
        env[n++] = extra_env[i];
    }
    env[n] = NULL;
    buf_t req;
    buf_init(&req, T_MAX);
    t_request(&req, env, event, len);
    sess_call(s, &req, c);
    buf_free(&req);
}

static void test_reuse_two_calls(void **state)
{
    (void)state;
    sess s;
    call_out c;
    const char *script = "printf '%s|%s|' \"$MINILAMBDA_INVOCATION_ID\" \"${ONLY1-unset}\"; cat";
    const char *const env1[] = {"MINILAMBDA_INVOCATION_ID=a", "ONLY1=yes", NULL};
    const char *const env2[] = {"MINILAMBDA_INVOCATION_ID=b", NULL};
    sess_start(&s, "reuse", t_sh_eval);

    t_eval_call(&s, script, env1, "first", 5, &c);
    t_assert_buf_str(&c.o, "a|yes|first");
    t_assert_buf_str(&c.e, "");
    assert_int_equal(c.status, 0);
    call_free(&c);

    /* The first call's values do not leak into the second. */
    t_eval_call(&s, script, env2, "second", 6, &c);
    t_assert_buf_str(&c.o, "b|unset|second");
    assert_int_equal(c.status, 0);
    call_free(&c);

    /* An empty event: the child sees EOF at once. */
    t_eval_call(&s, "cat; echo done", NULL, "", 0, &c);
    t_assert_buf_str(&c.o, "done\n");
    call_free(&c);

    /* The call never learns its nonce: not in its environment, nor in
     * anything init was started with. */
    t_eval_call(&s, "env; tr '\\0' ' ' </proc/$PPID/cmdline", NULL, "", 0, &c);
    assert_int_equal(buf_append(&c.o, "", 1), BUF_OK);
    assert_non_null(strstr(c.o.data, "SCRIPT="));
    assert_null(strstr(c.o.data, T_NONCE));
    call_free(&c);

    /* End of stream before a header: exit 0, nothing more written. */
    assert_int_equal(sess_finish(&s, "", 0), 0);
    assert_int_equal(s.out_pos, s.out_buf.len);
    assert_int_equal(s.err_buf.len, 0);
    sess_free(&s);
}

static void test_reuse_child_never_reads_stdin(void **state)
{
    (void)state;
    sess s;
    call_out c;
    size_t big = 1u << 20; /* far more than a pipe holds */
    char *event = malloc(big);
    assert_non_null(event);
    memset(event, 'z', big);
    sess_start(&s, "reuse", t_sh_eval);
    t_eval_call(&s, "echo out; echo err >&2; exit 3", NULL, event, big, &c);
    t_assert_buf_str(&c.o, "out\n");
    t_assert_buf_str(&c.e, "err\n");
    assert_int_equal(c.status, 3);
    call_free(&c);
    /* The unread event was taken off stdin: the next header is found. */
    t_eval_call(&s, "cat", NULL, "next", 4, &c);
    t_assert_buf_str(&c.o, "next");
    assert_int_equal(c.status, 0);
    call_free(&c);
    assert_int_equal(sess_finish(&s, "", 0), 0);
    sess_free(&s);
    free(event);
}

/* The child copies a 2 MiB event to stdout while writing 1.6 MB to stderr:
 * init must feed stdin and drain both at once. */
static void test_reuse_big_output_both_streams(void **state)
{
    (void)state;
    sess s;
    call_out c;
    size_t big = 2u << 20;
    char *event = malloc(big);
    assert_non_null(event);
    for (size_t i = 0; i < big; i++)
        event[i] = (char)('a' + i % 26);
    sess_start(&s, "reuse", t_sh_eval);
    t_eval_call(&s,
                "exec 3<&0; cat <&3 & i=0; while [ $i -lt 200 ]; do head -c 8192 /dev/zero >&2; "
                "i=$((i+1)); "
                "done; wait",
                NULL, event, big, &c);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.o.len, big);
    assert_memory_equal(c.o.data, event, big);
    assert_int_equal(c.e.len, 200 * 8192);
    for (size_t i = 0; i < c.e.len; i++)
        assert_int_equal(c.e.data[i], 0);
    /* Chunks as they came: many frames, each at most 64 KiB (parse checks). */
    assert_true(c.frames >= (big + c.e.len) / 65536);
    call_free(&c);
    assert_int_equal(sess_finish(&s, "", 0), 0);
    sess_free(&s);
    free(event);
}

static void test_reuse_statuses(void **state)
{
    (void)state;
    static const struct {
        const char *script;
        int status;
    } cases[] = {{"exit 42", 42}, {"kill -KILL $$", 137}, {"kill -TERM $$", 143}, {"true", 0}};
    sess s;
    sess_start(&s, "reuse", t_sh_eval);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_out c;
        t_eval_call(&s, cases[i].script, NULL, "", 0, &c);
        if (c.status != cases[i].status)
            fail_msg("%s: status %d, not %d", cases[i].script, c.status, cases[i].status);
        call_free(&c);
    }
    assert_int_equal(sess_finish(&s, "", 0), 0);
    sess_free(&s);
}

static void test_reuse_exec_failure(void **state)
{
    (void)state;
    const char *const cmd[] = {"/nonexistent/function", NULL};
    static const char req[] = "MLINIT/3 0 2 " T_NONCE "\n{}";
    buf_t b = {.data = (char *)req, .len = sizeof(req) - 1};
    sess s;
    sess_start(&s, "reuse", cmd);
    for (int i = 0; i < 2; i++) {
        call_out c;
        sess_call(&s, &b, &c);
        assert_int_equal(c.status, 127);
        assert_int_equal(c.o.len, 0);
        assert_non_null(strstr(c.e.data, "execvp(/nonexistent/function)"));
        call_free(&c);
    }
    assert_int_equal(sess_finish(&s, "", 0), 0);
    sess_free(&s);
}

/* The process `pid` is gone: not running, not a zombie. */
static int t_gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return access(path, F_OK) != 0;
}

static void t_wait_gone(pid_t pid, const char *what)
{
    long long deadline = t_now_ms() + 20000;
    while (!t_gone(pid)) {
        if (t_now_ms() > deadline)
            fail_msg("%s (pid %d) is still there", what, (int)pid);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a condition, not a wait in the dark */
    }
}

/* The parent of `pid` (0 when it is gone already). */
static pid_t t_parent_of(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (got == NULL)
        return 0;
    /* pid (comm) state ppid ...: comm may hold spaces, so start after ')'. */
    char *close_paren = strrchr(line, ')');
    assert_non_null(close_paren);
    char state;
    int ppid;
    assert_int_equal(sscanf(close_paren + 1, " %c %d", &state, &ppid), 2);
    return (pid_t)ppid;
}

static pid_t t_pid_of(const buf_t *b)
{
    assert_true(b->len > 0);
    char *end;
    long v = strtol(b->data, &end, 10);
    assert_true(end != b->data && *end == '\n' && v > 1);
    return (pid_t)v;
}

/* A background process holding the output pipes must not hang the call;
 * it ends with the call, and is reaped. */
static void test_reuse_background_process(void **state)
{
    (void)state;
    sess s;
    call_out c;
    sess_start(&s, "reuse", t_sh_eval);
    long long t0 = t_now_ms();
    t_eval_call(&s, "sleep 300 & echo $!", NULL, "", 0, &c);
    assert_int_equal(c.status, 0);
    assert_true(t_now_ms() - t0 < T_DEADLINE_MS);
    pid_t bg = t_pid_of(&c.o);
    call_free(&c);
    t_wait_gone(bg, "the call's background sleep");
    /* The loop goes on. */
    t_eval_call(&s, "echo again", NULL, "", 0, &c);
    t_assert_buf_str(&c.o, "again\n");
    call_free(&c);
    assert_int_equal(sess_finish(&s, "", 0), 0);
    sess_free(&s);
}

/* A process that left the call's group (setsid) outlives the call; once it
 * ends, init (its new parent) reaps it, even while idle. */
static void test_reuse_orphan_reaped(void **state)
{
    (void)state;
    sess s;
    call_out c;
    sess_start(&s, "reuse", t_sh_eval);
    t_eval_call(&s, "setsid sh -c 'sleep 1' </dev/null >/dev/null 2>&1 & echo $!", NULL, "", 0, &c);
    assert_int_equal(c.status, 0);
    pid_t orphan = t_pid_of(&c.o);
    call_free(&c);
    /* Its parent (sh) is gone: it was re-parented to init. */
    pid_t parent = t_parent_of(orphan);
    if (parent != 0 && parent != s.pid)
        fail_msg("the orphan's parent is %d, not init (%d)", (int)parent, (int)s.pid);
    t_wait_gone(orphan, "the orphan (a zombie if not reaped)");
    assert_int_equal(sess_finish(&s, "", 0), 0);
    sess_free(&s);
}

static void test_reuse_malformed_after_a_call(void **state)
{
    (void)state;
    sess s;
    call_out c;
    sess_start(&s, "reuse", t_sh_eval);
    t_eval_call(&s, "echo fine", NULL, "", 0, &c);
    t_assert_buf_str(&c.o, "fine\n");
    call_free(&c);
    static const char junk[] = "garbage\n";
    assert_int_equal(sess_finish(&s, junk, sizeof(junk) - 1), 125);
    assert_int_equal(s.out_pos, s.out_buf.len);
    assert_non_null(strstr(s.err_buf.data, "must start with"));
    sess_free(&s);
}

static void test_reuse_eof_inside_event(void **state)
{
    (void)state;
    const char *const cmd[] = {"cat", NULL};
    static const char req[] = "MLINIT/3 0 10 " T_NONCE "\nabc";
    sess s;
    sess_start(&s, "reuse", cmd);
    /* The child sees what came, then EOF; the call is answered; init then
     * stops with 125, as the stream is broken. */
    assert_int_equal(sess_finish(&s, req, sizeof(req) - 1), 125);
    call_out c;
    call_init(&c);
    assert_int_equal(sess_parse_call(&s, &c), 1);
    t_assert_buf_str(&c.o, "abc");
    assert_int_equal(c.status, 0);
    call_free(&c);
    assert_non_null(strstr(s.err_buf.data, "7 bytes before the end of the event"));
    sess_free(&s);
}

static void test_reuse_sigterm(void **state)
{
    (void)state;
    sess s;
    call_out c;
    sess_start(&s, "reuse", t_sh_eval);
    /* One call first, so init is surely idle in its loop when signalled. */
    t_eval_call(&s, "true", NULL, "", 0, &c);
    call_free(&c);
    assert_int_equal(kill(s.pid, SIGTERM), 0);
    /* stdin stays open: only the signal can end it. */
    int ws;
    sess_pump(&s, "", 0, 0, t_outputs_closed, NULL);
    assert_int_equal(waitpid(s.pid, &ws, 0), s.pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 143);
    sess_free(&s);
}

int main(void)
{
    /* A test writing to an init that died must fail, not die of SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_env_and_event),
        cmocka_unit_test(test_fresh_exit_code_and_stderr),
        cmocka_unit_test(test_fresh_exec_failure),
        cmocka_unit_test(test_fresh_limits),
        cmocka_unit_test(test_fresh_stdin_left_open),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_fresh_eof_and_usage),
        cmocka_unit_test(test_reuse_two_calls),
        cmocka_unit_test(test_reuse_child_never_reads_stdin),
        cmocka_unit_test(test_reuse_big_output_both_streams),
        cmocka_unit_test(test_reuse_statuses),
        cmocka_unit_test(test_reuse_exec_failure),
        cmocka_unit_test(test_reuse_background_process),
        cmocka_unit_test(test_reuse_orphan_reaped),
        cmocka_unit_test(test_reuse_malformed_after_a_call),
        cmocka_unit_test(test_reuse_eof_inside_event),
        cmocka_unit_test(test_reuse_sigterm),
    };
    return cmocka_run_group_tests_name("minilambda-init", tests, NULL, NULL);
}
