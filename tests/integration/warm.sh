#!/usr/bin/env bash
# Warm starts: keep_warm and adaptive warmth, the idle expiry and the cap,
# the call's own values in a container made before it, PATCH and DELETE
# draining, reuse "container" and "process" (their /tmp, their discard
# after a timeout or a broken protocol, never two calls in one container),
# and kill -9 of the keeper and of a worker holding a leased container:
# nothing leaks, the next call works.
# shellcheck disable=SC2016 # the functions' scripts expand in their containers
set -euo pipefail
export MINILAMBDA_TEST_MODE=warm
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=0
export MINILAMBDA_WARM_MAX=10 MINILAMBDA_WARM_IDLE=15
it_start warm
"$ML_BIN" --print-config | grep -q "^MINILAMBDA_INIT='/" ||
    { echo "Bail out! no minilambda-init next to the binary"; exit 1; }

# warm_of NAME: minilambda_warm_containers{function=NAME} now.
warm_of() {
    it_scrape "$IT_TMP/m"
    it_metric0 "minilambda_warm_containers{function=\"$1\"}" "$IT_TMP/m"
}
warm_is() { [ "$(warm_of "$1")" = "$2" ]; }
warm_at_least() { [ "$(warm_of "$1")" -ge "$2" ]; }
count_of() { it_count_containers "label=minilambda.function=${FID[$1]}"; }
INST=""
held() { docker ps -aq --filter label=minilambda.managed=1 --filter "label=minilambda.instance=$INST" | wc -l; }
call() { it_json POST "/invoke/$1" "${2:-{\"event\":{\}\}}"; }
start_is() { call "$1" && [ "$(it_jq .start)" = "$2" ]; }

# --- keep_warm: ready before the first call -----------------------------------
fn_sh kw 'cat' '"keep_warm":2'
it_true "keep_warm 2: two containers ready before any call" ml_wait_for 60 warm_is kw 2
it_eq "keep_warm 2: and two containers exist" 2 "$(count_of kw)"
INST=$(docker ps -q --filter "label=minilambda.function=${FID[kw]}" | head -1 |
    xargs docker inspect --format '{{index .Config.Labels "minilambda.instance"}}')
call kw '{"event":{"a":1}}'
it_expect "keep_warm: the first call 200" 200
it_eq "keep_warm: the first call is warm" warm "$(it_jq .start)"
it_eq "keep_warm: the result is the event" '{"a":1}' "$(it_jq .result)"
it_true "keep_warm: replenished to 2" ml_wait_for 60 warm_is kw 2

# --- the call's values reach a container made before it ------------------------
fn_sh envfn 'cat >/dev/null; echo "$MINILAMBDA_INVOCATION_ID $MINILAMBDA_ATTEMPT $MINILAMBDA_DEADLINE_MS $MINILAMBDA_FUNCTION_NAME"' '"keep_warm":1,"timeout":30'
ml_wait_for 60 warm_is envfn 1 || true
t0=$(($(date +%s%N) / 1000000))
call envfn
it_eq "env: warm" warm "$(it_jq .start)"
read -r got_id got_attempt got_deadline got_name <<<"$(it_jq .result)"
it_eq "env: MINILAMBDA_INVOCATION_ID is this call's" "$(it_jq .invocation_id)" "$got_id"
it_eq "env: MINILAMBDA_ATTEMPT" 1 "$got_attempt"
it_eq "env: MINILAMBDA_FUNCTION_NAME" envfn "$got_name"
it_true "env: MINILAMBDA_DEADLINE_MS is this call's (now + 30 s)" \
    test "$got_deadline" -ge $((t0 + 29000)) -a "$got_deadline" -le $((t0 + 32000))
call envfn
read -r got_id2 _ <<<"$(it_jq .result)"
it_true "env: the next call sees its own id" test "$got_id2" = "$(it_jq .invocation_id)" -a "$got_id2" != "$got_id"

# --- adaptive warmth and its idle expiry ---------------------------------------
fn_sh ad 'cat'
it_true "adaptive: the first call is cold" start_is ad cold
it_true "adaptive: one is ready after it" ml_wait_for 60 warm_at_least ad 1
it_true "adaptive: the next call is warm" start_is ad warm
it_true "adaptive: idle ${MINILAMBDA_WARM_IDLE} s, it expires" ml_wait_for 60 warm_is ad 0
it_true "adaptive: and its containers are removed" ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[ad]}"
it_true "adaptive: keep_warm ones never expire" warm_is kw 2

# --- a lone miss's warmth is made after its cold call, not beside it -----------------
# The call holds until the test creates /tmp/go in its container; had the
# keeper started on the miss, its container would exist by the time the
# call's runs. Were the call's end not heard, the keeper would wait out the
# timeout (60 s) before making one.
fn_sh hold 'cat >/dev/null; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done' '"timeout":60'
curl -s --max-time 90 -H 'Content-Type: application/json' -d '{"event":{}}' \
    "$BASE/invoke/hold" >"$IT_TMP/hold.json" &
hold_pid=$!
running_of() { docker ps -q --filter "label=minilambda.function=${FID[$1]}" --filter status=running; }
hold_runs() { [ -n "$(running_of hold)" ]; }
it_true "miss: the cold call's container runs" ml_wait_for 60 hold_runs
it_eq "miss: no warm container is made while the cold call runs" "1 0" "$(count_of hold) $(warm_of hold)"
docker exec "$(running_of hold | head -1)" touch /tmp/go
wait "$hold_pid"
it_eq "miss: the call answered, cold" "done cold" \
    "$(jq -r '"\(.result | rtrimstr("\n")) \(.start)"' "$IT_TMP/hold.json")"
it_true "miss: then one is made at once (not after the timeout)" ml_wait_for 20 warm_at_least hold 1
it_req DELETE /functions/hold
it_expect "miss: deleted (out of the cap's way below)" 204

# Calls that overlap get their warmth at once: two clients calling in a
# loop soon find warm containers.
fn_sh pair 'cat' '"timeout":60'
for c in 1 2; do
    (for _ in $(seq 1 15); do
        curl -s --max-time 60 -H 'Content-Type: application/json' -d '{"event":{}}' \
            "$BASE/invoke/pair" | jq -r .start
    done) >"$IT_TMP/pair.$c" &
    pair_pids[c]=$!
done
wait "${pair_pids[@]}"
it_true "overlapping calls: warm starts among 30 ($(sort "$IT_TMP"/pair.* | uniq -c | tr -s ' \n' ' '))" \
    grep -q '^warm$' "$IT_TMP/pair.1" "$IT_TMP/pair.2"
it_req DELETE /functions/pair
it_expect "overlapping calls: deleted" 204

# A prestarted container killed during its call: the call ends as the
# container did (137), not as a broken protocol.
fn_sh doomed 'cat >/dev/null; touch /tmp/started; while :; do sleep 0.05; done' '"keep_warm":1,"timeout":60'
it_true "killed: one ready" ml_wait_for 60 warm_is doomed 1
curl -s --max-time 90 -H 'Content-Type: application/json' -d '{"event":{}}' \
    "$BASE/invoke/doomed" >"$IT_TMP/doomed.json" &
doomed_pid=$!
# doomed_found: the container the call runs in (its /tmp/started) into doomed.cid.
doomed_found() {
    local c
    for c in $(running_of doomed); do
        if docker exec "$c" test -e /tmp/started 2>/dev/null; then
            echo "$c" >"$IT_TMP/doomed.cid"
            return 0
        fi
    done
    return 1
}
it_true "killed: the call runs" ml_wait_for 30 doomed_found
docker kill "$(cat "$IT_TMP/doomed.cid")" >/dev/null
wait "$doomed_pid"
it_eq "killed: failed with the container's exit code, warm" "failed 137 warm" \
    "$(jq -r '"\(.status) \(.exit_code) \(.start)"' "$IT_TMP/doomed.json")"
it_req DELETE /functions/doomed
it_expect "killed: deleted" 204

# An event up to 32 KiB goes in one write with its request header, a larger
# one after it: both sides of the edge arrive whole.
fn_sh edge 'cat' '"reuse":"container"'
for n in 32768 32769; do
    # A JSON string of n - 2 letters is an event of n bytes.
    head -c $((n - 2)) /dev/zero | tr '\0' a | jq -Rc '{event: .}' >"$IT_TMP/edge.json"
    it_req POST /invoke/edge -H 'Content-Type: application/json' --data-binary "@$IT_TMP/edge.json"
    it_eq "one write: an event of $n bytes arrives whole" "200 $n" "$IT_STATUS $(it_jq '.result | length')"
done
it_req DELETE /functions/edge
it_expect "one write: deleted" 204

# --- PATCH and DELETE drain before they answer -------------------------------------
fn_sh pd 'cat >/dev/null; echo "v=$V"' '"keep_warm":1,"env":{"V":"1"}'
it_true "patch: one ready" ml_wait_for 60 warm_is pd 1
old=$(docker ps -q --filter "label=minilambda.function=${FID[pd]}")
it_json PATCH /functions/pd '{"env":{"V":"2"}}'
it_expect "patch: 200" 200
call pd
it_eq "patch: the next call runs the new record" "v=2" "$(it_jq .result)"
old_gone() { [ -z "$(docker ps -aq --filter "id=$old")" ]; }
it_true "patch: the old warm container is gone" ml_wait_for 30 old_gone
it_true "patch: a new one is ready again" ml_wait_for 60 warm_is pd 1
it_req DELETE /functions/pd
it_expect "delete: 204" 204
it_true "delete: its warm containers are removed" \
    ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[pd]}"
it_true "delete: the gauge is 0" warm_is pd 0

# --- the cap -----------------------------------------------------------------------------
fn_sh c1 'cat' '"keep_warm":5'
fn_sh c2 'cat' '"keep_warm":5'
held_at_least() { [ "$(held)" -ge "$1" ]; }
ml_wait_for 120 held_at_least 10 || true
over=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$(held)" -le 10 ] || over=$((over + 1))
done
it_eq "cap: never more than MINILAMBDA_WARM_MAX=10 held" 0 "$over"
it_eq "cap: 10 held with 2+1+5+5 wanted" 10 "$(held)"

# --- reuse "container" ---------------------------------------------------------------------
it_json PATCH /functions/c1 '{"keep_warm":0}'
it_json PATCH /functions/c2 '{"keep_warm":0}'
fn_sh rc 'cat >/dev/null; n=$(cat /tmp/n 2>/dev/null || echo 0); echo $((n + 1)) >/tmp/n; echo "$n $(hostname)"' '"reuse":"container"'
call rc
it_eq "reuse container: the first call is cold" cold "$(it_jq .start)"
host1=$(it_jq .result | cut -d' ' -f2)
call rc
it_eq "reuse container: the next call reuses it" reused "$(it_jq .start)"
it_eq "reuse container: /tmp persists between calls" "1 $host1" "$(it_jq .result)"
fn_sh rcslow 'cat >/dev/null; sleep "${SLEEP:-0}"; hostname' '"reuse":"container","env":{"SLEEP":"1"}'
call rcslow
# Four at once: four containers, never one shared.
pids=()
for i in 1 2 3 4; do
    curl -s --max-time 60 -H 'Content-Type: application/json' -d '{"event":{}}' \
        "$BASE/invoke/rcslow" | jq -r .result >"$IT_TMP/host.$i" &
    pids+=($!)
done
wait "${pids[@]}"
it_eq "reuse container: 4 concurrent calls ran in 4 containers" \
    "4 distinct of 4" "$(sort -u "$IT_TMP"/host.[1-4] | grep -c .) distinct of $(cat "$IT_TMP"/host.[1-4] | grep -c .)"
echo "# hosts: $(cat "$IT_TMP"/host.[1-4] | tr '\n' ' ')"
it_json POST /invoke/rcslow '{"event":{},"timeout":1}'
it_expect "reuse container: a timeout is 504" 504 timeout
timed_out=$(docker ps -aq --filter "label=minilambda.function=${FID[rcslow]}" | sort)
it_true "reuse container: the timed-out container is gone" ml_wait_for 30 it_settled rcslow
call rcslow
it_expect "reuse container: the next call works" 200
it_true "reuse container: other containers serve it" test -n "$(it_jq '.result // empty')"
: "$timed_out"

# --- reuse "process": a broken protocol --------------------------------------------------------
fn_sh bad 'while read -r line; do echo "garbage, not an answer"; done' '"reuse":"process"'
call bad
it_expect "process: a broken answer is 502 protocol_error" 502 protocol_error
it_true "process: the error says why" grep -q "answer line" <<<"$(it_jq .error)"
it_true "process: the container is discarded" ml_wait_for 30 it_settled bad
fn_sh loop 'while IFS= read -r line; do n=$(echo "$line" | sed "s/.*\"event_length\":\([0-9]*\).*/\1/"); nc=$(echo "$line" | sed "s/.*\"nonce\":\"\([0-9a-f]*\)\".*/\1/"); ev=$(dd bs="$n" count=1 iflag=fullblock 2>/dev/null); printf "{\"exit_code\":0,\"result_length\":%d,\"log_length\":3,\"nonce\":\"%s\"}\n%slog" "${#ev}" "$nc" "$ev"; done' '"reuse":"process"'
call loop '{"event":{"x":1}}'
it_expect "process: a looping function answers" 200
it_eq "process: its result" '{"x":1}' "$(it_jq .result)"
it_eq "process: its logs come in the answer" log "$(it_jq .logs)"
it_true "process: the next call reuses its process" start_is loop reused

# --- kill -9 of the keeper ---------------------------------------------------------------
kp=$(it_keeper_pid)
ml_wait_for 60 warm_is kw 2 || true
kw_before=$(docker ps -q --filter "label=minilambda.function=${FID[kw]}" | sort | tr '\n' ' ')
kill -KILL "$kp"
new_keeper() {
    local p
    p=$(it_keeper_pid)
    [ -n "$p" ] && [ "$p" != "$kp" ]
}
it_true "keeper killed: a new keeper runs" ml_wait_for 10 new_keeper
gone_before() {
    local c
    for c in $kw_before; do [ -z "$(docker ps -aq --filter "id=$c")" ] || return 1; done
}
it_true "keeper killed: what it held is removed by the janitor" ml_wait_for 30 gone_before
it_true "keeper killed: keep_warm is back" ml_wait_for 60 warm_is kw 2
call kw
it_expect "keeper killed: calls work" 200

# --- kill -9 of a worker holding a leased container ---------------------------------------
fn_sh lease 'cat >/dev/null; sleep 30' '"reuse":"container","keep_warm":1,"timeout":60'
ml_wait_for 60 warm_is lease 1 || true
curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' -d '{"event":{}}' \
    "$BASE/invoke/lease" &
client=$!
ml_wait_for 10 warm_is lease 0 || true
worker=$(it_fcgi_workers | head -1)
kill -KILL "$worker"
wait "$client" 2>/dev/null || true
it_true "worker killed: its leased container is removed" \
    ml_wait_for 30 it_settled lease
fn_sh after 'cat'
call after '{"event":"ok"}'
it_expect "worker killed: the next call works" 200

# --- nothing left ---------------------------------------------------------------------------
ml_stop_all
it_eq "stopped: no container of this platform is left" 0 "$(held)"
it_done
