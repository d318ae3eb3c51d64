#!/usr/bin/env bash
# The limits a hostile client or function author pushed on, each pushed
# for real: slow uploads (cut with 408, never holding an invocation's
# thread or slot, their own 429 past MINILAMBDA_MAX_UPLOADS); calls past
# MINILAMBDA_MAX_CONCURRENCY (429 at once, however many); a gzip bomb in an
# upload (413, nothing tagged); an image VOLUME (a bounded tmpfs, never an
# anonymous volume on the engine's disk); record size and count; metrics
# slots of deleted functions (reclaimed); the metrics allow list in the app
# itself (a FastCGI request straight to its socket); async fairness across
# functions.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
command -v cgi-fcgi >/dev/null || { echo "Bail out! cgi-fcgi is needed (apt-get install libfcgi-bin)"; exit 1; }
PFX="ml-lim-$$"
IMGS=()
lim_images() { local t; for t in "${IMGS[@]}"; do docker rmi -f "$t" >/dev/null 2>&1 || true; done; }
it_after lim_images

export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=2 MINILAMBDA_MAX_CONCURRENCY=2
export MINILAMBDA_MAX_UPLOADS=2 MINILAMBDA_UPLOAD_MIN_RATE=65536 MINILAMBDA_UPLOAD_RATE_WINDOW=2
# Both trickles come from 127.0.0.1: let one address hold both slots here
# (upload_shares.sh tests the shares).
export MINILAMBDA_UPLOADS_PER_ADDRESS=2
export MINILAMBDA_MAX_IMAGE_UNPACKED_BYTES=$((16 * 1024 * 1024))
export MINILAMBDA_MAX_FUNCTIONS=8 MINILAMBDA_METRICS_SLOTS=4 MINILAMBDA_METRICS_RECLAIM=1
export MINILAMBDA_METRICS_ALLOW=10.1.2.0/24,127.0.0.1 MINILAMBDA_ASYNC_WORKERS=1
it_start limits

# A tar of the busybox image, to upload slowly.
docker save -o "$IT_TMP/busybox.tar" "$IT_BUSYBOX"

# --- slow uploads --------------------------------------------------------------------
# slow_upload N: upload at 1 KB/s in the background; its status goes to
# $IT_TMP/slowN. Refused with 429 (the probe below held a slot for a
# moment), it tries again, as a client would.
slow_upload() {
    local code=000
    for _ in $(seq 1 20); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 1k --max-time 60 \
            -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/busybox.tar" \
            "$BASE/images" 2>/dev/null || true)
        [ "$code" = 429 ] || break
    done
    echo "$code" >"$IT_TMP/slow$1"
}
slow_upload 1 &
it_bg $!
slow_upload 2 &
it_bg $!
# The probe is one byte: admitted, it is refused (400) and gives its slot
# back at once.
uploads_busy() {
    it_req POST /images -H 'Content-Type: application/x-tar' --data-binary x
    [ "$IT_STATUS" = 429 ]
}
it_true "with 2 uploads trickling, a third gets 429 (MINILAMBDA_MAX_UPLOADS=2)" ml_wait_for 10 uploads_busy
it_eq "the 429 says which limit" too_many_uploads "$(it_jq .code)"
it_true "the 429 has Retry-After" test -n "$(it_header Retry-After)"
fn_sh quick 'cat'
t0=$(it_ms)
it_json POST /invoke/quick '{"event":{"while":"uploading"}}'
took=$(($(it_ms) - t0))
it_expect "meanwhile an invocation runs: 200" 200
it_true "meanwhile invocations are not held up (${took} ms)" test "$took" -lt 5000
slow_done() { [ -s "$IT_TMP/slow1" ] && [ -s "$IT_TMP/slow2" ]; }
it_true "the trickling uploads are cut within a few windows" ml_wait_for 30 slow_done
it_eq "a trickle slower than the minimum rate gets 408" "408 408" \
    "$(cat "$IT_TMP/slow1") $(cat "$IT_TMP/slow2")"
it_true "the log says why" grep -q "image upload: abandoned .*slower than the minimum rate" \
    "$MINILAMBDA_RUN_DIR/minilambda.log"
it_req POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/busybox.tar"
it_expect "an upload at full speed still loads" 200

# --- past MAX_CONCURRENCY: 429 at once, however many come --------------------------
fn_sh hold 'sleep 30' '"timeout":60'
hold_bg() { curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' -d '{}' "$BASE/invoke/hold"; }
hold_bg &
it_bg $!
hold_bg &
it_bg $!
holding() { [ "$(it_count_containers "label=minilambda.function=${FID[hold]}" status=running)" = 2 ]; }
it_true "two calls hold both slots" ml_wait_for 30 holding
over() {
    curl -s -o "$IT_TMP/over$1" -w '%{http_code} %{time_total}\n' --max-time 10 \
        -H 'Content-Type: application/json' -d '{}' "$BASE/invoke/quick"
}
for i in 1 2 3 4 5 6 7 8; do over "$i" >"$IT_TMP/over$i.st" & done
wait_overs() { for i in 1 2 3 4 5 6 7 8; do [ -s "$IT_TMP/over$i.st" ] || return 1; done; }
it_true "eight more calls all get an answer" ml_wait_for 20 wait_overs
codes=$(cat "$IT_TMP"/over?.st | cut -d' ' -f1 | sort | uniq -c | tr -s ' ' | paste -sd,)
it_eq "all eight are 429" " 8 429" "$codes"
slowest=$(cat "$IT_TMP"/over?.st | cut -d' ' -f2 | sort -n | tail -1)
it_true "each answered at once, not queued (slowest ${slowest}s)" \
    awk -v t="$slowest" 'BEGIN { exit !(t < 2) }'
it_true "429 carries Retry-After and an id" jq -e '.code == "too_many_requests"' "$IT_TMP/over1"
# Let the held calls go: their containers killed, their slots free again.
docker ps -q --filter "label=minilambda.function=${FID[hold]}" | xargs -r docker kill >/dev/null 2>&1 || true
slots_free() { it_json POST /invoke/quick '{}'; [ "$IT_STATUS" = 200 ]; }
it_true "the slots come back once the held calls end" ml_wait_for 30 slots_free

# --- a gzip bomb -----------------------------------------------------------------------
mkdir -p "$IT_TMP/bomb"
head -c $((64 * 1024 * 1024)) /dev/zero | gzip -1 >"$IT_TMP/bomb/layer.tar.gz"
printf '[{"Config":"config.json","RepoTags":["%s-bomb:v1"],"Layers":["layer.tar.gz"]}]' \
    "$PFX" >"$IT_TMP/bomb/manifest.json"
echo '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' \
    >"$IT_TMP/bomb/config.json"
IMGS+=("$PFX-bomb:v1")
tar -C "$IT_TMP/bomb" -cf "$IT_TMP/bomb.tar" manifest.json config.json layer.tar.gz
it_true "the bomb is small ($(stat -c %s "$IT_TMP/bomb.tar") bytes)" \
    test "$(stat -c %s "$IT_TMP/bomb.tar")" -lt 1048576
it_req POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/bomb.tar"
it_expect "a layer that inflates past the limit: 413 image_too_large" 413 image_too_large
it_true "nothing of it is tagged" bash -c "! docker image inspect '$PFX-bomb:v1' >/dev/null 2>&1"
gzip -c "$IT_TMP/bomb.tar" >"$IT_TMP/bomb.tar.gz"
it_req POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/bomb.tar.gz"
it_expect "the same, the whole upload gzipped: 413 image_too_large" 413 image_too_large

# --- an image VOLUME -----------------------------------------------------------------
V="$PFX-vol:v1"
IMGS+=("$V")
cid=$(docker create "$IT_BUSYBOX" true)
docker commit --change 'VOLUME ["/data"]' "$cid" "$V" >/dev/null
docker rm "$cid" >/dev/null
volumes_before=$(docker volume ls -q | wc -l)
fn vol "$V" '"command":["sh","-c","echo small > /data/f && cat /data/f && dd if=/dev/zero of=/data/big bs=1M count=200 2>&1; echo end"],"memory_mb":512'
it_json POST /invoke/vol '{}'
it_expect "a function whose image declares a VOLUME runs" 200
it_true "it can write a little there (as nobody)" grep -q '^small' <<<"$(it_jq .result)"
it_true "but not past the tmpfs bound ($(it_jq .result | tr '\n' ' ' | head -c 200))" \
    grep -q "No space left on device" <<<"$(it_jq .result)"
it_eq "and no anonymous volume was made" "$volumes_before" "$(docker volume ls -q | wc -l)"

# --- records: size and count ---------------------------------------------------------
big=$(head -c 30000 /dev/zero | tr '\0' a)
it_json POST /functions "{\"name\":\"big\",\"image\":\"$IT_BUSYBOX\",\"command\":[\"$big\",\"$big\",\"$big\"]}"
it_expect "a record past 64 KiB: 413 record_too_large" 413 record_too_large
env129=$(jq -cn '[range(129)] | map({key: "V\(.)", value: "x"}) | from_entries')
it_json POST /functions "{\"name\":\"env129\",\"image\":\"$IT_BUSYBOX\",\"env\":$env129}"
it_expect "129 env keys: 400 invalid_env" 400 invalid_env
long=$(head -c 4097 /dev/zero | tr '\0' b)
it_json POST /functions "{\"name\":\"envlong\",\"image\":\"$IT_BUSYBOX\",\"env\":{\"A\":\"$long\"}}"
it_expect "an env value of 4097 bytes: 400 invalid_env" 400 invalid_env
n=0
while :; do
    it_json POST /functions "{\"name\":\"fill$n\",\"image\":\"$IT_BUSYBOX\"}"
    [ "$IT_STATUS" = 201 ] || break
    n=$((n + 1))
    [ "$n" -lt 20 ] || break
done
it_expect "past MINILAMBDA_MAX_FUNCTIONS=8: 409 too_many_functions" 409 too_many_functions
it_req GET /functions
it_eq "8 functions are kept" 8 "$(it_jq length)"
for i in $(seq 0 $((n - 1))); do it_req DELETE "/functions/fill$i"; done

# --- metrics slots of deleted functions come back ------------------------------------
# Four slots (MINILAMBDA_METRICS_SLOTS=4), some taken above; each cycle makes
# a function, invokes it, deletes it. Without reclaiming, the fifth new
# function would count as _overflow for good.
for i in 1 2 3 4 5 6; do
    fn_sh "cyc$i" 'cat'
    it_json POST "/invoke/cyc$i" '{}'
    it_req DELETE "/functions/cyc$i"
    unset "FID[cyc$i]"
done
fn_sh fresh 'cat'
fresh_counted() {
    it_json POST /invoke/fresh '{}'
    it_scrape "$IT_METRICS"
    [ -n "$(it_metric 'Total_Invocations{function="fresh"}')" ]
}
it_true "after the reclaim period a new function gets its own series" ml_wait_for 15 fresh_counted

# --- the metrics allow list, in the app itself ---------------------------------------
# fcgi ADDR PATH: a FastCGI GET straight to the control socket, as from ADDR.
fcgi() {
    env -i REQUEST_METHOD=GET REQUEST_URI="$2" SCRIPT_NAME="$2" QUERY_STRING= REMOTE_ADDR="$1" \
        SERVER_PROTOCOL=HTTP/1.1 cgi-fcgi -bind -connect "$MINILAMBDA_RUN_DIR/minilambda.sock" |
        sed -n 's/^Status: \([0-9]*\).*/\1/p'
}
it_eq "an allowed address reads /metrics" 200 "$(fcgi 10.1.2.7 /metrics)"
it_eq "another address gets 403, even past nginx" 403 "$(fcgi 10.9.9.9 /metrics)"
it_eq "and for /metrics/" 403 "$(fcgi 10.9.9.9 /metrics/)"
it_eq "and for /metrics?x" 403 "$(fcgi 10.9.9.9 '/metrics?x')"
it_eq "and for an absolute URI" 403 "$(fcgi 10.9.9.9 'http://h/metrics')"
it_req HEAD /metrics -I
it_expect "HEAD /metrics from loopback (allowed): 200" 200

# --- async fairness across functions --------------------------------------------------
fn_sh flood 'sleep 0.3; cat'
fn_sh other 'cat'
flood_ids=()
for i in $(seq 1 10); do
    it_async flood '{"event":{}}'
    flood_ids+=("$IT_INV")
done
it_async other '{"event":{}}'
OTHER=$IT_INV
it_true "the other function's run completes" it_inv_wait 60 "$OTHER" COMPLETED
# Fair: once the other run is queued, the executor takes it next; only a
# flood run already claimed may start after it was accepted and before it.
other_queued=$(it_inv_field "$OTHER" .created_at)
other_started=$(it_inv_field "$OTHER" .started_at)
jumped=0
for id in "${flood_ids[@]}"; do
    s=$(it_inv_field "$id" '.started_at // "9999"')
    [[ "$s" > "$other_queued" && "$s" < "$other_started" ]] && jumped=$((jumped + 1))
done
it_true "flood runs queued before it did not all go first ($jumped started after it was queued)" \
    test "$jumped" -le 1

it_no_containers_left
it_done
