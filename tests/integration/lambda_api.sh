#!/usr/bin/env bash
# The Lambda API's door (/2015-03-31/...) on a loopback instance with keys
# optional, with curl and with Debian's AWS CLI (/usr/bin/aws, dummy
# credentials: no set-up for a first call):
#   1. Invoke RequestResponse: the body is the result; x-amzn-RequestId is
#      the call's id and its record is readable; X-Amz-Executed-Version;
#   2. function errors are 200 with X-Amz-Function-Error: a non-zero exit
#      (Runtime.ExitError), a timeout ("Task timed out after N.NN seconds");
#   3. X-Amz-Log-Type: Tail: the decoded tail holds the call's stderr;
#   4. Event (202, the run completes) and DryRun (204);
#   5. FunctionName as name, name:$LATEST, ?Qualifier=, full and partial
#      ARNs; malformed names, unknown qualifiers, bad headers and payloads,
#      oversized payloads and the concurrency limit: Lambda-shaped errors
#      (x-amzn-ErrorType, {"Type","message"}); operations we do not offer:
#      501 naming them;
#   6. ListFunctions paging, GetFunction(Configuration), CreateFunction
#      (Image) and DeleteFunction, with curl and the CLI;
#   7. the platform keeps serving, and no container is left;
#   8. on a keys-required instance, the CLI (invoke, Tail, Event, DryRun, a
#      failing and an unknown function, list-functions, get-function,
#      create-function --package-type Image, delete-function, a wrong
#      secret) and @aws-sdk/client-lambda sign with a key's credentials.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
AWS=/usr/bin/aws
[ -x "$AWS" ] || { echo "Bail out! $AWS is missing (scripts/setup --test installs awscli)"; exit 1; }

export MINILAMBDA_AUTH=off MINILAMBDA_MAX_CONCURRENCY=2 MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=4
it_start lambda_api
L=/2015-03-31/functions

# The CLI as a new user runs it: dummy credentials, no config file, no pager.
aws_cli() {
    AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" \
        AWS_EC2_METADATA_DISABLED=true "$AWS" --endpoint-url "$BASE" "$@"
}

# lam_expect DESC STATUS TYPE: the last answer had STATUS, x-amzn-ErrorType
# TYPE and a {"Type","message"} body.
lam_expect() {
    local desc=$1 status=$2 type=$3
    if [ "$IT_STATUS" != "$status" ] || [ "$(it_header x-amzn-ErrorType)" != "$type" ] ||
        [ -z "$(it_jq 'select(.Type == "User" or .Type == "Service") | .message')" ]; then
        it_not_ok "$desc" "expected $status $type, got $IT_STATUS $(it_header x-amzn-ErrorType): $(head -c 300 "$IT_BODY")"
        return
    fi
    it_ok "$desc"
}

fn echo "$IT_BUSYBOX" '"command":["cat"],"timeout":10'
fn_sh fail 'echo oops >&2; exit 3'
fn_sh logs 'cat; echo "line from stderr" >&2'
fn_sh slow 'sleep 30' '"timeout":1'
fn_sh hold 'sleep 3; cat'

# --- 1. RequestResponse ------------------------------------------------------
it_req POST "$L/echo/invocations" --data-binary '{"order":42}'
it_eq "Invoke answers 200" "$IT_STATUS" 200
it_eq "the body is the function's result, as it is" "$(cat "$IT_BODY")" '{"order":42}'
it_eq "X-Amz-Executed-Version is \$LATEST" "$(it_header X-Amz-Executed-Version)" "\$LATEST"
RID=$(it_header x-amzn-RequestId)
it_eq "x-amzn-RequestId is the invocation id" "$RID" "$(it_header X-Invocation-Id)"
it_eq "its record is readable, succeeded" "$(it_inv_field "$RID" .status)" COMPLETED
it_req POST "$L/echo/invocations" --data-binary ''
it_eq "an empty payload is the event {}" "$(cat "$IT_BODY")" '{}'
it_req POST "$L/echo/invocations" --data-binary '"just a string"'
it_eq "any JSON value is an event" "$(cat "$IT_BODY")" '"just a string"'
it_req POST "$L/echo/invocations" --data-binary '12345'
it_eq "a bare number is an event" "$(cat "$IT_BODY")" '12345'

# --- 2. function errors ------------------------------------------------------
it_req POST "$L/fail/invocations" --data-binary '{}'
it_eq "a failing function answers 200" "$IT_STATUS" 200
it_eq "X-Amz-Function-Error: Unhandled" "$(it_header X-Amz-Function-Error)" Unhandled
it_eq "errorType Runtime.ExitError" "$(it_jq .errorType)" Runtime.ExitError
it_true "errorMessage names the exit status" grep -q 'exit status 3' "$IT_BODY"
it_req POST "$L/slow/invocations" --data-binary '{}'
it_eq "a timeout answers 200 with X-Amz-Function-Error" \
    "$IT_STATUS $(it_header X-Amz-Function-Error)" "200 Unhandled"
it_eq "errorType Sandbox.Timedout" "$(it_jq .errorType)" Sandbox.Timedout
it_true "the message reads as Lambda's" grep -q 'Task timed out after 1.00 seconds' "$IT_BODY"

# --- 3. Tail -----------------------------------------------------------------
it_req POST "$L/logs/invocations" -H 'X-Amz-Log-Type: Tail' --data-binary '{"a":1}'
TAIL=$(it_header X-Amz-Log-Result | base64 -d 2>/dev/null || true)
it_true "the tail holds the call's stderr" grep -q 'line from stderr' <<<"$TAIL"
it_true "the tail is framed by START and REPORT with the request id" \
    sh -c "grep -q '^START RequestId: $(it_header x-amzn-RequestId)' && true" <<<"$TAIL"
it_true "REPORT ends it" grep -q '^REPORT RequestId: ' <<<"$TAIL"
it_req POST "$L/logs/invocations" --data-binary '{}'
it_eq "no X-Amz-Log-Result without Tail" "$(it_header X-Amz-Log-Result)" ""

# --- 4. Event and DryRun -----------------------------------------------------
it_req POST "$L/echo/invocations" -H 'X-Amz-Invocation-Type: Event' --data-binary '{"e":1}'
it_eq "Event answers 202, empty" "$IT_STATUS:$(wc -c <"$IT_BODY")" "202:0"
EID=$(it_header x-amzn-RequestId)
it_true "the queued run completes" it_inv_wait 30 "$EID" COMPLETED
it_req POST "$L/echo/invocations" -H 'X-Amz-Invocation-Type: DryRun'
it_eq "DryRun answers 204" "$IT_STATUS" 204
it_req POST "$L/nothing-here/invocations" -H 'X-Amz-Invocation-Type: DryRun'
lam_expect "DryRun of an unknown function is 404" 404 ResourceNotFoundException

# --- 5. names, qualifiers and bad input --------------------------------------
ARN=arn:aws:lambda:us-east-1:123456789012:function:echo
for ref in "echo:\$LATEST" "$ARN" "$ARN:\$LATEST" '123456789012:function:echo'; do
    enc=$(jq -rn --arg s "$ref" '$s|@uri')
    it_req POST "$L/$enc/invocations" --data-binary '{"n":1}'
    it_eq "FunctionName $ref runs echo" "$IT_STATUS $(cat "$IT_BODY")" '200 {"n":1}'
done
it_req POST "$L/echo/invocations?Qualifier=%24LATEST" --data-binary '{}'
it_eq "?Qualifier=\$LATEST runs it" "$IT_STATUS" 200
it_req POST "$L/echo:7/invocations" --data-binary '{}'
lam_expect "an unknown qualifier is ResourceNotFoundException" 404 ResourceNotFoundException
it_req POST "$L/echo:%24LATEST/invocations?Qualifier=prod" --data-binary '{}'
lam_expect "two different qualifiers are 400" 400 InvalidParameterValueException
for bad in 'arn:aws:lambda:us-east-1:12:function:echo' 'arn:aws:s3:::bucket' \
    'arn:aws:lambda:us-east-1:123456789012:layer:echo' 'a:b:c' 'echo:bad qualifier' \
    'arn:aws:lambda:us-east-1:123456789012:function:echo:1:2'; do
    enc=$(jq -rn --arg s "$bad" '$s|@uri')
    it_req POST "$L/$enc/invocations" --data-binary '{}'
    lam_expect "malformed FunctionName $bad is 400" 400 InvalidParameterValueException
done
it_req POST "$L/nothing-here/invocations" --data-binary '{}'
lam_expect "an unknown function is ResourceNotFoundException" 404 ResourceNotFoundException
it_true "its message names the function" grep -q 'nothing-here' "$IT_BODY"
it_req POST "$L/echo/invocations" -H 'X-Amz-Invocation-Type: Sometimes' --data-binary '{}'
lam_expect "a bad X-Amz-Invocation-Type is 400" 400 InvalidParameterValueException
it_req POST "$L/echo/invocations" -H 'X-Amz-Log-Type: All' --data-binary '{}'
lam_expect "a bad X-Amz-Log-Type is 400" 400 InvalidParameterValueException
it_req POST "$L/echo/invocations" -H 'X-Amz-Client-Context: %%%not-base64' --data-binary '{}'
lam_expect "invalid base64 in X-Amz-Client-Context is 400" 400 InvalidRequestContentException
it_req POST "$L/echo/invocations" -H "X-Amz-Client-Context: $(printf '[1,2]' | base64)" \
    --data-binary '{}'
lam_expect "a client context that is not an object is 400" 400 InvalidRequestContentException
it_req POST "$L/echo/invocations" -H "X-Amz-Client-Context: $(printf '{"custom":{"a":1}}' | base64 -w0)" \
    --data-binary '{"c":1}'
it_eq "a valid client context is taken" "$IT_STATUS" 200
for bad in '{"a":' 'not json' '{"a":1} trailing' $'\xff\xfe'; do
    it_req POST "$L/echo/invocations" --data-binary "$bad"
    lam_expect "payload $(printf %q "$bad") is InvalidRequestContentException" 400 \
        InvalidRequestContentException
done
head -c $((6 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$IT_TMP/big"
it_req POST "$L/echo/invocations" --data-binary "@$IT_TMP/big"
lam_expect "a payload past 6 MiB is RequestTooLargeException" 413 RequestTooLargeException
{ printf '"'; head -c $((6 * 1024 * 1024 - 3)) /dev/zero | tr '\0' a; printf '"'; } >"$IT_TMP/edge"
it_req POST "$L/echo/invocations" --data-binary "@$IT_TMP/edge"
it_eq "a payload of 6 MiB less one byte runs" "$IT_STATUS" 200
it_req PUT "$L/echo/configuration" -H 'Content-Type: application/json' --data-binary '{}'
lam_expect "UpdateFunctionConfiguration is 501" 501 UnsupportedOperationException
it_true "the answer names the operation" grep -q UpdateFunctionConfiguration "$IT_BODY"
it_req GET /2016-08-19/account-settings/
lam_expect "another API version's operation is 501 too" 501 UnsupportedOperationException
it_true "it names GetAccountSettings" grep -q GetAccountSettings "$IT_BODY"

# The concurrency limit: two calls hold both slots, the third is 429.
HOLD=()
for _ in 1 2; do
    curl -s -o /dev/null --max-time 30 -X POST --data-binary '{}' "$BASE$L/hold/invocations" &
    HOLD+=($!)
    it_bg $!
done
it_true "both slots are taken" ml_wait_for 10 sh -c \
    "curl -s '$BASE/metrics' | grep -q '^minilambda_invocations_in_flight{function=\"hold\"} 2'"
it_req POST "$L/echo/invocations" --data-binary '{}'
lam_expect "past the concurrency limit: TooManyRequestsException" 429 TooManyRequestsException
it_true "with Retry-After" test -n "$(it_header Retry-After)"
it_eq "and Lambda's Reason" "$(it_jq .Reason)" ConcurrentInvocationLimitExceeded
wait "${HOLD[@]}"

# --- 6. the control subset, with curl ----------------------------------------
it_req GET "$L/?MaxItems=2"
it_eq "ListFunctions pages by name" "$(it_jq '[.Functions[].FunctionName] | join(",")')" echo,fail
it_eq "NextMarker names the last" "$(it_jq .NextMarker)" fail
it_req GET "$L/?MaxItems=2&Marker=fail"
it_eq "the next page follows the marker" "$(it_jq '[.Functions[].FunctionName] | join(",")')" hold,logs
it_req GET "$L/?Marker=logs"
it_eq "the last page has no NextMarker" "$(it_jq '([.Functions[].FunctionName] | join(",")), .NextMarker')" \
    $'slow\nnull'
it_req GET "$L/?MaxItems=0"
lam_expect "MaxItems 0 is 400" 400 InvalidParameterValueException
it_req GET "$L/echo"
it_eq "GetFunction shows the image" "$(it_jq '.Code.ImageUri, .Configuration.PackageType, .Configuration.Timeout')" \
    "$IT_BUSYBOX"$'\nImage\n10'
it_req GET "$L/$(jq -rn --arg s "$ARN" '$s|@uri')/configuration"
it_eq "GetFunctionConfiguration by ARN" "$(it_jq '.FunctionName, .FunctionArn, .State, .Version')" \
    $'echo\narn:aws:lambda:us-east-1:000000000000:function:echo\nActive\n$LATEST'


# A new user's first call: any credentials do on a loopback instance with
# keys optional.
if aws_cli lambda invoke --function-name echo --cli-binary-format raw-in-base64-out \
    --payload '{"first":true}' "$IT_TMP/out.json" >/dev/null 2>"$IT_TMP/cli.err"; then
    it_eq "keys optional: dummy credentials invoke" "$(cat "$IT_TMP/out.json")" '{"first":true}'
else
    it_not_ok "keys optional: dummy credentials invoke" "$(cat "$IT_TMP/cli.err")"
fi

# --- 7. still serving, nothing left ------------------------------------------
it_req POST "$L/echo/invocations" --data-binary '{"last":1}'
it_eq "the platform still serves" "$IT_STATUS $(cat "$IT_BODY")" '200 {"last":1}'
it_true "the workers never crashed" sh -c "! ls '$MINILAMBDA_RUN_DIR'/crash-* >/dev/null 2>&1"
it_no_containers_left

# --- 8. keys required: the CLI and the SDK sign with a key's credentials --------
inst=$("$ML_BIN" --print-instance)
ml_stop_all
export MINILAMBDA_AUTH=on
it_start lambda_keys
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")
it_as_json "$ADMIN" POST /keys '{"name":"cli","scopes":["deploy","invoke"],"aws":true}'
[ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
KEY_ID=$(it_jq .aws_access_key_id)
KEY_SECRET=$(it_jq .aws_secret_access_key)
aws_cli() {
    AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$KEY_SECRET AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" \
        AWS_EC2_METADATA_DISABLED=true "$AWS" --endpoint-url "$BASE" "$@"
}
# The functions, made with the CLI (create-function --package-type Image).
mk() {
    if aws_cli lambda create-function --function-name "$1" --package-type Image \
        --code "ImageUri=$IT_BUSYBOX" --role arn:aws:iam::123456789012:role/any --timeout 10 \
        --image-config "$(jq -cn --argjson c "$2" '{Command: $c}')" >/dev/null 2>"$IT_TMP/cli.err"; then
        it_ok "create-function $1"
    else
        it_not_ok "create-function $1" "$(cat "$IT_TMP/cli.err")"
    fi
}
mk echo '["cat"]'
mk fail '["sh","-c","echo oops >&2; exit 3"]'
mk hold '["cat"]'
mk logs '["sh","-c","cat; echo \"line from stderr\" >&2"]'
mk slow '["cat"]'

# --- the AWS CLI --------------------------------------------------------------
if aws_cli lambda invoke --function-name echo --cli-binary-format raw-in-base64-out \
    --payload '{"cli":true}' "$IT_TMP/out.json" >"$IT_TMP/cli.json" 2>"$IT_TMP/cli.err"; then
    it_ok "aws lambda invoke exits 0"
else
    it_not_ok "aws lambda invoke exits 0" "$(cat "$IT_TMP/cli.err")"
fi
it_eq "the CLI wrote the result" "$(cat "$IT_TMP/out.json")" '{"cli":true}'
it_eq "the CLI saw status 200 and \$LATEST" "$(jq -r '.StatusCode, .ExecutedVersion' "$IT_TMP/cli.json")" \
    $'200\n$LATEST'
aws_cli lambda invoke --function-name logs --log-type Tail --cli-binary-format raw-in-base64-out \
    --payload '{}' "$IT_TMP/out.json" >"$IT_TMP/cli.json" 2>/dev/null || true
it_true "--log-type Tail: the decoded tail holds stderr" \
    sh -c "jq -r .LogResult '$IT_TMP/cli.json' | base64 -d | grep -q 'line from stderr'"
aws_cli lambda invoke --function-name fail "$IT_TMP/out.json" >"$IT_TMP/cli.json" 2>/dev/null || true
it_eq "a failing function: FunctionError in the output" "$(jq -r .FunctionError "$IT_TMP/cli.json")" Unhandled
aws_cli lambda invoke --function-name echo --invocation-type Event --payload '{}' \
    --cli-binary-format raw-in-base64-out "$IT_TMP/out.json" >"$IT_TMP/cli.json" 2>/dev/null || true
it_eq "--invocation-type Event: 202" "$(jq -r .StatusCode "$IT_TMP/cli.json")" 202
aws_cli lambda invoke --function-name echo --invocation-type DryRun "$IT_TMP/out.json" \
    >"$IT_TMP/cli.json" 2>/dev/null || true
it_eq "--invocation-type DryRun: 204" "$(jq -r .StatusCode "$IT_TMP/cli.json")" 204
if aws_cli lambda invoke --function-name nothing-here "$IT_TMP/out.json" >/dev/null 2>"$IT_TMP/cli.err"; then
    it_not_ok "an unknown function fails the CLI" "it exited 0"
else
    it_true "an unknown function: ResourceNotFoundException" grep -q ResourceNotFoundException "$IT_TMP/cli.err"
fi
aws_cli lambda list-functions >"$IT_TMP/cli.json" 2>"$IT_TMP/cli.err" || true
it_eq "aws lambda list-functions lists them all (it follows NextMarker)" \
    "$(jq -r '[.Functions[].FunctionName] | join(",")' "$IT_TMP/cli.json")" echo,fail,hold,logs,slow
aws_cli lambda list-functions --max-items 2 >"$IT_TMP/cli.json" 2>/dev/null || true
it_eq "--max-items 2: a page and a NextToken" \
    "$(jq -r '(.Functions | length), (.NextToken != null)' "$IT_TMP/cli.json")" $'2\ntrue'
aws_cli lambda get-function --function-name echo >"$IT_TMP/cli.json" 2>/dev/null || true
it_eq "aws lambda get-function" "$(jq -r .Configuration.FunctionArn "$IT_TMP/cli.json")" \
    arn:aws:lambda:us-east-1:000000000000:function:echo
if aws_cli lambda create-function --function-name made-by-cli --package-type Image \
    --code "ImageUri=$IT_BUSYBOX" --role arn:aws:iam::123456789012:role/any --timeout 7 \
    --image-config 'Command=cat' >"$IT_TMP/cli.json" 2>"$IT_TMP/cli.err"; then
    it_eq "create-function --package-type Image" \
        "$(jq -r '.FunctionName, .Timeout' "$IT_TMP/cli.json")" $'made-by-cli\n7'
else
    it_not_ok "create-function --package-type Image" "$(cat "$IT_TMP/cli.err")"
fi
aws_cli lambda invoke --function-name made-by-cli --cli-binary-format raw-in-base64-out \
    --payload '{"made":1}' "$IT_TMP/out.json" >/dev/null 2>&1 || true
it_eq "the function it made runs" "$(cat "$IT_TMP/out.json")" '{"made":1}'
it_as "$ADMIN" GET /functions/made-by-cli
it_eq "it is an ordinary function" "$(it_jq '.image, .timeout')" "$IT_BUSYBOX"$'\n7'
python3 -m zipfile -c "$IT_TMP/code.zip" "$IT_TMP/out.json"
if aws_cli lambda create-function --function-name zipped --zip-file "fileb://$IT_TMP/code.zip" \
    --runtime python3.12 --handler a.b --role r >/dev/null 2>"$IT_TMP/cli.err"; then
    it_not_ok "a zip package is refused" "it exited 0"
else
    it_true "a zip package is refused" grep -q InvalidParameterValueException "$IT_TMP/cli.err"
fi
if aws_cli lambda delete-function --function-name made-by-cli 2>"$IT_TMP/cli.err"; then
    it_ok "aws lambda delete-function"
else
    it_not_ok "aws lambda delete-function" "$(cat "$IT_TMP/cli.err")"
fi
it_as "$ADMIN" GET "$L/made-by-cli"
lam_expect "it is gone" 404 ResourceNotFoundException


KEY_SECRET_OK=$KEY_SECRET
KEY_SECRET="${KEY_SECRET%?}x"
if aws_cli lambda invoke --function-name echo "$IT_TMP/out.json" >/dev/null 2>"$IT_TMP/cli.err"; then
    it_not_ok "a wrong secret is refused" "it exited 0"
else
    it_true "a wrong secret: InvalidSignatureException" grep -q InvalidSignatureException "$IT_TMP/cli.err"
fi
KEY_SECRET=$KEY_SECRET_OK

# --- 6. with the AWS SDK for JavaScript --------------------------------------
# npm packages go under the build dir (once per build dir, again when the
# list changes), next to a copy of sdk.mjs, where Node resolves its imports.
SDK_DIR=$ML_BUILD/tests/lambda-sdk
lam_sdk_install() {
    local src=$IT_DIR/lambda
    mkdir -p "$SDK_DIR"
    if ! cmp -s "$src/package.json" "$SDK_DIR/package.json" || [ ! -d "$SDK_DIR/node_modules" ]; then
        cp "$src/package.json" "$SDK_DIR/package.json"
        (cd "$SDK_DIR" && npm install --no-audit --no-fund --no-package-lock --loglevel=error \
            >"$IT_TMP/npm.log" 2>&1) || { rm -f "$SDK_DIR/package.json"; return 1; }
    fi
    cp "$src/sdk.mjs" "$SDK_DIR/sdk.mjs"
}
# lam_sdk LABEL ARGS...: run sdk.mjs; each PASS/FAIL line is one result.
lam_sdk() {
    local verdict what why
    SDK_LABEL=$1 node "$SDK_DIR/sdk.mjs" "${@:2}" >"$IT_TMP/sdk.out" 2>"$IT_TMP/sdk.err" || true
    while IFS=$'\t' read -r verdict what why; do
        case $verdict in
        PASS) it_ok "$what" ;;
        FAIL) it_not_ok "$what" "$why" ;;
        esac
    done <"$IT_TMP/sdk.out"
    it_true "the SDK checks ran to the end" grep -q 'GetFunctionCommand' "$IT_TMP/sdk.out"
}
if lam_sdk_install; then
    AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$KEY_SECRET lam_sdk "sdk, a key's credentials" \
        "$BASE" echo fail
else
    it_not_ok "npm install @aws-sdk/client-lambda" "$(tail -3 "$IT_TMP/npm.log")"
fi


it_true "no container of the first instance is left" \
    ml_wait_for 60 it_count_is 0 "label=minilambda.instance=$inst"
it_true "no container of the second is left" \
    ml_wait_for 60 it_count_is 0 "label=minilambda.instance=$("$ML_BIN" --print-instance)"
it_done
