#!/usr/bin/env bash
# Fresh-machine set-up: one virtual environment per supported Python
# (.venv-3.12, .venv-3.13) with tracejit installed in editable mode and its
# dependencies (llvmlite, cffi; pytest, hypothesis, ruff for development).
# Idempotent: a stamp keyed on pyproject.toml skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local v=$1
  for cand in "$HOME/.pyenv/versions/$v/bin/python" "$(command -v "python${v%.*}" || true)"; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '${v%.*}'.split('.')))" 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  if command -v pyenv >/dev/null; then
    pyenv install -s "$v" >&2 && echo "$HOME/.pyenv/versions/$v/bin/python" && return 0
  fi
  return 1
}

stamp_key=$(sha256sum pyproject.toml | cut -c1-16)
for v in 3.12.1 3.13.0; do
  short=${v%.*}
  venv=".venv-$short"
  if [ -f "$venv/.tracejit-stamp" ] && [ "$(cat "$venv/.tracejit-stamp")" = "$stamp_key" ]; then
    continue
  fi
  py=$(find_python "$v") || { echo "setup: Python $short not found (pyenv install $v)" >&2; exit 1; }
  echo "setup: creating $venv with $py" >&2
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$venv/bin/python" -c "import tracejit, llvmlite, cffi" 
  echo "$stamp_key" > "$venv/.tracejit-stamp"
done
