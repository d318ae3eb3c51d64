# shellcheck shell=bash
# fuzz_run TARGET WHAT RUNS: run the libFuzzer target tests/fuzz/fuzz_TARGET
# for RUNS runs (FUZZ_RUNS overrides) over the committed seed corpus
# tests/fuzz/corpus/TARGET; new inputs it finds go to a temporary
# directory, never into the corpus. One TAP result naming WHAT; skipped
# when the build has no fuzzer (clang with -fsanitize=fuzzer was not found).
fuzz_run() {
    local target=$1 what=$2 runs=${FUZZ_RUNS:-$3} here bin tmp rc=0
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    bin=${ML_BUILD:-.}/tests/fuzz/fuzz_$target
    if [ ! -x "$bin" ]; then
        echo "1..0 # SKIP $bin was not built (needs clang with -fsanitize=fuzzer)"
        return 0
    fi
    tmp=$(mktemp -d /tmp/minilambda-fuzz.XXXXXX)
    # shellcheck disable=SC2064 # the directory of this run, expanded now
    trap "rm -rf '$tmp'" EXIT
    echo "1..1"
    if "$bin" -runs="$runs" -seed=1 -max_len=4096 -timeout=10 -max_total_time=120 \
        -rss_limit_mb=2048 -print_final_stats=1 "$tmp" "$here/corpus/$target" 2>"$tmp/log"; then
        echo "ok 1 - $what: $runs fuzz runs without a crash, leak or sanitizer report"
    else
        sed 's/^/# /' "$tmp/log" | tail -40
        echo "not ok 1 - $what: the fuzzer found a failing input (above)"
        rc=1
    fi
    return "$rc"
}
