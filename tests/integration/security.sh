#!/usr/bin/env bash
# Who may do what, and the holes a hostile client found, each attacked for
# real: API keys and their scopes, function lists, rates, revocation and
# failed-key slowing; code pinned by image id against a tag swapped by an
# upload; strings with NUL, duplicate keys, bytes that are not UTF-8 in an
# error, odd Transfer-Encodings and the wrong-plane upload path; containers
# running as nobody; an unknown runtime.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
PFX="ml-sec-$$"
IMGS=()
sec_images() { local t; for t in "${IMGS[@]}"; do docker rmi -f "$t" >/dev/null 2>&1 || true; done; }
it_after sec_images

export MINILAMBDA_AUTH=on MINILAMBDA_AUTH_FAILURES=12 MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4
export MINILAMBDA_RETRY_BASE_MS=100
it_start security
D=$MINILAMBDA_DATA_DIR

# --- the admin key made at start-up -----------------------------------------
it_true "an admin key was written to the data dir" test -s "$D/admin.key"
it_eq "admin.key is mode 0600" 600 "$(stat -c %a "$D/admin.key")"
ADMIN=$(cat "$D/admin.key")
it_true "the key looks like mlk_ and 43 base64url characters" \
    grep -qE '^mlk_[A-Za-z0-9_-]{43}$' <<<"$ADMIN"
it_true "the log says where it is" grep -q "admin key was written to $D/admin.key" \
    "$MINILAMBDA_RUN_DIR/minilambda.log"
it_true "keys.json holds no secret" bash -c "! grep -qF '$ADMIN' '$D/keys.json'"
it_eq "keys.json is mode 0600" 600 "$(stat -c %a "$D/keys.json")"

# newkey JSON: create a key as admin; its secret goes to NEWKEY, its id to NEWID.
newkey() {
    it_as_json "$ADMIN" POST /keys "$1"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys $1: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
    NEWKEY=$(it_jq .key)
    NEWID=$(it_jq .id)
}

# --- no key, a bad key ---------------------------------------------------------
it_req GET /functions
it_expect "no key: 401 unauthorized" 401 unauthorized
it_true "401 carries WWW-Authenticate: Bearer" grep -q '^Bearer' <<<"$(it_header WWW-Authenticate)"
it_req GET /healthz
it_expect "/healthz needs no key" 200
it_as "mlk_not-a-key" GET /functions
it_expect "an unknown key: 401" 401 unauthorized
it_req GET /functions -H "Authorization: Basic eDp5"
it_expect "another scheme is no key: 401" 401 unauthorized

# --- scopes ----------------------------------------------------------------------
it_as_json "$ADMIN" POST /keys '{"name":"d","scopes":["deploy"]}'
it_expect "POST /keys: 201" 201
it_eq "POST /keys: the secret is shown once" 1 "$(it_jq '.key | startswith("mlk_") | if . then 1 else 0 end')"
it_true "POST /keys: no hash in the answer" test "$(it_jq 'has("hash")')" = false
DEPLOY=$(it_jq .key)
DEPLOY_ID=$(it_jq .id)
it_as "$ADMIN" GET /keys
it_expect "GET /keys: 200" 200
it_eq "GET /keys: secrets and hashes are never listed" 0 \
    "$(it_jq '[.[] | select(has("key") or has("hash"))] | length')"
# shellcheck disable=SC2016 # $id is a jq variable
it_eq "GET /keys: the deploy key is listed with its scopes" deploy \
    "$(jq -r --arg id "$DEPLOY_ID" '.[] | select(.id == $id) | .scopes | join(",")' "$IT_BODY")"
it_as_json "$ADMIN" POST /keys '{"name":"x","scopes":["root"]}'
it_expect "POST /keys with an unknown scope: 400 invalid_scopes" 400 invalid_scopes
it_as_json "$ADMIN" POST /keys '{"name":"x","scopes":["read"],"rate":0}'
it_expect "POST /keys with rate 0: 400 invalid_rate" 400 invalid_rate
it_as_json "$DEPLOY" POST /keys '{"name":"y","scopes":["admin"]}'
it_expect "a deploy key cannot make keys: 403" 403 forbidden

cat_cmd=$(jq -cn '["cat"]')
it_as_json "$DEPLOY" POST /functions \
    "{\"name\":\"sa\",\"image\":\"$IT_BUSYBOX\",\"command\":$cat_cmd,\"env\":{\"SECRET\":\"s3cr3t\"}}"
it_expect "deploy: POST /functions 201" 201
it_eq "the record notes the key that made it" "$DEPLOY_ID" "$(it_jq .created_by)"
it_true "the record is pinned to an image id" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$(it_jq .image_id)"
it_as_json "$DEPLOY" POST /functions "{\"name\":\"sb\",\"image\":\"$IT_BUSYBOX\",\"command\":$cat_cmd}"
it_as_json "$DEPLOY" POST /invoke/sa '{"event":1}'
it_expect "deploy: invoking is not its scope: 403" 403 forbidden
it_as "$DEPLOY" GET /metrics
it_expect "deploy: /metrics is not its scope: 403" 403 forbidden
it_as "$DEPLOY" GET /images
it_expect "deploy: GET /images 200" 200

newkey '{"name":"i","scopes":["invoke"]}'
INVOKE=$NEWKEY
INVOKE_ID=$NEWID
it_as_json "$INVOKE" POST /invoke/sa '{"event":{"n":1}}'
it_expect "invoke: POST /invoke 200" 200
it_as_json "$INVOKE" POST /functions "{\"name\":\"sc\",\"image\":\"$IT_BUSYBOX\"}"
it_expect "invoke: registering is not its scope: 403" 403 forbidden
it_as "$INVOKE" GET /functions
it_expect "invoke: reading functions is not its scope: 403" 403 forbidden
it_as_json "$INVOKE" POST /invoke/sa/async '{"event":{"mine":true}}'
it_expect "invoke: async 202" 202
MINE=$(it_jq .invocation_id)
it_as_json "$ADMIN" POST /invoke/sa/async '{"event":{"admins":true}}'
THEIRS=$(it_jq .invocation_id)
it_as "$INVOKE" GET "/invocations/$MINE"
it_expect "invoke: its own run is readable" 200
it_eq "the run notes the key that started it" "$INVOKE_ID" "$(it_jq .created_by)"
it_as "$INVOKE" GET "/invocations/$THEIRS"
it_expect "invoke: another key's run is not: 404, as if there were none" 404 not_found
it_as "$INVOKE" DELETE "/invocations/$THEIRS"
it_expect "invoke: nor cancellable: 404" 404 not_found
it_as "$INVOKE" GET /invocations
# Its synchronous call has a record too (records.sh): the async runs are
# only its own, and so is every record listed.
it_eq "invoke: GET /invocations lists only its own" "$MINE" \
    "$(it_jq '[.[] | select(.type == "async") | .id] | join(",")')"
it_eq "invoke: every record it lists is its own" "[\"$INVOKE_ID\"]" \
    "$(it_jq '[.[].created_by] | unique' | jq -c .)"
it_as "$ADMIN" GET /invocations
it_eq "admin: GET /invocations lists both" 2 "$(it_jq '[.[] | select(.type == "async")] | length')"

newkey '{"name":"r","scopes":["read"]}'
READ=$NEWKEY
it_as "$READ" GET /functions/sa
it_expect "read: GET /functions/sa 200" 200
it_eq "read: env values are redacted" '***' "$(it_jq .env.SECRET)"
it_as "$READ" GET /functions
it_eq "read: in the list too" '***' "$(it_jq '.[] | select(.name == "sa") | .env.SECRET')"
it_as "$DEPLOY" GET /functions/sa
it_eq "deploy: sees the value" s3cr3t "$(it_jq .env.SECRET)"
it_as_json "$READ" PATCH /functions/sa '{"timeout":5}'
it_expect "read: PATCH is not its scope: 403" 403 forbidden
it_as "$READ" GET "/invocations/$THEIRS"
it_expect "read: any run is readable" 200

# Cancelling needs invoke and the run's ownership, or deploy: read, which
# reads every run, never lifts the own-runs restriction of a cancel.
it_as_json "$ADMIN" POST /functions "{\"name\":\"snooze\",\"image\":\"$IT_BUSYBOX\",\"command\":[\"sleep\",\"30\"]}"
newkey '{"name":"ir","scopes":["invoke","read"]}'
IR=$NEWKEY
it_as_json "$IR" POST /invoke/snooze/async '{}'
IR_RUN=$(it_jq .invocation_id)
it_as_json "$ADMIN" POST /invoke/snooze/async '{}'
ADMIN_RUN=$(it_jq .invocation_id)
it_as "$IR" DELETE "/invocations/$ADMIN_RUN"
it_expect "invoke+read: another key's run is not cancellable: 403 (as for invoke alone)" 403 forbidden
it_as "$IR" GET "/invocations/$ADMIN_RUN"
it_eq "invoke+read: that run was left as it was" 1 \
    "$(it_jq 'if .status == "PENDING" or .status == "RUNNING" then 1 else 0 end')"
it_as "$IR" DELETE "/invocations/$IR_RUN"
it_expect "invoke+read: its own run is cancellable: 200" 200
it_eq "invoke+read: its own run is CANCELLED" CANCELLED "$(it_jq .status)"
it_as "$DEPLOY" DELETE "/invocations/$ADMIN_RUN"
it_expect "deploy: any run is cancellable: 200" 200
it_eq "deploy: the admin's run is CANCELLED" CANCELLED "$(it_jq .status)"

newkey '{"name":"m","scopes":["metrics"]}'
it_as "$NEWKEY" GET /metrics
it_expect "metrics: GET /metrics 200" 200
it_as "$NEWKEY" GET /functions
it_expect "metrics: nothing else: 403" 403 forbidden

# --- a key limited to functions ---------------------------------------------------
newkey '{"name":"only-sa","scopes":["invoke","deploy"],"functions":["sa"]}'
LIMITED=$NEWKEY
it_as_json "$LIMITED" POST /invoke/sa '{"event":2}'
it_expect "functions [sa]: invoking sa 200" 200
it_as_json "$LIMITED" POST /invoke/sb '{"event":2}'
it_expect "functions [sa]: invoking sb 404, as if there were no sb" 404 not_found
it_as_json "$LIMITED" PATCH /functions/sb '{"timeout":9}'
it_expect "functions [sa]: PATCH sb 404" 404 not_found
it_as_json "$LIMITED" POST /functions "{\"name\":\"sd\",\"image\":\"$IT_BUSYBOX\"}"
it_expect "functions [sa]: registering another name 403" 403 forbidden
it_as "$LIMITED" GET /functions
it_eq "functions [sa]: the list shows sa only" sa "$(it_jq '[.[].name] | join(",")')"

# --- a rate ----------------------------------------------------------------------------
newkey '{"name":"slow","scopes":["read"],"rate":1}'
SLOW=$NEWKEY
it_as "$SLOW" GET /functions
first=$IT_STATUS
it_as "$SLOW" GET /functions
it_eq "rate 1/s: the first request passes" 200 "$first"
it_expect "rate 1/s: the next at once is 429 rate_limited" 429 rate_limited
it_true "rate 1/s: Retry-After is given ($(it_header Retry-After))" test "$(it_header Retry-After)" -ge 1
slow_passes() { it_as "$SLOW" GET /functions; [ "$IT_STATUS" = 200 ]; }
it_true "rate 1/s: a second later it passes again" ml_wait_for 5 slow_passes

# --- revocation, in every worker -------------------------------------------------------
it_as "$ADMIN" DELETE "/keys/$DEPLOY_ID"
it_expect "DELETE /keys/{id}: 204" 204
revoked=0
for _ in 1 2 3 4; do
    it_as "$DEPLOY" GET /functions
    [ "$IT_STATUS" = 401 ] && revoked=$((revoked + 1))
done
it_eq "a revoked key is refused on the next request, in every worker (4 of 4)" 4 "$revoked"
it_as "$ADMIN" DELETE "/keys/$DEPLOY_ID"
it_expect "DELETE of a revoked key: 404" 404 not_found

# --- code pinned by image id: an upload under the same tag changes nothing ---
T="$PFX-code:v1"
IMGS+=("$T")
docker tag "$IT_BUSYBOX" "$T"
it_as_json "$ADMIN" POST /functions "{\"name\":\"pinned\",\"image\":\"$T\",\"command\":$cat_cmd}"
it_expect "a function of tag $T: 201" 201
PIN=$(it_jq .image_id)
# The attacker's image: the same tag, other code (no cat in it at all).
mkdir -p "$IT_TMP/evil"
echo "not your code" >"$IT_TMP/evil/evil"
tar -C "$IT_TMP/evil" -cf - . | docker import - "$T" >/dev/null
docker save -o "$IT_TMP/evil.tar" "$T"
docker tag "$IT_BUSYBOX" "$T" # the engine back as it was, then load it through the API
it_as "$ADMIN" POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/evil.tar"
it_expect "the swapped tag loads: 200" 200
it_eq "the answer names the function whose tag moved" '["pinned"]' "$(jq -c .retagged "$IT_BODY")"
it_as_json "$ADMIN" POST /invoke/pinned '{"event":{"still":"mine"}}'
it_expect "the function still runs its pinned image: 200" 200
it_eq "the function still runs its pinned code" '{"still":"mine"}' "$(it_jq .result)"
it_as "$ADMIN" GET /functions/pinned
it_eq "its image_id is unchanged" "$PIN" "$(it_jq .image_id)"
it_as_json "$ADMIN" PATCH /functions/pinned "{\"image\":\"$T\"}"
it_expect "PATCH with the same image value re-resolves the tag: 200" 200
it_true "the pin moved to the new image" test "$(it_jq .image_id)" != "$PIN"
it_as_json "$ADMIN" POST /invoke/pinned '{"event":{}}'
it_expect "and now the new code runs (no cat in it): 502" 502
it_as "$INVOKE" POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/evil.tar"
it_expect "uploading needs deploy: an invoke key gets 403" 403 forbidden

# --- containers run as nobody; runtimes the engine has -----------------------
it_as_json "$ADMIN" POST /functions "{\"name\":\"whoami\",\"image\":\"$IT_BUSYBOX\",\"command\":[\"id\",\"-u\"]}"
it_as_json "$ADMIN" POST /invoke/whoami '{}'
it_eq "a function runs as uid 65534 by default" 65534 "$(it_jq .result | tr -d '\n')"
it_as_json "$ADMIN" PATCH /functions/whoami '{"user":"0:0"}'
it_as_json "$ADMIN" POST /invoke/whoami '{}'
it_eq "the user field changes it" 0 "$(it_jq .result | tr -d '\n')"
it_as_json "$ADMIN" POST /functions "{\"name\":\"odd-rt\",\"image\":\"$IT_BUSYBOX\",\"runtime\":\"no-such-runtime\"}"
it_expect "a runtime the engine lacks: 400 unknown_runtime" 400 unknown_runtime

# --- input holes -------------------------------------------------------------------
it_as_json "$ADMIN" POST /functions '{"name":"nul","image":"busybox","network":"none\u0000host"}'
it_expect "a string with NUL: 400 invalid_network" 400 invalid_network
it_as_json "$ADMIN" POST /invoke/sa '{"event":"A","\u0065vent":"B"}'
it_expect "a duplicate key spelled with an escape: 400 duplicate_key" 400 duplicate_key
it_as_json "$ADMIN" POST /invoke/sa '{"event":{"a":1,"b":{"x":1,"x":2}}}'
it_expect "a duplicate key deep in the event: 400 duplicate_key" 400 duplicate_key
it_as "$ADMIN" GET /functions/%ff%fe
it_expect "a path of bytes that are not UTF-8: 404" 404 not_found
it_true "and the answer is valid JSON" jq -e .error "$IT_BODY"
it_req POST /functions -H 'Transfer-Encoding: xchunked' -H 'Content-Type: application/json' -d '{}'
it_true "Transfer-Encoding: xchunked: a JSON error, not HTML ($IT_STATUS)" jq -e .code "$IT_BODY"
it_as "$ADMIN" POST /images/ -H 'Content-Type: application/json' -d '{}'
it_expect "POST /images/ is the upload route (415 for JSON), not a misleading 429" 415 \
    unsupported_media_type

# --- failed keys from one address are slowed -----------------------------------------
# Twelve failures a minute are allowed here (MINILAMBDA_AUTH_FAILURES=12), counting
# the ones above: keep failing until refused, within a bound. The count is
# per wall-clock minute: start where the rest of this one holds the whole
# sequence, or a new minute could begin the count again half-way.
minute_has_room() { [ $(($(date +%s) % 60)) -lt 45 ]; }
ml_wait_for 30 minute_has_room || true
slowed=0
for _ in $(seq 1 15); do
    it_as "mlk_wrong" GET /functions
    if [ "$IT_STATUS" = 429 ]; then slowed=1; break; fi
done
it_eq "after repeated failures: 429 too_many_failures" "1 too_many_failures" "$slowed $(it_jq .code)"
it_as "$ADMIN" GET /functions
it_expect "meanwhile a good key from that address is served: 200 (the key is checked first)" 200
it_as "mlk_wrong" GET /functions
it_expect "and a bad key from it still waits: 429" 429 too_many_failures
it_req GET /healthz
it_expect "/healthz stays open" 200

it_done
