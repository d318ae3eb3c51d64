#include "init/rapi.h"

#include "base/err.h"
#include "parse/httpreq.h"
#include "parse/initwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RAPI_EXIT_SELF 125
#define RAPI_CONNS 8              /* runtime connections at once; one is the norm */
#define RAPI_HEAD_MAX 16384       /* bytes of a request head */
#define RAPI_LOG_HOLD (256 << 10) /* log bytes kept between calls; past it, dropped */
#define RAPI_MAX_ENV 32
#define RAPI_LINE_MAX 4096
#define RAPI_STDIN_MAX                                                                             \
    ((size_t)INITWIRE_REQUEST_MAX + 1 + RAPI_MAX_ENV * (RAPI_LINE_MAX + 1) +                       \
     INITWIRE_LAMBDA_BODY_MAX)
#define RAPI_PREFIX "/2018-06-01/runtime/"
#define RAPI_OB_MAX (128 << 10) /* frames held for one write */
#define RAPI_HOLD_MS 5          /* how long frames wait for more */

/* What a request head asked for, decided when the head is in (its body
 * may be dropped unread). */
typedef enum {
    RAPI_NEXT = 1,
    RAPI_RESPONSE,
    RAPI_ERROR,
    RAPI_INIT_ERROR,
    RAPI_REFUSE /* answered with `refuse_*` once the body is read */
} rapi_action;

typedef struct {
    int fd;
    char *in; /* what came and is not consumed yet */
    size_t in_len, in_cap;
    bool have_head; /* h is parsed; its body is coming */
    httpreq_head h;
    rapi_action action;
    bool oversize; /* the body is over the bound: dropped as it comes */
    uint64_t drop_left;
    int refuse_status;
    const char *refuse_type;
    char refuse_msg[200];
    char *out; /* an answer being written */
    size_t out_len, out_off;
    bool parked;      /* a /next waits for a call */
    bool close_after; /* close once the answer is out */
} rapi_conn;

/* The call being served. */
typedef struct {
    bool active;    /* a request came and is not answered yet */
    bool delivered; /* its /next was answered */
    char nonce[INITWIRE_NONCE_MAX + 1];
    char id[128];
    char fname[128];
    long long deadline_ms;
    char client_context[RAPI_LINE_MAX + 1];
    char cognito[RAPI_LINE_MAX + 1];
    const char *event; /* into the stdin buffer */
    size_t event_len;
    size_t consumed; /* stdin bytes the request takes */
} rapi_call;

typedef struct {
    int once;
    int sigfd, lfd;
    pid_t child;
    bool child_done;
    int child_status;
    int stop_sig;
    int out_fd, err_fd; /* the runtime's stdout and stderr */
    bool ever_next;     /* the runtime asked for a call once: its init is over */
    /* The runtime cannot serve: what the next call is answered with. */
    bool dead;
    bool reported_dead; /* a call was answered with it: init is done */
    unsigned calls;     /* calls answered */
    char dead_type[INITWIRE_ERROR_TYPE_MAX + 1];
    char *dead_body;
    size_t dead_len;
    char last_id[128]; /* the call answered last: another answer to it is a 403 */
    char *stdin_buf;
    size_t stdin_len;
    bool stdin_eof;
    char *held; /* logs between calls */
    size_t held_len;
    bool held_cut;
    rapi_call call;
    rapi_conn conns[RAPI_CONNS];
    int nconns;
    char region[64];
    char arn_name[128];
    unsigned char ob[RAPI_OB_MAX]; /* frames held for one write */
    size_t ob_len;
    long long ob_since; /* when the first of them was held */
} rapi_state;

static void rapi_say(const char *what)
{
    dprintf(STDERR_FILENO, "minilambda-init: %s\n", what);
}

static void rapi_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int rapi_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

static long long rapi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write out the frames held in st->ob. */
static int rapi_flush_frames(rapi_state *st, err_t *e)
{
    if (st->ob_len == 0)
        return 0;
    struct iovec iov = {st->ob, st->ob_len};
    st->ob_len = 0;
    return initwire_write_all(STDOUT_FILENO, &iov, 1, e);
}

/* One frame of the current call (`data` of `len` bytes after its head).
 * Frames are held and written together (at the call's end, when the
 * buffer is full, or RAPI_HOLD_MS after the first was held): a call's
 * answer then reaches the platform in one write, not four. */
static int rapi_frame_one(rapi_state *st, char kind, uint64_t num, const void *data, size_t len,
                          err_t *e)
{
    char head[INITWIRE_FRAME_MAX + 2];
    int h = initwire_frame_head(head, sizeof(head), kind, st->call.nonce, num);
    if (h < 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "frame header does not fit");
    if (st->ob_len + (size_t)h + len > sizeof(st->ob) && rapi_flush_frames(st, e) != 0)
        return -1;
    if ((size_t)h + len > sizeof(st->ob)) {
        struct iovec iov[2] = {{head, (size_t)h}, {(void *)data, len}};
        return initwire_write_all(STDOUT_FILENO, iov, len > 0 ? 2 : 1, e);
    }
    if (st->ob_len == 0)
        st->ob_since = rapi_now_ms();
    memcpy(st->ob + st->ob_len, head, (size_t)h);
    if (len > 0)
        memcpy(st->ob + st->ob_len + h, data, len);
    st->ob_len += (size_t)h + len;
    return 0;
}

/* A frame of the current call; 'o' and 'e' data is cut into chunks. */
static int rapi_frame(rapi_state *st, char kind, uint64_t num, const void *data, size_t len,
                      err_t *e)
{
    if (kind != 'o' && kind != 'e')
        return rapi_frame_one(st, kind, num, data, len, e);
    const char *p = data;
    while (len > 0) {
        size_t take = len < INITWIRE_CHUNK_MAX ? len : INITWIRE_CHUNK_MAX;
        if (rapi_frame_one(st, kind, take, p, take, e) != 0)
            return -1;
        p += take;
        len -= take;
    }
    return 0;
}

/* Logs: framed when a call is on, else held for the next one. */
static int rapi_log(rapi_state *st, const char *p, size_t n, err_t *e)
{
    if (st->call.active)
        return rapi_frame(st, 'e', 0, p, n, e);
    size_t room = RAPI_LOG_HOLD - st->held_len;
    if (n > room) {
        n = room;
        st->held_cut = true;
    }
    if (n == 0)
        return 0;
    if (st->held == NULL && (st->held = malloc(RAPI_LOG_HOLD)) == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory holding logs");
    memcpy(st->held + st->held_len, p, n);
    st->held_len += n;
    return 0;
}

/* Read what the runtime's pipe `*fd` has (at most `limit` bytes: 0 for one
 * read) into the logs; close it at its end. */
static int rapi_pipe(rapi_state *st, int *fd, size_t limit, err_t *e)
{
    char chunk[INITWIRE_CHUNK_MAX];
    size_t want = limit > 0 && limit < sizeof(chunk) ? limit : sizeof(chunk);
    ssize_t n;
    do
        n = read(*fd, chunk, want);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n <= 0) {
        rapi_close(fd);
        return 0;
    }
    return rapi_log(st, chunk, (size_t)n, e);
}

/* What the runtime's pipes hold now, into the call's logs: what it printed
 * before it answered is the call's. */
static int rapi_drain_logs(rapi_state *st, err_t *e)
{
    int *fds[2] = {&st->out_fd, &st->err_fd};
    for (int i = 0; i < 2; i++) {
        int avail = 0;
        if (*fds[i] < 0 || ioctl(*fds[i], FIONREAD, &avail) != 0 || avail <= 0)
            continue;
        size_t left = (size_t)avail;
        while (left > 0 && *fds[i] >= 0) {
            size_t want = left < INITWIRE_CHUNK_MAX ? left : INITWIRE_CHUNK_MAX;
            if (rapi_pipe(st, fds[i], want, e) != 0)
                return -1;
            left -= want;
        }
    }
    return 0;
}

/* The call ends with `kind` ('x', 'f' or 'i'), the body `body` in "o"
 * frames before it and `type` in its payload. */
static int rapi_end(rapi_state *st, char kind, const char *type, const char *body, size_t len,
                    err_t *e)
{
    if (rapi_drain_logs(st, e) != 0 || rapi_frame(st, 'o', 0, body, len, e) != 0)
        return -1;
    size_t tl = type ? strlen(type) : 0;
    if (tl > INITWIRE_ERROR_TYPE_MAX)
        tl = INITWIRE_ERROR_TYPE_MAX;
    if (rapi_frame(st, kind, kind == 'x' ? 0 : tl, type, kind == 'x' ? 0 : tl, e) != 0 ||
        rapi_flush_frames(st, e) != 0)
        return -1;
    snprintf(st->last_id, sizeof(st->last_id), "%s", st->call.id);
    st->calls++;
    /* Its request leaves the stdin buffer; what follows it stays. */
    size_t c = st->call.consumed;
    memmove(st->stdin_buf, st->stdin_buf + c, st->stdin_len - c);
    st->stdin_len -= c;
    memset(&st->call, 0, sizeof(st->call));
    return 0;
}

/* The runtime cannot serve any more: `type`, and a Lambda-shaped body
 * (`body`, or one made of `msg`). */
static void rapi_die(rapi_state *st, const char *type, const char *body, size_t len,
                     const char *msg)
{
    if (st->dead)
        return;
    st->dead = true;
    snprintf(st->dead_type, sizeof(st->dead_type), "%s", type);
    char made[512];
    if (body == NULL) {
        int n = snprintf(made, sizeof(made), "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", msg,
                         st->dead_type);
        body = made;
        len = n > 0 && (size_t)n < sizeof(made) ? (size_t)n : 0;
    }
    st->dead_body = malloc(len > 0 ? len : 1);
    if (st->dead_body != NULL) {
        memcpy(st->dead_body, body, len);
        st->dead_len = len;
    }
}

/* --- the answers to the runtime ----------------------------------------- */

/* Queue an answer on `c`: status, reason, extra header lines, a body. */
static int rapi_answer(rapi_conn *c, int status, const char *reason, const char *headers,
                       const char *body, size_t len, err_t *e)
{
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: "
                     "%zu\r\n%s\r\n",
                     status, reason, headers ? headers : "", len,
                     c->close_after ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(head))
        return err_set(e, ERR_INTERNAL, NULL, 0, "an answer's head does not fit");
    char *out = malloc((size_t)n + len);
    if (out == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory answering the runtime");
    memcpy(out, head, (size_t)n);
    memcpy(out + n, body, len);
    free(c->out);
    c->out = out;
    c->out_len = (size_t)n + len;
    c->out_off = 0;
    return 0;
}

/* An error answer {"errorMessage","errorType"} as the emulator's. */
static int rapi_error_answer(rapi_conn *c, int status, const char *reason, const char *type,
                             const char *msg, err_t *e)
{
    char body[512];
    int n =
        snprintf(body, sizeof(body), "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", msg, type);
    return rapi_answer(c, status, reason, NULL, body,
                       n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0, e);
}

static int rapi_accepted(rapi_conn *c, err_t *e)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    return rapi_answer(c, 202, "Accepted", NULL, ok, sizeof(ok) - 1, e);
}

/* Whether a value may go in a header: printable, no CR or LF. */
static bool rapi_header_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' && *s != '\t')
            return false;
    return true;
}

/* Answer the parked (or asking) /next on `c` with the current call. */
static int rapi_deliver(rapi_state *st, rapi_conn *c, err_t *e)
{
    rapi_call *q = &st->call;
    char headers[2 * RAPI_LINE_MAX + 1024], hex[25] = {0};
    size_t h = 0;
    /* A trace id in X-Ray's shape, from the invocation id's hex digits. */
    for (const char *p = q->id; *p && h < 24; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
            hex[h++] = *p;
    while (h < 24)
        hex[h++] = '0';
    const char *name = st->arn_name[0] ? st->arn_name : q->fname;
    int n = snprintf(headers, sizeof(headers),
                     "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %lld\r\n"
                     "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:%s:000000000000:"
                     "function:%s\r\nLambda-Runtime-Trace-Id: Root=1-%08llx-%s;Sampled=0\r\n",
                     q->id, q->deadline_ms, st->region, name,
                     (unsigned long long)(time(NULL) & 0xffffffffLL), hex);
    if (n < 0 || (size_t)n >= sizeof(headers))
        return err_set(e, ERR_INTERNAL, NULL, 0, "the /next headers do not fit");
    size_t used = (size_t)n;
    const char *names[2] = {"Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"};
    const char *vals[2] = {q->client_context, q->cognito};
    for (int i = 0; i < 2; i++) {
        if (vals[i][0] == '\0' || !rapi_header_ok(vals[i]))
            continue;
        n = snprintf(headers + used, sizeof(headers) - used, "%s: %s\r\n", names[i], vals[i]);
        if (n < 0 || (size_t)n >= sizeof(headers) - used)
            return err_set(e, ERR_INTERNAL, NULL, 0, "the /next headers do not fit");
        used += (size_t)n;
    }
    if (rapi_answer(c, 200, "OK", headers, q->event, q->event_len, e) != 0)
        return -1;
    c->parked = false;
    q->delivered = true;
    st->ever_next = true;
    return rapi_frame(st, 'n', 0, NULL, 0, e);
}

/* The runtime is dead and a call is on: answer it, and init is done. */
static int rapi_report_dead(rapi_state *st, err_t *e)
{
    st->reported_dead = true;
    return rapi_end(st, 'i', st->dead_type, st->dead_body ? st->dead_body : "", st->dead_len, e);
}

/* Decide what the head on `c` asks for. */
static void rapi_route(rapi_state *st, rapi_conn *c)
{
    char path[HTTPREQ_PATH_MAX + 1];
    snprintf(path, sizeof(path), "%s", c->h.path);
    char *qm = strchr(path, '?');
    if (qm != NULL)
        *qm = '\0';
    bool get = strcmp(c->h.method, "GET") == 0, post = strcmp(c->h.method, "POST") == 0;
    const char *rest =
        strncmp(path, RAPI_PREFIX, strlen(RAPI_PREFIX)) == 0 ? path + strlen(RAPI_PREFIX) : NULL;
    const char *want = NULL;
    c->action = RAPI_REFUSE;
    c->refuse_status = 0;
    if (rest != NULL && strcmp(rest, "invocation/next") == 0) {
        want = "GET";
        if (get)
            c->action = RAPI_NEXT;
    } else if (rest != NULL && strcmp(rest, "init/error") == 0) {
        want = "POST";
        if (post)
            c->action = RAPI_INIT_ERROR;
    } else if (rest != NULL && strncmp(rest, "invocation/", 11) == 0) {
        const char *id = rest + 11, *slash = strchr(id, '/');
        if (slash != NULL && slash > id &&
            (strcmp(slash, "/response") == 0 || strcmp(slash, "/error") == 0)) {
            want = "POST";
            size_t idl = (size_t)(slash - id);
            if (post) {
                c->action = strcmp(slash, "/response") == 0 ? RAPI_RESPONSE : RAPI_ERROR;
                bool current = st->call.active && st->call.delivered &&
                               strlen(st->call.id) == idl && strncmp(st->call.id, id, idl) == 0;
                bool answered = st->last_id[0] != '\0' && strlen(st->last_id) == idl &&
                                strncmp(st->last_id, id, idl) == 0;
                if (!current) {
                    c->action = RAPI_REFUSE;
                    c->refuse_status = answered ? 403 : 400;
                    c->refuse_type = answered ? "InvalidStateTransition" : "InvalidRequestID";
                    snprintf(c->refuse_msg, sizeof(c->refuse_msg), "%s",
                             answered ? "State transition from ResponseSent failed for runtime. "
                                        "Error: the invocation was answered already"
                                      : "Invalid request ID");
                }
            }
        }
    }
    if (c->action != RAPI_REFUSE || c->refuse_status != 0)
        return;
    c->refuse_status = want != NULL ? 405 : 404;
    c->refuse_type = want != NULL ? "MethodNotAllowed" : "NotFound";
    snprintf(c->refuse_msg, sizeof(c->refuse_msg), "%s",
             want != NULL ? "Method not allowed on this path" : "No such Runtime API path");
}

/* A request on `c` is complete (`body` of `len` bytes, or oversize):
 * act on it. */
static int rapi_act(rapi_state *st, rapi_conn *c, const char *body, size_t len, err_t *e)
{
    /* Routed now, not at the head: the call may have ended meanwhile (an
     * answer to it on another connection). */
    rapi_route(st, c);
    if (c->oversize) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Exceeded maximum allowed payload size (%u bytes).",
                 INITWIRE_LAMBDA_BODY_MAX);
        if ((c->action == RAPI_RESPONSE || c->action == RAPI_ERROR) && st->call.active) {
            char fb[400];
            int n = snprintf(fb, sizeof(fb),
                             "{\"errorMessage\":\"Response payload size (%" PRIu64
                             " bytes) exceeded maximum allowed payload size (%u bytes).\","
                             "\"errorType\":\"Function.ResponseSizeTooLarge\"}",
                             c->h.content_length, INITWIRE_LAMBDA_BODY_MAX);
            if (rapi_end(st, 'f', "Function.ResponseSizeTooLarge", fb,
                         n > 0 && (size_t)n < sizeof(fb) ? (size_t)n : 0, e) != 0)
                return -1;
        }
        return rapi_error_answer(c, 413, "Request Entity Too Large", "RequestEntityTooLarge", msg,
                                 e);
    }
    switch (c->action) {
    case RAPI_NEXT:
        if (st->dead || c->parked || st->call.delivered) {
            return rapi_error_answer(c, 403, "Forbidden", "InvalidStateTransition",
                                     st->dead ? "The runtime reported an init error"
                                              : "An invocation is being served already",
                                     e);
        }
        for (int i = 0; i < st->nconns; i++)
            if (st->conns[i].parked)
                return rapi_error_answer(c, 403, "Forbidden", "InvalidStateTransition",
                                         "Another /next is waiting already", e);
        if (st->call.active)
            return rapi_deliver(st, c, e);
        c->parked = true;
        st->ever_next = true;
        return 0;
    case RAPI_RESPONSE:
        if (rapi_accepted(c, e) != 0)
            return -1;
        return rapi_end(st, 'x', NULL, body, len, e);
    case RAPI_ERROR:
        if (rapi_accepted(c, e) != 0)
            return -1;
        return rapi_end(st, 'f', c->h.error_type, body, len, e);
    case RAPI_INIT_ERROR:
        if (st->ever_next || st->dead)
            return rapi_error_answer(c, 403, "Forbidden", "InvalidStateTransition",
                                     "State transition from Ready to InitError failed for "
                                     "runtime. Error: its init is over",
                                     e);
        if (rapi_accepted(c, e) != 0)
            return -1;
        rapi_die(st, c->h.error_type[0] ? c->h.error_type : "Runtime.Unknown", body, len, NULL);
        return st->call.active ? rapi_report_dead(st, e) : 0;
    default:
        return rapi_error_answer(c, c->refuse_status,
                                 c->refuse_status == 400   ? "Bad Request"
                                 : c->refuse_status == 403 ? "Forbidden"
                                 : c->refuse_status == 405 ? "Method Not Allowed"
                                                           : "Not Found",
                                 c->refuse_type, c->refuse_msg, e);
    }
}

/* Take what `c` holds: heads and bodies, one request at a time (an
 * answer must be out, or a /next parked, before the next is looked at). */
static int rapi_consume(rapi_state *st, rapi_conn *c, err_t *e)
{
    while (c->out == NULL && !c->parked && !c->close_after) {
        if (!c->have_head) {
            httpreq_rc rc = httpreq_parse(c->in, c->in_len, RAPI_HEAD_MAX, &c->h);
            if (rc == HTTPREQ_MORE)
                return 0;
            if (rc != HTTPREQ_OK) {
                const char *reason;
                int status = httpreq_status(rc, &reason);
                c->close_after = true;
                return rapi_error_answer(c, status, reason, "InvalidRequestFormat",
                                         "The request is not one the Runtime API reads", e);
            }
            c->have_head = true;
            memmove(c->in, c->in + c->h.head_len, c->in_len - c->h.head_len);
            c->in_len -= c->h.head_len;
            c->oversize = c->h.content_length > INITWIRE_LAMBDA_BODY_MAX;
            c->drop_left = c->oversize ? c->h.content_length : 0;
            if (c->h.expect_continue && !c->oversize) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                if (write(c->fd, cont, sizeof(cont) - 1) < 0 && errno != EAGAIN)
                    c->close_after = true;
            }
        }
        if (c->oversize) {
            size_t take = c->in_len < c->drop_left ? c->in_len : (size_t)c->drop_left;
            memmove(c->in, c->in + take, c->in_len - take);
            c->in_len -= take;
            c->drop_left -= take;
            if (c->drop_left > 0)
                return 0;
        } else if (c->in_len < c->h.content_length) {
            return 0;
        }
        size_t blen = c->oversize ? 0 : (size_t)c->h.content_length;
        if (!c->h.keep_alive)
            c->close_after = true;
        int rc = rapi_act(st, c, c->in, blen, e);
        memmove(c->in, c->in + blen, c->in_len - blen);
        c->in_len -= blen;
        c->have_head = false;
        c->oversize = false;
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Read from `c`. -1 with `e` for init's own failure; a connection that
 * ends or breaks is marked (fd -1) for removal. */
static int rapi_read(rapi_state *st, rapi_conn *c, err_t *e)
{
    size_t cap = RAPI_HEAD_MAX + (c->have_head && !c->oversize ? (size_t)c->h.content_length
                                                               : INITWIRE_LAMBDA_BODY_MAX);
    if (c->in_cap - c->in_len < 65536 && c->in_cap < cap) {
        size_t want = c->in_cap ? c->in_cap * 2 : 65536;
        if (want > cap)
            want = cap;
        char *n = realloc(c->in, want);
        if (n == NULL)
            return err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory reading the runtime");
        c->in = n;
        c->in_cap = want;
    }
    if (c->in_len == c->in_cap) {
        /* A head and a pipelined request past every bound. */
        rapi_close(&c->fd);
        return 0;
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        /* Gone: a half request is dropped; a parked /next goes with it. */
        rapi_close(&c->fd);
        return 0;
    }
    c->in_len += (size_t)n;
    return rapi_consume(st, c, e);
}

/* Write what `c` has to send; then look at what it sent next. */
static int rapi_flush(rapi_state *st, rapi_conn *c, err_t *e)
{
    while (c->out != NULL && c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w < 0) {
            rapi_close(&c->fd);
            return 0;
        }
        c->out_off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    if (c->close_after) {
        rapi_close(&c->fd);
        return 0;
    }
    return rapi_consume(st, c, e);
}

/* --- the platform's side ------------------------------------------------- */

/* A line of the stdin buffer from *pos (at most `max` bytes): NUL
 * terminated in place of its \n. 1, 0 incomplete, -1 malformed. */
static int rapi_line(rapi_state *st, size_t *pos, size_t max, char **line, err_t *e)
{
    char *p = st->stdin_buf + *pos;
    size_t avail = st->stdin_len - *pos;
    char *nl = memchr(p, '\n', avail < max + 1 ? avail : max + 1);
    if (nl == NULL)
        return avail > max ? err_set(e, ERR_INVALID, "malformed_request", 0,
                                     "a request header line is longer than %zu bytes", max)
                           : 0;
    if (memchr(p, '\0', (size_t)(nl - p)) != NULL)
        return err_set(e, ERR_INVALID, "malformed_request", 0, "a NUL byte in a request header");
    *nl = '\0';
    *line = p;
    *pos += (size_t)(nl - p) + 1;
    return 1;
}

/* Whether the stdin buffer holds a whole request: 1 with st->call filled,
 * 0 not yet, -1 malformed. Parsing is redone from the start each time
 * (the \n it replaced is put back), as requests are small but for their
 * event. */
static int rapi_request(rapi_state *st, err_t *e)
{
    size_t pos = 0;
    char *line, *ends[RAPI_MAX_ENV + 1];
    size_t nends = 0;
    int rc = rapi_line(st, &pos, INITWIRE_REQUEST_MAX, &line, e);
    initwire_request h;
    rapi_call q;
    if (rc <= 0)
        return rc;
    ends[nends++] = line + strlen(line);
    memset(&q, 0, sizeof(q));
    if (initwire_request_parse(line, RAPI_MAX_ENV, INITWIRE_LAMBDA_BODY_MAX, &h, e) != 0) {
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < h.n_env; i++) {
        rc = rapi_line(st, &pos, RAPI_LINE_MAX, &line, e);
        if (rc <= 0)
            goto done;
        ends[nends++] = line + strlen(line);
        char *eq = strchr(line, '=');
        if (eq == NULL || eq == line) {
            rc = err_set(e, ERR_INVALID, "malformed_request", 0, "env line %zu is not KEY=VALUE",
                         i + 1);
            goto done;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "MINILAMBDA_INVOCATION_ID") == 0)
            snprintf(q.id, sizeof(q.id), "%s", v);
        else if (strcmp(line, "MINILAMBDA_FUNCTION_NAME") == 0)
            snprintf(q.fname, sizeof(q.fname), "%s", v);
        else if (strcmp(line, "MINILAMBDA_DEADLINE_MS") == 0)
            q.deadline_ms = strtoll(v, NULL, 10);
        else if (strcmp(line, INITWIRE_ENV_CLIENT_CONTEXT) == 0)
            snprintf(q.client_context, sizeof(q.client_context), "%s", v);
        else if (strcmp(line, INITWIRE_ENV_COGNITO_IDENTITY) == 0)
            snprintf(q.cognito, sizeof(q.cognito), "%s", v);
        *eq = '=';
    }
    if (st->stdin_len - pos < h.event_len) {
        rc = 0;
        goto done;
    }
    if (q.id[0] == '\0' || !rapi_header_ok(q.id) || strchr(q.id, '/') != NULL) {
        rc = err_set(e, ERR_INVALID, "malformed_request", 0,
                     "a lambda request needs a MINILAMBDA_INVOCATION_ID without '/'");
        goto done;
    }
    memcpy(q.nonce, h.nonce, sizeof(q.nonce));
    q.event = st->stdin_buf + pos;
    q.event_len = (size_t)h.event_len;
    q.consumed = pos + q.event_len;
    q.active = true;
    st->call = q;
    rc = 1;
done:
    for (size_t i = 0; i < nends; i++)
        *ends[i] = '\n';
    return rc;
}

/* A call came: its held logs first, then the runtime gets it (or, dead,
 * the answer). */
static int rapi_begin(rapi_state *st, err_t *e)
{
    if (st->held_len > 0 || st->held_cut) {
        size_t n = st->held_len;
        st->held_len = 0;
        if (rapi_frame(st, 'e', 0, st->held, n, e) != 0)
            return -1;
        if (st->held_cut) {
            static const char cut[] = "minilambda-init: logs between calls were cut\n";
            st->held_cut = false;
            if (rapi_frame(st, 'e', 0, cut, sizeof(cut) - 1, e) != 0)
                return -1;
        }
    }
    if (st->dead)
        return rapi_report_dead(st, e);
    for (int i = 0; i < st->nconns; i++)
        if (st->conns[i].parked && st->conns[i].fd >= 0)
            return rapi_deliver(st, &st->conns[i], e);
    return 0;
}

/* Read stdin (only between calls: one call at a time). */
static int rapi_stdin(rapi_state *st, err_t *e)
{
    size_t cap = RAPI_STDIN_MAX;
    if (st->stdin_buf == NULL && (st->stdin_buf = malloc(cap)) == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory for the request");
    if (st->stdin_len == cap)
        return err_set(e, ERR_INVALID, "malformed_request", 0, "a request is over its bound");
    ssize_t n = read(STDIN_FILENO, st->stdin_buf + st->stdin_len, cap - st->stdin_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "read(stdin) failed: %s", strerror(errno));
    if (n == 0) {
        st->stdin_eof = true;
        return 0;
    }
    st->stdin_len += (size_t)n;
    return 0;
}

/* --- the runtime process ------------------------------------------------ */

/* The runtime's command: `argv`, or the first bootstrap there is. */
static const char *rapi_bootstrap(char *path, size_t len)
{
    const char *root = getenv("LAMBDA_TASK_ROOT");
    const char *dirs[] = {root ? root : "/var/task", "/opt", "/var/runtime"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int n = snprintf(path, len, "%s/bootstrap", dirs[i]);
        if (n > 0 && (size_t)n < len && access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

static int rapi_spawn(rapi_state *st, char *const argv[], err_t *e)
{
    int out[2], errp[2];
    char boot[4096];
    char *boot_argv[2] = {boot, NULL};
    if (argv[0] == NULL) {
        if (rapi_bootstrap(boot, sizeof(boot)) == NULL) {
            rapi_die(st, "Runtime.InvalidEntrypoint", NULL, 0,
                     "The image has no entrypoint and no bootstrap in $LAMBDA_TASK_ROOT, /opt "
                     "or /var/runtime");
            return 0;
        }
        argv = boot_argv;
    }
    if (pipe2(out, O_CLOEXEC) != 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "pipe2 failed: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return err_set(e, ERR_INTERNAL, NULL, errno, "pipe2 failed: %s", strerror(errno));
    }
    st->child = fork();
    if (st->child < 0) {
        st->child = 0;
        return err_set(e, ERR_INTERNAL, NULL, errno, "fork failed: %s", strerror(errno));
    }
    if (st->child == 0) {
        sigset_t none;
        sigemptyset(&none);
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || sigprocmask(SIG_SETMASK, &none, NULL) != 0 ||
            dup2(null, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
            dup2(errp[1], STDERR_FILENO) < 0) {
            dprintf(errp[1], "minilambda-init: setting up the runtime failed: %s\n",
                    strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "minilambda-init: execvp(%s) failed: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    setpgid(st->child, st->child);
    close(out[1]);
    close(errp[1]);
    st->out_fd = out[0];
    st->err_fd = errp[0];
    if (rapi_nonblock(st->out_fd) != 0 || rapi_nonblock(st->err_fd) != 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "fcntl(O_NONBLOCK) failed: %s",
                       strerror(errno));
    return 0;
}

static void rapi_reap(rapi_state *st)
{
    for (;;) {
        int ws;
        pid_t p = waitpid(-1, &ws, WNOHANG);
        if (p <= 0)
            return;
        if (p == st->child && !st->child_done) {
            st->child_done = true;
            st->child_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            char msg[160];
            if (WIFEXITED(ws))
                snprintf(msg, sizeof(msg), "Runtime exited with error: exit status %d",
                         WEXITSTATUS(ws));
            else
                snprintf(msg, sizeof(msg), "Runtime exited with error: signal %d", WTERMSIG(ws));
            rapi_die(st, "Runtime.ExitError", NULL, 0, msg);
        }
    }
}

static int rapi_signals(rapi_state *st, err_t *e)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(st->sigfd, &si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n != (ssize_t)sizeof(si))
            return err_set(e, ERR_INTERNAL, NULL, errno, "read(signalfd) failed");
        if (si.ssi_signo != SIGCHLD)
            st->stop_sig = (int)si.ssi_signo;
    }
    rapi_reap(st);
    return 0;
}

/* The listening socket on INITWIRE_RUNTIME_API. */
static int rapi_listen(rapi_state *st, err_t *e)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9001)};
    int one = 1;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    st->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->lfd < 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "socket failed: %s", strerror(errno));
    setsockopt(st->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(st->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(st->lfd, 16) != 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "listening on %s failed: %s",
                       INITWIRE_RUNTIME_API, strerror(errno));
    return 0;
}

static void rapi_accept(rapi_state *st)
{
    int fd = accept4(st->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (st->nconns == RAPI_CONNS) {
        close(fd);
        return;
    }
    /* Each answer is one write: nothing to wait for. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rapi_conn *c = &st->conns[st->nconns++];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
}

/* Drop the connections that ended. */
static void rapi_sweep(rapi_state *st)
{
    for (int i = 0; i < st->nconns;) {
        rapi_conn *c = &st->conns[i];
        if (c->fd >= 0) {
            i++;
            continue;
        }
        free(c->in);
        free(c->out);
        st->conns[i] = st->conns[--st->nconns];
    }
}

/* The environment the runtime clients read, where the platform did not
 * set it (a creation-time value the container has wins). */
static int rapi_env(rapi_state *st, err_t *e)
{
    static const char *const defaults[][2] = {
        {"LAMBDA_TASK_ROOT", "/var/task"},          {"LAMBDA_RUNTIME_DIR", "/var/runtime"},
        {"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"}, {"AWS_REGION", "us-east-1"},
        {"AWS_DEFAULT_REGION", "us-east-1"},        {"TZ", ":UTC"},
    };
    if (setenv("AWS_LAMBDA_RUNTIME_API", INITWIRE_RUNTIME_API, 1) != 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "setenv failed: %s", strerror(errno));
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (setenv(defaults[i][0], defaults[i][1], 0) != 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "setenv failed: %s", strerror(errno));
    const char *r = getenv("AWS_REGION"), *n = getenv("AWS_LAMBDA_FUNCTION_NAME");
    snprintf(st->region, sizeof(st->region), "%s", r && rapi_header_ok(r) ? r : "us-east-1");
    snprintf(st->arn_name, sizeof(st->arn_name), "%s", n && rapi_header_ok(n) ? n : "");
    return 0;
}

/* One round of poll over everything. 1 to go on, 0 done, -1 failed. */
static int rapi_round(rapi_state *st, err_t *e)
{
    struct pollfd p[5 + RAPI_CONNS];
    int np = 0, i_sig = np, i_in = -1, i_l = -1, i_out = -1, i_err = -1, i_c = 0;
    p[np++] = (struct pollfd){st->sigfd, POLLIN, 0};
    /* stdin is read between calls only (one call at a time); during one,
     * only its hang-up is watched: the platform gone, nobody is left to
     * answer. */
    if (!st->stdin_eof) {
        i_in = np;
        p[np++] = (struct pollfd){STDIN_FILENO, st->call.active ? POLLRDHUP : POLLIN, 0};
    }
    if (st->nconns < RAPI_CONNS) {
        i_l = np;
        p[np++] = (struct pollfd){st->lfd, POLLIN, 0};
    }
    if (st->out_fd >= 0) {
        i_out = np;
        p[np++] = (struct pollfd){st->out_fd, POLLIN, 0};
    }
    if (st->err_fd >= 0) {
        i_err = np;
        p[np++] = (struct pollfd){st->err_fd, POLLIN, 0};
    }
    i_c = np;
    for (int i = 0; i < st->nconns; i++) {
        rapi_conn *c = &st->conns[i];
        short ev = c->out != NULL ? POLLOUT : c->parked ? POLLRDHUP : POLLIN;
        p[np++] = (struct pollfd){c->fd, ev, 0};
    }
    int wait = -1;
    if (st->ob_len > 0) {
        long long left = st->ob_since + RAPI_HOLD_MS - rapi_now_ms();
        wait = left > 0 ? (int)left : 0;
    }
    if (poll(p, (nfds_t)np, wait) < 0) {
        if (errno == EINTR)
            return 1;
        return err_set(e, ERR_INTERNAL, NULL, errno, "poll failed: %s", strerror(errno));
    }
    /* Frames held long enough (the "n" of a call still running, its logs)
     * go out now, so that the platform sees them in time. */
    if (st->ob_len > 0 && rapi_now_ms() - st->ob_since >= RAPI_HOLD_MS &&
        rapi_flush_frames(st, e) != 0)
        return -1;
    if ((p[i_sig].revents & POLLIN) && rapi_signals(st, e) != 0)
        return -1;
    if (st->stop_sig != 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "stopped by signal %d", st->stop_sig);
    if (i_out >= 0 && p[i_out].revents != 0 && rapi_pipe(st, &st->out_fd, 0, e) != 0)
        return -1;
    if (i_err >= 0 && p[i_err].revents != 0 && rapi_pipe(st, &st->err_fd, 0, e) != 0)
        return -1;
    int n = st->nconns;
    for (int i = 0; i < n; i++) {
        rapi_conn *c = &st->conns[i];
        short re = p[i_c + i].revents;
        if (re == 0 || c->fd < 0)
            continue;
        if (c->parked && (re & (POLLRDHUP | POLLHUP | POLLERR))) {
            rapi_close(&c->fd); /* a parked /next hung up */
            continue;
        }
        if (c->out != NULL && rapi_flush(st, c, e) != 0)
            return -1;
        else if (c->out == NULL && !c->parked && rapi_read(st, c, e) != 0)
            return -1;
    }
    rapi_sweep(st);
    if (i_l >= 0 && (p[i_l].revents & POLLIN))
        rapi_accept(st);
    if (i_in >= 0 && st->call.active && p[i_in].revents != 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "stdin hung up during a call");
    if (i_in >= 0 && p[i_in].revents != 0 && rapi_stdin(st, e) != 0)
        return -1;
    if (!st->call.active && st->stdin_len > 0) {
        int got = rapi_request(st, e);
        if (got < 0)
            return -1;
        if (got > 0 && rapi_begin(st, e) != 0)
            return -1;
    }
    /* The runtime died with a call on: the call is answered with it. */
    if (st->call.active && st->dead && rapi_report_dead(st, e) != 0)
        return -1;
    if (st->call.active)
        return 1;
    if (st->reported_dead || (st->once && st->calls > 0))
        return 0;
    if (st->stdin_eof && st->stdin_len > 0)
        return err_set(e, ERR_INVALID, "malformed_request", 0, "stdin ended inside a request");
    return st->stdin_eof ? 0 : 1;
}

/* Write out what the connections still have to send (a 202 before init
 * exits), for a short while. */
static void rapi_settle(rapi_state *st)
{
    for (int tries = 0; tries < 20; tries++) {
        struct pollfd p[RAPI_CONNS];
        int np = 0;
        for (int i = 0; i < st->nconns; i++)
            if (st->conns[i].fd >= 0 && st->conns[i].out != NULL)
                p[np++] = (struct pollfd){st->conns[i].fd, POLLOUT, 0};
        if (np == 0 || poll(p, (nfds_t)np, 10) <= 0)
            return;
        for (int i = 0; i < st->nconns; i++) {
            rapi_conn *c = &st->conns[i];
            if (c->fd >= 0 && c->out != NULL && c->out_off < c->out_len) {
                ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
                if (w > 0)
                    c->out_off += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                    rapi_close(&c->fd);
                if (c->out_off == c->out_len) {
                    free(c->out);
                    c->out = NULL;
                }
            }
        }
    }
}

int rapi_serve(char *const argv[], int once)
{
    static rapi_state st;
    sigset_t set;
    err_t e;
    int rc = RAPI_EXIT_SELF;

    err_clear(&e);
    st.once = once;
    st.sigfd = st.lfd = st.out_fd = st.err_fd = -1;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (st.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "signalfd failed: %s", strerror(errno));
        goto done;
    }
    /* As in the stdio modes: nobody of our uid writes frames on our stdout
     * through /proc/1/fd. */
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "prctl failed: %s", strerror(errno));
        goto done;
    }
    if (rapi_nonblock(STDIN_FILENO) != 0) {
        err_set(&e, ERR_INTERNAL, NULL, errno, "fcntl(stdin) failed: %s", strerror(errno));
        goto done;
    }
    if (rapi_env(&st, &e) != 0 || rapi_listen(&st, &e) != 0 || rapi_spawn(&st, argv, &e) != 0)
        goto done;
    for (;;) {
        int r = rapi_round(&st, &e);
        if (r < 0)
            goto done;
        if (r == 0)
            break;
    }
    rc = 0;
done:
    if (st.ob_len > 0) {
        err_t late;
        if (rapi_flush_frames(&st, &late) != 0)
            rapi_say(late.msg);
    }
    if (rc != 0 && st.stop_sig != 0)
        rc = 128 + st.stop_sig;
    if (rc != 0)
        rapi_say(e.msg);
    rapi_settle(&st);
    if (st.child > 0 && !st.child_done) {
        kill(-st.child, SIGKILL);
        kill(st.child, SIGKILL);
        while (waitpid(st.child, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    for (int i = 0; i < st.nconns; i++)
        rapi_close(&st.conns[i].fd);
    rapi_close(&st.lfd);
    rapi_close(&st.sigfd);
    return rc;
}
