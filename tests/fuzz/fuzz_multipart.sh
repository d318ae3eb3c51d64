#!/usr/bin/env bash
# Run the multipart libFuzzer target for a bounded number of runs over the
# committed seed corpus (tests/fuzz/corpus/multipart); new inputs it finds
# go to a temporary directory, never into the corpus. Skipped (77) when the
# build has no fuzzer (clang with -fsanitize=fuzzer was not found).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${ML_BUILD:-.}/tests/fuzz/fuzz_multipart
if [ ! -x "$bin" ]; then
    echo "SKIP: $bin was not built (needs clang with -fsanitize=fuzzer)"
    exit 77
fi
tmp=$(mktemp -d /tmp/minilambda-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$bin" -runs="${FUZZ_RUNS:-200000}" -seed=1 -max_len=4096 -timeout=10 -max_total_time=120 -rss_limit_mb=2048 \
    -print_final_stats=1 "$tmp" "$here/corpus/multipart"
