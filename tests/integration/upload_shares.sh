#!/usr/bin/env bash
# Upload slots are shared out: with MINILAMBDA_MAX_UPLOADS=2, a key that
# holds a trickling upload cannot take the second slot while another key
# can; and one client address cannot hold more than
# MINILAMBDA_UPLOADS_PER_ADDRESS (by default half the slots) while another
# address still gets one.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
# No minimum rate: a trickle holds its slot until it is killed.
export MINILAMBDA_MAX_UPLOADS=2 MINILAMBDA_UPLOAD_MIN_RATE=0 MINILAMBDA_WORKERS=2
export MINILAMBDA_AUTH=on MINILAMBDA_UPLOADS_PER_ADDRESS=2
it_start keys
docker save -o "$IT_TMP/busybox.tar" "$IT_BUSYBOX"
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")

# newkey NAME: a deploy key's secret.
newkey() {
    it_json POST /keys "{\"name\":\"$1\",\"scopes\":[\"deploy\"]}" -H "Authorization: Bearer $ADMIN"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys: $IT_STATUS $(cat "$IT_BODY")"; exit 1; }
    it_jq .key
}
KA=$(newkey a)
KB=$(newkey b)

# trickle OUT [curl args...]: upload the tar at 512 B/s in the background
# (the loop's pid in TRICKLE, its curl's in OUT.pid); its status goes to
# OUT. Refused with 429 (a probe below held the slot for a moment), it
# tries again, as a client would.
trickle_loop() {
    local out=$1 code=000
    shift
    for _ in $(seq 1 50); do
        curl -s -o /dev/null -w '%{http_code}' --limit-rate 512 --max-time 120 "$@" \
            -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/busybox.tar" \
            "$BASE/images" >"$out.try" 2>/dev/null &
        echo $! >"$out.pid"
        wait $! || true
        code=$(cat "$out.try")
        [ "$code" = 429 ] || break
    done
    echo "$code" >"$out"
}
trickle() {
    TRICKLE_OUT=$1
    trickle_loop "$@" &
    TRICKLE=$!
    it_bg "$TRICKLE"
}
# probe [curl args...]: a one-byte upload; admitted, it is refused (400)
# and gives its slot back at once.
probe() { it_req POST /images -H 'Content-Type: application/x-tar' --data-binary x "$@"; }
refused() {
    probe "$@"
    [ "$IT_STATUS" = 429 ]
}
# stop_trickle: stop the trickle's loop, then its curl.
stop_trickle() {
    kill "$TRICKLE" 2>/dev/null || true
    wait "$TRICKLE" 2>/dev/null || true
    kill "$(cat "$TRICKLE_OUT.pid")" 2>/dev/null || true
}

# --- a key's share -------------------------------------------------------------
trickle "$IT_TMP/a.code" -H "Authorization: Bearer $KA"
it_true "key A trickling one upload: its second gets 429" \
    ml_wait_for 20 refused -H "Authorization: Bearer $KA"
it_eq "the 429 says which limit" too_many_uploads "$(it_jq .code)"
it_true "and that it is the key's share" grep -q "this key holds 1 of the 2 upload slots" "$IT_BODY"
it_true "with Retry-After" test -n "$(it_header Retry-After)"
probe -H "Authorization: Bearer $KB"
it_expect "key B meanwhile is admitted (its one byte is no tar: 400)" 400
it_req POST /images -H "Authorization: Bearer $KB" -H 'Content-Type: application/x-tar' \
    --data-binary "@$IT_TMP/busybox.tar"
it_expect "key B's whole upload loads meanwhile" 200
it_true "key A is still refused" refused -H "Authorization: Bearer $KA"
it_true "key A's trickle is still going" test ! -s "$IT_TMP/a.code"
stop_trickle
admitted_a() { ! refused -H "Authorization: Bearer $KA"; }
it_true "once its trickle is gone, key A is admitted again" ml_wait_for 20 admitted_a

# --- an address's share (the default: half of 2, one) ----------------------------
ml_stop_all
unset MINILAMBDA_UPLOADS_PER_ADDRESS
export MINILAMBDA_AUTH=off
it_start addresses
trickle "$IT_TMP/one.code"
it_true "127.0.0.1 trickling one upload: its second gets 429" ml_wait_for 20 refused
it_true "and that it is the address's share" grep -q "this address holds 1 uploads" "$IT_BODY"
probe --interface 127.0.0.2
it_expect "127.0.0.2 meanwhile is admitted (400 for its one byte)" 400
stop_trickle
admitted_one() { ! refused; }
it_true "once the trickle is gone, 127.0.0.1 is admitted again" ml_wait_for 20 admitted_one

it_done
