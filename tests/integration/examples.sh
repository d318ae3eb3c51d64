#!/usr/bin/env bash
# The example functions end to end: the base images built from Debian
# packages (scripts/base-images, a few seconds each), the example images (scripts/example-image,
# under a tag of this run's own), then hello-python and hello-node
# registered and invoked through nginx with the platform's real isolation
# (read-only root, no network, no capabilities): "Processed: <message>".
# Then each image run directly with the same isolation, serving two calls
# of the loop protocol (MINILAMBDA_LOOP=1, as "reuse": "process" runs it),
# and behind minilambda-init in reuse mode (as "reuse": "container" runs
# it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

scripts="$IT_DIR/../../scripts"
if ! "$scripts/base-images" all; then
    echo "Bail out! scripts/base-images failed"
    exit 1
fi
# A tag of our own: another run building :latest meanwhile changes nothing here.
export MINILAMBDA_EXAMPLE_TAG="it-$$"
untag() { docker rmi "minilambda-hello-python:$MINILAMBDA_EXAMPLE_TAG" \
    "minilambda-hello-node:$MINILAMBDA_EXAMPLE_TAG" >/dev/null 2>&1 || true; }
it_after untag
if ! "$scripts/example-image" all >/dev/null; then
    echo "Bail out! scripts/example-image failed"
    exit 1
fi
python_image="minilambda-hello-python:$MINILAMBDA_EXAMPLE_TAG"
node_image="minilambda-hello-node:$MINILAMBDA_EXAMPLE_TAG"

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=8
unset MINILAMBDA_MAX_CONCURRENCY
it_start examples

# Canonical JSON (sorted keys, compact) of stdin, or "invalid" when it is not JSON.
canon() { jq -cS . 2>/dev/null || echo invalid; }

# is_json TEXT: TEXT parses as JSON.
is_json() { jq -e . >/dev/null 2>&1 <<<"$1"; }

# True when no container of function $1 is left in the engine (any state).
none_left() { [ "$(docker ps -aq --filter "label=minilambda.function=$1" | wc -l)" -eq 0 ]; }

hello='{"message":"Hello from Mini Lambda!"}'
event='{"name":"world","n":[1,2.5,-3],"ok":true,"none":null,"nested":{"s":"h\u00e9llo \"q\""}}'
other='[1,"two",{"three":3}]'

# check LANG IMAGE: register hello-LANG and invoke it through nginx.
check() {
    local lang=$1 image=$2 name="hello-$1" id result logs iid
    it_register "$name" "$image"
    id=$(it_jq .id)
    it_eq "$lang: registered with the example image" "$image" "$(it_jq .image)"

    it_json POST "/invoke/$name" "{\"event\":$hello,\"timeout\":60}"
    it_expect "$lang: invoke by name: 200" 200
    it_eq "$lang: status succeeded" succeeded "$(it_jq .status)"
    it_eq "$lang: exit_code 0" 0 "$(it_jq .exit_code)"
    result=$(it_jq .result)
    logs=$(it_jq .logs)
    iid=$(it_jq .invocation_id)
    it_true "$lang: result is JSON" is_json "$result"
    it_eq "$lang: the answer of the README" \
        '{"input_received":{"message":"Hello from Mini Lambda!"},"message":"Processed: Hello from Mini Lambda!"}' \
        "$(canon <<<"$result")"
    it_true "$lang: the stderr line is in the logs" grep -q "^hello-$lang: " <<<"$logs"
    it_true "$lang: the function saw its name, invocation id and attempt" \
        grep -qF "$name invocation $iid attempt 1" <<<"$logs"

    # By id, an event without a message (a name does not make one).
    it_json POST "/invoke/$id" "{\"event\":$event}"
    it_expect "$lang: invoke by id: 200" 200
    result=$(it_jq .result)
    it_eq "$lang: no message in the event" "Processed: No message" \
        "$(jq -r .message <<<"$result" 2>/dev/null)"
    it_eq "$lang: input_received is the event" "$(canon <<<"$event")" \
        "$(jq -c .input_received <<<"$result" 2>/dev/null | canon)"

    # An event that is not an object.
    it_json POST "/invoke/$id" "{\"event\":$other}"
    it_expect "$lang: an array event: 200" 200
    result=$(it_jq .result)
    it_eq "$lang: an array has no message" "Processed: No message" \
        "$(jq -r .message <<<"$result" 2>/dev/null)"
    it_eq "$lang: input_received is the array" "$(canon <<<"$other")" \
        "$(jq -c .input_received <<<"$result" 2>/dev/null | canon)"

    it_true "$lang: no container left behind" ml_wait_for 15 none_left "$id"
}

check python "$python_image"
check node "$node_image"

# The pool logged each invocation with its duration.
it_true "the pool logged invocations of both with duration_ms" \
    sh -c "grep 'function=hello-python' '$MINILAMBDA_RUN_DIR/minilambda.log' | grep -q duration_ms= &&
           grep 'function=hello-node' '$MINILAMBDA_RUN_DIR/minilambda.log' | grep -q duration_ms="

# The platform's isolation for a direct docker run; containers labelled so
# that none can outlive the test.
label=minilambda.test=examples-$$
remove_containers() { docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1; }
it_after remove_containers
isolated=(-i --rm --read-only --tmpfs /tmp --network none --cap-drop ALL
    --security-opt no-new-privileges --pids-limit 256 --user 65534:65534 --label "$label")

# loop_check LANG IMAGE: two calls of the loop protocol in one process.
loop_check() {
    local lang=$1 image=$2 rc=0
    : >"$IT_TMP/in"
    it_loop_request "$IT_TMP/in" "$hello" '"id":"call-1","function":"hello-'"$lang"'","attempt":1,"deadline_ms":1795790000000'
    it_loop_request "$IT_TMP/in" "$other" '"id":"call-2","function":"hello-'"$lang"'","attempt":2,"deadline_ms":1795790000000'
    docker run "${isolated[@]}" -e MINILAMBDA_LOOP=1 -e MINILAMBDA_FUNCTION_NAME="hello-$lang" \
        "$image" <"$IT_TMP/in" >"$IT_TMP/out" 2>"$IT_TMP/err" || rc=$?
    it_eq "$lang loop: exits 0 at the end of the requests" 0 "$rc"
    it_true "$lang loop: two well-formed responses" it_loop_decode "$IT_TMP/out" "$IT_TMP"
    it_eq "$lang loop: exit codes" "0 0" "$(cat "$IT_TMP/codes" 2>/dev/null)"
    it_eq "$lang loop: the first answer" "Processed: Hello from Mini Lambda!" \
        "$(jq -r .message "$IT_TMP/1" 2>/dev/null)"
    it_eq "$lang loop: the second answer" "$(canon <<<"$other")" \
        "$(jq -c .input_received "$IT_TMP/2" 2>/dev/null | canon)"
    it_true "$lang loop: each call logged its own values, in its answer" \
        sh -c "grep -q 'invocation call-1 attempt 1' '$IT_TMP/1.log' && grep -q 'invocation call-2 attempt 2' '$IT_TMP/2.log'"
}

# init_check LANG IMAGE COMMAND...: two calls through minilambda-init in
# reuse mode, a fresh process each, in the image's own workdir.
init_check() {
    local lang=$1 image=$2 rc=0
    shift 2
    : >"$IT_TMP/in"
    it_init_request "$IT_TMP/in" "$hello" MINILAMBDA_INVOCATION_ID=call-1 MINILAMBDA_ATTEMPT=1
    it_init_request "$IT_TMP/in" '{"message":"again"}' MINILAMBDA_INVOCATION_ID=call-2 MINILAMBDA_ATTEMPT=1
    docker run "${isolated[@]}" -v "$ML_BUILD/minilambda-init:/.minilambda/init:ro" \
        --entrypoint /.minilambda/init "$image" reuse -- "$@" \
        <"$IT_TMP/in" >"$IT_TMP/out" 2>"$IT_TMP/err" || rc=$?
    it_eq "$lang behind init: exits 0 at the end of the requests" 0 "$rc"
    it_true "$lang behind init: well-formed frames" it_init_decode "$IT_TMP/out" "$IT_TMP"
    it_eq "$lang behind init: both calls exited 0" "0 0" "$(cat "$IT_TMP/x")"
    it_eq "$lang behind init: both answers" \
        "Processed: Hello from Mini Lambda!,Processed: again" \
        "$(jq -rs 'map(.message) | join(",")' "$IT_TMP/o" 2>/dev/null)"
    it_true "$lang behind init: each call saw its own invocation id" \
        sh -c "grep -q 'invocation call-1 ' '$IT_TMP/e' && grep -q 'invocation call-2 ' '$IT_TMP/e'"
}

loop_check python "$python_image"
loop_check node "$node_image"
if [ -x "$ML_BUILD/minilambda-init" ]; then
    init_check python "$python_image" python3 /hello.py
    init_check node "$node_image" node index.js
else
    it_not_ok "minilambda-init is built" "$ML_BUILD/minilambda-init is missing"
fi
it_true "no example container is left" ml_wait_for 30 it_count_is 0 "label=$label"

it_done
