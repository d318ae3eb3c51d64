#!/usr/bin/env bash
# The data dir is the pool user's alone: after sync, async and idempotent
# calls with keys on, the data dir and every directory in it are 0700 and
# every file 0600 (functions.json and its .bak hold env values; keys, record
# logs and indexes, async events and results, idempotency files); and a
# restart over a data dir made 0755/0644 makes it so again, every file
# still readable by the pool.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_AUTH=on MINILAMBDA_WORKERS=2 MINILAMBDA_ASYNC_WORKERS=1
it_start private
D=$MINILAMBDA_DATA_DIR
ADMIN=$(cat "$D/admin.key")
AUTH=(-H "Authorization: Bearer $ADMIN")

# not_private: the entries under the data dir that others may read or enter.
not_private() { find "$D" \( -type d ! -perm 700 -o -type f ! -perm 600 \) -printf '%m %P\n'; }
# has GLOB: some file under the data dir has a path matching GLOB.
has() { [ -n "$(find "$D" -type f -path "$D/$1" -print -quit)" ]; }
# status_of ID: the status of invocation ID.
status_of() { curl -sf --max-time 10 "${AUTH[@]}" "$BASE/invocations/$1" | jq -r .status; }
completed() { [ "$(status_of "$1")" = COMPLETED ]; }

body=$(jq -cn --arg img "$IT_BUSYBOX" \
    '{name:"echo", image:$img, command:["cat"], env:{SECRET:"s3cret"}}')
it_json POST /functions "$body" "${AUTH[@]}"
it_expect "register a function with an env secret" 201
it_json PATCH /functions/echo '{"timeout":20}' "${AUTH[@]}"
it_expect "update it (functions.json.bak)" 200
it_json POST /keys '{"name":"second","scopes":["invoke"]}' "${AUTH[@]}"
it_expect "make a second key" 201
it_json POST /invoke/echo '{"event":{"n":1}}' "${AUTH[@]}"
it_expect "a sync call" 200
SYNC=$(it_header X-Invocation-Id)
it_json POST /invoke/echo '{"event":{"n":2}}' "${AUTH[@]}" -H 'Idempotency-Key: private-1'
it_expect "an idempotent call" 200
it_json POST /invoke/echo '{"event":' "${AUTH[@]}"
it_expect "a rejected call (its record too)" 400 invalid_json
it_json POST /invoke/echo/async '{"event":{"n":3}}' "${AUTH[@]}"
it_expect "an async call" 202
ASYNC=$(it_jq .invocation_id)
it_true "the async call completes" ml_wait_for 30 completed "$ASYNC"

for f in functions.json functions.json.bak keys.json admin.key 'records/fn/*/*.log' \
    'records/fn/*/*.idx' 'records/ids/*' "async/records/$ASYNC.event" \
    "async/records/$ASYNC.result" 'async/*.lock' 'idempotency/*'; do
    it_true "the data dir has $f" has "$f"
done
left=$(not_private)
it_eq "after the calls: the data dir 0700, everything in it 0700 / 0600" "" "$left"
it_eq "the data dir itself is 0700" 700 "$(stat -c %a "$D")"

# --- a restart over a data dir an older version left readable ------------------
it_true "the pool stops" it_stop_pool
find "$D" -type d -exec chmod 0755 {} +
find "$D" -type f -exec chmod 0644 {} +
it_true "made readable to others ($(find "$D" | wc -l) entries)" test -n "$(not_private)"
it_true "the pool starts again over it" ml_start_pool
left=$(not_private)
it_eq "after the restart: the data dir 0700, everything in it 0700 / 0600" "" "$left"
it_true "the log says what it changed" grep -q "entries of $D private" \
    "$MINILAMBDA_RUN_DIR/minilambda.log"
it_req GET "/invocations/$SYNC" "${AUTH[@]}"
it_expect "the sync record still reads" 200
it_eq "the async record still reads" COMPLETED "$(status_of "$ASYNC")"
it_json POST /invoke/echo '{"event":{"n":4}}' "${AUTH[@]}"
it_expect "and calls still run" 200
it_eq "its result" '{"n":4}' "$(it_jq .result)"
it_eq "still nothing readable to others" "" "$(not_private)"

it_done
