#!/usr/bin/env bash
# Run the tarscan libFuzzer target for a bounded number of runs over the
# committed seed corpus (tests/fuzz/corpus/tarscan); new inputs it finds
# go to a temporary directory, never into the corpus. One TAP result;
# skipped when the build has no fuzzer (clang with -fsanitize=fuzzer was
# not found). Fewer runs than the multipart target: each one scans its
# input three times, inflating as it goes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${ML_BUILD:-.}/tests/fuzz/fuzz_tarscan
if [ ! -x "$bin" ]; then
    echo "1..0 # SKIP $bin was not built (needs clang with -fsanitize=fuzzer)"
    exit 0
fi
tmp=$(mktemp -d /tmp/minilambda-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "1..1"
runs=${FUZZ_RUNS:-50000}
if "$bin" -runs="$runs" -seed=1 -max_len=4096 -timeout=10 -max_total_time=120 -rss_limit_mb=2048 \
    -print_final_stats=1 "$tmp" "$here/corpus/tarscan" 2>"$tmp/log"; then
    echo "ok 1 - tar scanner: $runs fuzz runs without a crash, leak or sanitizer report"
else
    sed 's/^/# /' "$tmp/log" | tail -40
    echo "not ok 1 - tar scanner: the fuzzer found a failing input (above)"
    exit 1
fi
