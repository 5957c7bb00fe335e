#!/usr/bin/env bash
# Set everything up on a fresh machine, then run the quick benchmark suite:
# plain CPython and tracejit side by side (pass --both for 3.12 and 3.13).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
versions=(3.12)
args=()
for a in "$@"; do
  if [ "$a" = "--both" ]; then versions=(3.12 3.13); else args+=("$a"); fi
done
for short in "${versions[@]}"; do
  echo "=== Python $short ==="
  ".venv-$short/bin/python" bench/run.py --quick ${args[@]+"${args[@]}"}
done
