/*
 * Unit tests for health_check, part by part, in a temporary data dir
 * (platform.h): the engine (a ping of the fake engine, or no engine; with
 * several, their probed state), the store and the keys (a file that does
 * not parse), the data dir and the disk, the executors' rows (down,
 * stalled on a write, waiting for the engine), the keeper's reports and a
 * store lock held too long. Each failed part has its code and a detail
 * saying why; health_ok is the conjunction; the names are the contract's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/files.h"
#include "fake.h"
#include "platform.h"
#include "run/health.h"

static long long started_ms;

static const char *const base_env[] = {"MINILAMBDA_MIN_FREE_BYTES=0", "MINILAMBDA_WARM_MAX=0",
                                       NULL};

static health_ctx ctx_of(platform_t *p)
{
    health_ctx x = {.cfg = &p->cfg,
                    .conn = p->t.conn,
                    .engines = p->app.engines,
                    .store = p->app.store,
                    .keys = p->app.keys,
                    .slots = p->slots,
                    .first_executor = p->cfg.workers};
    return x;
}

/* Every executor row in state `st`. */
static void executors(platform_t *p, slots_state st, int sys)
{
    for (int i = 0; i < p->cfg.async_workers; i++)
        slots_set_state(p->slots, p->cfg.workers + i, st, sys);
}

/* The parts that failed, by name, comma-separated. */
static const char *failed(const health_report *r)
{
    static char out[256];
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < HEALTH__N; i++)
        if (!r->up[i])
            used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", used ? "," : "",
                                     health_name((health_part)i));
    return out;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_names(void **state)
{
    static const char *const names[HEALTH__N] = {"engine", "store",     "keys",  "data_dir",
                                                 "disk",   "executors", "locks", "keeper"};
    (void)state;
    for (int i = 0; i < HEALTH__N; i++)
        assert_string_equal(health_name((health_part)i), names[i]);
}

/* An engine that answers and rows that run: every part up. Then one part
 * after another fails, each with its code. */
static void test_parts(void **state)
{
    static const fake_reply replies[] = {{200, "OK"}, {200, "OK"}, {200, "OK"}, {200, "OK"},
                                         {200, "OK"}, {200, "OK"}, {200, "OK"}, {200, "OK"}};
    fake_server fs;
    platform_t p;
    health_report r;
    (void)state;
    fake_start(&fs, replies, sizeof(replies) / sizeof(replies[0]));
    platform_open_engine(&p, "health", base_env, fs.host);
    platform_function(&p, "{\"name\":\"fn\",\"image\":\"img\"}", NULL);
    executors(&p, SLOTS_UP, 0);
    health_ctx x = ctx_of(&p);

    health_check(&x, 1000, &r);
    assert_string_equal(failed(&r), "");
    assert_true(health_ok(&r));
    assert_int_equal(r.functions, 1);
    assert_true(r.free_bytes > 0);
    assert_int_equal(r.executors, p.cfg.async_workers);
    assert_int_equal(r.executors_up, p.cfg.async_workers);
    assert_string_equal(r.detail[HEALTH_ENGINE], "");

    /* An executor waiting for the engine is the engine's fault, not its. */
    slots_set_state(p.slots, p.cfg.workers, SLOTS_ENGINE_WAIT, 0);
    health_check(&x, 1000, &r);
    assert_true(health_ok(&r));
    /* One down, one that cannot write its outcomes. */
    slots_set_state(p.slots, p.cfg.workers, SLOTS_DOWN, 0);
    health_check(&x, 1000, &r);
    assert_string_equal(failed(&r), "executors");
    assert_false(health_ok(&r));
    assert_string_equal(r.code[HEALTH_EXECUTORS], "executors_down");
    assert_int_equal(r.executors_up, p.cfg.async_workers - 1);
    slots_set_state(p.slots, p.cfg.workers + 1, SLOTS_STORAGE_STALL, ENOSPC);
    health_check(&x, 1000, &r);
    assert_string_equal(r.code[HEALTH_EXECUTORS], "storage_error");
    assert_non_null(strstr(r.detail[HEALTH_EXECUTORS], "1 cannot save outcomes"));
    assert_non_null(strstr(r.detail[HEALTH_EXECUTORS], strerror(ENOSPC)));
    executors(&p, SLOTS_UP, 0);

    /* The store's and the keys' files not parsing. */
    write_file(p.data, "functions.json", "{not json");
    health_check(&x, 1000, &r);
    assert_string_equal(failed(&r), "store");
    assert_string_equal(r.code[HEALTH_STORE], "store_corrupt");
    assert_int_equal(r.functions, -1);
    write_file(p.data, "keys.json", "[");
    health_check(&x, 1000, &r);
    assert_string_equal(failed(&r), "store,keys");
    assert_string_equal(r.code[HEALTH_KEYS], "store_corrupt");

    /* A data dir that takes no file, on a disk short of the minimum. */
    config_t cfg = p.cfg;
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/functions.json", p.data);
    x.cfg = &cfg;
    health_check(&x, 1000, &r);
    assert_true(!r.up[HEALTH_DATA_DIR]);
    assert_string_equal(r.code[HEALTH_DATA_DIR], "storage_error");
    assert_non_null(strstr(r.detail[HEALTH_DATA_DIR], "O_TMPFILE"));
    cfg = p.cfg;
    cfg.min_free_bytes = INT64_MAX;
    health_check(&x, 1000, &r);
    assert_string_equal(r.code[HEALTH_DISK], "storage_full");
    assert_non_null(strstr(r.detail[HEALTH_DISK], "MINILAMBDA_MIN_FREE_BYTES"));
    platform_close(&p);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 8);
    assert_string_equal(fs.requests[0], "GET /_ping");
}

/* No engine: engine_unreachable; with several, none up by their probe is
 * engine_unavailable, and no ping is made. */
static void test_engine(void **state)
{
    static const char *const multi[] = {
        "MINILAMBDA_MIN_FREE_BYTES=0", "MINILAMBDA_WARM_MAX=0",
        "MINILAMBDA_ENGINES=unix:///nonexistent/a.sock unix:///nonexistent/b.sock", NULL};
    platform_t p;
    health_report r;
    (void)state;
    platform_open(&p, "health", base_env);
    executors(&p, SLOTS_UP, 0);
    health_ctx x = ctx_of(&p);
    health_check(&x, 1000, &r);
    assert_string_equal(failed(&r), "engine");
    assert_string_equal(r.code[HEALTH_ENGINE], "engine_unreachable");
    assert_non_null(strstr(r.detail[HEALTH_ENGINE], "no-engine.sock"));
    platform_close(&p);

    platform_open(&p, "health", multi);
    executors(&p, SLOTS_UP, 0);
    x = ctx_of(&p);
    health_check(&x, 1000, &r);
    assert_true(health_ok(&r));
    engines_set_up(p.app.engines, 0, false, "test");
    health_check(&x, 1000, &r);
    assert_true(health_ok(&r));
    engines_set_up(p.app.engines, 1, false, "test");
    health_check(&x, 1000, &r);
    assert_string_equal(r.code[HEALTH_ENGINE], "engine_unavailable");
    assert_non_null(strstr(r.detail[HEALTH_ENGINE], "none of the 2 engines"));
    platform_close(&p);
}

/* With warm starts on: no report yet is fine (starting), a silent keeper
 * is down, one short of keep_warm for long is stalled. */
static void test_keeper(void **state)
{
    static const char *const warm[] = {"MINILAMBDA_MIN_FREE_BYTES=0", "MINILAMBDA_WARM_MAX=4",
                                       "MINILAMBDA_ENGINES=unix:///nonexistent/a.sock", NULL};
    platform_t p;
    health_report r;
    (void)state;
    platform_open(&p, "health", warm);
    executors(&p, SLOTS_UP, 0);
    health_ctx x = ctx_of(&p);
    health_check(&x, 1000, &r);
    assert_true(r.up[HEALTH_KEEPER]);
    long long now = clock_mono_ms();
    slots_keeper_report(p.slots, now, 0, 0);
    health_check(&x, 1000, &r);
    assert_true(r.up[HEALTH_KEEPER]);
    slots_keeper_report(p.slots, now - HEALTH_KEEPER_SILENT_MS - 500, 0, 0);
    health_check(&x, 1000, &r);
    assert_string_equal(r.code[HEALTH_KEEPER], "keeper_down");
    slots_keeper_report(p.slots, now, 2, now - HEALTH_KEEPER_SHORT_MS - 1000);
    health_check(&x, 1000, &r);
    assert_string_equal(r.code[HEALTH_KEEPER], "keeper_stalled");
    assert_non_null(strstr(r.detail[HEALTH_KEEPER], "2 functions below keep_warm"));
    /* Short, but not for long yet. */
    slots_keeper_report(p.slots, now, 1, now - 10);
    health_check(&x, 1000, &r);
    assert_true(r.up[HEALTH_KEEPER]);
    platform_close(&p);
}

/* A store lock held past FILES_LOCK_HELD_MS names its holder. The holder
 * is this process, which must itself have lived that long: the hold is
 * the least of the lock's age and its holder's. */
static void test_lock_held(void **state)
{
    static const char *const one[] = {"MINILAMBDA_MIN_FREE_BYTES=0", "MINILAMBDA_WARM_MAX=0",
                                      "MINILAMBDA_ENGINES=unix:///nonexistent/a.sock", NULL};
    platform_t p;
    health_report r;
    char path[256];
    int fd = -1;
    err_t e;
    (void)state;
    platform_open(&p, "health", one);
    executors(&p, SLOTS_UP, 0);
    health_ctx x = ctx_of(&p);
    snprintf(path, sizeof(path), "%s/keys.json.lock", p.data);
    assert_int_equal(files_trylock(path, &fd, &e), 1);
    health_check(&x, 1000, &r);
    assert_true(r.up[HEALTH_LOCKS]);
    /* Stamped long ago; this process old enough. */
    struct timespec old[2] = {{.tv_sec = time(NULL) - 60}, {.tv_sec = time(NULL) - 60}};
    assert_int_equal(futimens(fd, old), 0);
    while (clock_mono_ms() - started_ms <= FILES_LOCK_HELD_MS + 200)
        poll(NULL, 0, 50);
    health_check(&x, 1000, &r);
    assert_string_equal(failed(&r), "locks");
    assert_string_equal(r.code[HEALTH_LOCKS], "store_busy");
    char want[64];
    snprintf(want, sizeof(want), "keys.json.lock held by pid %d", (int)getpid());
    assert_non_null(strstr(r.detail[HEALTH_LOCKS], want));
    files_unlock(fd);
    health_check(&x, 1000, &r);
    assert_true(r.up[HEALTH_LOCKS]);
    platform_close(&p);
}

int main(void)
{
    started_ms = clock_mono_ms();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),     cmocka_unit_test(test_parts),
        cmocka_unit_test(test_engine),    cmocka_unit_test(test_keeper),
        cmocka_unit_test(test_lock_held),
    };
    return cmocka_run_group_tests_name("health", tests, fake_group_setup, fake_group_teardown);
}
