#!/usr/bin/env bash
# Storage failures reach the client with their cause, as one error value
# carries them up: a data dir on a full disk (a small tmpfs, filled for
# real) answers 507 storage_full, a write the filesystem refuses answers
# 500 storage_error naming the path; functions.json is never changed by a
# failed write and no temp file is left behind; reads and invocations go
# on; and once space returns, writes work again.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

it_tmpfs 2m
FULL=$IT_TMPFS
export IT_DATA_DIR=$FULL/data
export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=1
it_start storage
D=$IT_DATA_DIR

fn_sh keep 'cat'
functions_before=$(sha256sum "$D/functions.json")

# --- a full disk --------------------------------------------------------
dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null || true
it_true "the data dir's filesystem is full" test "$(df --output=avail "$FULL" | tail -1 | tr -d ' ')" -lt 8

it_json POST /functions '{"name":"more","image":"minilambda-test-busybox:latest"}'
it_expect "POST /functions on a full disk: 507 storage_full" 507 storage_full
it_true "the message names the failing call ($(it_jq .error))" \
    grep -qE '(write|fsync|close|open)\(.*functions\.json\.tmp\) failed' <<<"$(it_jq .error)"
it_true "the answer is JSON" grep -q '^application/json' <<<"$(it_header Content-Type)"
it_eq "functions.json is unchanged" "$functions_before" "$(sha256sum "$D/functions.json")"
it_true "no temp file is left behind" test ! -e "$D/functions.json.tmp"

it_json PATCH /functions/keep '{"timeout":7}'
it_expect "PATCH on a full disk: 507 storage_full" 507 storage_full
it_json POST /invoke/keep/async '{"event":{}}'
it_expect "async accept on a full disk: 507 storage_full" 507 storage_full
it_eq "no async record is left of it" 0 "$(find "$D/async/records" -type f | wc -l)"

it_req GET /functions
it_expect "reads go on: GET /functions 200" 200
it_eq "reads go on: the function is listed" keep "$(it_jq '.[0].name')"
it_json POST /invoke/keep '{"event":{"still":"running"}}'
it_expect "invocations go on: 200" 200
it_eq "invocations go on: the result" '{"still":"running"}' "$(it_jq .result)"

# --- space returns ----------------------------------------------------------
rm -f "$FULL/filler"
it_json POST /functions '{"name":"more","image":"minilambda-test-busybox:latest"}'
it_expect "with space again, POST /functions: 201" 201
it_json POST /invoke/keep/async '{"event":{}}'
it_expect "with space again, async accept: 202" 202

# --- a write the filesystem refuses ----------------------------------------
mkdir "$D/functions.json.tmp"
it_json POST /functions '{"name":"blocked","image":"minilambda-test-busybox:latest"}'
it_expect "a refused write: 500 storage_error" 500 storage_error
it_true "the message names the path ($(it_jq .error))" \
    grep -q "functions.json.tmp" <<<"$(it_jq .error)"
rmdir "$D/functions.json.tmp"
it_json POST /functions '{"name":"blocked","image":"minilambda-test-busybox:latest"}'
it_expect "once the path is free: 201" 201

it_no_containers_left
it_done
