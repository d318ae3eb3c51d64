#!/usr/bin/env bash
# Records of synchronous calls end to end, against the real engine with the
# tiny busybox image: every answered call (200, 502, 504, a refused body)
# leaves a record readable at /invocations/{id} under the X-Invocation-Id
# it was answered with; output cut to MINILAMBDA_RECORD_OUTPUT_MAX with
# `truncated`; listing filters (function, status, since) and cursor paging
# over several pages, stable while calls go on; sync and async records in one
# listing; 404 for unknown ids, 409 for cancelling a sync one, 400 with a
# stable code for a bad status, since or cursor. A second stacks prune by the
# per-function cap, the byte cap and age (the janitor, polled).
# shellcheck disable=SC2016 # jq programs in single quotes
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=1
export MINILAMBDA_RECORD_OUTPUT_MAX=1024 MINILAMBDA_GRACE=1
unset MINILAMBDA_MAX_CONCURRENCY MINILAMBDA_INVOCATION_RETENTION MINILAMBDA_JANITOR_INTERVAL \
    MINILAMBDA_RECORDS_PER_FUNCTION MINILAMBDA_RECORDS_MAX_BYTES MINILAMBDA_RECORDS
it_start records

# jqe FILTER FILE: jq -e, quietly.
jqe() { jq -e "$@" >/dev/null 2>&1; }

# invoke REF JSON: a synchronous call; ID is its X-Invocation-Id.
ID=""
invoke() {
    it_json POST "/invoke/$1" "$2"
    ID=$(it_header X-Invocation-Id)
}

# record ID: GET /invocations/ID into $IT_BODY.
record() { it_req GET "/invocations/$1"; }

# ids QUERY: the ids GET /invocations?QUERY lists, one a line.
ids() { curl -sf --max-time 30 "$BASE/invocations?$1" | jq -r '.[].id'; }

fn_sh echo 'cat'
fn_sh fail 'echo partial; echo oops-on-stderr >&2; exit 3'
fn_sh slow 'sleep 30'
fn_sh big 'head -c 5000 /dev/zero | tr "\0" a; head -c 3000 /dev/zero | tr "\0" b >&2'
# At the cap and one byte past it (MINILAMBDA_RECORD_OUTPUT_MAX=1024).
fn_sh at_cap 'head -c 1024 /dev/zero | tr "\0" a; head -c 1024 /dev/zero | tr "\0" b >&2'
fn_sh past_cap 'head -c 1025 /dev/zero | tr "\0" a'

# --- a successful call -------------------------------------------------------
T0=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
invoke echo '{"event":{"hello":"records"}}'
it_expect "a sync call answers 200" 200
it_true "it carries an X-Invocation-Id header" grep -Eq '^[0-9a-f-]{36}$' <<<"$ID"
it_eq "the header is the body's invocation_id" "$ID" "$(it_jq .invocation_id)"
ID_OK=$ID
record "$ID_OK"
it_expect "GET /invocations/{id} finds the sync call" 200
cp "$IT_BODY" "$IT_TMP/rec-ok"
it_eq "the record is a sync one of echo, COMPLETED" "sync echo ${FID[echo]} COMPLETED" \
    "$(it_jq '"\(.type) \(.function_name) \(.function_id) \(.status)"')"
it_eq "its result is the output" '{"hello":"records"}' "$(it_jq .result.output | jq -c .)"
it_eq "exit code 0, http status 200, not truncated" "0 200 false" \
    "$(it_jq '"\(.result.exit_code) \(.http_status) \(.truncated)"')"
it_true "start is how its container started" jqe '.start == "cold" or .start == "warm" or .start == "reused"' "$IT_BODY"
it_true "created_at <= completed_at, duration_ms a number" \
    jqe '.created_at <= .completed_at and (.result.duration_ms | type == "number")' "$IT_BODY"
it_req POST "/invocations/$ID_OK"
it_expect "POST /invocations/{id} answers like GET" 200
it_req DELETE "/invocations/$ID_OK"
it_expect "cancelling a finished sync call: 409 already_finished" 409 already_finished

# --- failures, timeouts and refusals leave records too ----------------------
invoke fail '{"event":{}}'
it_expect "a failing function answers 502" 502
ID_FAIL=$ID
record "$ID_FAIL"
it_eq "its record: FAILED, exit 3, function_failed, 502" "FAILED 3 function_failed 502" \
    "$(it_jq '"\(.status) \(.result.exit_code) \(.code) \(.http_status)"')"
it_true "its record keeps stderr and the error" \
    jqe '(.result.logs | test("oops-on-stderr")) and (.error | length > 0)' "$IT_BODY"
invoke slow '{"timeout":1}'
it_expect "a slow function answers 504" 504
ID_TIMEOUT=$ID
record "$ID_TIMEOUT"
it_eq "its record: TIMEOUT, 504, no exit code" "TIMEOUT 504 null" \
    "$(it_jq '"\(.status) \(.http_status) \(.result.exit_code)"')"
invoke echo '{"event":{},"bogus":1}'
it_expect "a bad invoke body answers 400" 400 unknown_field
ID_BAD=$ID
it_true "the refusal carries an X-Invocation-Id too" grep -Eq '^[0-9a-f-]{36}$' <<<"$ID_BAD"
record "$ID_BAD"
it_eq "its record: REJECTED, 400, unknown_field, no result" "REJECTED 400 unknown_field null" \
    "$(it_jq '"\(.status) \(.http_status) \(.code) \(.result)"')"

# A body past the app's 6 MiB (nginx lets up to 8 MiB through to it).
{ printf '{"event":"'; head -c 7000000 /dev/zero | tr '\0' x; printf '"}'; } >"$IT_TMP/big-body"
it_req POST /invoke/echo -H 'Content-Type: application/json' --data-binary "@$IT_TMP/big-body"
it_expect "a 7 MB invoke body answers 413" 413 payload_too_large
ID_413=$(it_header X-Invocation-Id)
record "$ID_413"
it_eq "its record: REJECTED, 413, payload_too_large" "REJECTED 413 payload_too_large" \
    "$(it_jq '"\(.status) \(.http_status) \(.code)"')"

# --- output cut to the record's cap --------------------------------------------
invoke big '{"event":{}}'
it_expect "a function writing 5000 + 3000 bytes answers 200" 200
it_eq "the answer has all of stdout" 5000 "$(it_jq '.result | length')"
record "$ID"
it_eq "the record keeps 1024 bytes of each, truncated" "1024 1024 true true 5000 3000" \
    "$(it_jq '"\(.result.output | length) \(.result.logs | length) \(.truncated) \(.result.truncated) \(.result.output_bytes) \(.result.logs_bytes)"')"

# --- unknown ids and bad queries ------------------------------------------------
it_req GET /invocations/00000000-0000-4000-8000-000000000000
it_expect "an unknown id: 404" 404 not_found
it_req GET /invocations/not-an-id
it_expect "a malformed id: 404" 404 not_found
it_req GET '/invocations?status=BOGUS'
it_expect "a bad status: 400 invalid_status" 400 invalid_status
it_req GET '/invocations?since=yesterday'
it_expect "a bad since: 400 invalid_since" 400 invalid_since
it_req GET '/invocations?cursor=not-a-cursor'
it_expect "a bad cursor: 400 invalid_cursor" 400 invalid_cursor
it_req GET '/invocations?cursor=MS4xMjM'
it_expect "a cursor that decodes to no position: 400 invalid_cursor" 400 invalid_cursor

# --- filters --------------------------------------------------------------------
it_true "function=echo lists only echo's" \
    test "$(curl -sf "$BASE/invocations?function=echo" | jq -r '[.[].function_name] | unique | join(",")')" = echo
it_eq "function=echo lists echo's three (200 and the two refusals)" 3 "$(it_inv_count function=echo)"
it_eq "function=ID lists the same as function=NAME" "$(ids function=echo)" "$(ids "function=${FID[echo]}")"
it_eq "status=FAILED lists the failed call" "$ID_FAIL" "$(ids status=failed)"
it_eq "status=TIMEOUT lists the timed-out call" "$ID_TIMEOUT" "$(ids status=TIMEOUT)"
it_eq "status=REJECTED lists the refusals" "$ID_413 $ID_BAD" "$(ids status=REJECTED | tr '\n' ' ' | sed 's/ $//')"
T1=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
invoke echo '{"event":{"after":"T1"}}'
ID_T1=$ID
it_eq "since=T1 lists only the call made after it" "$ID_T1" "$(ids "since=$T1")"
it_eq "since=T0 lists all 7 calls" 7 "$(it_inv_count "since=$T0")"
it_async echo '{"event":{"queued":true}}'
ID_ASYNC=$IT_INV
it_inv_wait 30 "$ID_ASYNC" COMPLETED || true
curl -sf "$BASE/invocations?limit=1000" >"$IT_TMP/all"
it_true "sync and async records share the listing, each with its type" \
    jqe --arg a "$ID_ASYNC" --arg s "$ID_T1" \
    'any(.[]; .id == $a and .type == "async") and any(.[]; .id == $s and .type == "sync")' "$IT_TMP/all"
it_true "the listing is newest first by created_at" \
    jqe '[.[].created_at] as $c | $c == ($c | sort | reverse)' "$IT_TMP/all"
it_true "listed records carry no output" jqe 'all(.[]; has("result") | not)' "$IT_TMP/all"

# --- cursor paging over several pages, stable while calls go on ------------------
for i in $(seq 1 12); do
    printf '{"event":{"page":%d}}\n' "$i"
done | xargs -P 4 -I{} curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' \
    -d {} "$BASE/invoke/echo"
ids function=echo >"$IT_TMP/expected"
it_eq "17 echo records (16 sync, 1 async) before paging" 17 "$(wc -l <"$IT_TMP/expected")"
: >"$IT_TMP/paged"
cursor=""
pages=0
while :; do
    it_req GET "/invocations?function=echo&limit=4&cursor=$cursor"
    [ "$IT_STATUS" = 200 ] || break
    pages=$((pages + 1))
    it_jq '.invocations[].id' >>"$IT_TMP/paged"
    cursor=$(it_jq '.next_cursor // empty')
    header=$(it_header X-Next-Cursor || true)
    [ "$header" = "$cursor" ] || it_not_ok "page $pages: X-Next-Cursor is next_cursor" "$header vs $cursor"
    [ -n "$cursor" ] || break
    # A call between pages is newer than every cursor: pages do not shift.
    [ "$pages" != 1 ] || invoke echo '{"event":{"between":"pages"}}'
    [ "$pages" -lt 10 ] || break
done
it_eq "17 records in pages of 4: 5 pages" 5 "$pages"
it_eq "the pages hold exactly the records listed before paging, in order" \
    "$(cat "$IT_TMP/expected")" "$(cat "$IT_TMP/paged")"
it_req GET '/invocations?function=echo&limit=4'
it_true "without cursor the body stays an array, X-Next-Cursor says more" \
    test "$(it_jq 'type')" = array -a -n "$(it_header X-Next-Cursor)"
it_no_containers_left

# --- the output cap at its edge ------------------------------------------------
invoke at_cap '{"event":{}}'
record "$ID"
it_eq "at the cap (1024 bytes of each): all kept, not truncated" "1024 1024 false" \
    "$(it_jq '"\(.result.output | length) \(.result.logs | length) \(.truncated)"')"
invoke past_cap '{"event":{}}'
record "$ID"
it_eq "one byte past it: 1024 kept, truncated" "1024 true 1025" \
    "$(it_jq '"\(.result.output | length) \(.truncated) \(.result.output_bytes)"')"

# --- pruning by the per-function cap -------------------------------------------
# exists ID: GET /invocations/ID answers 200.
exists() { it_inv_get "$1" >/dev/null; }
ml_stop_all
export MINILAMBDA_RECORDS_PER_FUNCTION=3 MINILAMBDA_JANITOR_INTERVAL=1
it_start cap
fn_sh echo 'cat'
first=""
for i in 1 2 3 4 5 6; do
    invoke echo "{\"event\":{\"n\":$i}}"
    [ -n "$first" ] || first=$ID
done
it_eq "cap 3: function=echo lists the newest 3" 3 "$(it_inv_count function=echo)"
it_true "cap 3: the newest is readable" exists "$ID"
it_true "cap 3: the oldest is gone (404)" it_inv_gone "$first"
# Finished async records obey the same cap, through the janitor.
async_ids=()
for i in 1 2 3 4 5; do
    it_async echo "{\"event\":{\"async\":$i}}"
    async_ids+=("$IT_INV")
done
it_true "cap 3: 5 async runs complete" ml_wait_for 60 it_all_are COMPLETED "${async_ids[@]:2}"
async_count_is() {
    [ "$(curl -sf "$BASE/invocations?function=echo&limit=1000" | jq '[.[] | select(.type == "async")] | length')" = "$1" ]
}
it_true "cap 3: the janitor prunes the finished async ones to 3" ml_wait_for 30 async_count_is 3
it_true "cap 3: the oldest async one is gone (404)" it_inv_gone "${async_ids[0]}"
it_true "cap 3: the newest async one stays" exists "${async_ids[4]}"

# --- pruning by the byte cap -------------------------------------------------------
ml_stop_all
unset MINILAMBDA_RECORDS_PER_FUNCTION
export MINILAMBDA_RECORDS_MAX_BYTES=65536 MINILAMBDA_RECORD_OUTPUT_MAX=16384
it_start bytes
fn_sh big 'head -c 8000 /dev/zero | tr "\0" a; head -c 8000 /dev/zero | tr "\0" b >&2'
# record_bytes: what every record file of this stack takes.
record_bytes() { find "$MINILAMBDA_DATA_DIR/records" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
bytes_at_most() { [ "$(record_bytes)" -le "$1" ]; }
first=""
for _ in $(seq 1 12); do
    invoke big '{"event":{}}'
    [ -n "$first" ] || first=$ID
done
it_expect "12 calls whose records take 16 KB each (192 KB in all)" 200
# The cap plus the id lines the janitor compacts lazily (4 KiB a shard at
# most before it does).
if ml_wait_for 30 bytes_at_most $((65536 + 8192)); then
    it_ok "the janitor prunes to the 64 KiB byte cap ($(record_bytes) bytes)"
else
    it_not_ok "the janitor prunes to the 64 KiB byte cap" "still $(record_bytes) bytes"
fi
it_true "the oldest record went with its segment (404)" ml_wait_for 10 it_inv_gone "$first"
it_true "the newest is still readable" exists "$ID"
n=$(it_inv_count function=big)
it_true "the listing holds what is left: some, not all 12 ($n)" test "$n" -gt 0 -a "$n" -lt 12

# --- refusals have their own budget ------------------------------------------------
# Key A floods fa with malformed bodies (each a REJECTED record, nothing
# run) well past both caps (300 records of about 700 bytes: past 100 a
# function, and what 100 keep passes 64 KiB): key B's earlier records of
# fa (the per-function cap) and of fb (the byte cap) stay.
ml_stop_all
export MINILAMBDA_AUTH=on MINILAMBDA_RECORDS_PER_FUNCTION=100 MINILAMBDA_RECORD_OUTPUT_MAX=1024
it_start flood
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")
AUTH=(-H "Authorization: Bearer $ADMIN")
# newkey NAME: an invoke key; its secret into KEY, its id into KEYID.
newkey() {
    it_json POST /keys "{\"name\":\"$1\",\"scopes\":[\"invoke\"]}" "${AUTH[@]}"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
    KEY=$(it_jq .key)
    KEYID=$(it_jq .id)
}
newkey a
KA=$KEY
newkey b
KB=$KEY
KB_ID=$KEYID
for f in fa fb; do
    it_json POST /functions "$(jq -cn --arg n "$f" --arg i "$IT_BUSYBOX" '{name:$n,image:$i,command:["cat"]}')" \
        "${AUTH[@]}"
    it_expect "flood stack: register $f" 201
done
it_json POST /invoke/fa '{"event":{"b":"fa"}}' -H "Authorization: Bearer $KB"
it_expect "key B calls fa" 200
B_FA=$(it_header X-Invocation-Id)
it_json POST /invoke/fb '{"event":{"b":"fb"}}' -H "Authorization: Bearer $KB"
it_expect "key B calls fb" 200
B_FB=$(it_header X-Invocation-Id)
seq 300 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 \
    -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' \
    --data-binary '{"event":' "$BASE/invoke/fa" >"$IT_TMP/flood.codes"
it_eq "key A: 300 malformed bodies to fa, all 400" 300 "$(grep -c '^400$' "$IT_TMP/flood.codes" || true)"
it_json POST /invoke/fa '{"event":' -H "Authorization: Bearer $KA"
LAST_REJ=$(it_header X-Invocation-Id)
if ml_wait_for 30 bytes_at_most $((65536 + 8192)); then
    it_ok "the janitor prunes the flood to the 64 KiB byte cap ($(record_bytes) bytes)"
else
    it_not_ok "the janitor prunes the flood to the 64 KiB byte cap" "still $(record_bytes) bytes"
fi
read_as() { it_req GET "/invocations/$1" "${AUTH[@]}"; }
read_as "$B_FA"
it_expect "key B's record of fa is still readable" 200
it_eq "and it is the call that ran" "COMPLETED $KB_ID" "$(it_jq '.status + " " + .created_by')"
read_as "$B_FB"
it_expect "key B's record of fb (another function) is still readable" 200
read_as "$LAST_REJ"
it_expect "the newest refusal is readable too" 200
it_eq "as REJECTED" REJECTED "$(it_jq .status)"
it_req GET "/invocations?function=fa&limit=100" "${AUTH[@]}"
it_eq "fa lists the call that ran" 1 "$(it_jq 'map(select(.status == "COMPLETED")) | length')"
n=$(it_jq 'map(select(.status == "REJECTED")) | length')
it_true "and some refusals, within their own share ($n)" test "$n" -gt 0 -a "$n" -lt 100
it_req GET /metrics "${AUTH[@]}"
it_eq "every refusal is counted (rejected 301)" 301 \
    "$(grep '^minilambda_invocations_total{function="fa",status="rejected"}' "$IT_BODY" | awk '{print $2}')"
unset MINILAMBDA_AUTH

# --- pruning by age -------------------------------------------------------------
ml_stop_all
export MINILAMBDA_INVOCATION_RETENTION=2
unset MINILAMBDA_RECORDS_MAX_BYTES MINILAMBDA_RECORDS_PER_FUNCTION
it_start age
fn_sh echo 'cat'
invoke echo '{"event":{"short":"lived"}}'
it_expect "retention stack: a call" 200
it_true "retention stack: its record is readable at once" exists "$ID"
if ml_wait_for 20 it_inv_gone "$ID"; then it_ok "past the retention it is gone (404)"; else
    it_not_ok "past the retention it is gone (404)" "still: $(it_inv_get "$ID")"
fi
no_segments() { [ -z "$(find "$MINILAMBDA_DATA_DIR/records/fn" -name '*.log')" ]; }
it_true "the janitor deletes its segment" ml_wait_for 20 no_segments
it_eq "the listing is empty" 0 "$(it_inv_count limit=1000)"

it_done
