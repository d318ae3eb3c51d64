/*
 * handlers: the HTTP API, one function per route row (route.c). Each gets
 * the request as the gate admitted it — method checked, function resolved,
 * slot taken where its row says so — answers it, or returns -1 with the
 * error for the gate to answer.
 */
#ifndef MINILAMBDA_HANDLERS_H
#define MINILAMBDA_HANDLERS_H

#include "app/app.h"
#include "base/err.h"
#include "http/route.h"

/* Largest request body for the registry routes. */
#define HANDLERS_BODY_MAX (1u * 1024 * 1024)
/* Largest invoke body (the event and its envelope). */
#define HANDLERS_INVOKE_MAX (6u * 1024 * 1024)
/* Largest /metrics exposition. */
#define HANDLERS_METRICS_MAX (64u * 1024 * 1024)

/* GET /functions: the records, oldest first. */
int handlers_list_functions(route_call *c, err_t *e) ERR_MUST_USE;

/* Register the function `body` (a registration, borrowed) describes, as
 * the calling key: `*out` is the stored record (caller frees it with
 * func_free). 0, or -1 with `e` (403 for a name outside the key's list). */
int handlers_create(route_call *c, json_object *body, func_t **out, err_t *e) ERR_MUST_USE;

/* POST /functions: register; 201 with the record and a Location. */
int handlers_create_function(route_call *c, err_t *e) ERR_MUST_USE;

/* GET /functions/{ref}: the record, flagged image_present:false when the
 * engine lacks its image. */
int handlers_get_function(route_call *c, err_t *e) ERR_MUST_USE;

/* PATCH /functions/{ref}: change config fields; 200 with the record. */
int handlers_update_function(route_call *c, err_t *e) ERR_MUST_USE;

/* DELETE /functions/{ref}: unregister; 204. */
int handlers_delete_function(route_call *c, err_t *e) ERR_MUST_USE;

/* POST /invoke/{ref}: run synchronously (under the gate's slot), record
 * the call (records.h), then answer. */
int handlers_invoke(route_call *c, err_t *e) ERR_MUST_USE;

/*
 * Run c->function synchronously with `event` (`event_len` bytes, borrowed)
 * under the call's id (c->id) and `timeout_s`, as every synchronous door
 * does: the runtime, the gauge and counts (invoke_call), the record.
 * `client_context` (JSON text, borrowed, or NULL) reaches a Lambda
 * runtime as Lambda-Runtime-Client-Context.
 * `res` (initialized by the caller) is the outcome; `*kept` says whether
 * its record was written; `now` (`nowlen` bytes) is when it started.
 */
void handlers_run(route_call *c, const char *event, size_t event_len, int timeout_s,
                  const char *client_context, runtime_result *res, bool *kept, char *now,
                  size_t nowlen);

/* Queue a run of c->function with `event` (borrowed) under `timeout_s`
 * (0: the function's), as every async door does: `*inv` is the PENDING
 * record (caller owns). 0, or -1 with `e` (429 past the pending limit). */
int handlers_enqueue(route_call *c, const char *event, size_t event_len, int timeout_s,
                     json_object **inv, err_t *e) ERR_MUST_USE;

/* The record of a synchronous call the gate refused (`e`, already answered)
 * after minting its id: 429 at the slot limit, a bad body. Best effort:
 * a record that cannot be written is logged. */
void handlers_record_refused(route_call *c, const err_t *e);

/* POST /invoke/{ref}/async, or /invoke/{ref} with X-Invocation-Type:
 * Event: queue a run; 202 with its id and a Location. */
int handlers_invoke_async(route_call *c, err_t *e) ERR_MUST_USE;

/* GET /invocations?function=&status=&since=&cursor=&limit=: sync and
 * async records, newest first by (created_at, id). The body is an array;
 * with a `cursor` parameter (empty: from the newest) it is
 * {invocations, next_cursor}. X-Next-Cursor names the next page either way. */
int handlers_list_invocations(route_call *c, err_t *e) ERR_MUST_USE;

/* GET (or POST) /invocations/{id}: one record with its result. */
int handlers_get_invocation(route_call *c, err_t *e) ERR_MUST_USE;

/* DELETE /invocations/{id}: cancel a pending or running one. */
int handlers_cancel_invocation(route_call *c, err_t *e) ERR_MUST_USE;

/* GET /keys: the keys, without secrets. */
int handlers_list_keys(route_call *c, err_t *e) ERR_MUST_USE;

/* POST /keys: a new key; 201 with the secret, shown this once. */
int handlers_create_key(route_call *c, err_t *e) ERR_MUST_USE;

/* DELETE /keys/{id}: revoke; 204. */
int handlers_delete_key(route_call *c, err_t *e) ERR_MUST_USE;

/* GET /healthz: {status, docker, components{engine, store, data_dir, disk,
 * executors}}; 503 naming the failed parts in `failed` and `error`. */
int handlers_healthz(route_call *c, err_t *e) ERR_MUST_USE;

/* GET /metrics: the Prometheus exposition. */
int handlers_metrics(route_call *c, err_t *e) ERR_MUST_USE;

#endif
