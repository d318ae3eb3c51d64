#!/usr/bin/env bash
# The soak once more, its 1000 calls run with MINILAMBDA_TEST_MODE=container.
set -euo pipefail
export MINILAMBDA_TEST_MODE=container
exec bash "$(dirname "$0")/soak.sh"
