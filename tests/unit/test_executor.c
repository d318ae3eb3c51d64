/*
 * Unit tests for the executor's claim loop (executor_serve) in a thread,
 * against the real async queue of a temporary data dir (platform.h) and a
 * fake runtime that runs each claim as its event says: a run that
 * succeeds with its event as its output, one that fails (and is retried
 * while it has attempts), one the engine fails (back in the queue, not an
 * attempt), one that waits to be cancelled. Also: a run whose function was
 * deleted fails without running, no run is claimed while no engine
 * answers (two engines, both taken out), and a stop ends the loop.
 * Every wait polls with a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/clock.h"
#include "platform.h"
#include "proc/executor.h"
#include "state/status.h"

#define DEADLINE_MS 10000

/* What the fake runtime was asked, guarded by `mu`. */
typedef struct {
    pthread_mutex_t mu;
    int runs;
    int engine_faults_left; /* "engine" events fail this many more times */
    char ids[8][RUNTIME_ID_LEN], run_ids[8][RUNTIME_ID_LEN];
    int attempts[8], timeouts[8];
    bool saw_cancel;
} fake_rt;

static fake_rt fr;

static int fake_acquire(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                        runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    (void)req;
    (void)l;
    (void)res;
    return 0;
}

static bool has_word(const runtime_req *req, const char *word)
{
    return memmem(req->event, req->event_len, word, strlen(word)) != NULL;
}

static int fake_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                    runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    (void)l;
    pthread_mutex_lock(&fr.mu);
    int n = fr.runs++;
    if (n < 8) {
        snprintf(fr.ids[n], RUNTIME_ID_LEN, "%s", req->id);
        snprintf(fr.run_ids[n], RUNTIME_ID_LEN, "%s", req->run);
        fr.attempts[n] = req->attempt;
        fr.timeouts[n] = req->timeout_s;
    }
    bool engine = has_word(req, "engine") && fr.engine_faults_left > 0;
    if (engine)
        fr.engine_faults_left--;
    pthread_mutex_unlock(&fr.mu);
    if (engine) {
        runtime_fail(res, STATUS_UNAVAILABLE, "no engine answers");
        res->engine_fault = true;
        return -1;
    }
    if (has_word(req, "wait-cancel")) {
        long long until = clock_mono_ms() + DEADLINE_MS;
        while (!req->cancelled(req->cancelled_arg) && clock_mono_ms() < until)
            poll(NULL, 0, 5);
        pthread_mutex_lock(&fr.mu);
        fr.saw_cancel = req->cancelled(req->cancelled_arg);
        pthread_mutex_unlock(&fr.mu);
        runtime_fail(res, STATUS_CANCELLED, "cancelled");
        return -1;
    }
    buf_append(&res->out, req->event, req->event_len);
    res->exit_code = has_word(req, "fail") ? 1 : 0;
    res->status = res->exit_code == 0 ? STATUS_SUCCEEDED : STATUS_FAILED;
    return 0;
}

static void fake_release(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                         runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    (void)req;
    (void)l;
    (void)res;
}

static bool fake_live(runtime_t *rt, json_object *labels)
{
    (void)rt;
    (void)labels;
    return false;
}

static void fake_free(void *impl)
{
    (void)impl;
}

static const runtime_ops fake_ops = {"fake",       fake_acquire, fake_run,
                                     fake_release, fake_live,    fake_free};

static int runs(void)
{
    pthread_mutex_lock(&fr.mu);
    int n = fr.runs;
    pthread_mutex_unlock(&fr.mu);
    return n;
}

/* The executor of a platform, its loop in a thread. */
typedef struct {
    platform_t p;
    executor_ctx x;
    runtime_seat seat;
    int stop[2], ifd;
    pthread_t th;
    bool started;
    int rc;
} fixture;

static void *serve(void *arg)
{
    fixture *f = arg;
    f->rc = executor_serve(&f->x, &f->p.app, &f->seat, f->stop[0], f->ifd);
    return NULL;
}

static void start(fixture *f)
{
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
    f->started = true;
}

/* Stop the loop; it must return 0 within the deadline. */
static void stop(fixture *f)
{
    struct timespec until;
    assert_int_equal(write(f->stop[1], "x", 1), 1);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DEADLINE_MS / 1000;
    assert_int_equal(pthread_timedjoin_np(f->th, NULL, &until), 0);
    f->started = false;
    assert_int_equal(f->rc, 0);
}

static int setup(void **state)
{
    /* Two engines: the loop reads their shared state, never pings. */
    static const char *const env[] = {
        "MINILAMBDA_ENGINES=unix:///nonexistent/a.sock unix:///nonexistent/b.sock",
        "MINILAMBDA_RETRY_BASE_MS=1", "MINILAMBDA_WARM_MAX=0", NULL};
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    memset(&fr, 0, sizeof(fr));
    pthread_mutex_init(&fr.mu, NULL);
    fr.engine_faults_left = 1;
    platform_open(&f->p, "executor", env);
    runtime_free(f->p.app.runtime);
    f->p.app.runtime = runtime_new(&fake_ops, &fr, "test-inst");
    assert_non_null(f->p.app.runtime);
    f->x = (executor_ctx){.cfg = &f->p.cfg,
                          .instance = "test-inst",
                          .slots = f->p.slots,
                          .throttle = f->p.throttle,
                          .row = f->p.cfg.workers,
                          .index = 0,
                          .metrics = f->p.metrics,
                          .engines = f->p.engines};
    f->seat = (runtime_seat){
        .conn = f->p.t.conn, .lease = NULL, .row = f->x.row, .thread = 0, .conns = &f->p.t.conns};
    assert_int_equal(pipe(f->stop), 0);
    f->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    assert_true(f->ifd >= 0);
    assert_true(
        inotify_add_watch(f->ifd, async_queue_dir(f->p.app.async), IN_CREATE | IN_MOVED_TO) >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->started)
        stop(f);
    close(f->stop[0]);
    close(f->stop[1]);
    close(f->ifd);
    platform_close(&f->p);
    pthread_mutex_destroy(&fr.mu);
    free(f);
    return 0;
}

/* Queue a run of function `ref` with `event`; its id into `id`. */
static void queue(fixture *f, const char *ref, const char *event, int timeout_s, char *id)
{
    func_t *fn = NULL;
    json_object *rec = NULL;
    err_t e;
    assert_int_equal(store_get(f->p.app.store, ref, &fn, &e), 0);
    assert_int_equal(
        async_accept(f->p.app.async, fn, event, strlen(event), timeout_s, 0, NULL, NULL, &rec, &e),
        0);
    snprintf(id, RUNTIME_ID_LEN, "%s", json_object_get_string(json_object_object_get(rec, "id")));
    json_object_put(rec);
    func_free(fn);
}

/* Run `id`'s record (the caller owns it) once its status is `want`, or
 * fail at the deadline. */
static json_object *await(fixture *f, const char *id, const char *want)
{
    long long until = clock_mono_ms() + DEADLINE_MS;
    json_object *rec = NULL;
    err_t e;
    for (;;) {
        assert_int_equal(async_get(f->p.app.async, id, &rec, &e), 0);
        const char *st = json_object_get_string(json_object_object_get(rec, "status"));
        if (strcmp(st, want) == 0)
            return rec;
        if (clock_mono_ms() > until)
            fail_msg("invocation %s is %s, not %s", id, st, want);
        json_object_put(rec);
        poll(NULL, 0, 5);
    }
}

static int int_of(json_object *o, const char *key)
{
    return json_object_get_int(json_object_object_get(o, key));
}

/* A queued run is claimed, run with its values and recorded; one queued
 * while the loop waits is picked up too. */
static void test_runs_and_records(void **state)
{
    fixture *f = *state;
    char a[RUNTIME_ID_LEN], b[RUNTIME_ID_LEN];
    platform_function(&f->p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    queue(f, "fn", "{\"x\":1}", 7, a);
    start(f);
    json_object *rec = await(f, a, "COMPLETED");
    json_object *result = json_object_object_get(rec, "result");
    assert_string_equal(json_object_get_string(json_object_object_get(result, "output")),
                        "{\"x\":1}");
    assert_int_equal(int_of(rec, "attempts"), 1);
    json_object_put(rec);
    assert_int_equal(slots_state_of(f->p.slots, f->x.row, NULL), SLOTS_UP);

    queue(f, "fn", "{\"x\":2}", 0, b);
    rec = await(f, b, "COMPLETED");
    json_object_put(rec);
    stop(f);
    assert_int_equal(runs(), 2);
    assert_string_equal(fr.ids[0], a);
    assert_string_equal(fr.ids[1], b);
    assert_int_equal(fr.attempts[0], 1);
    assert_int_equal(fr.timeouts[0], 7);
    /* Each attempt has a run id of its own, not the invocation's. */
    assert_int_equal(strlen(fr.run_ids[0]), 36);
    assert_string_not_equal(fr.run_ids[0], a);
    assert_string_not_equal(fr.run_ids[0], fr.run_ids[1]);
}

/* A failed run goes again while it has attempts, then ends FAILED. */
static void test_retried(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    platform_function(&f->p, "{\"name\":\"flaky\",\"image\":\"img\",\"retries\":1}", NULL);
    queue(f, "flaky", "\"fail\"", 0, id);
    start(f);
    json_object *rec = await(f, id, "FAILED");
    assert_int_equal(int_of(rec, "attempts"), 2);
    json_object_put(rec);
    stop(f);
    assert_int_equal(runs(), 2);
    assert_int_equal(fr.attempts[0], 1);
    assert_int_equal(fr.attempts[1], 2);
}

/* A run the engine failed is given back untouched: its next run is still
 * its first attempt. */
static void test_engine_fault(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    platform_function(&f->p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    queue(f, "fn", "\"engine\"", 0, id);
    start(f);
    json_object *rec = await(f, id, "COMPLETED");
    assert_int_equal(int_of(rec, "attempts"), 1);
    json_object_put(rec);
    stop(f);
    assert_int_equal(runs(), 2);
    assert_int_equal(fr.attempts[0], 1);
    assert_int_equal(fr.attempts[1], 1);
}

/* A run whose function is gone fails without running. */
static void test_function_gone(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    err_t e;
    platform_function(&f->p, "{\"name\":\"doomed\",\"image\":\"img\"}", NULL);
    queue(f, "doomed", "{}", 0, id);
    assert_int_equal(store_delete(f->p.app.store, "doomed", &e), 0);
    start(f);
    json_object *rec = await(f, id, "FAILED");
    assert_non_null(strstr(json_object_to_json_string(rec), "no longer exists"));
    json_object_put(rec);
    stop(f);
    assert_int_equal(runs(), 0);
}

/* While no engine answers nothing is claimed, and the row says why;
 * once one does, the run goes. */
static void test_engine_down(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    engines_t *en = f->p.app.engines;
    platform_function(&f->p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    engines_set_up(en, 0, false, "test");
    engines_set_up(en, 1, false, "test");
    queue(f, "fn", "{}", 0, id);
    start(f);
    long long until = clock_mono_ms() + DEADLINE_MS;
    while (slots_state_of(f->p.slots, f->x.row, NULL) != SLOTS_ENGINE_WAIT &&
           clock_mono_ms() < until)
        poll(NULL, 0, 5);
    assert_int_equal(slots_state_of(f->p.slots, f->x.row, NULL), SLOTS_ENGINE_WAIT);
    json_object *rec = await(f, id, "PENDING");
    json_object_put(rec);
    assert_int_equal(runs(), 0);
    engines_set_up(en, 1, true, "test");
    rec = await(f, id, "COMPLETED");
    json_object_put(rec);
    assert_int_equal(slots_state_of(f->p.slots, f->x.row, NULL), SLOTS_UP);
    stop(f);
}

/* A run cancelled while it runs sees it through its request, and its
 * record stays CANCELLED. */
static void test_cancelled(void **state)
{
    fixture *f = *state;
    char id[RUNTIME_ID_LEN];
    json_object *rec = NULL;
    bool running = false;
    err_t e;
    platform_function(&f->p, "{\"name\":\"fn\",\"image\":\"img\",\"retries\":2}", NULL);
    queue(f, "fn", "\"wait-cancel\"", 0, id);
    start(f);
    json_object_put(await(f, id, "RUNNING"));
    assert_int_equal(async_cancel(f->p.app.async, id, &rec, &running, &e), 0);
    assert_true(running);
    json_object_put(rec);
    long long until = clock_mono_ms() + DEADLINE_MS;
    bool saw = false;
    while (!saw && clock_mono_ms() < until) {
        pthread_mutex_lock(&fr.mu);
        saw = fr.saw_cancel;
        pthread_mutex_unlock(&fr.mu);
        poll(NULL, 0, 5);
    }
    assert_true(saw);
    stop(f);
    rec = await(f, id, "CANCELLED");
    json_object_put(rec);
    assert_int_equal(runs(), 1);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_runs_and_records), T(test_retried),     T(test_engine_fault),
        T(test_function_gone),    T(test_engine_down), T(test_cancelled),
    };
#undef T
    return cmocka_run_group_tests_name("executor", tests, NULL, NULL);
}
