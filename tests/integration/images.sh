#!/usr/bin/env bash
# Image upload and listing end to end: `docker save` tars of the busybox
# test image, retagged under names unique to this run, uploaded as the
# multipart field "image" and as a raw application/x-tar body, then used by
# a function that is invoked; GET /images and ?detail=1; every malformed
# upload answered with its 4xx JSON; a client killed mid-upload leaving the
# platform healthy and no image tagged; a function whose image is missing
# flagged "image_present": false; the size limit enforced by nginx and by
# the app. Only images tagged by this test are ever removed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || {
    echo "Bail out! cannot build $IT_BUSYBOX"
    exit 1
}

PFX="ml-upload-test-$$"
IMG_TAGS=()
# Untag what this test tagged (the busybox image itself keeps its tag).
images_cleanup() {
    local t
    for t in "${IMG_TAGS[@]}"; do docker rmi "$t" >/dev/null 2>&1 || true; done
}
# Then the harness's cleanup, which reads the exit status from $?.
st=0
trap 'st=$?; set +e; images_cleanup; (exit "$st"); it_cleanup; exit "$st"' EXIT

# save_image NAME:TAG FILE: a `docker save` tar of the busybox image under
# NAME:TAG, which is then untagged again so that only an upload can bring
# it back.
save_image() {
    IMG_TAGS+=("$1")
    docker tag "$IT_BUSYBOX" "$1"
    docker save -o "$2" "$1"
    docker rmi "$1" >/dev/null
}

# has_image REF: the engine has it; no_image REF: it does not.
has_image() { docker image inspect "$1" >/dev/null 2>&1; }
no_image() { ! has_image "$1"; }

# jqe FILTER: jq -e on the last body, quietly.
jqe() { jq -e "$@" "$IT_BODY" >/dev/null 2>&1; }

# upload_f FILE [curl args...]: the file as the multipart field "image".
upload_f() {
    local f=$1
    shift
    it_req POST /images -F "image=@$f" "$@"
}

# upload_raw FILE [curl args...]: the file as an application/x-tar body.
upload_raw() {
    local f=$1
    shift
    it_req POST /images -H 'Content-Type: application/x-tar' --data-binary "@$f" "$@"
}

# upload_body CONTENT_TYPE FILE: FILE sent as is under CONTENT_TYPE.
upload_body() { it_req POST /images -H "Content-Type: $1" --data-binary "@$2"; }

TA="$PFX-a:v1" TB="$PFX-b:v1"
save_image "$TA" "$IT_TMP/a.tar"
save_image "$TB" "$IT_TMP/b.tar"
it_true "$TA is not in the engine before the upload" no_image "$TA"
it_true "$TB is not in the engine before the upload" no_image "$TB"
SIZE_A=$(stat -c %s "$IT_TMP/a.tar")

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=4
unset MINILAMBDA_MAX_IMAGE_BYTES
it_start images

# --- upload as multipart (curl -F), then run a function from it ----------
upload_f "$IT_TMP/a.tar"
it_expect "-F upload: 200" 200
it_eq "-F upload: message" "Image Uploaded Successfully" "$(it_jq .message)"
it_eq "-F upload: images names the tag" "[\"$TA\"]" "$(jq -c .images "$IT_BODY")"
it_eq "-F upload: file_size is the tar's size" "$SIZE_A" "$(it_jq .file_size)"
it_true "-F upload: the engine has $TA" has_image "$TA"

it_register fa "$TA" '"command":["cat"]'
it_json POST /invoke/fa '{"event":{"from":"upload"}}'
it_expect "a function using the uploaded image: 200" 200
it_eq "a function using the uploaded image: result" '{"from":"upload"}' "$(it_jq .result | jq -cS .)"
it_req GET /functions/fa
it_expect "GET /functions/fa: 200" 200
it_true "GET /functions/fa: no image_present flag while the image exists" \
    jqe 'has("image_present") | not'

# --- upload as a raw tar body (curl --data-binary) ----------------------
upload_raw "$IT_TMP/b.tar"
it_expect "--data-binary upload: 200" 200
it_eq "--data-binary upload: images names the tag" "[\"$TB\"]" "$(jq -c .images "$IT_BODY")"
it_eq "--data-binary upload: file_size" "$(stat -c %s "$IT_TMP/b.tar")" "$(it_jq .file_size)"
it_register fb "$TB" '"command":["cat"]'
it_json POST /invoke/fb '{"event":[1,2]}'
it_expect "a function using the raw-uploaded image: 200" 200
it_eq "a function using the raw-uploaded image: result" '[1,2]' "$(it_jq .result | jq -c .)"

# A form with other fields before and after the image, and the media type
# parameters in another order.
it_req POST /images -F "before=1" -F "image=@$IT_TMP/a.tar;type=application/x-tar" \
    -F "after=2"
it_expect "upload with fields around the image: 200" 200
it_eq "upload with fields around the image: images" "[\"$TA\"]" "$(jq -c .images "$IT_BODY")"

# --- listing -------------------------------------------------------------
it_req GET /images
it_expect "GET /images: 200" 200
it_true "GET /images: an array of strings" jqe 'type == "array" and all(.[]; type == "string")'
# shellcheck disable=SC2016 # $a and $b are jq variables
it_true "GET /images: has $TA and $TB" jqe --arg a "$TA" --arg b "$TB" 'index($a) != null and index($b) != null'
it_true "GET /images: no untagged placeholders" jqe 'all(.[]; test("<none>") | not)'
it_req GET '/images?detail=1'
it_expect "GET /images?detail=1: 200" 200
it_true "?detail=1: objects with id, tags, size, created" \
    jqe 'type == "array" and length > 0 and all(.[]; (keys == ["created","id","size","tags"]))'
# shellcheck disable=SC2016 # $a is a jq variable
it_true "?detail=1: the entry of $TA" jqe --arg a "$TA" '[.[] | select(.tags | index($a))] | length == 1
    and (.[0].id | test("^sha256:[0-9a-f]{64}$")) and (.[0].size | type == "number")
    and (.[0].created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
    and (.[0].tags | all(.[]; type == "string"))'
it_req GET '/images?detail=0'
it_true "?detail=0: plain strings" jqe 'all(.[]; type == "string")'
it_req GET '/images?detail=maybe'
it_expect "?detail=maybe: 400 invalid_query" 400 invalid_query
it_req HEAD /images -I
it_expect "HEAD /images: 200" 200

# --- a function whose image is gone --------------------------------------
# A function runs the image id it was pinned to, so its image is gone only
# when that image is: one of its own, whose only tag is removed.
TC="$PFX-c:v1"
IMG_TAGS+=("$TC")
mkdir -p "$IT_TMP/own"
echo "$PFX" >"$IT_TMP/own/marker"
tar -C "$IT_TMP/own" -cf - . | docker import - "$TC" >/dev/null
docker save -o "$IT_TMP/c.tar" "$TC"
it_register fc "$TC"
docker rmi "$TC" >/dev/null
# Each worker reuses a presence answer for up to 2 s: poll, with a deadline.
fc_flag_is() {
    it_req GET /functions/fc
    [ "$IT_STATUS" = 200 ] && [ "$(jq -c '.image_present' <"$IT_BODY")" = "$1" ]
}
it_true "GET /functions/fc after its image was removed: image_present false" \
    ml_wait_for 10 fc_flag_is false
it_req GET /functions
it_true "GET /functions (the list) does no per-record inspect" jqe 'all(.[]; has("image_present") | not)'
upload_raw "$IT_TMP/c.tar"
it_expect "re-upload of $TC: 200" 200
it_true "GET /functions/fc: the flag is gone once the image is back" ml_wait_for 10 fc_flag_is null

# --- bad uploads ---------------------------------------------------------
head -c 300000 /dev/urandom >"$IT_TMP/garbage.bin"
upload_f "$IT_TMP/garbage.bin"
it_expect "garbage bytes (-F): 400 invalid_image" 400 invalid_image
it_true "garbage bytes: the error is Docker's message" jqe '.error | test("tar")'
upload_raw "$IT_TMP/garbage.bin"
it_expect "garbage bytes (raw): 400 invalid_image" 400 invalid_image

: >"$IT_TMP/empty.tar"
upload_f "$IT_TMP/empty.tar"
it_expect "empty file (-F): 400 invalid_image" 400 invalid_image
upload_raw "$IT_TMP/empty.tar"
it_expect "empty body (raw): 400 invalid_image" 400 invalid_image

TT="$PFX-t:v1"
save_image "$TT" "$IT_TMP/t-full.tar"
head -c "$(($(stat -c %s "$IT_TMP/t-full.tar") / 2))" "$IT_TMP/t-full.tar" >"$IT_TMP/t.tar"
upload_f "$IT_TMP/t.tar"
it_expect "truncated tar: 400 invalid_image" 400 invalid_image
it_true "truncated tar: nothing tagged" no_image "$TT"

echo "not an image" >"$IT_TMP/readme.txt"
tar -C "$IT_TMP" -cf "$IT_TMP/nomanifest.tar" readme.txt
upload_f "$IT_TMP/nomanifest.tar"
it_expect "a tar without a manifest: 400 invalid_image" 400 invalid_image

it_req POST /images -F "name=value"
it_expect "missing image field: 400 missing_image_field" 400 missing_image_field
it_req POST /images -F "file=@$IT_TMP/a.tar"
it_expect "wrong field name: 400 missing_image_field" 400 missing_image_field
it_true "wrong field name: the message names the field" jqe '.error | test("\"file\"")'
it_req POST /images -F "image=@$IT_TMP/a.tar" -F "image=@$IT_TMP/b.tar"
it_expect "two image fields: 400 invalid_multipart" 400 invalid_multipart

# A body whose boundary is not the one announced; none announced; a
# delimiter with junk after it; no closing delimiter.
it_req POST /images -H 'Content-Type: multipart/form-data; boundary=not-in-the-body' \
    -F "image=@$IT_TMP/a.tar"
it_expect "bad boundary: 400 invalid_multipart" 400 invalid_multipart
upload_body "multipart/form-data" "$IT_TMP/a.tar"
it_expect "no boundary parameter: 400 invalid_multipart" 400 invalid_multipart
printf -- '--xyz\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n' \
    >"$IT_TMP/form"
cat "$IT_TMP/a.tar" >>"$IT_TMP/form"
cp "$IT_TMP/form" "$IT_TMP/form-junk"
printf -- '\r\n--xyzJUNK\r\n' >>"$IT_TMP/form-junk"
upload_body 'multipart/form-data; boundary="xyz"' "$IT_TMP/form-junk"
it_expect "junk after a boundary: 400 invalid_multipart" 400 invalid_multipart
cp "$IT_TMP/form" "$IT_TMP/form-open"
printf -- '\r\n--xyz\r\n' >>"$IT_TMP/form-open"
upload_body 'multipart/form-data; boundary=xyz' "$IT_TMP/form-open"
it_expect "no closing boundary: 400 invalid_multipart" 400 invalid_multipart
it_true "no closing boundary: the message says so" jqe '.error | test("closing boundary")'
printf -- '\r\n--xyz--\r\n' >>"$IT_TMP/form"
upload_body 'multipart/form-data; boundary=xyz' "$IT_TMP/form"
it_expect "the same form, closed: 200" 200

upload_body application/json "$IT_TMP/a.tar"
it_expect "Content-Type application/json: 415" 415 unsupported_media_type
it_req POST /images --data-binary "@$IT_TMP/a.tar"
it_expect "a form-urlencoded body: 415" 415 unsupported_media_type
it_req POST /images
it_expect "no body, no Content-Type: 415" 415 unsupported_media_type
it_req PUT /images
it_expect "PUT /images: 405" 405 method_not_allowed

# --- a client killed mid-upload ------------------------------------------
TK="$PFX-k:v1"
save_image "$TK" "$IT_TMP/k.tar"
abandoned_before=$(grep -c "image upload: abandoned" "$MINILAMBDA_RUN_DIR/minilambda.log" || true)
curl -s -o /dev/null --limit-rate 100k -F "image=@$IT_TMP/k.tar" "$BASE/images" &
KPID=$!
it_bg "$KPID"
# read_at_least PID KIB: the process has read KIB KiB (curl reads the file
# as the rate limit lets it send).
read_at_least() {
    local kib
    kib=$(awk '/^rchar:/ { print int($2 / 1024) }' "/proc/$1/io" 2>/dev/null || echo 0)
    [ "${kib:-0}" -ge "$2" ]
}
it_true "the slow upload is under way" ml_wait_for 20 read_at_least "$KPID" 300
kill "$KPID"
wait "$KPID" 2>/dev/null || true
abandoned() { [ "$(grep -c "image upload: abandoned" "$MINILAMBDA_RUN_DIR/minilambda.log" || true)" -gt "$abandoned_before" ]; }
it_true "killed client: the worker abandoned the load" ml_wait_for 30 abandoned
it_req GET /healthz
it_expect "killed client: /healthz still 200" 200
it_true "killed client: no image $TK" no_image "$TK"
upload_f "$IT_TMP/a.tar"
it_expect "killed client: uploads still work" 200

# --- metrics ---------------------------------------------------------------
# at_least N SERIES: the last scrape has SERIES >= N.
at_least() { [ "$(it_metric0 "$2")" -ge "$1" ]; }
it_scrape "$IT_METRICS"
it_true "metrics: succeeded uploads counted" \
    at_least 6 'minilambda_image_uploads_total{status="succeeded"}'
it_true "metrics: failed uploads counted" at_least 10 'minilambda_image_uploads_total{status="failed"}'
it_true "metrics: upload bytes counted" at_least $((4 * SIZE_A)) minilambda_image_upload_bytes_total

# --- the size limit --------------------------------------------------------
ml_stop_all
export MINILAMBDA_MAX_IMAGE_BYTES=1048576
it_start limit
# A tiny image (one small file) fits under the limit.
TS="$PFX-s:v1"
IMG_TAGS+=("$TS")
mkdir -p "$IT_TMP/tiny"
echo tiny >"$IT_TMP/tiny/file"
tar -C "$IT_TMP/tiny" -cf - . | docker import - "$TS" >/dev/null
docker save -o "$IT_TMP/s.tar" "$TS"
docker rmi "$TS" >/dev/null
upload_f "$IT_TMP/s.tar"
it_expect "1 MiB limit: a small image still loads" 200
upload_f "$IT_TMP/a.tar"
it_expect "1 MiB limit: a larger image (-F) is 413 JSON (nginx)" 413 payload_too_large
upload_raw "$IT_TMP/a.tar" -H 'Transfer-Encoding: chunked'
it_expect "1 MiB limit: a larger chunked body is 413 JSON" 413 payload_too_large
# nginx's limit raised past the app's: the app's own 413.
ml_stop_nginx
MINILAMBDA_MAX_IMAGE_BYTES=4294967296 ml_start_nginx || {
    echo "Bail out! nginx did not restart"
    exit 1
}
upload_f "$IT_TMP/a.tar"
it_expect "app limit: a body over it (Content-Length) is 413 JSON" 413 payload_too_large
it_true "app limit: the message gives the limit" jqe '.error | test("1048576")'
upload_raw "$IT_TMP/a.tar" -H 'Transfer-Encoding: chunked'
it_expect "app limit: a chunked body over it is 413 JSON" 413 payload_too_large
it_req GET /healthz
it_expect "app limit: still healthy" 200

it_done
