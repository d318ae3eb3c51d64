#!/usr/bin/env bash
# An engine's faults cost the run nothing: two private engines a and b (own
# --data-root, --exec-root, socket), the image loaded into each, and one
# of them frozen, stopped or restarted under calls:
#
#   1. b frozen (SIGSTOP) while runs are in it: the async runs it held
#      (their only attempt: retries 0) time out for the engine's sake, go
#      back to PENDING without spending an attempt and complete on a; the
#      sync calls on b end 503 engine_unavailable, not 504;
#   2. the engine holding a run stopped gracefully (dockerd SIGTERM, which
#      stops its containers: exit 143 under minilambda-init): the run is
#      requeued without spending an attempt and completes on the other;
#   3. b restarted gracefully under a load of sync calls: no call that ran
#      nothing (start null) gets a 503 while a answers; what b left is
#      removed by the janitor once it is back.
#
# Figures are printed as TAP comments.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
docker save "$IT_BUSYBOX" >"$IT_TMP/busybox.tar"
for e in a b; do
    it_engine_start_named "$e" --shutdown-timeout 5
    docker -H "unix://$(it_engine_sock "$e")" load -i "$IT_TMP/busybox.tar" >/dev/null
done
rm -f "$IT_TMP/busybox.tar"
A_HOST="unix://$(it_engine_sock a)"
B_HOST="unix://$(it_engine_sock b)"
host_of() { if [ "$1" = a ]; then echo "$A_HOST"; else echo "$B_HOST"; fi; }
other_of() { if [ "$1" = a ]; then echo b; else echo a; fi; }

export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=2
export MINILAMBDA_JANITOR_INTERVAL=2 MINILAMBDA_RETRY_BASE_MS=100 MINILAMBDA_WARM_MAX=0
export MINILAMBDA_ENGINES="$A_HOST;name=a,$B_HOST;name=b"
it_start stack
INSTANCE=$(cat "$MINILAMBDA_DATA_DIR/instance")

# running_on NAME: the invocation ids of this stack's running containers on NAME.
running_on() {
    docker -H "$(host_of "$1")" ps --filter "label=minilambda.instance=$INSTANCE" \
        --filter status=running --format '{{.Label "minilambda.invocation"}}' 2>/dev/null || true
}
running_at_least() { [ "$(running_on "$1" | grep -c .)" -ge "$2" ]; }
left_on() {
    docker -H "$(host_of "$1")" ps -aq --filter "label=minilambda.instance=$INSTANCE" | wc -l
}
none_left() { [ "$(left_on "$1")" -eq 0 ]; }
engine_is() {
    [ "$(curl -s --max-time 5 "$BASE/healthz" |
        jq -r --arg n "$1" '.engines[] | select(.name == $n) | .status')" = "$2" ]
}
all_are() {
    local want=$1 id
    shift
    for id in "$@"; do [ "$(it_inv_field "$id" .status)" = "$want" ] || return 1; done
}
final() {
    local id s
    for id in "$@"; do
        s=$(it_inv_field "$id" .status)
        [ "$s" != PENDING ] && [ "$s" != RUNNING ] || return 1
    done
}
# summary ID...: "STATUS/attempts ..." of each, sorted and counted.
summary() {
    local id
    for id in "$@"; do it_inv_get "$id" | jq -r '"\(.status)/\(.attempts)"'; done | sort | uniq -c |
        awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}

# --- 1. b frozen with runs in it ----------------------------------------------
# Each run takes 3 s of its 6 s: a frozen engine makes it time out.
fn_sh hold 'cat >/dev/null; sleep 3; echo done' '"retries":0,"timeout":6'
ASYNC=()
for i in 1 2; do
    it_async hold '{"event":{}}'
    ASYNC+=("$IT_INV")
done
for i in 1 2; do
    (curl -s --max-time 60 -o "$IT_TMP/sync.$i" -H 'Content-Type: application/json' \
        -d '{"event":{}}' "$BASE/invoke/hold" || true) &
    it_bg $!
done
in_engines() { [ $(($(running_on a | grep -c .) + $(running_on b | grep -c .))) -ge "$1" ]; }
it_true "freeze: four runs are in the engines" ml_wait_for 30 in_engines 4
ON_B=$(running_on b | grep -c . || true)
B_ASYNC=0
for id in "${ASYNC[@]}"; do running_on b | grep -qx "$id" && B_ASYNC=$((B_ASYNC + 1)); done
echo "# freeze: $ON_B runs on b ($B_ASYNC of them async) when it was frozen"
it_engine_kill STOP b
T_STOP=$(it_ms)
it_true "freeze: an async run was on b" test "$B_ASYNC" -ge 1
it_true "freeze: b is listed down" ml_wait_for 10 engine_is b down
sync_done() { [ -s "$IT_TMP/sync.1" ] && [ -s "$IT_TMP/sync.2" ]; }
it_true "freeze: the sync calls answered" ml_wait_for 40 sync_done
on_b=0 wrong=0
for i in 1 2; do
    if [ "$(jq -r .engine "$IT_TMP/sync.$i")" = b ]; then
        on_b=$((on_b + 1))
        [ "$(jq -r .code "$IT_TMP/sync.$i")" = engine_unavailable ] || wrong=$((wrong + 1))
    elif [ "$(jq -r .status "$IT_TMP/sync.$i")" != succeeded ]; then
        wrong=$((wrong + 1))
    fi
done
echo "# freeze: sync calls on b: $on_b; answers: $(jq -c '[.status, .code, .engine]' "$IT_TMP"/sync.* | tr '\n' ' ')"
it_true "freeze: a sync call was on b" test "$on_b" -ge 1
it_eq "freeze: the sync call on b got 503 engine_unavailable, the one on a succeeded" 0 "$wrong"
it_true "freeze: the async runs ended" ml_wait_for 60 final "${ASYNC[@]}"
echo "# freeze: async runs $(summary "${ASYNC[@]}") $(($(it_ms) - T_STOP)) ms after the freeze"
it_eq "freeze: every async run completed in its one attempt" "COMPLETED/1:2" "$(summary "${ASYNC[@]}")"
it_true "freeze: the log says the engine failed the run, no attempt spent" \
    grep -q 'engine b stopped answering during the call.*not counted as an attempt' \
    "$MINILAMBDA_RUN_DIR/minilambda.log"
it_engine_kill CONT b
it_true "thawed: b is back" ml_wait_for 15 engine_is b up
it_true "thawed: the janitor removes what the frozen runs left on b" ml_wait_for 30 none_left b
it_true "thawed: nothing is left on a" ml_wait_for 30 none_left a

# --- 2. the engine holding a run stopped gracefully ------------------------------
# Under minilambda-init (reuse "container") the engine's SIGTERM kills the
# function's process: the run sees exit 143, in-band.
fn_sh stop 'cat >/dev/null; sleep 4; echo done' '"retries":0,"timeout":30,"reuse":"container"'
it_async stop '{"event":{}}'
SID=$IT_INV
holds() { running_on "$1" | grep -qx "$SID"; }
held() { holds a || holds b; }
it_true "stop: the run is in an engine" ml_wait_for 30 held
E=a
holds a || E=b
echo "# stop: the run is on $E; dockerd $E stopped gracefully"
it_engine_kill TERM "$E"
it_true "stop: the run ended" ml_wait_for 60 final "$SID"
echo "# stop: the run: $(it_inv_get "$SID" | jq -c '[.status, .attempts, .error]')"
it_eq "stop: it completed, its attempt not spent" "COMPLETED/1:1" "$(summary "$SID")"
it_true "stop: the log says the engine failed it" \
    grep -q "invocation $SID (engine $E stopped answering during the call" \
    "$MINILAMBDA_RUN_DIR/minilambda.log"
it_engine_start_named "$E"
it_true "stop: $E is back" ml_wait_for 15 engine_is "$E" up
it_true "stop: the janitor removes what $E stopped" ml_wait_for 30 none_left "$E"
it_true "stop: nothing is left on $(other_of "$E")" ml_wait_for 30 none_left "$(other_of "$E")"

# --- 3. b restarted gracefully under sync load ---------------------------------
fn_sh quick 'cat >/dev/null; echo ok'
load() {
    local out
    while [ ! -f "$IT_TMP/stop-load" ]; do
        out=$(curl -s --max-time 60 -H 'Content-Type: application/json' -d '{"event":{}}' \
            "$BASE/invoke/quick" -w ' %{http_code}')
        echo "${out##* } $(jq -r '"\(.start) \(.engine) \(.code) \(.error)"' <<<"${out% *}" 2>/dev/null)" \
            >>"$IT_TMP/load.$1"
    done
}
for i in 1 2 3 4; do
    load "$i" &
    it_bg $!
done
load_on_b() { [ "$(cat "$IT_TMP"/load.* 2>/dev/null | grep -c ' b ')" -ge "$1" ]; }
ml_wait_for 30 load_on_b 8 || true
for round in 1 2 3; do
    it_engine_kill TERM b
    it_engine_start_named b
    ml_wait_for 15 engine_is b up || true
    echo "# restart $round of b done"
done
load_at_least() { [ "$(cat "$IT_TMP"/load.* | wc -l)" -ge "$1" ]; }
ml_wait_for 30 load_at_least 200 || true
touch "$IT_TMP/stop-load"
total=$(cat "$IT_TMP"/load.* | wc -l)
s503=$(cat "$IT_TMP"/load.* | awk '$1 == 503' | wc -l)
s503_none=$(cat "$IT_TMP"/load.* | awk '$1 == 503 && $2 == "null"' | wc -l)
other=$(cat "$IT_TMP"/load.* | awk '$1 != 200 && $1 != 503' | wc -l)
echo "# restart: $total calls, $s503 got 503 ($s503_none of them ran nothing), $other other failures"
cat "$IT_TMP"/load.* | awk '$1 != 200' | cut -c1-200 | sort | uniq -c | sed 's/^/#   /' | head -10
echo "# restart: $(grep -c 'failed the container before the start' "$MINILAMBDA_RUN_DIR/minilambda.log" || true) calls placed again after their attach or start failed"
it_eq "restart: no call that ran nothing got 503 while a answered" 0 "$s503_none"
it_eq "restart: no call failed otherwise" 0 "$other"
it_true "restart: the janitor clears what b left" ml_wait_for 30 none_left b

ml_stop_all
it_true "nothing of the stack is left on a" ml_wait_for 30 none_left a
it_true "nothing of the stack is left on b" ml_wait_for 30 none_left b
it_done
