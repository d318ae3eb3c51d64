#!/usr/bin/env bash
# The async tests once more, every function run with reuse "container": a reused container, a fresh process per call.
set -euo pipefail
export MINILAMBDA_TEST_MODE=container
exec bash "$(dirname "$0")/async.sh"
