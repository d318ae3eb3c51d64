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

#include "state/slots.h"

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

/* Upload slots: a key's share and an address's, exact (not hashed), and
 * given back by a release or by the dead worker's reset. */
static void test_upload_shares(void **state)
{
    (void)state;
    slots_refusal why;
    slots_t *s = slots_create(2, 0, 2);
    /* 4 slots, 2 per key, 3 per address. */
    int a1 = slots_upload_acquire(s, 0, "key-a", "10.0.0.1", 4, 2, 3, &why);
    int a2 = slots_upload_acquire(s, 1, "key-a", "10.0.0.2", 4, 2, 3, &why);
    assert_true(a1 >= 0 && a2 >= 0 && a1 != a2);
    assert_int_equal(slots_upload_acquire(s, 0, "key-a", "10.0.0.3", 4, 2, 3, &why), -1);
    assert_int_equal(why, SLOTS_KEY_SHARE);
    /* Another key, and one whose name only begins alike. */
    assert_true(slots_upload_acquire(s, 0, "key-b", "10.0.0.1", 4, 2, 3, &why) >= 0);
    assert_true(slots_upload_acquire(s, 0, "key-a2", "10.0.0.1", 4, 2, 3, &why) >= 0);
    assert_int_equal(slots_upload_acquire(s, 0, "key-c", "10.0.0.8", 4, 2, 3, &why), -1);
    assert_int_equal(why, SLOTS_UPLOADS_FULL);
    /* Released (twice is a no-op): room again, but not for a fourth from
     * 10.0.0.1. */
    slots_upload_release(s, 1, a2);
    slots_upload_release(s, 1, a2);
    assert_int_equal(slots_upload_acquire(s, 1, "key-e", "10.0.0.1", 4, 2, 3, &why), -1);
    assert_int_equal(why, SLOTS_ADDR_SHARE);
    assert_true(slots_upload_acquire(s, 1, "key-a", "10.0.0.4", 4, 2, 3, &why) >= 0);
    /* Worker 0 dies: its three are free, worker 1's key-a stays. */
    slots_reset_worker(s, 0);
    assert_true(slots_upload_acquire(s, 0, "key-a", "10.0.0.5", 4, 2, 3, &why) >= 0);
    assert_int_equal(slots_upload_acquire(s, 0, "key-a", "10.0.0.5", 4, 2, 3, &why), -1);
    assert_int_equal(why, SLOTS_KEY_SHARE);
    /* No key: only the address counts. */
    assert_true(slots_upload_acquire(s, 0, "", "10.0.0.6", 4, 2, 1, &why) >= 0);
    assert_int_equal(slots_upload_acquire(s, 0, "", "10.0.0.6", 4, 2, 1, &why), -1);
    assert_int_equal(why, SLOTS_ADDR_SHARE);
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
        cmocka_unit_test(test_upload_shares),
    };
    return cmocka_run_group_tests_name("slots", tests, NULL, NULL);
}
