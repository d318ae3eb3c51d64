#!/usr/bin/env bash
# The dashboard at /ui/, in a real browser: Debian's chromium, headless,
# driven by puppeteer-core from npm (installed at test time into the build
# dir, never the source tree). Two stacks: one on loopback without keys
# (list, config, invoke through the form, untrusted output as text, async
# records, filters, charts from /metrics), one with MINILAMBDA_AUTH=on and
# /metrics closed by MINILAMBDA_METRICS_ALLOW (the page asks for a key,
# keeps it in sessionStorage, sends it, and explains the missing charts).
# On the first stack also the API reference at /ui/api.html: the served
# /openapi.json rendered in full, its $ref links, and markup in a document's
# strings shown as text. The browser checks are in ui.mjs; this script
# turns its lines into TAP.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# The newest puppeteer-core whose engines field still takes Debian 12's
# Node 18; it drives any recent Chromium over the DevTools protocol.
PUPPETEER_CORE=24.43.1
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
UI_NODE=${ML_UI_NODE:-$ML_BUILD/ui-node}
UI_SRC="$IT_DIR/../../nginx/ui"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }
for c in node npm "$CHROMIUM"; do
    command -v "$c" >/dev/null ||
        { echo "Bail out! $c is missing (scripts/setup installs chromium, nodejs and npm)"; exit 1; }
done

# puppeteer-core in $UI_NODE/node_modules, at the pinned version. No browser
# download: the test drives the chromium package.
ui_puppeteer_version() {
    UI_NODE=$UI_NODE node -p \
        'require(process.env.UI_NODE + "/node_modules/puppeteer-core/package.json").version' 2>/dev/null
}
if [ "$(ui_puppeteer_version || true)" != "$PUPPETEER_CORE" ]; then
    mkdir -p "$UI_NODE"
    if ! PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$UI_NODE" --no-save --no-audit --no-fund \
        --loglevel=error "puppeteer-core@$PUPPETEER_CORE" >"$IT_TMP/npm.log" 2>&1; then
        sed 's/^/# /' "$IT_TMP/npm.log" | tail -20
        echo "Bail out! npm could not install puppeteer-core@$PUPPETEER_CORE into $UI_NODE"
        exit 1
    fi
fi
it_eq "puppeteer-core $PUPPETEER_CORE is installed outside the source tree" \
    "$PUPPETEER_CORE" "$(ui_puppeteer_version || true)"

# ui_run MODE SCREENSHOT [VAR=VALUE...]: run ui.mjs against $BASE; each of
# its "ok - " / "not ok - " lines becomes a TAP result.
ui_run() {
    local mode=$1 shot=$2 out="$IT_TMP/ui-$1.out" rc=0 line
    shift 2
    env UI_NODE="$UI_NODE" BASE="$BASE" UI_MODE="$mode" IMAGE="$IT_BUSYBOX" SHOT="$shot" CHROMIUM="$CHROMIUM" \
        TMPDIR="$IT_TMP" "$@" timeout 300 node "$IT_DIR/ui.mjs" >"$out" 2>&1 || rc=$?
    while IFS= read -r line; do
        case $line in
        "ok - "*) it_ok "browser: ${line#ok - }" ;;
        "not ok - "*) it_not_ok "browser: ${line#not ok - }" ;;
        *) printf '# %s\n' "${line#\# }" ;;
        esac
    done <"$out"
    it_eq "the browser run ($mode) ends with status 0" 0 "$rc"
    it_true "its screenshot is saved: $shot" test -s "$shot"
}

# ui_absent REGEX FILE...: no line of the FILEs, comment lines aside, matches.
ui_absent() {
    local re=$1
    shift
    ! grep -hvE '^\s*(//|\*)' "$@" | grep -nE "$re"
}

# ui_listed FILE...: Makefile.am's dist_ui_DATA names every FILE.
ui_listed() {
    local list f missing=""
    list=$(sed -n '/^dist_ui_DATA/,/[^\\]$/p' "$IT_DIR/../../Makefile.am")
    for f in "$@"; do
        grep -qw "nginx/ui/${f##*/}" <<<"$list" || missing+=" ${f##*/}"
    done
    [ -z "$missing" ] || { echo "# not in dist_ui_DATA:$missing"; return 1; }
}

# --- what nginx serves ---------------------------------------------------------
it_start ui
fn_sh ui-echo 'cat; echo "ui-echo read an event" >&2' '"env":{"UI":"dashboard"}'
fn_sh ui-xss 'printf "%s" "<img src=x onerror=window.__xss=1>"; echo "<script>window.__xss=2</script>" >&2'
fn_sh ui-fail 'echo "ui-fail gives up" >&2; exit 3'

it_req GET /ui/
it_expect "GET /ui/: 200" 200
it_eq "GET /ui/ is HTML" "text/html; charset=utf-8" "$(it_header Content-Type)"
CSP=$(it_header Content-Security-Policy)
it_true "its CSP allows nothing by default" grep -q "default-src 'none'" <<<"$CSP"
it_true "its CSP allows scripts from this origin only" grep -q "script-src 'self';" <<<"$CSP"
it_true "its CSP lets the page call this origin only" grep -q "connect-src 'self';" <<<"$CSP"
it_true "its CSP allows nothing unsafe (inline, eval)" ui_absent unsafe <(printf '%s\n' "$CSP")
it_true "its CSP forbids framing" grep -q "frame-ancestors 'none'" <<<"$CSP"
it_eq "GET /ui/: nosniff" nosniff "$(it_header X-Content-Type-Options)"
it_req GET /ui/app.js
it_expect "GET /ui/app.js: 200" 200
it_eq "a script is served as JavaScript" "text/javascript; charset=utf-8" "$(it_header Content-Type)"
it_true "a script carries the CSP too" test -n "$(it_header Content-Security-Policy)"
it_req GET /ui/ui.css
it_eq "the style sheet is served as CSS" "text/css; charset=utf-8" "$(it_header Content-Type)"
it_req GET /ui
it_expect "GET /ui: 301" 301
it_eq "GET /ui redirects to /ui/" /ui/ "$(it_header Location)"
it_req GET /ui/no-such-file.js
it_expect "a missing file is a JSON 404" 404 not_found
it_req GET /ui/api.html
it_expect "GET /ui/api.html (the API reference): 200" 200
it_eq "it is HTML" "text/html; charset=utf-8" "$(it_header Content-Type)"
it_eq "with the dashboard's CSP" "$CSP" "$(it_header Content-Security-Policy)"
it_eq "and nosniff" nosniff "$(it_header X-Content-Type-Options)"
it_req GET /ui/apidoc.js
it_expect "GET /ui/apidoc.js: 200" 200
it_eq "its module is served as JavaScript" "text/javascript; charset=utf-8" "$(it_header Content-Type)"
it_true "the pages have no inline script, style or handler" \
    ui_absent '<script>|<style|style=| on[a-z]+=' "$UI_SRC/index.html" "$UI_SRC/api.html"
it_true "every file of nginx/ui is installed and distributed (Makefile.am dist_ui_DATA)" \
    ui_listed "$UI_SRC"/*
it_true "the scripts never parse strings as HTML or code" ui_absent \
    'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|srcdoc' "$UI_SRC"/*.js

# An async run made with curl, so a record exists before the page opens.
it_async ui-echo '{"event":{"from":"curl"}}'
it_eq "an async run with curl is accepted" 202 "$IT_STATUS"
CURL_INV=$IT_INV
it_true "and completes" it_inv_wait 60 "$CURL_INV" COMPLETED

ui_run open "$ML_BUILD/ui-screenshot.png" INV_ID="$CURL_INV"
ui_run api "$ML_BUILD/ui-screenshot-api.png"
it_no_containers_left

# --- keys required, /metrics closed to this address -----------------------------
ml_stop_all
export MINILAMBDA_AUTH=on MINILAMBDA_METRICS_ALLOW=192.0.2.0/24
it_start ui-auth
ADMIN=$(cat "$MINILAMBDA_DATA_DIR/admin.key")
it_json POST /functions "{\"name\":\"ui-echo\",\"image\":\"$IT_BUSYBOX\",\"command\":[\"cat\"]}" \
    -H "Authorization: Bearer $ADMIN"
it_expect "a function is registered with the admin key" 201
FID=([ui-echo]="$(it_jq .id)")
it_req GET /ui/
it_expect "the page itself needs no key" 200
it_req GET /functions
it_expect "the API does" 401 unauthorized
it_req GET /metrics -H "Authorization: Bearer $ADMIN"
it_expect "/metrics is closed to this address even to the admin key" 403 forbidden

ui_run auth "$ML_BUILD/ui-screenshot-auth.png" ADMIN_KEY="$ADMIN"
it_no_containers_left

it_done
