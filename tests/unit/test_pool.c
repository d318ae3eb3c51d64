/*
 * Unit tests for the pool's master: the respawn backoff and which process
 * may start (pool_backoff, pool_may_start, pure), and pool_run itself in a
 * child of the test: a pool that cannot open its data dir does not start
 * (exit 1, nothing forked, no socket), and one that runs (a worker, an executor, the janitor;
 * its engine a socket nothing listens on) starts each of them again when
 * killed, the executor after the janitor recovered its claims, and stops
 * them all on SIGTERM with 0, removing its sockets. Every wait has a
 * deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "proc/pool.h"

#define DEADLINE_MS 20000

static void test_backoff(void **state)
{
    (void)state;
    /* A crash loop: from the minimum, doubling, capped. */
    long long b = 0;
    long long want[] = {100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        b = pool_backoff(10, b);
        assert_int_equal(b, want[i]);
    }
    assert_int_equal(pool_backoff(POOL_STABLE_MS - 1, 0), POOL_BACKOFF_MIN_MS);
    /* A stable life starts again at once, whatever came before. */
    assert_int_equal(pool_backoff(POOL_STABLE_MS, POOL_BACKOFF_MAX_MS), 0);
    assert_int_equal(pool_backoff(POOL_STABLE_MS * 100, 400), 0);
    assert_int_equal(pool_backoff(0, 6000), POOL_BACKOFF_MAX_MS);
}

/* Rows 0-1 workers, 2-3 executors, 4 the janitor, 5 the keeper. */
static void test_may_start(void **state)
{
    (void)state;
    slots_t *s = slots_create(2, 2, 1);
    assert_non_null(s);
    for (int i = 0; i < 6; i++)
        assert_true(pool_may_start(s, 2, 2, i));
    slots_need_recovery(s, SLOTS_ALL_ROWS);
    for (int i = 0; i < 6; i++)
        assert_int_equal(pool_may_start(s, 2, 2, i), i < 2 || i > 3);
    slots_recovered(s, SLOTS_ALL_ROWS);
    slots_need_recovery(s, 3);
    assert_true(pool_may_start(s, 2, 2, 2));
    assert_false(pool_may_start(s, 2, 2, 3));
    slots_recovered(s, 3);
    assert_true(pool_may_start(s, 2, 2, 3));
    slots_destroy(s);
}

/* A temporary directory and the settings of a small pool in it. Its
 * DOCKER_HOST, a socket nothing listens on, stays set until place_close:
 * the pool's processes make their engine from it. */
typedef struct {
    char dir[64];
    config_t cfg;
} place;

static const char *const place_names[] = {"MINILAMBDA_DATA_DIR",        "MINILAMBDA_RUN_DIR",
                                          "MINILAMBDA_METRICS_SHM",     "MINILAMBDA_WORKERS",
                                          "MINILAMBDA_ASYNC_WORKERS",   "MINILAMBDA_THREADS",
                                          "MINILAMBDA_CONTROL_THREADS", "MINILAMBDA_WARM_MAX",
                                          "MINILAMBDA_GRACE",           "DOCKER_HOST"};
#define PLACE_NAMES (sizeof(place_names) / sizeof(place_names[0]))

/* With `data` the data dir under the temporary one. */
static void place_open(place *pl, const char *data)
{
    char v[PLACE_NAMES][160];
    err_t e;
    snprintf(pl->dir, sizeof(pl->dir), "/tmp/ml-pool-XXXXXX");
    assert_non_null(mkdtemp(pl->dir));
    snprintf(v[0], sizeof(v[0]), "%s/%s", pl->dir, data);
    snprintf(v[1], sizeof(v[1]), "%s/run", pl->dir);
    snprintf(v[2], sizeof(v[2]), "/ml-test-pool-%d", (int)getpid());
    snprintf(v[3], sizeof(v[3]), "1");
    snprintf(v[4], sizeof(v[4]), "1");
    snprintf(v[5], sizeof(v[5]), "1");
    snprintf(v[6], sizeof(v[6]), "1");
    snprintf(v[7], sizeof(v[7]), "0");
    snprintf(v[8], sizeof(v[8]), "1");
    snprintf(v[9], sizeof(v[9]), "unix://%s/no-engine.sock", pl->dir);
    assert_int_equal(mkdir(v[1], 0700), 0);
    for (size_t i = 0; i < PLACE_NAMES; i++)
        assert_int_equal(setenv(place_names[i], v[i], 1), 0);
    if (config_load(&pl->cfg, &e) != 0)
        fail_msg("config_load: %s", e.msg);
}

static void place_close(place *pl)
{
    char cmd[128];
    for (size_t i = 0; i < PLACE_NAMES; i++)
        unsetenv(place_names[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pl->dir);
    assert_int_equal(system(cmd), 0);
}

/* The pool's master while it runs, for the teardown of a test that
 * failed before it ended (its processes die with it). */
static pid_t running;

/* pool_run in a child; its pid. */
static pid_t pool_start(const place *pl)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(pool_run(&pl->cfg, "test-pool"));
    running = pid;
    return pid;
}

/* Its exit status once it ends, or -1 at the deadline (then killed). */
static int pool_wait(pid_t pid)
{
    int status;
    long long until = clock_mono_ms() + DEADLINE_MS;
    running = 0;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (clock_mono_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        poll(NULL, 0, 10);
    }
}

/* The children of process `pid`, at most `max`, into `out`; how many. */
static int children(pid_t pid, pid_t *out, int max)
{
    char path[64];
    int n = 0;
    long v;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    while (n < max && fscanf(f, "%ld", &v) == 1)
        out[n++] = (pid_t)v;
    fclose(f);
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A data dir that cannot be made: no pool, nothing forked, no socket,
 * status 1. */
static void test_cannot_open(void **state)
{
    place pl;
    char path[160];
    (void)state;
    place_open(&pl, "file/data");
    snprintf(path, sizeof(path), "%s/file", pl.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    pid_t pid = pool_start(&pl);
    assert_int_equal(pool_wait(pid), 1);
    assert_false(exists(pl.cfg.socket));
    assert_false(exists(pl.cfg.invoke_socket));
    place_close(&pl);
}

/* Every process killed is started again; SIGTERM stops them all. */
static void test_respawn_and_stop(void **state)
{
    place pl;
    pid_t first[8], again[8];
    int n = 0;
    (void)state;
    place_open(&pl, "data");
    pid_t pid = pool_start(&pl);
    long long until = clock_mono_ms() + DEADLINE_MS;
    /* A worker, an executor (once the janitor recovered), the janitor. */
    while ((n = children(pid, first, 8)) < 3 && clock_mono_ms() < until)
        poll(NULL, 0, 10);
    assert_int_equal(n, 3);
    while (!(exists(pl.cfg.socket) && exists(pl.cfg.invoke_socket)) && clock_mono_ms() < until)
        poll(NULL, 0, 10);
    assert_true(exists(pl.cfg.socket));
    assert_true(exists(pl.cfg.invoke_socket));

    for (int i = 0; i < n; i++)
        assert_int_equal(kill(first[i], SIGKILL), 0);
    int m = 0;
    bool fresh = false;
    while (!fresh && clock_mono_ms() < until) {
        poll(NULL, 0, 10);
        m = children(pid, again, 8);
        fresh = m == 3;
        for (int i = 0; fresh && i < m; i++)
            for (int k = 0; k < n; k++)
                fresh = fresh && again[i] != first[k];
    }
    assert_true(fresh);

    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(pool_wait(pid), 0);
    for (int i = 0; i < m; i++) {
        assert_int_equal(kill(again[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
    assert_false(exists(pl.cfg.socket));
    assert_false(exists(pl.cfg.invoke_socket));
    place_close(&pl);
}

static int teardown(void **state)
{
    (void)state;
    if (running > 0) {
        kill(running, SIGKILL);
        waitpid(running, NULL, 0);
        running = 0;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_may_start),
        cmocka_unit_test_teardown(test_cannot_open, teardown),
        cmocka_unit_test_teardown(test_respawn_and_stop, teardown),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
