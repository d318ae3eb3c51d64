#!/usr/bin/env bash
# The gate's limits, exact for whom they count: failed key checks per
# client address (a valid key is never refused by them; X-Forwarded-For
# names the client only when MINILAMBDA_TRUSTED_PROXIES lists the peer),
# and a key's rate per key (no two keys share a bucket). Clients come from
# distinct loopback addresses (curl --interface within 127/8).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

export MINILAMBDA_AUTH=on MINILAMBDA_AUTH_FAILURES=20 MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=2
export MINILAMBDA_CONTROL_THREADS=2 MINILAMBDA_TRUSTED_PROXIES="127.0.0.3, 10.9.0.0/16"
it_start limiter
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")

# from ADDR KEY [curl args...]: GET /functions from source address ADDR
# with bearer KEY.
from() {
    local addr=$1 key=$2
    shift 2
    it_req GET /functions --interface "$addr" -H "Authorization: Bearer $key" "$@"
}
# fail_from N ADDR [curl args...]: N requests with an unknown key; FAILED
# is their statuses, counted ("20x401 1x429").
fail_from() {
    local n=$1 addr=$2 i out=""
    shift 2
    for ((i = 0; i < n; i++)); do
        from "$addr" mlk_wrong "$@"
        out+="$IT_STATUS"$'\n'
    done
    FAILED=$(printf '%s' "$out" | sort | uniq -c |
        awk '{printf "%s%sx%s", (NR > 1 ? " " : ""), $1, $2}')
}

# --- rates: one bucket per key ------------------------------------------------------------------
# The slot of a key id in the 4096 hashed buckets the rates had (FNV-1a,
# 64 bits): make keys until two share one, so the test means something on
# the hashed table.
fnv_slot() {
    local s=$1 h=1469598103934665603 i c
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(((h ^ c) * 1099511628211))
    done
    echo $((h & 4095))
}
declare -A SLOT_KEY=()
KA="" KB=""
n=0
while [ -z "$KB" ] && [ "$n" -lt 400 ]; do
    n=$((n + 1))
    it_req POST /keys -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        -d "{\"name\":\"r$n\",\"scopes\":[\"read\"],\"rate\":1}"
    [ "$IT_STATUS" = 201 ] || { echo "Bail out! POST /keys: $IT_STATUS"; exit 1; }
    slot=$(fnv_slot "$(it_jq .id)")
    if [ -n "${SLOT_KEY[$slot]:-}" ]; then
        KA=${SLOT_KEY[$slot]}
        KB=$(it_jq .key)
    else
        SLOT_KEY[$slot]=$(it_jq .key)
    fi
done
it_true "two keys whose ids hash to one of 4096 slots (after $n keys)" test -n "$KB"
from 127.0.0.1 "$KA"
a1=$IT_STATUS
from 127.0.0.1 "$KA"
it_eq "key A at rate 1/s: 200, then 429 rate_limited" "200 429 rate_limited" \
    "$a1 $IT_STATUS $(it_jq .code)"
from 127.0.0.1 "$KB"
it_expect "key B's first request, right after A's burst: 200" 200
from 127.0.0.1 "$KB"
it_expect "key B's second at once: 429 (its own bucket)" 429 rate_limited


# The failure counts are per wall-clock minute: start where the rest of
# this one holds the whole sequence.
minute_has_room() { [ $(($(date +%s) % 60)) -lt 40 ]; }
ml_wait_for 45 minute_has_room || true

# --- failed keys: per exact address, never a valid key ----------------------------------
# 127.0.11.225 and 127.0.0.1 shared one of the 4096 hashed buckets.
fail_from 21 127.0.11.225
it_eq "21 unknown keys from 127.0.11.225: 20 are 401, then 429" "20x401 1x429" "$FAILED"
it_expect "... the last one: 429 too_many_failures" 429 too_many_failures
from 127.0.0.1 "$ADMIN"
it_expect "the admin key from 127.0.0.1 is served: 200" 200
from 127.0.0.1 mlk_wrong
it_expect "an unknown key from 127.0.0.1 is still only 401 (its own count)" 401 unauthorized
from 127.0.11.225 "$ADMIN"
it_expect "a valid key from the failing address itself is served: 200" 200
from 127.0.11.225 mlk_wrong
it_expect "an unknown key from it: 429" 429 too_many_failures
it_req GET /functions --interface 127.0.11.225
it_expect "no key from it: 429" 429 too_many_failures
it_true "429 carries Retry-After ($(it_header Retry-After))" test "$(it_header Retry-After)" -ge 1

# --- X-Forwarded-For, only from a trusted proxy -------------------------------------------
fail_from 21 127.0.0.3 -H 'X-Forwarded-For: 198.51.100.7'
it_eq "through trusted proxy 127.0.0.3, client 198.51.100.7: 20x401 then 429" "20x401 1x429" \
    "$FAILED"
from 127.0.0.3 mlk_wrong -H 'X-Forwarded-For: 198.51.100.8'
it_expect "another client behind the same proxy: 401, not locked out" 401 unauthorized
from 127.0.0.3 mlk_wrong -H 'X-Forwarded-For: 203.0.113.1, 198.51.100.7'
it_expect "the hop the proxy appended counts, not one the client wrote before it: 429" 429 \
    too_many_failures
from 127.0.0.3 mlk_wrong -H 'X-Forwarded-For: 198.51.100.7, 10.9.1.1'
it_expect "a chain of trusted proxies is walked to the client: 429" 429 too_many_failures
from 127.0.0.3 mlk_wrong
it_expect "the proxy's own request, no header: its own count, 401" 401 unauthorized
from 127.0.0.3 "$ADMIN" -H 'X-Forwarded-For: 198.51.100.7'
it_expect "a valid key from the locked-out client behind it: 200" 200
fail_from 21 127.0.0.4 -H 'X-Forwarded-For: 198.51.100.9'
it_eq "an untrusted peer 127.0.0.4 naming 198.51.100.9: counted as itself, 429 at 21" \
    "20x401 1x429" "$FAILED"
from 127.0.0.4 mlk_wrong -H 'X-Forwarded-For: 198.51.100.10'
it_expect "... and naming another client does not get it out: 429" 429 too_many_failures
from 127.0.0.3 mlk_wrong -H 'X-Forwarded-For: 198.51.100.9'
it_expect "198.51.100.9 through the trusted proxy was never counted: 401" 401 unauthorized

it_done
