#!/usr/bin/env bash
# Malformed requests: every one must get a 4xx whose body is a JSON object
# with "error" and "code" (never HTML, a 5xx, a crash or a hang), and the
# pool must keep serving with the same workers afterwards.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

export MINILAMBDA_WORKERS=2
it_start stack

BAD=0
F=$IT_TMP/req
json_ct() { [[ $(it_header Content-Type) == application/json* ]]; }
valid_json() { jq -e . "$1" >/dev/null 2>&1; }
error_envelope() { jq -e '.error and .code' "$1" >/dev/null 2>&1; }
not_in_file() { ! grep -q -- "$1" "$2"; }
repeat() { head -c "$2" /dev/zero | tr '\0' "$1"; }

# check_4xx_json DESC [STATUS [CODE]]: the last response was a 4xx (or
# exactly STATUS) with a JSON error envelope (with exactly CODE).
check_4xx_json() {
    local desc=$1 want=${2:-4xx} code=${3:-} got
    BAD=$((BAD + 1))
    got="$IT_STATUS $(head -c 200 "$IT_BODY" | tr -d '\0')"
    if [ "$want" = 4xx ]; then
        [[ $IT_STATUS == 4[0-9][0-9] ]] || { it_not_ok "$desc" "expected a 4xx, got $got"; return; }
    elif [ "$IT_STATUS" != "$want" ]; then
        it_not_ok "$desc" "expected $want, got $got"
        return
    fi
    if ! jq -e 'type == "object" and (.error | type == "string" and length > 0)
                and (.code | type == "string" and length > 0)' "$IT_BODY" >/dev/null 2>&1; then
        it_not_ok "$desc" "no JSON error envelope: $got"
        return
    fi
    if [ -n "$code" ] && [ "$(it_jq .code)" != "$code" ]; then
        it_not_ok "$desc" "expected code $code, got $got"
        return
    fi
    json_ct || { it_not_ok "$desc" "Content-Type is not JSON: $(it_header Content-Type)"; return; }
    it_ok "$desc ($IT_STATUS $(it_jq .code))"
}

# bad DESC STATUS CODE METHOD PATH [curl args...]; STATUS may be 4xx, CODE empty.
bad() {
    local desc=$1 status=$2 code=$3
    shift 3
    it_req "$@" --max-time 20
    check_4xx_json "$desc" "$status" "$code"
}
# bad_json DESC STATUS CODE BODY: POST /functions with a JSON content type.
bad_json() { bad "$1" "$2" "$3" POST /functions -H 'Content-Type: application/json' --data-binary "$4"; }
# bad_file DESC STATUS CODE: POST /functions with the bytes of $F.
bad_file() { bad "$1" "$2" "$3" POST /functions -H 'Content-Type: application/json' --data-binary "@$F"; }

# bad_head DESC STATUS PATH: a HEAD has no body; the status and type must still be right.
bad_head() {
    BAD=$((BAD + 1))
    it_req HEAD "$3" -I --max-time 20
    if [ "$IT_STATUS" = "$2" ] && json_ct; then
        it_ok "$1 ($IT_STATUS)"
    else
        it_not_ok "$1" "expected $2 with a JSON content type, got $IT_STATUS $(it_header Content-Type)"
    fi
}

# raw_send: send the bytes of $F over a fresh TCP connection (for what curl
# refuses to send); sets IT_STATUS, IT_HEADERS and IT_BODY like it_req.
raw_send() {
    local resp=$IT_TMP/raw.resp
    (
        trap '' PIPE
        exec 3<>"/dev/tcp/127.0.0.1/$MINILAMBDA_PORT"
        cat "$F" >&3 || true
        timeout 10 cat <&3 >"$resp" || true
    )
    IT_STATUS=$(head -1 "$resp" | tr -d '\r' | awk '{print $2}')
    IT_STATUS=${IT_STATUS:-000}
    sed -n '1,/^\r\{0,1\}$/p' "$resp" >"$IT_HEADERS"
    sed '1,/^\r\{0,1\}$/d' "$resp" >"$IT_BODY"
}
# raw DESC STATUS CODE: raw_send, then the usual check.
raw() {
    raw_send
    check_4xx_json "$1" "$2" "$3"
}

it_req GET /functions
it_expect "the pool serves before the abuse" 200
it_register keep busybox
WORKERS_BEFORE=$(it_workers | sort | paste -sd' ')
POOL_BEFORE=$(it_pool_pid)
it_true "there are workers ($WORKERS_BEFORE)" test -n "$WORKERS_BEFORE"

# --- bodies that are not JSON, or not the right JSON -----------------------------
bad_json "truncated JSON object" 400 invalid_json '{"name":"t1","image":"busy'
bad_json "a lone brace" 400 invalid_json '{'
bad_json "trailing comma" 400 invalid_json '{"name":"t2","image":"busybox",}'
bad_json "single quotes" 400 invalid_json "{'name':'t3','image':'busybox'}"
bad_json "a comment" 400 invalid_json '{"name":"t4" /* hi */,"image":"busybox"}'
bad_json "trailing data after the object" 400 invalid_json '{"name":"t5","image":"busybox"} {}'
bad_json "form data sent as JSON" 400 invalid_json 'name=t6&image=busybox'
bad_json "bare NaN" 400 invalid_json 'NaN'
# json-c takes these even in its strict mode; JSON has none of them.
bad_json "NaN as a value" 400 invalid_json '{"name":"t8","image":"busybox","timeout":NaN}'
bad_json "Infinity as a value" 400 invalid_json '{"name":"t8","image":"busybox","timeout":Infinity}'
bad_json "-Infinity as a value" 400 invalid_json '{"name":"t8","image":"busybox","timeout":-Infinity}'
bad_json "a number ending in a dot" 400 invalid_json '{"name":"t8","image":"busybox","timeout":5.}'
bad_json "a raw tab in a string" 400 invalid_json "$(printf '{"name":"t8","image":"busy\tbox"}')"
bad_json "a line comment" 400 invalid_json "$(printf '{"name":"t8", // hi\n"image":"busybox"}')"
for ev in NaN Infinity -Infinity 1. '[NaN]' '{"a":Infinity}'; do
    bad "invoke with {\"event\": $ev}" 400 invalid_json POST /invoke/keep \
        -H 'Content-Type: application/json' --data-binary "{\"event\": $ev}"
done
bad "PATCH with NaN" 400 invalid_json PATCH /functions/keep -H 'Content-Type: application/json' \
    --data-binary '{"timeout": NaN}'
bad "empty body with a JSON type" 400 invalid_json POST /functions -H 'Content-Type: application/json' --data-binary ''
bad "empty body, no type" 4xx "" POST /functions
bad "empty PATCH body" 400 invalid_json PATCH /functions/keep -H 'Content-Type: application/json' --data-binary ''
bad_json "a JSON array body" 400 invalid_body '[{"name":"t7","image":"busybox"}]'
bad_json "a JSON string body" 400 invalid_body '"name"'
bad_json "a JSON number body" 400 invalid_body '42'
bad_json "a JSON null body" 400 invalid_body 'null'
bad "a JSON array PATCH body" 400 invalid_body PATCH /functions/keep -H 'Content-Type: application/json' --data-binary '[]'

# --- wrong types and absurd numbers -----------------------------------------------
bad_json "name a number" 400 invalid_name '{"name":123,"image":"busybox"}'
bad_json "image an array" 400 invalid_image '{"name":"w1","image":["busybox"]}'
bad_json "env a string" 400 invalid_env '{"name":"w2","image":"busybox","env":"A=1"}'
bad_json "command a string" 400 invalid_command '{"name":"w3","image":"busybox","command":"ls -l"}'
bad_json "cpus a boolean" 400 invalid_cpus '{"name":"w4","image":"busybox","cpus":true}'
bad_json "timeout an object" 400 invalid_timeout '{"name":"w5","image":"busybox","timeout":{}}'
bad_json "timeout 1e400" 400 invalid_timeout '{"name":"h1","image":"busybox","timeout":1e400}'
bad_json "cpus 1e400" 400 invalid_cpus '{"name":"h2","image":"busybox","cpus":1e400}'
bad_json "cpus -1e400" 400 invalid_cpus '{"name":"h3","image":"busybox","cpus":-1e400}'
bad_json "timeout 99999999999999999999" 400 invalid_timeout '{"name":"h4","image":"busybox","timeout":99999999999999999999}'
bad_json "memory_mb -99999999999999999999" 400 invalid_memory '{"name":"h5","image":"busybox","memory_mb":-99999999999999999999}'
bad_json "timeout 18446744073709551615" 400 invalid_timeout '{"name":"h6","image":"busybox","timeout":18446744073709551615}'
bad_json "cpus NaN" 400 "" '{"name":"h7","image":"busybox","cpus":NaN}'
bad_json "cpus Infinity" 400 "" '{"name":"h8","image":"busybox","cpus":Infinity}'

# --- control characters, NUL bytes, bad UTF-8 ------------------------------------------
bad_json "escaped control character in name" 400 invalid_name '{"name":"a\u0001b","image":"busybox"}'
bad_json "escaped NUL in name" 400 invalid_name '{"name":"a\u0000b","image":"busybox"}'
bad_json "escaped newline in name" 400 invalid_name '{"name":"a\nb","image":"busybox"}'
bad_json "escaped NUL in an env value" 400 invalid_env '{"name":"n1","image":"busybox","env":{"A":"x\u0000y"}}'
bad_json "escaped NUL in a command argument" 400 invalid_command '{"name":"n2","image":"busybox","command":["a\u0000b"]}'
# json-c cuts an object key at an escaped NUL; "A\u0000B" must not quietly become "A".
bad_json "escaped NUL in an env key" 400 "" '{"name":"n3","image":"busybox","env":{"A\u0000B":"x"}}'
printf '{"name":"raw\001ctl","image":"busybox"}' >"$F"
bad_file "raw control byte in name" 400 ""
printf '{"name":"n\0ul","image":"busybox"}' >"$F"
bad_file "NUL byte inside a string" 400 invalid_json
printf '{"name":"n4","image":"busybox"}\0' >"$F"
bad_file "NUL byte after the object" 400 invalid_json
head -c 1024 /dev/zero >"$F"
bad_file "a body of 1 KiB of NUL bytes" 400 invalid_json
printf '{"name":"\377\376","image":"busybox"}' >"$F"
bad_file "invalid UTF-8 in name" 400 ""
printf '{"name":"u1","image":"busybox","env":{"A":"\303\050"}}' >"$F"
bad_file "invalid UTF-8 (bad continuation) in an env value" 400 ""
printf '{"name":"u2","image":"busybox","command":["\300\257"]}' >"$F"
bad_file "overlong UTF-8 encoding in a command" 400 ""
printf '\357\273\277{"name":"u3","image":"busybox"}' >"$F"
bad_file "UTF-8 byte order mark" 400 invalid_json

# --- deep nesting ---------------------------------------------------------------------
bad_json "100 nested arrays" 400 json_too_deep "$(repeat '[' 100)$(repeat ']' 100)"
deep=""
for _ in $(seq 1 100); do deep+='{"a":'; done
bad_json "100 nested objects" 400 json_too_deep "${deep}1$(repeat '}' 100)"
bad_json "deep nesting inside env" 400 json_too_deep "{\"name\":\"d1\",\"image\":\"busybox\",\"env\":{\"A\":$(repeat '[' 80)$(repeat ']' 80)}}"
{ repeat '[' 200000; repeat ']' 200000; } >"$F"
bad_file "200000 nested arrays" 400 json_too_deep

# --- sizes ---------------------------------------------------------------------------
{ printf '{"name":"'; repeat a $((10 * 1024 * 1024)); printf '","image":"busybox"}'; } >"$F"
bad_file "a 10 MB name" 413 payload_too_large
{ printf '{"name":"'; repeat a $((512 * 1024)); printf '","image":"busybox"}'; } >"$F"
bad_file "a 512 KiB name" 400 invalid_name
{ printf '{"name":"k1","image":"busybox","'; repeat k $((100 * 1024)); printf '":1}'; } >"$F"
bad_file "a 100 KiB key" 400 unknown_field
bad_json "129 env variables" 400 invalid_env \
    "{\"name\":\"k2\",\"image\":\"busybox\",\"env\":{$(for i in $(seq 1 129); do printf '"V%d":"x",' "$i"; done | sed 's/,$//')}}"

# --- paths ---------------------------------------------------------------------------
bad "traversal ..%2F..%2Fetc%2Fpasswd" 4xx "" GET '/functions/..%2F..%2Fetc%2Fpasswd'
bad "traversal %2e%2e" 4xx "" GET '/functions/%2e%2e'
bad "literal ../../etc/passwd" 4xx "" GET '/functions/../../etc/passwd' --path-as-is
bad "encoded NUL %00" 4xx "" GET '/functions/%00'
bad "bad escape %zz" 4xx "" GET '/functions/%zz'
bad "truncated escape %" 4xx "" GET '/functions/%'
bad "truncated escape %2" 4xx "" GET '/functions/%2'
bad "PATCH through a bad escape" 4xx "" PATCH '/functions/%zz' -H 'Content-Type: application/json' --data-binary '{"timeout":5}'
bad "DELETE through a traversal" 4xx "" DELETE '/functions/..%2F..%2Ftmp'
bad "a 300-byte {ref}" 400 invalid_path GET "/functions/$(repeat a 300)"
bad "a 20 KB path" 414 uri_too_long GET "/functions/$(repeat a 20000)"
bad "a 20 KB query string" 414 uri_too_long GET "/functions?q=$(repeat a 20000)"
bad "an unknown route" 404 not_found GET /etc/passwd
bad "a nested unknown route" 404 not_found GET /functions/keep/extra

# --- headers, methods, framing ----------------------------------------------------------
bad "text/plain body" 415 unsupported_media_type POST /functions -H 'Content-Type: text/plain' --data-binary '{"name":"m1","image":"busybox"}'
bad "application/xml body" 415 unsupported_media_type POST /functions -H 'Content-Type: application/xml' --data-binary '<f/>'
bad "application/jsonx body" 415 unsupported_media_type POST /functions -H 'Content-Type: application/jsonx' --data-binary '{}'
bad "Content-Length: abc" 400 "" POST /functions -H 'Content-Type: application/json' -H 'Content-Length: abc' --data-binary '{}'
bad "Content-Length: -1" 400 "" POST /functions -H 'Content-Type: application/json' -H 'Content-Length: -1' --data-binary '{}'
bad "Content-Length: 99999999999999999999" 400 "" POST /functions -H 'Content-Type: application/json' -H 'Content-Length: 99999999999999999999' --data-binary '{}'
bad "Content-Length shorter than the body" 400 invalid_json POST /functions -H 'Content-Type: application/json' -H 'Content-Length: 5' --data-binary '{"name":"cl1","image":"busybox"}'
bad "Content-Length together with chunked" 400 "" POST /functions -H 'Content-Type: application/json' -H 'Content-Length: 5' -H 'Transfer-Encoding: chunked' --data-binary '{"name":"cl2","image":"busybox"}'
bad "a 20 KB header" 4xx "" GET /functions -H "X-Big: $(repeat a 20000)"
bad "lower-case method" 400 "" get /functions
bad "unknown method" 405 method_not_allowed FOO /functions
bad "TRACE" 405 method_not_allowed TRACE /functions
bad "OPTIONS" 405 method_not_allowed OPTIONS /functions
bad "PUT on the collection" 405 method_not_allowed PUT /functions -H 'Content-Type: application/json' --data-binary '{}'
bad "GET on /invoke/{ref}" 405 method_not_allowed GET /invoke/keep
bad_head "HEAD on an unknown route" 404 /nope
bad_head "HEAD on an unknown function" 404 /functions/no-such-function
bad_head "HEAD on a POST-only route" 405 /invoke/keep
bad_head "HEAD with a bad escape" 400 /functions/%zz

printf 'HELLO\r\n\r\n' >"$F"
raw "a garbage request line" 400 ""
printf 'GET /functions/\0x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >"$F"
raw "a raw NUL in the request line" 400 ""
printf 'GET /functions HTTP/1.1\r\nConnection: close\r\n\r\n' >"$F"
raw "HTTP/1.1 without Host" 400 ""
printf 'POST /functions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n' >"$F"
raw "a malformed chunk size" 400 ""
printf 'POST /functions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}x' >"$F"
raw "two different Content-Lengths" 400 ""
printf 'GET /functions HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\nConnection: close\r\n\r\n' >"$F"
raw "an obsolete folded header" 400 ""
# An HTTP version nginx does not speak: 505 is a fine answer, HTML is not.
printf 'GET /functions HTTP/9.9\r\nHost: a\r\nConnection: close\r\n\r\n' >"$F"
raw_send
it_true "HTTP/9.9: 400 or 505 ($IT_STATUS), not a crash" test "$IT_STATUS" = 400 -o "$IT_STATUS" = 505
it_true "HTTP/9.9: a JSON error body, not HTML ($(head -c 60 "$IT_BODY" | tr '\n' ' '))" \
    error_envelope "$IT_BODY"

# --- duplicate keys: last one wins or a 400, never a 5xx or a two-named record ---------
it_json POST /functions '{"name":"dup-first","image":"busybox","name":"dup-second"}'
case $IT_STATUS in
201)
    it_eq "duplicate keys: the last value wins" dup-second "$(it_jq .name)"
    it_true "duplicate keys: the first value is nowhere in functions.json" \
        not_in_file dup-first "$MINILAMBDA_DATA_DIR/functions.json"
    it_eq "duplicate keys: the record has one name" 1 \
        "$(grep -c '"name": *"dup-' "$MINILAMBDA_DATA_DIR/functions.json")"
    ;;
400) check_4xx_json "duplicate keys rejected" 400 ;;
*) it_not_ok "duplicate keys: 201 or 400" "got $IT_STATUS $(head -c 200 "$IT_BODY")" ;;
esac

# --- and the pool is unharmed ------------------------------------------------------------
it_true "at least 30 malformed requests were sent ($BAD)" test "$BAD" -ge 30
it_req GET /functions
it_expect "GET /functions still 200" 200
it_true "functions.json is still valid JSON" valid_json "$MINILAMBDA_DATA_DIR/functions.json"
it_eq "no malformed registration was stored" "" \
    "$(it_jq '[.[].name | select(test("^(keep|dup-second)$") | not)] | join(",")')"
it_req GET /functions/keep
it_expect "the earlier function is intact" 200
it_eq "same pool master" "$POOL_BEFORE" "$(it_pool_pid)"
it_eq "same worker pids (no worker died)" "$WORKERS_BEFORE" "$(it_workers | sort | paste -sd' ')"
it_eq "the pool log shows no dead worker" 0 \
    "$(grep -c -E 'killed by signal|exited with status' "$MINILAMBDA_RUN_DIR/minilambda.log" || true)"
# (505 for HTTP/9.9 is the one 5xx that is right.)
it_eq "nginx answered no request with a 5xx" "" \
    "$(sed -E 's/.*" ([0-9]{3}) [0-9-]+ ".*/\1/' "$MINILAMBDA_RUN_DIR/nginx-access.log" | grep -E '^50[0-4]' | sort | uniq -c | paste -sd' ')"

it_done
