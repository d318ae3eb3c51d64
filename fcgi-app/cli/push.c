#include "cli/push.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/table.h"

extern char **environ;

/* What docker prints on stderr is kept for the error message up to this. */
#define PUSH_STDERR_MAX 2048
/* `docker image inspect` prints a number, or an error line. */
#define PUSH_INSPECT_MAX 4096
#define PUSH_DRAW_EVERY_MS 100
#define PUSH_BAR_WIDTH 24

typedef struct {
    const char *tag;
    pid_t pid;  /* the `docker save` child, 0 once reaped */
    int out_fd; /* its stdout: the tar */
    int err_fd; /* its stderr, -1 once at its end */
    char err[PUSH_STDERR_MAX];
    size_t err_len;
    int status;       /* its wait status once reaped */
    int sys;          /* errno of a failed poll/read, 0 when none */
    bool save_failed; /* the tar ended badly: the upload was abandoned */
    long long tar;    /* tar bytes read from docker */
    /* progress */
    bool progress;
    long long total, start_ms, last_draw_ms;
    size_t last_len;
} push_ctx;

/*
 * Start `argv` (argv[0] looked up on PATH) with stdin from /dev/null,
 * stdout into a new pipe whose read end goes to *out_fd, and stderr into
 * *err_fd's pipe, or into the stdout pipe when err_fd is NULL. Returns 0
 * with *pid set, or -1 with `e`. No fds leak either way.
 */
static int push_spawn(char *const argv[], pid_t *pid, int *out_fd, int *err_fd, err_t *e)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, rc = -1, sys;
    posix_spawn_file_actions_t fa;
    bool fa_ok = false;

    if (pipe2(out, O_CLOEXEC) != 0 || (err_fd != NULL && pipe2(err, O_CLOEXEC) != 0)) {
        err_sys(e, errno, "pipe2", argv[0]);
        goto done;
    }
    if ((sys = posix_spawn_file_actions_init(&fa)) != 0) {
        err_sys(e, sys, "posix_spawn_file_actions_init", argv[0]);
        goto done;
    }
    fa_ok = true;
    /* The pipes are close-on-exec: only the dup2'd copies reach docker. */
    if ((sys = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
        (sys = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
        (sys = posix_spawn_file_actions_adddup2(&fa, err_fd != NULL ? err[1] : out[1], 2)) != 0) {
        err_sys(e, sys, "posix_spawn_file_actions", argv[0]);
        goto done;
    }
    if ((sys = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ)) != 0) {
        err_set(e, ERR_INTERNAL, NULL, sys, "cannot run %s: posix_spawnp() failed: %s", argv[0],
                strerror(sys));
        goto done;
    }
    *out_fd = out[0];
    out[0] = -1;
    if (err_fd != NULL) {
        *err_fd = err[0];
        err[0] = -1;
    }
    rc = 0;
done:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    return rc;
}

/* waitpid() that retries on EINTR. */
static int push_wait(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* A child's wait status in words: "exit status 1", "signal 9". */
static void push_status_text(int status, char *out, size_t outlen)
{
    if (WIFEXITED(status))
        snprintf(out, outlen, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "signal %d", WTERMSIG(status));
    else
        snprintf(out, outlen, "wait status %d", status);
}

/* The first line with text of `s` (`len` bytes, NUL after them), for a
 * one-line message: *line points at it, and its length is returned. */
static int push_first_line(const char *s, size_t len, const char **line)
{
    size_t skip = strspn(s, " \t\r\n");
    if (skip > len)
        skip = len;
    size_t n = strcspn(s + skip, "\r\n");
    *line = s + skip;
    return (int)(n < len - skip ? n : len - skip);
}

/*
 * `docker image inspect --format {{.Size}} TAG`: the image's size, which
 * the tar will be about (layers are saved uncompressed). Returns CLI_OK
 * with *size, CLI_NOT_FOUND when docker has no such image, CLI_FAILED
 * otherwise; `e` says why.
 */
static cli_exit push_inspect(const char *docker, const char *tag, long long *size, err_t *e)
{
    char *argv[] = {(char *)docker, "image", "inspect",   "--format",
                    "{{.Size}}",    "--",    (char *)tag, NULL};
    char out[PUSH_INSPECT_MAX];
    size_t len = 0;
    pid_t pid;
    int fd, status = 0;
    cli_exit rc = CLI_FAILED;

    if (push_spawn(argv, &pid, &fd, NULL, e) != 0)
        return CLI_FAILED;
    for (;;) {
        ssize_t n = read(fd, out + len, sizeof(out) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        /* Past the buffer the rest is read and dropped: docker must not block. */
        if (len == sizeof(out) - 1) {
            char sink[512];
            while (read(fd, sink, sizeof(sink)) > 0)
                ;
            break;
        }
    }
    out[len] = '\0';
    close(fd);
    if (push_wait(pid, &status) != 0) {
        err_sys(e, errno, "waitpid", docker);
        return CLI_FAILED;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char *end;
        errno = 0;
        long long v = strtoll(out, &end, 10);
        /* Anything but one number: the size stays unknown (0), and the
         * bar shows what went without a percentage. */
        if (end != out && errno == 0 && v >= 0 && strspn(end, " \t\r\n") == strlen(end))
            *size = v;
        return CLI_OK;
    }
    char how[64];
    const char *line;
    int n = push_first_line(out, len, &line);
    push_status_text(status, how, sizeof(how));
    if (strstr(out, "No such image") != NULL || strstr(out, "No such object") != NULL) {
        err_set(e, ERR_NOT_FOUND, NULL, 0, "docker has no image %.200s: %.*s", tag, n, line);
        rc = CLI_NOT_FOUND;
    } else {
        err_set(e, ERR_INTERNAL, NULL, 0, "%s image inspect %.200s failed (%s): %.*s", docker, tag,
                how, n, line);
    }
    return rc;
}

int push_local_tags(const char *docker, buf_t *out)
{
    char *argv[] = {(char *)docker, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", NULL};
    char chunk[4096];
    buf_t all;
    pid_t pid;
    int fd, status, rc = 0;
    err_t e;

    if (push_spawn(argv, &pid, &fd, NULL, &e) != 0)
        return -1;
    buf_init(&all, 1024 * 1024);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* Past the bound the rest is read and dropped: docker must not block. */
        buf_append_some(&all, chunk, (size_t)n);
    }
    close(fd);
    if (push_wait(pid, &status) != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = -1;
    for (const char *p = all.data; rc == 0 && p != NULL && *p != '\0';) {
        size_t len = strcspn(p, "\n");
        /* Untagged images list as <none>:<none>; nothing to push by name. */
        if (len > 0 && memmem(p, len, "<none>", 6) == NULL &&
            buf_printf(out, "%.*s\n", (int)len, p) != BUF_OK)
            rc = -1;
        p += len;
        p += *p == '\n' ? 1 : 0;
    }
    buf_free(&all);
    return rc;
}

void push_bar(const char *tag, long long sent, long long total, double rate, bool done, char *out,
              size_t outlen)
{
    char s_sent[32], s_total[32], s_rate[32];
    table_bytes(sent, s_sent, sizeof(s_sent));
    table_bytes((long long)rate, s_rate, sizeof(s_rate));
    if (total <= 0) {
        snprintf(out, outlen, "pushing %.100s  %s  %s/s%s", tag, s_sent, s_rate,
                 done ? "  done" : "");
        return;
    }
    /* The estimate is the image's size; the tar is a little larger, so
     * the bar waits at 99% until the end. */
    int pct = done ? 100 : (int)(sent * 100 / total);
    if (!done && pct > 99)
        pct = 99;
    int fill = pct * PUSH_BAR_WIDTH / 100;
    char bar[PUSH_BAR_WIDTH + 1];
    for (int i = 0; i < PUSH_BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[PUSH_BAR_WIDTH] = '\0';
    table_bytes(total, s_total, sizeof(s_total));
    snprintf(out, outlen, "pushing %.100s  [%s] %3d%%  %s of ~%s  %s/s", tag, bar, pct, s_sent,
             s_total, s_rate);
}

static void push_draw(push_ctx *p, long long sent, bool done)
{
    char line[256];
    long long now = clock_mono_ms();
    if (!p->progress || (!done && now - p->last_draw_ms < PUSH_DRAW_EVERY_MS))
        return;
    p->last_draw_ms = now;
    double secs = (double)(now - p->start_ms) / 1000;
    push_bar(p->tag, sent, p->total, secs > 0 ? (double)sent / secs : 0, done, line, sizeof(line));
    size_t len = strlen(line);
    /* Blank out what a longer previous line left, then stay on the line
     * (a newline only at the end). */
    fprintf(stderr, "\r%s%*s%s", line, p->last_len > len ? (int)(p->last_len - len) : 0, "",
            done ? "\n" : "");
    fflush(stderr);
    p->last_len = len;
}

static void push_progress_cb(void *arg, long long sent)
{
    push_draw(arg, sent, false);
}

/* Keep the first PUSH_STDERR_MAX bytes docker writes on stderr; drop the
 * rest. Marks the end of its stderr. */
static void push_drain_err(push_ctx *p)
{
    char chunk[512];
    ssize_t n = read(p->err_fd, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(p->err_fd);
        p->err_fd = -1;
        return;
    }
    size_t keep = sizeof(p->err) - 1 - p->err_len;
    if ((size_t)n < keep)
        keep = (size_t)n;
    memcpy(p->err + p->err_len, chunk, keep);
    p->err_len += keep;
    p->err[p->err_len] = '\0';
}

/* The tar ended: reap docker, and tell libcurl whether the body is whole. */
static size_t push_end(push_ctx *p)
{
    while (p->err_fd >= 0)
        push_drain_err(p);
    if (push_wait(p->pid, &p->status) != 0) {
        p->sys = errno;
        p->save_failed = true;
        return CURL_READFUNC_ABORT;
    }
    p->pid = 0;
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
        p->save_failed = true;
        return CURL_READFUNC_ABORT;
    }
    return 0;
}

/* libcurl's read callback: the next bytes of the tar, straight from the
 * pipe. stderr is drained meanwhile, so docker never blocks on it. */
static size_t push_read_cb(char *dst, size_t size, size_t nitems, void *arg)
{
    push_ctx *p = arg;
    size_t room = size * nitems;
    for (;;) {
        struct pollfd fds[2] = {{.fd = p->out_fd, .events = POLLIN},
                                {.fd = p->err_fd, .events = POLLIN}};
        if (poll(fds, p->err_fd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            p->sys = errno;
            p->save_failed = true;
            return CURL_READFUNC_ABORT;
        }
        if (p->err_fd >= 0 && fds[1].revents != 0)
            push_drain_err(p);
        if (fds[0].revents == 0)
            continue;
        ssize_t n = read(p->out_fd, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            p->sys = errno;
            p->save_failed = true;
            return CURL_READFUNC_ABORT;
        }
        if (n == 0)
            return push_end(p);
        p->tar += n;
        return (size_t)n;
    }
}

/* Why the tar did not come whole, into `e`. */
static void push_save_error(const push_ctx *p, const char *docker, err_t *e)
{
    char how[64];
    const char *line;
    int n = push_first_line(p->err, p->err_len, &line);
    if (p->sys != 0) {
        err_set(e, ERR_INTERNAL, NULL, p->sys, "reading the output of %s save failed: %s", docker,
                strerror(p->sys));
        return;
    }
    push_status_text(p->status, how, sizeof(how));
    err_set(e, ERR_INTERNAL, NULL, 0, "%s save %.200s failed (%s) after %lld bytes: %.*s", docker,
            p->tag, how, p->tar, n > 0 ? n : 20, n > 0 ? line : "(it printed nothing)");
}

cli_exit push_image(client_t *c, const char *docker, const char *tag, bool progress,
                    client_reply *r, err_t *e)
{
    char *argv[] = {(char *)docker, "save", "--", (char *)tag, NULL};
    push_ctx p;
    cli_exit rc;

    memset(&p, 0, sizeof(p));
    p.tag = tag;
    p.out_fd = p.err_fd = -1;
    p.progress = progress;
    rc = push_inspect(docker, tag, &p.total, e);
    if (rc != CLI_OK)
        return rc;
    if (push_spawn(argv, &p.pid, &p.out_fd, &p.err_fd, e) != 0)
        return CLI_FAILED;
    p.start_ms = clock_mono_ms();
    rc = client_upload(c, "/images", "image", "image.tar", "application/x-tar", push_read_cb,
                       push_progress_cb, &p, r, e);
    if (rc == CLI_OK)
        push_draw(&p, p.tar, true);
    else if (p.progress && p.last_len > 0)
        fputc('\n', stderr);
    if (p.save_failed) {
        push_save_error(&p, docker, e);
        rc = CLI_FAILED;
    }
    close(p.out_fd);
    if (p.err_fd >= 0)
        close(p.err_fd);
    /* Not reaped yet: the upload stopped before the tar's end (the
     * platform answered early, or the connection broke) and docker is
     * still writing into the pipe just closed. */
    if (p.pid > 0) {
        kill(p.pid, SIGTERM);
        push_wait(p.pid, &p.status);
    }
    return rc;
}
