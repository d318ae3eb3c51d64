#!/usr/bin/env bash
# The arrows of fcgi-app/ point down only: every #include "folder/x.h" of a
# file in a layer folder names its own folder or one below it, in the order
# fcgi-app/layers declares (and no "never" pair); includes name their
# folder; no source sits at fcgi-app/'s root; cli/ includes only cli/ and
# base/, init/ only itself, base/, parse/initwire.h and parse/httpreq.h
# (what the static init program links: libc, base/err.c,
# parse/initwire.c and parse/httpreq.c). First the checker is shown an upward include in
# a copy of the tree, and must refuse it. TAP, one result per check.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${1:-$here/../../fcgi-app}

# check TREE: print one line per broken arrow; exit 1 when there is one.
check() {
    local tree=$1
    local -A rank=()
    local -a never=()
    local i=0 word a b
    while read -r word a b; do
        case $word in
        "" | "#"*) ;;
        never) never+=("$a $b") ;;
        *) rank[$word]=$i; i=$((i + 1)) ;;
        esac
    done <"$tree/layers"
    local bad=0 f rel dir mod line inc to n
    while IFS= read -r f; do
        rel=${f#"$tree"/}
        case $rel in
        */*) dir=${rel%%/*} ;;
        *) echo "$rel: a source at the root of fcgi-app/ (it belongs in a layer folder)"; bad=1; continue ;;
        esac
        mod=${rel%.*}
        n=0
        while IFS= read -r line; do
            n=$((n + 1))
            [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]+\"([^\"]+)\" ]] || continue
            inc=${BASH_REMATCH[1]}
            to=$inc
            if [[ $to != */* ]]; then
                echo "$rel:$n: #include \"$to\" does not name its folder"
                bad=1
                continue
            fi
            to=${to%%/*}
            case $dir in
            cli) [ "$to" = cli ] || [ "$to" = base ] || { echo "$rel:$n: cli/ includes $to/"; bad=1; } ;;
            init) [ "$to" = base ] || [ "$to" = init ] || [ "$inc" = parse/initwire.h ] ||
                [ "$inc" = parse/httpreq.h ] ||
                { echo "$rel:$n: init/ includes $inc"; bad=1; } ;;
            *)
                if [ -z "${rank[$dir]+x}" ] || [ -z "${rank[$to]+x}" ]; then
                    echo "$rel:$n: $dir/ -> $to/: a folder fcgi-app/layers does not declare"
                    bad=1
                elif [ "${rank[$to]}" -gt "${rank[$dir]}" ]; then
                    echo "$rel:$n: $dir/ includes $to/, a layer above it"
                    bad=1
                fi
                for a in "${never[@]}"; do
                    read -r a b <<<"$a"
                    if { [ "$a" = "$dir" ] || [ "$a" = "$mod" ]; } && [ "$b" = "$to" ]; then
                        echo "$rel:$n: $a must never include $b/"
                        bad=1
                    fi
                done
                ;;
            esac
        done <"$f"
    done < <(find "$tree" -name '*.[ch]' | sort)
    return "$bad"
}

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    fail=1
    echo "not ok $n - $1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}

# The checker sees an arrow going up in a copy: base/ including http/.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/tree"
printf '#include "http/http.h"\n' >>"$tmp/tree/base/buf.h"
if out=$(check "$tmp/tree"); then
    not_ok "an upward include (base/ -> http/) is refused" "the checker let it pass"
elif grep -q 'base/buf.h:.*base/ includes http/, a layer above it' <<<"$out"; then
    ok "an upward include (base/ -> http/) is refused"
else
    not_ok "an upward include (base/ -> http/) is refused" "$out"
fi

if out=$(check "$src"); then
    ok "every include of fcgi-app/ points down"
else
    not_ok "every include of fcgi-app/ points down" "$out"
fi
echo "1..$n"
exit "$fail"
