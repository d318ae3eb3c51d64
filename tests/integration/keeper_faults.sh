#!/usr/bin/env bash
# The keeper (the warm pool) under faults, injected for real against
# engines of this test's own (own --data-root, --exec-root, socket):
#
# One engine:
#   1. the cap: containers given back are kept only while the function's
#      want (adaptive warmth, keep_warm) is not met, not up to WARM_MAX;
#   2. kill -9 of the keeper under load: the new one's pool goes back to
#      the want, then to keep_warm once idle;
#   3. a ready container killed: dropped from the gauge, removed, replaced;
#   4. the engine killed -9: its dead containers stop counting at once;
#      making resumes within 1 s of it answering again, and what it left
#      is swept;
#   5. /healthz `keeper`: a frozen keeper is keeper_down, a function held
#      below keep_warm is keeper_stalled.
# Two engines (a and b, equal weights):
#   6. keep_warm containers spread by weight from an idle start;
#   7. b killed -9: its containers are dropped and keep_warm is met on a
#      at once (back-off is b's, not the function's); swept once b is back;
#   8. a frozen (SIGSTOP): makes and removals on b go on (per-engine
#      threads), though a's removals wait out their deadline;
#   9. /healthz `keeper` with two engines: a frozen keeper is keeper_down.
#
# Timings are printed as TAP comments; bounds are loose, for a shared machine.
# shellcheck disable=SC2016 # the functions' scripts expand in their containers
set -euo pipefail
export MINILAMBDA_TEST_MODE=warm
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_engine_start
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX in the private engine"; exit 1; }
A_HOST=$DOCKER_HOST
# A dockerd killed -9 leaves its containers' shims (and what runs under
# them) behind, which its restart does not adopt: once the engines are
# stopped, end those of this test's engines (their sockets are under
# $IT_TMP), by pid.
shims_cleanup() {
    local p c
    for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $IT_TMP/" || true); do
        for c in $(pgrep -P "$p" || true); do kill -KILL "$c" 2>/dev/null || true; done
        kill -TERM "$p" 2>/dev/null || true
    done
}
it_after shims_cleanup

# warm_of NAME: minilambda_warm_containers{function=NAME} now.
warm_of() {
    local m=$IT_TMP/m.$BASHPID
    it_scrape "$m"
    it_metric0 "minilambda_warm_containers{function=\"$1\"}" "$m"
}
warm_is() { [ "$(warm_of "$1")" = "$2" ]; }
# on HOST NAME [STATUS]: containers of function NAME on engine HOST (in STATUS).
on() {
    docker -H "$1" ps -aq --filter "label=minilambda.function=${FID[$2]}" \
        ${3:+--filter "status=$3"} | wc -l
}
on_is() { [ "$(on "$1" "$2" "${4:-}")" = "$3" ]; }
# settled NAME N: N ready (the gauge), N running, nothing else of NAME on A_HOST.
settled() { warm_is "$1" "$2" && on_is "$A_HOST" "$1" "$2" && on_is "$A_HOST" "$1" "$2" running; }
in_flight0() {
    local m=$IT_TMP/f.$BASHPID
    it_scrape "$m"
    [ "$(it_metric0 "minilambda_invocations_in_flight{function=\"$1\"}" "$m")" = 0 ]
}
# keeper_part: "status code" of /healthz's keeper part.
keeper_part() { curl -s --max-time 10 "$BASE/healthz" | jq -r '.components.keeper | "\(.status) \(.code)"'; }
keeper_part_is() { [ "$(keeper_part)" = "$1" ]; }
# created_since HOST MS NAME: ms from MS to the first create of NAME's containers on HOST.
created_since() {
    local first
    # --until is in whole seconds: the next one, so that this second counts.
    first=$(docker -H "$1" events --since "$(($2 / 1000))" --until "$(($(date +%s) + 1))" \
        --filter type=container --filter event=create \
        --filter "label=minilambda.function=${FID[$3]}" --format '{{.TimeNano}}' | sort -n | head -1)
    [ -n "$first" ] && echo $((first / 1000000 - $2))
}
# loop NAME SECONDS: call NAME until SECONDS have passed, one at a time.
loop() {
    local until=$(($(it_ms) + $2 * 1000))
    while [ "$(it_ms)" -lt "$until" ]; do
        curl -s -o /dev/null --max-time 30 -X POST -H 'Content-Type: application/json' \
            -d '{"event":{}}' "$BASE/invoke/$1" || true
    done
}

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=0
export MINILAMBDA_WARM_MAX=10 MINILAMBDA_WARM_IDLE=4 MINILAMBDA_JANITOR_INTERVAL=2
it_start one

# --- 1. the cap: what comes back is kept only while it is wanted -------------
fn_sh rc 'cat >/dev/null; sleep 1; echo ok' '"reuse":"container"'
pids=()
for i in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -o "$IT_TMP/rc.$i" --max-time 60 -X POST -H 'Content-Type: application/json' \
        -d '{"event":{}}' "$BASE/invoke/rc" &
    pids+=($!)
    it_bg $!
done
wait "${pids[@]}"
it_eq "cap: 10 concurrent calls answered" 10 "$(grep -l '"status":"succeeded"' "$IT_TMP"/rc.* | wc -l)"
ml_wait_for 10 in_flight0 rc || true
peak=0
for i in 1 2 3 4 5 6; do
    n=$(warm_of rc)
    [ "$n" -le "$peak" ] || peak=$n
    sleep 0.3
done
echo "# cap: after 10 concurrent calls, $peak containers of rc held ready ($(on "$A_HOST" rc running) running)"
it_true "cap: at most 4 (the burst's want) held, not 10 ($peak)" test "$peak" -le 4
it_true "cap: idle ${MINILAMBDA_WARM_IDLE} s, none is left" ml_wait_for 30 settled rc 0

# --- 2. kill -9 of the keeper under load ---------------------------------------
fn_sh kk 'cat >/dev/null; echo ok' '"reuse":"container","keep_warm":1'
it_true "kk: keep_warm 1 ready" ml_wait_for 60 settled kk 1
pids=()
for i in 1 2 3 4; do
    loop kk 6 &
    pids+=($!)
    it_bg $!
done
# Under way: the clients have reused containers going round.
reused_at_least() {
    local m=$IT_TMP/s.$BASHPID
    it_scrape "$m"
    [ "$(it_metric0 "minilambda_starts_total{function=\"kk\",start=\"reused\"}" "$m")" -ge "$1" ]
}
it_true "kk: the load runs on reused containers" ml_wait_for 10 reused_at_least 4
kp=$(it_keeper_pid)
kill -KILL "$kp"
echo "# keeper $kp killed -9 under 4 looping clients"
new_keeper() { local p; p=$(it_keeper_pid); [ -n "$p" ] && [ "$p" != "$kp" ]; }
it_true "a new keeper runs" ml_wait_for 20 new_keeper
wait "${pids[@]}"
ml_wait_for 10 in_flight0 kk || true
peak=0
for i in 1 2 3 4 5 6; do
    n=$(warm_of kk)
    [ "$n" -le "$peak" ] || peak=$n
    sleep 0.3
done
echo "# after the keeper's kill and the load: $peak containers of kk held ready"
it_true "kk: at most 4 held after the load, not WARM_MAX ($peak)" test "$peak" -le 4
it_true "kk: idle, back to keep_warm 1 (gauge, containers)" ml_wait_for 30 settled kk 1

# --- 3. a ready container killed --------------------------------------------------
fn_sh lv 'cat >/dev/null; echo ok' '"keep_warm":2'
it_true "lv: keep_warm 2 ready" ml_wait_for 60 settled lv 2
victim=$(docker ps -q --filter "label=minilambda.function=${FID[lv]}" | head -1)
docker kill "$victim" >/dev/null
t0=$(it_ms)
gone() { ! docker inspect "$victim" >/dev/null 2>&1; }
it_true "lv: the killed one is removed" ml_wait_for 10 gone
it_true "lv: replaced: 2 ready, 2 running, nothing else" ml_wait_for 10 settled lv 2
echo "# a killed ready container replaced in $(($(it_ms) - t0)) ms"
call_lv() { it_json POST /invoke/lv '{"event":{}}' && [ "$IT_STATUS" = 200 ]; }
it_true "lv: a call works" call_lv

# --- 4. the engine killed -9, and back ----------------------------------------------
it_engine_kill KILL
t0=$(it_ms)
it_true "engine down: the gauge counts no dead container" ml_wait_for 5 warm_is lv 0
echo "# engine killed: gauge 0 after $(($(it_ms) - t0)) ms"
# Down a few seconds: failed makes back off.
ml_wait_for 4 sh -c "[ \$((\$(date +%s%3N) - $t0)) -ge 3000 ]" || true
it_engine_start
t_back=$(it_ms)
it_true "back: keep_warm 2 ready again" ml_wait_for 30 warm_is lv 2
# The restarted engine's events are its own: the first create since the
# kill is the first make after its return (it may beat the test's own
# check that it answers: then the figure is below 0).
first=$(($(created_since "$A_HOST" "$t0" lv || echo 99999) + t0 - t_back))
echo "# back: first warm container created $first ms after the engine answered"
it_true "back: making resumed within 1 s of the engine answering (+0.5 s slack: $first ms)" \
    test "$first" -le 1500
it_true "back: what the dead engine left is swept" ml_wait_for 30 settled lv 2

# --- 5. /healthz keeper ----------------------------------------------------------------
it_eq "healthz: keeper ok" "ok null" "$(keeper_part)"
kp=$(it_keeper_pid)
kill -STOP "$kp"
it_true "healthz: a frozen keeper is keeper_down" ml_wait_for 10 keeper_part_is "failed keeper_down"
it_req GET /healthz
it_expect "healthz: 503 while the keeper is frozen" 503 keeper_down
kill -CONT "$kp"
it_true "healthz: ok again once it runs" ml_wait_for 10 keeper_part_is "ok null"
# More kept warm than the pool may hold: one function stays short.
fn_sh st 'cat >/dev/null; echo ok' '"keep_warm":12'
t0=$(it_ms)
it_true "healthz: a function held below keep_warm is keeper_stalled" \
    ml_wait_for 30 keeper_part_is "failed keeper_stalled"
echo "# keeper_stalled after $(($(it_ms) - t0)) ms"
it_req DELETE "/functions/st"
it_true "healthz: ok once it is gone" ml_wait_for 15 keeper_part_is "ok null"
ml_stop_all

# --- two engines --------------------------------------------------------------------------
it_engine_start_named b
B_HOST="unix://$(it_engine_sock b)"
docker save "$IT_BUSYBOX" | docker -H "$B_HOST" load >/dev/null
export MINILAMBDA_ENGINES="$A_HOST;name=a,$B_HOST;name=b"
FID=()
it_start two
engine_is() {
    [ "$(curl -s --max-time 5 "$BASE/healthz" | jq -r --arg n "$1" '.engines[] | select(.name == $n) | .status')" = "$2" ]
}
ready_on() { docker -H "$1" ps -q --filter "label=minilambda.function=${FID[$2]}" --filter status=running | wc -l; }

# --- 6. spread by weight from an idle start ---------------------------------------------
fn_sh sp 'cat >/dev/null; echo ok' '"keep_warm":2'
it_true "sp: keep_warm 2 ready" ml_wait_for 60 warm_is sp 2
echo "# sp's warm containers: a $(ready_on "$A_HOST" sp), b $(ready_on "$B_HOST" sp)"
it_eq "spread: one on a, one on b" "1 1" "$(ready_on "$A_HOST" sp) $(ready_on "$B_HOST" sp)"

# --- 7. b killed -9 -----------------------------------------------------------------------
it_engine_kill KILL b
t0=$(it_ms)
two_on_a() { warm_is sp 2 && [ "$(ready_on "$A_HOST" sp)" = 2 ]; }
it_true "b killed: keep_warm 2 met on a" ml_wait_for 10 two_on_a
echo "# b killed: 2 ready on a after $(($(it_ms) - t0)) ms"
it_true "b killed: met within 5 s, no 30 s back-off ($(($(it_ms) - t0)) ms)" \
    test $(($(it_ms) - t0)) -le 5000
# Its containerd may be left a zombie nobody reaps: its pid file would
# make the new dockerd wait for it.
cd_b=$(it_engine_containerd "$IT_ENGINE_DIR-b")
if [ -n "$cd_b" ] && { ! kill -0 "$cd_b" 2>/dev/null ||
    [ "$(ps -o stat= -p "$cd_b" | cut -c1)" = Z ]; }; then
    rm -f "$IT_ENGINE_DIR-b/exec/containerd/containerd.pid"
fi
it_engine_start_named b
it_true "b is back in" ml_wait_for 10 engine_is b up
it_true "b back: its dead containers are swept" ml_wait_for 30 on_is "$B_HOST" sp 0

# --- 8. a frozen: work on b goes on -----------------------------------------------------------
# Ready ones on both again (the spread), then a freezes.
fn_sh fz 'cat >/dev/null; echo ok' '"keep_warm":2'
both() { [ "$(ready_on "$A_HOST" fz)" -ge 1 ] && [ "$(ready_on "$B_HOST" fz)" -ge 1 ]; }
ml_wait_for 30 both || true
it_true "fz: a warm container on a and on b" both
kill -STOP "${IT_ENGINE_PID}"
it_true "a frozen: listed down" ml_wait_for 10 engine_is a down
t0=$(it_ms)
# A new generation: every ready one goes (a's removals hang on a), and
# two are made; calls take them and give them back for removal on b.
it_json PATCH "/functions/fz" '{"timeout":30}'
it_expect "fz: PATCH 200" 200
it_true "a frozen: keep_warm 2 made on b" ml_wait_for 10 sh -c "[ \$(docker -H '$B_HOST' ps -q --filter label=minilambda.function=${FID[fz]} --filter status=running | wc -l) -ge 2 ]"
echo "# a frozen: 2 ready on b $(($(it_ms) - t0)) ms after the PATCH"
it_true "a frozen: within 5 s ($(($(it_ms) - t0)) ms)" test $(($(it_ms) - t0)) -le 5000
for i in 1 2 3 4; do it_json POST /invoke/fz '{"event":{}}'; done
it_eq "a frozen: calls on b answer" 200 "$IT_STATUS"
exited_b() { [ "$(docker -H "$B_HOST" ps -aq --filter "label=minilambda.function=${FID[fz]}" --filter status=exited | wc -l)" = 0 ]; }
it_true "a frozen: used containers on b are removed" ml_wait_for 10 exited_b
kill -CONT "${IT_ENGINE_PID}"
it_true "a thawed: listed up" ml_wait_for 10 engine_is a up

# --- 9. /healthz keeper with two engines ---------------------------------------------------------
it_true "two: keeper ok" ml_wait_for 10 keeper_part_is "ok null"
kp=$(it_keeper_pid)
kill -STOP "$kp"
it_true "two: a frozen keeper is keeper_down" ml_wait_for 10 keeper_part_is "failed keeper_down"
kill -CONT "$kp"
it_true "two: ok again" ml_wait_for 10 keeper_part_is "ok null"

ml_stop_all
left() { [ "$(docker -H "$1" ps -aq --filter label=minilambda.managed=1 | wc -l)" = 0 ]; }
it_true "nothing is left on a" ml_wait_for 30 left "$A_HOST"
it_true "nothing is left on b" ml_wait_for 30 left "$B_HOST"
it_done
