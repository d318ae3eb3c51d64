#!/usr/bin/env bash
# The documents say what the code defines, and hold together:
#   - every setting in the binary's table (minilambda-fcgi --print-config)
#     has a row in docs/operating.md's configuration table;
#   - every route and method of the route table (as the OpenAPI document
#     the binary renders from it lists them) has a row in docs/guide.md's
#     API table;
#   - the README stays a front door: at most 250 lines;
#   - every relative link of the README and the guides reaches a file that
#     exists and, with an anchor, a heading of it;
#   - every test script is one the suite runs (Makefile.am lists it): a
#     test left out of the list passes unseen.
# TAP, one result per name.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${ML_BUILD:-.}/minilambda-fcgi
n=0
fail=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    fail=1
}
# has NAME FILE TEXT: FILE (under the root) holds TEXT.
has() {
    if grep -qF -- "$3" "$root/$2"; then ok "$2: $1"; else not_ok "$2: $1 (no \"$3\")"; fi
}

for v in $(env -i "$bin" --print-config | cut -d= -f1); do
    has "setting $v" docs/operating.md "| \`$v\` |"
done
routes=$(env -i "$bin" --print-openapi |
    jq -r '.paths | to_entries[] | .key as $p | .value | keys[] |
        select(. != "parameters") | "\(ascii_upcase) \($p)"')
[ -n "$routes" ] || not_ok "the OpenAPI document lists routes"
while read -r route; do
    has "route $route" docs/guide.md "| \`$route\` |"
done <<<"$routes"

lines=$(wc -l <"$root/README.md")
if [ "$lines" -le 250 ]; then ok "README.md: $lines lines, at most 250"; else not_ok "README.md: $lines lines, more than 250"; fi

# slugs FILE: the anchors of FILE's headings (outside code blocks), as
# GitHub makes them.
slugs() {
    awk '/^```/ {code = !code; next} !code && /^#+ / {sub(/^#+ /, ""); print}' "$1" |
        tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}
for doc in README.md docs/*.md fcgi-app/README.md tests/README.md scripts/README.md; do
    dir=$(dirname "$root/$doc")
    bad=""
    while read -r link; do
        [ -n "$link" ] || continue
        path=${link%%#*}
        anchor=""
        [ "$path" = "$link" ] || anchor=${link#*#}
        target=$doc
        [ -z "$path" ] || target=$(realpath -m --relative-to="$root" "$dir/$path")
        if [ ! -e "$root/$target" ]; then
            bad+=" $link"
        elif [ -n "$anchor" ] && ! slugs "$root/$target" | grep -qxF -- "$anchor"; then
            bad+=" $link"
        fi
    done < <(grep -o '](\([^)[:space:]]*\))' "$root/$doc" | sed 's/^](\(.*\))$/\1/' |
        grep -v '^[a-z]*:' || true)
    if [ -z "$bad" ]; then ok "$doc: every relative link resolves"; else not_ok "$doc: links that lead nowhere:$bad"; fi
done

for t in "$here"/../integration/*.sh "$here"/*.sh; do
    [ "${t##*/}" != lib.sh ] || continue
    dir=${t%/*}
    name=tests/${dir##*/}/${t##*/}
    if grep -qF -- "$name" "$root/Makefile.am"; then
        ok "Makefile.am runs $name"
    else
        not_ok "Makefile.am runs $name (not listed: the suite never runs it)"
    fi
done
echo "1..$n"
exit "$fail"
