#!/usr/bin/env bash
# Concurrent writers: 8 clients register 100 functions each at the same time
# through nginx while readers keep checking that functions.json (and GET
# /functions) is never torn; then 8 clients race for the same names.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

export MINILAMBDA_WORKERS=4
it_start stack

CLIENTS=8
PER=100
RACE_NAMES=20
STORE=$MINILAMBDA_DATA_DIR/functions.json
RUNNING=$IT_TMP/burst.running

jq_true() { jq -e "$1" "$2" >/dev/null 2>&1; }

# client C PREFIX COUNT: register PREFIX1..PREFIXCOUNT, one status per line
# to $IT_TMP/codes.PREFIX.C (000: no HTTP answer at all).
client() {
    local c=$1 prefix=$2 count=$3 i code
    for ((i = 1; i <= count; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 \
            -H 'Content-Type: application/json' \
            --data-binary "{\"name\":\"$prefix$i\",\"image\":\"busybox\"}" "$BASE/functions") || true
        echo "${code:-000}"
    done >"$IT_TMP/codes.$prefix.$c"
}

# Parse functions.json again and again while $RUNNING exists (bounded).
file_reader() {
    local ok=0 bad=0 n=0
    while [ -e "$RUNNING" ] && [ "$n" -lt 200000 ]; do
        n=$((n + 1))
        if jq -e 'type == "object"' "$STORE" >/dev/null 2>&1; then
            ok=$((ok + 1))
        else
            bad=$((bad + 1))
            cp "$STORE" "$IT_TMP/torn.$bad" 2>/dev/null || true
        fi
    done
    echo "$ok $bad" >"$IT_TMP/file-reader"
}

# GET /functions again and again: always a 200 JSON array whose length
# never goes down (the burst only adds).
http_reader() {
    local ok=0 bad=0 shrank=0 last=0 n=0 code len
    while [ -e "$RUNNING" ] && [ "$n" -lt 100000 ]; do
        n=$((n + 1))
        code=$(curl -s -o "$IT_TMP/list.json" -w '%{http_code}' --max-time 30 "$BASE/functions") || true
        if [ "$code" = 200 ] && len=$(jq -e 'if type == "array" then length else error end' "$IT_TMP/list.json" 2>/dev/null); then
            ok=$((ok + 1))
            [ "$len" -ge "$last" ] || shrank=$((shrank + 1))
            last=$len
        else
            bad=$((bad + 1))
        fi
    done
    echo "$ok $bad $shrank" >"$IT_TMP/http-reader"
}

# functions.json exists (an empty object) before the burst starts.
it_register warmup busybox
it_req DELETE /functions/warmup
it_expect "warm-up function deleted" 204
it_eq "functions.json is empty before the burst" 0 "$(jq length "$STORE")"

# --- the burst ------------------------------------------------------------------
# Wait for these pids only: a bare `wait` would also wait for the pool and
# nginx, which it_start runs in the background of this shell.
touch "$RUNNING"
file_reader &
readers=$!
http_reader &
readers="$readers $!"
start=$SECONDS
clients=""
for c in $(seq 1 "$CLIENTS"); do
    client "$c" "c$c-f" "$PER" &
    clients="$clients $!"
done
for p in $clients; do wait "$p"; done
elapsed=$((SECONDS - start))
rm -f "$RUNNING"
for p in $readers; do wait "$p"; done
echo "# $((CLIENTS * PER)) registrations by $CLIENTS clients in ${elapsed}s"

cat "$IT_TMP"/codes.c*-f.* >"$IT_TMP/codes.all"
it_eq "every client got an answer for every request" $((CLIENTS * PER)) "$(wc -l <"$IT_TMP/codes.all")"
it_eq "every registration got 201" "$((CLIENTS * PER)) 201" "$(sort "$IT_TMP/codes.all" | uniq -c | awk '{print $1, $2}' | paste -sd,)"

it_req GET /functions
it_expect "GET /functions after the burst" 200
it_eq "GET /functions lists exactly $((CLIENTS * PER))" $((CLIENTS * PER)) "$(it_jq length)"
for c in $(seq 1 "$CLIENTS"); do for i in $(seq 1 "$PER"); do echo "c$c-f$i"; done; done | sort >"$IT_TMP/expected"
it_jq '.[].name' | sort >"$IT_TMP/listed"
it_true "GET /functions has exactly the registered names" cmp -s "$IT_TMP/expected" "$IT_TMP/listed"
it_true "the list is oldest first" jq_true '[.[].created_at] | . == sort' "$IT_BODY"

it_true "functions.json is valid JSON" jq_true 'type == "object"' "$STORE"
it_eq "functions.json has exactly $((CLIENTS * PER)) records" $((CLIENTS * PER)) "$(jq length "$STORE")"
jq -r '.[].name' "$STORE" | sort >"$IT_TMP/stored"
it_true "functions.json has exactly the registered names" cmp -s "$IT_TMP/expected" "$IT_TMP/stored"
it_eq "every record is keyed by its own id" 0 "$(jq '[to_entries[] | select(.key != .value.id)] | length' "$STORE")"
it_eq "ids are unique" $((CLIENTS * PER)) "$(jq -r '.[].id' "$STORE" | sort -u | wc -l)"
it_true "no temporary file is left behind" test ! -e "$STORE.tmp"

read -r f_ok f_bad <"$IT_TMP/file-reader"
it_true "the file reader ran during the burst ($f_ok parses)" test "$f_ok" -gt 0
it_eq "functions.json was never torn (invalid parses)" 0 "$f_bad"
read -r h_ok h_bad h_shrank <"$IT_TMP/http-reader"
it_true "the HTTP reader ran during the burst ($h_ok lists)" test "$h_ok" -gt 0
it_eq "GET /functions never failed during the burst" 0 "$h_bad"
it_eq "GET /functions never went backwards during the burst" 0 "$h_shrank"
writers=$(grep 'registered function c' "$MINILAMBDA_RUN_DIR/minilambda.log" | sed -E 's/^[^[]*\[([0-9]+)\].*/\1/' | sort -u | wc -l)
it_true "more than one worker process wrote ($writers)" test "$writers" -ge 2

# --- a race for the same names: exactly one winner each -----------------------------
clients=""
for c in $(seq 1 "$CLIENTS"); do
    client "$c" race- "$RACE_NAMES" &
    clients="$clients $!"
done
for p in $clients; do wait "$p"; done
cat "$IT_TMP"/codes.race-.* >"$IT_TMP/race.all"
it_eq "race: one 201 per name" "$RACE_NAMES" "$(grep -c '^201$' "$IT_TMP/race.all" || true)"
it_eq "race: a 409 for every loser" $(((CLIENTS - 1) * RACE_NAMES)) "$(grep -c '^409$' "$IT_TMP/race.all" || true)"
it_eq "race: one record per name in functions.json" "$RACE_NAMES $RACE_NAMES" \
    "$(jq -r '[.[].name | select(startswith("race-"))] | "\(length) \(unique | length)"' "$STORE")"
not_one=0
for i in $(seq 1 "$RACE_NAMES"); do
    winners=0
    for c in $(seq 1 "$CLIENTS"); do
        [ "$(sed -n "${i}p" "$IT_TMP/codes.race-.$c")" != 201 ] || winners=$((winners + 1))
    done
    [ "$winners" -eq 1 ] || not_one=$((not_one + 1))
done
it_eq "race: no name had zero or several winners" 0 "$not_one"
it_eq "total records after the race" $((CLIENTS * PER + RACE_NAMES)) "$(jq length "$STORE")"

it_done
