/*
 * Unit tests for supervise: a supervisor runs in a forked child over a toy
 * master that reports each start through a pipe. A master killed with
 * SIGKILL comes back within a second, and only once the processes it left
 * are gone; a crash loop backs off; SIGTERM is forwarded and the supervisor
 * exits 0; a master that exits 0 stops the supervisor; a supervisor killed
 * with SIGKILL takes its master with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "proc/supervise.h"

typedef enum {
    MASTER_WAIT,   /* report, then wait for SIGTERM or SIGINT and exit 0 */
    MASTER_FAIL,   /* report, then exit 1 at once */
    MASTER_EXIT0,  /* report, then exit 0 at once */
    MASTER_WORKER, /* like MASTER_WAIT, with a child that dies with it */
} master_mode;

typedef enum { REPORT_MASTER = 1, REPORT_WORKER = 2 } report_kind;

typedef struct {
    int kind;
    pid_t pid;
} report;

typedef struct {
    int fd; /* the pipe's write end */
    master_mode mode;
} master_arg;

static int master_report(int fd, report_kind kind)
{
    report r = {kind, getpid()};
    return write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : -1;
}

static void master_wait_stop(void)
{
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
}

static int master_body(void *p)
{
    const master_arg *a = p;
    if (master_report(a->fd, REPORT_MASTER) != 0)
        return 3;
    if (a->mode == MASTER_FAIL)
        return 1;
    if (a->mode == MASTER_EXIT0)
        return 0;
    if (a->mode == MASTER_WORKER && fork() == 0) {
        /* As a pool worker does: die with the master. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        master_report(a->fd, REPORT_WORKER);
        for (;;)
            pause();
    }
    master_wait_stop();
    return 0;
}

/* Fork a supervisor over master_body in `mode`; the pipe's read end in *rd. */
static pid_t start_supervisor(master_mode mode, int *rd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        master_arg a = {.fd = p[1], .mode = mode};
        _exit(supervise_run(1, master_body, &a));
    }
    close(p[1]);
    *rd = p[0];
    return pid;
}

/* The next report within `ms`: 0, or -1 (none came, or every writer is gone). */
static int next_report(int rd, int ms, report *r)
{
    struct pollfd pfd = {.fd = rd, .events = POLLIN};
    if (poll(&pfd, 1, ms) <= 0)
        return -1;
    return read(rd, r, sizeof(*r)) == (ssize_t)sizeof(*r) ? 0 : -1;
}

/* Wait up to `ms` for child `pid` to end; its status, or -1 if it did not. */
static int wait_child(pid_t pid, int ms)
{
    long long until = clock_mono_ms() + ms;
    int status;
    do {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        usleep(10 * 1000);
    } while (clock_mono_ms() < until);
    return -1;
}

static int gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

static void test_restart_after_sigkill(void **state)
{
    (void)state;
    int rd;
    report r1, r2;
    pid_t sup = start_supervisor(MASTER_WAIT, &rd);
    assert_int_equal(next_report(rd, 5000, &r1), 0);
    assert_int_equal(r1.kind, REPORT_MASTER);

    long long t0 = clock_mono_ms();
    assert_int_equal(kill(r1.pid, SIGKILL), 0);
    assert_int_equal(next_report(rd, 2000, &r2), 0);
    long long took = clock_mono_ms() - t0;
    assert_int_equal(r2.kind, REPORT_MASTER);
    assert_int_not_equal(r2.pid, r1.pid);
    assert_true(took < 1000);

    /* SIGTERM reaches the master (which only exits on it) at once. */
    assert_int_equal(kill(sup, SIGTERM), 0);
    int status = wait_child(sup, 5000);
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(gone(r2.pid));
    /* No master was started after the stop. */
    assert_int_equal(next_report(rd, 100, &r1), -1);
    close(rd);
}

/* The processes of a dead master are gone before the next one starts. */
static void test_restart_waits_for_workers(void **state)
{
    (void)state;
    int rd;
    report m1, w1, m2, w2;
    pid_t sup = start_supervisor(MASTER_WORKER, &rd);
    assert_int_equal(next_report(rd, 5000, &m1), 0);
    assert_int_equal(next_report(rd, 5000, &w1), 0);
    assert_int_equal(m1.kind, REPORT_MASTER);
    assert_int_equal(w1.kind, REPORT_WORKER);

    assert_int_equal(kill(m1.pid, SIGKILL), 0);
    assert_int_equal(next_report(rd, 2000, &m2), 0);
    assert_int_equal(m2.kind, REPORT_MASTER);
    /* Reaped (by the supervisor, its subreaper) before m2 started. */
    assert_true(gone(w1.pid));
    assert_int_equal(next_report(rd, 2000, &w2), 0);
    assert_int_equal(w2.kind, REPORT_WORKER);

    assert_int_equal(kill(sup, SIGTERM), 0);
    int status = wait_child(sup, 5000);
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(gone(m2.pid));
    close(rd);
}

/* A master that fails at once is restarted after 100, 200, 400, 800 ms...:
 * a handful of starts in a second, not thousands. */
static void test_crash_loop_backs_off(void **state)
{
    (void)state;
    int rd, starts = 0;
    report r;
    pid_t sup = start_supervisor(MASTER_FAIL, &rd);
    long long until = clock_mono_ms() + 1000;
    long long left;
    while ((left = until - clock_mono_ms()) > 0)
        if (next_report(rd, (int)left, &r) == 0)
            starts++;
    assert_true(starts >= 3);
    assert_true(starts <= 5);

    /* Stopped while waiting to restart: exits at once. */
    assert_int_equal(kill(sup, SIGTERM), 0);
    int status = wait_child(sup, 1000);
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(rd);
}

/* A master that exits 0 was stopped on purpose: no restart. */
static void test_master_exit0_stops(void **state)
{
    (void)state;
    int rd;
    report r;
    pid_t sup = start_supervisor(MASTER_EXIT0, &rd);
    int status = wait_child(sup, 5000);
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(next_report(rd, 100, &r), 0);
    assert_int_equal(r.kind, REPORT_MASTER);
    assert_int_equal(next_report(rd, 100, &r), -1);
    close(rd);
}

/* SIGKILL to the supervisor: its master dies too (PR_SET_PDEATHSIG). This
 * process becomes the orphaned master's subreaper so that it can see how. */
static void test_supervisor_killed_takes_master(void **state)
{
    (void)state;
    int rd;
    report r;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    pid_t sup = start_supervisor(MASTER_WAIT, &rd);
    assert_int_equal(next_report(rd, 5000, &r), 0);
    assert_int_equal(kill(sup, SIGKILL), 0);
    int status = wait_child(sup, 5000);
    assert_true(status != -1 && WIFSIGNALED(status));
    status = wait_child(r.pid, 5000);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    close(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_after_sigkill),
        cmocka_unit_test(test_restart_waits_for_workers),
        cmocka_unit_test(test_crash_loop_backs_off),
        cmocka_unit_test(test_master_exit0_stops),
        cmocka_unit_test(test_supervisor_killed_takes_master),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
