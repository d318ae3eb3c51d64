#!/usr/bin/env bash
# A worker killed with SIGKILL in the middle of a registration burst: the
# store stays valid, no 201 is lost, failed requests get nginx's JSON 502
# (never a 201 that is missing), and the master respawns the worker.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

export MINILAMBDA_WORKERS=3
it_start stack

CLIENTS=4
PER=100
KILL_AFTER=80 # kill once this many registrations have succeeded
STORE=$MINILAMBDA_DATA_DIR/functions.json
LOG=$MINILAMBDA_RUN_DIR/minilambda.log

jq_true() { jq -e "$1" "$2" >/dev/null 2>&1; }
# Only the FastCGI workers: it_workers also lists the async executors.
worker_count() { it_fcgi_workers | wc -l; }
created_so_far() { cat "$IT_TMP"/results.* 2>/dev/null | grep -c ' 201 ' || true; }
at_least_created() { [ "$(created_so_far)" -ge "$1" ]; }
# workers_back OLD_PIDS VICTIM: the full count again, the victim gone and a
# pid that was not there before.
workers_back() {
    local now
    now=$(it_fcgi_workers)
    [ "$(echo "$now" | grep -c .)" -eq "$MINILAMBDA_WORKERS" ] || return 1
    ! echo "$now" | grep -qx "$2" || return 1
    [ -n "$(comm -13 <(echo "$1" | sort) <(echo "$now" | sort))" ]
}

# client C: register c<C>-f1..PER; one line per request: "NAME STATUS JSON"
# where JSON says whether a non-201 body was a JSON error envelope.
client() {
    local c=$1 i name code kind
    for ((i = 1; i <= PER; i++)); do
        name=c$c-f$i
        code=$(curl -s -o "$IT_TMP/resp.$c" -w '%{http_code}' --max-time 60 \
            -H 'Content-Type: application/json' \
            --data-binary "{\"name\":\"$name\",\"image\":\"busybox\"}" "$BASE/functions") || true
        kind=html
        ! jq -e '(.error | type == "string") and (.code | type == "string")' "$IT_TMP/resp.$c" >/dev/null 2>&1 || kind=json
        [ "${code:-000}" != 201 ] || kind=record
        echo "$name ${code:-000} $kind" >>"$IT_TMP/results.$c"
    done
}

it_eq "the pool runs $MINILAMBDA_WORKERS workers" "$MINILAMBDA_WORKERS" "$(worker_count)"
OLD_WORKERS=$(it_fcgi_workers)
POOL=$(it_pool_pid)

# --- the burst, and a SIGKILL in the middle of it --------------------------------
# Wait for these pids only: it_start runs the pool and nginx in the background
# of this shell too.
clients=""
for c in $(seq 1 "$CLIENTS"); do
    client "$c" &
    clients="$clients $!"
done
it_true "the burst got going ($KILL_AFTER registrations)" ml_wait_for 60 at_least_created "$KILL_AFTER"
# The victim: the worker that logged the latest registration, so it is busy
# with the burst; any worker if that one cannot be told.
victim=$(grep 'registered function' "$LOG" | tail -1 | sed -E 's/^[^[]*\[([0-9]+)\].*/\1/')
echo "$OLD_WORKERS" | grep -qx "$victim" || victim=$(echo "$OLD_WORKERS" | head -1)
done_at_kill=$(created_so_far)
kill -9 "$victim"
echo "# killed worker $victim after $done_at_kill registrations"
for p in $clients; do wait "$p"; done

# --- the master respawned it -----------------------------------------------------
it_true "the worker count is back to $MINILAMBDA_WORKERS with a new pid" ml_wait_for 30 workers_back "$OLD_WORKERS" "$victim"
it_true "the victim is gone" ml_not_running "$victim"
it_eq "the master is the same process" "$POOL" "$(it_pool_pid)"
it_true "the master logged the SIGKILL" grep -q "(pid $victim) killed by signal 9" "$LOG"
echo "# workers now: $(it_fcgi_workers | paste -sd' ')"

# --- the store ---------------------------------------------------------------------
cat "$IT_TMP"/results.* >"$IT_TMP/results"
it_eq "every request was answered and recorded" $((CLIENTS * PER)) "$(wc -l <"$IT_TMP/results")"
echo "# statuses: $(awk '{print $2}' "$IT_TMP/results" | sort | uniq -c | awk '{print $2 "x" $1}' | paste -sd' ')"
it_true "requests kept succeeding after the kill" test "$(created_so_far)" -gt "$done_at_kill"
it_eq "every status is 201 or 502" "" "$(awk '$2 != 201 && $2 != 502' "$IT_TMP/results" | head -5 | paste -sd';')"
it_eq "every failure had a JSON error body" "" "$(awk '$2 != 201 && $3 != "json"' "$IT_TMP/results" | head -5 | paste -sd';')"
it_true "functions.json is valid JSON" jq_true 'type == "object"' "$STORE"
awk '$2 == 201 {print $1}' "$IT_TMP/results" | sort >"$IT_TMP/created"
jq -r '.[].name' "$STORE" | sort >"$IT_TMP/stored"
it_eq "every 201 is in functions.json (missing ones)" "" "$(comm -23 "$IT_TMP/created" "$IT_TMP/stored" | head -5 | paste -sd' ')"
it_eq "functions.json holds only names of the burst" "" \
    "$(comm -13 <(for c in $(seq 1 "$CLIENTS"); do for i in $(seq 1 "$PER"); do echo "c$c-f$i"; done; done | sort) "$IT_TMP/stored" | head -5 | paste -sd' ')"
it_eq "names are unique in functions.json" "$(wc -l <"$IT_TMP/stored")" "$(sort -u "$IT_TMP/stored" | wc -l)"
it_req GET /functions
it_expect "GET /functions after the crash" 200
it_eq "GET /functions agrees with functions.json" "$(jq length "$STORE")" "$(it_jq length)"

# A registration that failed with 502 is all there or not there at all:
# registering it again gives 409 exactly when the record exists, else 201.
inconsistent=0
while read -r name _ _; do
    present=0
    ! grep -qx "$name" "$IT_TMP/stored" || present=1
    it_json POST /functions "{\"name\":\"$name\",\"image\":\"busybox\"}"
    if { [ "$present" = 1 ] && [ "$IT_STATUS" != 409 ]; } || { [ "$present" = 0 ] && [ "$IT_STATUS" != 201 ]; }; then
        inconsistent=$((inconsistent + 1))
        echo "# $name: present=$present, re-registration got $IT_STATUS"
    fi
done < <(awk '$2 == 502' "$IT_TMP/results")
it_eq "every 502'd registration is consistent (all there or absent)" 0 "$inconsistent"

# --- the pool still works -----------------------------------------------------------
it_json POST /functions '{"name":"after-crash","image":"busybox"}'
it_expect "registering after the crash works" 201
it_true "functions.json is valid JSON at the end" jq_true 'type == "object"' "$STORE"

it_done
