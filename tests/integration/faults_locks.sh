#!/usr/bin/env bash
# A stuck lock holder (an external flock(1), bounded by timeout) on
# functions.json.lock, then on async/records.lock, for about 10 s:
#   - writers give up once the holder has held it more than 2 s
#     (FILES_LOCK_HELD_MS) and answer 503 store_busy with Retry-After;
#     those that come later, many at once (more than the control threads),
#     at once;
#   - readers never need the lock: GET /functions, GET /invocations and
#     /healthz answer at once (/healthz once a control thread is free:
#     within a writer's wait), and accepting an async run needs none;
#   - /healthz names the lock held too long (`locks` part), and is ok
#     again once it is released; the writes then succeed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=2 MINILAMBDA_CONTROL_THREADS=4
export MINILAMBDA_ASYNC_WORKERS=2
it_start locks
D=$MINILAMBDA_DATA_DIR
HOLD_S=10
fn_sh q 'cat'
fn_sh slow 'cat >/dev/null; sleep 3; echo slept' '"retries":0'

# hold FILE: an external holder of FILE's flock for HOLD_S seconds (timeout
# bounds it whatever happens), once it holds it. Its pid is in HOLDER.
hold() {
    timeout -k 1 $((HOLD_S + 4)) flock -x "$1" sleep "$HOLD_S" &
    HOLDER=$!
    it_bg "$HOLDER"
    ml_wait_for 5 held "$1"
}
held() { ! flock -n "$1" true; }
# released: the holder (and every other background client) is done.
released() {
    local p
    for p in "${IT_BG_PIDS[@]}"; do wait "$p" || true; done
    IT_BG_PIDS=()
}
# timed NAME METHOD PATH [curl args]: it_req, its duration in ms in MS.
timed() {
    local t0
    t0=$(it_ms)
    it_req "$@"
    MS=$(($(it_ms) - t0))
}
locks_name() { curl -s --max-time 10 "$BASE/healthz" | jq -r .components.locks.error | grep -q "$1"; }
healthz_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/healthz")" = "$1" ]; }

# --- functions.json.lock ----------------------------------------------------------
it_true "the external holder has functions.json.lock" hold "$D/functions.json.lock"
timed POST /functions -H 'Content-Type: application/json' -d '{"name":"blocked","image":"busybox"}'
echo "# functions.json.lock held: POST /functions answered in $MS ms"
it_expect "store lock held: POST /functions 503 store_busy" 503 store_busy
it_eq "store lock held: with Retry-After" 1 "$(it_header Retry-After)"
it_true "store lock held: answered within the wait and a margin ($MS ms)" test "$MS" -lt 3500
it_true "store lock held: only once the hold is older than 2 s ($MS ms)" test "$MS" -ge 1500
timed GET /functions
it_expect "store lock held: GET /functions answers" 200
it_true "store lock held: at once ($MS ms)" test "$MS" -lt 1000
it_eq "store lock held: the listing is whole" 2 "$(it_jq length)"
timed GET "/functions/q"
it_expect "store lock held: GET /functions/q answers" 200
# More writers than control threads: each gives up after its wait.
for i in $(seq 1 8); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST -H 'Content-Type: application/json' \
        -d "{\"name\":\"many$i\",\"image\":\"busybox\"}" "$BASE/functions" >>"$IT_TMP/many" &
    it_bg "$!"
done
t0=$(it_ms)
it_true "store lock held: /healthz names functions.json.lock" ml_wait_for 10 locks_name functions.json.lock
t_h=$(($(it_ms) - t0))
echo "# functions.json.lock held: /healthz named it ${t_h} ms after 8 more writers came"
wait_many() { [ "$(wc -l <"$IT_TMP/many")" -eq 8 ]; }
it_true "store lock held: the 8 writers were all answered" ml_wait_for 20 wait_many
it_eq "store lock held: all 8 with 503" "8" "$(grep -c '^503$' "$IT_TMP/many")"
timed GET /healthz
it_expect "store lock held: /healthz 503" 503
it_eq "store lock held: /healthz fails the locks part" store_busy "$(it_jq .components.locks.code)"
it_true "store lock held: /healthz answered fast ($MS ms)" test "$MS" -lt 1500
released
it_true "store lock released: /healthz 200 again" ml_wait_for 10 healthz_is 200
it_json POST /functions '{"name":"after","image":"busybox"}'
it_expect "store lock released: POST /functions 201" 201

# --- async/records.lock -----------------------------------------------------------
it_async slow '{"event":{}}'
run=$IT_INV
it_true "the slow run is RUNNING" it_inv_wait 20 "$run" RUNNING
it_true "the external holder has async/records.lock" hold "$D/async/records.lock"
timed DELETE "/invocations/$run"
echo "# records.lock held: DELETE /invocations/{id} answered in $MS ms"
it_expect "records lock held: DELETE /invocations/{id} 503 store_busy" 503 store_busy
it_true "records lock held: within the wait and a margin ($MS ms)" test "$MS" -lt 3500
timed POST /invoke/q/async -H 'Content-Type: application/json' -d '{"event":{}}'
it_expect "records lock held: an async invoke is still accepted" 202
queued=$(it_jq .invocation_id)
it_true "records lock held: at once ($MS ms)" test "$MS" -lt 1000
timed GET "/invocations/$run"
it_expect "records lock held: GET /invocations/{id} answers" 200
it_true "records lock held: at once ($MS ms)" test "$MS" -lt 1000
timed GET "/invocations?function=slow"
it_expect "records lock held: the listing answers" 200
it_true "records lock held: /healthz names async/records.lock" ml_wait_for 10 locks_name records.lock
# The idle executor cannot claim the queued run: it puts it back and waits.
it_true "records lock held: the idle executor's claim gives up, it stays up" \
    ml_wait_for 10 grep -q "executor [0-9]: .*records.lock is held by pid" \
    "$MINILAMBDA_RUN_DIR/minilambda.log"
it_eq "records lock held: the queued run is still PENDING" PENDING "$(it_inv_field "$queued" .status)"
released
it_true "records lock released: the run ends" it_inv_wait 30 "$run" COMPLETED FAILED
it_eq "records lock released: with the function's output" slept "$(it_inv_field "$run" .result.output | tr -d '\n')"
it_true "records lock released: /healthz 200 again" ml_wait_for 20 healthz_is 200
it_true "records lock released: the run queued meanwhile completes" it_inv_wait 30 "$queued" COMPLETED
it_eq "records lock released: in one attempt" 1 "$(it_inv_field "$queued" .attempts)"
no_marker() { [ -z "$(ls "$D/async/running")" ]; }
it_true "records lock released: no claim is left behind" ml_wait_for 10 no_marker
it_eq "records lock released: no executor restarted" 0 "$(grep -c 'executor [0-9]* (pid [0-9]*) exited' "$MINILAMBDA_RUN_DIR/minilambda.log" || true)"
timed DELETE "/invocations/$queued"
it_expect "records lock released: DELETE answers at once (409 already_finished)" 409 already_finished

it_done
