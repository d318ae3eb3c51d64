#!/usr/bin/env bash
# The janitor: a worker SIGKILLed mid-invocation leaves its container
# behind; the master respawns the worker and removes the container. A stray
# container labelled with this instance is removed too; one labelled with
# another instance is left alone.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

OTHER_INSTANCE="it-janitor-other-$$-$RANDOM"
STRAYS=() # containers this script created itself, removed at exit whatever happens

janitor_cleanup() {
    local rc=$?
    set +e
    [ "${#STRAYS[@]}" -eq 0 ] || docker rm -f "${STRAYS[@]}" >/dev/null 2>&1
    (exit "$rc")
    it_cleanup
}
trap janitor_cleanup EXIT

export MINILAMBDA_WORKERS=1 MINILAMBDA_JANITOR_INTERVAL=1
it_start janitor

it_register sleeper "$IT_BUSYBOX" '"command":["sleep","60"],"timeout":120'
SLEEPER=$(it_jq .id)
it_register echo "$IT_BUSYBOX" '"command":["cat"]'
ECHO=$(it_jq .id)
it_register live "$IT_BUSYBOX" '"command":["sh","-c","cat >/dev/null; sleep 4; echo alive"],"timeout":60'
LIVE=$(it_jq .id)

jqe() { jq -e "$@" >/dev/null 2>&1; }
gone() { ! docker inspect "$1" >/dev/null 2>&1; }
exists() { docker inspect "$1" >/dev/null 2>&1; }
new_worker() {
    local w
    w=$(it_fcgi_workers)
    [ -n "$w" ] && [ "$w" != "$1" ] && [ "$(wc -w <<<"$w")" -eq 1 ]
}

# --- a worker killed mid-invocation -----------------------------------------------
curl -s -o "$IT_TMP/long.body" -w '%{http_code}' --max-time 90 \
    -H 'Content-Type: application/json' --data-binary '{}' \
    "$BASE/invoke/sleeper" >"$IT_TMP/long.status" 2>/dev/null &
client=$!
if ml_wait_for 30 it_count_is 1 "label=minilambda.function=$SLEEPER" status=running; then
    it_ok "the long invocation's container is running"
else
    it_not_ok "the long invocation's container is running" "none after 30 s"
fi
cid=$(docker ps -q --filter "label=minilambda.function=$SLEEPER" | head -1)
INSTANCE=""
[ -z "$cid" ] || INSTANCE=$(docker inspect --format '{{index .Config.Labels "minilambda.instance"}}' "$cid")
it_true "the container carries an instance label ([$INSTANCE])" test -n "$INSTANCE"
it_eq "the container carries minilambda.managed=1" 1 \
    "$([ -z "$cid" ] || docker inspect --format '{{index .Config.Labels "minilambda.managed"}}' "$cid")"
it_true "the container carries an invocation label" \
    test -n "$([ -z "$cid" ] || docker inspect --format '{{index .Config.Labels "minilambda.invocation"}}' "$cid")"

worker=$(it_fcgi_workers)
it_eq "one worker" 1 "$(wc -w <<<"$worker")"
t0=$SECONDS
kill -KILL "$worker"
if [ -n "$cid" ] && ml_wait_for 10 gone "$cid"; then
    it_ok "the dead worker's container is removed within 10 s ($((SECONDS - t0)) s)"
else
    it_not_ok "the dead worker's container is removed within 10 s" "container ${cid:-?} still there"
fi
if ml_wait_for 10 new_worker "$worker"; then
    it_ok "the master respawned a worker (pid $(it_fcgi_workers), was $worker)"
else
    it_not_ok "the master respawned a worker" "workers now: [$(it_fcgi_workers | tr '\n' ' ')]"
fi
wait "$client" || true
it_eq "the interrupted client got an error status, not a hang" 502 "$(cat "$IT_TMP/long.status" 2>/dev/null)"
it_true "the interrupted client got a JSON error" jqe .code "$IT_TMP/long.body"
it_true "no container of the sleeper is left" it_count_is 0 "label=minilambda.function=$SLEEPER"
it_json POST /invoke/echo '{"event":{"after":"respawn"}}'
it_expect "the respawned worker invokes" 200
it_eq "the respawned worker's result" '{"after":"respawn"}' "$(it_jq .result)"

# --- stray containers: this instance's go, another instance's stay ---------------------
if [ -z "$INSTANCE" ]; then
    echo "Bail out! no instance label to test the janitor with"
    exit 1
fi
foreign=$(docker create --network none --label minilambda.managed=1 \
    --label "minilambda.instance=$OTHER_INSTANCE" "$IT_BUSYBOX" sleep 60)
STRAYS+=("$foreign")
# A live invocation runs across the sweeps that remove the strays.
curl -s -o "$IT_TMP/live.body" -w '%{http_code}' --max-time 60 \
    -H 'Content-Type: application/json' --data-binary '{}' \
    "$BASE/invoke/live" >"$IT_TMP/live.status" 2>/dev/null &
client=$!
ml_wait_for 30 it_count_is 1 "label=minilambda.function=$LIVE" status=running || true
live_cid=$(docker ps -q --filter "label=minilambda.function=$LIVE" | head -1)
it_true "a live invocation's container is running" test -n "$live_cid"
stray=$(docker create --network none --label minilambda.managed=1 \
    --label "minilambda.instance=$INSTANCE" "$IT_BUSYBOX" sleep 60)
STRAYS+=("$stray")
t0=$SECONDS
if ml_wait_for 10 gone "$stray"; then
    it_ok "a created stray container of this instance is removed within 10 s ($((SECONDS - t0)) s)"
else
    it_not_ok "a created stray container of this instance is removed within 10 s" "$stray still there"
fi
it_true "the sweep left the live invocation's container alone" exists "${live_cid:-none}"
wait "$client" || true
it_eq "the live invocation completed with 200 across the sweeps" 200 "$(cat "$IT_TMP/live.status" 2>/dev/null)"
it_eq "the live invocation's result" alive "$(jq -r .result "$IT_TMP/live.body" 2>/dev/null)"
# A running one too, and it proves a later sweep ran while the foreign one was there.
# A sweep (every second) may take it between docker run's create and start:
# then docker run fails, and the container is gone, as it should be.
running=ml-it-janitor-running-$$
STRAYS+=("$running")
docker run -d --name "$running" --network none --label minilambda.managed=1 \
    --label "minilambda.instance=$INSTANCE" \
    --label "minilambda.invocation=00000000-0000-4000-8000-000000000001" "$IT_BUSYBOX" \
    sleep 60 >/dev/null 2>&1 || true
t0=$SECONDS
if ml_wait_for 10 gone "$running"; then
    it_ok "a running stray container of this instance is removed within 10 s ($((SECONDS - t0)) s)"
else
    it_not_ok "a running stray container of this instance is removed within 10 s" "$running still there"
fi
it_true "a container of another instance is left alone" exists "$foreign"
it_true "the janitor's removals are in the pool log" \
    grep -q "janitor: .*${stray:0:12}" "$MINILAMBDA_RUN_DIR/minilambda.log"

docker rm -f "$foreign" >/dev/null
it_true "nothing of this script's functions is left" \
    it_count_is 0 "label=minilambda.function=$SLEEPER"
it_true "nothing of this script's functions is left (echo)" \
    it_count_is 0 "label=minilambda.function=$ECHO"
it_true "nothing of this script's functions is left (live)" \
    it_count_is 0 "label=minilambda.function=$LIVE"
it_true "nothing of this instance is left" it_count_is 0 "label=minilambda.instance=$INSTANCE"

it_done
