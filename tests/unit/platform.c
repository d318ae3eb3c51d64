/*
 * platform: see platform.h.
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

#include "platform.h"

/* Invoke threads beyond MINILAMBDA_THREADS, as the pool has them. */
#define PLATFORM_SPARE_THREADS 4

static void platform_setenv(platform_t *p, const char *name, const char *value)
{
    assert_true(p->nnames < PLATFORM_ENV_MAX);
    assert_int_equal(setenv(name, value, 1), 0);
    p->names[p->nnames] = strdup(name);
    assert_non_null(p->names[p->nnames]);
    p->nnames++;
}

void platform_open(platform_t *p, const char *name, const char *const *env)
{
    platform_open_engine(p, name, env, NULL);
}

void platform_open_engine(platform_t *p, const char *name, const char *const *env,
                          const char *docker_host)
{
    static int made;
    char path[160], why[256];
    err_t e;

    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/ml-%s-XXXXXX", name);
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->data, sizeof(p->data), "%s/data", p->dir);
    snprintf(path, sizeof(path), "%s/run", p->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    platform_setenv(p, "MINILAMBDA_DATA_DIR", p->data);
    platform_setenv(p, "MINILAMBDA_RUN_DIR", path);
    /* Never the engine the environment may name. */
    snprintf(path, sizeof(path), "unix://%s/no-engine.sock", p->dir);
    platform_setenv(p, "DOCKER_HOST", docker_host != NULL ? docker_host : path);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        assert_non_null(eq);
        snprintf(path, sizeof(path), "%.*s", (int)(eq - env[i]), env[i]);
        platform_setenv(p, path, eq + 1);
    }
    if (config_load(&p->cfg, &e) != 0)
        fail_msg("config_load: %s", e.msg);
    int rows = p->cfg.workers + p->cfg.async_workers;
    int threads = p->cfg.threads + PLATFORM_SPARE_THREADS;
    p->slots = slots_create(p->cfg.workers, p->cfg.async_workers, threads);
    p->throttle = throttle_create();
    p->engines = engines_shm_create(rows);
    snprintf(p->shm, sizeof(p->shm), "/ml-test-%s-%d-%d", name, (int)getpid(), made++);
    p->metrics = metrics_create(p->shm, p->cfg.metrics_slots, rows, threads, 300, why, sizeof(why));
    assert_non_null(p->slots);
    assert_non_null(p->throttle);
    assert_non_null(p->engines);
    if (p->metrics == NULL)
        fail_msg("metrics_create: %s", why);
    if (app_open(&p->app, &p->cfg, p->slots, p->throttle, p->metrics, p->engines, 0, "test-inst",
                 &e) != 0)
        fail_msg("app_open: %s", e.msg);
    if (app_thread_init(&p->t, &p->app, APP_CONTROL, -1, &e) != 0)
        fail_msg("app_thread_init: %s", e.msg);
}

void platform_close(platform_t *p)
{
    char cmd[128];
    app_thread_free(&p->t);
    app_close(&p->app);
    metrics_close(p->metrics, 1);
    engines_shm_destroy(p->engines);
    throttle_destroy(p->throttle);
    slots_destroy(p->slots);
    for (int i = 0; i < p->nnames; i++) {
        unsetenv(p->names[i]);
        free(p->names[i]);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
    assert_int_equal(system(cmd), 0);
    memset(p, 0, sizeof(*p));
}

void platform_call(platform_t *p, request_t *q, route_call *c)
{
    memset(c, 0, sizeof(*c));
    c->t = &p->t;
    c->r = request_http(q);
}

void platform_function(platform_t *p, const char *body, char *id)
{
    err_t e;
    func_t *f = NULL;
    json_object *o = json_tokener_parse(body);
    assert_non_null(o);
    if (store_create(p->app.store, o, NULL, NULL, &f, &e) != 0)
        fail_msg("store_create(%s): %s", body, e.msg);
    if (id != NULL)
        snprintf(id, RUNTIME_ID_LEN, "%s", f->id);
    func_free(f);
    json_object_put(o);
}
