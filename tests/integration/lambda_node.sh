#!/usr/bin/env bash
# Protocol "lambda" with the real AWS Lambda Node.js runtime interface
# client (aws-lambda-ric from npm, function/lambda-node), through nginx and
# the pool, in reuse "process" and "none" (prestarted with keep_warm 1):
# the result, context.awsRequestId is the invocation id,
# getRemainingTimeInMillis close to the deadline, a thrown error with its
# errorType (POST /invoke and the Lambda Invoke API), a timeout, an init
# error (a handler that does not exist), and no container left. The image
# needs npm and its registry (scripts/example-image lambda-node): without
# them the test bails out.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

scripts="$IT_DIR/../../scripts"
"$scripts/base-images" node >/dev/null || { echo "Bail out! scripts/base-images node failed"; exit 1; }
export MINILAMBDA_EXAMPLE_TAG="it-$$"
image="minilambda-lambda-node:$MINILAMBDA_EXAMPLE_TAG"
untag() { docker rmi "$image" >/dev/null 2>&1 || true; }
it_after untag
"$scripts/example-image" lambda-node >/dev/null ||
    { echo "Bail out! scripts/example-image lambda-node failed (npm, its registry or the build tools: see above)"; exit 1; }

export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=0
export MINILAMBDA_WARM_MAX=10
it_start lambda_node

node=$(docker run --rm --network none --entrypoint node "$image" --version)

# --- reuse "process": one runtime (the client), call after call --------------------
fn np "$image" '"protocol":"lambda","reuse":"process","timeout":30,"memory_mb":128'
it_call np '{"name":"ada"}'
it_expect "process: the call succeeds" 200
it_eq "process: the result is the handler's" "hello, ada" "$(it_res .greeting)"
it_eq "process: the handler runs on the image's Node.js" "$node" "$(it_res .node)"
id=$(it_jq .invocation_id)
it_eq "process: context.awsRequestId is the invocation id" "$id" "$(it_res .request_id)"
it_eq "process: context.functionName" np "$(it_res .function_name)"
it_eq "process: context.memoryLimitInMB" 128 "$(it_res .memory_limit_in_mb)"
it_eq "process: context.invokedFunctionArn" "arn:aws:lambda:us-east-1:000000000000:function:np" "$(it_res .invoked_function_arn)"
rem=$(it_res .remaining_ms)
it_true "process: getRemainingTimeInMillis is close to the 30 s deadline ($rem)" \
    test "$rem" -gt 25000 -a "$rem" -le 30000
it_true "process: the handler's console.log is in the logs" grep -q "handling $id" <<<"$(it_jq .logs)"
it_call np '{"name":"bob"}'
it_eq "process: the second call is served by the same runtime" reused "$(it_jq .start)"
it_eq "process: its own request id" "$(it_jq .invocation_id)" "$(it_res .request_id)"
it_call np '{"fail":"boom"}'
it_expect "process: a thrown error is 502 function_failed" 502 function_failed
it_eq "process: its errorType" ExampleError "$(it_res .errorType)"
it_eq "process: its errorMessage" boom "$(it_res .errorMessage)"
it_call np '{"name":"after"}'
it_eq "process: after an error the runtime serves on" "hello, after" "$(it_res .greeting)"
it_eq "process: ... the same runtime" reused "$(it_jq .start)"
it_call np '{"sleep":5}' '"timeout":2'
it_expect "process: a call past its timeout is 504 timeout" 504 timeout
it_call np '{"name":"again"}'
it_expect "process: after a timeout the next call works" 200
it_eq "process: ... in a new runtime" cold "$(it_jq .start)"

# --- reuse "none": a prestarted runtime, one call each ------------------------------
fn nn "$image" '"protocol":"lambda","keep_warm":1,"timeout":20'
it_true "none: one runtime prestarted" ml_wait_for 60 it_warm_is nn 1
it_call nn '{"name":"w"}'
it_expect "none: the call succeeds" 200
it_eq "none: it is warm (prestarted)" warm "$(it_jq .start)"
it_eq "none: the result" "hello, w" "$(it_res .greeting)"
it_eq "none: context.awsRequestId is the invocation id" "$(it_jq .invocation_id)" "$(it_res .request_id)"
rem=$(it_res .remaining_ms)
it_true "none: getRemainingTimeInMillis close to the 20 s deadline ($rem)" test "$rem" -gt 15000 -a "$rem" -le 20000
it_true "none: replenished" ml_wait_for 60 it_warm_is nn 1
it_call nn '{"fail":"nope"}'
it_expect "none: a thrown error is 502 function_failed" 502 function_failed
it_eq "none: its errorType" ExampleError "$(it_res .errorType)"
it_true "none: replenished again" ml_wait_for 60 it_warm_is nn 1
it_call nn '{"sleep":5}' '"timeout":2'
it_expect "none: a call past its timeout is 504 timeout" 504 timeout

# --- init errors: the client's argument (the image's CMD) names no handler -----------
fn nbadp "$image" '"protocol":"lambda","reuse":"process","command":["app.nope"]'
it_call nbadp
it_expect "process: a handler that does not exist is 502 init_error" 502 init_error
it_eq "process: errorType Runtime.HandlerNotFound" Runtime.HandlerNotFound "$(it_res .errorType)"
fn nbadn "$image" '"protocol":"lambda","command":["app.nope"],"keep_warm":1'
ml_wait_for 60 it_warm_is nbadn 1 || true
it_call nbadn
it_expect "none: a handler that does not exist is 502 init_error" 502 init_error
it_eq "none: errorType Runtime.HandlerNotFound" Runtime.HandlerNotFound "$(it_res .errorType)"

# --- the Lambda Invoke API ----------------------------------------------------------------
L=/2015-03-31/functions
for f in np nn; do
    ml_wait_for 60 it_warm_is nn 1 || true
    it_req POST "$L/$f/invocations" --data-binary '{"name":"aws"}'
    it_eq "Invoke API ($f): the body is the handler's result" "hello, aws" "$(it_jq .greeting)"
    it_eq "Invoke API ($f): awsRequestId is x-amzn-RequestId" "$(it_header x-amzn-RequestId)" "$(it_jq .request_id)"
    ml_wait_for 60 it_warm_is nn 1 || true
    it_req POST "$L/$f/invocations" --data-binary '{"fail":"kaputt"}'
    it_eq "Invoke API ($f): a thrown error is 200 with X-Amz-Function-Error: Unhandled" \
        "200 Unhandled" "$IT_STATUS $(it_header X-Amz-Function-Error)"
    it_eq "Invoke API ($f): the client's errorType and errorMessage" \
        $'ExampleError\nkaputt' "$(it_jq '.errorType, .errorMessage')"
done
it_req POST "$L/nbadp/invocations" --data-binary '{}'
it_eq "Invoke API: an init error is a function error" \
    "200 Unhandled Runtime.HandlerNotFound" \
    "$IT_STATUS $(it_header X-Amz-Function-Error) $(it_jq .errorType)"

# --- nothing left --------------------------------------------------------------------------
for f in "${!FID[@]}"; do
    it_req DELETE "/functions/$f"
done
inst=$("$ML_BIN" --print-instance)
it_true "no container of this instance is left" \
    ml_wait_for 60 it_count_is 0 "label=minilambda.instance=$inst"
it_done
