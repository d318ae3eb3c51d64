#!/usr/bin/env bash
# GET /metrics end to end, through nginx as Prometheus sees it:
#  (a) exact counts across 2 worker processes: N concurrent invocations
#      raise Total_Invocations, _count, +Inf and the status counters by
#      exactly N, every bucket and _sum match the durations the invocations
#      reported, in-flight is back to 0; failures and timeouts count under
#      their own status;
#  (b) a SIGKILLed worker is respawned and no count is lost;
#  (c) `promtool check metrics` parses the exposition (and of its lint rules
#      only the two that the contract's own names break are tolerated);
#  (d) a real Prometheus scraping every second agrees with what was invoked,
#      and histogram_quantile over the duration histogram falls inside the
#      buckets of the observed durations;
#  (e) MINILAMBDA_METRICS_ALLOW: 403 with a JSON body from outside the
#      list, 200 from inside it, the API unaffected; a rejected (429)
#      invocation is counted, but not in Total_Invocations.
# Each stack has its own shared-memory segment, removed when it stops.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for tool in promtool prometheus; do
    command -v "$tool" >/dev/null || { echo "Bail out! $tool is needed (apt-get install prometheus)"; exit 1; }
done
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

N=20 # concurrent invocations in (a)
PROM_PID=""
PROM_DIR="$IT_TMP/prometheus"
PROM_BASE=""

prom_stop() {
    [ -n "$PROM_PID" ] || return 0
    kill -TERM "$PROM_PID" 2>/dev/null || true
    ml_wait_for 30 ml_not_running "$PROM_PID" || kill -KILL "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
    PROM_PID=""
}

# Prometheus first (it scrapes the stack), then the harness's clean-up,
# which reads the exit status from $?.
metrics_cleanup() {
    local rc=$?
    set +e
    if [ -n "$PROM_PID" ] && { [ "$rc" -ne 0 ] || [ "$IT_FAIL" -gt 0 ]; }; then
        echo "# last lines of the Prometheus log:"
        tail -n 10 "$PROM_DIR/prometheus.log" 2>/dev/null | sed 's/^/#   /'
    fi
    prom_stop
    (exit "$rc")
    it_cleanup
}
trap metrics_cleanup EXIT


LES=(10 110 210 310 410 510 610 710 810 910 +Inf)

# Series names for function $1.
s_total() { echo "Total_Invocations{function=\"$1\"}"; }
s_bucket() { echo "Invocation_Duration_ms_bucket{function=\"$1\",le=\"$2\"}"; }
s_sum() { echo "Invocation_Duration_ms_sum{function=\"$1\"}"; }
s_count() { echo "Invocation_Duration_ms_count{function=\"$1\"}"; }
s_status() { echo "minilambda_invocations_total{function=\"$1\",status=\"$2\"}"; }
s_flight() { echo "minilambda_invocations_in_flight{function=\"$1\"}"; }
s_http() { echo "minilambda_http_requests_total{route=\"$1\",code=\"$2\"}"; }

# m SERIES [FILE]: the value in a scrape, 0 when the series is absent.
m() { it_metric0 "$@"; }

# statuses_sum FUNCTION [FILE]: minilambda_invocations_total over every status.
statuses_sum() {
    local st total=0 v
    for st in succeeded failed timeout rejected error; do
        v=$(m "$(s_status "$1" "$st")" "${2:-$IT_METRICS}")
        total=$((total + v))
    done
    echo "$total"
}

# cumulative LE DURATIONS_FILE: how many durations (ms, one a line) are <= LE.
cumulative() {
    awk -v le="$1" '$1 != "" { if (le == "+Inf" || $1 + 0 <= le + 0) n++ } END { print n + 0 }' "$2"
}

# num_eq A B: numerically equal to the exposition's 3 decimals.
num_eq() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 0.0005 && d > -0.0005) }'; }

# invoke_bg I FUNCTION: one invocation in the background, its body in
# $IT_TMP/inv.I and its HTTP status in $IT_TMP/inv.I.code.
invoke_bg() {
    curl -s -o "$IT_TMP/inv.$1" -w '%{http_code}' --max-time 120 \
        -H 'Content-Type: application/json' --data-binary "{\"event\":{\"i\":$1}}" \
        "$BASE/invoke/$2" >"$IT_TMP/inv.$1.code" 2>/dev/null || true
}

# ================================================================ stack 1
export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=16
unset MINILAMBDA_MAX_CONCURRENCY MINILAMBDA_METRICS_ALLOW
export MINILAMBDA_METRICS_SHM="/ml-it-metrics-$$-main"
SHM_FILE="/dev/shm/${MINILAMBDA_METRICS_SHM#/}"
it_start main
it_true "the stack's segment $MINILAMBDA_METRICS_SHM exists" test -f "$SHM_FILE"

# --- an empty table --------------------------------------------------------
it_scrape
it_expect "GET /metrics: 200" 200
ct=$(it_header Content-Type)
it_true "content type is the text format 0.0.4 ($ct)" \
    grep -q '^text/plain; version=0.0.4' <<<"$ct"
it_eq "no function series before any invocation" 0 "$(grep -c 'function=' "$IT_METRICS" || true)"
for fam in Total_Invocations:counter Invocation_Duration_ms:histogram \
    minilambda_invocations_total:counter minilambda_invocations_in_flight:gauge \
    minilambda_async_queue_depth:gauge minilambda_functions:gauge \
    minilambda_http_requests_total:counter process_start_time_seconds:gauge; do
    it_eq "one TYPE line for ${fam%%:*} (${fam#*:})" 1 \
        "$(grep -cx "# TYPE ${fam%%:*} ${fam#*:}" "$IT_METRICS" || true)"
done
it_eq "minilambda_functions 0" 0 "$(it_metric minilambda_functions)"
it_eq "minilambda_async_queue_depth 0" 0 "$(it_metric minilambda_async_queue_depth)"
start_time=$(it_metric process_start_time_seconds)
now=$(date +%s)
it_true "process_start_time_seconds is recent ($start_time, now $now)" \
    test "${start_time:-0}" -le "$now" -a "${start_time:-0}" -ge "$((now - 120))"

F=mcat
fn_sh "$F" 'cat'
fn_sh mfail 'cat >/dev/null; echo boom >&2; exit 3'
fn_sh mslow 'sleep 30' '"timeout":1'

it_scrape
it_eq "minilambda_functions counts the 3 registered" 3 "$(it_metric minilambda_functions)"

# --- (a) exact counts across processes ---------------------------------------
it_json POST "/invoke/$F" '{"event":{"warm":true}}'
it_expect "warm-up invocation: 200" 200
it_scrape "$IT_TMP/m.before"
it_eq "the warm-up counted once" 1 "$(m "$(s_total "$F")" "$IT_TMP/m.before")"

pids=()
for i in $(seq 1 "$N"); do
    invoke_bg "$i" "$F" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done

ok=0
: >"$IT_TMP/durations.a"
for i in $(seq 1 "$N"); do
    if [ "$(cat "$IT_TMP/inv.$i.code")" = 200 ]; then ok=$((ok + 1)); fi
    jq -r '.duration // empty' "$IT_TMP/inv.$i" >>"$IT_TMP/durations.a" 2>/dev/null || true
done
it_eq "all $N concurrent invocations answered 200" "$N" "$ok"
it_eq "every invocation reported its duration" "$N" "$(grep -c . "$IT_TMP/durations.a" || true)"

it_scrape "$IT_TMP/m.after"
B="$IT_TMP/m.before" A="$IT_TMP/m.after"
delta() { echo $(($(m "$1" "$A") - $(m "$1" "$B"))); }
it_eq "Total_Invocations rose by exactly $N" "$N" "$(delta "$(s_total "$F")")"
it_eq "_count rose by exactly $N" "$N" "$(delta "$(s_count "$F")")"
it_eq "le=+Inf rose by exactly $N" "$N" "$(delta "$(s_bucket "$F" +Inf)")"
it_eq "succeeded rose by exactly $N" "$N" "$(delta "$(s_status "$F" succeeded)")"
it_eq "statuses sum to Total_Invocations (all $((N + 1)))" "$((N + 1))" "$(statuses_sum "$F" "$A")"
it_eq "_count equals Total_Invocations" "$(m "$(s_total "$F")" "$A")" "$(m "$(s_count "$F")" "$A")"
it_eq "in-flight is 0 afterwards" 0 "$(it_metric "$(s_flight "$F")" "$A")"
bad_buckets=""
for le in "${LES[@]}"; do
    want=$(cumulative "$le" "$IT_TMP/durations.a")
    got=$(delta "$(s_bucket "$F" "$le")")
    [ "$want" = "$got" ] || bad_buckets+=" le=$le:want=$want,got=$got"
done
it_eq "every bucket rose by the durations the invocations reported" "" "$bad_buckets"
sum_d=$(awk '{ s += $1 } END { print s + 0 }' "$IT_TMP/durations.a")
sum_delta=$(awk -v a="$(m "$(s_sum "$F")" "$A")" -v b="$(m "$(s_sum "$F")" "$B")" 'BEGIN { printf "%.3f", a - b }')
it_true "_sum rose by the sum of the reported durations ($sum_d ms, got $sum_delta)" \
    num_eq "$sum_d" "$sum_delta"
it_eq "http counter: /invoke/{ref} 200 rose by exactly $N" "$N" \
    "$(delta "$(s_http '/invoke/{ref}' 200)")"
prev=-1 mono=yes
for le in "${LES[@]}"; do
    v=$(m "$(s_bucket "$F" "$le")" "$A")
    [ "$v" -ge "$prev" ] || mono=no
    prev=$v
done
it_eq "buckets are cumulative (never decreasing)" yes "$mono"

# Failed and timed-out invocations: counted, each under its status.
it_json POST /invoke/mfail '{"event":{}}'
it_expect "mfail: 502" 502
it_json POST /invoke/mslow '{"event":{}}'
it_expect "mslow: 504 (timeout)" 504
slow_ms=$(it_jq .duration)
it_scrape
it_eq "mfail: Total_Invocations 1" 1 "$(it_metric "$(s_total mfail)")"
it_eq "mfail: status failed 1" 1 "$(it_metric "$(s_status mfail failed)")"
it_eq "mfail: status succeeded 0" 0 "$(it_metric "$(s_status mfail succeeded)")"
it_eq "mslow: Total_Invocations 1" 1 "$(it_metric "$(s_total mslow)")"
it_eq "mslow: status timeout 1" 1 "$(it_metric "$(s_status mslow timeout)")"
it_eq "mslow: _count 1" 1 "$(it_metric "$(s_count mslow)")"
it_eq "mslow: its ${slow_ms} ms land in the bucket they belong to" \
    "$(cumulative 910 <(echo "$slow_ms"))" "$(it_metric "$(s_bucket mslow 910)")"
it_eq "mslow: le=+Inf 1" 1 "$(it_metric "$(s_bucket mslow +Inf)")"
it_eq "http counter: /invoke/{ref} 502 is 1" 1 "$(it_metric "$(s_http '/invoke/{ref}' 502)")"
it_eq "http counter: /invoke/{ref} 504 is 1" 1 "$(it_metric "$(s_http '/invoke/{ref}' 504)")"

# --- (b) a SIGKILLed worker: respawned, and no count is lost -----------------
it_scrape "$IT_TMP/m.prekill"
grep 'function=' "$IT_TMP/m.prekill" >"$IT_TMP/f.prekill"
# The FastCGI workers only: the pool's other children (async executors)
# are not what this is about.
mapfile -t workers < <(it_fcgi_workers)
it_eq "the pool has $MINILAMBDA_WORKERS workers" "$MINILAMBDA_WORKERS" "${#workers[@]}"
victim=${workers[0]}
kill -KILL "$victim"
respawned() {
    local now
    now=$(it_fcgi_workers)
    [ "$(grep -c . <<<"$now")" -eq "${#workers[@]}" ] && ! grep -qx "$victim" <<<"$now"
}
it_true "worker $victim was SIGKILLed and a new one took its place" ml_wait_for 30 respawned
it_scrape "$IT_TMP/m.postkill"
it_expect "GET /metrics after the respawn: 200" 200
grep 'function=' "$IT_TMP/m.postkill" >"$IT_TMP/f.postkill" || true
it_eq "every function series is unchanged by the crash" "" \
    "$(diff "$IT_TMP/f.prekill" "$IT_TMP/f.postkill" | head -5)"
it_eq "process_start_time_seconds is unchanged (the pool's, not a worker's)" "$start_time" \
    "$(it_metric process_start_time_seconds "$IT_TMP/m.postkill")"
before=$(m "$(s_total "$F")" "$IT_TMP/m.postkill")
ok=0
for i in 1 2 3 4; do
    it_json POST "/invoke/$F" '{"event":{}}'
    if [ "$IT_STATUS" = 200 ]; then ok=$((ok + 1)); fi
done
it_eq "4 invocations after the respawn: all 200" 4 "$ok"
it_scrape
it_eq "they add exactly 4 to the counts kept across the crash" "$((before + 4))" \
    "$(it_metric "$(s_total "$F")")"
it_eq "statuses still sum to Total_Invocations" "$(it_metric "$(s_total "$F")")" "$(statuses_sum "$F")"

# Workers SIGKILLed in the middle of an invocation: the invocation is not
# running any more once they are reaped (its container is swept), so the
# in-flight gauge must come back to 0 rather than count it forever.
fn_sh mhold 'sleep 60' '"timeout":120'
invoke_bg 200 mhold &
hold_pid=$!
hold_flight() { it_scrape "$IT_TMP/m.hold" && [ "$(m "$(s_flight mhold)" "$IT_TMP/m.hold")" = 1 ]; }
it_true "mhold: in-flight 1 while it runs" ml_wait_for 30 hold_flight
mapfile -t workers < <(it_fcgi_workers)
kill -KILL "${workers[@]}"
all_respawned() {
    local now w
    now=$(it_fcgi_workers)
    [ "$(grep -c . <<<"$now")" -eq "${#workers[@]}" ] || return 1
    for w in "${workers[@]}"; do ! grep -qx "$w" <<<"$now" || return 1; done
}
it_true "every worker SIGKILLed mid-invocation was respawned" ml_wait_for 30 all_respawned
wait "$hold_pid" || true
it_true "mhold: the killed invocation's container is swept" \
    ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[mhold]}"
it_scrape
it_eq "the other functions' counts survive that too" "$(grep -v 'mhold' "$IT_TMP/f.postkill" |
    grep -v "function=\"$F\"")" "$(grep 'function=' "$IT_METRICS" | grep -v mhold | grep -v "function=\"$F\"")"
hold_idle() { it_scrape "$IT_TMP/m.hold" && [ "$(m "$(s_flight mhold)" "$IT_TMP/m.hold")" = 0 ]; }
it_true "mhold: in-flight back to 0 once its worker is gone" ml_wait_for 10 hold_idle

# --- (c) promtool --------------------------------------------------------------
it_scrape
rc=0
promtool check metrics <"$IT_METRICS" >"$IT_TMP/promtool.out" 2>&1 || rc=$?
# The contract fixes two names that promtool's linter (not its parser)
# objects to; anything else it reports is a real problem.
known_lint='Invocation_Duration_ms metric names should not contain abbreviated units
Total_Invocations counter metrics should have "_total" suffix'
other=$(grep -vxF -e "${known_lint%%$'\n'*}" -e "${known_lint#*$'\n'}" "$IT_TMP/promtool.out" || true)
it_true "promtool parses the exposition (exit $rc: 0 clean, 3 lint only)" test "$rc" = 0 -o "$rc" = 3
it_eq "promtool reports nothing beyond the contract's two names" "" "$other"
it_eq "no series appears twice" "" \
    "$(grep -v '^#' "$IT_METRICS" | awk '{ print $1 }' | sort | uniq -d | head -3)"
it_eq "every sample line is NAME{LABELS} VALUE" "" \
    "$(grep -v '^#' "$IT_METRICS" | grep -Ev '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9]+(\.[0-9]+)?$' | head -3)"

# --- (d) a real Prometheus -----------------------------------------------------
PROM_PORT=$(it_free_port)
PROM_BASE="http://127.0.0.1:$PROM_PORT"
mkdir -p "$PROM_DIR/data"
cat >"$PROM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: minilambda
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$MINILAMBDA_PORT']
EOF
prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$PROM_DIR/prometheus.log" 2>&1 &
PROM_PID=$!

prom_ready() { curl -sf --max-time 2 "$PROM_BASE/-/ready" >/dev/null; }
# promql QUERY [TIME]: the first result's value ("" when none, "error" on
# failure), evaluated now or at TIME (Unix seconds).
promql() {
    curl -s --max-time 10 -G --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} \
        "$PROM_BASE/api/v1/query" |
        jq -r 'if .status == "success" then (.data.result[0].value[1] // "") else "error" end' \
            2>/dev/null || echo error
}
prom_is() { [ "$(promql "$1")" = "$2" ]; }
# prom_number QUERY: true when the result is a finite number.
prom_number() { promql "$1" | grep -Eq '^-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$'; }

it_true "Prometheus is ready on 127.0.0.1:$PROM_PORT" ml_wait_for 60 prom_ready
it_true "Prometheus scrapes the stack (up == 1)" ml_wait_for 30 prom_is 'up{job="minilambda"}' 1
total=$(m "$(s_total "$F")")
it_true "Prometheus sees Total_Invocations{function=\"$F\"} = $total" \
    ml_wait_for 30 prom_is "Total_Invocations{function=\"$F\"}" "$total"

# Invocations while Prometheus watches, so rate() over the window sees them.
: >"$IT_TMP/durations.d"
M=10
ok=0
for i in $(seq 1 "$M"); do
    it_json POST "/invoke/$F" '{"event":{}}'
    if [ "$IT_STATUS" = 200 ]; then ok=$((ok + 1)); fi
    it_jq .duration >>"$IT_TMP/durations.d"
done
it_eq "$M invocations under Prometheus: all 200" "$M" "$ok"
total=$((total + M))
it_true "Prometheus's Total_Invocations{function=\"$F\"} reaches $total" \
    ml_wait_for 60 prom_is "Total_Invocations{function=\"$F\"}" "$total"
it_eq "Prometheus: _count equals it" "$total" "$(promql "Invocation_Duration_ms_count{function=\"$F\"}")"
it_eq "Prometheus: the statuses sum to it" "$total" \
    "$(promql "sum(minilambda_invocations_total{function=\"$F\"})")"
it_eq "Prometheus: in-flight 0" 0 "$(promql "minilambda_invocations_in_flight{function=\"$F\"}")"

# histogram_quantile interpolates inside the bucket where the median falls;
# only buckets that grew in the window count, so the answer lies between the
# lower bound of the bucket of the fastest observation and the upper bound of
# the slowest one's (910 when that is +Inf: Prometheus answers with the
# highest finite bound there).
q_expr="histogram_quantile(0.5, rate(Invocation_Duration_ms_bucket{function=\"$F\"}[1m]))"
it_true "histogram_quantile gives a number" ml_wait_for 30 prom_number "$q_expr"
# Both queries below are evaluated at one instant: a scrape in between
# would move the rate window.
qt=$(date +%s)
q=$(promql "$q_expr" "$qt")
bucket_bounds() { # MS -> "LOWER UPPER" of the bucket MS lands in
    awk -v d="$1" 'BEGIN { lo = 0; for (k = 0; k < 10; k++) { up = 10 + 100 * k; if (d <= up) { print lo, up; exit } lo = up } print 910, 910 }'
}
dmin=$(sort -n "$IT_TMP/durations.d" | head -1)
dmax=$(sort -n "$IT_TMP/durations.d" | tail -1)
read -r lo _ < <(bucket_bounds "$dmin")
read -r _ hi < <(bucket_bounds "$dmax")
it_true "median $q ms lies in [$lo, $hi] (durations $dmin..$dmax ms)" \
    awk -v q="$q" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(q > 0 && q >= lo && q <= hi && q <= 910) }'
all=$(curl -s --max-time 10 -G --data-urlencode \
    'query=histogram_quantile(0.5, rate(Invocation_Duration_ms_bucket[1m]))' \
    --data-urlencode "time=$qt" "$PROM_BASE/api/v1/query" | jq -r --arg f "$F" '.data.result[] | select(.metric.function == $f) | .value[1]')
it_eq "the unfiltered query gives the same answer for $F" "$q" "$all"
prom_stop

# --- clean stop: the segment goes with the pool --------------------------------
it_no_containers_left
FID=()
ml_stop_all
it_true "the segment is removed when the pool stops" test ! -e "$SHM_FILE"

# ================================================================ (e) access
export MINILAMBDA_METRICS_ALLOW=10.1.2.0/24 MINILAMBDA_METRICS_SHM="/ml-it-metrics-$$-deny"
it_start deny
it_true "nginx.conf allows 10.1.2.0/24 on /metrics" grep -q 'allow 10.1.2.0/24;' "$MINILAMBDA_RUN_DIR/nginx.conf"
it_req GET /metrics
it_expect "ALLOW=10.1.2.0/24: /metrics from 127.0.0.1 is 403 forbidden" 403 forbidden
it_true "the 403 is JSON ($(it_header Content-Type))" grep -q '^application/json' <<<"$(it_header Content-Type)"
it_req GET /functions
it_expect "ALLOW=10.1.2.0/24: /functions still 200" 200
it_req GET /healthz
it_expect "ALLOW=10.1.2.0/24: /healthz still 200" 200
ml_stop_all

export MINILAMBDA_METRICS_ALLOW="10.1.2.0/24, 127.0.0.1/32" MINILAMBDA_MAX_CONCURRENCY=1
export MINILAMBDA_METRICS_SHM="/ml-it-metrics-$$-allow"
it_start allow
it_scrape
it_expect "ALLOW=10.1.2.0/24, 127.0.0.1/32: /metrics from 127.0.0.1 is 200" 200
it_req GET /functions
it_expect "ALLOW with 127.0.0.1/32: /functions 200" 200

# A rejected invocation (429 at MINILAMBDA_MAX_CONCURRENCY=1) is counted
# as rejected but is not an invocation that ran.
fn_sh hold 'sleep 2; cat'
invoke_bg 100 hold &
hold_pid=$!
holding() {
    it_scrape "$IT_TMP/m.hold" && [ "$(m "$(s_flight hold)" "$IT_TMP/m.hold")" = 1 ]
}
it_true "in-flight shows the running invocation" ml_wait_for 30 holding
it_json POST /invoke/hold '{"event":{}}'
it_expect "a second invocation at the limit: 429" 429 too_many_requests
it_scrape
it_eq "rejected: 1" 1 "$(it_metric "$(s_status hold rejected)")"
it_eq "rejected is not in Total_Invocations" 0 "$(it_metric "$(s_total hold)")"
it_eq "nor in _count" 0 "$(it_metric "$(s_count hold)")"
wait "$hold_pid" || true
it_eq "the held invocation finished 200" 200 "$(cat "$IT_TMP/inv.100.code")"
it_scrape
it_eq "then Total_Invocations 1" 1 "$(it_metric "$(s_total hold)")"
it_eq "succeeded 1" 1 "$(it_metric "$(s_status hold succeeded)")"
it_eq "rejected still 1" 1 "$(it_metric "$(s_status hold rejected)")"
it_eq "in-flight back to 0" 0 "$(it_metric "$(s_flight hold)")"
it_eq "http counter: /invoke/{ref} 429 is 1" 1 "$(it_metric "$(s_http '/invoke/{ref}' 429)")"
it_true "no container of hold is left" ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[hold]}"

it_done
