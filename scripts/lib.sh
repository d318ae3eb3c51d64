# shellcheck shell=bash
# Shared by scripts/run, scripts/stop, scripts/test and the integration
# tests: configuration defaults, build, and starting/stopping dockerd, the
# pool and nginx. Every process started is recorded by pid in the run dir
# and only those are ever stopped.

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
# engine that already answers is used as it is.
ml_docker_up() {
    local pidfile=$1 dir
    ml_engine_answers && return 0
    [ -z "${DOCKER_HOST:-}" ] || ml_die "DOCKER_HOST=$DOCKER_HOST does not answer"
    ml_log "no Docker engine answers: starting dockerd"
    dir=$(dirname "$pidfile")
    ml_docker_config "$dir/daemon.json"
    dockerd --config-file "$dir/daemon.json" --iptables=false --bridge=none \
        --pidfile "$pidfile.dockerd" </dev/null >>"$dir/dockerd.log" 2>&1 &
    echo $! >"$pidfile"
    ml_wait_for 60 ml_engine_answers || ml_die "dockerd did not come up (see $dir/dockerd.log)"
}

# ml_engine_has_runtime NAME: the engine lists runtime NAME in GET /info.
ml_engine_has_runtime() {
    docker info --format '{{json .Runtimes}}' 2>/dev/null | jq -e --arg r "$1" 'has($r)' >/dev/null
}

# Stop the dockerd recorded in $1, if any.
ml_docker_down() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        ml_wait_for 30 ml_not_running "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

ml_not_running() { ! kill -0 "$1" 2>/dev/null; }

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

# Render nginx/minilambda.conf.in into the run dir; the locations come
# from the binary's route table (which also checks MINILAMBDA_MAX_IMAGE_BYTES
# and MINILAMBDA_METRICS_ALLOW). The dashboard's files are copied next to
# it, like fastcgi_params: nginx's workers (www-data) can read the run dir,
# not necessarily a checkout under /root.
ml_render_nginx() {
    local run=$MINILAMBDA_RUN_DIR user line
    mkdir -p "$run/nginx-tmp"
    "$ML_BIN" --print-nginx >"$run/locations.conf" || return 1
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
}

ml_pool_ready() { [ -S "$1" ] && [ -S "$2" ]; }

# Start the pool in the background; pid in the run dir.
ml_start_pool() {
    local run=$MINILAMBDA_RUN_DIR control invoke
    control=$(ml_cfg MINILAMBDA_SOCKET) || return 1
    invoke=$(ml_cfg MINILAMBDA_INVOKE_SOCKET) || return 1
    mkdir -p "$run" "$MINILAMBDA_DATA_DIR"
    rm -f "$control" "$invoke"
    local before=0
    [ ! -f "$run/minilambda.log" ] || before=$(wc -l <"$run/minilambda.log")
    "$ML_BIN" </dev/null >>"$run/minilambda.log" 2>&1 &
    echo $! >"$run/pool.pid"
    if ! ml_wait_for 20 ml_pool_ready "$control" "$invoke"; then
        # Only what this start wrote: the log is appended to across runs.
        tail -n +"$((before + 1))" "$run/minilambda.log" | tail -5 >&2
        return 1
    fi
}

ml_http_answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$MINILAMBDA_PORT/healthz"; }

# Something already accepts connections on the port.
ml_port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$MINILAMBDA_PORT") 2>/dev/null; }

# Our nginx is up: its master runs, has written its pid (after binding the
# port) and answers. Checking only the port could find another instance.
ml_nginx_ready() {
    local run=$MINILAMBDA_RUN_DIR
    kill -0 "$(cat "$run/nginx.pid.started")" 2>/dev/null &&
        [ "$(cat "$run/nginx.pid" 2>/dev/null)" = "$(cat "$run/nginx.pid.started")" ] &&
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
    echo $! >"$run/nginx.pid.started"
    ml_wait_for 20 ml_nginx_ready
}

# Stop what the run dir records, gracefully: nginx on SIGQUIT stops
# accepting and lets its open requests finish; the pool on SIGTERM
# finishes in-flight ones within MINILAMBDA_GRACE. Both are signalled
# first, then waited for (past the grace, killed).
ml_stop_all() {
    local run=$MINILAMBDA_RUN_DIR pid f sig grace
    # A setting the binary refuses now was not the one the pool started with:
    # then give no grace beyond the margin.
    grace=$(ml_cfg MINILAMBDA_GRACE 2>/dev/null) || grace=0
    for f in nginx.pid.started pool.pid; do
        [ -f "$run/$f" ] || continue
        sig=TERM
        [ "$f" = pool.pid ] || sig=QUIT
        kill "-$sig" "$(cat "$run/$f")" 2>/dev/null || true
    done
    for f in pool.pid nginx.pid.started; do
        [ -f "$run/$f" ] || continue
        pid=$(cat "$run/$f")
        ml_wait_for "$((grace + 10))" ml_not_running "$pid" || kill -9 "$pid" 2>/dev/null || true
        rm -f "$run/$f"
    done
    ml_docker_down "$run/dockerd.pid"
}
