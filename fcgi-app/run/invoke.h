/*
 * invoke: the bracket around one run, shared by synchronous calls and the
 * async executors — the in-flight gauge, the runtime, the outcome counted
 * under the function's name, and one log line — and the JSON text a run's
 * output takes in records.
 */
#ifndef MINILAMBDA_INVOKE_H
#define MINILAMBDA_INVOKE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "base/buf.h"
#include "run/runtime.h"
#include "state/metrics.h"

/* Where runs of one thread happen. Borrowed pointers. */
typedef struct {
    runtime_t *rt;
    runtime_seat seat;
    metrics_t *metrics;
} invoke_ctx;

/*
 * Run `req` through the runtime to its end (`res`, initialized by the
 * caller, is always filled in): the function's in-flight gauge is up while
 * it runs, the outcome is counted (as cancelled when req->cancelled says so
 * afterwards) and one line is logged, "invoke ..." or, with `async`,
 * "async invoke ...".
 */
void invoke_call(const invoke_ctx *x, const runtime_req *req, bool async, runtime_result *res);

/* "cold", "warm" or "reused" (static), as answers and records say it. */
const char *invoke_start_word(metrics_start_kind start);

/* A JSON string of captured output `b` as valid UTF-8 (buf_append_utf8);
 * when `b` is full, its capture stopped at the cap and a character cut
 * there is dropped. Caller owns it; NULL when out of memory. */
json_object *invoke_text(const buf_t *b);

#endif
