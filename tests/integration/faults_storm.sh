#!/usr/bin/env bash
# The storm that once crashed a worker (a data race on the image-inspect
# cache): warm load on keep_warm functions, kill -9 of the keeper, kill -9
# of the engine (an engine of this test's own) and its return, while 4
# clients loop on calls. No process of the pool may die of a signal it was
# not sent: no crash file in the run dir (crash.c writes one for SIGSEGV,
# SIGBUS, SIGILL, SIGFPE and SIGABRT), no "killed by signal" line in the
# master's log but the keeper's kill -9. And the crash file itself: a worker
# sent SIGSEGV leaves crash-<pid>.txt with its backtrace, and the master
# logs the signal.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_engine_start
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX in the private engine"; exit 1; }

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=0
export MINILAMBDA_WARM_MAX=12 MINILAMBDA_JANITOR_INTERVAL=2
it_start storm
LOG=$MINILAMBDA_RUN_DIR/minilambda.log
"$ML_BIN" --print-config | grep -q "^MINILAMBDA_INIT='/" ||
    { echo "Bail out! no minilambda-init next to the binary"; exit 1; }

crash_files() { find "$MINILAMBDA_RUN_DIR" -maxdepth 1 -name 'crash-*.txt' | wc -l; }
# Deaths by signal the master logged, but those of the pids in $1 (kill -9'd here).
signal_deaths() {
    grep 'killed by signal' "$LOG" | grep -v -E "\(pid ($1)\) killed by signal 9;" || true
}

fn_sh fresh 'cat' '"keep_warm":3'
fn_sh reused 'cat' '"keep_warm":3,"reuse":"container"'
fn_sh cold 'cat'
# The first call of each pins its image by id: the inspect cache is keyed by it.
for f in fresh reused cold; do
    it_json POST "/invoke/$f" '{"event":{"warmup":1}}'
    it_expect "warm-up: $f answers" 200
done

# --- the storm ----------------------------------------------------------------
STORM_S=24
client() {
    local i=$1 end=$((SECONDS + STORM_S)) f
    while [ "$SECONDS" -lt "$end" ]; do
        for f in fresh reused cold; do
            curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -X POST \
                -H 'Content-Type: application/json' -d "{\"event\":{\"c\":$i}}" \
                "$BASE/invoke/$f" >>"$IT_TMP/codes.$i" || echo 000 >>"$IT_TMP/codes.$i"
        done
    done
}
for i in 1 2 3 4; do
    client "$i" &
    it_bg "$!"
done
t_start=$SECONDS
at() { [ $((SECONDS - t_start)) -ge "$1" ]; }

ml_wait_for 30 at 4 || true
keeper=$(it_role_pids keeper)
it_true "storm: the keeper runs" test -n "$keeper"
kill -KILL "$keeper"
echo "# storm: keeper $keeper killed -9 at $((SECONDS - t_start)) s"
ml_wait_for 30 at 8 || true
it_engine_kill KILL
echo "# storm: the engine killed -9 at $((SECONDS - t_start)) s"
ml_wait_for 30 at 14 || true
it_engine_start
echo "# storm: the engine back at $((SECONDS - t_start)) s"
for p in "${IT_BG_PIDS[@]}"; do wait "$p" || true; done
IT_BG_PIDS=()

total=$(cat "$IT_TMP"/codes.* | wc -l)
ok=$(grep -c '^200$' "$IT_TMP"/codes.* | awk -F: '{s+=$2} END {print s+0}')
other=$(cat "$IT_TMP"/codes.* | grep -v -E '^(200|503)$' | sort | uniq -c | tr '\n' ' ' || true)
echo "# storm: $total calls, $ok answered 200; other than 200/503: ${other:-none}"
it_true "storm: calls were answered ($ok of $total 200)" test "$ok" -gt 0
it_eq "storm: no crash file in the run dir" 0 "$(crash_files)"
it_eq "storm: no process died of a signal but the keeper's kill -9" "" "$(signal_deaths "$keeper")"
it_json POST /invoke/fresh '{"event":{"after":1}}'
it_expect "after the storm: a call answers" 200

# --- a crash leaves its backtrace -------------------------------------------------
victims=$(it_fcgi_workers)
victim=${victims%%[[:space:]]*}
kill -SEGV "$victim"
it_true "SIGSEGV: crash-$victim.txt is written" ml_wait_for 10 test -s "$MINILAMBDA_RUN_DIR/crash-$victim.txt"
it_true "SIGSEGV: it names the signal" grep -q "pid $victim died of signal 11" "$MINILAMBDA_RUN_DIR/crash-$victim.txt"
it_true "SIGSEGV: and holds a backtrace" test "$(wc -l <"$MINILAMBDA_RUN_DIR/crash-$victim.txt")" -ge 3
it_true "SIGSEGV: the master logs the death by signal 11" \
    ml_wait_for 10 grep -q "(pid $victim) killed by signal 11" "$LOG"
it_json POST /invoke/fresh '{"event":{"after":2}}'
it_expect "SIGSEGV: the respawned pool answers" 200

it_done
