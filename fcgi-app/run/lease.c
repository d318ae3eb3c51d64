#include "run/lease.h"

#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"

/* How long a TAKE may wait for its answer: past it the call starts cold. */
#define LEASE_TAKE_WAIT_MS 100
#define LEASE_GIVE_WAIT_MS 1000
#define LEASE_DRAIN_WAIT_MS 10000
/* After the keeper could not be reached, try again only this much later:
 * a platform without one (warm starts off) pays nothing per call. */
#define LEASE_RETRY_MS 1000

struct lease_client {
    char path[108];
    int fd;
    long long retry_at_ms;
};

int lease_send(int sock, const lease_msg *m, int fd, err_t *e)
{
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t w;
    do
        w = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "sendmsg() to the keeper failed: %s",
                       strerror(errno));
    if ((size_t)w != sizeof(*m))
        return err_set(e, ERR_INTERNAL, NULL, EPROTO, "sendmsg() sent %zd of %zu bytes", w,
                       sizeof(*m));
    return 0;
}

int lease_recv(int sock, lease_msg *m, int *fd, err_t *e)
{
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    *fd = -1;
    ssize_t r;
    do
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0)
        return err_set(e, ERR_INTERNAL, NULL, errno, "recvmsg() failed: %s", strerror(errno));
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    if ((size_t)r != sizeof(*m) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        m->unread_len > LEASE_UNREAD_MAX) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return err_set(e, ERR_INTERNAL, NULL, EPROTO,
                       "recvmsg() got %zd bytes, not one lease message of %zu", r, sizeof(*m));
    }
    m->function[LEASE_ID_LEN - 1] = '\0';
    m->cid[DOCKER_ID_MAX - 1] = '\0';
    m->run[LEASE_ID_LEN - 1] = '\0';
    return 1;
}

lease_client_t *lease_client_new(const char *path)
{
    lease_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->fd = -1;
    return c;
}

static void lease_disconnect(lease_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void lease_client_free(lease_client_t *c)
{
    if (c == NULL)
        return;
    lease_disconnect(c);
    free(c);
}

/* Connected, or -1 with `e` (and no new try for a while). */
static int lease_connect(lease_client_t *c, err_t *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (c->fd >= 0)
        return 0;
    if (c->path[0] == '\0')
        return err_set(e, ERR_INTERNAL, NULL, 0, "no keeper runs (warm starts are off)");
    if (clock_mono_ms() < c->retry_at_ms)
        return err_set(e, ERR_INTERNAL, NULL, 0, "the keeper at %s did not answer a moment ago",
                       c->path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
    c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return 0;
    int sys = errno;
    lease_disconnect(c);
    c->retry_at_ms = clock_mono_ms() + LEASE_RETRY_MS;
    return err_set(e, ERR_INTERNAL, NULL, sys, "connect(%s) failed: %s", c->path, strerror(sys));
}

/* Send `m` (with `fd`) and wait up to `wait_ms` for the keeper's answer
 * into `m` (its descriptor into `*got`, when not NULL). 0, or -1 with `e`:
 * the line is then closed, so that a late answer is never taken for the
 * next one. */
static int lease_ask(lease_client_t *c, lease_msg *m, int fd, int *got, int wait_ms, err_t *e)
{
    int rfd = -1;
    if (got != NULL)
        *got = -1;
    if (lease_connect(c, e) != 0)
        return -1;
    if (lease_send(c->fd, m, fd, e) != 0)
        goto fail;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, wait_ms);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        err_set(e, ERR_INTERNAL, NULL, r < 0 ? errno : ETIMEDOUT,
                "the keeper did not answer within %d ms", wait_ms);
        goto fail;
    }
    int got_one = lease_recv(c->fd, m, &rfd, e);
    if (got_one == 0)
        err_set(e, ERR_INTERNAL, NULL, 0, "the keeper closed the line");
    else if (got_one > 0 && m->op != LEASE_ANSWER)
        err_set(e, ERR_INTERNAL, NULL, EPROTO, "the keeper answered with op %u", m->op);
    if (got_one != 1 || m->op != LEASE_ANSWER)
        goto fail;
    if (got != NULL)
        *got = rfd;
    else if (rfd >= 0)
        close(rfd);
    return 0;
fail:
    if (rfd >= 0)
        close(rfd);
    lease_disconnect(c);
    return -1;
}

static void lease_fill(lease_msg *m, lease_op op, const char *function, uint64_t generation,
                       int mode)
{
    memset(m, 0, offsetof(lease_msg, unread));
    m->op = op;
    m->mode = (uint32_t)mode;
    m->generation = generation;
    snprintf(m->function, sizeof(m->function), "%s", function ? function : "");
}

int lease_take(lease_client_t *c, const char *function, uint64_t generation, int mode, int row,
               int thread, lease_msg *out, int *fd)
{
    *fd = -1;
    if (c == NULL)
        return 0;
    err_t e;
    lease_fill(out, LEASE_TAKE, function, generation, mode);
    out->row = row;
    out->thread = thread;
    /* A keeper that cannot answer is a miss like any other. */
    if (lease_ask(c, out, -1, fd, LEASE_TAKE_WAIT_MS, &e) != 0)
        return 0;
    if (out->start == 0 || *fd < 0) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return 0;
    }
    return 1;
}

int lease_give(lease_client_t *c, const char *function, uint64_t generation, int mode,
               const char *cid, const char *run, bool leased, int engine, int fd,
               const char *unread, size_t unread_len, err_t *e)
{
    lease_msg m;
    if (c == NULL)
        return err_set(e, ERR_INTERNAL, NULL, 0, "no keeper runs (warm starts are off)");
    if (unread_len > LEASE_UNREAD_MAX)
        return err_set(e, ERR_INTERNAL, NULL, 0, "%zu bytes unread, past the %d a lease carries",
                       unread_len, LEASE_UNREAD_MAX);
    lease_fill(&m, LEASE_GIVE, function, generation, mode);
    m.leased = leased;
    m.engine = engine;
    snprintf(m.cid, sizeof(m.cid), "%s", cid);
    snprintf(m.run, sizeof(m.run), "%s", run);
    m.unread_len = (uint32_t)unread_len;
    if (unread_len > 0)
        memcpy(m.unread, unread, unread_len);
    return lease_ask(c, &m, fd, NULL, LEASE_GIVE_WAIT_MS, e);
}

int lease_remove(lease_client_t *c, const char *function, const char *cid, bool leased, int engine,
                 err_t *e)
{
    lease_msg m;
    if (c == NULL)
        return err_set(e, ERR_INTERNAL, NULL, 0, "no keeper runs (warm starts are off)");
    if (lease_connect(c, e) != 0)
        return -1;
    lease_fill(&m, LEASE_REMOVE, function, 0, 0);
    m.leased = leased;
    m.engine = engine;
    snprintf(m.cid, sizeof(m.cid), "%s", cid);
    if (lease_send(c->fd, &m, -1, e) != 0) {
        lease_disconnect(c);
        return -1;
    }
    return 0;
}

int lease_drain(lease_client_t *c, const char *function, uint64_t generation, err_t *e)
{
    lease_msg m;
    err_t none;
    if (c == NULL)
        return 0;
    if (lease_connect(c, &none) != 0)
        return 0; /* no keeper: nothing is warm */
    lease_fill(&m, LEASE_DRAIN, function, generation, 0);
    return lease_ask(c, &m, -1, NULL, LEASE_DRAIN_WAIT_MS, e);
}
