/*
 * fake: see fake.h.
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
#include <unistd.h>

#include "fake.h"

/* Where a chunked request body stands. */
typedef enum {
    FAKE_HEAD = 0, /* not in a chunked body */
    FAKE_SIZE,     /* a chunk's size line comes next */
    FAKE_DATA,     /* `left` bytes of the chunk */
    FAKE_DATA_END, /* the CRLF after a chunk's data */
    FAKE_LAST      /* the CRLF after the last (empty) chunk */
} fake_chunking;

typedef struct {
    int fd;
    size_t len;
    char buf[16384];
    fake_chunking chunking;
    size_t left; /* FAKE_DATA: bytes of the chunk still to come */
    size_t idx;  /* the request whose chunked body is being read */
} fake_conn;

static const char *fake_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    default:
        return "Whatever";
    }
}

static void fake_send_all(fake_server *fs, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fs->errors++;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Drop the first `n` bytes of `c`'s buffer. */
static void fake_consume(fake_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    c->buf[c->len] = '\0';
}

/* Answer request `idx` on `c` with its scripted reply. */
static void fake_answer(fake_server *fs, fake_conn *c, size_t idx)
{
    const fake_reply *r = idx < fs->nreplies ? &fs->replies[idx] : NULL;
    if (r == NULL) {
        static const fake_reply unexpected = {500, "{\"message\":\"unexpected request\"}"};
        r = &unexpected;
    }
    if (r->status != 0) {
        char out[4096];
        int n = snprintf(out, sizeof(out),
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                         "Api-Version: 1.40\r\nContent-Length: %zu\r\n\r\n%s",
                         r->status, fake_reason(r->status), strlen(r->body), r->body);
        if (n > 0 && (size_t)n < sizeof(out))
            fake_send_all(fs, c->fd, out, (size_t)n);
        else
            fs->errors++;
    }
}

/* Read what `c`'s buffer holds of a chunked body (counted in its
 * request's body_bytes). True once the body has ended. */
static bool fake_chunks(fake_server *fs, fake_conn *c)
{
    for (;;) {
        if (c->chunking == FAKE_DATA) {
            size_t n = c->len < c->left ? c->len : c->left;
            if (c->idx < FAKE_MAX_REQ)
                fs->body_bytes[c->idx] += n;
            fake_consume(c, n);
            c->left -= n;
            if (c->left > 0)
                return false;
            c->chunking = FAKE_DATA_END;
            continue;
        }
        if (c->chunking == FAKE_DATA_END || c->chunking == FAKE_LAST) {
            if (c->len < 2)
                return false;
            if (memcmp(c->buf, "\r\n", 2) != 0)
                fs->errors++;
            fake_consume(c, 2);
            if (c->chunking == FAKE_LAST) {
                c->chunking = FAKE_HEAD;
                return true;
            }
            c->chunking = FAKE_SIZE;
            continue;
        }
        char *eol = memmem(c->buf, c->len, "\r\n", 2);
        if (eol == NULL)
            return false;
        char *stop = NULL;
        unsigned long size = strtoul(c->buf, &stop, 16);
        if (stop == c->buf)
            fs->errors++;
        fake_consume(c, (size_t)(eol + 2 - c->buf));
        c->left = size;
        c->chunking = size == 0 ? FAKE_LAST : FAKE_DATA;
    }
}

/* Handle every complete request in `c`'s buffer. */
static void fake_serve(fake_server *fs, fake_conn *c)
{
    for (;;) {
        if (c->chunking != FAKE_HEAD) {
            if (!fake_chunks(fs, c))
                return;
            fake_answer(fs, c, c->idx);
            continue;
        }
        char *end = strstr(c->buf, "\r\n\r\n");
        if (end == NULL)
            return;
        size_t head = (size_t)(end + 4 - c->buf);
        size_t body_len = 0;
        bool chunked = false;
        for (char *h = strstr(c->buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n")) {
            if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
                body_len = strtoul(h + 17, NULL, 10);
            if (strncasecmp(h + 2, "Transfer-Encoding: chunked", 26) == 0)
                chunked = true;
        }
        if (!chunked && c->len < head + body_len)
            return;

        size_t line = strcspn(c->buf, "\r");
        char method[16] = "", target[480] = "";
        if (sscanf(c->buf, "%15s %479s", method, target) != 2 || line >= head)
            fs->errors++;
        size_t idx = fs->nrequests;
        if (idx < FAKE_MAX_REQ) {
            snprintf(fs->requests[idx], sizeof(fs->requests[idx]), "%s %s", method, target);
            fs->nrequests++;
        } else {
            fs->errors++;
        }

        if (chunked) {
            /* Answered once the whole body has come, as the engine does. */
            fake_consume(c, head);
            c->chunking = FAKE_SIZE;
            c->idx = idx;
            continue;
        }
        if (idx < FAKE_MAX_REQ)
            fs->body_bytes[idx] = body_len;
        fake_answer(fs, c, idx);
        fake_consume(c, head + body_len);
    }
}

static void *fake_main(void *arg)
{
    fake_server *fs = arg;
    fake_conn *conns = calloc(FAKE_MAX_CONNS, sizeof(*conns));
    size_t nconns = 0;
    if (conns == NULL) {
        fs->errors++;
        return NULL;
    }
    /* Once told to stop, keep serving until nothing is left to read, so
     * every request a client sent before fake_stop() is recorded. */
    bool stopping = false;
    for (;;) {
        struct pollfd pfd[2 + FAKE_MAX_CONNS];
        pfd[0] = (struct pollfd){.fd = stopping ? -1 : fs->stop[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = fs->lfd, .events = POLLIN};
        for (size_t i = 0; i < nconns; i++)
            pfd[2 + i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        size_t polled = nconns;
        int r = poll(pfd, (nfds_t)(2 + polled), stopping ? 0 : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fs->errors++;
            break;
        }
        if (r == 0 && stopping)
            break;
        if (pfd[0].revents != 0) {
            stopping = true;
            continue;
        }
        /* Highest first, so moving the last connection down is safe. */
        for (size_t i = polled; i-- > 0;) {
            if (pfd[2 + i].revents == 0)
                continue;
            fake_conn *c = &conns[i];
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(c->fd);
                conns[i] = conns[--nconns];
                continue;
            }
            c->len += (size_t)n;
            c->buf[c->len] = '\0';
            fake_serve(fs, c);
        }
        if (pfd[1].revents & POLLIN) {
            int fd = accept(fs->lfd, NULL, NULL);
            if (fd >= 0 && nconns < FAKE_MAX_CONNS) {
                conns[nconns].fd = fd;
                conns[nconns].len = 0;
                conns[nconns].buf[0] = '\0';
                conns[nconns].chunking = FAKE_HEAD;
                nconns++;
            } else if (fd >= 0) {
                close(fd);
                fs->errors++;
            }
        }
    }
    for (size_t i = 0; i < nconns; i++)
        close(conns[i].fd);
    free(conns);
    return NULL;
}

void fake_start(fake_server *fs, const fake_reply *replies, size_t n)
{
    struct sockaddr_un sa;
    memset(fs, 0, sizeof(*fs));
    fs->replies = replies;
    fs->nreplies = n;
    snprintf(fs->dir, sizeof(fs->dir), "/tmp/ml-docker-test-XXXXXX");
    assert_non_null(mkdtemp(fs->dir));
    snprintf(fs->sock, sizeof(fs->sock), "%s/fake.sock", fs->dir);
    fs->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fs->lfd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    assert_true(strlen(fs->sock) < sizeof(sa.sun_path));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fs->sock);
    assert_int_equal(bind(fs->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fs->lfd, 16), 0);
    assert_int_equal(pipe(fs->stop), 0);
    assert_int_equal(pthread_create(&fs->th, NULL, fake_main, fs), 0);
    snprintf(fs->host, sizeof(fs->host), "unix://%s", fs->sock);
    assert_int_equal(setenv("DOCKER_HOST", fs->host, 1), 0);
}

void fake_stop(fake_server *fs)
{
    assert_int_equal(write(fs->stop[1], "x", 1), 1);
    assert_int_equal(pthread_join(fs->th, NULL), 0);
    close(fs->stop[0]);
    close(fs->stop[1]);
    close(fs->lfd);
    unlink(fs->sock);
    rmdir(fs->dir);
    assert_int_equal(fs->errors, 0);
}

int fake_group_setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? 0 : -1;
}

int fake_group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    unsetenv("DOCKER_HOST");
    return 0;
}
