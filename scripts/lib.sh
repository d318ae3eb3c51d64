# shellcheck shell=bash
# Shared by scripts/run, scripts/stop, scripts/test and the integration
# tests: configuration defaults, build, and starting/stopping dockerd, the
# pool and nginx. Every process started is recorded in the run dir by pid
# and start time (ml_pid_write), and only a process that still matches its
# record is ever signalled.

ML_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ML_BUILD=${ML_BUILD:-$ML_ROOT/build}
ML_BIN=${ML_BIN:-$ML_BUILD/minilambda-fcgi}
ML_DOCKER_SOCK=/var/run/docker.sock
# The dashboard's static files (nginx/ui/ in the source tree; an installed
# layout points this at its copy).
ML_UI_DIR=${ML_UI_DIR:-$ML_ROOT/nginx/ui}

ml_log() { printf 'minilambda: %s\n' "$*" >&2; }
ml_die() { ml_log "$*"; exit 1; }

# ml_cfg NAME: the effective value of setting NAME as the binary computes
# it from the environment (its defaults, its checks): the scripts never
# restate a default. Fails with the binary's message for a bad value.
ml_cfg() {
    local all line
    [ -x "$ML_BIN" ] || ml_die "$ML_BIN is not built (scripts/run builds it)"
    all=$("$ML_BIN" --print-config) || return 1
    line=$(grep "^$1=" <<<"$all") || ml_die "unknown setting $1"
    eval "printf '%s' ${line#*=}"
}

# Export the settings every script needs, as the binary resolves them.
ml_defaults() {
    local v val
    for v in MINILAMBDA_PORT MINILAMBDA_BIND MINILAMBDA_DATA_DIR MINILAMBDA_RUN_DIR; do
        val=$(ml_cfg "$v") || exit 1
        export "$v=$val"
    done
}

# Build out of tree in $ML_BUILD ("$@": extra configure options) when
# anything is out of date.
ml_build() {
    (
        cd "$ML_ROOT" || exit 1
        [ -x configure ] || autoreconf -fi >/dev/null 2>&1
        mkdir -p "$ML_BUILD"
        cd "$ML_BUILD" || exit 1
        [ -f Makefile ] || "$ML_ROOT/configure" -q --enable-werror "$@"
        make -s -j"$(nproc)" >/dev/null
    )
}

# Wait until "$@" succeeds, at most $1 seconds (polling, not sleeping blind).
ml_wait_for() {
    local secs=$1 deadline
    shift
    deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# --- pid files ------------------------------------------------------------
# A pid file is one line "PID STARTTIME": STARTTIME is field 22 of
# /proc/PID/stat (clock ticks since boot), which a recycled pid does not
# repeat. A pid is signalled only while its start time still matches, so a
# stale file never gets another process killed.

# ml_proc_start PID: the start time of PID, when it is a live process (not a
# zombie: one that has ended but was not reaped yet counts as gone).
ml_proc_start() {
    local stat st_fields
    [[ $1 =~ ^[1-9][0-9]*$ ]] || return 1
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    # The command name (field 2) may hold spaces and parentheses: split
    # after its last ")"; field 3 (the state) is then [0], field 22 [19].
    read -ra st_fields <<<"${stat##*) }"
    case ${st_fields[0]:-} in Z | X | x | "") return 1 ;; esac
    printf '%s\n' "${st_fields[19]}"
}

# ml_proc_is PID START: PID is alive and is the process that started at START.
ml_proc_is() {
    local now
    now=$(ml_proc_start "$1") && [ "$now" = "$2" ]
}

# ml_proc_gone PID START: that process has ended (its pid may be reused).
ml_proc_gone() { ! ml_proc_is "$1" "$2"; }

# ml_pid_write FILE PID: record PID and its start time, atomically (a
# reader never sees half a line). Fails when PID is no longer running.
ml_pid_write() {
    local start
    start=$(ml_proc_start "$2") || return 1
    printf '%s %s\n' "$2" "$start" >"$1.tmp" && mv -f "$1.tmp" "$1"
}

# ml_pid_of FILE: the pid FILE records, live or not (for logs and `wait`).
ml_pid_of() {
    local pid rest
    read -r pid rest <"$1" 2>/dev/null || [ -n "${pid:-}" ] || return 1
    [[ $pid =~ ^[1-9][0-9]*$ ]] && printf '%s\n' "$pid"
}

# ml_pid_live FILE: print the pid FILE records while that very process runs
# (same start time); fail otherwise, FILE untouched.
ml_pid_live() {
    local pid start rest
    [ -f "$1" ] || return 1
    read -r pid start rest <"$1" 2>/dev/null || [ -n "${pid:-}" ] || return 1
    [[ ${start:-} =~ ^[0-9]+$ ]] && ml_proc_is "$pid" "$start" && printf '%s\n' "$pid"
}

# ml_pid_check FILE WHAT: like ml_pid_live, but a file that names no such
# process (it ended, its pid now belongs to another process, or the file
# has no start time) is removed, with a log line saying which and why.
ml_pid_check() {
    local file=$1 what=$2 pid start rest now why
    [ -f "$file" ] || return 1
    ml_pid_live "$file" && return 0
    read -r pid start rest <"$file" 2>/dev/null || true
    now=$(ml_proc_start "${pid:-}" || true)
    if ! [[ ${pid:-} =~ ^[1-9][0-9]*$ ]]; then
        why="it holds no pid"
    elif ! [[ ${start:-} =~ ^[0-9]+$ ]]; then
        why="it has no start time (an older version wrote it), so pid $pid cannot be told ours: not signalled"
    elif [ -z "$now" ]; then
        why="pid $pid is not running"
    else
        why="pid $pid is another process now (started at $now, not $start): not signalled"
    fi
    ml_log "$what: stale pid file $file removed: $why"
    rm -f "$file"
    return 1
}

# ml_stop_recorded SECS FILE WHAT SIG [FILE WHAT SIG]...: send SIG to each
# process a FILE records that is still ours (stale files are removed), then
# wait for them all, at most SECS seconds (past that, SIGKILL), and remove
# the files. Signalling them all first lets them stop side by side.
ml_stop_recorded() {
    local secs=$1 file what sig pid start rest i
    local -a files=() whats=() pids=() starts=()
    shift
    while [ $# -ge 3 ]; do
        file=$1 what=$2 sig=$3
        shift 3
        pid=$(ml_pid_check "$file" "$what") || continue
        read -r pid start rest <"$file"
        kill "-$sig" "$pid" 2>/dev/null || true
        files+=("$file") whats+=("$what") pids+=("$pid") starts+=("$start")
    done
    for i in "${!files[@]}"; do
        pid=${pids[$i]} start=${starts[$i]}
        if ! ml_wait_for "$secs" ml_proc_gone "$pid" "$start" && ml_proc_is "$pid" "$start"; then
            ml_log "${whats[$i]} (pid $pid) did not stop within $secs s: SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
            ml_wait_for 10 ml_proc_gone "$pid" "$start" || true
        fi
        rm -f "${files[$i]}"
    done
}

ml_engine_answers() {
    if [ -n "${DOCKER_HOST:-}" ]; then
        docker version >/dev/null 2>&1
    else
        curl -sf --max-time 2 --unix-socket "$ML_DOCKER_SOCK" http://docker/_ping >/dev/null
    fi
}

# ml_docker_config FILE: write the daemon.json for a dockerd we start: the
# machine's /etc/docker/daemon.json, if any (--config-file replaces it, so
# its settings are carried over), with gVisor's runsc registered as runtime
# "runsc" when installed. Functions asking for a runtime are checked against
# GET /info's Runtimes, so without runsc they are refused, not broken.
# runtimeArgs "--network=none": this runsc (Debian's 20221219) tells the
# host's network namespace by /proc/sys/net/core/rmem_default existing, and
# kernels since 6.x show that file in every namespace, so with its own
# network stack every start fails ("cannot run with network enabled in root
# network namespace", gVisor issue 10704). Functions run with NetworkMode
# "none" anyway. Its default platform (ptrace) and the cgroup limits work
# as they are: no --platform, no --ignore-cgroups.
ml_docker_config() {
    local file=$1 system=/etc/docker/daemon.json runsc base='{}'
    [ ! -f "$system" ] || base=$(cat "$system")
    runsc=$(command -v runsc || true)
    if [ -n "$runsc" ]; then
        jq --arg path "$runsc" \
            '.runtimes.runsc = {path: $path, runtimeArgs: ["--network=none"]}' \
            <<<"$base" >"$file"
    else
        jq . <<<"$base" >"$file"
    fi || ml_die "cannot write $file (is $system valid JSON?)"
}

# Start dockerd when no engine answers; its pid goes to $1 so only we stop it.
# Its daemon.json (ml_docker_config) is written next to the pid file. An
# engine that already answers is used as it is; a dockerd $1 records that
# still runs (an earlier start's) is waited for, never started twice.
ml_docker_up() {
    local pidfile=$1 dir pid
    if pid=$(ml_pid_check "$pidfile" dockerd); then
        ml_wait_for 60 ml_engine_answers || ml_die "dockerd (pid $pid, started earlier) does not answer"
        return 0
    fi
    ml_engine_answers && return 0
    [ -z "${DOCKER_HOST:-}" ] || ml_die "DOCKER_HOST=$DOCKER_HOST does not answer"
    ml_log "no Docker engine answers: starting dockerd"
    dir=$(dirname "$pidfile")
    ml_docker_config "$dir/daemon.json"
    dockerd --config-file "$dir/daemon.json" --iptables=false --bridge=none \
        --pidfile "$pidfile.dockerd" </dev/null >>"$dir/dockerd.log" 2>&1 &
    ml_pid_write "$pidfile" $! || ml_die "dockerd exited at once (see $dir/dockerd.log)"
    ml_wait_for 60 ml_engine_answers || ml_die "dockerd did not come up (see $dir/dockerd.log)"
}

# ml_engine_has_runtime NAME: the engine lists runtime NAME in GET /info.
ml_engine_has_runtime() {
    docker info --format '{{json .Runtimes}}' 2>/dev/null | jq -e --arg r "$1" 'has($r)' >/dev/null
}

# Stop the dockerd recorded in $1, if any and still that process.
ml_docker_down() { ml_stop_recorded 30 "$1" dockerd TERM; }

# ml_not_running PID: no live process has that pid (a zombie, ended but not
# reaped yet, counts as gone: it can no longer do anything).
ml_not_running() { ! ml_proc_start "$1" >/dev/null; }

# The unprivileged user nginx workers run as, when we are root.
ml_nginx_user() {
    if [ "$(id -u)" -ne 0 ]; then
        echo ""
    elif id www-data >/dev/null 2>&1; then
        echo www-data
    else
        echo nobody
    fi
}

# ml_nginx_part NAME: the lines of the rendered nginx.conf between the
# template's "include part: NAME" markers, with a header saying what they
# are; fails when the template has no such part.
ml_nginx_part() {
    local conf=$MINILAMBDA_RUN_DIR/nginx.conf part
    part=$(sed -n "/# --- begin include part: $1 /,/# --- end include part: $1 ---/p" "$conf")
    [ -n "$part" ] || { ml_log "$conf has no include part \"$1\""; return 1; }
    printf '# minilambda: the %s part of %s, rendered with it from the template\n' "$1" "$conf"
    printf '# (docs/operating.md: Install on a server). Rewritten at every start: do not edit.\n'
    printf '%s\n' "$part"
}

# Render nginx/minilambda.conf.in into the run dir; the locations come
# from the binary's route table (which also checks MINILAMBDA_MAX_IMAGE_BYTES
# and MINILAMBDA_METRICS_ALLOW), and so does the OpenAPI document nginx
# serves at /openapi.json. Besides the whole nginx.conf, its upstreams
# and server parts are written on their own (nginx-upstreams.conf,
# nginx-server.conf) for a server's own nginx to include. The files of
# nginx/ui/ (the dashboard and the API reference) are copied next to it,
# like fastcgi_params: nginx's workers (www-data) can read the run dir, not
# necessarily a checkout under /root.
ml_render_nginx() {
    local run=$MINILAMBDA_RUN_DIR user line
    mkdir -p "$run/nginx-tmp"
    "$ML_BIN" --print-nginx >"$run/locations.conf" || return 1
    "$ML_BIN" --print-openapi >"$run/openapi.json.tmp" || return 1
    chmod 644 "$run/openapi.json.tmp"
    mv -f "$run/openapi.json.tmp" "$run/openapi.json"
    user=$(ml_nginx_user)
    line=""
    [ -z "$user" ] || line="user $user;"
    chmod 755 "$run"
    [ -z "$user" ] || chown "$user" "$run/nginx-tmp"
    cp "$ML_ROOT/nginx/fastcgi_params" "$run/fastcgi_params"
    if [ ! -f "$ML_UI_DIR/index.html" ]; then
        ml_log "no dashboard in $ML_UI_DIR (ML_UI_DIR names the folder of nginx/ui)"
        return 1
    fi
    rm -rf "${run:?}/ui"
    cp -R "$ML_UI_DIR" "$run/ui" && chmod -R a+rX "$run/ui" || return 1
    sed -e "s|@USER_LINE@|$line|" \
        -e "s|@RUN_DIR@|$run|g" \
        -e "s|@PORT@|$MINILAMBDA_PORT|g" \
        -e "s|@BIND@|$MINILAMBDA_BIND|g" \
        -e "s|@SOCKET@|$(ml_cfg MINILAMBDA_SOCKET)|g" \
        -e "s|@INVOKE_SOCKET@|$(ml_cfg MINILAMBDA_INVOKE_SOCKET)|g" \
        -e "/@LOCATIONS@/{r $run/locations.conf" -e 'd}' \
        "$ML_ROOT/nginx/minilambda.conf.in" >"$run/nginx.conf"
    ml_nginx_part upstreams >"$run/nginx-upstreams.conf" || return 1
    ml_nginx_part server >"$run/nginx-server.conf" || return 1
}

ml_pool_ready() { [ -S "$1" ] && [ -S "$2" ]; }

# Start the pool in the background, under its supervisor
# (`minilambda-fcgi --supervise`), which restarts the master should it die.
# pool.pid records the supervisor, not the master: SIGTERM to it stops the
# whole pool gracefully, and SIGKILL to it takes the master and the workers
# with it (ml_pool_master finds the master).
ml_start_pool() {
    local run=$MINILAMBDA_RUN_DIR control invoke
    control=$(ml_cfg MINILAMBDA_SOCKET) || return 1
    invoke=$(ml_cfg MINILAMBDA_INVOKE_SOCKET) || return 1
    mkdir -p "$run" "$MINILAMBDA_DATA_DIR"
    rm -f "$control" "$invoke"
    local before=0 ok=1
    [ ! -f "$run/minilambda.log" ] || before=$(wc -l <"$run/minilambda.log")
    "$ML_BIN" --supervise </dev/null >>"$run/minilambda.log" 2>&1 &
    ml_pid_write "$run/pool.pid" $! || ok=0
    if [ "$ok" = 0 ] || ! ml_wait_for 20 ml_pool_ready "$control" "$invoke"; then
        # Only what this start wrote: the log is appended to across runs.
        tail -n +"$((before + 1))" "$run/minilambda.log" | tail -5 >&2
        return 1
    fi
}

# The pool's master: the supervisor's child (none between a master's death
# and its restart). Its children are the workers and async executors.
ml_pool_master() {
    local sup
    sup=$(ml_pid_live "$MINILAMBDA_RUN_DIR/pool.pid") || return 1
    pgrep -P "$sup"
}

# Stop the pool only (nginx stays): SIGTERM to the supervisor, which
# forwards it to the master; in-flight requests get MINILAMBDA_GRACE.
ml_stop_pool() { ml_stop_recorded "$(ml_stop_secs)" "$MINILAMBDA_RUN_DIR/pool.pid" pool TERM; }

# Stop nginx only (the pool stays), letting its open requests finish.
ml_stop_nginx() { ml_stop_recorded "$(ml_stop_secs)" "$MINILAMBDA_RUN_DIR/nginx.pid.started" nginx QUIT; }

# Seconds a graceful stop may take before SIGKILL: the grace period, plus
# what the supervisor allows the master beyond it (10 s) and a margin. A
# setting the binary refuses now was not the one the pool started with:
# then no grace beyond the margin.
ml_stop_secs() {
    local grace
    grace=$(ml_cfg MINILAMBDA_GRACE 2>/dev/null) || grace=0
    echo "$((grace + 15))"
}

ml_http_answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$MINILAMBDA_PORT/healthz"; }

# Something already accepts connections on the port.
ml_port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$MINILAMBDA_PORT") 2>/dev/null; }

# Our nginx is up: its master runs, has written its pid (after binding the
# port) and answers. Checking only the port could find another instance.
ml_nginx_ready() {
    local run=$MINILAMBDA_RUN_DIR pid
    pid=$(ml_pid_live "$run/nginx.pid.started") &&
        [ "$(cat "$run/nginx.pid" 2>/dev/null)" = "$pid" ] &&
        ml_http_answers
}

ml_start_nginx() {
    local run=$MINILAMBDA_RUN_DIR
    if ml_port_taken; then
        ml_log "port $MINILAMBDA_PORT is already in use; set MINILAMBDA_PORT"
        return 1
    fi
    ml_render_nginx || return 1
    nginx -q -t -c "$run/nginx.conf" -p "$run" -e "$run/nginx-error.log" || return 1
    rm -f "$run/nginx.pid"
    nginx -c "$run/nginx.conf" -p "$run" -e "$run/nginx-error.log" </dev/null \
        >>"$run/nginx-stdout.log" 2>&1 &
    ml_pid_write "$run/nginx.pid.started" $! || return 1
    ml_wait_for 20 ml_nginx_ready
}

# Stop what the run dir records, gracefully: nginx on SIGQUIT stops
# accepting and lets its open requests finish; the pool (its supervisor) on
# SIGTERM finishes in-flight ones within MINILAMBDA_GRACE. Both are
# signalled first, then waited for (past the grace, killed). Only processes
# that still match their pid file are signalled.
ml_stop_all() {
    local run=$MINILAMBDA_RUN_DIR
    ml_stop_recorded "$(ml_stop_secs)" "$run/nginx.pid.started" nginx QUIT "$run/pool.pid" pool TERM
    ml_docker_down "$run/dockerd.pid"
}
