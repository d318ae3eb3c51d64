#!/usr/bin/env bash
# The tar scanner's libFuzzer target (see lib.sh). Fewer runs than the
# multipart target: each one scans its input three times, inflating as it
# goes.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
fuzz_run tarscan "tar scanner" 50000
