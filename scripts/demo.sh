#!/usr/bin/env bash
# Set everything up on a fresh machine, then run the quick benchmark suite:
# plain CPython and tracejit (every usable backend but the reference
# interpreter) side by side, one fresh process per run, small workloads.
# Set-up includes the optional comparison columns (scripts/bench-extras.sh:
# PyPy from Debian's pypy3, Numba in .venv-numba; C needs only gcc); any of
# them that cannot be set up shows n/a with the reason.  Options:
#   --both      on CPython 3.12 and 3.13 (default: 3.12 only)
#   anything else is passed to bench/run.py, e.g. --runs 3, --only nbody,bpnn,
#   --size full, --extras none, --backends llvm
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/bench-extras.sh || echo "demo: optional comparison columns not (all) set up" >&2
versions=(3.12)
args=()
for a in "$@"; do
  if [ "$a" = "--both" ]; then versions=(3.12 3.13); else args+=("$a"); fi
done
status=0
for short in "${versions[@]}"; do
  echo "=== Python $short ==="
  # exit status 1 = some row failed or gave a wrong answer (shown in the report)
  ".venv-$short/bin/python" bench/run.py --size quick --runs 1 \
    --json "bench/results/demo-$short.json" ${args[@]+"${args[@]}"} || status=1
done
exit $status
