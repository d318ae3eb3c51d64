#!/usr/bin/env bash
# Asynchronous invocations end to end, against the real engine with the tiny
# busybox image: accept (202 + Location) and poll to COMPLETED, FAILED and
# TIMEOUT records, 404 / 413 / 400 never queue anything, X-Invocation-Type:
# Event, 200 invocations at once run exactly once each by at most 4
# executors, cancelling pending and running ones, 409 on finished ones,
# retries with backoff, listing filters and limits, POST as GET, the queue
# depth gauge, and retention pruning by the janitor on a second stack.
# The restart / crash cases live in async_durability.sh.
# Single quotes hold shell and jq text run elsewhere (in the container, by jq).
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=16 MINILAMBDA_ASYNC_WORKERS=4
export MINILAMBDA_RETRY_BASE_MS=200 MINILAMBDA_GRACE=1
unset MINILAMBDA_MAX_CONCURRENCY MINILAMBDA_INVOCATION_RETENTION MINILAMBDA_JANITOR_INTERVAL
it_start async

QUEUED=0 # every 202 of this stack: the listing must hold exactly these

# queue REF JSON: it_async, counting the accepted ones.
queue() {
    it_async "$@"
    if [ -n "$IT_INV" ]; then QUEUED=$((QUEUED + 1)); fi
}

# jqe FILTER FILE: jq -e, quietly.
jqe() { jq -e "$@" >/dev/null 2>&1; }

# Canonical JSON (sorted keys, compact) of stdin, or "invalid".
canon() { jq -cS . 2>/dev/null || echo invalid; }

# ms_of RFC3339: Unix milliseconds.
ms_of() { date -d "$1" +%s%3N; }

# poll SECS INTERVAL CMD...: like ml_wait_for, at a gentler pace for costly checks.
poll() {
    local secs=$1 step=$2 deadline
    shift 2
    deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep "$step"
    done
}

depth() {
    it_scrape "$IT_METRICS"
    it_metric minilambda_async_queue_depth
}
depth_is() { [ "$(depth)" = "$1" ]; }

# runs_is N ID: the pool log reports N runs of invocation ID.
runs_is() { [ "$(it_async_runs "$2")" -eq "$1" ]; }

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

fn_sh echo 'cat'
fn_sh fail 'echo partial; echo oops-on-stderr >&2; exit 3'
fn_sh slow 'sleep 30'
fn_sh tok 'echo "$MINILAMBDA_INVOCATION_ID" >&2; cat'
fn_sh sleeper 'sleep 60'
fn_sh flaky '[ "$MINILAMBDA_ATTEMPT" -ge 3 ] || { echo "attempt $MINILAMBDA_ATTEMPT fails" >&2; exit 1; }; echo ok' '"retries":2'

# --- accept, then poll to COMPLETED ------------------------------------------
EVENT='{"hello":"world","n":42,"list":[1,2,3]}'
queue echo "{\"event\":$EVENT}"
it_expect "async accept answers 202" 202
ID1=$IT_INV
it_true "the invocation id is a UUID" grep -Eq "$UUID_RE" <<<"$ID1"
it_eq "the accepted record is PENDING" PENDING "$(it_jq .status)"
it_true "created_at is RFC 3339 UTC with milliseconds" grep -Eq "$TIME_RE" <<<"$(it_jq .created_at)"
it_eq "Location points at the record" "/invocations/$ID1" "$(it_header Location)"
it_eq "the 202 body has exactly invocation_id, status, created_at" \
    '["created_at","invocation_id","status"]' "$(it_jq 'keys' | jq -c .)"
if it_inv_wait 30 "$ID1" COMPLETED; then it_ok "the invocation reaches COMPLETED"; else
    it_not_ok "the invocation reaches COMPLETED" "record: $(it_inv_get "$ID1")"
fi
it_req GET "/invocations/$ID1"
it_expect "GET /invocations/{id} answers 200" 200
cp "$IT_BODY" "$IT_TMP/rec1"
it_eq "the result output is the event" "$(canon <<<"$EVENT")" "$(it_jq .result.output | canon)"
it_eq "the result exit code is 0" 0 "$(it_jq .result.exit_code)"
it_true "the result has a duration_ms" jqe '.result.duration_ms | type == "number" and . >= 0' "$IT_BODY"
it_eq "the record names the function" "echo ${FID[echo]}" "$(it_jq '"\(.function_name) \(.function_id)"')"
it_eq "one attempt of one" "1/1" "$(it_jq '"\(.attempts)/\(.max_attempts)"')"
it_eq "a COMPLETED record has no error" null "$(it_jq .error)"
it_eq "the timeout is the function's default" 120 "$(it_jq .timeout)"
it_true "created_at <= started_at <= completed_at" \
    jqe '.created_at <= .started_at and .started_at <= .completed_at' "$IT_BODY"
it_eq "the pool ran it once" 1 "$(it_async_runs "$ID1")"
it_req POST "/invocations/$ID1"
it_expect "POST /invocations/{id} answers 200 like GET" 200
it_eq "POST /invocations/{id} returns the same record as GET" \
    "$(canon <"$IT_TMP/rec1")" "$(canon <"$IT_BODY")"
it_req GET /invocations/00000000-0000-4000-8000-000000000000
it_expect "an unknown invocation id: 404" 404 not_found
it_req GET /invocations/not-an-id
it_expect "a malformed invocation id: 404" 404 not_found

# --- FAILED and TIMEOUT -------------------------------------------------------
queue fail '{"event":{}}'
IDF=$IT_INV
it_expect "a failing function is accepted" 202
it_true "the failing invocation ends FAILED" it_inv_wait 30 "$IDF" FAILED
it_req GET "/invocations/$IDF"
it_eq "FAILED: the exit code is kept" 3 "$(it_jq .result.exit_code)"
it_eq "FAILED: stdout is kept" "partial" "$(it_jq .result.output | tr -d '\n')"
it_true "FAILED: stderr is in the logs" grep -q oops-on-stderr <<<"$(it_jq .result.logs)"
it_true "FAILED: the record has an error" jqe '.error | type == "string" and length > 0' "$IT_BODY"
it_true "FAILED: completed_at is set" grep -Eq "$TIME_RE" <<<"$(it_jq .completed_at)"

queue slow '{"timeout":1}'
IDT=$IT_INV
it_expect "a slow function is accepted" 202
it_true "a run past its timeout ends TIMEOUT" it_inv_wait 30 "$IDT" TIMEOUT
it_req GET "/invocations/$IDT"
it_eq "TIMEOUT: the record keeps the timeout of the request" 1 "$(it_jq .timeout)"
it_true "TIMEOUT: it took about the timeout, not the 30 s sleep" \
    jqe '.result.duration_ms >= 900 and .result.duration_ms < 20000' "$IT_BODY"
it_true "TIMEOUT: its container is gone" ml_wait_for 20 it_count_is 0 "label=minilambda.invocation=$IDT"

# --- what must never queue ---------------------------------------------------
before=$(it_inv_count limit=1000)
it_json POST /invoke/no-such-function/async '{"event":{}}'
it_expect "async invoke of an unknown function: 404, never 202" 404 not_found
it_json POST /invoke/no-such-function '{"event":{}}' -H 'X-Invocation-Type: Event'
it_expect "an Event invoke of an unknown function: 404" 404 not_found
head -c $((7 * 1024 * 1024)) /dev/zero | tr '\0' a | { printf '{"event":"'; cat; printf '"}'; } >"$IT_TMP/big.json"
it_req POST /invoke/echo/async -H 'Content-Type: application/json' --data-binary "@$IT_TMP/big.json"
it_expect "a 7 MiB async body: 413" 413
it_json POST /invoke/echo/async '{"event":{},"bogus":1}'
it_expect "an unknown body field: 400" 400 unknown_field
it_json POST /invoke/echo '{"event":{}}' -H 'X-Invocation-Type: Sometimes'
it_expect "an unknown X-Invocation-Type: 400" 400 invalid_invocation_type
it_eq "none of those left a record" "$before" "$(it_inv_count limit=1000)"
it_eq "no record for the unknown function" 0 "$(it_inv_count function=no-such-function)"

# --- X-Invocation-Type: Event -----------------------------------------------
it_json POST /invoke/echo '{"event":{"via":"header"}}' -H 'X-Invocation-Type: Event'
it_expect "X-Invocation-Type: Event on /invoke/{ref}: 202" 202
IDE=$(it_jq .invocation_id)
[ -z "$IDE" ] || [ "$IDE" = null ] || QUEUED=$((QUEUED + 1))
it_eq "the Event 202 has a Location" "/invocations/$IDE" "$(it_header Location)"
it_true "the Event invocation completes" it_inv_wait 30 "$IDE" COMPLETED
it_eq "the Event invocation saw its event" '{"via":"header"}' "$(it_inv_field "$IDE" .result.output | canon)"
it_json POST /invoke/echo '{"event":{"via":"sync"}}' -H 'X-Invocation-Type: RequestResponse'
it_expect "X-Invocation-Type: RequestResponse stays synchronous" 200
it_eq "the synchronous answer has the result" '{"via":"sync"}' "$(it_jq .result | canon)"

# --- retries with backoff ----------------------------------------------------
queue flaky '{"event":{}}'
IDR=$IT_INV
it_expect "a flaky function is accepted" 202
it_eq "max_attempts is retries + 1" 3 "$(it_inv_field "$IDR" .max_attempts)"
it_true "the flaky invocation COMPLETES on its third attempt" it_inv_wait 40 "$IDR" COMPLETED
it_req GET "/invocations/$IDR"
it_eq "attempts is 3" 3 "$(it_jq .attempts)"
it_eq "the third attempt's output is the result" ok "$(it_jq .result.output | tr -d '\n')"
it_eq "a COMPLETED retry clears the error" null "$(it_jq .error)"
it_eq "the pool ran it three times" 3 "$(it_async_runs "$IDR")"
it_eq "attempts 1, 2, 3 in order" "attempt=1 attempt=2 attempt=3" \
    "$(grep -o "async invoke function=flaky id=$IDR attempt=[0-9]" "$MINILAMBDA_RUN_DIR/minilambda.log" | sed 's/.* //' | tr '\n' ' ' | sed 's/ $//')"
gap=$(($(ms_of "$(it_jq .started_at)") - $(ms_of "$(it_jq .created_at)")))
it_true "the retries waited the backoff (200 + 400 ms) before the last start: ${gap} ms" [ "$gap" -ge 600 ]

# --- cancel: pending, running, finished; the queue depth gauge --------------
it_true "the queue is empty before the busy test" ml_wait_for 10 depth_is 0
SLEEPERS=()
for _ in 1 2 3 4; do
    queue sleeper '{"event":{}}'
    SLEEPERS+=("$IT_INV")
done
it_true "four long runs occupy the four executors" ml_wait_for 30 it_all_are RUNNING "${SLEEPERS[@]}"
it_true "their four containers run" ml_wait_for 30 it_running_is sleeper 4
queue echo '{"event":{"never":"runs"}}'
IDP=$IT_INV
it_expect "a run behind busy executors is accepted" 202
it_eq "it waits PENDING" PENDING "$(it_inv_field "$IDP" .status)"
d=$(depth)
it_true "minilambda_async_queue_depth counts it (${d:-absent})" [ "${d:-0}" -gt 0 ]
it_req DELETE "/invocations/$IDP"
it_expect "DELETE of a PENDING invocation: 200" 200
it_eq "the DELETE answer is the CANCELLED record" "CANCELLED $IDP" "$(it_jq '"\(.status) \(.id)"')"
it_eq "the cancelled record stays CANCELLED" CANCELLED "$(it_inv_field "$IDP" .status)"
it_true "the queue depth is back to 0" ml_wait_for 10 depth_is 0

IDC=${SLEEPERS[0]}
it_req DELETE "/invocations/$IDC"
it_expect "DELETE of a RUNNING invocation: 200" 200
it_eq "the answer is CANCELLED" CANCELLED "$(it_jq .status)"
it_true "the cancelled run's container is gone within 15 s" \
    ml_wait_for 15 it_count_is 0 "label=minilambda.invocation=$IDC"
it_true "its executor let the run go" ml_wait_for 20 runs_is 1 "$IDC"
it_eq "the record stays CANCELLED after its executor finished" CANCELLED "$(it_inv_field "$IDC" .status)"
it_true "a cancelled record has completed_at" grep -Eq "$TIME_RE" <<<"$(it_inv_field "$IDC" .completed_at)"
for i in "${SLEEPERS[@]:1}"; do
    it_req DELETE "/invocations/$i"
    it_expect "DELETE of another RUNNING invocation: 200" 200
done
it_true "no container of the long runs is left" ml_wait_for 20 it_settled sleeper
queue echo '{"event":{"after":"cancel"}}'
IDQ=$IT_INV
it_true "the freed executors run new work" it_inv_wait 30 "$IDQ" COMPLETED
it_req GET "/invocations/$IDP"
it_eq "the cancelled PENDING one never ran: CANCELLED, 0 attempts, no start" \
    "CANCELLED 0 null null" "$(it_jq '"\(.status) \(.attempts) \(.started_at) \(.result)"')"
it_eq "no run of the cancelled PENDING one in the pool log" 0 "$(it_async_runs "$IDP")"
it_req DELETE "/invocations/$IDQ"
it_expect "DELETE of a COMPLETED invocation: 409" 409 already_finished
it_req DELETE "/invocations/$IDP"
it_expect "DELETE of a CANCELLED invocation: 409" 409 already_finished
it_eq "the 409 left the record as it was" COMPLETED "$(it_inv_field "$IDQ" .status)"
it_req DELETE /invocations/00000000-0000-4000-8000-000000000000
it_expect "DELETE of an unknown invocation: 404" 404 not_found

# --- 200 at once: all COMPLETED exactly once, never more than 4 at a time ----
N=200
mkdir -p "$IT_TMP/acc" "$IT_TMP/res"
: >"$IT_TMP/acc.cfg"
for i in $(seq 1 "$N"); do
    printf 'url = "%s/invoke/tok/async"\nheader = "Content-Type: application/json"\ndata-binary = "{\\"event\\":{\\"token\\":\\"tok-%d-%s\\"}}"\noutput = "%s/acc/%d"\nwrite-out = "%%{http_code}\\n"\n' \
        "$BASE" "$i" "$RANDOM$RANDOM" "$IT_TMP" "$i" >>"$IT_TMP/acc.cfg"
    [ "$i" -eq "$N" ] || echo next >>"$IT_TMP/acc.cfg"
done
stop_sampling="$IT_TMP/stop-sampling"
samples="$IT_TMP/samples"
: >"$samples"
(
    for _ in $(seq 1 4000); do
        [ ! -e "$stop_sampling" ] || break
        it_running tok >>"$samples"
    done
) &
sampler=$!
it_bg "$sampler"
t0=$SECONDS
codes=$({ curl -s -Z --parallel-max 32 -K "$IT_TMP/acc.cfg" 2>"$IT_TMP/curl.err" || true; } | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
it_eq "$N async invocations at once: all 202" "202x$N " "$codes"
declare -A TOKEN=()
for i in $(seq 1 "$N"); do
    id=$(jq -r .invocation_id "$IT_TMP/acc/$i" 2>/dev/null || true)
    if [ -n "$id" ] && [ "$id" != null ]; then TOKEN[$id]="tok-$i-"; fi
done
it_eq "$N distinct invocation ids" "$N" "${#TOKEN[@]}"
QUEUED=$((QUEUED + ${#TOKEN[@]}))
if poll 240 1 it_inv_count_is "$N" "function=tok&status=COMPLETED&limit=1000"; then
    it_ok "all $N COMPLETED (in $((SECONDS - t0)) s)"
else
    it_not_ok "all $N COMPLETED" "by status: $(curl -s "$BASE/invocations?function=tok&limit=1000" | jq -c 'group_by(.status) | map({(.[0].status): length}) | add')"
fi
touch "$stop_sampling"
wait "$sampler" || true
max=$(sort -n "$samples" | tail -1)
it_true "running containers sampled $(wc -l <"$samples") times, at most ${max:-none}: never more than 4" \
    [ "${max:-0}" -le 4 ]
it_true "the samples saw the executors at work (max ${max:-none} > 0)" [ "${max:-0}" -gt 0 ]
it_eq "the listing has exactly the $N, none in another state" "$N" "$(it_inv_count 'function=tok&limit=1000')"
# Each run logs one "async invoke ... id=" line: every id exactly once.
grep -o "async invoke function=tok id=[0-9a-f-]*" "$MINILAMBDA_RUN_DIR/minilambda.log" |
    sed 's/.*id=//' | sort | uniq -c >"$IT_TMP/runs"
it_eq "the pool log has $N distinct runs of tok" "$N" "$(wc -l <"$IT_TMP/runs")"
it_eq "no invocation of tok ran twice" "" "$(awk '$1 != 1' "$IT_TMP/runs" | head -3)"
unknown=0
while read -r _ id; do
    [ -n "${TOKEN[$id]:-}" ] || unknown=$((unknown + 1))
done <"$IT_TMP/runs"
it_eq "every run in the log is one of ours" 0 "$unknown"
: >"$IT_TMP/get.cfg"
for id in "${!TOKEN[@]}"; do
    [ ! -s "$IT_TMP/get.cfg" ] || echo next >>"$IT_TMP/get.cfg"
    printf 'url = "%s/invocations/%s"\noutput = "%s/res/%s"\n' "$BASE" "$id" "$IT_TMP" "$id" >>"$IT_TMP/get.cfg"
done
curl -s -Z --parallel-max 8 -K "$IT_TMP/get.cfg" 2>"$IT_TMP/curl.err" || true
bad=()
for id in "${!TOKEN[@]}"; do
    # The function echoed its own MINILAMBDA_INVOCATION_ID to stderr and its
    # event to stdout: both must belong to this very record.
    if ! jq -e --arg id "$id" --arg t "${TOKEN[$id]}" \
        '.id == $id and .status == "COMPLETED" and .attempts == 1 and .result.exit_code == 0
         and (.result.logs | rtrimstr("\n")) == $id
         and (.result.output | fromjson | .token | startswith($t))' \
        "$IT_TMP/res/$id" >/dev/null 2>&1; then
        bad+=("$id")
    fi
done
it_eq "every record holds its own event's output and its own id in the logs" 0 "${#bad[@]}"
[ "${#bad[@]}" -eq 0 ] || echo "#   e.g. $(head -c 400 "$IT_TMP/res/${bad[0]}")"
it_true "no container of tok is left" ml_wait_for 20 it_settled tok

# --- listing -----------------------------------------------------------------
it_req GET '/invocations?limit=1000'
it_expect "GET /invocations?limit=1000: 200" 200
cp "$IT_BODY" "$IT_TMP/all"
it_eq "the listing holds every accepted invocation" "$QUEUED" \
    "$(it_jq '[.[] | select(.type == "async")] | length')"
# The one synchronous call (X-Invocation-Type: RequestResponse) has its
# record in the same listing (records.sh covers those).
it_eq "and the one synchronous call's record" 1 "$(it_jq '[.[] | select(.type == "sync")] | length')"
it_true "the listing is newest first by created_at" \
    jqe '[.[].created_at] as $c | $c == ($c | sort | reverse)' "$IT_TMP/all"
it_true "the listing does not carry results" jqe 'all(.[]; has("result") | not)' "$IT_TMP/all"
it_req GET /invocations
it_eq "the default limit is 100" 100 "$(it_jq length)"
it_req GET '/invocations?limit=2'
it_expect "limit=2: 200" 200
it_eq "limit=2 returns 2" 2 "$(it_jq length)"
it_eq "limit=2 returns the two newest" "$(jq -c '[.[0:2][].id]' "$IT_TMP/all")" "$(it_jq '[.[].id]' | jq -c .)"
it_req GET '/invocations?function=echo&limit=1000'
it_true "function=NAME keeps only that function's records" \
    jqe 'length >= 4 and all(.[]; .function_name == "echo")' "$IT_BODY"
byname=$(it_jq '[.[].id]' | jq -c .)
it_eq "function=NAME has all of them" "$(jq -c '[.[] | select(.function_name == "echo") | .id]' "$IT_TMP/all")" "$byname"
it_req GET "/invocations?function=${FID[echo]}&limit=1000"
it_eq "function=ID lists the same records as function=NAME" "$byname" "$(it_jq '[.[].id]' | jq -c .)"
it_req GET '/invocations?status=CANCELLED&limit=1000'
it_true "status=CANCELLED keeps only CANCELLED records" \
    jqe 'length == 5 and all(.[]; .status == "CANCELLED")' "$IT_BODY"
it_req GET '/invocations?function=sleeper&status=CANCELLED'
it_eq "function= and status= combine" 4 "$(it_jq length)"
it_req GET '/invocations?status=FAILED&function=fail'
it_eq "status=FAILED&function=fail: the failed one" "$IDF" "$(it_jq '.[].id')"
it_req GET '/invocations?status=PENDING'
it_eq "nothing is PENDING now" 0 "$(it_jq length)"
for q in limit=0 limit=1001 limit=-1 limit=abc; do
    it_req GET "/invocations?$q"
    it_expect "GET /invocations?$q: 400" 400 invalid_query
done
it_eq "the queue depth is 0 at the end" 0 "$(depth)"
it_no_containers_left

# --- MINILAMBDA_ASYNC_MAX_PENDING is exact under concurrency (a second stack) ----
# No executors: nothing drains, so exactly the bound is accepted however many
# clients race for the last places, in 4 pool processes.
ml_stop_all
export MINILAMBDA_WORKERS=4 MINILAMBDA_ASYNC_WORKERS=0 MINILAMBDA_ASYNC_MAX_PENDING=20
it_start cap
fn_sh capped 'cat'
# client N: 10 acceptances in a row, one status a line.
client() {
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Content-Type: application/json' \
            --data-binary '{"event":{}}' "$BASE/invoke/capped/async"
    done
}
export -f client
export BASE
seq 16 | xargs -P 16 -I{} bash -c client >"$IT_TMP/cap.codes"
it_eq "cap 20, 16 clients x 10: exactly 20 accepted (202)" 20 "$(grep -c '^202$' "$IT_TMP/cap.codes" || true)"
it_eq "cap 20: the other 140 get 429" 140 "$(grep -c '^429$' "$IT_TMP/cap.codes" || true)"
it_eq "cap 20: the queue holds 20" 20 "$(depth)"
it_eq "cap 20: 20 records" 20 "$(it_inv_count limit=1000)"

# --- retention pruning (a third stack) ---------------------------------------
ml_stop_all
export MINILAMBDA_WORKERS=2
unset MINILAMBDA_ASYNC_MAX_PENDING
export MINILAMBDA_INVOCATION_RETENTION=1 MINILAMBDA_JANITOR_INTERVAL=1 MINILAMBDA_ASYNC_WORKERS=1
it_start retention
fn_sh echo 'cat'
fn_sh sleeper 'sleep 60'
it_async echo '{"event":{"keep":"briefly"}}'
IDK=$IT_INV
it_true "retention stack: an invocation completes" it_inv_wait 30 "$IDK" COMPLETED
it_async sleeper '{"event":{}}'
IDS=$IT_INV
it_true "retention stack: a long one RUNNING" it_inv_wait 30 "$IDS" RUNNING
it_async echo '{"event":{"waits":"behind"}}'
IDW=$IT_INV
it_eq "retention stack: one PENDING behind it" PENDING "$(it_inv_field "$IDW" .status)"
t0=$SECONDS
if ml_wait_for 15 it_inv_gone "$IDK"; then
    it_ok "the COMPLETED record is pruned (404) after retention 1 s ($((SECONDS - t0)) s)"
else
    it_not_ok "the COMPLETED record is pruned (404) after retention 1 s" "still: $(it_inv_get "$IDK")"
fi
it_true "its files are gone" test -z "$(find "$MINILAMBDA_DATA_DIR/async" -name "$IDK*" 2>/dev/null)"
# The janitor pass that pruned it came after these two were queued.
it_eq "the RUNNING record is not pruned" RUNNING "$(it_inv_field "$IDS" .status)"
it_eq "the PENDING record is not pruned" PENDING "$(it_inv_field "$IDW" .status)"
it_req DELETE "/invocations/$IDS"
it_expect "retention stack: cancel the long one" 200
it_true "the one behind it completes" it_inv_wait 30 "$IDW" COMPLETED
it_true "finished records keep being pruned (cancelled one)" ml_wait_for 15 it_inv_gone "$IDS"
it_true "finished records keep being pruned (completed one)" ml_wait_for 15 it_inv_gone "$IDW"
it_eq "the listing is empty" 0 "$(it_inv_count limit=1000)"

it_done
