/*
 * Unit tests for throttle, what test_keys's throttle tests leave out: key
 * ids the same in their first THROTTLE_ID_MAX - 1 bytes share a bucket
 * (and no shorter prefix does), the wait a bucket names is the time to its
 * next token, and a process that dies inside the tables' lock wedges
 * nothing: the next one takes the lock over and the limits still hold.
 * (Rates, failures and a full table are test_keys's.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "state/throttle.h"

static void test_long_ids(void **state)
{
    char a[THROTTLE_ID_MAX + 8], b[THROTTLE_ID_MAX + 8], c[THROTTLE_ID_MAX + 8];
    (void)state;
    throttle_t *t = throttle_create();
    assert_non_null(t);
    memset(a, 'k', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[THROTTLE_ID_MAX - 1] = 'x'; /* past what counts */
    memcpy(c, a, sizeof(c));
    c[THROTTLE_ID_MAX - 2] = 'x'; /* the last byte that counts */
    assert_int_equal(throttle_take(t, a, 1), 0);
    assert_true(throttle_take(t, b, 1) > 0);
    assert_int_equal(throttle_take(t, c, 1), 0);
    throttle_destroy(t);
}

/* At rate 2 a request after the burst waits about half a second; at 4,
 * about a quarter. */
static void test_wait(void **state)
{
    (void)state;
    throttle_t *t = throttle_create();
    assert_non_null(t);
    assert_int_equal(throttle_take(t, "two", 2), 0);
    assert_int_equal(throttle_take(t, "two", 2), 0);
    long w = throttle_take(t, "two", 2);
    assert_true(w > 400 && w <= 501);
    for (int i = 0; i < 4; i++)
        assert_int_equal(throttle_take(t, "four", 4), 0);
    w = throttle_take(t, "four", 4);
    assert_true(w > 150 && w <= 251);
    /* A refused request takes nothing: the next waits no longer. */
    long again = throttle_take(t, "four", 4);
    assert_true(again <= w);
    throttle_destroy(t);
}

/* A child that takes from the tables as fast as it can. Killed at any
 * moment, often inside the lock. */
static pid_t hammer(throttle_t *t, int ready)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char addr[THROTTLE_ADDR_LEN] = {10, 0, 0, 1};
        for (long i = 0;; i++) {
            char id[32];
            snprintf(id, sizeof(id), "h-%ld", i % 500);
            throttle_take(t, id, 1000);
            throttle_fail(t, addr);
            if (i == 1000 && write(ready, "r", 1) != 1)
                _exit(1);
        }
    }
    return pid;
}

static void test_owner_died(void **state)
{
    int p[2];
    char c;
    (void)state;
    throttle_t *t = throttle_create();
    assert_non_null(t);
    assert_int_equal(pipe(p), 0);
    for (int round = 0; round < 40; round++) {
        pid_t pid = hammer(t, p[1]);
        /* A lock its predecessor left would hold it up for good. */
        struct pollfd r = {.fd = p[0], .events = POLLIN};
        if (poll(&r, 1, 10000) != 1) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("a lock left by a dead process wedged the tables (round %d)", round);
        }
        assert_int_equal(read(p[0], &c, 1), 1);
        /* Let it run a while (a different while each round), so that it
         * is killed mid-loop, not as it returns from its write. */
        long long until = clock_mono_us() + 100 + (round * 137) % 2000;
        while (clock_mono_us() < until)
            ;
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
    }
    close(p[0]);
    close(p[1]);
    /* In another child, so a wedged lock fails the test instead of
     * hanging it: the limits still hold. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char addr[THROTTLE_ADDR_LEN] = {192, 168, 0, 9};
        bool ok = throttle_take(t, "after", 1) == 0 && throttle_take(t, "after", 1) > 0;
        int a = throttle_fail(t, addr), b = throttle_fail(t, addr);
        ok = ok && a >= 1 && (b == a + 1 || b == 1);
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    long long until = clock_mono_ms() + 10000;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (clock_mono_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("a lock left by a dead process wedged the tables");
        }
        poll(NULL, 0, 10);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    throttle_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_ids),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_owner_died),
    };
    return cmocka_run_group_tests_name("throttle", tests, NULL, NULL);
}
