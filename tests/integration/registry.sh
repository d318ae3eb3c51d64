#!/usr/bin/env bash
# The function registry through nginx: the CRUD cycle, every validation
# error, conflicts, routing errors (404, 405 + Allow, 415, 413), persistence
# across a pool restart, a first-format functions.json, a corrupt
# functions.json at start-up, and /healthz with and without an engine.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

UUID4_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$'
V1_EARLY=11111111-1111-4111-8111-111111111111
V1_LATE=22222222-2222-4222-8222-222222222222

matches() { [[ $1 =~ $2 ]]; }
later_than() { [[ $1 > $2 ]]; }
now_ts() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
clock_past() { later_than "$(now_ts)" "$1"; }
store_file() { echo "$MINILAMBDA_DATA_DIR/functions.json"; }
store_count() { jq length "$(store_file)"; }
# has_record JSON [FILE]: FILE (default: the last body) holds every field of
# the record JSON with the same value (GET may add computed fields).
has_record() { jq -e --argjson r "$1" '. as $g | $r | to_entries | all(.value == $g[.key])' "${2:-$IT_BODY}" >/dev/null 2>&1; }
# allow_set: the methods of the last Allow header, sorted, comma-separated.
allow_set() { it_header Allow | tr -d ' ' | tr ',' '\n' | sort | paste -sd,; }
json_ct() { [[ $(it_header Content-Type) == application/json* ]]; }
list_answers() { curl -sf -o /dev/null --max-time 5 "$BASE/functions"; }
# repeat STRING N: STRING N times.
repeat() { local out=""; for ((k = 0; k < $2; k++)); do out+=$1; done; printf '%s' "$out"; }

# post_expect DESC STATUS CODE BODY
post_expect() {
    it_json POST /functions "$4"
    it_expect "$1" "$2" "$3"
}
# ok_post DESC BODY: registration must succeed.
ok_post() { post_expect "$1" 201 "" "$2"; }

# ---------------------------------------------------------------------------
# A first-format functions.json (only id, name, image, created_at), written
# before start-up: it must load with the defaults filled in.
mkdir -p "$IT_TMP/stack/data"
cat >"$IT_TMP/stack/data/functions.json" <<EOF
{
  "$V1_LATE": {"id": "$V1_LATE", "name": "v1-late", "image": "busybox:latest",
                 "created_at": "2024-02-01T00:00:00.000Z"},
  "$V1_EARLY": {"id": "$V1_EARLY", "name": "v1-early", "image": "example/hello",
                  "created_at": "2024-01-01T00:00:00.000Z"}
}
EOF

export MINILAMBDA_WORKERS=2
it_start

# --- healthz ---------------------------------------------------------------
it_req GET /healthz
it_expect "GET /healthz is 200" 200
it_eq "healthz status and docker" '{"docker":"reachable","status":"ok"}' "$(jq -cS '{docker, status}' "$IT_BODY" 2>/dev/null)"
it_eq "healthz: every component ok" "data_dir:ok disk:ok engine:ok executors:ok keeper:ok keys:ok locks:ok store:ok" \
    "$(it_jq '[.components | to_entries[] | "\(.key):\(.value.status)"] | sort | join(" ")')"
it_eq "healthz: the store counts its functions (the two first-format records)" 2 "$(it_jq '.components.store.functions')"
it_true "healthz: free bytes over the minimum" \
    test "$(it_jq '.components.disk.free_bytes > .components.disk.min_free_bytes')" = true
it_true "healthz is application/json" json_ct

# --- the first-format records ------------------------------------------------------
it_req GET /functions
it_expect "GET /functions with a first-format file is 200" 200
it_eq "first format: two records listed" 2 "$(it_jq length)"
it_eq "first format: oldest first (created_at, not file order)" "v1-early,v1-late" "$(it_jq '[.[].name] | join(",")')"
it_req GET /functions/v1-early
it_expect "first-format record by name" 200
it_eq "first-format record: defaults filled in" '120 256 1 {} none' \
    "$(it_jq '"\(.timeout) \(.memory_mb) \(.cpus) \(.env|tojson) \(.network)"')"
it_eq "first-format record: updated_at defaults to created_at" "2024-01-01T00:00:00.000Z" "$(it_jq .updated_at)"
it_eq "first-format record: id and image kept" "$V1_EARLY example/hello" "$(it_jq '"\(.id) \(.image)"')"
it_req GET "/functions/$V1_LATE"
it_expect "first-format record by id" 200
it_eq "first-format record by id is the right one" v1-late "$(it_jq .name)"

# --- create ----------------------------------------------------------------
it_json POST /functions '{"name":"crud-1","image":"busybox:latest"}'
it_expect "POST /functions is 201" 201
it_true "create: application/json" json_ct
ID1=$(it_jq .id)
CREATED1=$(it_jq .created_at)
REC1=$(jq -cS . "$IT_BODY")
it_true "create: id is a UUID v4 ($ID1)" matches "$ID1" "$UUID4_RE"
it_eq "create: name and image echoed" "crud-1 busybox:latest" "$(it_jq '"\(.name) \(.image)"')"
it_eq "create: defaults timeout/memory/cpus/env/network" '120 256 1 {} none' \
    "$(it_jq '"\(.timeout) \(.memory_mb) \(.cpus) \(.env|tojson) \(.network)"')"
it_eq "create: no command unless given" false "$(it_jq 'has("command")')"
it_true "create: created_at is RFC 3339 UTC with ms ($CREATED1)" matches "$CREATED1" "$TS_RE"
it_eq "create: updated_at equals created_at" "$CREATED1" "$(it_jq .updated_at)"
skew=$(($(date -u +%s) - $(it_jq '.created_at | sub("[.][0-9]+Z$"; "Z") | fromdateiso8601')))
it_true "create: created_at is now (skew ${skew}s)" test "${skew#-}" -le 60
it_eq "create: Location header" "/functions/$ID1" "$(it_header Location)"
it_eq "create: the record is in functions.json under its id" crud-1 \
    "$(jq -r --arg id "$ID1" '.[$id].name' "$(store_file)")"

ok_post "create with every config field" \
    '{"name":"crud-2","image":"registry.local:5000/team/fn:1.2","timeout":30,"memory_mb":512,"cpus":0.5,"env":{"A":"1","B_2":"x y"},"command":["sh","-c","echo hi"],"network":"bridge"}'
ID2=$(it_jq .id)
it_eq "create: config fields echoed" \
    'registry.local:5000/team/fn:1.2 30 512 0.5 {"A":"1","B_2":"x y"} ["sh","-c","echo hi"] bridge' \
    "$(it_jq '"\(.image) \(.timeout) \(.memory_mb) \(.cpus) \(.env|tojson) \(.command|tojson) \(.network)"')"
it_true "create: second id differs and is a UUID v4" matches "$ID2" "$UUID4_RE"
it_true "create: ids differ" test "$ID1" != "$ID2"

# --- read ------------------------------------------------------------------
it_req GET "/functions/$ID1"
it_expect "GET /functions/{id} is 200" 200
it_true "GET by id returns the created record" has_record "$REC1"
it_req GET /functions/crud-1
it_expect "GET /functions/{name} is 200" 200
it_true "GET by name returns the created record" has_record "$REC1"
it_req GET /functions/crud-1/
it_expect "GET /functions/{name}/ (trailing slash) is 200" 200
it_req GET /functions
it_expect "GET /functions is 200" 200
it_true "list is application/json" json_ct
it_eq "list: every record, oldest first" "v1-early,v1-late,crud-1,crud-2" "$(it_jq '[.[].name] | join(",")')"
jq '.[] | select(.name == "crud-1")' "$IT_BODY" >"$IT_TMP/listed.json"
it_true "list: full records" has_record "$REC1" "$IT_TMP/listed.json"
it_req GET /functions/
it_eq "GET /functions/ lists too" "200 4" "$IT_STATUS $(it_jq length)"
# -I: curl must not wait for the body a HEAD response announces but never sends.
it_req HEAD /functions -I --max-time 10
it_expect "HEAD /functions: 200" 200
it_true "HEAD /functions: JSON content type" json_ct

# --- update ----------------------------------------------------------------
ml_wait_for 5 clock_past "$CREATED1" || true
it_json PATCH /functions/crud-1 '{"image":"busybox:1.36","timeout":60,"env":{"K":"v"}}'
it_expect "PATCH /functions/{name} is 200" 200
it_eq "PATCH: image, timeout, env changed" 'busybox:1.36 60 {"K":"v"}' \
    "$(it_jq '"\(.image) \(.timeout) \(.env|tojson)"')"
it_eq "PATCH: id, name, created_at, untouched fields kept" "$ID1 crud-1 $CREATED1 256 1 none" \
    "$(it_jq '"\(.id) \(.name) \(.created_at) \(.memory_mb) \(.cpus) \(.network)"')"
UPDATED1=$(it_jq .updated_at)
it_true "PATCH: updated_at is RFC 3339 ms" matches "$UPDATED1" "$TS_RE"
it_true "PATCH: updated_at moved past created_at ($UPDATED1 > $CREATED1)" later_than "$UPDATED1" "$CREATED1"
REC1=$(jq -cS . "$IT_BODY")
it_req GET "/functions/$ID1"
it_true "PATCH: GET sees the change" has_record "$REC1"
it_eq "PATCH: functions.json has the change" "busybox:1.36 60" \
    "$(jq -r --arg id "$ID1" '.[$id] | "\(.image) \(.timeout)"' "$(store_file)")"
it_json PATCH "/functions/$ID2" '{"memory_mb":1024,"cpus":2,"command":["true"],"network":"none"}'
it_expect "PATCH /functions/{id} is 200" 200
it_eq "PATCH by id: fields changed" '1024 2 ["true"] none crud-2' \
    "$(it_jq '"\(.memory_mb) \(.cpus) \(.command|tojson) \(.network) \(.name)"')"

n_before=$(store_count)
it_json PATCH /functions/crud-1 '{"name":"renamed"}'
it_expect "PATCH of name: 400 immutable_field" 400 immutable_field
it_json PATCH /functions/crud-1 "{\"id\":\"$ID2\"}"
it_expect "PATCH of id: 400 immutable_field" 400 immutable_field
it_json PATCH /functions/crud-1 '{"created_at":"2020-01-01T00:00:00.000Z"}'
it_expect "PATCH of created_at: 400 immutable_field" 400 immutable_field
it_json PATCH /functions/crud-1 '{"colour":"red"}'
it_expect "PATCH of an unknown field: 400 unknown_field" 400 unknown_field
it_json PATCH /functions/crud-1 '{"timeout":0}'
it_expect "PATCH timeout 0: 400 invalid_timeout" 400 invalid_timeout
it_json PATCH /functions/crud-1 '{"image":"Not A Ref"}'
it_expect "PATCH bad image: 400 invalid_image" 400 invalid_image
it_json PATCH /functions/crud-1 '{"timeout":30,"network":"host"}'
it_expect "PATCH with one bad field among good ones: 400 invalid_network" 400 invalid_network
it_json PATCH /functions/crud-1 '[]'
it_expect "PATCH with an array body: 400 invalid_body" 400 invalid_body
it_json PATCH /functions/no-such-function '{"timeout":5}'
it_expect "PATCH of an unknown function: 404 not_found" 404 not_found
it_req GET /functions/crud-1
it_true "failed PATCHes changed nothing" has_record "$REC1"
it_eq "failed PATCHes added no record" "$n_before" "$(store_count)"

# --- validation on create --------------------------------------------------
n_before=$(store_count)
NAME63=$(repeat a 63)
NAME64=$(repeat a 64)
post_expect "name empty" 400 invalid_name '{"name":"","image":"busybox"}'
post_expect "name 64 characters" 400 invalid_name "{\"name\":\"$NAME64\",\"image\":\"busybox\"}"
post_expect "name starting with '-'" 400 invalid_name '{"name":"-fn","image":"busybox"}'
post_expect "name starting with '_'" 400 invalid_name '{"name":"_fn","image":"busybox"}'
post_expect "name starting with '.'" 400 invalid_name '{"name":".fn","image":"busybox"}'
post_expect "name with a space" 400 invalid_name '{"name":"my fn","image":"busybox"}'
post_expect "name with a slash" 400 invalid_name '{"name":"a/b","image":"busybox"}'
post_expect "name with a colon" 400 invalid_name '{"name":"a:b","image":"busybox"}'
post_expect "name with a non-ASCII letter" 400 invalid_name '{"name":"caf\u00e9","image":"busybox"}'
post_expect "name a number" 400 invalid_name '{"name":42,"image":"busybox"}'
post_expect "name null" 400 invalid_name '{"name":null,"image":"busybox"}'
post_expect "image empty" 400 invalid_image '{"name":"v-img","image":""}'
post_expect "image with upper case repository" 400 invalid_image '{"name":"v-img","image":"BusyBox"}'
post_expect "image with an empty tag" 400 invalid_image '{"name":"v-img","image":"busybox:"}'
post_expect "image with a space" 400 invalid_image '{"name":"v-img","image":"busy box"}'
post_expect "image a URL" 400 invalid_image '{"name":"v-img","image":"http://registry/x"}'
post_expect "image with a short digest" 400 invalid_image '{"name":"v-img","image":"busybox@sha256:abc"}'
post_expect "image 256 characters" 400 invalid_image "{\"name\":\"v-img\",\"image\":\"$(repeat b 256)\"}"
post_expect "image a number" 400 invalid_image '{"name":"v-img","image":7}'
post_expect "timeout 0" 400 invalid_timeout '{"name":"v-t","image":"busybox","timeout":0}'
post_expect "timeout 901" 400 invalid_timeout '{"name":"v-t","image":"busybox","timeout":901}'
post_expect "timeout \"5\" (string)" 400 invalid_timeout '{"name":"v-t","image":"busybox","timeout":"5"}'
post_expect "timeout 1.5" 400 invalid_timeout '{"name":"v-t","image":"busybox","timeout":1.5}'
post_expect "timeout -1" 400 invalid_timeout '{"name":"v-t","image":"busybox","timeout":-1}'
post_expect "timeout null" 400 invalid_timeout '{"name":"v-t","image":"busybox","timeout":null}'
post_expect "memory_mb 15" 400 invalid_memory '{"name":"v-m","image":"busybox","memory_mb":15}'
post_expect "memory_mb 65537" 400 invalid_memory '{"name":"v-m","image":"busybox","memory_mb":65537}'
post_expect "memory_mb \"256\"" 400 invalid_memory '{"name":"v-m","image":"busybox","memory_mb":"256"}'
post_expect "memory_mb 256.5" 400 invalid_memory '{"name":"v-m","image":"busybox","memory_mb":256.5}'
post_expect "cpus 0" 400 invalid_cpus '{"name":"v-c","image":"busybox","cpus":0}'
post_expect "cpus 0.001" 400 invalid_cpus '{"name":"v-c","image":"busybox","cpus":0.001}'
post_expect "cpus 64.5" 400 invalid_cpus '{"name":"v-c","image":"busybox","cpus":64.5}'
post_expect "cpus -1" 400 invalid_cpus '{"name":"v-c","image":"busybox","cpus":-1}'
post_expect "cpus \"1\"" 400 invalid_cpus '{"name":"v-c","image":"busybox","cpus":"1"}'
post_expect "env an array" 400 invalid_env '{"name":"v-e","image":"busybox","env":["A=1"]}'
post_expect "env a string" 400 invalid_env '{"name":"v-e","image":"busybox","env":"A=1"}'
post_expect "env a non-string value" 400 invalid_env '{"name":"v-e","image":"busybox","env":{"A":1}}'
post_expect "env a null value" 400 invalid_env '{"name":"v-e","image":"busybox","env":{"A":null}}'
post_expect "env a MINILAMBDA_ key" 400 invalid_env '{"name":"v-e","image":"busybox","env":{"MINILAMBDA_X":"y"}}'
post_expect "env a key starting with a digit" 400 invalid_env '{"name":"v-e","image":"busybox","env":{"1A":"x"}}'
post_expect "env a key with '='" 400 invalid_env '{"name":"v-e","image":"busybox","env":{"A=B":"x"}}'
post_expect "env an empty key" 400 invalid_env '{"name":"v-e","image":"busybox","env":{"":"x"}}'
post_expect "command a string" 400 invalid_command '{"name":"v-cmd","image":"busybox","command":"echo hi"}'
post_expect "command an empty array" 400 invalid_command '{"name":"v-cmd","image":"busybox","command":[]}'
post_expect "command with a number" 400 invalid_command '{"name":"v-cmd","image":"busybox","command":["echo",1]}'
post_expect "command an object" 400 invalid_command '{"name":"v-cmd","image":"busybox","command":{"a":"b"}}'
post_expect "network host" 400 invalid_network '{"name":"v-n","image":"busybox","network":"host"}'
post_expect "network empty" 400 invalid_network '{"name":"v-n","image":"busybox","network":""}'
post_expect "network a boolean" 400 invalid_network '{"name":"v-n","image":"busybox","network":true}'
post_expect "unknown field" 400 unknown_field '{"name":"v-u","image":"busybox","memory":128}'
post_expect "id is not settable" 400 unknown_field "{\"name\":\"v-u\",\"image\":\"busybox\",\"id\":\"$ID1\"}"
post_expect "missing name" 400 missing_field '{"image":"busybox"}'
post_expect "missing image" 400 missing_field '{"name":"v-missing"}'
post_expect "empty object" 400 missing_field '{}'
post_expect "body an array" 400 invalid_body '[{"name":"v-arr","image":"busybox"}]'
post_expect "body a string" 400 invalid_body '"hello"'
post_expect "body invalid JSON" 400 invalid_json '{"name":"v-j","image":}'
it_true "validation error messages are sentences" test -n "$(it_jq '.error // empty')"
it_eq "no failed registration was stored" "$n_before" "$(store_count)"

# The edges that must pass.
ok_post "name of 63 characters" "{\"name\":\"$NAME63\",\"image\":\"busybox\"}"
ok_post "name of 1 character" '{"name":"a","image":"busybox"}'
ok_post "name starting with a digit, with _ . -" '{"name":"0a_b.c-D","image":"busybox"}'
ok_post "image with registry port, path and tag" '{"name":"e-img1","image":"localhost:5000/org/sub/fn:v1.0-rc_1"}'
ok_post "image with a digest" "{\"name\":\"e-img2\",\"image\":\"busybox@sha256:$(repeat ab 32)\"}"
ok_post "timeout 1, memory_mb 16, cpus 0.01" '{"name":"e-min","image":"busybox","timeout":1,"memory_mb":16,"cpus":0.01}'
it_eq "edge minimums stored" "1 16 0.01" "$(it_jq '"\(.timeout) \(.memory_mb) \(.cpus)"')"
ok_post "timeout 900, memory_mb 65536, cpus 64" '{"name":"e-max","image":"busybox","timeout":900,"memory_mb":65536,"cpus":64}'
it_eq "edge maximums stored" "900 65536 64" "$(it_jq '"\(.timeout) \(.memory_mb) \(.cpus)"')"
ok_post "empty env, network none" '{"name":"e-env","image":"busybox","env":{},"network":"none"}'

# --- conflicts and unknowns --------------------------------------------------
n_before=$(store_count)
post_expect "duplicate name: 409 name_conflict" 409 name_conflict '{"name":"crud-2","image":"busybox"}'
post_expect "duplicate of a first-format name: 409 name_conflict" 409 name_conflict '{"name":"v1-early","image":"other"}'
it_eq "a conflict stores nothing" "$n_before" "$(store_count)"
it_req GET /functions/crud-2
it_eq "a conflict leaves the original untouched" "$ID2 registry.local:5000/team/fn:1.2" "$(it_jq '"\(.id) \(.image)"')"
it_req GET /functions/no-such-function
it_expect "GET unknown function: 404 not_found" 404 not_found
it_req GET /functions/00000000-0000-4000-8000-000000000000
it_expect "GET unknown id: 404 not_found" 404 not_found
it_req DELETE /functions/no-such-function
it_expect "DELETE unknown function: 404 not_found" 404 not_found
it_req GET /nope
it_expect "unknown route: 404 not_found" 404 not_found
it_req GET /functions/crud-1/extra
it_expect "GET /functions/{ref}/extra: 404 not_found" 404 not_found
it_req GET /functionsx
it_expect "GET /functionsx: 404 not_found" 404 not_found

# --- methods -----------------------------------------------------------------
it_req PUT /functions -H 'Content-Type: application/json' --data-binary '{}'
it_expect "PUT /functions: 405" 405 method_not_allowed
it_eq "PUT /functions: Allow header" GET,HEAD,POST "$(allow_set)"
it_req POST /healthz
it_expect "POST /healthz: 405" 405 method_not_allowed
it_eq "POST /healthz: Allow header" GET,HEAD "$(allow_set)"
it_req DELETE /functions
it_expect "DELETE /functions: 405" 405 method_not_allowed
it_eq "DELETE /functions: Allow header" GET,HEAD,POST "$(allow_set)"
it_req PUT /functions/crud-1 -H 'Content-Type: application/json' --data-binary '{}'
it_expect "PUT /functions/{ref}: 405" 405 method_not_allowed
it_eq "PUT /functions/{ref}: Allow header" DELETE,GET,HEAD,PATCH "$(allow_set)"
it_req POST /functions/crud-1 -H 'Content-Type: application/json' --data-binary '{}'
it_expect "POST /functions/{ref}: 405" 405 method_not_allowed
it_true "POST /functions/{ref}: Allow names PATCH" grep -qi '^Allow:.*PATCH' "$IT_HEADERS"
it_eq "a 405 changed nothing" "$n_before" "$(store_count)"

# --- media types -------------------------------------------------------------
it_req POST /functions -H 'Content-Type: text/plain' --data-binary '{"name":"m-text","image":"busybox"}'
it_expect "text/plain body: 415 unsupported_media_type" 415 unsupported_media_type
it_req POST /functions --data '{"name":"m-form","image":"busybox"}'
it_expect "form-encoded body: 415 unsupported_media_type" 415 unsupported_media_type
it_req POST /functions --data-urlencode 'name=m-form2' --data-urlencode 'image=busybox'
it_expect "real form fields: 415 unsupported_media_type" 415 unsupported_media_type
it_req PATCH /functions/crud-1 -H 'Content-Type: text/plain' --data-binary '{"timeout":5}'
it_expect "PATCH with text/plain: 415 unsupported_media_type" 415 unsupported_media_type
it_json POST /functions '{"name":"m-charset","image":"busybox"}' -H 'Content-Type: application/json; charset=utf-8'
it_expect "application/json; charset=utf-8 is accepted" 201
it_eq "415s stored nothing" "$((n_before + 1))" "$(store_count)"

# --- sizes ---------------------------------------------------------------------
n_before=$(store_count)
big=$IT_TMP/big.json
{ printf '{"name":"s-2m","image":"busybox","env":{"A":"'; head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' x; printf '"}}'; } >"$big"
it_req POST /functions -H 'Content-Type: application/json' --data-binary "@$big"
it_expect "2 MiB body: 413 payload_too_large (the app's)" 413 payload_too_large
it_true "the app's 413 names its 1 MiB limit" grep -q 1048576 "$IT_BODY"
it_req POST /functions -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$big"
it_expect "2 MiB chunked body (no Content-Length): 413 payload_too_large" 413 payload_too_large
{ printf '{"name":"s-9m","image":"busybox","env":{"A":"'; head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' x; printf '"}}'; } >"$big"
it_req POST /functions -H 'Content-Type: application/json' --data-binary "@$big"
it_expect "9 MiB body: 413 payload_too_large (nginx's, JSON)" 413 payload_too_large
it_true "nginx's 413 is application/json" json_ct
rm -f "$big"
edge='{"name":"s-1m","image":"busybox"}'
{ printf '%s' "$edge"; head -c $((1048576 - ${#edge})) /dev/zero | tr '\0' ' '; } >"$IT_TMP/edge.json"
it_req POST /functions -H 'Content-Type: application/json' --data-binary "@$IT_TMP/edge.json"
it_expect "a body of exactly 1 MiB is accepted" 201
{ printf '%s' "$edge"; head -c $((1048577 - ${#edge})) /dev/zero | tr '\0' ' '; } >"$IT_TMP/edge.json"
it_req POST /functions -H 'Content-Type: application/json' --data-binary "@$IT_TMP/edge.json"
it_expect "a body of 1 MiB + 1 byte: 413" 413 payload_too_large
it_eq "only the 1 MiB body was stored" "$((n_before + 1))" "$(store_count)"
it_req GET /functions
it_expect "the pool still serves after the 413s" 200

# --- delete --------------------------------------------------------------------
n_before=$(store_count)
it_req DELETE /functions/crud-1
it_expect "DELETE /functions/{name}: 204" 204
it_eq "DELETE: empty body" 0 "$(wc -c <"$IT_BODY")"
it_req GET /functions/crud-1
it_expect "GET after DELETE: 404 not_found" 404 not_found
it_req GET "/functions/$ID1"
it_expect "GET by id after DELETE: 404 not_found" 404 not_found
it_req DELETE /functions/crud-1
it_expect "DELETE again: 404 not_found" 404 not_found
it_eq "DELETE removed the record from functions.json" "$((n_before - 1)) null" \
    "$(jq -r --arg id "$ID1" 'length, (.[$id] | tostring)' "$(store_file)" | paste -sd' ')"
it_req DELETE "/functions/$ID2"
it_expect "DELETE /functions/{id}: 204" 204
it_req GET /functions
it_eq "list no longer has the deleted ones" "0 $((n_before - 2))" \
    "$(it_jq '"\([.[] | select(.name == "crud-1" or .name == "crud-2")] | length) \(length)"')"
ok_post "a deleted name can be registered again" '{"name":"crud-1","image":"busybox"}'
it_true "the new crud-1 has a new id" test "$(it_jq .id)" != "$ID1"

# --- restart keeps every record -------------------------------------------------
it_req GET /functions
jq -S . "$IT_BODY" >"$IT_TMP/before-restart.json"
n_before=$(jq length "$IT_TMP/before-restart.json")
old_pool=$(it_pool_pid)
it_stop_pool
ml_start_pool
it_true "the pool came back with a new master" test "$(it_pool_pid)" != "$old_pool"
it_true "the restarted pool answers" ml_wait_for 20 list_answers
it_req GET /functions
jq -S . "$IT_BODY" >"$IT_TMP/after-restart.json"
it_true "restart: every record identical ($n_before)" cmp -s "$IT_TMP/before-restart.json" "$IT_TMP/after-restart.json"
it_eq "restart: functions.json has them all" "$n_before" "$(store_count)"
it_req GET /functions/v1-late
it_expect "restart: a first-format record is still served" 200

# --- a file corrupted while running is never overwritten -------------------------
cp "$(store_file)" "$IT_TMP/good.json"
printf '{"torn": {"id": "torn", "na' >"$(store_file)"
cp "$(store_file)" "$IT_TMP/torn.json"
it_json POST /functions '{"name":"after-corruption","image":"busybox"}'
it_expect "POST with a corrupt functions.json: 503 store_corrupt" 503 store_corrupt
it_true "store_corrupt says how to restore the backup" grep -q 'functions.json.bak' "$IT_BODY"
it_json PATCH /functions/v1-late '{"timeout":9}'
it_expect "PATCH with a corrupt functions.json: 503 store_corrupt" 503 store_corrupt
it_req GET /functions
it_expect "GET /functions with a corrupt functions.json: 503 store_corrupt" 503 store_corrupt
it_req DELETE /functions/v1-late
it_expect "DELETE with a corrupt functions.json: 503 store_corrupt" 503 store_corrupt
it_json POST /invoke/v1-late '{}'
it_expect "invoke with a corrupt functions.json: 503 store_corrupt" 503 store_corrupt
it_req GET /healthz
it_expect "corrupt store: /healthz 503 store_corrupt" 503 store_corrupt
it_eq "corrupt store: /healthz names the store, only" store "$(it_jq '.failed | join(",")')"
it_eq "corrupt store: the engine is still reachable" reachable "$(it_jq .docker)"
it_req GET /metrics
it_true "corrupt store: minilambda_up{component=\"store\"} 0" grep -qx 'minilambda_up{component="store"} 0' "$IT_BODY"
it_true "corrupt store: minilambda_up{component=\"engine\"} 1" grep -qx 'minilambda_up{component="engine"} 1' "$IT_BODY"
it_true "the corrupt file was not overwritten" cmp -s "$IT_TMP/torn.json" "$(store_file)"
cp "$IT_TMP/good.json" "$(store_file)"
it_req GET /functions/v1-late
it_expect "the restored file is served again" 200
it_req GET /healthz
it_expect "restored store: /healthz 200 again" 200

# --- a corrupt functions.json stops start-up ------------------------------------
CORRUPT_N=0
# corrupt_start DESC CONTENT: the binary refuses to start, says why on stderr,
# and leaves the file byte for byte as it was.
corrupt_start() {
    local desc=$1 dir rc=0
    CORRUPT_N=$((CORRUPT_N + 1))
    dir=$IT_TMP/corrupt$CORRUPT_N
    mkdir -p "$dir/data" "$dir/run"
    printf '%s' "$2" >"$dir/data/functions.json"
    cp "$dir/data/functions.json" "$dir/orig.json"
    MINILAMBDA_DATA_DIR=$dir/data MINILAMBDA_RUN_DIR=$dir/run \
        timeout -k 5 20 "$ML_BIN" >"$dir/stdout" 2>"$dir/stderr" || rc=$?
    it_true "corrupt ($desc): start-up fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124 -a "$rc" -ne 137
    it_true "corrupt ($desc): stderr names functions.json" grep -q 'functions\.json' "$dir/stderr"
    it_true "corrupt ($desc): file unchanged" cmp -s "$dir/orig.json" "$dir/data/functions.json"
    it_true "corrupt ($desc): no socket left" test ! -e "$dir/run/minilambda.sock"
}
corrupt_start "empty, 0 bytes" ""
corrupt_start "truncated" "{\"$V1_EARLY\": {\"id\": \"$V1_EARLY\", \"name\": \"x\", \"ima"
corrupt_start "not JSON" "this is not json"
corrupt_start "an array" '[]'
corrupt_start "trailing garbage" "{} xyz"
corrupt_start "a record without a name" "{\"$V1_EARLY\": {\"id\": \"$V1_EARLY\", \"image\": \"busybox\"}}"
corrupt_start "a key that is not the id" "{\"$V1_EARLY\": {\"id\": \"$V1_LATE\", \"name\": \"x\", \"image\": \"busybox\"}}"
it_true "corrupt: an empty file is named as such" grep -q 'is empty (0 bytes)' "$IT_TMP/corrupt1/stderr"
it_true "corrupt: the message says how to restore the backup" grep -q 'functions.json.bak' "$IT_TMP/corrupt1/stderr"
it_true "corrupt: the message says why (not valid JSON)" grep -q 'not valid JSON' "$IT_TMP/corrupt2/stderr"

# --- /healthz without an engine ---------------------------------------------------
# A second stack whose DOCKER_HOST points at a socket that does not exist.
# Stop the first one first: the harness tracks only the current stack.
ml_stop_all
export DOCKER_HOST=unix:///nonexistent.sock
it_start noengine
it_req GET /healthz --max-time 10
it_expect "no engine: /healthz 503 engine_unreachable" 503 engine_unreachable
it_eq "no engine: status and docker fields" "unavailable unreachable" "$(it_jq '"\(.status) \(.docker)"')"
it_true "no engine: error is a sentence" test -n "$(it_jq '.error // empty')"
it_eq "no engine: /healthz names the engine" engine "$(it_jq '.failed | join(",")')"
it_true "no engine: application/json" json_ct
ok_post "no engine: the registry still works" '{"name":"no-engine","image":"busybox"}'

it_done
