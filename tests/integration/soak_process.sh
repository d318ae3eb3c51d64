#!/usr/bin/env bash
# The soak once more, its 1000 calls run with MINILAMBDA_TEST_MODE=process.
set -euo pipefail
export MINILAMBDA_TEST_MODE=process
exec bash "$(dirname "$0")/soak.sh"
