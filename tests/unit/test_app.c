/*
 * Unit tests for app: app_open opens every store in the data dir and
 * applies the settings that go with them (the function cap), a failed open
 * leaves nothing to close, a thread's state has its engine connection and
 * a line to the keeper only with warm starts on, and the invoke context
 * carries the thread's seat.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "platform.h"

/* The function cap of MINILAMBDA_MAX_FUNCTIONS holds in the app's store;
 * the instance label is cut to fit; close clears everything. */
static void test_open_close(void **state)
{
    static const char *const env[] = {"MINILAMBDA_MAX_FUNCTIONS=1", NULL};
    platform_t p;
    func_t *f = NULL;
    err_t e;
    (void)state;
    platform_open(&p, "app", env);
    app_t *a = &p.app;
    assert_ptr_equal(a->cfg, &p.cfg);
    assert_ptr_equal(a->slots, p.slots);
    assert_ptr_equal(a->metrics, p.metrics);
    assert_ptr_equal(a->throttle, p.throttle);
    assert_non_null(a->store);
    assert_non_null(a->keys);
    assert_non_null(a->async);
    assert_non_null(a->records);
    assert_non_null(a->idem);
    assert_non_null(a->engines);
    assert_non_null(a->runtime);
    assert_string_equal(a->instance, "test-inst");
    assert_string_equal(a->runtime->instance, "test-inst");
    /* The stores live in the data dir. */
    struct stat st;
    char path[160];
    snprintf(path, sizeof(path), "%s/async", p.data);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    platform_function(&p, "{\"name\":\"one\",\"image\":\"img:1\"}", NULL);
    json_object *two = json_tokener_parse("{\"name\":\"two\",\"image\":\"img:1\"}");
    assert_int_equal(store_create(a->store, two, NULL, NULL, &f, &e), -1);
    assert_string_equal(err_code(&e), "too_many_functions");
    assert_null(f);
    json_object_put(two);

    /* A second app on the same settings, with a long instance label. */
    app_t b;
    const char *label = "an-instance-label-longer-than-its-field";
    assert_int_equal(app_open(&b, &p.cfg, p.slots, p.throttle, p.metrics, p.engines, 3, label, &e),
                     0);
    assert_int_equal(b.row, 3);
    assert_int_equal(strlen(b.instance), sizeof(b.instance) - 1);
    assert_int_equal(strncmp(b.instance, label, sizeof(b.instance) - 1), 0);
    /* It sees what the first one wrote: the same data dir. */
    assert_int_equal(store_count(b.store), 1);
    app_close(&b);
    assert_null(b.store);
    assert_null(b.runtime);
    assert_null(b.cfg);
    platform_close(&p);
}

/* A data dir that cannot be made: -1 with the reason, nothing held. */
static void test_open_fails(void **state)
{
    platform_t p;
    app_t a;
    err_t e;
    config_t cfg;
    char path[160];
    (void)state;
    platform_open(&p, "app", NULL);
    cfg = p.cfg;
    snprintf(path, sizeof(path), "%s/file", p.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/file/data", p.dir);
    err_clear(&e);
    memset(&a, 0x5a, sizeof(a));
    assert_int_equal(app_open(&a, &cfg, p.slots, p.throttle, p.metrics, p.engines, 0, "x", &e), -1);
    assert_int_not_equal(e.kind, ERR_NONE);
    assert_non_null(strstr(e.msg, cfg.data_dir));
    assert_null(a.store);
    assert_null(a.keys);
    assert_null(a.async);
    assert_null(a.engines);
    assert_null(a.runtime);
    /* Closing what holds nothing is harmless. */
    app_close(&a);
    platform_close(&p);
}

/* A line to the keeper only with warm starts on; a thread's connection is
 * its first engine's. */
static void test_thread_and_lease(void **state)
{
    static const char *const cold[] = {"MINILAMBDA_WARM_MAX=0", NULL};
    static const char *const warm[] = {"MINILAMBDA_WARM_MAX=4", NULL};
    platform_t p;
    lease_client_t *l = (lease_client_t *)&p;
    app_thread t;
    err_t e;
    (void)state;

    platform_open(&p, "app", cold);
    assert_int_equal(app_lease(&p.app, &l, &e), 0);
    assert_null(l);
    assert_null(p.t.lease);
    assert_int_equal(app_thread_init(&t, &p.app, APP_INVOKE, 5, &e), 0);
    assert_ptr_equal(t.app, &p.app);
    assert_int_equal(t.plane, APP_INVOKE);
    assert_int_equal(t.thread, 5);
    assert_non_null(t.conn);
    assert_ptr_equal(t.conn, t.conns.conn[0]);
    assert_ptr_equal(t.conns.en, p.app.engines);
    assert_null(t.lease);
    app_thread_free(&t);
    assert_null(t.conn);
    platform_close(&p);

    platform_open(&p, "app", warm);
    assert_int_equal(app_lease(&p.app, &l, &e), 0);
    assert_non_null(l);
    lease_client_free(l);
    assert_non_null(p.t.lease);
    assert_int_equal(p.t.plane, APP_CONTROL);
    assert_int_equal(p.t.thread, -1);
    platform_close(&p);
}

/* The invoke bracket runs on the thread's seat, in the app's runtime,
 * counted in the app's metrics. */
static void test_invoke_ctx(void **state)
{
    static const char *const warm[] = {"MINILAMBDA_WARM_MAX=4", NULL};
    platform_t p;
    app_thread t;
    err_t e;
    (void)state;
    platform_open(&p, "app", warm);
    p.app.row = 1;
    assert_int_equal(app_thread_init(&t, &p.app, APP_INVOKE, 7, &e), 0);
    invoke_ctx x = app_invoke_ctx(&t);
    assert_ptr_equal(x.rt, p.app.runtime);
    assert_ptr_equal(x.metrics, p.metrics);
    assert_ptr_equal(x.seat.conn, t.conn);
    assert_ptr_equal(x.seat.lease, t.lease);
    assert_non_null(x.seat.lease);
    assert_int_equal(x.seat.row, 1);
    assert_int_equal(x.seat.thread, 7);
    assert_ptr_equal(x.seat.conns, &t.conns);
    app_thread_free(&t);
    platform_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_close),
        cmocka_unit_test(test_open_fails),
        cmocka_unit_test(test_thread_and_lease),
        cmocka_unit_test(test_invoke_ctx),
    };
    return cmocka_run_group_tests_name("app", tests, NULL, NULL);
}
