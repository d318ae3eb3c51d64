#!/usr/bin/env bash
# A long-lived worker must not grow: after a warm-up, tens of thousands of
# control-plane requests (each /healthz pings the engine through libcurl)
# and hundreds of invocations (create, hijacked attach, wait, remove) leave
# every worker's open descriptors unchanged and its RSS within a small
# margin, and leave no container behind.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
command -v wrk >/dev/null || { echo "Bail out! wrk is needed (apt-get install wrk)"; exit 1; }

export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=8 MINILAMBDA_CONTROL_THREADS=4
export MINILAMBDA_ASYNC_WORKERS=0
# Calls in the soak: 300 cold ones, 1000 in each warm mode (the *_warm,
# *_container and *_process wrappers).
CALLS=$([ "$IT_MODE" = cold ] && echo 300 || echo 1000)
it_start soak
fn echo "$IT_BUSYBOX"
ID=${FID[echo]}

WORKER=$(it_fcgi_workers | head -1)
KEEPER=""
if [ "$IT_MODE" != cold ]; then
    KEEPER=$(it_keeper_pid)
fi
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# ready_of: the containers of echo the keeper holds ready now.
ready_of() {
    it_scrape "$IT_TMP/ready-metrics"
    it_metric0 'minilambda_warm_containers{function="echo"}' "$IT_TMP/ready-metrics"
}
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# invocations N PARALLEL: N cat invocations, PARALLEL at a time; prints the
# number that did not answer 200.
invocations() {
    local n=$1 par=$2 i
    for ((i = 0; i < n; i++)); do
        printf '{"event":{"i":%d}}\n' "$i"
    done | xargs -d '\n' -P "$par" -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 \
        -H 'Content-Type: application/json' -d {} "$BASE/invoke/echo" | grep -vc '^200$' || true
}

# control SECONDS PATH: wrk at 16 connections; prints the request count.
control() {
    wrk -t2 -c16 -d"$1s" "$BASE$2" | awk '/requests in/ {print $1}'
}

# Warm-up: every thread has served, caches and libcurl connections exist.
control 2 "/functions/$ID" >/dev/null
control 2 /healthz >/dev/null
it_eq "warm-up invocations all 200" 0 "$(invocations 40 8)"
RSS0=$(rss_kb "$WORKER")
FD0=$(fds "$WORKER")
if [ -n "$KEEPER" ]; then
    KRSS0=$(rss_kb "$KEEPER")
    KFD0=$(fds "$KEEPER")
    READY0=$(ready_of)
fi

N1=$(control 8 "/functions/$ID")
N2=$(control 8 /healthz)
N3=$(control 4 /functions)
BAD=$(invocations "$CALLS" 8)
echo "# $N1 GET /functions/{id}, $N2 GET /healthz, $N3 GET /functions, $CALLS invocations ($IT_MODE)"

RSS1=$(rss_kb "$WORKER")
FD1=$(fds "$WORKER")
echo "# worker $WORKER: RSS ${RSS0} -> ${RSS1} KiB, fds ${FD0} -> ${FD1}"
it_eq "every soak invocation answered 200" 0 "$BAD"
it_true "tens of thousands of control requests served ($((N1 + N2 + N3)))" \
    test "$((N1 + N2 + N3))" -ge 10000
it_eq "the worker is the same process" "$WORKER" "$(it_fcgi_workers | head -1)"
# An invoke thread opens its engine connection (kept) at its first call
# that needs the engine: 3 descriptors at most (the connection, and the
# wake-up socket pair of its libcurl handle). The warm-up cannot pin calls
# to threads: a thread that got none of them (FastCGI hands a request to
# whichever thread accepts first), or in a reuse mode got only warm ones,
# opens it during the soak. So 3 per thread at most; a leak of one per
# call would be hundreds.
SLACK=$((3 * MINILAMBDA_THREADS))
it_true "no descriptor more than before, but the invoke threads' engine connections ($FD0 -> $FD1)" \
    test "$FD1" -le "$((FD0 + SLACK))"
it_true "RSS grew by less than 8 MiB (${RSS0} -> ${RSS1} KiB)" test "$((RSS1 - RSS0))" -lt 8192
if [ -n "$KEEPER" ]; then
    # The keeper's ready containers come and go with the calls: settle first.
    ml_wait_for 30 it_settled echo || true
    KRSS1=$(rss_kb "$KEEPER")
    # Ready before and after the count: a container made meanwhile counts.
    READY1=$(ready_of)
    KFD1=$(fds "$KEEPER")
    r=$(ready_of)
    [ "$r" -le "$READY1" ] || READY1=$r
    echo "# keeper $KEEPER: RSS ${KRSS0} -> ${KRSS1} KiB, fds ${KFD0} -> ${KFD1}, ready ${READY0} -> ${READY1}"
    it_true "the keeper is the same process" kill -0 "$KEEPER"
    # A ready container holds 3: its attach socket, and the wake-up socket
    # pair of the libcurl handle it was attached with (kept for TLS). 4
    # more for the engine threads' connections, which come and go.
    it_true "the keeper holds no descriptor more than its ready containers' ($KFD0 -> $KFD1)" \
        test "$KFD1" -le $((KFD0 + 3 * (READY1 - READY0) + 4))
    it_true "the keeper's RSS grew by less than 8 MiB (${KRSS0} -> ${KRSS1} KiB)" \
        test "$((KRSS1 - KRSS0))" -lt 8192
fi
it_no_containers_left
: "$ID"
it_done
