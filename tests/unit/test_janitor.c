/*
 * Unit tests for the janitor's process (janitor_run in a child of the
 * test, which plays its master: the slots table is shared across the fork,
 * and the janitor's SIGUSR1 "recovered" comes to the test). Its engine is
 * a socket nothing listens on, so its sweeps fail quietly. Covered: at
 * start-up the temp files of interrupted writes go and every claim left
 * from before is recovered (the run queued again, the row marked done,
 * the master told); a dead executor's claims are recovered when the
 * master says so (SIGUSR1), not another's; finished records past the
 * retention are pruned on the interval; SIGTERM ends it with status 0.
 * Every wait has a deadline.
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
#include "platform.h"
#include "proc/janitor.h"

#define DEADLINE_S 10

/* A pass each second, and records kept one. */
static const char *const quick[] = {"MINILAMBDA_JANITOR_INTERVAL=1",
                                    "MINILAMBDA_INVOCATION_RETENTION=1", "MINILAMBDA_WARM_MAX=0",
                                    NULL};
/* No pass but the ones the master asks for. */
static const char *const slow[] = {"MINILAMBDA_JANITOR_INTERVAL=3600", "MINILAMBDA_WARM_MAX=0",
                                   NULL};

/* Wait for the janitor's SIGUSR1 (blocked here), at most DEADLINE_S. */
static bool told(void)
{
    sigset_t usr1;
    struct timespec ts = {DEADLINE_S, 0};
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    return sigtimedwait(&usr1, NULL, &ts) == SIGUSR1;
}

/* The janitor's pid while it runs, for the teardown of a test that
 * failed before it stopped it. */
static pid_t running;

/* The janitor of `p`, in a child: its pid. */
static pid_t janitor_start(platform_t *p)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        janitor_ctx x = {.cfg = &p->cfg,
                         .instance = "test-inst",
                         .slots = p->slots,
                         .first_executor = p->cfg.workers,
                         .executors = p->cfg.async_workers,
                         .engines = p->engines};
        _exit(janitor_run(&x));
    }
    running = pid;
    return pid;
}

/* SIGTERM the janitor and its exit status (-1: it did not end in time,
 * then it is killed). */
static int janitor_stop(pid_t pid)
{
    int status;
    running = 0;
    assert_int_equal(kill(pid, SIGTERM), 0);
    long long until = clock_mono_ms() + DEADLINE_S * 1000;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (clock_mono_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        poll(NULL, 0, 10);
    }
}

/* Queue a run of "fn" and claim it for executor `executor`; its id into
 * `id`. */
static void queued(platform_t *p, char *id);

static void claimed(platform_t *p, int executor, char *id)
{
    async_job job;
    long long next = -1;
    err_t e;
    queued(p, id);
    assert_int_equal(async_claim(p->app.async, executor, &job, &next, &e), 1);
    assert_string_equal(job.id, id);
    async_job_free(&job);
}

static const char *status_of(platform_t *p, const char *id)
{
    static char out[32];
    json_object *rec = NULL;
    err_t e;
    if (async_get(p->app.async, id, &rec, &e) != 0)
        return "gone";
    snprintf(out, sizeof(out), "%s", json_object_get_string(json_object_object_get(rec, "status")));
    json_object_put(rec);
    return out;
}

static int setup(void **state)
{
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    platform_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    platform_open(p, "janitor", *state);
    platform_function(p, "{\"name\":\"fn\",\"image\":\"img\",\"retries\":3}", NULL);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    if (running > 0) {
        kill(running, SIGKILL);
        waitpid(running, NULL, 0);
        running = 0;
    }
    platform_close(*state);
    free(*state);
    return 0;
}

/* Start-up: temp files go, every claim from before is recovered, then
 * the master is told. */
static void test_startup(void **state)
{
    platform_t *p = *state;
    char a[RUNTIME_ID_LEN], b[RUNTIME_ID_LEN], tmp[160];
    struct stat st;
    claimed(p, 0, a);
    claimed(p, 1, b);
    assert_string_equal(status_of(p, a), "RUNNING");
    snprintf(tmp, sizeof(tmp), "%s/functions.json.tmp", p->data);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fclose(f);
    slots_need_recovery(p->slots, SLOTS_ALL_ROWS);

    pid_t pid = janitor_start(p);
    assert_true(told());
    assert_false(slots_needs_recovery(p->slots, SLOTS_ALL_ROWS));
    assert_string_equal(status_of(p, a), "PENDING");
    assert_string_equal(status_of(p, b), "PENDING");
    assert_int_equal(async_queue_depth(p->app.async), 2);
    assert_int_equal(stat(tmp, &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(janitor_stop(pid), 0);
}

/* A dead executor's claims, when the master asks; another's stay. */
static void test_dead_executor(void **state)
{
    platform_t *p = *state;
    char mine[RUNTIME_ID_LEN], live[RUNTIME_ID_LEN];
    /* The start-up's recovery (of nothing) says when its sweep of temp
     * files is over: only then may this process write. */
    slots_need_recovery(p->slots, SLOTS_ALL_ROWS);
    pid_t pid = janitor_start(p);
    assert_true(told());
    claimed(p, 1, mine);
    claimed(p, 2, live);
    int row = p->cfg.workers + 1;
    slots_need_recovery(p->slots, row);
    assert_int_equal(kill(pid, SIGUSR1), 0);
    assert_true(told());
    assert_false(slots_needs_recovery(p->slots, row));
    assert_string_equal(status_of(p, mine), "PENDING");
    assert_string_equal(status_of(p, live), "RUNNING");
    assert_int_equal(janitor_stop(pid), 0);
}

/* Queue a run of "fn"; its id into `id`. */
static void queued(platform_t *p, char *id)
{
    func_t *fn = NULL;
    json_object *rec = NULL;
    err_t e;
    assert_int_equal(store_get(p->app.store, "fn", &fn, &e), 0);
    assert_int_equal(async_accept(p->app.async, fn, "{}", 2, 0, 0, NULL, NULL, &rec, &e), 0);
    snprintf(id, RUNTIME_ID_LEN, "%s", json_object_get_string(json_object_object_get(rec, "id")));
    json_object_put(rec);
    func_free(fn);
}

/* Finished records past MINILAMBDA_INVOCATION_RETENTION go on the
 * interval; a pending one stays. */
static void test_prunes(void **state)
{
    platform_t *p = *state;
    char done[RUNTIME_ID_LEN], waiting[RUNTIME_ID_LEN];
    async_job job;
    runtime_result res;
    long long next = -1;
    err_t e;
    queued(p, done);
    assert_int_equal(async_claim(p->app.async, 0, &job, &next, &e), 1);
    runtime_result_init(&res);
    res.status = STATUS_SUCCEEDED;
    res.exit_code = 0;
    assert_int_equal(async_finish(p->app.async, &job, &res, 1, &e), 0);
    runtime_result_free(&res);
    async_job_free(&job);
    assert_string_equal(status_of(p, done), "COMPLETED");
    queued(p, waiting);

    pid_t pid = janitor_start(p);
    long long until = clock_mono_ms() + DEADLINE_S * 1000;
    while (strcmp(status_of(p, done), "gone") != 0 && clock_mono_ms() < until)
        poll(NULL, 0, 20);
    assert_string_equal(status_of(p, done), "gone");
    assert_string_equal(status_of(p, waiting), "PENDING");
    assert_int_equal(janitor_stop(pid), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_startup, setup, teardown, (void *)slow),
        cmocka_unit_test_prestate_setup_teardown(test_dead_executor, setup, teardown, (void *)slow),
        cmocka_unit_test_prestate_setup_teardown(test_prunes, setup, teardown, (void *)quick),
    };
    return cmocka_run_group_tests_name("janitor", tests, NULL, NULL);
}
