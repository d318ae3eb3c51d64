#!/usr/bin/env bash
# Protocol "lambda": the Python handler runtime (function/lambda-python) on
# minilambda-init's Runtime API, through nginx and the pool, in reuse
# "process" (one runtime, call after call) and "none" (prestarted with
# keep_warm, and cold): the result, the context (aws_request_id is the
# invocation id, get_remaining_time_in_millis close to the deadline), a
# thrown error with its errorType, a timeout, an init error (a handler
# that does not exist), an init timeout (a runtime that never asks for a
# call), a runtime that misbehaves (a wrong id, garbage, unknown routes, a
# second answer: each its 4xx, and the platform keeps serving), reuse
# "container" refused, and no container left.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

scripts="$IT_DIR/../../scripts"
"$scripts/base-images" python >/dev/null || { echo "Bail out! scripts/base-images failed"; exit 1; }
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_EXAMPLE_TAG="it-$$"
image="minilambda-lambda-python:$MINILAMBDA_EXAMPLE_TAG"
untag() { docker rmi "$image" >/dev/null 2>&1 || true; }
it_after untag
"$scripts/example-image" lambda-python >/dev/null || { echo "Bail out! scripts/example-image failed"; exit 1; }

export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=0
export MINILAMBDA_WARM_MAX=10
it_start lambda


# --- fields ---------------------------------------------------------------------
it_json POST /functions "{\"name\":\"bad1\",\"image\":\"$image\",\"protocol\":\"soap\"}"
it_expect "protocol: an unknown value is 400 invalid_protocol" 400 invalid_protocol
it_json POST /functions "{\"name\":\"bad2\",\"image\":\"$image\",\"protocol\":\"lambda\",\"reuse\":\"container\"}"
it_expect "protocol lambda with reuse container: 400 invalid_protocol" 400 invalid_protocol
it_json POST /functions "{\"name\":\"bad3\",\"image\":\"$image\",\"handler\":\"a\\nb\"}"
it_expect "handler: a control character is 400 invalid_handler" 400 invalid_handler

# --- reuse "process": one runtime, call after call -------------------------------
fn lp "$image" '"protocol":"lambda","reuse":"process","timeout":30,"memory_mb":128'
it_eq "the record says protocol lambda" lambda "$(it_jq .protocol)"
it_json PATCH "/functions/lp" '{"reuse":"container"}'
it_expect "PATCH to reuse container: 400 invalid_protocol" 400 invalid_protocol
it_call lp '{"name":"ada"}'
it_expect "process: the call succeeds" 200
it_eq "process: the result is the handler's" "hello, ada" "$(it_res .greeting)"
id=$(it_jq .invocation_id)
it_eq "process: aws_request_id is the invocation id" "$id" "$(it_res .request_id)"
it_eq "process: function_name" lp "$(it_res .function_name)"
it_eq "process: function_version" "\$LATEST" "$(it_res .function_version)"
it_eq "process: memory_limit_in_mb" 128 "$(it_res .memory_limit_in_mb)"
it_eq "process: log_group_name" /aws/lambda/lp "$(it_res .log_group_name)"
it_eq "process: invoked_function_arn" "arn:aws:lambda:us-east-1:000000000000:function:lp" "$(it_res .invoked_function_arn)"
rem=$(it_res .remaining_ms)
it_true "process: get_remaining_time_in_millis is close to the 30 s deadline ($rem)" \
    test "$rem" -gt 25000 -a "$rem" -le 30000
it_true "process: the handler's print is in the logs" grep -q "handling $id" <<<"$(it_jq .logs)"
it_call lp '{"name":"bob"}'
it_eq "process: the second call is served by the same runtime" reused "$(it_jq .start)"
it_eq "process: its own result" "hello, bob" "$(it_res .greeting)"
it_eq "process: its own request id" "$(it_jq .invocation_id)" "$(it_res .request_id)"
it_call lp '{"fail":"boom"}'
it_expect "process: a thrown error is 502 function_failed" 502 function_failed
it_eq "process: its errorType" ValueError "$(it_res .errorType)"
it_eq "process: its errorMessage" boom "$(it_res .errorMessage)"
it_true "process: its stackTrace names the handler" grep -q "app.py" <<<"$(it_res '.stackTrace | join("")')"
it_call lp '{"name":"after"}'
it_eq "process: after an error the runtime serves on" "hello, after" "$(it_res .greeting)"
it_eq "process: ... the same runtime" reused "$(it_jq .start)"
it_call lp '{"big":7000000}'
it_expect "process: a response past 6 MiB is 502 function_failed" 502 function_failed
it_eq "process: ... Function.ResponseSizeTooLarge" Function.ResponseSizeTooLarge "$(it_res .errorType)"
it_call lp '{"big":6000000}'
it_expect "process: a response just under 6 MiB is 200" 200
it_eq "process: ... all of it" 6000000 "$(it_res length)"
it_call lp '{"sleep":5}' '"timeout":2'
it_expect "process: a call past its timeout is 504 timeout" 504 timeout
it_call lp '{"name":"again"}'
it_expect "process: after a timeout the next call works" 200
it_eq "process: ... in a new runtime" cold "$(it_jq .start)"

# --- reuse "none": a prestarted runtime, one call each --------------------------
fn ln "$image" '"protocol":"lambda","keep_warm":1,"timeout":20'
it_true "none: one runtime prestarted" ml_wait_for 60 it_warm_is ln 1
it_call ln '{"name":"w"}'
it_expect "none: the call succeeds" 200
it_eq "none: it is warm (prestarted)" warm "$(it_jq .start)"
it_eq "none: the result" "hello, w" "$(it_res .greeting)"
it_eq "none: aws_request_id is the invocation id" "$(it_jq .invocation_id)" "$(it_res .request_id)"
rem=$(it_res .remaining_ms)
it_true "none: remaining time close to the 20 s deadline ($rem)" test "$rem" -gt 15000 -a "$rem" -le 20000
it_true "none: replenished" ml_wait_for 60 it_warm_is ln 1
it_call ln '{"fail":"nope"}'
it_expect "none: a thrown error is 502 function_failed" 502 function_failed
it_eq "none: its errorType" ValueError "$(it_res .errorType)"
fn lcold "$image" '"protocol":"lambda"'
it_call lcold '{"name":"c"}'
it_expect "none, cold: the call succeeds" 200
it_eq "none, cold: started cold" cold "$(it_jq .start)"
it_eq "none, cold: the result" "hello, c" "$(it_res .greeting)"

# --- init errors and init timeouts ------------------------------------------------
fn lbadp "$image" '"protocol":"lambda","reuse":"process","handler":"app.nope"'
it_call lbadp
it_expect "process: a handler that does not exist is 502 init_error" 502 init_error
it_eq "process: errorType Runtime.HandlerNotFound" Runtime.HandlerNotFound "$(it_res .errorType)"
it_call lbadp
it_expect "process: and again on the next call (a new runtime)" 502 init_error
fn lbadn "$image" '"protocol":"lambda","handler":"nomodule.handler","keep_warm":1'
ml_wait_for 60 it_warm_is lbadn 1 || true
it_call lbadn
it_expect "none: a module that does not exist is 502 init_error" 502 init_error
it_eq "none: errorType Runtime.ImportModuleError" Runtime.ImportModuleError "$(it_res .errorType)"
fn lstuck "$IT_BUSYBOX" '"protocol":"lambda","reuse":"process","command":["sleep","100"],"timeout":2'
it_call lstuck
it_expect "a runtime that never asks for a call: 504 init_timeout" 504 init_timeout

# --- a runtime that misbehaves -------------------------------------------------------
script=$(cat "$IT_DIR/lambda/misbehave.py")
fn lbad "$image" "$(jq -cn --arg s "$script" '{protocol:"lambda",reuse:"process",command:["python3","-c",$s]}' | sed 's/^{//; s/}$//')"
it_call lbad
it_expect "misbehaving runtime: the call is still answered" 200
it_eq "misbehaving: a response for a wrong id is 400" 400 "$(it_res .wrong_id)"
it_eq "misbehaving: a request that is not HTTP is 400" 400 "$(it_res .garbage)"
it_eq "misbehaving: an unknown path is 404" 404 "$(it_res .unknown)"
it_eq "misbehaving: a wrong method is 405" 405 "$(it_res .method)"
it_eq "misbehaving: a chunked body is 411" 411 "$(it_res .chunked)"
it_eq "misbehaving: /init/error after the init is 403" 403 "$(it_res .init_error_late)"
it_call lbad
it_eq "misbehaving: a second response to an answered call is 403" 403 "$(it_res .second)"
it_eq "misbehaving: the runtime is still the same" reused "$(it_jq .start)"
it_call lp '{"name":"still"}'
it_eq "the platform keeps serving" "hello, still" "$(it_res .greeting)"

# --- the Lambda Invoke API on a "lambda" function ---------------------------------------
L=/2015-03-31/functions
it_req POST "$L/lp/invocations" --data-binary '{"name":"aws"}' \
    -H "X-Amz-Client-Context: $(printf '{"custom":{"k":"v"}}' | base64 -w0)"
it_eq "Invoke API: the body is the handler's result" "hello, aws" "$(it_jq .greeting)"
it_eq "Invoke API: aws_request_id is x-amzn-RequestId" "$(it_header x-amzn-RequestId)" "$(it_jq .request_id)"
it_eq "Invoke API: X-Amz-Client-Context reaches context.client_context" v "$(it_jq .client_context.k)"
it_eq "Invoke API: the ARN the runtime sees is the API's" \
    "arn:aws:lambda:us-east-1:000000000000:function:lp" "$(it_jq .invoked_function_arn)"
it_req POST "$L/lp/invocations" --data-binary '{"fail":"kaputt"}' -H 'X-Amz-Log-Type: Tail'
it_eq "Invoke API: a thrown error is 200 with X-Amz-Function-Error" \
    "200 Unhandled" "$IT_STATUS $(it_header X-Amz-Function-Error)"
it_eq "Invoke API: the runtime's errorType and errorMessage, as posted" \
    $'ValueError\nkaputt' "$(it_jq '.errorType, .errorMessage')"
it_true "Invoke API: the tail holds the runtime's own log line" \
    sh -c "it=\$(printf %s '$(it_header X-Amz-Log-Result)' | base64 -d); echo \"\$it\" | grep -q 'handling '"
it_req POST "$L/lbadp/invocations" --data-binary '{}'
it_eq "Invoke API: an init error is a function error" \
    "200 Unhandled Runtime.HandlerNotFound" \
    "$IT_STATUS $(it_header X-Amz-Function-Error) $(it_jq .errorType)"
it_req POST "$L/lstuck/invocations" --data-binary '{}'
it_eq "Invoke API: an init timeout reads as Lambda's timeout" \
    "200 Sandbox.Timedout" "$IT_STATUS $(it_jq .errorType)"
it_true "Invoke API: Task timed out after 2.00 seconds" grep -q 'Task timed out after 2.00 seconds' "$IT_BODY"
it_req POST "$L/lp/invocations" --data-binary '{"big":7000000}'
it_eq "Invoke API: a result past 6 MiB is Function.ResponseSizeTooLarge" \
    "200 Function.ResponseSizeTooLarge" "$IT_STATUS $(it_jq .errorType)"

# --- nothing left ----------------------------------------------------------------------
for f in "${!FID[@]}"; do
    it_req DELETE "/functions/$f"
done
inst=$("$ML_BIN" --print-instance)
it_true "no container of this instance is left" \
    ml_wait_for 60 it_count_is 0 "label=minilambda.instance=$inst"
it_done
