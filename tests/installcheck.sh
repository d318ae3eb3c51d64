#!/usr/bin/env bash
# installcheck.sh BINDIR PKGDATADIR PKGLIBEXECDIR CONFDIR [UNITDIR [MANDIR]]: check an
# installed minilambda where it was installed, without starting it (`make
# installcheck`, `make distcheck`; tests/integration/install.sh also starts
# it). One TAP line per check; exits non-zero when one fails.
#   - the binary runs and the default environment files list every setting
#     it has, commented out, with the default it gives;
#   - minilambda-nginx renders nginx.conf and the two include parts from the
#     installed template, and nginx accepts both the whole config and the
#     parts included in another server block;
#   - the units' commands and environment file are the installed ones, and
#     systemd-analyze verify finds nothing to say about them;
#   - man finds minilambda(1) and minilambda-fcgi(8) in MANDIR, and they list
#     every command and every setting the binaries have.
set -euo pipefail

[ $# -ge 4 ] || { echo "usage: installcheck.sh BINDIR PKGDATADIR PKGLIBEXECDIR CONFDIR [UNITDIR [MANDIR]]" >&2; exit 2; }
bindir=$1 pkgdatadir=$2 pkglibexecdir=$3 confdir=$4 unitdir=${5:-} mandir=${6:-}
bin=$bindir/minilambda-fcgi
launcher=$pkglibexecdir/minilambda-nginx

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    fail=1
    echo "not ok $n - $1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}
check() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}

tmp=$(mktemp -d /tmp/minilambda-installcheck.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

check "$bin runs" env -i "$bin" --print-config
env -i "$bin" --print-config >"$tmp/config" 2>/dev/null || : >"$tmp/config"

# every_setting FILE: each NAME='DEFAULT' the binary prints is in FILE as a
# commented-out line.
# shellcheck disable=SC2317 # called through check
every_setting() {
    local line missing=""
    while IFS= read -r line; do
        grep -qxF "#$line" "$1" || missing+=" ${line%%=*}"
    done <"$tmp/config"
    [ -z "$missing" ] || { echo "missing or different:$missing"; return 1; }
}
for f in "$pkgdatadir/minilambda.env" "$confdir/minilambda.env"; do
    check "$f lists every setting with its default" every_setting "$f"
    check "$f sets nothing" test -z "$(grep -v '^#' "$f" | grep -v '^$' || true)"
done

# The launcher renders from the installed template into a run dir of ours.
export MINILAMBDA_RUN_DIR=$tmp/run MINILAMBDA_DATA_DIR=$tmp/data
check "minilambda-nginx render" "$launcher" render
for f in nginx.conf nginx-upstreams.conf nginx-server.conf fastcgi_params; do
    check "it wrote $f" test -s "$MINILAMBDA_RUN_DIR/$f"
done
check "nginx-upstreams.conf has both upstreams" \
    test "$(grep -c '^ *upstream minilambda_' "$MINILAMBDA_RUN_DIR/nginx-upstreams.conf")" = 2
# shellcheck disable=SC2317 # called through check
server_part() { ! grep -q '^ *listen ' "$1" && grep -q 'location ^~ /invoke/' "$1"; }
check "nginx-server.conf has the locations and no listen" \
    server_part "$MINILAMBDA_RUN_DIR/nginx-server.conf"

if command -v nginx >/dev/null; then
    r=$MINILAMBDA_RUN_DIR
    check "nginx -t accepts the rendered nginx.conf" \
        nginx -q -t -c "$r/nginx.conf" -p "$r" -e "$r/nginx-error.log"
    # Another nginx's config, as docs/operating.md shows: the parts go inside its
    # own http block and one of its server blocks.
    cat >"$tmp/host.conf" <<EOF
pid $tmp/host.pid;
error_log $tmp/host-error.log;
events {}
http {
    access_log off;
    include $r/nginx-upstreams.conf;
    server {
        listen 127.0.0.1:1;
        server_name minilambda.example;
        include $r/nginx-server.conf;
    }
}
EOF
    check "nginx -t accepts the parts included in another server block" \
        nginx -q -t -c "$tmp/host.conf" -p "$tmp" -e "$tmp/host-error.log"
else
    echo "# nginx is not installed: its checks are skipped"
fi

if [ -n "$unitdir" ]; then
    for u in minilambda.service minilambda-nginx.service; do
        f=$unitdir/$u
        check "$u is installed" test -f "$f"
        [ -f "$f" ] || continue
        check "$u reads $confdir/minilambda.env" grep -qxF "EnvironmentFile=-$confdir/minilambda.env" "$f"
        while IFS= read -r cmd; do
            check "$u: $cmd is installed" test -x "$cmd"
        done < <(sed -n 's/^Exec[A-Za-z]*=[-@+!]*\([^ ]*\).*/\1/p' "$f")
    done
    if command -v systemd-analyze >/dev/null; then
        out=$(cd "$unitdir" && systemd-analyze verify minilambda.service minilambda-nginx.service 2>&1) &&
            rc=0 || rc=$?
        if [ "$rc" = 0 ] && [ -z "$out" ]; then
            ok "systemd-analyze verify: nothing to say"
        else
            not_ok "systemd-analyze verify (exit $rc)" "$out"
        fi
    else
        echo "# systemd-analyze is not installed: the units are not verified"
    fi
fi

if [ -n "$mandir" ]; then
    # man(1) itself, as a user asks it: `man minilambda`, with MANPATH the
    # installed tree.
    for page in "1 minilambda" "8 minilambda-fcgi"; do
        read -r sec name <<<"$page"
        if MANPATH=$mandir man -w "$sec" "$name" >/dev/null 2>&1 &&
            MANPATH=$mandir MANWIDTH=200 man "$sec" "$name" 2>/dev/null | col -b >"$tmp/$name.txt"; then
            ok "man $sec $name renders"
        else
            not_ok "man $sec $name renders" "not found in $mandir"
        fi
    done
    missing=""
    while read -r name; do
        grep -q -- "^ *$name\$" "$tmp/minilambda-fcgi.txt" 2>/dev/null || missing+=" $name"
    done < <(cut -d= -f1 "$tmp/config")
    if [ -z "$missing" ]; then ok "minilambda-fcgi(8) lists every setting"; else not_ok "minilambda-fcgi(8) lists every setting" "missing:$missing"; fi
    missing=""
    while read -r cmd; do
        grep -q -- "^ *$cmd\$" "$tmp/minilambda.txt" 2>/dev/null || missing+=" [$cmd]"
    done < <(env -i "$bindir/minilambda" --help | awk '
        /^commands:/ { on = 1; next }
        on && /^$/ { exit }
        on {
            sub(/^  /, ""); split($0, a, /  +/); n = split(a[1], w, " "); c = ""
            for (i = 1; i <= n && w[i] ~ /^[a-z]+$/; i++) c = c (c == "" ? "" : " ") w[i]
            print c
        }')
    if [ -z "$missing" ]; then ok "minilambda(1) lists every command"; else not_ok "minilambda(1) lists every command" "missing:$missing"; fi
fi

echo "1..$n"
exit "$fail"
