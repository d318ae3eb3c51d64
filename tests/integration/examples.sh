#!/usr/bin/env bash
# The example functions end to end: the base images built from Debian
# packages (scripts/base-images), the example images (scripts/example-image),
# then hello-python and hello-node registered and invoked through nginx with
# the platform's real isolation (read-only root, no network, no
# capabilities). A cold machine spends about a minute in debootstrap here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

scripts="$IT_DIR/../../scripts"
if ! "$scripts/base-images" all; then
    echo "Bail out! scripts/base-images failed"
    exit 1
fi
if ! "$scripts/example-image" all >/dev/null; then
    echo "Bail out! scripts/example-image failed"
    exit 1
fi

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=8
unset MINILAMBDA_MAX_CONCURRENCY
it_start examples

# Canonical JSON (sorted keys, compact) of stdin, or "invalid" when it is not JSON.
canon() { jq -cS . 2>/dev/null || echo invalid; }

# is_json TEXT: TEXT parses as JSON.
is_json() { jq -e . >/dev/null 2>&1 <<<"$1"; }

# True when no container of function $1 is left in the engine (any state).
none_left() { [ "$(docker ps -aq --filter "label=minilambda.function=$1" | wc -l)" -eq 0 ]; }

event='{"name":"world","n":[1,2.5,-3],"ok":true,"none":null,"nested":{"s":"h\u00e9llo \"q\""}}'
other='[1,"two",{"three":3}]'

# check LANG IMAGE: register hello-LANG and invoke it through nginx.
check() {
    local lang=$1 image=$2 name="hello-$1" id result logs iid
    it_register "$name" "$image"
    id=$(it_jq .id)
    it_eq "$lang: registered with the example image" "$image" "$(it_jq .image)"

    it_json POST "/invoke/$name" "{\"event\":$event,\"timeout\":60}"
    it_expect "$lang: invoke by name: 200" 200
    it_eq "$lang: status succeeded" succeeded "$(it_jq .status)"
    it_eq "$lang: exit_code 0" 0 "$(it_jq .exit_code)"
    result=$(it_jq .result)
    logs=$(it_jq .logs)
    iid=$(it_jq .invocation_id)
    it_true "$lang: result is JSON" is_json "$result"
    it_eq "$lang: message built from the event" "Processed: world" \
        "$(jq -r .message <<<"$result" 2>/dev/null)"
    it_eq "$lang: input_received is the event" "$(canon <<<"$event")" \
        "$(jq -c .input_received <<<"$result" 2>/dev/null | canon)"
    it_true "$lang: the stderr line is in the logs" grep -q "^hello-$lang: " <<<"$logs"
    it_true "$lang: the function saw its name and invocation id" \
        grep -qF "$name invocation $iid received" <<<"$logs"

    # By id, with an event that is not an object.
    it_json POST "/invoke/$id" "{\"event\":$other}"
    it_expect "$lang: invoke by id: 200" 200
    result=$(it_jq .result)
    it_eq "$lang: message of a non-object event is its JSON" "$(jq -c . <<<"$other")" \
        "$(jq -r .message <<<"$result" 2>/dev/null | sed 's/^Processed: //' | canon)"
    it_eq "$lang: input_received is the array" "$(canon <<<"$other")" \
        "$(jq -c .input_received <<<"$result" 2>/dev/null | canon)"

    it_true "$lang: no container left behind" ml_wait_for 15 none_left "$id"
}

check python minilambda-hello-python:latest
check node minilambda-hello-node:latest

# The pool logged each invocation with its duration.
it_true "the pool logged invocations of both with duration_ms" \
    sh -c "grep 'function=hello-python' '$MINILAMBDA_RUN_DIR/minilambda.log' | grep -q duration_ms= &&
           grep 'function=hello-node' '$MINILAMBDA_RUN_DIR/minilambda.log' | grep -q duration_ms="

it_done
