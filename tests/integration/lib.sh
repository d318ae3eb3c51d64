# shellcheck shell=bash
# Harness for the integration tests: each test script sources this, starts
# its own stack (pool + nginx) on a free loopback port in a temporary
# directory, checks things through nginx with curl and jq, and tears the
# stack down on exit. The Docker engine is the one scripts/test made sure of.
#
# Every check prints one TAP line. Skipped (a TAP plan of 0) unless
# MINILAMBDA_INTEGRATION=1: `make distcheck` and plain `make check` on a
# machine without the services stay unit-only.

if [ "${MINILAMBDA_INTEGRATION:-0}" != 1 ]; then
    echo "1..0 # SKIP set MINILAMBDA_INTEGRATION=1 (scripts/test does) to run integration tests"
    exit 0
fi

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib.sh
. "$IT_DIR/../../scripts/lib.sh"

IT_PASS=0
IT_FAIL=0
IT_TMP=$(mktemp -d /tmp/minilambda-it.XXXXXX)
chmod 755 "$IT_TMP"
IT_BUSYBOX=minilambda-test-busybox:latest
IT_STATUS=""
IT_BODY="$IT_TMP/body"
IT_HEADERS="$IT_TMP/headers"

it_ok() {
    IT_PASS=$((IT_PASS + 1))
    printf 'ok %d - %s\n' "$((IT_PASS + IT_FAIL))" "$1"
}

it_not_ok() {
    IT_FAIL=$((IT_FAIL + 1))
    printf 'not ok %d - %s\n' "$((IT_PASS + IT_FAIL))" "$1"
    [ -z "${2:-}" ] || printf '#   %s\n' "$2"
}

# it_eq DESC EXPECTED ACTUAL
it_eq() {
    if [ "$2" = "$3" ]; then it_ok "$1"; else it_not_ok "$1" "expected [$2], got [${3:0:300}]"; fi
}

# it_true DESC COMMAND...: passes when the command succeeds.
it_true() {
    local desc=$1
    shift
    if "$@"; then it_ok "$desc"; else it_not_ok "$desc" "failed: $*"; fi
}

# A free TCP port on loopback (nothing accepts a connection on it), below
# the kernel's ephemeral range (32768 up) so no client socket holds it.
it_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# it_start [NAME]: start a stack whose run and data dirs live under $IT_TMP/NAME.
# MINILAMBDA_* variables already exported (workers, threads...) apply.
it_start() {
    local name=${1:-stack}
    export MINILAMBDA_RUN_DIR="$IT_TMP/$name/run"
    export MINILAMBDA_DATA_DIR="${IT_DATA_DIR:-$IT_TMP/$name/data}"
    export MINILAMBDA_BIND=127.0.0.1
    MINILAMBDA_PORT=$(it_free_port)
    export MINILAMBDA_PORT
    export MINILAMBDA_LOG_LEVEL=${MINILAMBDA_LOG_LEVEL:-info}
    mkdir -p "$MINILAMBDA_RUN_DIR" "$MINILAMBDA_DATA_DIR"
    # scripts/test's last check counts the containers of these instances
    # only: other instances may share the engine.
    [ -z "${ML_IT_INSTANCES:-}" ] || "$ML_BIN" --print-instance >>"$ML_IT_INSTANCES"
    BASE="http://127.0.0.1:$MINILAMBDA_PORT"
    ml_start_pool || { echo "Bail out! the pool did not start"; exit 1; }
    ml_start_nginx || { echo "Bail out! nginx did not start"; exit 1; }
}

# Stop the pool only (nginx stays), e.g. to restart it: SIGTERM to its
# supervisor, which stops the master and waits for it. True once the
# supervisor is gone.
it_stop_pool() {
    local pid
    pid=$(it_supervisor_pid) || return 1
    ml_stop_pool
    ml_not_running "$pid"
}

# The pool's supervisor: the process pool.pid records (while it is that one).
it_supervisor_pid() { ml_pid_live "$MINILAMBDA_RUN_DIR/pool.pid"; }

# The pool's master: the supervisor's child. Between a master's death and
# its restart there is none (or, for a few milliseconds, the dying workers
# the supervisor reaps as their subreaper).
it_pool_pid() { ml_pool_master; }

# The pids of the pool's workers (and async executors): the master's children.
it_workers() {
    local m
    m=$(it_pool_pid) || return 0
    pgrep -P "$m" || true
}

# Background helpers (samplers...) a test started: it_cleanup stops them.
IT_BG_PIDS=()
it_bg() { IT_BG_PIDS+=("$1"); }

# Functions it_cleanup calls once the stack is stopped (unmounting what a
# test mounted, ...), in order.
IT_AFTER=()
it_after() { IT_AFTER+=("$1"); }

it_cleanup() {
    local rc=$? p
    for p in "${IT_BG_PIDS[@]}"; do
        if kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi
    done
    if [ -n "${MINILAMBDA_RUN_DIR:-}" ] && [ -d "$MINILAMBDA_RUN_DIR" ]; then
        ml_stop_all || true
        if [ "$IT_FAIL" -gt 0 ] || [ "$rc" -ne 0 ]; then
            echo "# last lines of the pool log:"
            tail -n 20 "$MINILAMBDA_RUN_DIR/minilambda.log" 2>/dev/null | sed 's/^/#   /'
        fi
    fi
    for p in "${IT_AFTER[@]}"; do "$p" || true; done
    rm -rf "$IT_TMP"
}
trap it_cleanup EXIT

# it_req METHOD PATH [curl args...]: sets IT_STATUS; body in $IT_BODY.
it_req() {
    local method=$1 path=$2
    shift 2
    IT_STATUS=$(curl -s -o "$IT_BODY" -D "$IT_HEADERS" -w '%{http_code}' --max-time 60 \
        -X "$method" "$@" "$BASE$path") || IT_STATUS=000
}

# it_json METHOD PATH JSON: a request with a JSON body.
it_json() {
    local method=$1 path=$2 body=$3
    shift 3
    it_req "$method" "$path" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# it_jq FILTER: apply jq to the last body.
it_jq() { jq -r "$1" <"$IT_BODY" 2>/dev/null; }

# it_header NAME: a header of the last response.
it_header() { grep -i "^$1:" "$IT_HEADERS" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }

# it_expect DESC STATUS CODE: the last response had STATUS and (when CODE is
# not empty) a JSON error body with that code.
it_expect() {
    local desc=$1 status=$2 code=${3:-}
    if [ "$IT_STATUS" != "$status" ]; then
        it_not_ok "$desc" "expected HTTP $status, got $IT_STATUS: $(head -c 300 "$IT_BODY")"
        return
    fi
    if [ -n "$code" ] && [ "$(it_jq .code)" != "$code" ]; then
        it_not_ok "$desc" "expected code $code, got: $(head -c 300 "$IT_BODY")"
        return
    fi
    it_ok "$desc"
}

# Make sure the tiny busybox test image exists (FROM scratch + busybox-static).
it_busybox_image() {
    docker image inspect "$IT_BUSYBOX" >/dev/null 2>&1 && return 0
    "$IT_DIR/../../scripts/test-image" >/dev/null
}

# it_register NAME IMAGE [EXTRA_JSON_FIELDS]: register a function, fail loudly.
# With MINILAMBDA_TEST_RUNTIME set, every function runs in that OCI runtime.
it_register() {
    local extra=${3:-}
    if [ -n "${MINILAMBDA_TEST_RUNTIME:-}" ]; then
        extra="${extra:+$extra,}\"runtime\":\"$MINILAMBDA_TEST_RUNTIME\""
    fi
    it_json POST /functions "{\"name\":\"$1\",\"image\":\"$2\"${extra:+,$extra}}"
    if [ "$IT_STATUS" != 201 ]; then
        echo "Bail out! registering $1 failed: $IT_STATUS $(cat "$IT_BODY")"
        exit 1
    fi
}

# Function ids by name, filled by fn and fn_sh.
declare -A FID=()

# fn NAME IMAGE [EXTRA_JSON_FIELDS]: register; the id goes to FID[NAME].
fn() {
    it_register "$@"
    # shellcheck disable=SC2034 # read by the test scripts
    FID[$1]=$(it_jq .id)
}

# fn_sh NAME SCRIPT [EXTRA_JSON_FIELDS]: a busybox function running sh -c SCRIPT.
fn_sh() {
    local cmd
    cmd=$(jq -cn --arg s "$2" '["sh","-c",$s]')
    fn "$1" "$IT_BUSYBOX" "\"command\":$cmd${3:+,$3}"
}

# it_no_containers_left: one check per function in FID that none of its
# containers remains (removal may lag the response a little: poll).
it_no_containers_left() {
    local f
    for f in "${!FID[@]}"; do
        it_true "no container of $f is left" \
            ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[$f]}"
    done
}

# Containers of this platform left in the engine.
it_managed_containers() {
    docker ps -aq --filter label=minilambda.managed=1 | wc -l
}

# Print the closing line and exit non-zero on any failure.
it_done() {
    echo "1..$((IT_PASS + IT_FAIL))"
    echo "$IT_PASS passed, $IT_FAIL failed"
    [ "$IT_FAIL" -eq 0 ]
}

# it_ms: wall-clock time in milliseconds.
it_ms() { echo $(($(date +%s%N) / 1000000)); }

# it_count_containers FILTER...: containers in any state matching every
# docker filter given (e.g. label=minilambda.function=ID status=running).
it_count_containers() {
    local args=() f
    for f in "$@"; do args+=(--filter "$f"); done
    docker ps -aq "${args[@]}" | wc -l
}

# it_count_is N FILTER...: true when exactly N containers match.
it_count_is() {
    local n=$1
    shift
    [ "$(it_count_containers "$@")" -eq "$n" ]
}

# it_scrape [FILE]: GET /metrics into FILE (default $IT_METRICS); sets IT_STATUS.
IT_METRICS="$IT_TMP/metrics"
it_scrape() {
    IT_STATUS=$(curl -s -o "${1:-$IT_METRICS}" -D "$IT_HEADERS" -w '%{http_code}' --max-time 30 \
        "$BASE/metrics") || IT_STATUS=000
}

# it_metric SERIES [FILE]: the value of the series written exactly SERIES
# (name{labels} as the exposition renders it, e.g.
# 'Total_Invocations{function="f"}') in the last scrape; empty when absent.
it_metric() {
    IT_SERIES="$1 " awk 'BEGIN { s = ENVIRON["IT_SERIES"] }
        index($0, s) == 1 { print substr($0, length(s) + 1); exit }' "${2:-$IT_METRICS}"
}

# it_metric0 SERIES [FILE]: like it_metric, but 0 when absent.
it_metric0() {
    local v
    v=$(it_metric "$@")
    echo "${v:-0}"
}

# --- async invocations -------------------------------------------------

# it_async REF JSON [curl args...]: POST /invoke/REF/async; IT_INV is the new
# invocation id on a 202, else empty (IT_STATUS tells why).
IT_INV=""
# shellcheck disable=SC2034 # IT_INV is read by the test scripts
it_async() {
    local ref=$1 body=$2
    shift 2
    it_json POST "/invoke/$ref/async" "$body" "$@"
    IT_INV=""
    if [ "$IT_STATUS" = 202 ]; then IT_INV=$(it_jq .invocation_id); fi
}

# it_inv_get ID: the record of invocation ID on stdout (nothing when absent).
it_inv_get() { curl -sf --max-time 10 "$BASE/invocations/$1"; }

# it_inv_field ID FILTER: a jq filter applied to invocation ID's record.
it_inv_field() { it_inv_get "$1" | jq -r "$2" 2>/dev/null; }

# it_inv_is ID STATUS...: true when invocation ID's status is one of STATUS.
it_inv_is() {
    local id=$1 s x
    shift
    s=$(it_inv_field "$id" .status)
    for x in "$@"; do [ "$s" = "$x" ] && return 0; done
    return 1
}

# it_all_are STATUS ID...: true when every invocation ID is in STATUS.
it_all_are() {
    local status=$1 id
    shift
    for id in "$@"; do it_inv_is "$id" "$status" || return 1; done
}

# it_inv_wait SECS ID STATUS...: poll until invocation ID reaches one of STATUS.
it_inv_wait() {
    local secs=$1
    shift
    ml_wait_for "$secs" it_inv_is "$@"
}

# it_inv_gone ID: true when GET /invocations/ID answers 404.
it_inv_gone() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/invocations/$1")" = 404 ]
}

# it_inv_count QUERY: how many records GET /invocations?QUERY lists.
it_inv_count() { curl -sf --max-time 30 "$BASE/invocations?$1" | jq length; }

# it_inv_count_is N QUERY: true when GET /invocations?QUERY lists N records.
it_inv_count_is() { [ "$(it_inv_count "$2")" = "$1" ]; }

# it_async_runs ID: how many runs of invocation ID the pool log reports (one
# "async invoke ... id=ID" line each).
it_async_runs() { grep -c "async invoke function=[^ ]* id=$1 " "$MINILAMBDA_RUN_DIR/minilambda.log" || true; }

# The pids of the pool's FastCGI workers only (it_workers also lists the
# async executors): the children the log announces as "worker N started".
it_fcgi_workers() {
    local p
    for p in $(it_workers); do
        grep -q "worker [0-9]* started (pid $p)" "$MINILAMBDA_RUN_DIR/minilambda.log" && echo "$p"
    done
    return 0
}
