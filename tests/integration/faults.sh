#!/usr/bin/env bash
# Faults an operator's bad day brings, injected for real against an engine
# of this test's own (own --data-root, --exec-root, socket; never the shared
# one) and a small tmpfs of its own:
#
#   1. dockerd killed -9 mid-call, then down a while: the runs it cut and
#      the ones queued meanwhile all complete once it is back, each with
#      attempts = 1 (an engine fault is not an attempt); executors claim
#      nothing while it is down and resume soon after its return; sync
#      calls get 503 engine_unreachable fast; /healthz names the engine;
#   2. dockerd frozen (SIGSTOP): a killed worker is respawned at once (the
#      master never waits on the engine), /healthz answers 503, and the
#      pool stops in bounded time;
#   3. a run finishing on a full disk stays RUNNING, its executor backs off
#      (same pid), /healthz says why, and it completes once space returns;
#      an executor killed while its outcome cannot be saved keeps its
#      marker until space returns, then the run is recovered;
#   4. temp files of interrupted writes are removed at start-up;
#   5. a 0-byte functions.json is corrupt, never an empty registry;
#   6. MINILAMBDA_ASYNC_MAX_PENDING bounds the queue at its edge.
#
# Timings are printed as TAP comments (the figures of the closing note);
# the bounds asserted are loose, for a shared machine.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_engine_start
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX in the private engine"; exit 1; }

# A managed container of this stack, in any state.
managed() { docker ps -aq --filter label=minilambda.managed=1 | wc -l; }
managed_is() { [ "$(managed)" -eq "$1" ]; }

# status_counts ID...: "STATUS:N ..." of the given invocations, sorted.
status_counts() {
    local id
    for id in "$@"; do it_inv_field "$id" .status; done | sort | uniq -c |
        awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}
# all_in STATUS ID...: every one of them is in STATUS.
all_in() { [ "$(status_counts "${@:2}")" = "$1:$(($# - 1))" ]; }
# attempts ID...: "attempts:N ..." of the given invocations, sorted.
attempts_of() {
    local id
    for id in "$@"; do it_inv_field "$id" .attempts; done | sort | uniq -c |
        awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}
running_count() {
    local id n=0
    for id in "$@"; do [ "$(it_inv_field "$id" .status)" != RUNNING ] || n=$((n + 1)); done
    echo "$n"
}
at_least_running() { [ "$(running_count "${@:2}")" -ge "$1" ]; }
log_has() { grep -q -- "$1" "$MINILAMBDA_RUN_DIR/minilambda.log"; }
log_count() { grep -c -- "$1" "$MINILAMBDA_RUN_DIR/minilambda.log" || true; }
# log_at_least N TEXT: the log has N lines with TEXT.
log_at_least() { [ "$(log_count "$2")" -ge "$1" ]; }
healthz_is() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/healthz")" = "$1" ]
}
ms_of_rfc3339() { date -d "$1" +%s%3N; }

# --- 1. the engine killed mid-call, then down a while ---------------------
export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=2
export MINILAMBDA_RETRY_BASE_MS=100 MINILAMBDA_JANITOR_INTERVAL=2
it_start outage
# Runs whose event says "slow" take 5 s: two of them are in the engine
# when it dies; 18 more are queued while it is down.
# shellcheck disable=SC2016 # expanded by the function's shell
fn_sh slow 'e=$(cat); case "$e" in *slow*) sleep 5 ;; esac; echo done' '"retries":3'
fn_sh quick 'echo quick'

ids=()
for i in 1 2; do
    it_async slow '{"event":"slow"}'
    ids+=("$IT_INV")
done
it_true "two runs are running in the engine" ml_wait_for 30 at_least_running 2 "${ids[@]}"
cut=$(running_count "${ids[@]}")
it_engine_kill KILL
t_down=$(it_ms)
echo "# dockerd killed -9 with $cut runs RUNNING"
it_eq "the engine died with 2 runs running" 2 "$cut"
for i in $(seq 3 20); do
    it_async slow "{\"event\":$i}"
    ids+=("$IT_INV")
done
it_eq "down: 18 more accepted, 20 in all" 20 "$(printf '%s\n' "${ids[@]}" | grep -c .)"

it_true "down: /healthz 503" ml_wait_for 10 healthz_is 503
it_req GET /healthz
it_eq "down: /healthz names the engine" engine "$(it_jq '.failed | join(",")')"
it_eq "down: code engine_unreachable" engine_unreachable "$(it_jq .code)"
t0=$(it_ms)
it_json POST /invoke/quick '{"event":{}}'
t_sync=$(($(it_ms) - t0))
it_expect "down: a sync call gets 503 engine_unreachable" 503 engine_unreachable
echo "# down: the sync call was answered in ${t_sync} ms"
it_true "down: the sync call was answered within 3 s (${t_sync} ms)" test "$t_sync" -lt 3000
it_true "down: every executor says it stops claiming" \
    ml_wait_for 20 log_at_least 2 'the engine does not answer'
it_true "down: the cut runs went back to PENDING, all 20 wait" \
    ml_wait_for 30 all_in PENDING "${ids[@]}"
it_eq "down: no attempt was spent" "0:20" "$(attempts_of "${ids[@]}")"
# (The sync call above has a FAILED record of its own: records.sh.)
it_eq "down: no async run failed" 0 \
    "$(curl -sf "$BASE/invocations?status=FAILED" | jq '[.[] | select(.type == "async")] | length')"
# The outage lasts well past the retry budget (0.1 + 0.2 + 0.4 s).
outage_at_least() { [ $(($(it_ms) - t_down)) -ge "$1" ]; }
ml_wait_for 10 outage_at_least 3000 || true
it_true "down 3 s: still all 20 PENDING" all_in PENDING "${ids[@]}"

it_engine_start
t_back=$(it_ms)
echo "# dockerd answers again ($(it_ms) ms clock), outage $((t_back - t_down)) ms"
it_true "back: all 20 complete" ml_wait_for 120 all_in COMPLETED "${ids[@]}"
it_eq "back: each took exactly one attempt" "1:20" "$(attempts_of "${ids[@]}")"
# The first run started after the engine came back (its answer is polled
# every 50 ms, so this may be a little under 0).
first=$(for id in "${ids[@]}"; do ms_of_rfc3339 "$(it_inv_field "$id" .started_at)"; done |
    awk -v d="$t_down" '$1 > d' | sort -n | head -1)
resume=$((first - t_back))
echo "# engine back: first run started ${resume} ms after dockerd answered"
it_true "back: executors resumed within 2 s of the engine's return (${resume} ms)" test "$resume" -lt 2000
it_eq "back: results are the function's" "done" "$(it_inv_field "${ids[0]}" '.result.output' | tr -d '\n')"
it_req GET /healthz
it_expect "back: /healthz 200" 200
it_true "back: no container is left" ml_wait_for 30 managed_is 0

# --- 2. the engine frozen ----------------------------------------------------
it_engine_kill STOP
master=$(it_pool_pid)
victim=$(it_fcgi_workers | head -1)
before=$(it_workers | sort | tr '\n' ' ')
respawned() {
    local now
    now=$(it_workers | sort | tr '\n' ' ')
    [ "$(wc -w <<<"$now")" -eq "$(wc -w <<<"$before")" ] && ! grep -qw "$victim" <<<"$now"
}
t0=$(it_ms)
kill -KILL "$victim"
it_true "frozen: a killed worker is respawned" ml_wait_for 10 respawned
t_respawn=$(($(it_ms) - t0))
echo "# frozen engine: worker respawned ${t_respawn} ms after kill -9 (polled every 50 ms)"
it_true "frozen: respawned within 1 s (${t_respawn} ms)" test "$t_respawn" -lt 1000
t0=$(it_ms)
it_true "frozen: /healthz answers 503" healthz_is 503
t_h=$(($(it_ms) - t0))
echo "# frozen engine: /healthz answered in ${t_h} ms"
it_req GET /functions
it_expect "frozen: the registry still answers" 200
t0=$(it_ms)
kill -TERM "$master"
it_true "frozen: the pool stops" ml_wait_for 60 ml_not_running "$master"
t_stop=$(($(it_ms) - t0))
echo "# frozen engine: the pool stopped ${t_stop} ms after SIGTERM"
it_true "frozen: stopped within 10 s (${t_stop} ms)" test "$t_stop" -lt 10000
rm -f "$MINILAMBDA_RUN_DIR/pool.pid"
kill -CONT "$IT_ENGINE_PID"
ml_stop_all
unset MINILAMBDA_RETRY_BASE_MS MINILAMBDA_JANITOR_INTERVAL

# --- 3. a full disk ------------------------------------------------------------
FULL=$(mktemp -d /tmp/minilambda-full.XXXXXX)
full_unmount() {
    umount "$FULL" 2>/dev/null || true
    rmdir "$FULL"
}
it_after full_unmount
mount -t tmpfs -o size=8m tmpfs "$FULL"
export IT_DATA_DIR=$FULL/data
mkdir -p "$IT_DATA_DIR/async/records"
# --- 4. (set up) temp files an interrupted write left.
head -c 503000 /dev/zero >"$IT_DATA_DIR/functions.json.tmp"
echo '{"torn' >"$IT_DATA_DIR/async/records/0b5e2f0e-7c1b-4d55-9d61-3f1f5c1f0a11.json.tmp"
export MINILAMBDA_ASYNC_WORKERS=1 MINILAMBDA_MIN_FREE_BYTES=1048576
it_start disk
D=$IT_DATA_DIR
no_tmp() { [ -z "$(find "$D" -name '*.tmp' -print -quit)" ]; }
it_true "start-up: temp files of interrupted writes are removed" ml_wait_for 10 no_tmp
it_true "start-up: the log says so" ml_wait_for 10 log_has 'removed 2 temp files'

fn_sh wait2 'sleep 2; echo saved' '"retries":0'
fill() { dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null || true; }
executor_pid() { it_role_pids executor; }
exec_state() { curl -s --max-time 10 "$BASE/healthz" | jq -r "$1"; }
stalled() { [ "$(exec_state .components.executors.code)" = storage_error ]; }
executors_down() { [ "$(exec_state .components.executors.code)" = executors_down ]; }
executor_back() { [ -n "$(executor_pid)" ]; }

it_async wait2 '{"event":{}}'
inv=$IT_INV
it_true "disk: the run is RUNNING" it_inv_wait 20 "$inv" RUNNING
exe=$(executor_pid)
fill
it_true "disk: the executor cannot save the outcome, /healthz says why" ml_wait_for 20 stalled
it_req GET /healthz
it_expect "disk full: /healthz 503" 503
it_eq "disk full: /healthz names disk and executors" "disk,executors" "$(it_jq '.failed | join(",")')"
it_true "disk full: the log names the failing call" log_has "cannot record invocation $inv"
it_true "disk full: backing off, it tried again" ml_wait_for 10 log_at_least 2 "cannot record invocation $inv"
it_eq "disk full: the executor did not exit (same pid)" "$exe" "$(executor_pid)"
it_eq "disk full: the record still says RUNNING" RUNNING "$(it_inv_field "$inv" .status)"
it_true "disk full: its running marker is kept" test -n "$(ls "$D/async/running")"
rm -f "$FULL/filler"
it_true "space back: the run completes" it_inv_wait 30 "$inv" COMPLETED
it_eq "space back: with the function's output" saved "$(it_inv_field "$inv" .result.output | tr -d '\n')"
it_true "space back: no marker left" test -z "$(ls "$D/async/running")"
it_true "space back: /healthz 200" ml_wait_for 20 healthz_is 200

# An executor killed while its outcome cannot be saved.
it_async wait2 '{"event":{}}'
inv=$IT_INV
it_true "kill: the run is RUNNING" it_inv_wait 20 "$inv" RUNNING
fill
it_true "kill: the executor stalls" ml_wait_for 20 stalled
kill -KILL "$(executor_pid)"
it_true "kill: /healthz says the executor is down" \
    ml_wait_for 10 executors_down
it_true "kill: recovery cannot write, the log says so" ml_wait_for 10 log_has 'its claim stays until it can be written'
it_eq "kill: the record still says RUNNING" RUNNING "$(it_inv_field "$inv" .status)"
it_true "kill: its marker is kept" test -n "$(ls "$D/async/running")"
it_eq "kill: no executor was respawned meanwhile" "" "$(executor_pid)"
rm -f "$FULL/filler"
it_true "space back: the run is recovered (FAILED, interrupted)" it_inv_wait 20 "$inv" FAILED
it_eq "space back: its error says interrupted" interrupted "$(it_inv_field "$inv" .error)"
it_true "space back: no marker left" test -z "$(ls "$D/async/running")"
it_true "space back: an executor runs again" ml_wait_for 20 executor_back
it_async wait2 '{"event":{}}'
it_true "space back: new runs complete" it_inv_wait 30 "$IT_INV" COMPLETED

# --- 5. a 0-byte functions.json ------------------------------------------------
fn_sh second 'cat'
: >"$D/functions.json"
it_req GET /functions
it_expect "0-byte store: GET /functions 503 store_corrupt" 503 store_corrupt
it_json POST /functions '{"name":"after","image":"busybox"}'
it_expect "0-byte store: POST /functions 503 store_corrupt" 503 store_corrupt
it_eq "0-byte store: the file is not rewritten" 0 "$(stat -c %s "$D/functions.json")"
it_true "0-byte store: the backup holds the last good version" \
    test "$(jq length "$D/functions.json.bak")" -ge 1
it_req GET /healthz
it_eq "0-byte store: /healthz names the store" store "$(it_jq '.failed | join(",")')"
ml_stop_all
rc=0
timeout -k 5 20 "$ML_BIN" >"$IT_TMP/refused.out" 2>&1 || rc=$?
it_true "0-byte store: start-up refuses (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
it_true "0-byte store: and says how to restore" grep -q 'functions.json.bak' "$IT_TMP/refused.out"
mv "$D/functions.json.bak" "$D/functions.json"
unset IT_DATA_DIR MINILAMBDA_MIN_FREE_BYTES

# --- 6. the queue bound -----------------------------------------------------------
export MINILAMBDA_ASYNC_WORKERS=0 MINILAMBDA_ASYNC_MAX_PENDING=3
it_start bound
fn_sh q 'cat'
for i in 1 2 3; do
    it_async q '{"event":{}}'
    it_expect "bound 3: run $i accepted" 202
done
it_async q '{"event":{}}'
it_expect "bound 3: the 4th gets 429 queue_full" 429 queue_full
it_true "bound 3: no record of the refused one" test "$(it_inv_count "function=q")" -eq 3
first=$(curl -sf "$BASE/invocations?function=q" | jq -r '.[0].id')
it_req DELETE "/invocations/$first"
it_expect "bound 3: cancelling one" 200
it_async q '{"event":{}}'
it_expect "bound 3: then one more fits" 202

it_done
