#!/usr/bin/env bash
# minilambda-init in a real container: the busybox test image (FROM scratch,
# so no libc in it), a read-only root, the binary bind-mounted read-only as
# the entrypoint, with the image's user and directory and with --user 1000
# and a workdir; fresh mode (one call, framed: env + event reach the
# command, its status is the "x" frame's and the container's) and reuse
# mode (two requests, frames checked). Only the docker CLI and the shared
# engine: no pool, no nginx.
# Single quotes hold shell text that the container's shell expands.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_bin="$ML_BUILD/minilambda-init"
if [ ! -x "$init_bin" ]; then
    echo "Bail out! $init_bin is not built"
    exit 1
fi
if ! it_busybox_image; then
    echo "Bail out! the busybox test image could not be built"
    exit 1
fi

label=minilambda.test=init-$$
remove_containers() { docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1; }
it_after remove_containers

# run MODE [docker run options...] -- COMMAND...: a container of the test
# image with init as its entrypoint; stdin is $IT_TMP/in, stdout goes to
# $IT_TMP/out, stderr to $IT_TMP/err; RC is docker run's exit code.
RC=0
run() {
    local mode=$1 opts=()
    shift
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    RC=0
    # The platform's hardening, as container.c sets it.
    docker run -i --rm --read-only --label "$label" --network none \
        --cap-drop ALL --security-opt no-new-privileges --pids-limit 256 --tmpfs /tmp \
        -v "$init_bin:/.minilambda/init:ro" --entrypoint /.minilambda/init \
        "${opts[@]}" "$IT_BUSYBOX" "$mode" -- "$@" \
        <"$IT_TMP/in" >"$IT_TMP/out" 2>"$IT_TMP/err" || RC=$?
}

request() { it_init_request "$IT_TMP/in" "$@"; }
decode() { it_init_decode "$IT_TMP/out" "$IT_TMP"; }

# --- fresh mode ---------------------------------------------------------

probe='printf "%s|%s|%s|%s|" "$MINILAMBDA_INVOCATION_ID" "$MINILAMBDA_ATTEMPT" "$(id -u)" "$(pwd)"; cat'

: >"$IT_TMP/in"
request '{"message":"hi"}' MINILAMBDA_INVOCATION_ID=inv-1 MINILAMBDA_ATTEMPT=2
run fresh -- sh -c "$probe"
it_eq "fresh: exit code 0" 0 "$RC"
it_true "fresh: the output is well-formed frames" decode
it_eq "fresh: env and event reach the command, as the image's user in its directory" \
    'inv-1|2|0|/|{"message":"hi"}' "$(cat "$IT_TMP/o")"
it_eq "fresh: status 0 in the x frame" 0 "$(cat "$IT_TMP/x")"
it_eq "fresh: init itself said nothing" "" "$(cat "$IT_TMP/err")"

run fresh --user 1000:1000 -w /bin -- sh -c "$probe"
it_eq "fresh, --user 1000 -w /bin: exit code 0" 0 "$RC"
it_true "fresh, --user 1000 -w /bin: well-formed frames" decode
it_eq "fresh, --user 1000 -w /bin: that user, that directory" \
    'inv-1|2|1000|/bin|{"message":"hi"}' "$(cat "$IT_TMP/o")"

run fresh -- sh -c 'cat >/dev/null; echo bye >&2; exit 7'
it_eq "fresh: the function's exit code is the container's" 7 "$RC"
it_true "fresh: well-formed frames" decode
it_eq "fresh: ... and the x frame's" 7 "$(cat "$IT_TMP/x")"
it_eq "fresh: the function's stderr, in e frames" bye "$(cat "$IT_TMP/e")"

printf 'MLINIT/3 1 0 %s\nlower=x\n' "$IT_NONCE" >"$IT_TMP/in"
run fresh -- sh -c 'echo ran'
it_eq "fresh: a malformed header exits 125" 125 "$RC"
it_eq "fresh: ... without running the command" "" "$(cat "$IT_TMP/out")"
it_true "fresh: ... saying why on stderr" grep -q '^minilambda-init: env line 1' "$IT_TMP/err"

# --- reuse mode ---------------------------------------------------------

: >"$IT_TMP/in"
request 'first' MINILAMBDA_INVOCATION_ID=a ONLY_FIRST=1
request 'second' MINILAMBDA_INVOCATION_ID=b
script='printf "%s|%s|%s|%s|" "$MINILAMBDA_INVOCATION_ID" "${ONLY_FIRST-unset}" "$(id -u)" "$(pwd)"; cat; echo "log $MINILAMBDA_INVOCATION_ID" >&2; [ "$MINILAMBDA_INVOCATION_ID" = a ] || exit 3'
run reuse -- sh -c "$script"
it_eq "reuse: exit 0 at the end of stdin" 0 "$RC"
it_true "reuse: the output is well-formed frames" decode
it_eq "reuse: stdout of both calls" 'a|1|0|/|firstb|unset|0|/|second' "$(cat "$IT_TMP/o")"
it_eq "reuse: stderr of both calls" $'log a\nlog b' "$(cat "$IT_TMP/e")"
it_eq "reuse: the statuses of both calls" "0 3" "$(cat "$IT_TMP/x")"
it_eq "reuse: init itself said nothing" "" "$(cat "$IT_TMP/err")"

run reuse --user 1000:1000 -w /bin -- sh -c "$script"
it_eq "reuse, --user 1000 -w /bin: exit 0" 0 "$RC"
it_true "reuse, --user 1000 -w /bin: well-formed frames" decode
it_eq "reuse, --user 1000 -w /bin: that user, that directory" \
    'a|1|1000|/bin|firstb|unset|1000|/bin|second' "$(cat "$IT_TMP/o")"
it_eq "reuse, --user 1000 -w /bin: statuses" "0 3" "$(cat "$IT_TMP/x")"

# A background process outliving its call holds the pipes: the loop goes on.
: >"$IT_TMP/in"
request '' SCRIPT='sleep 600 & echo started'
request '' SCRIPT='echo second'
start=$SECONDS
run reuse -- sh -c 'eval "$SCRIPT"'
it_eq "reuse: a background process does not hang the loop" 0 "$RC"
it_true "reuse: ... and it ended with its call (well under the sleep)" test $((SECONDS - start)) -lt 120
decode || true
it_eq "reuse: ... both calls answered" $'started\nsecond' "$(cat "$IT_TMP/o")"

# gVisor, when the engine has it: signalfd, the subreaper, process groups.
if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
    : >"$IT_TMP/in"
    request 'first' MINILAMBDA_INVOCATION_ID=a ONLY_FIRST=1
    request 'second' MINILAMBDA_INVOCATION_ID=b
    run reuse --runtime runsc -- sh -c "$script"
    it_eq "reuse under runsc: exit 0" 0 "$RC"
    it_true "reuse under runsc: well-formed frames" decode
    it_eq "reuse under runsc: stdout of both calls" 'a|1|0|/|firstb|unset|0|/|second' \
        "$(cat "$IT_TMP/o")"
    it_eq "reuse under runsc: statuses" "0 3" "$(cat "$IT_TMP/x")"
else
    it_ok "reuse under runsc # SKIP the engine has no runsc runtime"
fi

it_true "no test container is left" ml_wait_for 30 it_count_is 0 "label=$label"

it_done
