/*
 * platform: one process of the pool in a temporary directory, for unit
 * tests of the layers above the stores (app, http, proc). It holds what
 * the master maps before the first fork (the slots table, the throttle,
 * the metrics segment, the engines' shared state), the settings
 * (config_load of the environment, with MINILAMBDA_DATA_DIR and
 * MINILAMBDA_RUN_DIR in the temporary directory and the test's own
 * variables), a worker's app_t (app_open) and one serving thread
 * (app_thread) on the control plane.
 *
 * Its engine is the one the test names (a fake engine's DOCKER_HOST),
 * never the environment's: without one, a socket nothing listens on, so
 * every engine call fails at once, unreachable.
 */
#ifndef MINILAMBDA_TEST_PLATFORM_H
#define MINILAMBDA_TEST_PLATFORM_H

#include "app/app.h"
#include "base/config.h"
#include "http/route.h"
#include "request.h"

#define PLATFORM_ENV_MAX 16

typedef struct {
    char dir[64];  /* the temporary directory */
    char data[96]; /* its data/ */
    char shm[64];  /* the metrics segment's name */
    config_t cfg;
    slots_t *slots;
    throttle_t *throttle;
    metrics_t *metrics;
    engines_shm_t *engines;
    app_t app;
    app_thread t;
    /* The variables set for config_load, unset again by platform_close. */
    char *names[PLATFORM_ENV_MAX];
    int nnames;
} platform_t;

/*
 * Make it all in a new directory under /tmp named after `name`, with the
 * NAME=value settings of `env` (NULL-terminated; NULL for none) in the
 * environment while it is loaded. Fails the test when anything cannot be
 * made.
 */
void platform_open(platform_t *p, const char *name, const char *const *env);

/* platform_open on the engine at `docker_host` (a DOCKER_HOST value, such
 * as a fake engine's; NULL: none). */
void platform_open_engine(platform_t *p, const char *name, const char *const *env,
                          const char *docker_host);

/* Close it all and remove the directory. */
void platform_close(platform_t *p);

/* A call of request `q` as the gate would hand it to a handler: on the
 * platform's thread, with no key, nothing resolved. */
void platform_call(platform_t *p, request_t *q, route_call *c);

/* Register function `body` (JSON text) in the store; its id into `id`
 * (RUNTIME_ID_LEN bytes) when not NULL. Fails the test when refused. */
void platform_function(platform_t *p, const char *body, char *id);

#endif
