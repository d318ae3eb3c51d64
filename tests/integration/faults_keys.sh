#!/usr/bin/env bash
# A damaged keys.json with keys required: /healthz says so (503, naming the
# `keys` component and how to restore), a start-up refuses it with the same
# message and hint as for functions.json, and keys.json.bak (kept by every
# write of the key store) puts the last good version back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

export MINILAMBDA_AUTH=on MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=2 MINILAMBDA_ASYNC_WORKERS=0
it_start keys
D=$MINILAMBDA_DATA_DIR
ADMIN=$(cat "$D/admin.key")

it_as "$ADMIN" POST /keys -H 'Content-Type: application/json' -d '{"name":"ci","scopes":["read"]}'
it_expect "a second key is made" 201
it_true "keys.json.bak keeps the version it replaced" test -s "$D/keys.json.bak"
it_eq "keys.json.bak is mode 0600" 600 "$(stat -c %a "$D/keys.json.bak")"
it_eq "keys.json.bak holds the admin key only" 1 "$(jq length "$D/keys.json.bak")"
it_req GET /healthz
it_expect "intact: /healthz 200" 200
it_eq "intact: the keys component is ok" ok "$(it_jq .components.keys.status)"

# --- garbled while running ------------------------------------------------------
printf '{"torn' >"$D/keys.json"
it_as "$ADMIN" GET /functions
it_expect "garbled: a keyed request gets 503 store_corrupt" 503 store_corrupt
it_req GET /healthz
it_expect "garbled: /healthz 503" 503
it_eq "garbled: /healthz names keys" keys "$(it_jq '.failed | join(",")')"
it_eq "garbled: the keys component says store_corrupt" store_corrupt "$(it_jq .components.keys.code)"
it_true "garbled: and how to restore" grep -q 'keys.json.bak (mv it over the file' <<<"$(it_jq .components.keys.error)"
it_eq "garbled: the file is left as it is" '{"torn' "$(cat "$D/keys.json")"

# --- a start-up refuses it ----------------------------------------------------------
ml_stop_all
rc=0
timeout -k 5 20 "$ML_BIN" >"$IT_TMP/refused.out" 2>&1 || rc=$?
it_true "start-up refuses a garbled keys.json (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
it_true "start-up says which file and how to restore it" \
    grep -q "keys.json is not a JSON object of keys.*keys.json.bak (mv it over the file" "$IT_TMP/refused.out"
it_true "start-up says the file was left untouched" grep -q 'left untouched' "$IT_TMP/refused.out"
it_eq "start-up made no admin key over it" '{"torn' "$(cat "$D/keys.json")"
rm -f "$MINILAMBDA_RUN_DIR/pool.pid"

# --- restored from keys.json.bak ------------------------------------------------------
mv "$D/keys.json.bak" "$D/keys.json"
ml_start_pool || { echo "Bail out! the pool did not start after the restore"; exit 1; }
ml_start_nginx || { echo "Bail out! nginx did not start after the restore"; exit 1; }
it_req GET /healthz
it_expect "restored: /healthz 200" 200
it_as "$ADMIN" GET /functions
it_expect "restored: the admin key works again" 200

it_done
