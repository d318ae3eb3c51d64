/*
 * openapi: the API's OpenAPI 3.1 document, built from the tables the code
 * already has, so that it cannot drift from them:
 *
 *   route.c   the paths, methods, path parameters, X-Invocation-Type, the
 *             scopes that may call each route and the errors its gate
 *             answers (unknown function, slots, keys, allow list);
 *   func.c    the function record, its registration and PATCH bodies, and
 *             each field's error code;
 *   err.c     the HTTP status of every error code;
 *   status.c  how a run ends: a synchronous answer's status word, HTTP
 *             status and code, and async records' statuses;
 *   health.c  the parts /healthz reports; keys.c the scope names.
 *
 * What no table holds (a summary, the request and answer shapes, the codes
 * a handler answers itself, and examples) is data in apidoc.c, one
 * apidoc_route per template and method that its route rows point at (their
 * `doc`); this module only renders: the rows in table order, each
 * template and method once. openapi_check fails when a row has no
 * documentation; tests/integration/openapi.sh runs every example against
 * a live platform. `minilambda-fcgi --print-openapi` prints the document;
 * scripts/lib.sh renders it next to nginx's config and nginx serves it at
 * /openapi.json.
 */
#ifndef MINILAMBDA_OPENAPI_H
#define MINILAMBDA_OPENAPI_H

#include <json-c/json.h>
#include <stdio.h>

#include "base/err.h"
#include "http/route.h"

/*
 * Check the route table's documentation: every row has one, the rows of a
 * template and method share theirs and no other route has it, operation
 * ids are unique, every example parses and gives its path parameter when
 * the template has one. 0, or -1 with `e` (ERR_INTERNAL) naming the first
 * row at fault.
 */
int openapi_check(err_t *e) ERR_MUST_USE;

/* openapi_check of the `n` route rows `rows` (borrowed) instead of the
 * route table (so a test can show that it catches a route without docs). */
int openapi_check_routes(const route_def *rows, size_t n, err_t *e) ERR_MUST_USE;

/*
 * Build the document. Returns a new object the caller owns
 * (json_object_put), or NULL with `e`: ERR_INTERNAL when openapi_check
 * fails or an example answers with a status the route does not document
 * or is not a valid record, ERR_NOMEM.
 */
json_object *openapi_document(err_t *e) ERR_MUST_USE;

/* Print the document as indented JSON and a newline to `out`. 0, or -1
 * with `e` (openapi_document's errors; ERR_STORAGE when writing fails). */
int openapi_print(FILE *out, err_t *e) ERR_MUST_USE;

#endif
