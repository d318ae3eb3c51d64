/*
 * lambda: the AWS Lambda API's door to the same calls — Invoke
 * (RequestResponse, Event, DryRun) and the control subset the AWS CLI and
 * SDKs need (ListFunctions, GetFunction, GetFunctionConfiguration,
 * CreateFunction with an image, DeleteFunction).
 *
 * Each handler translates: the request into what the native handler takes
 * (the event, a registration body), then calls the same path
 * (handlers_run, handlers_enqueue, handlers_create), then the outcome into
 * Lambda's answer. The gate's checks, slots, records, metrics and
 * Idempotency-Key apply unchanged; only the shapes differ: a platform
 * error is {"Type", "message"} with its x-amzn-ErrorType (lambda_send_err,
 * one table from err_t), a function error is a 200 with
 * X-Amz-Function-Error.
 */
#ifndef MINILAMBDA_LAMBDA_H
#define MINILAMBDA_LAMBDA_H

#include <stdbool.h>

#include "base/err.h"
#include "http/route.h"

/* Lambda's API version path every route of the subset is under. */
#define LAMBDA_API "/2015-03-31/"

/* Lambda's cap on an invoke payload and on a synchronous result. */
#define LAMBDA_PAYLOAD_MAX (6u * 1024 * 1024)

/* Whether the raw request URI `uri` is of the Lambda API: its first path
 * segment is an API version ("/2015-03-31/...", any YYYY-MM-DD), so that
 * an operation we do not offer is answered in Lambda's shape. */
bool lambda_path(const char *uri);

/*
 * Turn c->ref, the FunctionName of a Lambda route (a name, "name:qualifier",
 * or a full or partial ARN, already percent-decoded) and its `?Qualifier=`,
 * into the plain name the gate resolves, in place. The qualifier may be
 * "$LATEST" or absent: there are no versions yet. 0, or -1 with `e`: 400
 * invalid_function_name for a malformed name or ARN, 404 for another
 * qualifier, 400 qualifier_mismatch when the two name different ones.
 */
int lambda_ref(route_call *c, err_t *e) ERR_MUST_USE;

/*
 * Answer error `e` in Lambda's shape: its status, x-amzn-ErrorType,
 * x-amzn-RequestId and {"Type": "User" | "Service", "message"}. `headers`
 * (NULL or "Name: value\r\n" lines, e.g. Retry-After) go out too.
 */
void lambda_send_err(route_call *c, const err_t *e, const char *headers);

/* The error of an operation of the Lambda API that minilambda does not
 * offer, `method` on raw URI `uri` (one lambda_path takes), into `e`:
 * ERR_UNIMPLEMENTED naming the operation. Returns -1. */
int lambda_unsupported(const char *method, const char *uri, err_t *e);

/* The Lambda type of `e` (static), as lambda_send_err answers it. */
const char *lambda_error_type(const err_t *e);

/* The HTTP status lambda_send_err answers `e` with. */
int lambda_error_status(const err_t *e);

/* POST .../functions/{FunctionName}/invocations, RequestResponse: run it
 * under the gate's slot; 200 with the result, or with
 * X-Amz-Function-Error and an error body for a function error. */
int lambda_invoke(route_call *c, err_t *e) ERR_MUST_USE;

/* The same with X-Amz-Invocation-Type: Event: queue it; 202, empty. */
int lambda_invoke_event(route_call *c, err_t *e) ERR_MUST_USE;

/* The same with X-Amz-Invocation-Type: DryRun: 204 when the caller may
 * invoke the function (the gate checked). */
int lambda_invoke_dry_run(route_call *c, err_t *e) ERR_MUST_USE;

/* GET .../functions/ (ListFunctions): {Functions, NextMarker?}, by name,
 * MaxItems (1..10000, default 50) at a time after Marker. */
int lambda_list_functions(route_call *c, err_t *e) ERR_MUST_USE;

/* GET .../functions/{FunctionName} (GetFunction): {Configuration, Code}. */
int lambda_get_function(route_call *c, err_t *e) ERR_MUST_USE;

/* GET .../functions/{FunctionName}/configuration. */
int lambda_get_configuration(route_call *c, err_t *e) ERR_MUST_USE;

/* POST .../functions (CreateFunction, PackageType Image): registers it as
 * POST /functions does; 201 with its configuration. */
int lambda_create_function(route_call *c, err_t *e) ERR_MUST_USE;

/* DELETE .../functions/{FunctionName}: as DELETE /functions/{ref}; 204. */
int lambda_delete_function(route_call *c, err_t *e) ERR_MUST_USE;

#endif
