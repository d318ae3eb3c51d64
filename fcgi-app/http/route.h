/*
 * route: the route table and the one gate in front of every handler.
 *
 * A route is one row: a path template, one method, its handler, the plane
 * (FastCGI socket) nginx sends it to, what the gate does before the handler
 * (take an invocation or upload slot, resolve the function {ref} names,
 * honour an Idempotency-Key) and its access policy: the key scopes that
 * may call it. The gate matches the request (404/405/400), checks the
 * plane, the metrics allow list, the key (401 with WWW-Authenticate; 429
 * for an address with too many failures), its scopes (403), its rate
 * (429), resolves the function (404) and checks the key's function list
 * (403), takes the slot (429 with Retry-After), brackets an idempotent
 * route (replay.h: a retry gets the first answer), runs the handler, answers
 * its error if it returns one, gives the slot back and counts the response
 * under the route's template. Handlers never check methods, keys, slots or
 * Idempotency-Keys; they get the key's view (`c->owner`, `c->redact`,
 * `c->key` for lists) from the gate.
 *
 * nginx's locations are rendered from the same table (route_print_nginx),
 * so a route cannot be sent to the wrong plane; metrics route ids are the
 * table's templates; the OpenAPI document is the rows with the
 * documentation each points at (openapi.c). Adding a route is one row
 * plus its handler and its documentation (apidoc.c).
 */
#ifndef MINILAMBDA_ROUTE_H
#define MINILAMBDA_ROUTE_H

#include <fcgiapp.h>
#include <stdio.h>

#include <json-c/json.h>
#include <stdbool.h>

#include "app/app.h"
#include "base/config.h"
#include "base/err.h"
#include "http/apidoc.h"
#include "http/http.h"
#include "state/keys.h"

/* One request, as the gate hands it to a handler. */
typedef struct {
    app_thread *t;
    http_req *r;
    char ref[HTTP_REF_MAX];  /* the route's decoded {ref}, or "" */
    func_t *function;        /* the function {ref} names (function routes); the gate's */
    char id[RUNTIME_ID_LEN]; /* what it makes: the slot's run, a key's intent; or "" */
    /* The caller's key and what it may see, as the gate decided: */
    const keys_key *key; /* NULL when no key was needed nor given */
    const char *owner;   /* only runs started by this key id, or NULL: all */
    bool redact;         /* env values are shown redacted */
    long retry_after;    /* seconds, for an ERR_LIMIT answer (or a 409 to retry) */
    /* The answer is kept for retries with the request's Idempotency-Key,
     * so a run goes on to its end when its client goes away. */
    bool recorded;
} route_call;

/* A handler answers the request and returns 0, or returns -1 with `e`
 * filled in for the gate to answer. */
typedef int (*route_handler)(route_call *c, err_t *e);

enum {
    ROUTE_SLOT = 1,         /* the handler runs holding an invocation slot */
    ROUTE_UPLOAD = 2,       /* the handler runs holding an upload slot */
    ROUTE_FUNCTION = 4,     /* {ref} names a function: 404 before the handler */
    ROUTE_IF_EVENT = 8,     /* only when X-Invocation-Type is Event */
    ROUTE_STREAM_BODY = 16, /* nginx streams the body, up to MAX_IMAGE_BYTES */
    ROUTE_ALLOWLIST = 32,   /* only MINILAMBDA_METRICS_ALLOW (nginx and the gate) */
    ROUTE_OWN = 64,         /* an invoke-scope key sees only the runs it started */
    ROUTE_REDACT = 128,     /* a read-scope key sees env values redacted */
    /* Honours Idempotency-Key (replay.c): a retry gets the first answer. The
     * handler makes what it makes under c->id, and returns -1 only when it
     * made nothing. */
    ROUTE_IDEMPOTENT = 256,
    /* With ROUTE_IDEMPOTENT: what the handler does leaves no record to find
     * by c->id (a synchronous run), so a request that died is not acted
     * again: its retry is 409 idempotency_interrupted. */
    ROUTE_NO_REDO = 512,
    /* A row of the Lambda API (lambda.h): {ref} is a FunctionName (a name,
     * name:qualifier or an ARN), the invocation type is
     * X-Amz-Invocation-Type, errors are answered in Lambda's shape. */
    ROUTE_AMZ = 1024,
    ROUTE_IF_DRY_RUN = 2048 /* only when the invocation type is DryRun (ROUTE_AMZ) */
};

/* Who may call a route: ROUTE_OPEN, or the KEYS_* scopes that may (admin
 * always may). */
#define ROUTE_OPEN 0u

typedef struct {
    const char *tmpl; /* "/functions/{ref}" */
    unsigned method;  /* one HTTP_* bit; a GET route answers HEAD too */
    route_handler handler;
    app_plane plane;
    unsigned flags;  /* ROUTE_* */
    unsigned access; /* ROUTE_OPEN or KEYS_* bits */
    /* Its OpenAPI operation (static, apidoc.h), shared by the rows of one
     * template and method. A table row that leaves it out does not build
     * (-Wmissing-field-initializers); openapi_check refuses a NULL one. */
    const apidoc_route *doc;
} route_def;

/* Serve one request completely through the gate (the caller finishes it
 * with FCGX_Finish_r). */
void route_handle(app_thread *t, FCGX_Request *req);

/* What matching a request found. */
typedef struct {
    const route_def *row;   /* the row to serve it, or NULL */
    char ref[HTTP_REF_MAX]; /* the decoded {ref}, or "" */
    unsigned allow;         /* the methods of the path's template, 0 if none */
    int metric;             /* the template's metrics id, 0 ("other") if none */
} route_found;

/* The headers that choose among the rows of one template (each NULL when
 * absent). Borrowed. */
typedef struct {
    const char *invocation_type; /* X-Invocation-Type */
    const char *amz_type;        /* X-Amz-Invocation-Type, for ROUTE_AMZ rows */
} route_types;

/*
 * Match `method` and raw `uri` (with the invocation types `types` names;
 * NULL for none) against the table into `f`. Returns 0 with f->row set,
 * or -1 with `e` filled in: 404 for an unknown path, 405 (f->allow holds
 * the path's methods), or 400 for a bad escape or invocation type.
 */
int route_match(const char *method, const char *uri, const route_types *types, route_found *f,
                err_t *e) ERR_MUST_USE;

/* The route table itself, for what documents it (openapi.c): `*count`
 * rows, static. */
const route_def *route_rows(size_t *count);

/* The metrics label of every route id: "other", then each template once.
 * Sets `*count`; the array is static. */
const char *const *route_metric_names(int *count);

/* Check the table: every row's template, and the same plane and nginx
 * flags for rows that share a first path segment (nginx routes by it). 0,
 * or -1 with `e` naming the row. */
int route_check(err_t *e) ERR_MUST_USE;

/* Print nginx location blocks for every route, from the table and `cfg`
 * (socket paths come from the config template's upstreams). */
void route_print_nginx(FILE *out, const config_t *cfg);

#endif
