/*
 * app: the context calls are served in — what a process of the pool shares
 * (app_t: the store, keys, records, the queue, the engines, the runtime)
 * and what one serving thread owns (app_thread). Workers, executors and
 * the HTTP layer all open it; it knows no request (http/route.h has the
 * request as the gate hands it to a handler).
 */
#ifndef MINILAMBDA_APP_H
#define MINILAMBDA_APP_H

#include <json-c/json.h>
#include <stdbool.h>

#include "base/config.h"
#include "base/err.h"
#include "engine/docker.h"
#include "engine/engines.h"
#include "history/async.h"
#include "history/records.h"
#include "run/invoke.h"
#include "run/runtime.h"
#include "state/idem.h"
#include "state/keys.h"
#include "state/metrics.h"
#include "state/slots.h"
#include "state/store.h"
#include "state/throttle.h"

/* What every request of one worker process shares. */
typedef struct {
    const config_t *cfg;  /* borrowed */
    slots_t *slots;       /* borrowed: the master's shared table */
    metrics_t *metrics;   /* borrowed: the master's segment */
    keys_t *keys;         /* owned */
    throttle_t *throttle; /* borrowed: the master's shared rate tables */
    store_t *store;       /* owned */
    async_t *async;       /* owned */
    records_t *records;   /* owned: records of synchronous calls */
    idem_t *idem;         /* owned */
    engines_t *engines;   /* owned: the engines (their state shared) */
    runtime_t *runtime;   /* owned */
    int row;              /* this process's row in `slots` and the metrics */
    char instance[24];    /* label value naming this platform instance */
} app_t;

/* The two FastCGI sockets: nginx sends each route to one of them. */
typedef enum { APP_CONTROL = 0, APP_INVOKE } app_plane;

/* What one serving thread owns. */
typedef struct {
    app_t *app;            /* borrowed */
    docker_conn_t *conn;   /* the first engine's connection (in `conns`) */
    engines_conns conns;   /* owned: one connection per engine */
    lease_client_t *lease; /* owned: the line to the keeper, or NULL: warm starts off */
    app_plane plane;
    int thread; /* this thread's seat in its row (invoke threads), or -1 */
} app_thread;

/*
 * Open what a process of the pool serves with: the store, the key store,
 * the async store, the sync records, the Idempotency-Key records, the
 * engines and the runtime; `cfg`, `slots`, `throttle`, `metrics` and
 * `engines` (the shared engine state) are borrowed. Returns 0, or -1 with
 * `e` filled in (`a` then holds nothing to close).
 */
int app_open(app_t *a, const config_t *cfg, slots_t *slots, throttle_t *throttle,
             metrics_t *metrics, engines_shm_t *engines, int row, const char *instance,
             err_t *e) ERR_MUST_USE;

/* Close what app_open opened. */
void app_close(app_t *a);

/* Prepare thread state on `plane` with seat `thread` (-1 for none). 0, or
 * -1 with `e` when out of memory. */
int app_thread_init(app_thread *t, app_t *a, app_plane plane, int thread, err_t *e) ERR_MUST_USE;

/* Free the thread's state. */
void app_thread_free(app_thread *t);

/* A new line to the keeper into `*out` (the caller frees it), or NULL
 * when warm starts are off. 0, or -1 with `e` when out of memory. */
int app_lease(const app_t *a, lease_client_t **out, err_t *e) ERR_MUST_USE;

/* The invoke bracket's context for runs on thread `t`. */
invoke_ctx app_invoke_ctx(const app_thread *t);

#endif
