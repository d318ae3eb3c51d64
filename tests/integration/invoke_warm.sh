#!/usr/bin/env bash
# The invoke tests once more, every function run with reuse "none", from the keeper's prestarted containers.
set -euo pipefail
export MINILAMBDA_TEST_MODE=warm
exec bash "$(dirname "$0")/invoke.sh"
