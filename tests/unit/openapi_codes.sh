#!/usr/bin/env bash
# The OpenAPI document (minilambda-fcgi --print-openapi) names every error
# code the platform can answer: each code a source file passes to err_set,
# each one a /healthz part reports (health_fail), each one of the run
# outcome table (status.c) and each one nginx answers itself
# (nginx/minilambda.conf.in). A code set anywhere else would be a new
# call shape: add it here. TAP, one result per code.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$here/../..
bin=${ML_BUILD:-.}/minilambda-fcgi

documented=$(env -i "$bin" --print-openapi | jq -r '.components.schemas.Error.properties.code.enum[]')
# Codes no client reads: invalid_config stops start-up, corrupt is a store
# read's reason (answered as store_corrupt), cancelled is the outcome of a
# run whose client went away, and malformed_request is minilambda-init's
# (parse/initwire: a request it refuses ends the container with 125).
internal="invalid_config corrupt cancelled malformed_request"

found=$(
    {
        perl -0ne 'while (/err_set\(\s*[^,()]+,\s*ERR_\w+,\s*"([a-z_]+)"/g) { print "$1\n" }' \
            "$root"/fcgi-app/{base,parse,state,engine,run,history,app,http,proc}/*.c
        perl -0ne 'while (/health_fail\(([^;]*)\);/g) {
                my $a = $1; while ($a =~ /"([a-z]+(?:_[a-z]+)+)"/g) { print "$1\n" } }' \
            "$root/fcgi-app/run/health.c"
        perl -ne 'print "$1\n" if /^\s*\[STATUS_\w+\] = \{"\w+", \d+, "([a-z_]+)"/' \
            "$root/fcgi-app/state/status.c"
        grep -o '"code":"[a-z_]*"' "$root/nginx/minilambda.conf.in" | cut -d'"' -f4
    } | sort -u
)

n=0
fail=0
for code in $found; do
    case " $internal " in *" $code "*) continue ;; esac
    n=$((n + 1))
    if grep -qx -- "$code" <<<"$documented"; then
        echo "ok $n - OpenAPI: error code $code"
    else
        echo "not ok $n - OpenAPI: error code $code is not in the document (fcgi-app/http/apidoc.c)"
        fail=1
    fi
done
# The scan itself found codes of each kind (a changed call shape would
# otherwise pass silently).
for code in invalid_timeout executors_down function_failed pool_unavailable; do
    n=$((n + 1))
    if grep -qx -- "$code" <<<"$found"; then
        echo "ok $n - the scan finds $code"
    else
        echo "not ok $n - the scan no longer finds $code: update tests/unit/openapi_codes.sh"
        fail=1
    fi
done
echo "1..$n"
exit "$fail"
