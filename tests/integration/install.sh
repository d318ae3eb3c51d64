#!/usr/bin/env bash
# An install for a real server, end to end:
#  (a) `make install` into a DESTDIR with a test prefix; the staged tree is
#      then linked at the prefix (as a package manager would unpack it), so
#      every path the installed files name resolves; nothing installed
#      names the source or build tree; tests/installcheck.sh passes on it
#      (settings file, rendering, nginx -t, units, systemd-analyze verify);
#  (b) the platform runs from the installed files only: the installed env
#      file, edited as an admin would, and the units' Exec lines run by
#      hand in a clean environment the way systemd runs them (systemd is
#      not PID 1 here); a function is registered and invoked through the
#      units' nginx, and through another nginx that includes the rendered
#      parts in a server block of its own;
#  (c) the monitoring examples: every metric name the Grafana dashboard and
#      the alert rules use is in a live /metrics after invocations; a real
#      Prometheus run from the shipped prometheus.yml scrapes the stack,
#      evaluates every rule without error and answers every dashboard
#      query with data;
#  (d) the units' stop signals stop everything; `make uninstall` removes all
#      but the settings file the admin changed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for tool in make nginx prometheus promtool; do
    command -v "$tool" >/dev/null || { echo "Bail out! $tool is needed (scripts/setup)"; exit 1; }
done
it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

PREFIX=$IT_TMP/prefix
DEST=$IT_TMP/dest
ETC=$PREFIX/etc/minilambda
SHARE=$PREFIX/share/minilambda
LIBEXEC=$PREFIX/libexec/minilambda
UNITS=$PREFIX/lib/systemd/system
HOST_PID=""
PROM_PID=""
PROM_DIR=$IT_TMP/prometheus

# The extra processes first (by pid), then the harness's clean-up, which
# stops the units' pool and nginx through the pid files written below.
install_cleanup() {
    local rc=$? p
    set +e
    for p in "$HOST_PID" "$PROM_PID"; do
        [ -n "$p" ] || continue
        kill -TERM "$p" 2>/dev/null
        ml_wait_for 30 ml_not_running "$p" || kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] || [ "$IT_FAIL" -gt 0 ]; then
        for p in "$IT_TMP/make.log" "$PROM_DIR/prometheus.log" "$IT_TMP/host-error.log" \
            "$IT_TMP/host-stdout.log" "$IT_TMP/nginx-unit.log"; do
            [ -s "$p" ] || continue
            echo "# last lines of $p:"
            tail -n 10 "$p" | sed 's/^/#   /'
        done
    fi
    (exit "$rc")
    it_cleanup
}
trap install_cleanup EXIT

# --- (a) make install into a DESTDIR -----------------------------------------
make_in_build() { make -C "$ML_BUILD" -s "$@" DESTDIR="$DEST" prefix="$PREFIX" >>"$IT_TMP/make.log" 2>&1; }
it_true "make install DESTDIR=… prefix=…" make_in_build install
if ! ln -s "$DEST$PREFIX" "$PREFIX"; then
    echo "Bail out! nothing was installed under $DEST$PREFIX"
    exit 1
fi
for f in bin/minilambda-fcgi libexec/minilambda/minilambda-nginx; do
    it_true "$f is installed, executable" test -x "$PREFIX/$f"
done
for f in etc/minilambda/minilambda.env share/minilambda/minilambda.env \
    share/minilambda/nginx/minilambda.conf.in share/minilambda/nginx/fastcgi_params \
    share/minilambda/scripts/lib.sh share/minilambda/monitoring/grafana-dashboard.json \
    share/minilambda/monitoring/prometheus.yml share/minilambda/monitoring/minilambda-rules.yml \
    lib/systemd/system/minilambda.service lib/systemd/system/minilambda-nginx.service \
    share/doc/minilambda/README.md share/doc/minilambda/docs/guide.md \
    share/doc/minilambda/docs/operating.md share/minilambda/nginx/ui/index.html \
    share/minilambda/nginx/ui/api.html share/minilambda/nginx/ui/apidoc.js; do
    it_true "$f is installed" test -s "$PREFIX/$f"
done

# install_doc_links: every relative link of an installed doc to another
# installed doc (README.md, docs/*.md) leads to it where they are installed.
install_doc_links() {
    local docs=$PREFIX/share/doc/minilambda doc link path src n=0 bad=""
    for doc in README.md docs/guide.md docs/operating.md; do
        while read -r link; do
            path=${link%%#*}
            [ -n "$path" ] || continue
            src=$(realpath -m --relative-to="$ML_ROOT" "$ML_ROOT/$(dirname "$doc")/$path")
            case $src in README.md | docs/guide.md | docs/operating.md) ;; *) continue ;; esac
            n=$((n + 1))
            [ -s "$(dirname "$docs/$doc")/$path" ] || bad+=" $doc:$link"
        done < <(grep -o '](\([^)[:space:]]*\))' "$docs/$doc" | sed 's/^](\(.*\))$/\1/' |
            grep -v '^[a-z]*:' || true)
    done
    if [ "$n" -eq 0 ] || [ -n "$bad" ]; then
        echo "# $n links; leading nowhere:$bad"
        return 1
    fi
}
it_true "the installed docs' links to each other resolve where they are installed" install_doc_links
it_eq "no installed text file names the source or build tree" "" \
    "$(grep -rlF -e "$ML_ROOT" -e "$ML_BUILD" "$DEST$PREFIX/etc" "$DEST$PREFIX/share" \
        "$DEST$PREFIX/libexec" "$DEST$PREFIX/lib" || true)"
it_eq "no installed file names the DESTDIR" "" \
    "$(grep -rlF "$DEST" "$DEST$PREFIX" || true)"

# installcheck.sh's TAP lines, as this test's own.
while IFS= read -r line; do
    case "$line" in
    "ok "*) it_ok "installcheck: ${line#ok * - }" ;;
    "not ok "*) it_not_ok "installcheck: ${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
    esac
done < <(bash "$IT_DIR/../installcheck.sh" "$PREFIX/bin" "$SHARE" "$LIBEXEC" "$ETC" "$UNITS" "$PREFIX/share/man" 2>&1 || true)

# --- (b) the platform from the installed files ---------------------------------
# env_set NAME VALUE: uncomment NAME in the installed settings file, as an
# admin would, with VALUE.
env_set() {
    sed -i "s|^#$1=.*|$1='$2'|" "$ETC/minilambda.env"
    grep -qxF "$1='$2'" "$ETC/minilambda.env" || { echo "Bail out! no #$1= line in $ETC/minilambda.env"; exit 1; }
}
MINILAMBDA_PORT=$(it_free_port)
export MINILAMBDA_PORT MINILAMBDA_BIND=127.0.0.1
export MINILAMBDA_RUN_DIR=$IT_TMP/run MINILAMBDA_DATA_DIR=$IT_TMP/data
env_set MINILAMBDA_PORT "$MINILAMBDA_PORT"
env_set MINILAMBDA_RUN_DIR "$MINILAMBDA_RUN_DIR"
env_set MINILAMBDA_DATA_DIR "$MINILAMBDA_DATA_DIR"
env_set MINILAMBDA_WORKERS 1
env_set MINILAMBDA_THREADS 4
env_set MINILAMBDA_ASYNC_WORKERS 1
env_set MINILAMBDA_GRACE 5
BASE="http://127.0.0.1:$MINILAMBDA_PORT"

# unit_values UNIT KEY: the values of KEY= in an installed unit, in order.
unit_values() { sed -n "s/^$2=//p" "$UNITS/$1"; }

# unit_env UNIT: fills UNIT_ENV with what systemd would give the unit's
# commands: its default PATH and the NAME=VALUE lines of its
# EnvironmentFile (comments and blank lines skipped, one pair of quotes
# around a value removed).
UNIT_ENV=()
unit_env() {
    local file line name value
    file=$(unit_values "$1" EnvironmentFile)
    file=${file#-}
    UNIT_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin)
    while IFS= read -r line; do
        case "$line" in "" | "#"* | ";"*) continue ;; esac
        name=${line%%=*}
        value=${line#*=}
        if [[ "$value" =~ ^\'(.*)\'$ ]] || [[ "$value" =~ ^\"(.*)\"$ ]]; then value=${BASH_REMATCH[1]}; fi
        UNIT_ENV+=("$name=$value")
    done <"$file"
}

# unit_run UNIT KEY [N]: run the Nth (default first) KEY= command line of
# UNIT in the unit's environment, in the foreground. The units' lines are
# plain words (no quoting), as this checks.
unit_cmd() {
    local line
    line=$(unit_values "$1" "$2" | sed -n "${3:-1}p")
    line=${line#[-@+!]}
    [ -n "$line" ] && [[ "$line" != *[\'\"\\\$]* ]] || return 1
    echo "$line"
}
unit_run() {
    local cmd
    cmd=$(unit_cmd "$@") || return 1
    unit_env "$1"
    # shellcheck disable=SC2086 # the unit's line, split into words as systemd does
    env -i "${UNIT_ENV[@]}" $cmd
}
# unit_start UNIT LOG: ExecStart in the background, output to LOG (the
# journal's stand-in); UNIT_PID is its pid.
UNIT_PID=""
unit_start() {
    local cmd
    cmd=$(unit_cmd "$1" ExecStart) || return 1
    unit_env "$1"
    # shellcheck disable=SC2086 # the unit's line, split into words as systemd does
    env -i "${UNIT_ENV[@]}" $cmd </dev/null >>"$2" 2>&1 &
    UNIT_PID=$!
}

# minilambda.service: ExecStartPre, ExecStart, ExecStartPost.
it_true "minilambda.service ExecStartPre (render) succeeds" unit_run minilambda.service ExecStartPre
it_true "it made the run dir with the include parts" \
    test -s "$MINILAMBDA_RUN_DIR/nginx-server.conf" -a -s "$MINILAMBDA_RUN_DIR/nginx-upstreams.conf"
unit_start minilambda.service "$MINILAMBDA_RUN_DIR/minilambda.log"
ml_pid_write "$MINILAMBDA_RUN_DIR/pool.pid" "$UNIT_PID"
POOL_PID=$UNIT_PID
it_true "minilambda.service ExecStartPost (the sockets accept) succeeds" \
    unit_run minilambda.service ExecStartPost
it_true "the pool is the installed binary" \
    test "$(readlink -f "/proc/$POOL_PID/exe")" = "$(readlink -f "$PREFIX/bin/minilambda-fcgi")"

# minilambda-nginx.service: ExecStart is nginx itself once it has rendered.
unit_start minilambda-nginx.service "$IT_TMP/nginx-unit.log"
ml_pid_write "$MINILAMBDA_RUN_DIR/nginx.pid.started" "$UNIT_PID"
NGINX_PID=$UNIT_PID
if ! ml_wait_for 30 ml_nginx_ready; then
    echo "Bail out! minilambda-nginx.service's nginx did not answer on $BASE"
    sed 's/^/#   /' "$IT_TMP/nginx-unit.log"
    exit 1
fi
it_ok "minilambda-nginx.service's nginx answers on $BASE, as its main process"
it_true "its config is the installed template's" \
    grep -qF "include part: server" "$MINILAMBDA_RUN_DIR/nginx.conf"

it_req GET /healthz
it_expect "GET /healthz: 200" 200
fn_sh echo 'cat'
fn_sh fails 'cat >/dev/null; exit 3'
it_json POST /invoke/echo '{"event":{"installed":true}}'
it_expect "invoke through the units' nginx: 200" 200
it_eq "the function saw the event" '{"installed":true}' "$(it_jq .result)"
it_json POST /invoke/fails '{"event":{}}'
it_expect "a failing function: 502 function_failed" 502 function_failed
it_true "ExecReload renders again and reloads nginx" unit_run minilambda-nginx.service ExecReload
it_true "nginx still answers after the reload, same master" \
    ml_wait_for 20 bash -c "[ \"\$(cat '$MINILAMBDA_RUN_DIR/nginx.pid')\" = $NGINX_PID ] && curl -sf '$BASE/healthz'"

# Another nginx including the rendered parts in a server block of its own,
# exactly as docs/operating.md's snippet shows.
HOST_PORT=$(it_free_port)
mkdir -p "$IT_TMP/host"
cat >"$IT_TMP/host/nginx.conf" <<EOF
pid $IT_TMP/host/nginx.pid;
daemon off;
events {}
http {
    access_log off;
    include $MINILAMBDA_RUN_DIR/nginx-upstreams.conf;
    server {
        listen 127.0.0.1:$HOST_PORT;
        server_name functions.example.com;
        include $MINILAMBDA_RUN_DIR/nginx-server.conf;
    }
}
EOF
nginx -c "$IT_TMP/host/nginx.conf" -p "$IT_TMP/host" -e "$IT_TMP/host-error.log" \
    </dev/null >>"$IT_TMP/host-stdout.log" 2>&1 &
HOST_PID=$!
host_answers() { curl -sf --max-time 2 "http://127.0.0.1:$HOST_PORT/healthz" >/dev/null; }
it_true "an nginx including the parts answers" ml_wait_for 30 host_answers
saved=$BASE
BASE="http://127.0.0.1:$HOST_PORT"
it_json POST /invoke/echo '{"event":{"through":"include"}}'
it_expect "invoke through it: 200" 200
it_eq "the function saw the event" '{"through":"include"}' "$(it_jq .result)"
it_req GET /no/such/route
it_expect "an unknown path there: the API's JSON 404" 404 not_found
BASE=$saved
kill -QUIT "$HOST_PID"
it_true "that nginx stops on SIGQUIT" ml_wait_for 30 ml_not_running "$HOST_PID"
wait "$HOST_PID" 2>/dev/null || true
HOST_PID=""

# --- (c) the monitoring examples ---------------------------------------------------
DASH=$SHARE/monitoring/grafana-dashboard.json
has_panels() { jq -e '.panels | length > 0' "$DASH" >/dev/null; }
it_true "the dashboard is JSON with panels" has_panels
it_eq "every panel has a unique id, a grid position and queries with a refId" "" \
    "$(jq -r '[.panels[] | select((.id|type) != "number" or .gridPos == null or
        ([.targets[]? | select(.expr == null or .refId == null)] | length > 0) or
        (.targets | length) == 0) | .title] | join(", ")' "$DASH")"
it_eq "panel ids are unique" "$(jq '.panels | length' "$DASH")" "$(jq '[.panels[].id] | unique | length' "$DASH")"
it_eq "every panel and query uses the datasource variable" "" \
    "$(jq -r '[.panels[] | select(.datasource.uid != "${datasource}" or
        ([.targets[] | select(.datasource.uid != "${datasource}")] | length > 0)) | .title] | join(", ")' "$DASH")"

# promql_names: the metric names PromQL expressions on stdin select: strings,
# label matchers, ranges, offsets, grouping clauses and Grafana variables removed,
# then every identifier that is not a function call or a keyword.
promql_names() {
    sed -E -e 's/"[^"]*"//g' -e 's/\{[^}]*\}//g' -e 's/\[[^]]*\]//g' -e 's/\$[A-Za-z_]+//g' \
        -e 's/offset[[:space:]]+-?[0-9a-z]+//g' \
        -e 's/(by|without|on|ignoring|group_left|group_right)[[:space:]]*\([^)]*\)//g' |
        grep -oE '[A-Za-z_:][A-Za-z0-9_:]*[[:space:]]*\(?' |
        grep -vE '\($' | tr -d ' \t' |
        grep -vxE 'by|without|on|ignoring|group_left|group_right|bool|and|or|unless|offset|inf|nan|Inf|NaN' |
        sort -u || true
}
jq -r '.. | .expr? // empty' "$DASH" >"$IT_TMP/dash.exprs"
jq -r '.templating.list[] | .query.query? // empty' "$DASH" |
    sed -nE 's/^label_values\(([A-Za-z_:][A-Za-z0-9_:]*).*/\1/p' >"$IT_TMP/template.names"
it_true "the dashboard has queries" test -s "$IT_TMP/dash.exprs"

# A real Prometheus from the shipped prometheus.yml: only the target, the
# intervals and the rule file's path differ.
PROM_PORT=$(it_free_port)
PROM_BASE="http://127.0.0.1:$PROM_PORT"
mkdir -p "$PROM_DIR/data"
sed -e "s|'127.0.0.1:8300'|'127.0.0.1:$MINILAMBDA_PORT'|" -e 's/_interval: 15s/_interval: 1s/' \
    -e "s|- minilambda-rules.yml|- $SHARE/monitoring/minilambda-rules.yml|" \
    "$SHARE/monitoring/prometheus.yml" >"$PROM_DIR/prometheus.yml"
it_eq "the test config differs from the shipped one in 4 lines" 4 \
    "$(diff "$SHARE/monitoring/prometheus.yml" "$PROM_DIR/prometheus.yml" | grep -c '^>' || true)"
promtool_ok() {
    promtool check config "$1" >"$IT_TMP/promtool.out" 2>&1 || { sed 's/^/#   /' "$IT_TMP/promtool.out"; return 1; }
}
it_true "promtool check config: the shipped prometheus.yml and its rules" \
    promtool_ok "$PROM_DIR/prometheus.yml"
prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$PROM_DIR/prometheus.log" 2>&1 &
PROM_PID=$!
prom_get() { curl -s --max-time 10 -G "$@"; }
# promql_ok QUERY: Prometheus evaluates QUERY without error to at least one sample.
promql_ok() {
    prom_get --data-urlencode "query=$1" "$PROM_BASE/api/v1/query" |
        jq -e '.status == "success" and (.data.result | length > 0)' >/dev/null 2>&1
}
it_true "Prometheus scrapes the stack (up == 1)" \
    ml_wait_for 60 promql_ok 'up{job="minilambda"} == 1'
# Invocations while it scrapes, so rates and quantiles have data.
ok=0
for _ in 1 2 3 4 5; do
    it_json POST /invoke/echo '{"event":{}}'
    [ "$IT_STATUS" != 200 ] || ok=$((ok + 1))
done
it_json POST /invoke/fails '{"event":{}}'
it_eq "5 more invocations: 200" 5 "$ok"
it_true "Prometheus has seen them" \
    ml_wait_for 30 promql_ok 'Total_Invocations{function="echo"} >= 6'

it_scrape "$IT_METRICS"
it_expect "GET /metrics: 200" 200
grep -v '^#' "$IT_METRICS" | sed -E 's/[{ ].*//' | sort -u >"$IT_TMP/live.names"
rules_json() { prom_get "$PROM_BASE/api/v1/rules"; }
rules_ok() { rules_json | jq -e '[.data.groups[].rules[]] | length > 0 and all(.health == "ok")' >/dev/null; }
it_true "Prometheus evaluates every shipped rule without error" ml_wait_for 30 rules_ok
rules_json | jq -r '.data.groups[].rules[].query' >"$IT_TMP/rules.exprs"
it_eq "it loaded the 5 shipped rules" 5 "$(grep -c . "$IT_TMP/rules.exprs" || true)"

# Every name the dashboard and the rules use is in the live /metrics (up is
# Prometheus's own, checked above).
{ cat "$IT_TMP/dash.exprs" "$IT_TMP/rules.exprs" | promql_names; cat "$IT_TMP/template.names"; } |
    sort -u | grep -vx up >"$IT_TMP/used.names" || true
echo "# metric names used: $(tr '\n' ' ' <"$IT_TMP/used.names")"
it_true "the examples use at least 8 metric names" test "$(wc -l <"$IT_TMP/used.names")" -ge 8
while IFS= read -r name; do
    it_true "$name is in the live /metrics" grep -qxF "$name" "$IT_TMP/live.names"
done <"$IT_TMP/used.names"

# Every dashboard query, with Grafana's variables given values, answers data.
while IFS= read -r expr; do
    # shellcheck disable=SC2016 # Grafana's variables, literally
    q=$(sed -e 's/\$__rate_interval/1m/g' -e 's/\$instance/.*/g' -e 's/\$function/.*/g' <<<"$expr")
    it_true "Prometheus answers data: $(tr '\n' ' ' <<<"$expr" | tr -s ' ' | cut -c1-90)" \
        ml_wait_for 30 promql_ok "$q"
done < <(jq -r '.panels[].targets[].expr | gsub("\n"; " ")' "$DASH")
series_exist() {
    prom_get --data-urlencode "match[]=$1" "$PROM_BASE/api/v1/series" | jq -e '.data | length > 0' >/dev/null
}
while IFS= read -r name; do
    it_true "the template variable's series exist: $name" series_exist "$name"
done <"$IT_TMP/template.names"

# --- (d) stop as the units do, and uninstall ------------------------------------------
workers=$(pgrep -P "$POOL_PID" || true)
it_true "the pool has children to stop" test -n "$workers"
# Reverse of the start order: nginx (KillSignal=SIGQUIT), then the pool
# (SIGTERM to the master alone, KillMode=mixed), each within TimeoutStopSec.
for unit in minilambda-nginx.service:"$NGINX_PID" minilambda.service:"$POOL_PID"; do
    u=${unit%%:*}
    pid=${unit#*:}
    sig=$(unit_values "$u" KillSignal)
    stop=$(unit_values "$u" TimeoutStopSec)
    kill "-${sig#SIG}" "$pid"
    it_true "$u stops on $sig within TimeoutStopSec=$stop" ml_wait_for "$stop" ml_not_running "$pid"
    wait "$pid" 2>/dev/null || true
done
rm -f "$MINILAMBDA_RUN_DIR/pool.pid" "$MINILAMBDA_RUN_DIR/nginx.pid.started"
left=""
for p in $workers; do
    ! kill -0 "$p" 2>/dev/null || left+=" $p"
done
it_eq "none of the pool's children is left" "" "$left"
it_true "no container of this test is left" ml_wait_for 30 it_count_is 0 "label=minilambda.function=${FID[echo]}"

it_true "make uninstall" make_in_build uninstall
it_eq "all that is left is the settings file the admin changed" "etc/minilambda/minilambda.env" \
    "$(cd "$DEST$PREFIX" && find . -type f | sed 's|^\./||')"

it_done
