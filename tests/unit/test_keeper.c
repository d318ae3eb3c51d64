/*
 * Unit tests for the keeper's pool arithmetic (keeper.h): what a function
 * wants ready (keep_warm, adaptive warmth, a lone miss's hold), the cap on
 * what comes back, the idle expiry and the least recently readied going
 * first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "proc/keeper.h"

static void test_want(void **state)
{
    (void)state;
    /* keep_warm alone, idle or not. */
    assert_int_equal(keeper_want(2, false, 4, false), 2);
    assert_int_equal(keeper_want(0, false, 4, false), 0);
    /* Called lately: its burst when more than keep_warm. */
    assert_int_equal(keeper_want(0, true, 1, false), 1);
    assert_int_equal(keeper_want(1, true, 3, false), 3);
    assert_int_equal(keeper_want(5, true, 3, false), 5);
    /* A lone miss's cold call still running: keep_warm only. */
    assert_int_equal(keeper_want(0, true, 3, true), 0);
    assert_int_equal(keeper_want(2, true, 3, true), 2);
    /* A negative keep_warm is none. */
    assert_int_equal(keeper_want(-1, false, 0, false), 0);
}

static void test_keeps_cap(void **state)
{
    (void)state;
    /* Kept only while ready and being made are under the want: those out
     * on calls are busy and do not count. */
    assert_true(keeper_keeps(1, 0, 0));
    assert_false(keeper_keeps(1, 1, 0));
    assert_false(keeper_keeps(1, 0, 1));
    assert_true(keeper_keeps(4, 2, 1));
    assert_false(keeper_keeps(4, 3, 1));
    /* Nothing wanted (idle, no keep_warm): nothing kept. */
    assert_false(keeper_keeps(0, 0, 0));
}

static void test_idle_expiry(void **state)
{
    (void)state;
    /* Never called: not active. */
    assert_false(keeper_is_active(0, 1000, 300));
    assert_true(keeper_is_active(1000, 1000, 300));
    assert_true(keeper_is_active(1000, 1000 + 299999, 300));
    assert_false(keeper_is_active(1000, 1000 + 300000, 300));
    /* MINILAMBDA_WARM_IDLE 0: only keep_warm. */
    assert_false(keeper_is_active(1000, 1000, 0));
}

static void test_lru(void **state)
{
    long long since[] = {50, 10, 30, 5, 70};
    bool may_go[] = {true, true, true, false, true};
    bool none[] = {false, false, false, false, false};
    (void)state;
    /* The oldest that may go: entry 3 is older but kept (keep_warm). */
    assert_int_equal(keeper_lru(since, may_go, 5), 1);
    may_go[1] = false;
    assert_int_equal(keeper_lru(since, may_go, 5), 2);
    assert_int_equal(keeper_lru(since, none, 5), -1);
    assert_int_equal(keeper_lru(since, may_go, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_want),
        cmocka_unit_test(test_keeps_cap),
        cmocka_unit_test(test_idle_expiry),
        cmocka_unit_test(test_lru),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
