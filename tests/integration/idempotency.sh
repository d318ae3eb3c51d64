#!/usr/bin/env bash
# Idempotency-Key on the creating POSTs, against the real stack: the same
# key and body again replays the first answer and acts once (registration,
# async, Event, sync); another body is 422; other keys act; bad keys are
# 400; body limits hold; a duplicate while the first runs is 409; a sync
# run whose worker was killed with SIGKILL is not run again; records a
# request left when it died after acting (or after its intent only), with
# the workers killed or the pool restarted, lead the retry to what that
# request made (or make it now, under the id the intent named); expired
# keys are pruned and act again; keys are per API key; and the records'
# bytes are bounded.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=1
export MINILAMBDA_JANITOR_INTERVAL=1
it_start idem
D=$MINILAMBDA_DATA_DIR
LOG=$MINILAMBDA_RUN_DIR/minilambda.log

# ik KEY METHOD PATH JSON [curl args...]: a request with Idempotency-Key KEY.
ik() {
    local key=$1 method=$2 path=$3 body=$4
    shift 4
    it_json "$method" "$path" "$body" -H "Idempotency-Key: $key" "$@"
}
# record KEY [SCOPE]: the record file of KEY sent by SCOPE (an API key id;
# none: ""): named by the SHA-256 of the scope, a NUL byte and the key.
record() { echo "$D/idempotency/$(printf '%s\0%s' "${2:-}" "$1" | sha256sum | cut -c1-64).json"; }
# as_intent FILE [ID]: make FILE what a request that died before its answer
# was kept leaves behind: its intent, which names the id of what it makes
# (ID instead, for one that died before it acted).
as_intent() {
    jq -c --arg id "${2:-}" '{fingerprint, id: (if $id == "" then .id else $id end),
        created_ms, status: 0}' <<<"$(head -n 1 "$1")" >"$1.crafted"
    mv "$1.crafted" "$1"
}
# kill_workers: SIGKILL every FastCGI worker, then wait for the respawned ones.
kill_workers() {
    local p
    for p in $(it_fcgi_workers); do kill -9 "$p"; done
    ml_wait_for 30 healthy
}
# kill_pool_hard: SIGKILL the supervisor, the master and every child, each
# by pid. The supervisor first: alive, it would start a new master.
kill_pool_hard() {
    local sup master pids p
    sup=$(it_supervisor_pid)
    master=$(it_pool_pid)
    pids="$sup $master $(pgrep -P "$master" || true)"
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    # The supervisor is this shell's child: reap it quietly.
    wait "$sup" 2>/dev/null || true
    for p in $pids; do ml_wait_for 20 ml_not_running "$p" || return 1; done
    rm -f "$MINILAMBDA_RUN_DIR/pool.pid"
}
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz")" = 200 ]; }
new_uuid() { cat /proc/sys/kernel/random/uuid; }
# sync_runs NAME: the runs of function NAME the log reports, synchronous ones.
sync_runs() { grep -c "info: invoke function=$1 " "$LOG" || true; }
count_named() { curl -sf "$BASE/functions" | jq --arg n "$1" '[.[] | select(.name == $n)] | length'; }
save() { cp "$IT_BODY" "$IT_TMP/$1"; }
# need DESC STATUS: a step the checks build on answered STATUS, or bail out
# (every TAP result below is a check that fails without the feature).
need() {
    [ "$IT_STATUS" = "$2" ] || { echo "Bail out! $1: expected $2, got $IT_STATUS $(head -c 300 "$IT_BODY")"; exit 1; }
}
# need_true DESC COMMAND...: the same for a condition.
need_true() {
    local desc=$1
    shift
    "$@" || { echo "Bail out! $desc"; exit 1; }
}
# all_done NAME: no run of function NAME is PENDING or RUNNING.
all_done() {
    [ "$(it_inv_count "function=$1&status=PENDING")" = 0 ] &&
        [ "$(it_inv_count "function=$1&status=RUNNING")" = 0 ]
}
# async_runs_of NAME: the async runs of function NAME the log reports.
async_runs_of() { grep -c "async invoke function=$1 " "$LOG" || true; }
same_body() { cmp -s "$IT_TMP/$1" "$IT_BODY"; }

# --- registration ---------------------------------------------------------------
REG="{\"name\":\"idem-fn\",\"image\":\"$IT_BUSYBOX\",\"command\":[\"cat\"]}"
ik reg-1 POST /functions "$REG"
need "register with a key" 201
save reg1
FID1=$(it_jq .id)
first_mark=$(it_header Idempotent-Replayed || true)
ik reg-1 POST /functions "$REG"
it_expect "the same key and body again: 201 (not 409 name_conflict)" 201
it_true "the same answer, byte for byte" same_body reg1
it_eq "only the replay is marked Idempotent-Replayed: true" ":true" \
    "$first_mark:$(it_header Idempotent-Replayed)"
it_eq "with the first Location" "/functions/$FID1" "$(it_header Location)"
it_true "a record is kept, without the key in it" \
    bash -c "test -s '$(record reg-1)' && ! grep -rq reg-1 '$D/idempotency'"
it_eq "the record is private (0600)" 600 "$(stat -c %a "$(record reg-1)" 2>/dev/null)"

ik reg-1 POST /functions "{\"name\":\"idem-other\",\"image\":\"$IT_BUSYBOX\"}"
it_expect "the same key with another body: 422 idempotency_mismatch" 422 idempotency_mismatch
it_eq "nothing was registered by it" 0 "$(count_named idem-other)"
ik reg-2 POST /functions "$REG"
need "another key acts: name_conflict for the taken name" 409
ik reg-2 POST /functions "$REG"
need "an answer that made nothing is not kept: the key acts again" 409
it_true "an answer that made nothing keeps no record (beside reg-1's), so its key acts again" \
    bash -c "test ! -e '$(record reg-2)' && test -e '$(record reg-1)'"

# --- the header and the body -----------------------------------------------------
ik "$(printf 'k%.0s' {1..256})" POST /functions "$REG"
it_expect "a 256-byte key: 400 invalid_idempotency_key" 400 invalid_idempotency_key
ik $'caf\xc3\xa9' POST /functions "$REG"
it_expect "a key that is not ASCII: 400 invalid_idempotency_key" 400 invalid_idempotency_key
it_json POST /functions "$REG" -H 'Idempotency-Key;'
it_expect "an empty key: 400 invalid_idempotency_key" 400 invalid_idempotency_key
LONG_KEY=$(printf 'k%.0s' {1..255})
ik "$LONG_KEY" POST /functions "{\"name\":\"idem-long\",\"image\":\"$IT_BUSYBOX\"}"
need "a 255-byte key" 201
it_true "a 255-byte key of printable ASCII is taken: its record is kept" test -e "$(record "$LONG_KEY")"
# big KEY PATH BYTES LIMIT SMALL: a body of BYTES with key KEY is 413 naming
# LIMIT and leaves the key free: the key then takes SMALL and keeps it.
big() {
    head -c "$3" /dev/zero | tr '\0' ' ' >"$IT_TMP/big"
    echo '{}' >>"$IT_TMP/big"
    it_req POST "$2" -H 'Content-Type: application/json' -H "Idempotency-Key: $1" \
        --data-binary @"$IT_TMP/big"
    [ "$IT_STATUS" = 413 ] && [ "$(it_jq .code)" = payload_too_large ] &&
        grep -q "larger than $4 bytes" "$IT_BODY" && test ! -e "$(record "$1")" || return 1
    ik "$1" POST "$2" "$5"
    [ "${IT_STATUS:0:1}" = 2 ] && test -e "$(record "$1")"
}
it_true "a registration over 1 MiB is still 413 with a key, and the key stays free" \
    big big-1 /functions $((1024 * 1024 + 1)) 1048576 "{\"name\":\"idem-big\",\"image\":\"$IT_BUSYBOX\"}"

# --- async, and Event ---------------------------------------------------------------
fn_sh echo 'cat'
ik as-1 POST /invoke/echo/async '{"event":{"n":1}}'
need "async with a key" 202
save as1
INV1=$(it_jq .invocation_id)
ik as-1 POST /invoke/echo/async '{"event":{"n":1}}'
it_true "the same key and body again: the same answer, byte for byte" same_body as1
it_eq "the same X-Invocation-Id" "$INV1" "$(it_header X-Invocation-Id)"
it_eq "marked Idempotent-Replayed: true" true "$(it_header Idempotent-Replayed)"
need_true "the async runs finish" ml_wait_for 30 all_done echo
it_eq "one run was queued" 1 "$(it_inv_count function=echo)"
it_eq "and the function ran once" 1 "$(async_runs_of echo)"
ik as-1 POST /invoke/echo/async '{"event":{"n":2}}'
it_expect "the same key with another event: 422" 422 idempotency_mismatch
ik as-2 POST /invoke/echo/async '{"event":{"n":1}}'
need "another key with the same body" 202
it_eq "another key acts: a second run, two in all" 2 "$(it_inv_count function=echo)"
ik ev-1 POST /invoke/echo '{"event":{"e":1}}' -H 'X-Invocation-Type: Event'
need "Event with a key" 202
EV1=$(it_jq .invocation_id)
ik ev-1 POST /invoke/echo '{"event":{"e":1}}' -H 'X-Invocation-Type: Event'
it_eq "Event again: the same run" "$EV1" "$(it_jq .invocation_id)"
it_eq "three runs in all" 3 "$(it_inv_count function=echo)"
ik ev-1 POST /invoke/echo '{"event":{"e":1}}'
it_expect "the key on a synchronous call is another request: 422" 422 idempotency_mismatch

# --- sync -------------------------------------------------------------------------
ik sy-1 POST /invoke/echo '{"event":{"s":1}}'
need "sync with a key" 200
save sy1
S1=$(it_header X-Invocation-Id)
ik sy-1 POST /invoke/echo '{"event":{"s":1}}'
it_true "the same key and body again: the same answer, byte for byte" same_body sy1
it_eq "the same X-Invocation-Id" "$S1" "$(it_header X-Invocation-Id)"
it_eq "marked replayed" true "$(it_header Idempotent-Replayed)"
it_eq "the function ran once" 1 "$(sync_runs echo)"
it_true "an invoke body over 6 MiB is still 413 with a key, and the key stays free" \
    big big-2 /invoke/echo $((6 * 1024 * 1024)) 6291456 '{"event":{"b":2}}'

# An answer too large to keep is not given again, nor run again.
fn_sh bigout 'head -c 1200000 /dev/zero | tr "\\0" a'
ik bo-1 POST /invoke/bigout '{}'
need "a 1.2 MB answer" 200
BO=$(it_header X-Invocation-Id)
ik bo-1 POST /invoke/bigout '{}'
it_expect "its retry: 409 idempotency_answer_not_kept" 409 idempotency_answer_not_kept
it_eq "... naming the invocation that answered" "$BO" "$(it_header X-Invocation-Id)"
it_eq "bigout ran once" 1 "$(sync_runs bigout)"

# --- a duplicate while the first is served ----------------------------------------
fn_sh slow 'sleep 5; cat'
curl -s -o "$IT_TMP/slow1" -w '%{http_code}' --max-time 60 \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: sl-1' \
    --data-binary '{"event":{"w":1}}' "$BASE/invoke/slow" >"$IT_TMP/slow1.code" &
first=$!
need_true "the first request runs" \
    ml_wait_for 30 it_count_is 1 "label=minilambda.function=${FID[slow]}" status=running
ik sl-1 POST /invoke/slow '{"event":{"w":1}}'
it_expect "a duplicate meanwhile: 409 idempotency_in_progress" 409 idempotency_in_progress
it_eq "... with Retry-After" 1 "$(it_header Retry-After)"
wait "$first"
ik sl-1 POST /invoke/slow '{"event":{"w":1}}'
it_true "a retry after it gets the first answer (200), byte for byte" \
    bash -c "[ \"\$(cat '$IT_TMP/slow1.code')\" = 200 ] && cmp -s '$IT_TMP/slow1' '$IT_BODY'"
it_eq "slow ran once" 1 "$(sync_runs slow)"

# --- a sync run whose worker is killed ---------------------------------------------
fn_sh long 'sleep 30; cat'
curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: ki-1' --data-binary '{"event":{"k":1}}' "$BASE/invoke/long" \
    >"$IT_TMP/long.code" &
first=$!
need_true "the run starts" \
    ml_wait_for 30 it_count_is 1 "label=minilambda.function=${FID[long]}" status=running
LONG_ID=$(docker ps -q --filter "label=minilambda.function=${FID[long]}" |
    xargs docker inspect --format '{{index .Config.Labels "minilambda.invocation"}}')
kill_workers
wait "$first" || true
need_true "the client of the killed worker got 502" test "$(cat "$IT_TMP/long.code")" = 502
need_true "its container goes" \
    ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[long]}"
ik ki-1 POST /invoke/long '{"event":{"k":1}}'
it_expect "the retry: 409 idempotency_interrupted (not run again)" 409 idempotency_interrupted
it_eq "... naming the interrupted invocation" "$LONG_ID" "$(it_header X-Invocation-Id)"
it_eq "long never ran to an answer" 0 "$(sync_runs long)"

# --- died after acting, before the answer was kept (async) -------------------------
fn_sh crash-a 'cat'
ik cr-1 POST /invoke/crash-a/async '{"event":{"c":1}}'
need "async cr-1" 202
CR1=$(it_jq .invocation_id)
as_intent "$(record cr-1)"
kill_workers
ik cr-1 POST /invoke/crash-a/async '{"event":{"c":1}}'
it_eq "its retry answers with the run the first made" "202 $CR1" "$IT_STATUS $(it_jq .invocation_id)"
need_true "the runs finish" ml_wait_for 30 all_done crash-a
it_eq "it is the only run" 1 "$(it_inv_count function=crash-a)"
it_eq "and it ran once" 1 "$(async_runs_of crash-a)"
ik cr-1 POST /invoke/crash-a/async '{"event":{"c":1}}'
it_eq "the answer is kept now: replayed" true "$(it_header Idempotent-Replayed)"

# --- died after its intent, before it acted (async) --------------------------------
ik cr-2 POST /invoke/crash-a/async '{"event":{"c":2}}'
need "async cr-2" 202
need_true "its run finishes" ml_wait_for 30 all_done crash-a
Y=$(new_uuid)
as_intent "$(record cr-2)" "$Y"
kill_workers
ik cr-2 POST /invoke/crash-a/async '{"event":{"c":2}}'
it_eq "its retry makes the run under the id the intent named" "202 $Y" \
    "$IT_STATUS $(it_jq .invocation_id)"
need_true "that run finishes" ml_wait_for 30 all_done crash-a
it_eq "and it ran once" 1 "$(it_async_runs "$Y")"

# --- registration, with the pool killed and restarted ------------------------------
ik cr-3 POST /functions "{\"name\":\"crash-fn\",\"image\":\"$IT_BUSYBOX\"}"
need "register cr-3" 201
F3=$(it_jq .id)
as_intent "$(record cr-3)"
ik cr-4 POST /functions "{\"name\":\"crash-fn2\",\"image\":\"$IT_BUSYBOX\"}"
need "register cr-4" 201
it_req DELETE "/functions/$(it_jq .id)"
need "delete crash-fn2 again" 204
G=$(new_uuid)
as_intent "$(record cr-4)" "$G"
kill_pool_hard
ml_start_pool
need_true "the restarted pool answers" ml_wait_for 30 healthy
ik cr-3 POST /functions "{\"name\":\"crash-fn\",\"image\":\"$IT_BUSYBOX\"}"
it_expect "the retry of a registration that died: 201 (not 409)" 201
it_eq "... the record the first made" "$F3" "$(it_jq .id)"
ik cr-4 POST /functions "{\"name\":\"crash-fn2\",\"image\":\"$IT_BUSYBOX\"}"
it_eq "the retry of one that died before it acted registers under the id its intent named" \
    "201 $G" "$IT_STATUS $(it_jq .id)"

# --- expiry -------------------------------------------------------------------------
OLD=$(record as-1)
jq -c '.created_ms -= 25 * 3600 * 1000' <<<"$(head -n 1 "$OLD")" >"$OLD.crafted"
tail -n +2 "$OLD" >>"$OLD.crafted"
mv "$OLD.crafted" "$OLD"
touch -d '25 hours ago' "$OLD"
it_true "a record older than 24 h is pruned" ml_wait_for 30 test ! -e "$OLD"
ik as-1 POST /invoke/echo/async '{"event":{"n":1}}'
need "the expired key again" 202
it_true "its key acts again: a new run, a new record" \
    test "$(it_jq .invocation_id)" != "$INV1" -a -e "$OLD"

# --- keys are per API key --------------------------------------------------------------
ml_stop_all
export MINILAMBDA_AUTH=on MINILAMBDA_IDEMPOTENCY_MAX_BYTES=65536
export MINILAMBDA_IDEMPOTENCY_KEY_MAX_BYTES=32768
it_start idem-auth
D=$MINILAMBDA_DATA_DIR
ADMIN=$(cat "$D/admin.key")
# as KEY METHOD PATH JSON [curl args...]
as() {
    local key=$1
    shift
    it_json "$@" -H "Authorization: Bearer $key"
}
newkey() {
    as "$ADMIN" POST /keys "{\"name\":\"$1\",\"scopes\":[\"invoke\"]}"
    need "POST /keys" 201
}
as "$ADMIN" POST /functions "{\"name\":\"echo\",\"image\":\"$IT_BUSYBOX\",\"command\":[\"cat\"]}"
need "register echo as admin" 201
newkey a
KA=$(it_jq .key)
IDA=$(it_jq .id)
newkey b
KB=$(it_jq .key)
IDB=$(it_jq .id)
as "$KA" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: shared-1'
need "key a, Idempotency-Key shared-1" 202
RA=$(it_jq .invocation_id)
as "$KB" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: shared-1'
need "key b, the same Idempotency-Key and body" 202
it_true "key b never sees a's answer: another run, not replayed, under b's own record" \
    test "$(it_jq .invocation_id)" != "$RA" -a -z "$(it_header Idempotent-Replayed)" \
    -a -e "$(record shared-1 "$IDB")"
as "$KA" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: shared-1'
it_eq "key a again: its own run, replayed" "$RA true" \
    "$(it_jq .invocation_id) $(it_header Idempotent-Replayed)"
it_req GET /invocations -H "Authorization: Bearer $ADMIN"
it_eq "two runs in all" 2 "$(it_jq length)"
it_true "a's record is under a's scope" test -e "$(record shared-1 "$IDA")"

# --- the bounds: each API key's share, and the whole ------------------------------------
# 64 KiB in all, 32 KiB a key: a record costs 8 KiB (a block and the
# lock's); a and b hold one each (shared-1).
newkey c
KC=$(it_jq .key)
st=""
for k in 1 2 3 4 5 6 7; do
    as "$KA" POST /invoke/echo/async "{\"event\":$k}" -H "Idempotency-Key: fill-$k"
    st+="$IT_STATUS "
done
it_eq "key a: three more keys fill its 32 KiB share exactly, the next ones are 507" \
    "202 202 202 507 507 507 507 " "$st"
it_expect "... 507 idempotency_full" 507 idempotency_full
it_true "... naming the key's share" grep -q MINILAMBDA_IDEMPOTENCY_KEY_MAX_BYTES "$IT_BODY"
it_true "... leaving no file of it (those kept stay)" \
    test ! -e "$(record fill-4 "$IDA")" -a -e "$(record fill-3 "$IDA")"
as "$KA" POST /invoke/echo/async '{"event":7}'
it_expect "key a without the header: 202" 202
as "$KB" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: b-1'
it_expect "key b's next key still succeeds: 202 (a filled only its own share)" 202
for k in 2 3; do
    as "$KB" POST /invoke/echo/async "{\"event\":$k}" -H "Idempotency-Key: b-$k"
    need "b-$k" 202
done
as "$KC" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: c-1'
full="$IT_STATUS $(it_jq .code)"
it_true "the whole bound still holds: 507 names MINILAMBDA_IDEMPOTENCY_MAX_BYTES" \
    grep -q 'MINILAMBDA_IDEMPOTENCY_MAX_BYTES)' "$IT_BODY"
as "$KC" POST /invoke/echo/async '{"event":1}'
it_eq "past MINILAMBDA_IDEMPOTENCY_MAX_BYTES (a and b at their shares) a new key is 507; no key: 202" \
    "507 idempotency_full 202" "$full $IT_STATUS"
as "$KA" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: shared-1'
it_eq "kept answers still replay" "$RA" "$(it_jq .invocation_id)"

# --- the shares are counted again from the records at start-up ---------------------------
ml_stop_all
it_start idem-auth
as "$KA" POST /invoke/echo/async '{"event":9}' -H 'Idempotency-Key: fill-9'
it_expect "after a restart key a's share is still full: 507" 507 idempotency_full
as "$KC" POST /invoke/echo/async '{"event":1}' -H 'Idempotency-Key: c-1'
it_expect "and the whole too: 507 for c" 507 idempotency_full

it_done
