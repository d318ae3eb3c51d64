/*
 * Unit tests for lease: messages and descriptors over a SOCK_SEQPACKET
 * pair, a message of the wrong size refused, and a client whose keeper is
 * missing or answers: TAKE never waits, GIVE and DRAIN get their answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "run/lease.h"

static void test_send_recv_fd(void **state)
{
    err_t e;
    int sv[2], pipefd[2], got = -1;
    lease_msg m, r;
    char buf[8];
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    assert_int_equal(pipe(pipefd), 0);
    memset(&m, 0, sizeof(m));
    m.op = LEASE_GIVE;
    snprintf(m.cid, sizeof(m.cid), "abc");
    m.unread_len = 3;
    memcpy(m.unread, "xyz", 3);
    assert_int_equal(lease_send(sv[0], &m, pipefd[1], &e), 0);
    close(pipefd[1]);
    assert_int_equal(lease_recv(sv[1], &r, &got, &e), 1);
    assert_int_equal(r.op, LEASE_GIVE);
    assert_string_equal(r.cid, "abc");
    assert_memory_equal(r.unread, "xyz", 3);
    assert_true(got >= 0);
    /* The descriptor is the pipe's write end, alive in this process. */
    assert_int_equal(write(got, "ok", 2), 2);
    assert_int_equal(read(pipefd[0], buf, 2), 2);
    close(got);
    /* Without a descriptor. */
    assert_int_equal(lease_send(sv[0], &m, -1, &e), 0);
    assert_int_equal(lease_recv(sv[1], &r, &got, &e), 1);
    assert_int_equal(got, -1);
    /* A message of another size is not one. */
    assert_int_equal(send(sv[0], "short", 5, 0), 5);
    assert_int_equal(lease_recv(sv[1], &r, &got, &e), -1);
    assert_int_equal(e.sys, EPROTO);
    assert_non_null(strstr(e.msg, "recvmsg()"));
    /* An unread length past the bound is refused. */
    m.unread_len = LEASE_UNREAD_MAX + 1;
    assert_int_equal(lease_send(sv[0], &m, -1, &e), 0);
    assert_int_equal(lease_recv(sv[1], &r, &got, &e), -1);
    close(sv[0]);
    assert_int_equal(lease_recv(sv[1], &r, &got, &e), 0);
    close(sv[1]);
    close(pipefd[0]);
}

static void test_no_keeper(void **state)
{
    err_t e;
    lease_msg m;
    int fd;
    (void)state;
    lease_client_t *c = lease_client_new("/nonexistent/keeper.sock");
    assert_non_null(c);
    long long t0 = clock_mono_ms();
    assert_int_equal(lease_take(c, "f", 1, 1, 0, 0, &m, &fd), 0);
    assert_int_equal(fd, -1);
    assert_int_equal(lease_give(c, "f", 1, 1, "cid", "run", false, 0, 0, NULL, 0, &e), -1);
    /* The take's failed connect holds back the next try; the error says so. */
    assert_non_null(strstr(e.msg, "/nonexistent/keeper.sock"));
    assert_int_equal(lease_remove(c, "f", "cid", false, 0, &e), -1);
    assert_int_equal(lease_drain(c, "f", 0, &e), 0);
    assert_true(clock_mono_ms() - t0 < 1000);
    lease_client_free(c);
    /* A NULL client (warm starts off) is a cold start. */
    assert_int_equal(lease_take(NULL, "f", 1, 1, 0, 0, &m, &fd), 0);
}

/* A keeper that answers one TAKE with a pipe, and then stays silent. */
typedef struct {
    int listen_fd;
    int pipefd[2];
    int sent; /* the answer went out (read after the join) */
} fake_keeper;

static void *fake_keeper_main(void *arg)
{
    err_t e;
    fake_keeper *k = arg;
    lease_msg m;
    int fd;
    int c = accept(k->listen_fd, NULL, NULL);
    if (c < 0)
        return NULL;
    if (lease_recv(c, &m, &fd, &e) == 1 && m.op == LEASE_TAKE) {
        m.op = LEASE_ANSWER;
        m.start = 1;
        snprintf(m.cid, sizeof(m.cid), "cid-%s", m.function);
        k->sent = lease_send(c, &m, k->pipefd[1], &e) == 0;
    }
    /* The next TAKE gets no answer: the client must not wait long. Its
     * message is read and dropped (or the line is gone already). */
    if (lease_recv(c, &m, &fd, &e) == 1 && fd >= 0)
        close(fd);
    char b;
    while (read(c, &b, 1) > 0)
        ;
    close(c);
    return NULL;
}

static void test_take_answered_and_silent(void **state)
{
    fake_keeper k;
    char dir[] = "/tmp/ml-lease-XXXXXX", path[108];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    pthread_t t;
    lease_msg m;
    int fd;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/k.sock", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    k.sent = 0;
    k.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(bind(k.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(k.listen_fd, 4), 0);
    assert_int_equal(pipe(k.pipefd), 0);
    assert_int_equal(pthread_create(&t, NULL, fake_keeper_main, &k), 0);

    lease_client_t *c = lease_client_new(path);
    assert_int_equal(lease_take(c, "fn", 9, 2, 0, 1, &m, &fd), 1);
    assert_string_equal(m.cid, "cid-fn");
    assert_int_equal(m.row, 0);
    assert_int_equal(m.thread, 1);
    assert_true(fd >= 0);
    close(fd);
    long long t0 = clock_mono_ms();
    assert_int_equal(lease_take(c, "fn", 9, 2, 0, 1, &m, &fd), 0);
    long long waited = clock_mono_ms() - t0;
    assert_true(waited < 1000);
    lease_client_free(c); /* closes the line: the fake keeper ends */
    pthread_join(t, NULL);
    assert_true(k.sent);
    close(k.listen_fd);
    close(k.pipefd[0]);
    close(k.pipefd[1]);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_recv_fd),
        cmocka_unit_test(test_no_keeper),
        cmocka_unit_test(test_take_answered_and_silent),
    };
    return cmocka_run_group_tests_name("lease", tests, NULL, NULL);
}
