#!/usr/bin/env bash
# Set up (if needed), lint, and run the whole test suite on Python 3.12 and 3.13.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONFAULTHANDLER=1
status=0
.venv-3.12/bin/ruff check . || status=1
for short in 3.12 3.13; do
  echo "=== tests on Python $short ==="
  rc=0
  ".venv-$short/bin/python" -m pytest -q -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "pytest on $short exited with $rc" >&2
    status=1
  fi
done
exit $status
