#!/usr/bin/env bash
# Synchronous invoke end to end, against the real engine with the tiny
# busybox image: the event on stdin, stdout as the result, stderr as the
# logs, failures, timeouts, body and output caps, the environment and the
# isolation a function runs with, and concurrent invocations kept apart.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
export MINILAMBDA_WORKERS=2 MINILAMBDA_THREADS=16
unset MINILAMBDA_MAX_CONCURRENCY
it_start invoke




# invoke REF JSON [curl args...]
invoke() {
    local ref=$1 body=$2
    shift 2
    it_json POST "/invoke/$ref" "$body" "$@"
}

# invoke_file REF FILE [curl args...]: the body is a file.
invoke_file() {
    local ref=$1 file=$2
    shift 2
    it_req POST "/invoke/$ref" -H 'Content-Type: application/json' --data-binary "@$file" "$@"
}

# jqe FILTER FILE: jq -e, quietly.
jqe() { jq -e "$@" >/dev/null 2>&1; }

# Canonical JSON (sorted keys, compact) of stdin, or "invalid" when it is not JSON.
canon() { jq -cS . 2>/dev/null || echo invalid; }

fn echo "$IT_BUSYBOX" '"command":["cat"]'

# --- the event reaches stdin as JSON, stdout comes back as the result -------
event='{"a":1,"b":[true,null,"x"],"s":"h\u00e9llo \"quoted\" \\ back","n":-2.5,"o":{"k":{}}}'
invoke echo "{\"event\":$event}"
it_expect "echo: 200" 200
it_eq "echo: result is the event's JSON" "$(canon <<<"$event")" "$(it_jq .result | canon)"
it_eq "echo: status succeeded" succeeded "$(it_jq .status)"
it_eq "echo: exit_code 0" 0 "$(it_jq .exit_code)"
it_eq "echo: logs empty" "" "$(it_jq .logs)"
it_true "echo: duration is a non-negative number" \
    jqe '(.duration | type) == "number" and .duration >= 0' "$IT_BODY"
it_true "echo: timestamp is RFC 3339 UTC" \
    jqe '.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$")' "$IT_BODY"
it_true "echo: no truncated flag" jqe '.truncated != true' "$IT_BODY"
it_eq "echo: X-Invocation-Id header equals the body's invocation_id" \
    "$(it_jq .invocation_id)" "$(it_header X-Invocation-Id)"
it_true "echo: invocation_id is a UUID" \
    jqe '.invocation_id | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")' "$IT_BODY"

# by name and by id alike
invoke "${FID[echo]}" '{"event":{"by":"id"}}'
it_expect "echo by id: 200" 200
it_eq "echo by id: result" '{"by":"id"}' "$(it_jq .result | canon)"

# --- no event means {} -----------------------------------------------------
invoke echo '{}'
it_expect "no event: 200" 200
it_eq "no event: stdin is {}" '{}' "$(it_jq .result | canon)"
it_eq "no event: stdin is exactly {}" '{}' "$(it_jq .result)"
it_req POST /invoke/echo
it_expect "empty body: 200" 200
it_eq "empty body: stdin is {}" '{}' "$(it_jq .result | canon)"

# --- events of other JSON types ---------------------------------------------
invoke echo '{"event":"hello world"}'
it_expect "string event: 200" 200
it_eq "string event: stdin is the JSON string" '"hello world"' "$(it_jq .result)"
invoke echo '{"event":42}'
it_expect "number event: 200" 200
it_eq "number event: stdin is 42" 42 "$(it_jq .result)"
invoke echo '{"event":[1,"two",null,{"three":3}]}'
it_expect "array event: 200" 200
it_eq "array event: stdin is the array" '[1,"two",null,{"three":3}]' "$(it_jq .result | canon)"
invoke echo '{"event":null,"timeout":10}'
it_expect "null event: 200" 200
it_eq "null event: stdin is null" null "$(it_jq .result)"

# --- stdout and stderr stay apart -----------------------------------------
fn_sh split 'echo out; echo err >&2; echo out2; echo err2 >&2'
invoke split '{}'
it_expect "stdout/stderr: 200" 200
it_eq "stdout/stderr: result is stdout only" $'out\nout2' "$(it_jq .result)"
it_eq "stdout/stderr: logs are stderr only" $'err\nerr2' "$(it_jq .logs)"

# --- a non-zero exit ---------------------------------------------------------
fn_sh fail3 'cat >/dev/null; echo partial; echo boom >&2; exit 3'
invoke fail3 '{"event":{"x":1}}'
it_expect "exit 3: 502 function_failed" 502 function_failed
it_eq "exit 3: status failed" failed "$(it_jq .status)"
it_eq "exit 3: exit_code 3" 3 "$(it_jq .exit_code)"
it_eq "exit 3: logs kept" boom "$(it_jq .logs)"
it_eq "exit 3: stdout kept" partial "$(it_jq .result)"
it_true "exit 3: error is a sentence" jqe '(.error | type) == "string" and (.error | length) > 0' "$IT_BODY"
it_eq "exit 3: X-Invocation-Id header on the error too" \
    "$(it_jq .invocation_id)" "$(it_header X-Invocation-Id)"

# --- timeouts ---------------------------------------------------------------
fn_sh sleeper 'sleep 100' '"timeout":60'
t0=$(it_ms)
invoke sleeper '{"timeout":1}'
elapsed=$(($(it_ms) - t0))
it_expect "timeout 1 s: 504 timeout" 504 timeout
it_eq "timeout: status timeout" timeout "$(it_jq .status)"
it_true "timeout: answered within 2 s (took ${elapsed} ms; body timeout overrode the function's 60 s)" \
    test "$elapsed" -lt 2000
it_true "timeout: answered no earlier than the deadline (${elapsed} ms)" test "$elapsed" -ge 1000
it_true "timeout: no container of the function is left" ml_wait_for 30 it_settled sleeper

fn_sh slow2 'sleep 2; echo done' '"timeout":1'
invoke slow2 '{}'
it_expect "function timeout 1 s applies without a body timeout: 504" 504 timeout
invoke slow2 '{"timeout":10}'
it_expect "body timeout 10 overrides the function's 1 s: 200" 200
it_eq "body timeout override: result" "done" "$(it_jq .result)"
invoke slow2 '{"timeout":0}'
it_expect "body timeout 0 means the function's own: 504" 504 timeout
it_true "timeouts: no container of slow2 is left" ml_wait_for 30 it_settled slow2

# --- request body limit (6 MiB) -----------------------------------------------
LIMIT=$((6 * 1024 * 1024))
# big_body FILE TOTAL_BYTES: {"event":"aaa..."} of exactly TOTAL_BYTES.
big_body() {
    { printf '{"event":"'; head -c "$(($2 - 12))" /dev/zero | tr '\0' a; printf '"}'; } >"$1"
}
big_body "$IT_TMP/body7m" $((7 * 1024 * 1024))
invoke_file echo "$IT_TMP/body7m"
it_expect "7 MiB body: 413 payload_too_large (JSON)" 413 payload_too_large

big_body "$IT_TMP/body9m" $((9 * 1024 * 1024))
invoke_file echo "$IT_TMP/body9m"
it_expect "9 MiB body (past nginx's bound): 413 JSON" 413 payload_too_large

big_body "$IT_TMP/body-limit" "$LIMIT"
[ "$(wc -c <"$IT_TMP/body-limit")" -eq "$LIMIT" ] || { echo "Bail out! the limit body is not $LIMIT bytes"; exit 1; }
invoke_file echo "$IT_TMP/body-limit"
it_expect "body of exactly 6 MiB: 200" 200
{ printf '"'; head -c "$((LIMIT - 12))" /dev/zero | tr '\0' a; printf '"'; } >"$IT_TMP/expect-limit"
jq -j .result <"$IT_BODY" >"$IT_TMP/got-limit" 2>/dev/null || true
it_true "body of exactly 6 MiB: the event is echoed back byte for byte" \
    cmp -s "$IT_TMP/expect-limit" "$IT_TMP/got-limit"
it_true "body of exactly 6 MiB: not truncated" jqe '.truncated != true' "$IT_BODY"

big_body "$IT_TMP/body-over" $((LIMIT + 1))
invoke_file echo "$IT_TMP/body-over"
it_expect "body of 6 MiB + 1 byte: 413 payload_too_large" 413 payload_too_large
rm -f "$IT_TMP"/body7m "$IT_TMP"/body9m "$IT_TMP"/body-limit "$IT_TMP"/body-over \
    "$IT_TMP"/expect-limit "$IT_TMP"/got-limit

# --- missing image, unknown function ------------------------------------------
missing="minilambda-it-no-such-image-$$:v1"
fn ghost "$missing"
invoke ghost '{}'
it_expect "missing image: 502 image_not_found" 502 image_not_found
it_true "missing image: the error names the image" \
    grep -qF "$missing" <<<"$(it_jq .error)"
it_true "missing image: no container left" it_count_is 0 "label=minilambda.function=${FID[ghost]}"

invoke no-such-function '{}'
it_expect "unknown function by name: 404 not_found" 404 not_found
invoke 00000000-0000-4000-8000-000000000000 '{}'
it_expect "unknown function by id: 404 not_found" 404 not_found

# --- the environment a function sees --------------------------------------------
fn_sh envfn 'env' '"env":{"GREETING":"hello world","EQ":"a=b"},"timeout":30'
before=$(it_ms)
invoke envfn '{}'
after=$(it_ms)
it_expect "env: 200" 200
envout=$(it_jq .result)
envvar() { sed -n "s/^$1=//p" <<<"$envout"; }
inv_id=$(it_jq .invocation_id)
it_eq "env: the function's own env (GREETING)" "hello world" "$(envvar GREETING)"
it_eq "env: the function's own env (EQ with =)" "a=b" "$(envvar EQ)"
it_eq "env: MINILAMBDA_FUNCTION_NAME" envfn "$(envvar MINILAMBDA_FUNCTION_NAME)"
it_eq "env: MINILAMBDA_INVOCATION_ID equals the body's invocation_id" "$inv_id" \
    "$(envvar MINILAMBDA_INVOCATION_ID)"
it_eq "env: MINILAMBDA_INVOCATION_ID equals X-Invocation-Id" "$(it_header X-Invocation-Id)" \
    "$(envvar MINILAMBDA_INVOCATION_ID)"
it_eq "env: MINILAMBDA_ATTEMPT is 1" 1 "$(envvar MINILAMBDA_ATTEMPT)"
deadline_ms=$(envvar MINILAMBDA_DEADLINE_MS)
if [[ "$deadline_ms" =~ ^[0-9]+$ ]]; then
    it_ok "env: MINILAMBDA_DEADLINE_MS is numeric ($deadline_ms)"
    # Unix ms of start + 30 s timeout: between our send + 30 s (less a second's slack) and reply + 30 s.
    it_true "env: MINILAMBDA_DEADLINE_MS is start + the 30 s timeout" \
        test "$deadline_ms" -ge $((before + 29000)) -a "$deadline_ms" -le $((after + 30000))
else
    it_not_ok "env: MINILAMBDA_DEADLINE_MS is numeric" "got [$deadline_ms]"
    it_not_ok "env: MINILAMBDA_DEADLINE_MS is start + the 30 s timeout" "not numeric"
fi
if ml_wait_for 10 grep -qF "$inv_id" "$MINILAMBDA_RUN_DIR/minilambda.log"; then
    it_ok "the invocation id appears in the pool log"
else
    it_not_ok "the invocation id appears in the pool log" "$inv_id not in $MINILAMBDA_RUN_DIR/minilambda.log"
fi

# --- isolation: no network, read-only root, caps dropped -------------------------
fn_sh netfn "ls /sys/class/net; if wget -q -T 2 -O /dev/null http://127.0.0.1:$MINILAMBDA_PORT/healthz 2>/dev/null; then echo REACHED; else echo UNREACHABLE; fi"
invoke netfn '{}'
it_expect "network: 200" 200
it_eq "network: only the loopback interface, and the stack's port is unreachable" \
    $'lo\nUNREACHABLE' "$(it_jq .result)"

fn_sh fsfn 'if touch /x 2>/dev/null; then echo root-writable; else echo root-readonly; fi; if touch /tmp/x; then echo tmp-writable; else echo tmp-readonly; fi; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status | tr -s "\t " " "'
invoke fsfn '{}'
it_expect "filesystem: 200" 200
fsout=$(it_jq .result)
it_eq "filesystem: touch /x fails (read-only root)" root-readonly "$(sed -n 1p <<<"$fsout")"
it_eq "filesystem: touch /tmp/x works (tmpfs)" tmp-writable "$(sed -n 2p <<<"$fsout")"
it_eq "capabilities: all dropped" "CapEff: 0000000000000000" "$(grep '^CapEff' <<<"$fsout" || true)"
# gVisor's /proc shows no NoNewPrivs line: it applies its own filter to the
# sandbox instead of the engine's seccomp and no-new-privileges.
if [ "${MINILAMBDA_TEST_RUNTIME:-}" != runsc ]; then
    it_eq "no-new-privileges set" "NoNewPrivs: 1" "$(grep '^NoNewPrivs' <<<"$fsout" || true)"
fi

# --- 1 GB of stdout: capped at 6 MiB, memory bounded ---------------------------------
if [ "$IT_MODE" = process ]; then
    # ml-loop keeps a call's output in the container's 64 MiB /tmp: a
    # function that speaks the loop protocol itself streams its 1 GB.
    IT_LOOP_NATIVE=1 fn flood "$IT_BUSYBOX" "\"timeout\":300,\"command\":$(jq -cn --arg s '
        while IFS= read -r line; do
            n=$(printf "%s" "$line" | sed -n "s/.*\"event_length\":\([0-9]*\).*/\1/p")
            nc=$(printf "%s" "$line" | sed -n "s/.*\"nonce\":\"\([0-9a-f]*\)\".*/\1/p")
            [ "$n" -eq 0 ] || dd bs="$n" count=1 iflag=fullblock of=/dev/null 2>/dev/null
            echo "{\"exit_code\":0,\"result_length\":1000000000,\"log_length\":0,\"nonce\":\"$nc\"}"
            tr "\0" a </dev/zero | head -c 1000000000
        done' '["sh","-c",$s]')"
else
    fn_sh flood 'tr "\0" a </dev/zero | head -c 1000000000' '"timeout":300'
fi
rss_file="$IT_TMP/rss"
(
    max=0 samples=0
    for _ in $(seq 1 6000); do # 0.05 s apart: at most 5 minutes
        [ -e "$IT_TMP/flood.done" ] && break
        for w in $(it_workers); do
            kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$w/status" 2>/dev/null || true)
            [ -n "$kb" ] || continue
            samples=$((samples + 1))
            [ "$kb" -le "$max" ] || max=$kb
        done
        sleep 0.05
    done
    echo "$max $samples" >"$rss_file"
) &
sampler=$!
invoke flood '{}' --max-time 280
touch "$IT_TMP/flood.done"
wait "$sampler" || true
read -r rss_max rss_samples <"$rss_file"
it_expect "1 GB of stdout: 200" 200
jq -j .result <"$IT_BODY" >"$IT_TMP/flood.out" 2>/dev/null || true
it_eq "1 GB of stdout: result is exactly 6 MiB" 6291456 "$(wc -c <"$IT_TMP/flood.out")"
it_eq "1 GB of stdout: result is the first 6 MiB (all a)" "" "$(tr -d a <"$IT_TMP/flood.out" | head -c 20)"
it_eq "1 GB of stdout: truncated true" true "$(it_jq .truncated)"
it_true "1 GB of stdout: worker RSS sampled ($rss_samples samples)" test "$rss_samples" -gt 0
it_true "1 GB of stdout: worker RSS stayed under 200 MB (max ${rss_max} kB)" \
    test "$rss_max" -lt 204800
rm -f "$IT_TMP/flood.out"

fn_sh loud 'tr "\0" e </dev/zero | head -c 3000000 >&2; echo fine'
invoke loud '{}'
it_expect "3 MB of stderr: 200" 200
it_eq "3 MB of stderr: logs are exactly 1 MiB" 1048576 "$(jq -j .logs <"$IT_BODY" | wc -c)"
it_eq "3 MB of stderr: truncated true" true "$(it_jq .truncated)"
it_eq "3 MB of stderr: stdout intact" fine "$(it_jq .result)"

# --- output that is not UTF-8 text still gives a valid (UTF-8) JSON response ---------
# JSON text is UTF-8 (RFC 8259 8.1): raw bytes such as 0xFF, or a multi-byte
# character cut in half at a cap, must not reach the response as they are.
utf8() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; }
fn_sh binout 'printf "\377\376ok\000x"'
invoke binout '{}'
it_expect "binary stdout: 200" 200
it_true "binary stdout: the response is valid UTF-8" utf8 "$IT_BODY"
it_true "binary stdout: the text around the bad bytes is kept" \
    grep -q 'ok.x' <<<"$(it_jq .result | tr '\0' .)"
fn_sh cutchar 'printf x; yes é | tr -d "\n" | head -c 7000000; yes € | tr -d "\n" | head -c 3000000 >&2'
invoke cutchar '{}'
it_expect "multi-byte output past the caps: 200" 200
it_eq "multi-byte output past the caps: truncated true" true "$(it_jq .truncated)"
it_true "multi-byte output cut at the caps: the response is valid UTF-8" utf8 "$IT_BODY"
# (jq shows a half character as U+FFFD, 3 bytes: that shows up as too long)
jq -j .result <"$IT_BODY" >"$IT_TMP/cut.out" 2>/dev/null || true
jq -j .logs <"$IT_BODY" >"$IT_TMP/cut.err" 2>/dev/null || true
it_true "multi-byte stdout: at most 6 MiB, less at most one character ($(wc -c <"$IT_TMP/cut.out") bytes)" \
    test "$(wc -c <"$IT_TMP/cut.out")" -le 6291456 -a "$(wc -c <"$IT_TMP/cut.out")" -ge 6291453
it_true "multi-byte stderr: at most 1 MiB, less at most one character ($(wc -c <"$IT_TMP/cut.err") bytes)" \
    test "$(wc -c <"$IT_TMP/cut.err")" -le 1048576 -a "$(wc -c <"$IT_TMP/cut.err")" -ge 1048573
rm -f "$IT_TMP/cut.out" "$IT_TMP/cut.err"

# --- a client that gives up cancels the run ------------------------------------------
curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' --data-binary '{"timeout":60}' \
    "$BASE/invoke/sleeper" &
client=$!
sleeper_runs() {
    it_scrape "$IT_TMP/sleeper-metrics"
    [ "$(it_metric0 'minilambda_invocations_in_flight{function="sleeper"}' "$IT_TMP/sleeper-metrics")" = "$1" ]
}
ml_wait_for 30 sleeper_runs 1 || true
it_true "client gone: the run was going first" sleeper_runs 1
if [ "$IT_MODE" = cold ]; then
    it_true "client gone: its container was running" \
        ml_wait_for 30 it_count_is 1 "label=minilambda.function=${FID[sleeper]}" status=running
fi
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
if ml_wait_for 10 it_settled sleeper; then
    it_ok "client gone: the container is removed within 10 s, not left to its timeout"
else
    it_not_ok "client gone: the container is removed within 10 s, not left to its timeout" \
        "$(it_count_containers "label=minilambda.function=${FID[sleeper]}") left"
fi
it_true "client gone: the run ended" sleeper_runs 0

# --- 20 concurrent invocations, each sees only its own event ------------------------
N=20
pids=()
for i in $(seq 1 "$N"); do
    tok="tok-$i-$RANDOM$RANDOM"
    echo "$tok" >"$IT_TMP/conc.$i.tok"
    curl -s -o "$IT_TMP/conc.$i.body" -w '%{http_code}' --max-time 120 \
        -H 'Content-Type: application/json' \
        --data-binary "{\"event\":{\"token\":\"$tok\"}}" "$BASE/invoke/echo" \
        >"$IT_TMP/conc.$i.status" 2>/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
ok=0 own=0
bad=""
for i in $(seq 1 "$N"); do
    tok=$(cat "$IT_TMP/conc.$i.tok")
    st=$(cat "$IT_TMP/conc.$i.status" 2>/dev/null || echo 000)
    [ "$st" = 200 ] && ok=$((ok + 1))
    res=$(jq -r .result "$IT_TMP/conc.$i.body" 2>/dev/null || true)
    if [ "$(jq -r .token <<<"$res" 2>/dev/null)" = "$tok" ] &&
        [ "$(grep -o 'tok-' <<<"$res" | wc -l)" -eq 1 ]; then
        own=$((own + 1))
    else
        bad="$bad #$i:${st}:${res:0:80}"
    fi
done
it_eq "20 concurrent invocations: all 200" "$N" "$ok"
it_eq "20 concurrent invocations: each result holds exactly its own token" "$N" "$own"
[ -z "$bad" ] || echo "# mismatches:$bad"

# --- nothing left behind ------------------------------------------------------------
it_no_containers_left

it_done
