#!/usr/bin/env bash
# The pool's supervisor (minilambda-fcgi --supervise) and the scripts' pid
# files, with the faults injected for real on this test's own stack:
#  1. kill -9 of the master while async runs are RUNNING, others PENDING and
#     a client keeps queueing more: a new master serves within 1 s (the
#     figure is in the TAP line), the log says so, the old processes are
#     gone, no container is left, the RUNNING run with `retries` completes on
#     its retry and the one without ends FAILED "interrupted", and every run
#     that got a 202 completes exactly once: nothing accepted is lost;
#  2. SIGTERM to the supervisor: it forwards the stop, the master and every
#     worker end (checked by pid and start time), and it exits 0;
#  3. kill -9 of the supervisor: the master and the workers follow it, nginx
#     stays holding the port, and scripts/run -d with the same settings
#     recovers the instance without scripts/stop; the first invoke works;
#  4. a stale pool.pid (and nginx and dockerd pid files) naming an unrelated
#     live process: scripts/stop signals nothing and removes the files.
# Single quotes hold shell text run in the container.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=2 MINILAMBDA_GRACE=2
export MINILAMBDA_RETRY_BASE_MS=100
unset MINILAMBDA_MAX_CONCURRENCY MINILAMBDA_INVOCATION_RETENTION MINILAMBDA_JANITOR_INTERVAL
it_start supervise
LOG=$MINILAMBDA_RUN_DIR/minilambda.log
SCRIPTS=$IT_DIR/../../scripts

fn_sh echo 'cat'
fn_sh quick 'cat'
# Ends only when killed: its run is interrupted and, without retries, FAILED.
fn_sh hang 'sleep 120'
# Hangs on its first attempt only: interrupted, it completes on its retry.
fn_sh flaky 'if [ "$MINILAMBDA_ATTEMPT" = 1 ]; then sleep 120; fi; echo "attempt $MINILAMBDA_ATTEMPT"' \
    '"retries":1'

# proc_id PID: "PID STARTTIME", the identity the pid files record.
proc_id() { printf '%s %s\n' "$1" "$(ml_proc_start "$1")"; }
# all_gone "PID START"...: none of these processes runs any more.
all_gone() {
    local p
    for p in "$@"; do
        # shellcheck disable=SC2086 # "PID START": two arguments
        ml_proc_gone $p || return 1
    done
}
# stack_ids: the identities of the supervisor, the master and its children.
stack_ids() {
    local p
    for p in $(it_supervisor_pid) $(it_pool_pid) $(it_workers); do proc_id "$p"; done
}
children_are() { [ "$(it_workers | grep -c .)" -eq "$1" ]; }
# The master's children: workers, executors, the janitor, and the keeper
# when warm containers are kept.
KIDS=$((MINILAMBDA_WORKERS + MINILAMBDA_ASYNC_WORKERS + 1))
[ "${MINILAMBDA_WARM_MAX:-32}" -eq 0 ] || KIDS=$((KIDS + 1))
# premise DESC COMMAND...: what the checks below build on; not a result of
# its own (it holds with or without a supervisor): bail out when it fails.
premise() {
    local desc=$1
    shift
    "$@" >/dev/null 2>&1 || { echo "Bail out! premise failed: $desc"; exit 1; }
}
answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE$1")" = "$2" ]; }

# --- the process tree ---------------------------------------------------------
SUP=$(it_supervisor_pid || true)
MASTER=$(it_pool_pid || true)
it_true "pool.pid records the supervisor, which runs" test -n "$SUP"
it_eq "the supervisor has one child, the master" 1 "$(grep -c . <<<"$MASTER")"
it_true "the supervisor logged the master's start" \
    grep -q "\\[$SUP\\] info: master started (pid $MASTER)" "$LOG"
premise "the master runs the workers and the executors" \
    ml_wait_for 10 children_are "$KIDS"

# --- 1. kill -9 of the master ---------------------------------------------------
it_async hang '{"event":{}}'
HANG=$IT_INV
it_async flaky '{"event":{}}'
FLAKY=$IT_INV
premise "a run of hang and one of flaky are RUNNING" \
    ml_wait_for 30 it_all_are RUNNING "$HANG" "$FLAKY"
premise "hang's container runs" \
    ml_wait_for 30 it_count_is 1 "label=minilambda.function=${FID[hang]}" status=running
premise "flaky's container runs" \
    ml_wait_for 30 it_count_is 1 "label=minilambda.function=${FID[flaky]}" status=running
QUEUED=()
for i in 1 2 3; do
    it_async quick "{\"event\":{\"queued\":$i}}"
    QUEUED+=("$IT_INV")
done
premise "three runs of quick are PENDING behind them" it_all_are PENDING "${QUEUED[@]}"

# A client queueing runs all through the fault: a 202 is a promise to run.
POSTS=$IT_TMP/posts
: >"$POSTS"
poster() {
    local i code id
    for i in $(seq 1 60); do
        code=$(curl -s -o "$IT_TMP/post" -w '%{http_code}' --max-time 10 \
            -H 'Content-Type: application/json' --data-binary "{\"event\":{\"n\":$i}}" \
            "$BASE/invoke/quick/async") || code=000
        id=$(jq -r '.invocation_id // "-"' "$IT_TMP/post" 2>/dev/null || echo -)
        echo "$i $code $id" >>"$POSTS"
        sleep 0.02
    done
}
poster &
POSTER=$!
it_bg "$POSTER"
posted_at_least() { [ "$(grep -c . "$POSTS")" -ge "$1" ]; }
ml_wait_for 30 posted_at_least 5 || true

mapfile -t OLD < <(stack_ids | tail -n +2) # the master and its children
t0=$(it_ms)
kill -9 "$MASTER"
# The old processes first (so that no answer can come from them), then the
# first request a new master's worker serves.
premise "the killed master and all its children are gone" ml_wait_for 10 all_gone "${OLD[@]}"
took=""
while [ $(($(it_ms) - t0)) -lt 10000 ]; do
    if answers /functions/echo 200; then
        took=$(($(it_ms) - t0))
        break
    fi
    sleep 0.02
done
NEW=$(it_pool_pid || true)
it_true "kill master: a new master serves within 1 s (${took:-no answer in 10 000} ms)" \
    test -n "$took" -a "${took:-99999}" -lt 1000
it_true "kill master: the new master is another process" test -n "$NEW" -a "$NEW" != "$MASTER"
it_true "kill master: the supervisor is the same process" \
    test -n "$SUP" -a "$(it_supervisor_pid || true)" = "$SUP"
it_true "kill master: the log says how it died and what replaced it" \
    grep -q "\\[$SUP\\] warn: master (pid $MASTER) killed by signal 9; restarted as pid $NEW\$" "$LOG"
it_true "kill master: the new master runs every worker and executor again" \
    ml_wait_for 10 children_are "$KIDS"
it_json POST /invoke/echo '{"event":{"after":"kill"}}'
it_expect "kill master: a sync invoke works" 200
it_eq "kill master: ... with its result" '{"after":"kill"}' "$(it_jq .result)"

wait "$POSTER" || true
# 202s, then 502s only while no master ran (at most 1 s), then 202s again.
codes=$(awk '{printf "%s ", $2}' "$POSTS")
runs=$(awk '{print $2}' "$POSTS" | uniq -c | awk '{print $2 "x" $1}' | paste -sd' ')
it_true "kill master: the client's posts were accepted again after the kill ($runs)" \
    grep -Eqx '(202 )+(502 )*(202 )+' <<<"$codes"
mapfile -t ACCEPTED < <(awk '$2 == 202 {print $3}' "$POSTS")
echo "# client: $(grep -c . "$POSTS") posts, ${#ACCEPTED[@]} accepted, $(awk '$2 == 502' "$POSTS" | grep -c . || true) refused while no master ran"
ALL=("${QUEUED[@]}" "${ACCEPTED[@]}")
it_true "kill master: every accepted run (${#ALL[@]}) COMPLETES" ml_wait_for 120 it_all_are COMPLETED "${ALL[@]}"
once=0
for id in "${ALL[@]}"; do [ "$(it_async_runs "$id")" != 1 ] || once=$((once + 1)); done
it_eq "kill master: ... each exactly once" "${#ALL[@]}" "$once"
it_true "kill master: the interrupted run without retries ends FAILED" it_inv_wait 30 "$HANG" FAILED
it_eq "kill master: ... with error \"interrupted\", attempt 1 of 1" "interrupted 1 1" \
    "$(it_inv_field "$HANG" '"\(.error) \(.attempts) \(.max_attempts)"')"
it_true "kill master: the interrupted run with retries COMPLETES on its retry" \
    it_inv_wait 30 "$FLAKY" COMPLETED
it_eq "kill master: ... as attempt 2 of 2" "attempt 2|2 2" \
    "$(it_inv_field "$FLAKY" '"\(.result.output | rtrimstr("\n"))|\(.attempts) \(.max_attempts)"')"
it_true "kill master: the killed runs' containers are removed" \
    ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[hang]}"
it_true "kill master: ... flaky's too" \
    ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[flaky]}"
it_eq "kill master: nothing PENDING or RUNNING remains" "0 0" \
    "$(it_inv_count status=PENDING) $(it_inv_count status=RUNNING)"
curl -sf "$BASE/invocations?limit=1000" | jq -r '.[].id' | sort >"$IT_TMP/listed"
it_eq "kill master: every accepted run is listed (missing ones)" "" \
    "$(printf '%s\n' "${ALL[@]}" "$HANG" "$FLAKY" | sort | comm -23 - "$IT_TMP/listed" | head -3 | paste -sd' ')"

# --- 2. SIGTERM to the supervisor ------------------------------------------------
mapfile -t STACK < <(stack_ids)
MASTER=$(it_pool_pid)
kill -TERM "$SUP"
rc="still running after 30 s"
if ml_wait_for 30 ml_not_running "$SUP"; then
    rc=0
    wait "$SUP" || rc=$?
fi
it_eq "SIGTERM: the supervisor exits 0" 0 "$rc"
it_true "SIGTERM: no process of the pool is left (${#STACK[@]}, by pid and start time)" \
    all_gone "${STACK[@]}"
it_true "SIGTERM: the supervisor forwarded it to the master" \
    grep -q "\\[$SUP\\] info: signal 15: stopping the master (pid $MASTER)" "$LOG"
stopped_gracefully() {
    grep -q "\\[$MASTER\\] info: pool stopped" "$LOG" &&
        [ ! -e "$MINILAMBDA_RUN_DIR/minilambda.sock" ] && [ ! -e "$MINILAMBDA_RUN_DIR/minilambda-invoke.sock" ]
}
it_true "SIGTERM: the master stopped its pool gracefully (logged it, removed its sockets)" \
    stopped_gracefully
it_true "SIGTERM: no master was started after it" \
    test "$(grep -c "\\[$SUP\\] .*restarted as pid" "$LOG")" -eq 1
rm -f "$MINILAMBDA_RUN_DIR/pool.pid"

# --- 3. kill -9 of the supervisor, and scripts/run -d ---------------------------
ml_start_pool || { echo "Bail out! the pool did not start again"; exit 1; }
SUP=$(it_supervisor_pid)
mapfile -t STACK < <(stack_ids)
NGINX=$(ml_pid_live "$MINILAMBDA_RUN_DIR/nginx.pid.started" || true)
# Out of this shell's job table first: no "Killed" notice in the TAP stream.
disown "$SUP"
kill -9 "$SUP"
it_true "kill supervisor: the master and the workers follow it (${#STACK[@]} processes)" \
    ml_wait_for 5 all_gone "${STACK[@]}"
premise "nginx still runs and holds the port" \
    test -n "$NGINX" -a "$(ml_pid_live "$MINILAMBDA_RUN_DIR/nginx.pid.started" || true)" = "$NGINX"
premise "the instance does not serve" answers /functions/echo 502
rc=0
"$SCRIPTS/run" -d >"$IT_TMP/run.out" 2>&1 || rc=$?
sed 's/^/#   run: /' "$IT_TMP/run.out" | grep -v 'try: curl' || true
it_eq "scripts/run -d recovers the instance without scripts/stop (exit 0)" 0 "$rc"
it_true "scripts/run -d: said pool.pid was stale" \
    grep -q "pool: stale pid file .*pool.pid removed: pid $SUP is not running" "$IT_TMP/run.out"
it_true "scripts/run -d: restarted our nginx instead of refusing its port" \
    grep -q "its nginx (pid $NGINX) runs: restarting it" "$IT_TMP/run.out"
it_true "scripts/run -d: the old nginx is gone" ml_not_running "$NGINX"
NEWSUP=$(it_supervisor_pid || true)
it_true "scripts/run -d: a new supervisor runs" test -n "$NEWSUP" -a "$NEWSUP" != "$SUP"
it_json POST /invoke/echo '{"event":{"after":"recovery"}}'
it_expect "scripts/run -d: the first invoke works" 200
it_eq "scripts/run -d: ... with its result" '{"after":"recovery"}' "$(it_jq .result)"

# --- 4. stale pid files naming an unrelated process -------------------------------
mapfile -t STACK < <(stack_ids)
STACK+=("$(proc_id "$(ml_pid_live "$MINILAMBDA_RUN_DIR/nginx.pid.started")")")
premise "scripts/stop stops the recovered instance" "$SCRIPTS/stop"
premise "no process of the pool or nginx is left" all_gone "${STACK[@]}"
sleep 300 &
SLEEPER=$!
it_bg "$SLEEPER"
SLEEPER_START=$(ml_proc_start "$SLEEPER")
run_dir=$MINILAMBDA_RUN_DIR
# stale_stop DESC LINE: every pid file holds LINE; scripts/stop must leave
# the sleep alone, say why, and remove the files.
stale_stop() {
    local desc=$1 line=$2 f left
    for f in pool.pid nginx.pid.started dockerd.pid; do echo "$line" >"$run_dir/$f"; done
    rc=0
    "$SCRIPTS/stop" >"$IT_TMP/stop.out" 2>&1 || rc=$?
    sed 's/^/#   stop: /' "$IT_TMP/stop.out"
    it_true "stale ($desc): scripts/stop left the unrelated process alone" \
        ml_proc_is "$SLEEPER" "$SLEEPER_START"
    left=$(for f in pool.pid nginx.pid.started dockerd.pid; do [ ! -e "$run_dir/$f" ] || echo "$f"; done)
    for f in pool nginx dockerd; do
        it_true "stale ($desc): scripts/stop removed the $f pid file, saying it did not signal pid $SLEEPER" \
            grep -q "^minilambda: $f: stale pid file .* removed: .*pid $SLEEPER .*not signalled" "$IT_TMP/stop.out"
    done
    it_eq "stale ($desc): scripts/stop exits 0 with no pid file left" "0 " "$rc $left"
}
# As the scripts wrote pid files before they recorded start times.
stale_stop "a bare pid" "$SLEEPER"
# The pid recycled: the process has the pid, not the start time.
stale_stop "another start time" "$SLEEPER $((SLEEPER_START - 1))"
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null || true

it_no_containers_left
it_done
