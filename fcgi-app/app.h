/*
 * app: the context requests are served in — what a worker process shares
 * (app_t), what one serving thread owns (app_thread), and one request as
 * the gate hands it to a handler (app_call). Handlers and the gate include
 * this, never each other.
 */
#ifndef MINILAMBDA_APP_H
#define MINILAMBDA_APP_H

#include <json-c/json.h>
#include <stdbool.h>

#include "async.h"
#include "config.h"
#include "docker.h"
#include "engines.h"
#include "err.h"
#include "http.h"
#include "idem.h"
#include "invoke.h"
#include "keys.h"
#include "throttle.h"
#include "metrics.h"
#include "records.h"
#include "runtime.h"
#include "slots.h"
#include "store.h"

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

/* One request, as the gate hands it to a handler. */
typedef struct {
    app_thread *t;
    http_req *r;
    char ref[HTTP_REF_MAX];  /* the route's decoded {ref}, or "" */
    json_object *function;   /* the function {ref} names (function routes), borrowed */
    char id[RUNTIME_ID_LEN]; /* what it makes: the slot's run, a key's intent; or "" */
    /* The caller's key and what it may see, as the gate decided: */
    const keys_key *key; /* NULL when no key was needed nor given */
    const char *owner;   /* only runs started by this key id, or NULL: all */
    bool redact;         /* env values are shown redacted */
    long retry_after;    /* seconds, for an ERR_LIMIT answer (or a 409 to retry) */
    /* The answer is kept for retries with the request's Idempotency-Key,
     * so a run goes on to its end when its client goes away. */
    bool recorded;
} app_call;

/*
 * Open what a process of the pool serves with: the store, the key store,
 * the async store, the sync records, the Idempotency-Key records, the
 * engines and the runtime; `cfg`, `slots`, `throttle`, `metrics` and
 * `engines` (the shared engine state) are borrowed. Returns 0, or -1 with
 * `e` filled in (`a` then holds nothing to close).
 */
int app_open(app_t *a, const config_t *cfg, slots_t *slots, throttle_t *throttle,
             metrics_t *metrics, engines_shm_t *engines, int row, const char *instance, err_t *e);

/* Close what app_open opened. */
void app_close(app_t *a);

/* Prepare thread state on `plane` with seat `thread` (-1 for none). 0, or
 * -1 with `e` when out of memory. */
int app_thread_init(app_thread *t, app_t *a, app_plane plane, int thread, err_t *e);

/* Free the thread's state. */
void app_thread_free(app_thread *t);

/* A new line to the keeper into `*out` (the caller frees it), or NULL
 * when warm starts are off. 0, or -1 when out of memory. */
int app_lease(const app_t *a, lease_client_t **out);

/* The invoke bracket's context for runs on thread `t`. */
invoke_ctx app_invoke_ctx(const app_thread *t);

#endif
