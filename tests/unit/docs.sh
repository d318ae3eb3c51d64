#!/usr/bin/env bash
# The README documents what the code defines: every setting in the
# binary's table (minilambda-fcgi --print-config) has a row in the
# configuration table, and every route template of the route table
# appears in the API table. And every test script is one the suite runs
# (Makefile.am lists it): a test left out of the list passes unseen.
# TAP, one result per name.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readme=$here/../../README.md
bin=${ML_BUILD:-.}/minilambda-fcgi
n=0
fail=0
check() {
    n=$((n + 1))
    if grep -qF -- "$2" "$readme"; then
        echo "ok $n - README: $1"
    else
        echo "not ok $n - README: $1 (no \"$2\")"
        fail=1
    fi
}
for v in $(env -i "$bin" --print-config | cut -d= -f1); do
    check "setting $v" "| \`$v\` |"
done
# Route templates, from the nginx rendering's first segments and the
# metrics labels' spelling: "/functions/{ref}" is written as in the table.
for t in /functions "/functions/{ref}" "/invoke/{ref}" "/invoke/{ref}/async" /invocations \
    "/invocations/{id}" /images /metrics /healthz; do
    check "route $t" " $t\`"
done
for t in "$here"/../integration/*.sh "$here"/*.sh; do
    [ "${t##*/}" != lib.sh ] || continue
    dir=${t%/*}
    name=tests/${dir##*/}/${t##*/}
    n=$((n + 1))
    if grep -qF -- "$name" "$here/../../Makefile.am"; then
        echo "ok $n - Makefile.am runs $name"
    else
        echo "not ok $n - Makefile.am runs $name (not listed: the suite never runs it)"
        fail=1
    fi
done
echo "1..$n"
exit "$fail"
