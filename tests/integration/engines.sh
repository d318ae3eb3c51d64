#!/usr/bin/env bash
# Several engines behind one platform, on one machine as a small cluster:
# the shared engine (a, weight 2), a private dockerd on a unix socket (b)
# and a private dockerd on tcp://127.0.0.1:PORT with TLS from a throwaway
# openssl CA (c), each with its own --data-root, --exec-root, pid file and
# socket, plus one docker-registry.
#
#   1. start-up refuses a malformed engine list, a TLS directory without
#      its files and a registry that does not answer, naming the entry;
#   2. an image uploaded once is pushed to the registry; b and c pull it on
#      first use, once each, however many calls arrive together;
#   3. 300 calls spread over a, b and c by weight (counted from the
#      answers and, per engine, from its own `docker events`);
#   4. kill -9 of b under load: sync calls on it end 503
#      engine_unavailable at once; async ones are retried on another
#      engine and complete; no call is placed on it once it is out; it is
#      back within 2 s of answering again; the janitor clears what it left;
#   5. without a registry, a call that lands on an engine lacking the
#      image runs on one that has it;
#   6. no engine answering: /healthz 503 and calls 503 engine_unavailable;
#   7. nothing of any of these stacks is left on any engine.
#
# The figures (distribution, failover time) are printed as TAP comments.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
A_HOST=${DOCKER_HOST:-unix://$ML_DOCKER_SOCK}

# --- 1. start-up errors name the entry --------------------------------------
# q CMD...: CMD, quietly (its output is not TAP).
q() { "$@" >/dev/null 2>&1; }
# refused TEXT VAR=VALUE...: the pool refuses to start (exit 2) saying TEXT.
refused() {
    local text=$1 out rc=0
    shift
    mkdir -p "$IT_TMP/refused"
    out=$(env "$@" MINILAMBDA_RUN_DIR="$IT_TMP/refused/run" \
        MINILAMBDA_DATA_DIR="$IT_TMP/refused/data" "$ML_BIN" 2>&1 >/dev/null) || rc=$?
    [ "$rc" = 2 ] && grep -qF -- "$text" <<<"$out"
}
it_true "a malformed engine list is refused, naming the entry" \
    refused 'entry 2 ("tcp://nohost")' MINILAMBDA_ENGINES="unix:///x.sock,tcp://nohost"
it_true "an unknown option is refused, naming it" \
    refused 'unknown option "colour"' MINILAMBDA_ENGINES="unix:///x.sock;colour=red"
mkdir -p "$IT_TMP/notls"
touch "$IT_TMP/notls/ca.pem"
it_true "a TLS directory without cert.pem is refused, naming the entry and the file" \
    refused "has no readable cert.pem" MINILAMBDA_ENGINES="tcp://127.0.0.1:2376;tls=$IT_TMP/notls"
DEAD_PORT=$(it_free_port)
it_true "a registry that does not answer is refused at start-up" \
    refused "MINILAMBDA_REGISTRY 127.0.0.1:$DEAD_PORT does not answer" \
    MINILAMBDA_REGISTRY="127.0.0.1:$DEAD_PORT"

# --- the cluster: a throwaway CA, engines b and c, a registry -------------
CA="$IT_TMP/ca"
mkdir -p "$CA/client"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=minilambda-test-ca \
    -keyout "$CA/ca-key.pem" -out "$CA/ca.pem"
ossl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$CA/server-key.pem" \
    -out "$CA/server.csr"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$CA/server.ext"
ossl x509 -req -in "$CA/server.csr" -CA "$CA/ca.pem" -CAkey "$CA/ca-key.pem" -CAcreateserial \
    -days 1 -extfile "$CA/server.ext" -out "$CA/server-cert.pem"
ossl req -newkey rsa:2048 -nodes -subj /CN=minilambda -keyout "$CA/client/key.pem" \
    -out "$CA/client.csr"
printf 'extendedKeyUsage=clientAuth\n' >"$CA/client.ext"
ossl x509 -req -in "$CA/client.csr" -CA "$CA/ca.pem" -CAkey "$CA/ca-key.pem" -CAcreateserial \
    -days 1 -extfile "$CA/client.ext" -out "$CA/client/cert.pem"
cp "$CA/ca.pem" "$CA/client/ca.pem"

C_PORT=$(it_free_port)
it_engine_start_named b
it_engine_start_named c --tlsverify --tlscacert "$CA/ca.pem" --tlscert "$CA/server-cert.pem" \
    --tlskey "$CA/server-key.pem" -H "tcp://127.0.0.1:$C_PORT"
B_HOST="unix://$(it_engine_sock b)"
C_HOST="unix://$(it_engine_sock c)"
it_true "engine c answers over TLS with the client's certificate" \
    q docker --tlsverify --tlscacert "$CA/client/ca.pem" --tlscert "$CA/client/cert.pem" \
    --tlskey "$CA/client/key.pem" -H "tcp://127.0.0.1:$C_PORT" version
it_true "engine c refuses a client without a certificate" \
    sh -c "! curl -s --max-time 5 --cacert '$CA/ca.pem' https://127.0.0.1:$C_PORT/_ping"

REG_PORT=$(it_free_port)
REGISTRY=127.0.0.1:$REG_PORT
cat >"$IT_TMP/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $IT_TMP/registry}}
http: {addr: $REGISTRY}
EOF
docker-registry serve "$IT_TMP/registry.yml" >"$IT_TMP/registry.log" 2>&1 &
it_bg $!
ml_wait_for 30 curl -sf "http://$REGISTRY/v2/" || { echo "Bail out! docker-registry did not start"; exit 1; }

# instance_left HOST: containers of any stack of this test on engine HOST.
INSTANCES=()
instance_left() {
    local i n=0
    for i in "${INSTANCES[@]}"; do
        n=$((n + $(docker -H "$1" ps -aq --filter "label=minilambda.instance=$i" | wc -l)))
    done
    echo "$n"
}
none_left() { [ "$(instance_left "$1")" -eq 0 ]; }
# engine_state NAME: "up" or "down" as /healthz lists it.
engine_state() {
    curl -s --max-time 5 "$BASE/healthz" | jq -r --arg n "$1" '.engines[] | select(.name == $n) | .status'
}
engine_is() { [ "$(engine_state "$1")" = "$2" ]; }
# events HOST SINCE FID: containers of function FID created on HOST since SINCE (s).
events() {
    docker -H "$1" events --since "$2" --until "$(date +%s)" --filter type=container \
        --filter event=create --filter "label=minilambda.function=$3" --format '{{.ID}}' | wc -l
}

export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=8 MINILAMBDA_ASYNC_WORKERS=2
export MINILAMBDA_JANITOR_INTERVAL=2 MINILAMBDA_RETRY_BASE_MS=100 MINILAMBDA_WARM_MAX=0
export MINILAMBDA_ENGINES="$A_HOST;name=a;weight=2,$B_HOST;name=b,tcp://127.0.0.1:$C_PORT;name=c;tls=$CA/client"
export MINILAMBDA_REGISTRY=$REGISTRY
it_start cluster
INSTANCES+=("$(cat "$MINILAMBDA_DATA_DIR/instance")")
it_true "the instance id is kept in the data dir" grep -Eq '^[0-9a-f]{16}$' "$MINILAMBDA_DATA_DIR/instance"

it_req GET /healthz
it_expect "/healthz is 200 with three engines" 200
it_eq "/healthz lists a, b, c" "a:up:2 b:up:1 c:up:1" \
    "$(it_jq '[.engines[] | "\(.name):\(.status):\(.weight)"] | join(" ")')"

# --- 2. an image uploaded once reaches every engine through the registry ---
docker -H "$A_HOST" save "$IT_BUSYBOX" >"$IT_TMP/busybox.tar"
it_req POST /images -H 'Content-Type: application/x-tar' --data-binary "@$IT_TMP/busybox.tar"
it_expect "the upload is loaded" 200
it_eq "the answer lists the tag pushed to the registry" "$REGISTRY/$IT_BUSYBOX" "$(it_jq '.pushed[0]')"
it_true "the registry has the image" \
    sh -c "curl -sf http://$REGISTRY/v2/${IT_BUSYBOX%%:*}/tags/list | grep -q ${IT_BUSYBOX##*:}"
it_true "the registry's name for it is not left on a" \
    sh -c "! docker -H '$A_HOST' image inspect '$REGISTRY/$IT_BUSYBOX' >/dev/null 2>&1"
it_true "engine b does not have the image before its first call" \
    sh -c "! docker -H '$B_HOST' image inspect '$IT_BUSYBOX' >/dev/null 2>&1"
it_true "engine c does not have the image before its first call" \
    sh -c "! docker -H '$C_HOST' image inspect '$IT_BUSYBOX' >/dev/null 2>&1"

fn_sh quick 'cat >/dev/null; echo ok'
fn_sh slow 'cat >/dev/null; sleep 4; echo slow'
fn_sh aslow 'cat >/dev/null; sleep 3; echo done' '"retries":2'

# --- 3. 300 calls spread by weight --------------------------------------------
call_quick() {
    curl -s --max-time 120 -H 'Content-Type: application/json' -d '{"event":{}}' \
        "$BASE/invoke/quick" | jq -r '"\(.status) \(.engine)"'
}
export -f call_quick
export BASE
# First calls arrive together: b and c each pull the image once.
seq 9 | xargs -P 9 -I{} bash -c call_quick >"$IT_TMP/burst"
it_eq "9 calls arriving together all succeeded" 9 "$(grep -c '^succeeded ' "$IT_TMP/burst" || true)"
# Each engine's own record of what was made on it: a live event stream
# from now on (an engine keeps only its last 256 events to replay; --since
# covers the moment the stream takes to attach).
SINCE=$(date +%s.%N)
for e in a b c; do
    h=${e^^}_HOST
    docker -H "${!h}" events --since "$SINCE" --filter type=container --filter event=create \
        --filter "label=minilambda.function=${FID[quick]}" --format '{{.ID}}' >"$IT_TMP/events.$e" 2>/dev/null &
    it_bg $!
done
# One call at a time: where each goes is the placement alone, not which
# engine happens to answer fastest.
T_SPREAD=$(it_ms)
for i in $(seq 300); do call_quick; done >"$IT_TMP/spread"
echo "# 300 sequential calls over three engines took $(($(it_ms) - T_SPREAD)) ms"
ok=$(grep -c '^succeeded ' "$IT_TMP/spread" || true)
it_eq "300 calls succeeded" 300 "$ok"
declare -A GOT=()
for e in a b c; do GOT[$e]=$(grep -c " $e\$" "$IT_TMP/spread" || true); done
echo "# distribution over 300 calls (weights 2:1:1 -> 150/75/75): a ${GOT[a]}, b ${GOT[b]}, c ${GOT[c]}"
# within_share N WEIGHT_PERCENT: N of 300 is within 5 points of the share.
within_share() { [ $(($1 * 100 / 300)) -ge $(($2 - 5)) ] && [ $(($1 * 100 / 300)) -le $(($2 + 5)) ]; }
it_true "a's share follows its weight (50% +- 5: ${GOT[a]})" within_share "${GOT[a]}" 50
it_true "b's share follows its weight (25% +- 5: ${GOT[b]})" within_share "${GOT[b]}" 25
it_true "c's share follows its weight (25% +- 5: ${GOT[c]})" within_share "${GOT[c]}" 25
events_are() { [ "$(wc -l <"$IT_TMP/events.$1")" -eq "$2" ]; }
for e in a b c; do
    it_true "engine $e's own events count its ${GOT[$e]} calls" ml_wait_for 10 events_are "$e" "${GOT[$e]}"
done
LOG="$MINILAMBDA_RUN_DIR/minilambda.log"
it_eq "engine b pulled the image once" 1 "$(grep -c "engine b: pulled $IT_BUSYBOX" "$LOG" || true)"
it_eq "engine c pulled the image once" 1 "$(grep -c "engine c: pulled $IT_BUSYBOX" "$LOG" || true)"
it_true "engine b has the image now" q docker -H "$B_HOST" image inspect "$IT_BUSYBOX"
it_true "under its own name only" \
    sh -c "! docker -H '$B_HOST' image inspect '$REGISTRY/$IT_BUSYBOX' >/dev/null 2>&1"
grep -o "engine [bc]: pulled .* in [0-9]* ms" "$LOG" | sed 's/^/# /' || true

it_scrape
it_eq "minilambda_engine_up{engine=\"b\"} is 1" 1 "$(it_metric 'minilambda_engine_up{engine="b"}')"
it_eq "minilambda_engine_calls_total{engine=\"a\"} counts a's calls" \
    "$((GOT[a] + $(grep -c ' a$' "$IT_TMP/burst" || true)))" \
    "$(it_metric 'minilambda_engine_calls_total{engine="a"}')"
it_eq "the invocation series carry no engine label" 0 \
    "$(grep -E '^(Total_Invocations|Invocation_Duration_ms|minilambda_invocations_total)' "$IT_METRICS" | grep -c 'engine=' || true)"

# --- 4. kill -9 of b under load ---------------------------------------------
# A steady load of quick calls: "start_ms end_ms status engine" per call.
load() {
    local s e out
    while [ ! -f "$IT_TMP/stop-load" ]; do
        s=$(it_ms)
        out=$(curl -s --max-time 60 -H 'Content-Type: application/json' -d '{"event":{}}' \
            "$BASE/invoke/quick" | jq -r '"\(.status) \(.engine)"')
        e=$(it_ms)
        echo "$s $e $out" >>"$IT_TMP/load.$1"
    done
}
load 1 &
it_bg $!
load 2 &
it_bg $!
# Slow sync calls, enough that some run on b when it dies.
for i in 1 2 3 4 5 6; do
    (curl -s --max-time 60 -o "$IT_TMP/slow.$i" -H 'Content-Type: application/json' \
        -d '{"event":{}}' "$BASE/invoke/slow" || true; it_ms >"$IT_TMP/slow.$i.end") &
    it_bg $!
done
ASYNC=()
for i in 1 2 3 4 5 6; do
    it_async aslow '{"event":{}}'
    ASYNC+=("$IT_INV")
done
on_b() { [ "$(docker -H "$B_HOST" ps -q --filter "label=minilambda.instance=${INSTANCES[0]}" --filter status=running | wc -l)" -ge "$1" ]; }
it_true "calls are running on b" ml_wait_for 30 on_b 2
sleep_until_placed=$(it_ms)
T_KILL=$(it_ms)
it_engine_kill KILL b
ml_wait_for 10 engine_is b down || true
T_OUT=$(it_ms)
echo "# failover: b listed down $((T_OUT - T_KILL)) ms after kill -9 (wait for kill included $((T_KILL - sleep_until_placed)) ms)"
it_true "b is out within 2 s of its death ($((T_OUT - T_KILL)) ms)" test $((T_OUT - T_KILL)) -le 2000
it_req GET /healthz
it_expect "/healthz stays 200 while a and c answer" 200
# The slow calls end: those on b with 503 engine_unavailable, soon after its death.
slow_done() { local i; for i in 1 2 3 4 5 6; do [ -s "$IT_TMP/slow.$i.end" ] || return 1; done; }
it_true "the slow calls all answered" ml_wait_for 60 slow_done
on_b_n=0 fast=1 wrong=0
for i in 1 2 3 4 5 6; do
    eng=$(jq -r .engine "$IT_TMP/slow.$i" 2>/dev/null || true)
    if [ "$eng" = b ]; then
        on_b_n=$((on_b_n + 1))
        [ "$(jq -r .code "$IT_TMP/slow.$i")" = engine_unavailable ] || wrong=$((wrong + 1))
        [ $(($(cat "$IT_TMP/slow.$i.end") - T_KILL)) -le 2000 ] || fast=0
    elif [ "$(jq -r .status "$IT_TMP/slow.$i" 2>/dev/null)" != succeeded ]; then
        wrong=$((wrong + 1))
    fi
done
echo "# slow sync calls cut on b: $on_b_n of 6"
it_true "at least one sync call was on b when it died" test "$on_b_n" -ge 1
it_eq "the calls on b ended 503 engine_unavailable, the others succeeded" 0 "$wrong"
it_true "the calls on b ended within 2 s of its death" test "$fast" = 1
it_true "every async call completed (retried on another engine)" \
    ml_wait_for 90 it_all_are COMPLETED "${ASYNC[@]}"
# Calls placed once b was out: none went to b.
PLACED_B=$(curl -s "$BASE/metrics" | awk '$1 == "minilambda_engine_calls_total{engine=\"b\"}" {print $2}')
ml_wait_for 10 sh -c "[ \$(cat '$IT_TMP'/load.* | awk '\$1 > $T_OUT' | wc -l) -ge 10 ]" || true
touch "$IT_TMP/stop-load"
after=$(cat "$IT_TMP"/load.* | awk -v t="$T_OUT" '$1 > t' | wc -l)
after_b=$(cat "$IT_TMP"/load.* | awk -v t="$T_OUT" '$1 > t && $4 == "b"' | wc -l)
after_bad=$(cat "$IT_TMP"/load.* | awk -v t="$T_OUT" '$1 > t && $3 != "succeeded"' | wc -l)
it_true "load calls went on after b was out ($after)" test "$after" -ge 10
it_eq "no call started after b was out ran on b" 0 "$after_b"
it_eq "every call started after b was out succeeded" 0 "$after_bad"
it_eq "no call was placed on b since it was out" "$PLACED_B" \
    "$(curl -s "$BASE/metrics" | awk '$1 == "minilambda_engine_calls_total{engine=\"b\"}" {print $2}')"
it_eq "minilambda_engine_up{engine=\"b\"} is 0" 0 \
    "$(curl -s "$BASE/metrics" | awk '$1 == "minilambda_engine_up{engine=\"b\"}" {print $2}')"

it_engine_start_named b
T_BACK=$(it_ms)
it_true "b is back in" ml_wait_for 10 engine_is b up
echo "# b listed up $(($(it_ms) - T_BACK)) ms after it answered again"
it_true "b is back within 2 s of answering" test $(($(it_ms) - T_BACK)) -le 2000
for i in 1 2 3 4 5 6 7 8; do call_quick >>"$IT_TMP/back"; done
it_true "calls go to b again" grep -q ' b$' "$IT_TMP/back"
it_true "the janitor clears what the dead engine left on b" ml_wait_for 60 none_left "$B_HOST"

ml_stop_all
it_true "nothing of the cluster stack is left on a" ml_wait_for 30 none_left "$A_HOST"
it_true "nothing of the cluster stack is left on b" ml_wait_for 30 none_left "$B_HOST"
it_true "nothing of the cluster stack is left on c" ml_wait_for 30 none_left "$C_HOST"

# --- 5. without a registry, a call fails over to an engine with the image ---
ONLY_A=minilambda-engines-only-a:latest
# An image of its own (a retag would share its id with b's copy of the
# test image, and functions run their pinned id).
printf 'FROM %s\nLABEL minilambda.test=only-a\n' "$IT_BUSYBOX" |
    DOCKER_BUILDKIT=0 docker -H "$A_HOST" build -q -t "$ONLY_A" - >/dev/null
untag() { docker -H "$A_HOST" rmi "$ONLY_A" >/dev/null 2>&1 || true; }
it_after untag
unset MINILAMBDA_REGISTRY
export MINILAMBDA_ENGINES="$B_HOST;name=b;weight=5,$A_HOST;name=a" MINILAMBDA_WARM_MAX=4
FID=()
it_start noregistry
INSTANCES+=("$(cat "$MINILAMBDA_DATA_DIR/instance")")
fn onlya "$ONLY_A" '"command":["sh","-c","cat >/dev/null; echo ok"]'
: >"$IT_TMP/onlya"
for i in 1 2 3 4 5 6; do
    it_json POST /invoke/onlya '{"event":{}}'
    echo "$IT_STATUS $(it_jq .engine)" >>"$IT_TMP/onlya"
done
it_eq "every call ran, on a (b lacks the image)" "200 a:6" \
    "$(sort "$IT_TMP/onlya" | uniq -c | awk '{printf "%s %s:%s", $2, $3, $1}')"
it_true "b still lacks the image" sh -c "! docker -H '$B_HOST' image inspect '$ONLY_A' >/dev/null 2>&1"

# Warm containers belong to an engine; a call takes a ready one, on its
# engine, and it is removed there.
warm_on() { docker -H "$1" ps -q --filter "label=minilambda.function=${FID[kw]}" --filter status=running | wc -l; }
warm_ready() { [ $(($(warm_on "$A_HOST") + $(warm_on "$B_HOST"))) -ge 2 ]; }
fn kw "$IT_BUSYBOX" '"command":["sh","-c","cat >/dev/null; echo ok"],"keep_warm":2'
it_true "two warm containers are made, on the engines" ml_wait_for 60 warm_ready
declare -A READY=([a]=$(warm_on "$A_HOST") [b]=$(warm_on "$B_HOST"))
echo "# warm containers of kw: a ${READY[a]}, b ${READY[b]}"
it_json POST /invoke/kw '{"event":{}}'
it_expect "a call of kw succeeds" 200
it_eq "it took a warm container" warm "$(it_jq .start)"
ran_on=$(it_jq '.engine // empty')
it_true "it ran on an engine that had one ready (${ran_on:-none named})" \
    test "${READY[${ran_on:-none}]:-0}" -gt 0

# The keeper too: a warm container whose image b lacks is made on a.
fn kwa "$ONLY_A" '"command":["sh","-c","cat >/dev/null; echo ok"],"keep_warm":1'
kwa_on() { docker -H "$1" ps -q --filter "label=minilambda.function=${FID[kwa]}" --filter status=running | wc -l; }
kwa_ready() { [ "$(kwa_on "$A_HOST")" -ge 1 ]; }
it_true "a warm container of an image only a has is made on a" ml_wait_for 30 kwa_ready
it_eq "and none on b" 0 "$(kwa_on "$B_HOST")"

# --- 6. no engine answers ------------------------------------------------------
it_stop_pool
export MINILAMBDA_ENGINES="unix://$IT_TMP/nothing.sock;name=gone"
ml_start_pool || { echo "Bail out! the pool did not restart"; exit 1; }
healthz_503() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz")" = 503 ]; }
it_true "/healthz is 503 when no engine answers" ml_wait_for 10 healthz_503
it_req GET /healthz
it_eq "its code is engine_unavailable" engine_unavailable "$(it_jq .code)"
it_eq "it lists the engine down" "gone:down" "$(it_jq '[.engines[] | "\(.name):\(.status)"] | join(" ")')"
it_json POST /invoke/onlya '{"event":{}}'
it_expect "a call is 503 engine_unavailable" 503 engine_unavailable

# --- 7. nothing left ---------------------------------------------------------------
ml_stop_all
it_true "nothing is left on a" ml_wait_for 30 none_left "$A_HOST"
it_true "nothing is left on b" ml_wait_for 30 none_left "$B_HOST"
it_true "nothing is left on c" ml_wait_for 30 none_left "$C_HOST"
it_done
