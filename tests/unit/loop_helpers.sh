#!/usr/bin/env bash
# The loop-protocol helpers of function/ (Python and Node) and the example
# functions, run with pipes, no Docker: see loop_helpers.py. Needs python3
# and node (scripts/setup installs them). TAP.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in python3 node; do
    if ! command -v "$tool" >/dev/null; then
        echo "Bail out! $tool is missing (scripts/setup installs it)"
        exit 1
    fi
done
exec python3 "$here/loop_helpers.py"
