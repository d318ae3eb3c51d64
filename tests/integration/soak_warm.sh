#!/usr/bin/env bash
# The soak once more, its 1000 calls run with MINILAMBDA_TEST_MODE=warm.
set -euo pipefail
export MINILAMBDA_TEST_MODE=warm
exec bash "$(dirname "$0")/soak.sh"
