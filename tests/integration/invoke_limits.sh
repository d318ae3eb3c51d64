#!/usr/bin/env bash
# The invoke limits: at MINILAMBDA_MAX_CONCURRENCY the next invocation gets
# 429 + Retry-After at once (no queue) while the control plane keeps
# answering quickly; and an engine that goes away gives 503 (invoke and
# /healthz) and comes back without restarting the platform. The engine is
# reached through a socat proxy on a socket this script owns, so "the engine
# goes away" means stopping the proxy, never the shared dockerd.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || { echo "Bail out! socat is needed (apt-get install socat)"; exit 1; }
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

PROXY_SOCK="$IT_TMP/engine-proxy.sock"
PROXY_PID=""

proxy_answers() { curl -sf --max-time 2 --unix-socket "$PROXY_SOCK" http://docker/_ping; }

# Start the proxy in its own process group, so stopping it also ends the
# children it forked for open connections (the platform's keep-alives).
proxy_up() {
    # -t: after the platform half-closes stdin, keep relaying the output
    # (socat would otherwise drop the connection 0.5 s after that EOF).
    setsid socat -t 600 "UNIX-LISTEN:$PROXY_SOCK,fork,unlink-early,mode=600" \
        UNIX-CONNECT:/var/run/docker.sock </dev/null >/dev/null 2>&1 &
    PROXY_PID=$!
    ml_wait_for 10 proxy_answers
}

proxy_down() {
    [ -n "$PROXY_PID" ] || return 0
    kill -TERM -- "-$PROXY_PID" 2>/dev/null || true
    ml_wait_for 10 ml_not_running "$PROXY_PID" || kill -KILL -- "-$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
    rm -f "$PROXY_SOCK"
}

# The harness's clean-up first (it stops the pool, whose last sweep still
# needs the proxy, and reads the exit status from $?), then the proxy.
limits_cleanup() {
    local rc=$?
    set +e
    (exit "$rc")
    it_cleanup
    proxy_down
}
trap limits_cleanup EXIT

proxy_up || { echo "Bail out! the socat proxy to the engine did not come up"; exit 1; }

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4 MINILAMBDA_MAX_CONCURRENCY=3
export DOCKER_HOST="unix://$PROXY_SOCK"
it_start limits
unset DOCKER_HOST # the docker CLI below talks to the engine directly

invoke() {
    local ref=$1 body=$2
    shift 2
    it_json POST "/invoke/$ref" "$body" "$@"
}

# best_time PATH: the best of 3 GETs' total time in seconds; every one must be 200.
best_time() {
    local best="" t code
    for _ in 1 2 3; do
        read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 "$BASE$1" || echo "000 99")
        [ "$code" = 200 ] || { echo "status-$code"; return; }
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
    done
    echo "$best"
}
under() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a < b) }'; }

fn_sh echo 'cat'
fn_sh sleeper 'sleep 5; echo done' '"timeout":30'

invoke echo '{"event":{"via":"proxy"}}'
it_expect "through the engine proxy: invoke 200" 200
it_eq "through the engine proxy: result" '{"via":"proxy"}' "$(it_jq .result)"

# --- at the concurrency limit ------------------------------------------------
pids=()
for i in 1 2 3; do
    curl -s -o "$IT_TMP/long.$i.body" -w '%{http_code}' --max-time 60 \
        -H 'Content-Type: application/json' --data-binary '{"timeout":30}' \
        "$BASE/invoke/sleeper" >"$IT_TMP/long.$i.status" 2>/dev/null &
    pids+=($!)
done
if ml_wait_for 30 it_count_is 3 "label=minilambda.function=${FID[sleeper]}" status=running; then
    it_ok "3 long invocations are running"
else
    it_not_ok "3 long invocations are running" \
        "$(it_count_containers "label=minilambda.function=${FID[sleeper]}" status=running) running"
fi

t0=$(it_ms)
invoke sleeper '{"timeout":30}'
took=$(($(it_ms) - t0))
it_expect "a 4th invocation at MAX_CONCURRENCY=3: 429" 429
it_true "429: Retry-After is a positive number of seconds ([$(it_header Retry-After)])" \
    grep -qE '^[1-9][0-9]*$' <<<"$(it_header Retry-After)"
it_true "429: JSON error with a code ([$(it_jq .code)])" \
    grep -qE '^[a-z_]+$' <<<"$(it_jq .code)"
it_true "429: JSON error with a message" test -n "$(it_jq '.error // empty')"
it_true "429: answered at once, not queued (${took} ms)" test "$took" -lt 1000

tf=$(best_time /functions)
th=$(best_time /healthz)
echo "# while all invoke slots are busy: GET /functions best ${tf}s, GET /healthz best ${th}s"
it_true "slots busy: GET /functions 200 within 0.2 s (best of 3: ${tf}s)" under "$tf" 0.2
it_true "slots busy: GET /healthz 200 within 0.2 s (best of 3: ${th}s)" under "$th" 0.2
it_true "the 3 long invocations were still running during those checks" \
    it_count_is 3 "label=minilambda.function=${FID[sleeper]}" status=running

for p in "${pids[@]}"; do wait "$p" || true; done
ok=0
for i in 1 2 3; do
    [ "$(cat "$IT_TMP/long.$i.status" 2>/dev/null)" = 200 ] &&
        [ "$(jq -r .result "$IT_TMP/long.$i.body" 2>/dev/null)" = "done" ] && ok=$((ok + 1))
done
it_eq "the 3 long invocations all completed with 200" 3 "$ok"
invoke echo '{"event":"after"}'
it_expect "the slots are free again: invoke 200" 200
it_true "no sleeper container is left" it_count_is 0 "label=minilambda.function=${FID[sleeper]}"

# --- the engine goes away and comes back ----------------------------------------
pool_before=$(it_pool_pid)
workers_before=$(it_workers | sort | tr '\n' ' ')
proxy_down
t0=$(it_ms)
invoke echo '{"event":{"n":1}}'
took=$(($(it_ms) - t0))
it_expect "engine unreachable: invoke 503 engine_unreachable" 503 engine_unreachable
it_true "engine unreachable: answered promptly (${took} ms)" test "$took" -lt 5000
it_true "engine unreachable: X-Invocation-Id still set" test -n "$(it_header X-Invocation-Id)"
it_req GET /healthz
it_expect "engine unreachable: /healthz 503" 503
it_eq "engine unreachable: /healthz says docker unreachable" unreachable "$(it_jq .docker)"
it_req GET /functions
it_expect "engine unreachable: the registry still answers" 200

proxy_up || { echo "Bail out! the socat proxy did not come back"; exit 1; }
invoke echo '{"event":{"n":1}}'
it_expect "engine back: the same invoke 200" 200
it_eq "engine back: result" '{"n":1}' "$(it_jq .result)"
it_req GET /healthz
it_expect "engine back: /healthz 200" 200
it_eq "engine back: the platform was not restarted (same master)" "$pool_before" "$(it_pool_pid)"
it_eq "engine back: the platform was not restarted (same workers)" "$workers_before" \
    "$(it_workers | sort | tr '\n' ' ')"

it_no_containers_left

it_done
