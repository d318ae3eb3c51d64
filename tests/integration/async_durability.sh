#!/usr/bin/env bash
# Async invocations survive the platform going away: with records RUNNING
# (long sleeps on both executors) and PENDING (queued behind them), the pool
# is (a) stopped with SIGTERM and (b) killed with SIGKILL, master and
# children alike, then started again on the same data dir. Every PENDING
# record must run to COMPLETED exactly once; every RUNNING one must end
# FAILED with error "interrupted" (max_attempts 1) and never run again;
# nothing is lost, nothing is left in the engine.
# Single quotes hold shell and jq text run elsewhere (in the container, by jq).
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=2 MINILAMBDA_GRACE=1
unset MINILAMBDA_MAX_CONCURRENCY MINILAMBDA_INVOCATION_RETENTION MINILAMBDA_JANITOR_INTERVAL
unset MINILAMBDA_RETRY_BASE_MS
it_start durable

fn_sh long 'sleep 30'
fn_sh quick 'echo "$MINILAMBDA_INVOCATION_ID" >&2; cat'

# kill_pool_hard: SIGKILL the supervisor (first, so that it cannot start a
# new master), the master and every child of it, each by pid.
kill_pool_hard() {
    local sup master pids p
    sup=$(it_supervisor_pid) || return 1
    master=$(it_pool_pid) || return 1
    pids="$sup $master $(pgrep -P "$master" || true)"
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    # The supervisor is this shell's child: reap it quietly (no "Killed" line).
    wait "$sup" 2>/dev/null || true
    for p in $pids; do ml_wait_for 20 ml_not_running "$p" || return 1; done
    rm -f "$MINILAMBDA_RUN_DIR/pool.pid"
}

# scenario MODE: MODE is term (it_stop_pool) or kill (kill_pool_hard).
scenario() {
    local mode=$1 i id
    local -a long=() quick=()
    local -A token=()
    for _ in 1 2; do
        it_async long '{"event":{}}'
        long+=("$IT_INV")
    done
    it_true "$mode: two long runs are RUNNING" ml_wait_for 30 it_all_are RUNNING "${long[@]}"
    it_true "$mode: their two containers run" ml_wait_for 30 it_count_is 2 "label=minilambda.function=${FID[long]}" status=running
    for i in 1 2 3; do
        it_async quick "{\"event\":{\"token\":\"$mode-$i\"}}"
        id=$IT_INV
        quick+=("$id")
        token[$id]="$mode-$i"
        it_eq "$mode: quick run $i is PENDING behind them" PENDING "$(it_inv_field "$id" .status)"
    done
    # Still the same picture right before the stop.
    it_true "$mode: the long runs are still RUNNING before the stop" it_all_are RUNNING "${long[@]}"

    if [ "$mode" = term ]; then
        it_true "$mode: the pool stops on SIGTERM" it_stop_pool
    else
        it_true "$mode: every pool process is killed with SIGKILL" kill_pool_hard
        it_eq "$mode: (premise) the engine still has the long runs' containers" 2 \
            "$(it_count_containers "label=minilambda.function=${FID[long]}")"
    fi
    it_true "$mode: the pool starts again on the same data dir" ml_start_pool

    for id in "${quick[@]}"; do
        if it_inv_wait 60 "$id" COMPLETED; then
            it_ok "$mode: the PENDING run ${token[$id]} COMPLETES after the restart"
        else
            it_not_ok "$mode: the PENDING run ${token[$id]} COMPLETES after the restart" \
                "record: $(it_inv_get "$id" | head -c 300)"
        fi
        it_eq "$mode: ${token[$id]} ran with its own event and id, once" \
            "{\"token\":\"${token[$id]}\"} $id 1" \
            "$(it_inv_get "$id" | jq -c '"\(.result.output | fromjson | tojson) \(.result.logs | rtrimstr("\n")) \(.attempts)"' -r 2>&1)"
        it_eq "$mode: the pool log has exactly one run of ${token[$id]}" 1 "$(it_async_runs "$id")"
    done
    for id in "${long[@]}"; do
        it_true "$mode: the interrupted run ends FAILED" it_inv_wait 30 "$id" FAILED
        it_eq "$mode: ... with error \"interrupted\", attempt 1 of 1, completed_at set" \
            "interrupted 1 1 true" \
            "$(it_inv_get "$id" | jq -r '"\(.error) \(.attempts) \(.max_attempts) \(.completed_at != null)"')"
        it_eq "$mode: the interrupted run never finished a run in the log" 0 "$(it_async_runs "$id")"
    done
    it_true "$mode: no container of the long runs is left" \
        ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[long]}"
    it_true "$mode: no container of the quick runs is left" \
        ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[quick]}"
    it_eq "$mode: nothing PENDING or RUNNING remains" "0 0" \
        "$(it_inv_count status=PENDING) $(it_inv_count status=RUNNING)"
    it_scrape "$IT_METRICS"
    it_eq "$mode: the queue depth gauge is 0" 0 "$(it_metric minilambda_async_queue_depth)"
    it_true "$mode: nothing is left claimed on disk" \
        test -z "$(find "$MINILAMBDA_DATA_DIR/async/running" "$MINILAMBDA_DATA_DIR/async/queue" -type f)"
    # The interrupted ones stay FAILED: they are not picked up again.
    for id in "${long[@]}"; do
        it_eq "$mode: the interrupted run is still FAILED with 1 attempt" "FAILED 1" \
            "$(it_inv_field "$id" '"\(.status) \(.attempts)"')"
    done
}

scenario term
scenario kill
it_eq "nothing lost: all 10 records are listed" 10 "$(it_inv_count limit=1000)"
it_eq "4 FAILED (interrupted) and 6 COMPLETED" "COMPLETED=6 FAILED=4" \
    "$(curl -s "$BASE/invocations?limit=1000" | jq -r 'group_by(.status) | map("\(.[0].status)=\(length)") | join(" ")')"

it_done
