#!/usr/bin/env bash
# /openapi.json: nginx serves the document the binary renders from its
# tables, as application/json and without a key (keys are required here);
# an OpenAPI validator from npm accepts it and every example in it is
# valid by its own schema; and every example it documents, run against
# this live stack, gets the documented status and an answer that its
# schema accepts, with the example's fields and, for an error, its code.
# (That every route of the table is in the document and the reverse is
# tests/unit/test_openapi.c.) The npm packages go under the build dir.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# it_npm DIR: install tests/integration/openapi/package.json's packages
# into DIR (once per build dir, again when the list changes) and put
# check.mjs next to them, where Node resolves its imports.
it_npm() {
    local dir=$1 src=$IT_DIR/openapi
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "Bail out! node and npm are missing (scripts/setup installs them)"
        exit 1
    fi
    mkdir -p "$dir"
    if ! cmp -s "$src/package.json" "$dir/package.json" || [ ! -d "$dir/node_modules" ]; then
        cp "$src/package.json" "$dir/package.json"
        if ! (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error \
            >"$IT_TMP/npm.log" 2>&1); then
            rm -f "$dir/package.json"
            echo "Bail out! npm install failed: $(tail -3 "$IT_TMP/npm.log" | tr '\n' ' ')"
            exit 1
        fi
    fi
    cp "$src/check.mjs" "$dir/check.mjs"
}

# it_node ARGS...: run check.mjs; each PASS/FAIL line it prints is one result.
it_node() {
    local verdict what why
    node "$NPM_DIR/check.mjs" "$@" >"$IT_TMP/node.out" 2>"$IT_TMP/node.err" || true
    while IFS=$'\t' read -r verdict what why; do
        case $verdict in
        PASS) it_ok "$what" ;;
        FAIL) it_not_ok "$what" "$why" ;;
        esac
    done <"$IT_TMP/node.out"
    if [ -s "$IT_TMP/node.err" ]; then
        it_not_ok "check.mjs $1 ran cleanly" "$(head -c 600 "$IT_TMP/node.err")"
    fi
}

# it_managed_at_most N: at most N managed containers exist (other tests' may).
it_managed_at_most() { [ "$(it_managed_containers)" -le "$1" ]; }

NPM_DIR=${ML_BUILD}/openapi-npm
it_npm "$NPM_DIR"
it_busybox_image
before=$(it_managed_containers)
export MINILAMBDA_AUTH=on
it_start openapi
KEY=$(cat "$MINILAMBDA_DATA_DIR/admin.key")
DOC=$IT_TMP/openapi.json

# --- served by nginx, from the binary's tables ----------------------------
it_req GET /openapi.json
it_expect "GET /openapi.json needs no key" 200
it_eq "it is application/json" application/json "$(it_header Content-Type)"
cp "$IT_BODY" "$DOC"
it_eq "it is the binary's document" "$("$ML_BIN" --print-openapi | jq -cS .)" "$(jq -cS . "$DOC")"
it_eq "the run dir holds it" "$(jq -cS . "$MINILAMBDA_RUN_DIR/openapi.json")" "$(jq -cS . "$DOC")"
it_req HEAD /openapi.json -I
it_expect "HEAD /openapi.json" 200
it_req POST /openapi.json
it_expect "POST /openapi.json is a JSON 405" 405 method_not_allowed
it_req GET /functions
it_expect "while the API needs a key" 401 unauthorized

# --- valid OpenAPI, examples valid by their schemas -------------------------
it_node validate "$DOC"

# --- every example against the live API -------------------------------------
it_node examples "$DOC" "$BASE" "$KEY"

it_true "no container of the examples is left" ml_wait_for 60 it_managed_at_most "$before"
it_done
