#!/usr/bin/env bash
# A key limited to some functions (its `functions` list) neither decides
# nor learns anything about the functions outside it:
#   1. an image upload pins (and names in `pinned` and `retagged`) only the
#      uploader's own functions; another function waiting for the tag stays
#      unpinned, does not run the uploader's image, and a PATCH by a key
#      that may deploy it pins it;
#   2. a function outside the list is 404 not_found, with the body of one
#      that does not exist, on every route taking a function or a run (403
#      stays for a scope miss on a function the key may see);
#   3. GET /images lists this instance's images only (its functions' images
#      and what was uploaded through it; a limited key: its own), not every
#      image of a shared engine;
#   4. a metrics key with a list sees only those functions' series.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
PFX="ml-allow-$$"
T="$PFX-pending:v1"   # not in the engine when victim-pending is registered
T2="$PFX-pinned:v1"   # victim-pinned is pinned to it; the upload moves it
FOREIGN="$PFX-foreign:v1" # another platform's image on the shared engine
EVIL=""
al_images() {
    local t
    for t in "$T" "$T2" "$FOREIGN"; do docker rmi "$t" >/dev/null 2>&1 || true; done
    [ -z "$EVIL" ] || docker rmi -f "$EVIL" >/dev/null 2>&1 || true
}
it_after al_images

export MINILAMBDA_AUTH=on MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4
it_start allowlist
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")

newkey() {
    it_as_json "$ADMIN" POST /keys "$1"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys $1: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
    NEWKEY=$(it_jq .key)
}
cat_cmd=$(jq -cn '["cat"]')
register() {
    it_as_json "$ADMIN" POST /functions "{\"name\":\"$1\",\"image\":\"$2\",\"command\":$cat_cmd}"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /functions $1: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
}

# --- the images: T is busybox, T2 an image with no cat in it at all ----------
docker tag "$IT_BUSYBOX" "$T2"
register victim-pinned "$T2"
PIN=$(it_jq .image_id)
mkdir -p "$IT_TMP/evil"
echo "not your code" >"$IT_TMP/evil/evil"
EVIL=$(tar -C "$IT_TMP/evil" -cf - . | docker import - "$T2")
docker tag "$IT_BUSYBOX" "$T"
docker save -o "$IT_TMP/up.tar" "$T" "$T2"
docker rmi "$T" >/dev/null
docker tag "$IT_BUSYBOX" "$T2" # back as victim-pinned was pinned; the upload moves it again
it_true "$T is not in the engine before the upload" \
    sh -c "! docker image inspect '$T' >/dev/null 2>&1"
register victim-pending "$T"
it_eq "victim-pending is registered unpinned" null "$(it_jq .image_id)"
register fa "$T"
register fb "$IT_BUSYBOX"
newkey '{"name":"fa-deploy","scopes":["deploy","invoke"],"functions":["fa"]}'
FA=$NEWKEY
newkey '{"name":"fa-read","scopes":["read"],"functions":["fa"]}'
FA_READ=$NEWKEY
newkey '{"name":"fa-metrics","scopes":["metrics"],"functions":["fa"]}'
FA_METRICS=$NEWKEY

# --- 1. an upload pins only the uploader's functions ----------------------------
it_as "$FA" POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/up.tar"
it_expect "the key for fa uploads a tar of $T and $T2: 200" 200
it_eq "pinned names fa only, not victim-pending" '["fa"]' "$(jq -c .pinned "$IT_BODY")"
it_eq "retagged names nothing outside the key's list (victim-pinned's tag moved)" '[]' \
    "$(jq -c .retagged "$IT_BODY")"
it_as "$ADMIN" GET /functions/victim-pending
it_eq "victim-pending is still unpinned" null "$(it_jq .image_id)"
it_as "$ADMIN" GET /functions/victim-pinned
it_eq "victim-pinned keeps its pin" "$PIN" "$(it_jq .image_id)"
it_as "$ADMIN" GET /functions/fa
it_true "fa is pinned to the loaded image" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$(it_jq .image_id)"
it_as_json "$FA" POST /invoke/fa '{"event":{"fa":1}}'
it_expect "fa runs the uploaded image: 200" 200
it_as_json "$ADMIN" POST /invoke/victim-pending '{"event":{"victim":1}}'
it_expect "victim-pending does not run the uploader's image: 502 image_not_found" 502 image_not_found
it_true "its answer carries no output of the uploader's image" \
    test "$(it_jq .result)" != '{"victim":1}'
it_as_json "$ADMIN" POST /invoke/victim-pending/async '{"event":{"victim":2}}'
VP_RUN=$(it_jq .invocation_id)
vp_failed() { it_as "$ADMIN" GET "/invocations/$VP_RUN"; [ "$(it_jq .status)" = FAILED ]; }
it_true "nor asynchronously: its run FAILED" ml_wait_for 30 vp_failed
it_true "and its result is not the event" test "$(it_jq .result)" != '{"victim":2}'
it_as_json "$ADMIN" PATCH /functions/victim-pending "{\"image\":\"$T\"}"
it_expect "an admin PATCH pins victim-pending: 200" 200
it_true "victim-pending is pinned now" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$(it_jq .image_id)"
it_as_json "$ADMIN" POST /invoke/victim-pending '{"event":{"victim":3}}'
it_expect "victim-pending runs the image the admin pinned: 200" 200
it_eq "with its output" '{"victim":3}' "$(it_jq .result)"

# --- 2. outside the list is 404, exactly as a function that does not exist -----
# same WHO KEY METHOD REF SUFFIX ROOT [ARGS]: KEY (named WHO) gets 404
# not_found for ROOT REF SUFFIX and for a function that does not exist, with
# the same body but for the name.
same() {
    local who=$1 key=$2 method=$3 ref=$4 suffix=$5 root=$6
    shift 6
    it_as "$key" "$method" "$root$ref$suffix" "$@"
    local s1=$IT_STATUS b1
    b1=$(sed "s/$ref/REF/g" "$IT_BODY")
    it_as "$key" "$method" "${root}no-such-$$$suffix" "$@"
    local s2=$IT_STATUS b2
    b2=$(sed "s/no-such-$$/REF/g" "$IT_BODY")
    it_eq "$who: $method $root$ref$suffix: 404 with the body of a missing function" \
        "404 $b2" "$s1 $b1"
    it_eq "$who: $method ${root}no-such$suffix: 404" 404 "$s2"
}
ev=(-H 'Content-Type: application/json' --data-binary '{"event":{}}')
same fa-deploy "$FA" GET victim-pinned "" /functions/
same fa-deploy "$FA" PATCH victim-pinned "" /functions/ -H 'Content-Type: application/json' \
    --data-binary '{"timeout":9}'
same fa-deploy "$FA" DELETE victim-pinned "" /functions/
same fa-deploy "$FA" POST victim-pinned "" /invoke/ "${ev[@]}"
same "fa-deploy, Event" "$FA" POST victim-pinned "" /invoke/ "${ev[@]}" -H 'X-Invocation-Type: Event'
same fa-deploy "$FA" POST victim-pinned /async /invoke/ "${ev[@]}"
# A scope miss on a function outside the list says nothing either.
same fa-read "$FA_READ" PATCH victim-pinned "" /functions/ -H 'Content-Type: application/json' \
    --data-binary '{"timeout":9}'
same fa-read "$FA_READ" POST victim-pinned "" /invoke/ "${ev[@]}"
it_as_json "$FA_READ" PATCH /functions/fa '{"timeout":9}'
it_expect "a scope miss on a function the key may see stays 403" 403 forbidden
it_as "$FA_READ" GET /functions/fa
it_expect "and the key reads fa: 200" 200
it_as "$ADMIN" GET /functions/victim-pinned
it_expect "victim-pinned is still there" 200

# Runs of a function outside the list (a read key sees every run but those).
it_as_json "$ADMIN" POST /invoke/fb '{"event":{"fb":1}}'
FB_RUN=$(it_header X-Invocation-Id)
it_as_json "$ADMIN" POST /invoke/fb/async '{"event":{"fb":2}}'
FB_ASYNC=$(it_jq .invocation_id)
NO_RUN=00000000-0000-4000-8000-000000000000
# unseen WHO KEY METHOD RUN: KEY (named WHO) gets for RUN the 404 of a run
# that does not exist.
unseen() {
    it_as "$2" "$3" "/invocations/$4"
    local s1=$IT_STATUS b1 b2
    b1=$(sed "s/$4/ID/g" "$IT_BODY")
    it_as "$2" "$3" "/invocations/$NO_RUN"
    b2=$(sed "s/$NO_RUN/ID/g" "$IT_BODY")
    it_eq "$1: $3 /invocations/{fb's run}: 404 with the body of a missing run" "404 $b2" "$s1 $b1"
}
unseen "fa-deploy, sync run" "$FA" GET "$FB_RUN"
unseen "fa-deploy, async run" "$FA" GET "$FB_ASYNC"
unseen "fa-deploy, async run" "$FA" DELETE "$FB_ASYNC"
unseen "fa-read, sync run" "$FA_READ" GET "$FB_RUN"
unseen "fa-read, async run" "$FA_READ" GET "$FB_ASYNC"
it_as "$FA_READ" GET "/invocations?function=fb"
it_eq "a listing of fb's runs is empty, as for no such function" 0 "$(it_jq length)"

# --- 3. GET /images: this instance's images only ------------------------------
# jqe ARGS...: jq -e on the last body, quietly.
jqe() { jq -e "$@" "$IT_BODY" >/dev/null; }
# listed TAG / unlisted TAG: the last GET /images answer names TAG, or not.
# shellcheck disable=SC2016 # $t is a jq variable
listed() { jqe --arg t "$1" 'index($t) != null'; }
unlisted() { ! listed "$1"; }
docker tag "$IT_BUSYBOX" "$FOREIGN"
it_as "$ADMIN" GET /images
it_expect "GET /images: 200" 200
it_true "the admin key sees $T (uploaded here, fa's)" listed "$T"
it_true "and $IT_BUSYBOX (fb's)" listed "$IT_BUSYBOX"
it_true "not $FOREIGN (another platform's, on the same engine)" unlisted "$FOREIGN"
it_as "$ADMIN" GET '/images?detail=1'
# shellcheck disable=SC2016 # $t and $id are jq variables
{
    it_true "?detail=1 neither" jqe --arg t "$FOREIGN" '[.[].tags[]] | index($t) == null'
    it_true "?detail=1 lists victim-pinned's pinned image by id" \
        jqe --arg id "$PIN" '[.[].id] | index($id) != null'
}
it_as "$FA" GET /images
it_true "the key for fa sees $T" listed "$T"
it_true "not fb's $IT_BUSYBOX" unlisted "$IT_BUSYBOX"
it_true "nor $FOREIGN" unlisted "$FOREIGN"

# --- 4. a metrics key with a list sees its functions' series only ---------------
it_as "$FA_METRICS" GET /metrics
it_expect "GET /metrics with the key for fa: 200" 200
it_true "fa's series are there" grep -q '^Total_Invocations{function="fa"}' "$IT_BODY"
it_true "no other function's" \
    sh -c "! grep -qE 'function=\"(fb|victim-pending|victim-pinned)\"' '$IT_BODY'"
it_eq "minilambda_functions counts the key's own" "minilambda_functions 1" \
    "$(grep '^minilambda_functions ' "$IT_BODY")"
it_true "no sum of every function's traffic" \
    sh -c "! grep -qE '^minilambda_(http_requests_total|async_queue_depth|image_upload)' '$IT_BODY'"
it_as "$ADMIN" GET /metrics
it_true "the admin key sees every function's series" \
    grep -q '^Total_Invocations{function="fb"}' "$IT_BODY"

it_done
