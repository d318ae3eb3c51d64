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
# Version 4: its ml-loop echoes the loop protocol's nonce (a tag of its own,
# so that a checkout with an older ml-loop can share the engine).
IT_BUSYBOX=minilambda-test-busybox:4
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
    # Each line names the test too, so that a leftover points at its test.
    if [ -n "${ML_IT_INSTANCES:-}" ]; then
        printf '%s %s\n' "$("$ML_BIN" --print-instance)" "${0##*/}" >>"$ML_IT_INSTANCES"
    fi
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

# it_role_pids ROLE: the pids of the master's children whose start the log
# names as ROLE's (worker, executor, janitor, keeper).
it_role_pids() {
    local p
    for p in $(it_workers); do
        grep -q "$1 [0-9]* started (pid $p)" "$MINILAMBDA_RUN_DIR/minilambda.log" && echo "$p"
    done
    return 0
}

# The keeper's pid (none without warm starts).
it_keeper_pid() { it_role_pids keeper; }

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

# it_as KEY METHOD PATH [curl args...]: a request with Authorization: Bearer KEY.
it_as() {
    local key=$1 method=$2 path=$3
    shift 3
    it_req "$method" "$path" -H "Authorization: Bearer $key" "$@"
}

# it_as_json KEY METHOD PATH JSON [curl args...]: the same with a JSON body.
it_as_json() {
    local key=$1 method=$2 path=$3 body=$4
    shift 4
    it_as "$key" "$method" "$path" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# it_tmpfs SIZE: a tmpfs of SIZE (e.g. 4m) mounted on a new dir, its path in
# IT_TMPFS, unmounted at exit; skips the whole test (exit 0) when mounting is
# not allowed, since a full disk can only be made for real as root.
it_tmpfs() {
    IT_TMPFS=$(mktemp -d /tmp/minilambda-full.XXXXXX)
    it_after it_tmpfs_unmount
    if ! mount -t tmpfs -o "size=$1" tmpfs "$IT_TMPFS" 2>/dev/null; then
        echo "1..0 # SKIP mounting a tmpfs needs root"
        exit 0
    fi
}
it_tmpfs_unmount() {
    umount "$IT_TMPFS" 2>/dev/null || true
    rmdir "$IT_TMPFS"
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

# Make sure the tiny busybox test image exists (FROM scratch + busybox-static
# + ml-loop), rebuilt when an older one lacks the adapter.
it_busybox_image() {
    local v
    v=$(docker image inspect --format '{{index .Config.Labels "minilambda.test-image"}}' \
        "$IT_BUSYBOX" 2>/dev/null || true)
    [ "$v" = 4 ] && return 0
    "$IT_DIR/../../scripts/test-image" "$IT_BUSYBOX" >/dev/null
}

# How functions run: MINILAMBDA_TEST_MODE is cold (the default: no keeper,
# a fresh container per call, as at first), warm (reuse "none" with the
# keeper's prestarted containers), container (reuse "container") or process
# (reuse "process", classic functions wrapped in the test image's ml-loop).
IT_MODE=${MINILAMBDA_TEST_MODE:-cold}
case "$IT_MODE" in
cold) export MINILAMBDA_WARM_MAX=${MINILAMBDA_WARM_MAX:-0} ;;
warm | container | process) ;;
*)
    echo "Bail out! MINILAMBDA_TEST_MODE=$IT_MODE: cold, warm, container or process"
    exit 1
    ;;
esac

# it_register NAME IMAGE [EXTRA_JSON_FIELDS]: register a function, fail loudly.
# With MINILAMBDA_TEST_RUNTIME set, every function runs in that OCI runtime.
it_register() {
    local extra=${3:-}
    if [ -n "${MINILAMBDA_TEST_RUNTIME:-}" ]; then
        extra="${extra:+$extra,}\"runtime\":\"$MINILAMBDA_TEST_RUNTIME\""
    fi
    case "$IT_MODE" in
    container) extra="${extra:+$extra,}\"reuse\":\"container\"" ;;
    process)
        extra="${extra:+$extra,}\"reuse\":\"process\""
        # Every command of the test image looped by its ml-loop (fn_sh's are
        # already); without one, the image's own "cat". IT_LOOP_NATIVE=1:
        # the command speaks the loop protocol itself.
        if [ "$2" = "$IT_BUSYBOX" ] && [ -z "${IT_LOOP_NATIVE:-}" ]; then
            extra=$(jq -c '(.command // ["cat"]) as $c
                | .command = (if $c[0] == "/bin/ml-loop" then $c else ["/bin/ml-loop"] + $c end)
                | tostring | .[1:-1]' <<<"{$extra}" | jq -r .)
        fi
        ;;
    esac
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
    if [ "$IT_MODE" = process ]; then
        cmd=$(jq -cn --arg s "$2" '["/bin/ml-loop","sh","-c",$s]')
    else
        cmd=$(jq -cn --arg s "$2" '["sh","-c",$s]')
    fi
    fn "$1" "$IT_BUSYBOX" "\"command\":$cmd${3:+,$3}"
}

# it_no_containers_left: one check per function in FID that none of its
# containers remains (removal may lag the response a little: poll). With
# warm starts, the ones left are exactly those the keeper holds ready
# (minilambda_warm_containers{function}): none is a call's leftover.
it_no_containers_left() {
    local f
    for f in "${!FID[@]}"; do
        if [ "$IT_MODE" = cold ]; then
            it_true "no container of $f is left" \
                ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[$f]}"
        else
            it_true "no container of $f is left but the ready warm ones" \
                ml_wait_for 30 it_only_warm_left "$f"
        fi
    done
}

# it_settled NAME: no container of function NAME is a call's (cold mode:
# none at all; warm modes: only the ready warm ones).
it_settled() {
    if [ "$IT_MODE" = cold ]; then
        it_count_is 0 "label=minilambda.function=${FID[$1]}"
    else
        it_only_warm_left "$1"
    fi
}

# it_running NAME: how many runs of function NAME are going now (cold mode:
# its running containers; warm modes, where ready ones run too: the
# in-flight gauge).
it_running() {
    if [ "$IT_MODE" = cold ]; then
        it_count_containers "label=minilambda.function=${FID[$1]}" status=running
    else
        it_scrape "$IT_TMP/running-metrics.$BASHPID"
        it_metric0 "minilambda_invocations_in_flight{function=\"$1\"}" "$IT_TMP/running-metrics.$BASHPID"
    fi
}

# it_running_is NAME N: N runs of NAME are going now.
it_running_is() { [ "$(it_running "$1")" = "$2" ]; }

# it_only_warm_left NAME: function NAME's containers are the ready warm ones.
it_only_warm_left() {
    local n
    it_scrape "$IT_TMP/warm-metrics"
    n=$(it_metric0 "minilambda_warm_containers{function=\"$1\"}" "$IT_TMP/warm-metrics")
    it_count_is "$n" "label=minilambda.function=${FID[$1]}"
}

# it_warm_of NAME: how many ready warm containers function NAME has now.
it_warm_of() {
    it_scrape "$IT_TMP/warm-of"
    it_metric0 "minilambda_warm_containers{function=\"$1\"}" "$IT_TMP/warm-of"
}
# it_warm_is NAME N: function NAME has N ready warm containers.
it_warm_is() { [ "$(it_warm_of "$1")" = "$2" ]; }

# it_call NAME [EVENT] [EXTRA_MEMBERS]: POST /invoke/NAME {"event": EVENT ({}), ...}.
it_call() {
    local ev=${2:-'{}'}
    it_json POST "/invoke/$1" "{\"event\":$ev${3:+,$3}}"
}
# it_res FILTER: jq FILTER on the last answer's result, JSON text or a JSON value.
it_res() { jq -r "(.result | if type == \"string\" then (fromjson? // .) else . end) | $1" <"$IT_BODY"; }

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
# async executors, the janitor and the keeper).
it_fcgi_workers() { it_role_pids worker; }

# --- private engines, for fault and several-engine tests ----------------

# it_engine_start: start (or restart) a dockerd of this test's own, with
# its own --data-root, --exec-root, pid file and socket under
# $IT_TMP/engine, so that killing or freezing it never touches the shared
# one. Exports DOCKER_HOST to it; IT_ENGINE_PID is its pid.
# it_engine_start_named NAME [DOCKERD_ARGS...]: another one, under
# $IT_TMP/engine-NAME, with DOCKERD_ARGS added (a TCP listener, TLS...; a
# restart keeps the first start's); IT_ENGINE_PIDS[NAME] is its pid, its
# socket "$(it_engine_sock NAME)", and DOCKER_HOST is left alone.
# it_cleanup stops them all (it_engine_cleanup).
IT_ENGINE_DIR="$IT_TMP/engine"
IT_ENGINE_PID=""
declare -A IT_ENGINE_PIDS=()
declare -A IT_ENGINE_ARGS=()
it_engine_start() { it_engine_launch ""; }
it_engine_start_named() { it_engine_launch "$@"; }
it_engine_launch() {
    local name=$1 d pid
    shift
    d=$IT_ENGINE_DIR${name:+-$name}
    # A restart keeps the arguments of the first start.
    if [ -n "$name" ] && [ $# -gt 0 ]; then IT_ENGINE_ARGS[$name]="$*"; fi
    mkdir -p "$d/data" "$d/exec"
    [ -f "$d/daemon.json" ] || echo '{}' >"$d/daemon.json"
    # shellcheck disable=SC2086 # the saved arguments are words
    dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
        --pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" \
        --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
        ${name:+${IT_ENGINE_ARGS[$name]:-}} </dev/null >>"$d/dockerd.log" 2>&1 &
    pid=$!
    # Killing it is the point: no job notice for that.
    disown "$pid"
    if [ -z "$name" ]; then
        IT_ENGINE_PID=$pid
        export DOCKER_HOST="unix://$d/docker.sock"
    else
        IT_ENGINE_PIDS[$name]=$pid
    fi
    if [ "${#IT_AFTER[@]}" -eq 0 ] || [[ " ${IT_AFTER[*]} " != *" it_engine_cleanup "* ]]; then
        it_after it_engine_cleanup
    fi
    ml_wait_for 60 docker -H "unix://$d/docker.sock" version || {
        echo "Bail out! the private dockerd ${name:-engine} did not start"
        tail -5 "$d/dockerd.log"
        exit 1
    }
}

# it_engine_sock NAME: the unix socket of private engine NAME.
it_engine_sock() { echo "$IT_ENGINE_DIR-$1/docker.sock"; }

# it_engine_kill SIGNAL [NAME]: signal a private dockerd (KILL: wait until gone).
it_engine_kill() {
    local pid=$IT_ENGINE_PID
    [ -z "${2:-}" ] || pid=${IT_ENGINE_PIDS[$2]}
    kill "-$1" "$pid"
    if [ "$1" = KILL ] || [ "$1" = TERM ]; then
        ml_wait_for 60 ml_not_running "$pid"
    fi
}

# The containerd a private dockerd started (it may outlive a killed dockerd).
it_engine_containerd() { cat "${1:-$IT_ENGINE_DIR}/exec/containerd/containerd.pid" 2>/dev/null || true; }

# it_engine_stop DIR PID: stop the private engine in DIR and what it
# started, its containers first.
it_engine_stop() {
    local d=$1 pid=$2 c m
    [ -n "$pid" ] || return 0
    kill -CONT "$pid" 2>/dev/null || true
    if kill -0 "$pid" 2>/dev/null; then
        docker -H "unix://$d/docker.sock" ps -aq |
            xargs -r docker -H "unix://$d/docker.sock" rm -f >/dev/null 2>&1 || true
        kill -TERM "$pid" 2>/dev/null || true
        ml_wait_for 30 ml_not_running "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
    c=$(it_engine_containerd "$d")
    if [ -n "$c" ] && kill -0 "$c" 2>/dev/null &&
        grep -q containerd "/proc/$c/cmdline" 2>/dev/null; then
        kill -TERM "$c" 2>/dev/null || true
        ml_wait_for 20 ml_not_running "$c" || kill -KILL "$c" 2>/dev/null || true
    fi
    # The shims of containers a killed engine left keep running them (and
    # the temp dir's mounts busy): stop each, with what it runs, by pid.
    for c in $(pgrep -f "containerd-shim-runc-v2 .*-address $d/exec/containerd/" || true); do
        pgrep -P "$c" | xargs -r kill -KILL 2>/dev/null || true
        kill -KILL "$c" 2>/dev/null || true
    done
    # Mounts the engine left (overlay layers, its netns files) go before rm.
    findmnt -rn -o TARGET | grep "^$d/" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}

# Stop every private engine.
it_engine_cleanup() {
    local n
    if [ -n "$IT_ENGINE_PID" ]; then
        it_engine_stop "$IT_ENGINE_DIR" "$IT_ENGINE_PID"
        unset DOCKER_HOST
        IT_ENGINE_PID=""
    fi
    for n in "${!IT_ENGINE_PIDS[@]}"; do
        it_engine_stop "$IT_ENGINE_DIR-$n" "${IT_ENGINE_PIDS[$n]}"
        unset "IT_ENGINE_PIDS[$n]"
    done
}

# --- minilambda-init and the loop protocol --------------------------------

# The nonce of every request the helpers below write, and that every frame
# or answer they decode must carry.
IT_NONCE=0123456789abcdef

# it_init_request FILE EVENT [KEY=VALUE...]: append one minilambda-init
# request (MLINIT/3 header with IT_NONCE, env lines, event) to FILE.
it_init_request() {
    local file=$1 event=$2 LC_ALL=C
    shift 2
    printf 'MLINIT/3 %d %d %s\n' "$#" "${#event}" "$IT_NONCE" >>"$file"
    [ "$#" -eq 0 ] || printf '%s\n' "$@" >>"$file"
    printf '%s' "$event" >>"$file"
}

# it_init_decode FILE DIR: split the frames minilambda-init wrote (either
# mode; FILE) into DIR/o (stdout), DIR/e (stderr) and DIR/x (the statuses,
# space separated). False on a malformed frame or one without IT_NONCE.
# Text only: bash drops NULs.
it_init_decode() {
    local file=$1 dir=$2 LC_ALL=C kind nonce len data statuses=""
    : >"$dir/o"
    : >"$dir/e"
    : >"$dir/x"
    while IFS=' ' read -r kind nonce len; do
        [ "$nonce" = "$IT_NONCE" ] || return 1
        [[ "$len" =~ ^[0-9]+$ ]] || return 1
        case "$kind" in
        x) statuses="${statuses:+$statuses }$len" ;;
        o | e)
            [ "$len" -ge 1 ] && [ "$len" -le 65536 ] || return 1
            IFS= read -r -N "$len" data || return 1
            [ "${#data}" -eq "$len" ] || return 1
            printf '%s' "$data" >>"$dir/$kind"
            ;;
        *) return 1 ;;
        esac
    done <"$file"
    printf '%s' "$statuses" >"$dir/x"
}

# it_loop_request FILE EVENT JSON_FIELDS: append one loop-protocol request
# (reuse "process") to FILE: {JSON_FIELDS..., "event_length": N, "nonce":
# IT_NONCE} and EVENT.
it_loop_request() {
    local file=$1 event=$2 fields=$3 LC_ALL=C
    printf '{%s%s"event_length":%d,"nonce":"%s"}\n%s' "$fields" "${fields:+,}" "${#event}" \
        "$IT_NONCE" "$event" >>"$file"
}

# it_loop_decode FILE DIR: split the loop-protocol responses in FILE into
# DIR/1, DIR/2, ... (the results), DIR/1.log, ... (their logs) and
# DIR/codes (the exit codes, space separated). False on a malformed
# response or one without IT_NONCE. Text only.
it_loop_decode() {
    local file=$1 dir=$2 LC_ALL=C line len loglen code data logs n=0 codes=""
    while IFS= read -r line; do
        len=$(jq -er '.result_length | select(type == "number")' <<<"$line" 2>/dev/null) || return 1
        loglen=$(jq -er '.log_length // 0 | select(type == "number")' <<<"$line" 2>/dev/null) ||
            return 1
        code=$(jq -er '.exit_code | select(type == "number")' <<<"$line" 2>/dev/null) || return 1
        [ "$(jq -r .nonce <<<"$line")" = "$IT_NONCE" ] || return 1
        data=""
        logs=""
        if [ "$len" -gt 0 ]; then
            IFS= read -r -N "$len" data || return 1
        fi
        if [ "$loglen" -gt 0 ]; then
            IFS= read -r -N "$loglen" logs || return 1
        fi
        [ "${#data}" -eq "$len" ] && [ "${#logs}" -eq "$loglen" ] || return 1
        n=$((n + 1))
        printf '%s' "$data" >"$dir/$n"
        printf '%s' "$logs" >"$dir/$n.log"
        codes="${codes:+$codes }$code"
    done <"$file"
    printf '%s' "$codes" >"$dir/codes"
}
