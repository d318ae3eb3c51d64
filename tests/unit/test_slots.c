/*
 * Unit tests for slots: the global concurrency count across workers, its
 * release when a worker dies, and the table of runs holding containers that
 * the cold runtime keeps and the janitor reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "slots.h"

static void test_limit_across_workers(void **state)
{
    (void)state;
    slots_t *s = slots_create(2, 1, 4);
    assert_non_null(s);
    /* Three slots in all, whichever worker takes them. */
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 3), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 3), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 3), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 3), -1);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 3), -1);
    slots_release(s, SLOTS_INVOKE, 1);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 3), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 3), -1);
    slots_destroy(s);
}

/* A worker that dies holding slots gives them all back through the
 * master's reset, and only its own. */
static void test_reset_worker_returns_slots(void **state)
{
    (void)state;
    slots_t *s = slots_create(2, 0, 2);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 4), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 4), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 4), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 4), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 4), -1);
    slots_reset_worker(s, 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 4), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 4), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 4), -1);
    slots_destroy(s);
}

/* The table is shared with forked processes: a child's acquire counts in
 * the parent, as a worker's does in the master. */
static void test_shared_across_fork(void **state)
{
    (void)state;
    slots_t *s = slots_create(2, 0, 1);
    pid_t pid = fork();
    if (pid == 0)
        _exit(slots_acquire(s, SLOTS_INVOKE, 1, 1) == 0 ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 1), -1);
    slots_reset_worker(s, 1);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 1), 0);
    slots_destroy(s);
}

static void test_track_runs(void **state)
{
    uuid_t a, b, zero;
    (void)state;
    uuid_generate_random(a);
    uuid_generate_random(b);
    uuid_clear(zero);
    slots_t *s = slots_create(1, 2, 3);
    assert_false(slots_running(s, a));
    slots_track(s, 0, 2, a);
    slots_track(s, 2, 0, b); /* an executor's row, past the workers */
    assert_true(slots_running(s, a));
    assert_true(slots_running(s, b));
    slots_untrack(s, 0, 2);
    assert_false(slots_running(s, a));
    assert_true(slots_running(s, b));
    /* Tracking counts nothing against the limit. */
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 1), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 1), -1);
    /* A dead process's entries go with its row. */
    slots_track(s, 0, 1, a);
    slots_reset_worker(s, 0);
    assert_false(slots_running(s, a));
    slots_reset_worker(s, 2);
    assert_false(slots_running(s, b));
    assert_false(slots_running(s, zero));
    slots_destroy(s);
}

/* Uploads have their own limit: a full invocation limit does not block
 * one, nor the reverse, and a dead worker gives both back. */
static void test_pools_are_separate(void **state)
{
    (void)state;
    slots_t *s = slots_create(2, 0, 1);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 0, 1), 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 1), -1);
    assert_int_equal(slots_acquire(s, SLOTS_UPLOAD, 1, 2), 0);
    assert_int_equal(slots_acquire(s, SLOTS_UPLOAD, 0, 2), 0);
    assert_int_equal(slots_acquire(s, SLOTS_UPLOAD, 1, 2), -1);
    slots_release(s, SLOTS_UPLOAD, 1);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 1), -1);
    assert_int_equal(slots_acquire(s, SLOTS_UPLOAD, 1, 2), 0);
    slots_reset_worker(s, 0);
    assert_int_equal(slots_acquire(s, SLOTS_INVOKE, 1, 1), 0);
    assert_int_equal(slots_acquire(s, SLOTS_UPLOAD, 1, 2), 0);
    assert_int_equal(slots_acquire(s, SLOTS_UPLOAD, 1, 2), -1);
    slots_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_across_workers),
        cmocka_unit_test(test_reset_worker_returns_slots),
        cmocka_unit_test(test_shared_across_fork),
        cmocka_unit_test(test_track_runs),
        cmocka_unit_test(test_pools_are_separate),
    };
    return cmocka_run_group_tests_name("slots", tests, NULL, NULL);
}
