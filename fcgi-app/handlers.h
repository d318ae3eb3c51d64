/*
 * handlers: the HTTP API — one function per route, dispatched from the
 * routing table in http.c.
 */
#ifndef MINILAMBDA_HANDLERS_H
#define MINILAMBDA_HANDLERS_H

#include <fcgiapp.h>

#include "async.h"
#include "config.h"
#include "docker.h"
#include "http.h"
#include "metrics.h"
#include "slots.h"
#include "store.h"

/* Largest request body for the registry routes. */
#define HANDLERS_BODY_MAX (1u * 1024 * 1024)
/* Largest invoke body (the event and its envelope). */
#define HANDLERS_INVOKE_MAX (6u * 1024 * 1024)
/* Largest /metrics exposition. */
#define HANDLERS_METRICS_MAX (64u * 1024 * 1024)

/* What every request of one worker process shares. Borrowed pointers. */
typedef struct {
    const config_t *cfg;
    store_t *store;
    docker_t *docker;
    slots_t *slots;
    metrics_t *metrics;
    async_t *async;
    int worker;        /* this worker's row in `slots` */
    char instance[24]; /* label value naming this platform instance */
} handlers_app;

/* What one serving thread owns. */
typedef struct {
    handlers_app *app;
    docker_conn_t *conn; /* owned by the thread */
    int thread;          /* this thread's entry in the worker's slots row, or -1 */
} handlers_thread;

/*
 * Take one of the global invocation slots for this thread, recording `id`
 * as what it runs. Returns 0 (give it back with slots_release), or -1 after
 * answering 429 with Retry-After (and `headers`, extra "Name: value\r\n"
 * lines, or NULL) when all are busy.
 */
int handlers_take_slot(handlers_thread *t, http_req *r, const uuid_t id, const char *headers);

/* Serve one request completely (the caller finishes it with FCGX_Finish_r). */
void handlers_handle(handlers_thread *t, FCGX_Request *req);

#endif
