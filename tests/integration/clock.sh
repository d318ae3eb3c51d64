#!/usr/bin/env bash
# Wall clock steps, injected with libfaketime on the pool's processes only
# (LD_PRELOAD and a timestamp file in the pool's environment; nginx, curl
# and the engine keep the real clock; the monotonic clock is not faked, as
# in a real step):
#
#   1. stepped back 1 h: the newest calls still list first, and a retry
#      that was pending runs after its own delay, not an hour later;
#   2. stepped forward 25 h (past the 24 h retention): no record is pruned;
#   3. the pool restarted with the clock still 25 h ahead: the retention
#      thins the async records by at most a quarter per pass, never all at
#      once.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -r "$FAKETIME_LIB" ] || { echo "Bail out! libfaketime is not installed (scripts/setup)"; exit 1; }
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

FT=$IT_TMP/faketime.rc
echo "+0" >"$FT"
# The pool's processes read the file again at most a second after it changes.
start_faked_pool() {
    LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$FT FAKETIME_CACHE_DURATION=1 \
        FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 ml_start_pool
}

export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=1
export MINILAMBDA_JANITOR_INTERVAL=1 MINILAMBDA_RETRY_BASE_MS=4000
export MINILAMBDA_INVOCATION_RETENTION=86400
it_start clock
it_stop_pool
start_faked_pool || { echo "Bail out! the pool did not start under libfaketime"; exit 1; }
INSTANCE=$(cat "$MINILAMBDA_DATA_DIR/instance")
LOG=$MINILAMBDA_RUN_DIR/minilambda.log
faked() {
    local p n=0
    for p in $(it_pool_pid) $(it_workers); do
        grep -q libfaketime "/proc/$p/maps" 2>/dev/null || return 1
        n=$((n + 1))
    done
    [ "$n" -ge 3 ]
}
it_true "libfaketime is loaded in every pool process (master, workers, executor, janitor)" faked
NGINX=$(cat "$MINILAMBDA_RUN_DIR/nginx.pid")
it_true "and not in nginx (pid $NGINX)" sh -c "[ -r /proc/$NGINX/maps ] && ! grep -q libfaketime /proc/$NGINX/maps"

fn_sh quick 'cat >/dev/null; echo ok'
# shellcheck disable=SC2016 # expanded by the function's shell
fn_sh flaky 'cat >/dev/null; [ "$MINILAMBDA_ATTEMPT" = 1 ] && exit 1; echo second' '"retries":1'

# call: one quick sync call; its id on stdout.
call() {
    curl -s --max-time 30 -H 'Content-Type: application/json' -d '{"event":{}}' \
        "$BASE/invoke/quick" | jq -r .invocation_id
}
# log_ms ID: the pool's (wall) clock in ms when it logged call ID.
log_ms() {
    local t
    t=$(grep "invoke function=quick id=$1 " "$LOG" | head -1 | cut -d' ' -f1)
    [ -n "$t" ] && date -d "$t" +%s%3N
}
# step_seen OFFSET_S: a call logged now shows the pool's clock OFFSET_S
# (+-300) off the real one; the ids of calls made meanwhile go to $IT_TMP/early.
step_seen() {
    local id d
    id=$(call)
    d=$((($(log_ms "$id") - $(date +%s%3N)) / 1000))
    if [ $((d - $1)) -ge -300 ] && [ $((d - $1)) -le 300 ]; then
        echo "$id" >"$IT_TMP/stepped"
        return 0
    fi
    echo "$id" >>"$IT_TMP/early"
    return 1
}
listed() { curl -s --max-time 10 "$BASE/invocations?function=quick&limit=$1" | jq -r '.[].id' | tr '\n' ' '; }

# --- 1. stepped back 1 h --------------------------------------------------------
for i in 1 2 3; do call >>"$IT_TMP/early"; done
it_true "the pool's clock is the real one before the step" step_seen 0
it_async flaky '{"event":{}}'
RETRY=$IT_INV
retry_pending() { [ "$(it_inv_get "$RETRY" | jq -r '"\(.status)/\(.attempts)"')" = PENDING/1 ]; }
it_true "back: the first attempt failed, the retry waits its 4 s" ml_wait_for 20 retry_pending
T_FAIL=$(it_ms)
echo "-1h" >"$FT"
it_true "back: the pool's clock went back 1 h" ml_wait_for 10 step_seen -3600
B1=$(cat "$IT_TMP/stepped")
B2=$(call)
B3=$(call)
echo "# back: newest three listed: $(listed 3)(expected $B3 $B2 $B1)"
it_eq "back: the newest calls list first" "$B3 $B2 $B1 " "$(listed 3)"
it_true "back: the pending retry ran after its delay" ml_wait_for 20 it_inv_is "$RETRY" COMPLETED
echo "# back: the retry completed $(($(it_ms) - T_FAIL)) ms after its first attempt failed (delay 4000 ms)"
it_eq "back: in its second attempt" 2 "$(it_inv_field "$RETRY" .attempts)"
it_async flaky '{"event":{}}'
it_true "back: a retry scheduled after the step runs too" ml_wait_for 20 it_inv_is "$IT_INV" COMPLETED

# --- 2. stepped forward 25 h ------------------------------------------------------
ASYNC=("$RETRY" "$IT_INV")
for i in 1 2 3 4 5 6; do
    it_async quick '{"event":{}}'
    ASYNC+=("$IT_INV")
done
it_true "forward: 8 async runs completed" ml_wait_for 30 it_all_are COMPLETED "${ASYNC[@]}"
SYNC_N=$(curl -s "$BASE/invocations?function=quick&limit=100" | jq length)
EARLY=$(wc -l <"$IT_TMP/early")
echo "+25h" >"$FT"
it_true "forward: the pool's clock went forward 25 h" ml_wait_for 10 step_seen 90000
# A janitor pass after the step: it removes a leftover container of this
# instance, then prunes in the same pass; the second such removal means a
# whole pass ran after the step.
leftover() {
    docker create --label minilambda.managed=1 --label "minilambda.instance=$INSTANCE" \
        --label minilambda.run=00000000-0000-4000-8000-00000000000"$1" "$IT_BUSYBOX" true >/dev/null
}
no_leftover() { [ -z "$(docker ps -aq --filter "label=minilambda.instance=$INSTANCE" --filter 'label=minilambda.run=00000000-0000-4000-8000-000000000001')" ]; }
for i in 1 2; do
    leftover 1
    it_true "forward: janitor pass $i after the step" ml_wait_for 15 no_leftover
done
# The calls that looked for the step are records too.
it_eq "forward: no sync record was pruned" "$((SYNC_N + $(wc -l <"$IT_TMP/early") - EARLY + 1))" \
    "$(curl -s "$BASE/invocations?function=quick&limit=100" | jq length)"
gone=0
for id in "${ASYNC[@]}"; do [ "$(it_inv_field "$id" .status)" = COMPLETED ] || gone=$((gone + 1)); done
it_eq "forward: no async record was pruned" 0 "$gone"
it_eq "forward: the log says nothing was pruned" 0 "$(grep -c 'janitor: pruned' "$LOG" || true)"

# --- 3. restarted 25 h ahead --------------------------------------------------------
records() { find "$MINILAMBDA_DATA_DIR/async/records" -name '*.json' | wc -l; }
BEFORE=$(records)
it_stop_pool
start_faked_pool || { echo "Bail out! the pool did not restart"; exit 1; }
first_prune() { grep -m1 'finished async records past the retention' "$LOG" | grep -o 'pruned [0-9]*' | cut -d' ' -f2; }
it_true "restart: the retention prunes the async records past it" ml_wait_for 20 first_prune
echo "# restart: $BEFORE async records; the first pass pruned $(first_prune); after it, $(records) left"
it_true "restart: the first pass took at most a quarter of $BEFORE ($(first_prune))" \
    test "$(first_prune)" -le $(((BEFORE + 3) / 4))
all_gone() { [ "$(records)" -eq 0 ]; }
it_true "restart: over later passes every one of them goes" ml_wait_for 30 all_gone

ml_stop_all
docker ps -aq --filter "label=minilambda.instance=$INSTANCE" | xargs -r docker rm -f >/dev/null
it_true "nothing of the stack is left" test -z "$(docker ps -aq --filter "label=minilambda.instance=$INSTANCE")"
it_done
