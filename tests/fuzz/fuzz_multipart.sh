#!/usr/bin/env bash
# The multipart parser's libFuzzer target (see lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
fuzz_run multipart "multipart parser" 200000
