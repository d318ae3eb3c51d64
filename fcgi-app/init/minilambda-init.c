/*
 * minilambda-init: the first process of a warm container.
 *
 * A container started ahead of a call cannot know the call's values
 * (MINILAMBDA_INVOCATION_ID, ...) from its creation-time env. The platform
 * bind-mounts this static program read-only into the container and makes it
 * the entrypoint, in front of the image's own entrypoint and command:
 *
 *     /.minilambda/init MODE -- COMMAND [ARG...]
 *
 * Every request on stdin is framed
 *
 *     MLINIT/3 <n_env> <event_len> <nonce>\n
 *     KEY=VALUE\n                    (n_env lines)
 *     <event_len bytes of event>
 *
 * For each request, fork COMMAND with the pairs exported and pipes on
 * 0/1/2, feed it the event, and relay its output on our stdout as frames
 * "o <nonce> <len>\n<bytes>", "e <nonce> <len>\n<bytes>", then
 * "x <nonce> <status>\n". The nonce is the call's (fresh and random each
 * call): the platform takes only frames that carry it, so nothing written
 * on our stdout by anyone else, or before, passes for the call's answer.
 * The command never learns it, and cannot reach our stdout: we are not
 * dumpable (so /proc/1/fd, /proc/1/mem are closed to the same uid without
 * CAP_SYS_PTRACE), and the command (dumpable again after its execve, as
 * any program) gets pipes, never our descriptors.
 *
 * fresh: serve one request, then exit with the command's status. The "x"
 *        frame is the call's end: the platform answers on it, without
 *        waiting for the engine to see the container exit (most of a
 *        prestarted call's cost), and removes the container after.
 * reuse: serve requests one after the other until stdin ends. After each
 *        call, when we are pid 1 (of the container's pid namespace), every
 *        other process in it is killed and reaped before the "x" frame: a
 *        daemon one call started never sees the next. (Not pid 1, only
 *        the call's process group is killed.)
 *
 * lambda-fresh, lambda-reuse: the lambda protocol (init/rapi.h): init
 *        serves the AWS Lambda Runtime API on 127.0.0.1:9001 to a runtime
 *        it starts at once (COMMAND, or a bootstrap when there is none),
 *        and each request is one invocation the runtime takes with GET
 *        .../invocation/next; fresh serves one, reuse one after another
 *        (the runtime lives on, as in Lambda). Frames "n", "f", "i" are its
 *        own (initwire.h).
 *
 * It links only libc (and err.c, httpreq.c and initwire.c, which need only
 * libc), statically, so it
 * runs in a FROM-scratch image; it writes no file, so a read-only root is
 * fine; it keeps the container's user and directory, as it is simply pid 1
 * (the command runs as its child, as under `docker run --init`).
 * Exit codes of its own: 125 (a malformed request, a failing system call),
 * 127 (COMMAND could not be executed).
 */
#include "base/err.h"
#include "init/rapi.h"
#include "parse/initwire.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define INIT_MAX_ENV 32                    /* KEY=VALUE lines per request */
#define INIT_MAX_LINE 4096                 /* bytes of one line, before its \n */
#define INIT_MAX_EVENT (UINT64_C(1) << 40) /* far above any body the platform takes */
#define INIT_CHUNK INITWIRE_CHUNK_MAX      /* largest frame payload, and read size */
#define INIT_EXIT_SELF 125                 /* init itself failed, as docker run's 125 */
#define INIT_EXIT_EXEC 127                 /* COMMAND could not be executed */

/* What init knows about signals and the running call. */
typedef struct {
    int sigfd;        /* signalfd for SIGCHLD, SIGTERM, SIGINT, SIGHUP */
    pid_t child;      /* the running call's process (and group), 0 when none */
    int child_done;   /* the child was reaped */
    int child_status; /* its exit code, or 128 + signal */
    int stop_sig;     /* a stop signal received, 0 when none */
} init_state;

/* A buffered reader of stdin that serves the signals while it waits. */
typedef struct {
    int fd;
    init_state *st;
    size_t pos, len;
    int eof;
    unsigned char buf[INIT_CHUNK];
} init_reader;

/* One parsed request header. */
typedef struct {
    size_t n_env;
    uint64_t event_len;
    char nonce[INITWIRE_NONCE_MAX + 1]; /* the call's, in each frame we write */
    /* "KEY\0VALUE": the '=' is replaced by the NUL at parse time. */
    char env[INIT_MAX_ENV][INIT_MAX_LINE + 1];
    size_t key_len[INIT_MAX_ENV];
} init_request;

static void init_say(const char *what)
{
    /* Diagnostics go to our own stderr; a failing write has nowhere to go. */
    dprintf(STDERR_FILENO, "minilambda-init: %s\n", what);
}

static void init_usage(void)
{
    init_say("usage: minilambda-init fresh|reuse -- COMMAND [ARG...]\n"
             "       minilambda-init lambda-fresh|lambda-reuse -- [COMMAND [ARG...]]");
}

/* 0, 1 and 2 are open. Were one closed, a pipe could take its number and a
 * dup2 onto itself would keep close-on-exec, losing it in the child. */
static int init_std_fds_open(err_t *e)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "fcntl(%d, F_GETFD) failed: %s", fd,
                           strerror(errno));
    }
    return 0;
}

static int init_set_nonblock(int fd, err_t *e)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "fcntl(O_NONBLOCK) failed: %s",
                       strerror(errno));
    return 0;
}

static void init_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* One frame "<kind> <nonce> <len>\n<data>" on stdout (len 0: the "x"
 * frame, whose number is the status, carries no data). */
static int init_frame(char kind, const char *nonce, uint64_t num, const void *data, size_t len,
                      err_t *e)
{
    char head[INITWIRE_FRAME_MAX + 2];
    int h = initwire_frame_head(head, sizeof(head), kind, nonce, num);
    if (h < 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "frame header does not fit");
    struct iovec iov[2] = {{head, (size_t)h}, {(void *)data, len}};
    return initwire_write_all(STDOUT_FILENO, iov, len > 0 ? 2 : 1, e);
}

/* Reap every child that has ended: the call's process, and orphans that
 * were re-parented to us (we are pid 1, or a subreaper). */
static void init_reap(init_state *st)
{
    for (;;) {
        int ws;
        pid_t p = waitpid(-1, &ws, WNOHANG);
        if (p <= 0)
            return;
        if (p == st->child && !st->child_done) {
            st->child_done = 1;
            st->child_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        }
    }
}

/* Handle the signals the signalfd holds. A stop signal is passed on to the
 * running call's process group; we stop once that call is answered. */
static int init_signals(init_state *st, err_t *e)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(st->sigfd, &si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "read(signalfd) failed: %s",
                           strerror(errno));
        if (n != (ssize_t)sizeof(si))
            return err_set(e, ERR_INTERNAL, NULL, 0, "read(signalfd): short read");
        if (si.ssi_signo != SIGCHLD) {
            st->stop_sig = (int)si.ssi_signo;
            if (st->child > 0 && !st->child_done)
                kill(-st->child, (int)si.ssi_signo);
        }
    }
    /* SIGCHLD does not queue: one may stand for many children. */
    init_reap(st);
    return 0;
}

/* One read into the empty buffer: 1 data, 0 end of stream, 2 nothing yet,
 * -1 error. */
static int init_read_some(init_reader *r, err_t *e)
{
    ssize_t n;
    r->pos = r->len = 0;
    do
        n = read(r->fd, r->buf, sizeof(r->buf));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 2;
    if (n < 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "read(stdin) failed: %s", strerror(errno));
    r->len = (size_t)n;
    if (n == 0)
        r->eof = 1;
    return n > 0;
}

/* Wait for input in the empty buffer, serving the signals meanwhile: 1
 * data, 0 end of stream, -1 error or a stop signal. */
static int init_fill(init_reader *r, err_t *e)
{
    for (;;) {
        if (r->eof)
            return 0;
        if (r->st->stop_sig != 0)
            return err_set(e, ERR_INTERNAL, NULL, 0, "stopped by signal %d", r->st->stop_sig);
        struct pollfd p[2] = {{r->fd, POLLIN, 0}, {r->st->sigfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return err_set(e, ERR_INTERNAL, NULL, errno, "poll failed: %s", strerror(errno));
        }
        if ((p[1].revents & POLLIN) && init_signals(r->st, e) != 0)
            return -1;
        if (p[0].revents != 0) {
            int rc = init_read_some(r, e);
            if (rc != 2)
                return rc;
        }
    }
}

/*
 * Read one line of at most `max` bytes (its '\n' not counted) into `out`
 * (NUL-terminated, without the '\n'). Returns 1 with *len set, 0 at end of
 * stream before any byte (when `eof_ok`), -1 otherwise (e filled). A NUL
 * byte in the line is refused, as no environment value can hold one.
 */
static int init_line(init_reader *r, char *out, size_t max, size_t *len, int eof_ok, err_t *e)
{
    size_t n = 0;
    for (;;) {
        if (r->pos == r->len) {
            int rc = init_fill(r, e);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                if (n == 0 && eof_ok)
                    return 0;
                return err_set(e, ERR_INVALID, "malformed_request", 0,
                               "stdin ended inside a request header");
            }
        }
        char c = (char)r->buf[r->pos++];
        if (c == '\n')
            break;
        if (c == '\0')
            return err_set(e, ERR_INVALID, "malformed_request", 0,
                           "a NUL byte in a request header");
        if (n == max)
            return err_set(e, ERR_INVALID, "malformed_request", 0,
                           "a request header line is longer than %zu bytes", max);
        out[n++] = c;
    }
    out[n] = '\0';
    *len = n;
    return 1;
}

/* Read one request header into `q`. Returns 1, 0 at end of stream before
 * a header, -1 on a malformed header, a read failure or a stop (e filled). */
static int init_read_request(init_reader *r, init_request *q, err_t *e)
{
    char first[INITWIRE_REQUEST_MAX + 1];
    size_t len;
    int rc = init_line(r, first, INITWIRE_REQUEST_MAX, &len, 1, e);
    if (rc <= 0)
        return rc;
    initwire_request h;
    if (initwire_request_parse(first, INIT_MAX_ENV, INIT_MAX_EVENT, &h, e) != 0)
        return -1;
    memcpy(q->nonce, h.nonce, sizeof(q->nonce));
    q->event_len = h.event_len;
    q->n_env = h.n_env;
    for (size_t i = 0; i < q->n_env; i++) {
        if (init_line(r, q->env[i], INIT_MAX_LINE, &len, 0, e) < 0)
            return -1;
        char *eq = strchr(q->env[i], '=');
        if (eq == NULL || eq == q->env[i])
            return err_set(e, ERR_INVALID, "malformed_request", 0, "env line %zu is not KEY=VALUE",
                           i + 1);
        for (const char *k = q->env[i]; k < eq; k++) {
            if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
                return err_set(e, ERR_INVALID, "malformed_request", 0,
                               "env line %zu: a key is [A-Z0-9_]+", i + 1);
        }
        *eq = '\0';
        q->key_len[i] = (size_t)(eq - q->env[i]);
    }
    return 1;
}

/* Export the request's pairs into our environment. */
static int init_export(const init_request *q, err_t *e)
{
    for (size_t i = 0; i < q->n_env; i++) {
        const char *key = q->env[i], *value = q->env[i] + q->key_len[i] + 1;
        if (setenv(key, value, 1) != 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "setenv(%s) failed: %s", key,
                           strerror(errno));
    }
    return 0;
}

/* The call's process: its own process group (so that what it leaves
 * running can be stopped with it), the pipes on 0/1/2, the call's env, the
 * default signal state, then COMMAND. Never returns. */
static void init_child(const init_request *q, char *const argv[], int in, int out, int errfd)
{
    sigset_t none;
    err_t e;
    err_clear(&e);
    sigemptyset(&none);
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0 || dup2(in, STDIN_FILENO) < 0 ||
        dup2(out, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0) {
        dprintf(errfd, "minilambda-init: setting up the call failed: %s\n", strerror(errno));
        _exit(INIT_EXIT_EXEC);
    }
    if (init_export(q, &e) != 0) {
        init_say(e.msg);
        _exit(INIT_EXIT_EXEC);
    }
    execvp(argv[0], argv);
    dprintf(STDERR_FILENO, "minilambda-init: execvp(%s) failed: %s\n", argv[0], strerror(errno));
    _exit(INIT_EXIT_EXEC);
}

/* Relay at most `limit` bytes of what `*fd` holds as one frame of `kind`
 * of the call with `nonce` (*got: how many); close it at end of stream. */
static int init_relay(int *fd, char kind, const char *nonce, size_t limit, size_t *got, err_t *e)
{
    static unsigned char chunk[INIT_CHUNK];
    size_t want = limit < sizeof(chunk) ? limit : sizeof(chunk);
    ssize_t n;
    *got = 0;
    do
        n = read(*fd, chunk, want);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n <= 0) {
        /* End of stream, or an error on a pipe we own: nothing more comes. */
        init_close(fd);
        return 0;
    }
    *got = (size_t)n;
    return init_frame(kind, nonce, (uint64_t)n, chunk, (size_t)n, e);
}

/* After the child exited: relay what its pipe holds now, then close it. A
 * grandchild may still hold the pipe open and keep writing: take only the
 * bytes that were there, never wait. */
static int init_drain(int *fd, char kind, const char *nonce, err_t *e)
{
    int avail = 0;
    if (*fd >= 0 && ioctl(*fd, FIONREAD, &avail) != 0)
        avail = 0;
    size_t left = avail > 0 ? (size_t)avail : 0;
    while (left > 0 && *fd >= 0) {
        size_t got;
        if (init_relay(fd, kind, nonce, left, &got, e) != 0)
            return -1;
        if (got == 0)
            break;
        left -= got;
    }
    init_close(fd);
    return 0;
}

/* Kill every process of our pid namespace but us (kill(-1) from its pid 1
 * reaches all of them, and nothing outside it), a setsid daemon or any
 * other group the call made, and reap them all: when this returns, no
 * process of the call is left for the next one to meet. */
static void init_kill_all(void)
{
    for (;;) {
        /* Again each round: one forking as the first kill came is caught. */
        if (kill(-1, SIGKILL) != 0 && errno == ESRCH)
            break;
        pid_t p = waitpid(-1, NULL, 0);
        if (p < 0 && errno != EINTR)
            break; /* ECHILD: none left */
    }
}

/* Take up to `*left` event bytes from the reader's buffer: written to
 * `*in` when it is open (closed on EPIPE), dropped otherwise. */
static int init_feed(init_reader *r, int *in, uint64_t *left, err_t *e)
{
    size_t n = r->len - r->pos;
    if ((uint64_t)n > *left)
        n = (size_t)*left;
    if (*in >= 0) {
        ssize_t w = write(*in, r->buf + r->pos, n);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (w < 0 && errno != EPIPE)
            return err_set(e, ERR_INTERNAL, NULL, errno, "write(child stdin) failed: %s",
                           strerror(errno));
        if (w < 0) {
            /* The child closed its stdin: the rest of the event is dropped. */
            init_close(in);
            return 0;
        }
        n = (size_t)w;
    }
    r->pos += n;
    *left -= n;
    if (*left == 0)
        init_close(in);
    return 0;
}

/*
 * Serve one request: fork the child, feed it the event while relaying its
 * output, answer "x <status>" once it exited, and (unless `last`) take the
 * rest of the event off stdin so the next header is where we read next.
 * Returns 0, or -1 (e filled) when we cannot go on; the child is then
 * killed and reaped.
 */
static int init_call(init_reader *r, init_state *st, const init_request *q, char *const argv[],
                     int last, err_t *e)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    uint64_t left = q->event_len;
    int rc = -1;

    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        err_set(e, ERR_INTERNAL, NULL, errno, "pipe2 failed: %s", strerror(errno));
        goto done;
    }
    st->child_done = 0;
    st->child = fork();
    if (st->child < 0) {
        st->child = 0;
        err_set(e, ERR_INTERNAL, NULL, errno, "fork failed: %s", strerror(errno));
        goto done;
    }
    if (st->child == 0)
        init_child(q, argv, in[0], out[1], errp[1]);
    /* Also here, so a kill of the group never races the child's own call. */
    setpgid(st->child, st->child);
    init_close(&in[0]);
    init_close(&out[1]);
    init_close(&errp[1]);
    if (init_set_nonblock(in[1], e) != 0 || init_set_nonblock(out[0], e) != 0 ||
        init_set_nonblock(errp[0], e) != 0)
        goto done;
    if (left == 0)
        init_close(&in[1]);

    while (!st->child_done) {
        size_t buffered = r->len - r->pos;
        if (left > 0 && buffered > 0 && in[1] < 0) {
            /* Nobody reads the event any more: drop what we hold of it. */
            if (init_feed(r, &in[1], &left, e) != 0)
                goto done;
            continue;
        }
        struct pollfd p[5];
        int np = 0, i_sig, i_out = -1, i_err = -1, i_stdin = -1, i_in = -1;
        i_sig = np;
        p[np++] = (struct pollfd){st->sigfd, POLLIN, 0};
        if (out[0] >= 0) {
            i_out = np;
            p[np++] = (struct pollfd){out[0], POLLIN, 0};
        }
        if (errp[0] >= 0) {
            i_err = np;
            p[np++] = (struct pollfd){errp[0], POLLIN, 0};
        }
        if (left > 0 && buffered == 0 && !r->eof) {
            i_stdin = np;
            p[np++] = (struct pollfd){r->fd, POLLIN, 0};
        }
        if (left > 0 && buffered > 0 && in[1] >= 0) {
            i_in = np;
            p[np++] = (struct pollfd){in[1], POLLOUT, 0};
        }
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            err_set(e, ERR_INTERNAL, NULL, errno, "poll failed: %s", strerror(errno));
            goto done;
        }
        size_t got;
        if (i_out >= 0 && p[i_out].revents != 0 &&
            init_relay(&out[0], 'o', q->nonce, INIT_CHUNK, &got, e) != 0)
            goto done;
        if (i_err >= 0 && p[i_err].revents != 0 &&
            init_relay(&errp[0], 'e', q->nonce, INIT_CHUNK, &got, e) != 0)
            goto done;
        if (i_stdin >= 0 && p[i_stdin].revents != 0) {
            if (init_read_some(r, e) < 0)
                goto done;
            if (r->eof)
                init_close(&in[1]); /* the child sees the end of what came */
        }
        if (i_in >= 0 && p[i_in].revents != 0 && init_feed(r, &in[1], &left, e) != 0)
            goto done;
        if ((p[i_sig].revents & POLLIN) && init_signals(st, e) != 0)
            goto done;
    }
    if (init_drain(&out[0], 'o', q->nonce, e) != 0 || init_drain(&errp[0], 'e', q->nonce, e) != 0)
        goto done;
    /* What the call left running ends with it, as it would with a cold
     * container; the re-parented processes are reaped as they go. */
    kill(-st->child, SIGKILL);
    st->child = 0;
    if (!last && getpid() == 1)
        init_kill_all();
    if (init_frame('x', q->nonce, (uint64_t)st->child_status, NULL, 0, e) != 0)
        goto done;
    init_close(&in[1]);
    while (!last && left > 0) {
        if (r->pos == r->len) {
            int f = init_fill(r, e);
            if (f < 0)
                goto done;
            if (f == 0) {
                err_set(e, ERR_INVALID, "malformed_request", 0,
                        "stdin ended %" PRIu64 " bytes before the end of the event", left);
                goto done;
            }
        }
        if (init_feed(r, &in[1], &left, e) != 0)
            goto done;
    }
    rc = 0;
done:
    if (st->child > 0) {
        kill(-st->child, SIGKILL);
        kill(st->child, SIGKILL);
        while (!st->child_done && waitpid(st->child, NULL, 0) < 0 && errno == EINTR)
            ;
        st->child = 0;
    }
    init_close(&in[0]);
    init_close(&in[1]);
    init_close(&out[0]);
    init_close(&out[1]);
    init_close(&errp[0]);
    init_close(&errp[1]);
    return rc;
}

/* Serve requests until stdin ends (`once`: one request, then exit with
 * its command's status). Returns init's exit code. */
static int init_serve(char *const argv[], int once)
{
    static init_request q;
    static init_reader r = {.fd = STDIN_FILENO};
    init_state st = {.sigfd = -1};
    sigset_t set;
    err_t e;
    int rc = INIT_EXIT_SELF, failed = 1;

    err_clear(&e);
    r.st = &st;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* A child that stops reading must give us EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "sigprocmask failed: %s", strerror(errno));
        goto done;
    }
    st.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (st.sigfd < 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "signalfd failed: %s", strerror(errno));
        goto done;
    }
    /* Our stdio is the platform's line to the call: not dumpable, nobody
     * of our uid without CAP_SYS_PTRACE opens /proc/1/fd/1 to write frames
     * on it. The command we execve is dumpable again, as it should be. */
    if (prctl(PR_SET_DUMPABLE, 0) != 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "prctl(PR_SET_DUMPABLE) failed: %s",
                strerror(errno));
        goto done;
    }
    /* Orphans come to us to be reaped when we are not pid 1 either (a
     * runtime with its own init, the tests). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "prctl(PR_SET_CHILD_SUBREAPER) failed: %s",
                strerror(errno));
        goto done;
    }
    for (;;) {
        int got = init_read_request(&r, &q, &e);
        if (got == 0 && once) {
            err_set(&e, ERR_INVALID, "malformed_request", 0, "stdin ended before a request");
            break;
        }
        if (got == 0) {
            rc = 0;
            failed = 0;
            break;
        }
        if (got < 0 || init_call(&r, &st, &q, argv, once, &e) != 0)
            break;
        if (once) {
            rc = st.child_status;
            failed = 0;
            break;
        }
        if (st.stop_sig != 0) {
            err_set(&e, ERR_INTERNAL, NULL, 0, "stopped by signal %d", st.stop_sig);
            break;
        }
    }
done:
    if (failed && st.stop_sig != 0)
        rc = 128 + st.stop_sig;
    if (failed)
        init_say(e.msg);
    init_close(&st.sigfd);
    return rc;
}

int main(int argc, char **argv)
{
    err_t e;
    err_clear(&e);
    bool lambda = argc >= 2 && strncmp(argv[1], "lambda-", 7) == 0;
    /* The lambda modes may have no command: a bootstrap is looked for. */
    if (argc < (lambda ? 3 : 4) || strcmp(argv[2], "--") != 0) {
        init_usage();
        return INIT_EXIT_SELF;
    }
    if (init_std_fds_open(&e) != 0) {
        init_say(e.msg);
        return INIT_EXIT_SELF;
    }
    if (strcmp(argv[1], "fresh") == 0)
        return init_serve(argv + 3, 1);
    if (strcmp(argv[1], "reuse") == 0)
        return init_serve(argv + 3, 0);
    if (strcmp(argv[1], "lambda-fresh") == 0)
        return rapi_serve(argv + 3, 1);
    if (strcmp(argv[1], "lambda-reuse") == 0)
        return rapi_serve(argv + 3, 0);
    init_usage();
    return INIT_EXIT_SELF;
}
