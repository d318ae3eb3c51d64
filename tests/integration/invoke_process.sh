#!/usr/bin/env bash
# The invoke tests once more, every function run with reuse "process": the test functions wrapped in the loop protocol (ml-loop).
set -euo pipefail
export MINILAMBDA_TEST_MODE=process
exec bash "$(dirname "$0")/invoke.sh"
