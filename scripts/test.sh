#!/usr/bin/env bash
# Set up (if needed), then lint and run the test suite under Python 3.12 and
# 3.13.  Arguments go to pytest (e.g. -k differential, -x).  Exits nonzero if
# ruff or pytest fails on either Python, and also when pytest collected no
# test at all (its exit code 5): a run that tested nothing is not a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONFAULTHANDLER=1
failed=()
for short in 3.12 3.13; do
  py=.venv-$short/bin/python
  echo "=== Python $short: ruff ==="
  "$py" -m ruff check . || failed+=("ruff on $short")
  echo "=== Python $short: pytest ==="
  rc=0
  "$py" -m pytest -q -p no:cacheprovider "$@" || rc=$?
  case $rc in
    0) ;;
    5) failed+=("pytest on $short collected no tests (exit 5)") ;;
    *) failed+=("pytest on $short (exit $rc)") ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all checks passed on 3.12 and 3.13"
