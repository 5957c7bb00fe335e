#!/usr/bin/env bash
# Optional extra columns for the benchmark report (bench/run.py), safe to run
# again at any time; every step only warns when it cannot be done:
#  * PyPy: Debian's pypy3 and pypy3-lib packages, fetched without root with
#    `apt-get download` and unpacked with `dpkg -x` into .deps/pypy/
#    (run as .deps/pypy/run-pypy3, a wrapper that sets LD_LIBRARY_PATH for
#    libpypy3.9-c.so; every other library it needs is in Debian's base);
#  * Numba: a separate virtual environment .venv-numba (from Python 3.12) so
#    that numba's own llvmlite cannot disturb the llvmlite of .venv-3.12/3.13.
# C versions need only gcc; bench/run.py compiles them itself.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { echo "bench-extras: $*" >&2; }

# ------------------------------------------------------------------ PyPy
PYPY_DIR=$ROOT/.deps/pypy
fetch_pypy() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    say "warning: no apt-get/dpkg here, PyPy column will show n/a"
    return 1
  fi
  local tmp deb
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -q pypy3 pypy3-lib) >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    if ! (cd "$tmp" && apt-get download -q pypy3 pypy3-lib) >/dev/null 2>&1; then
      rm -rf "$tmp"
      say "warning: could not download Debian's pypy3 (the PyPy column will show n/a)"
      return 1
    fi
  fi
  rm -rf "$PYPY_DIR"
  mkdir -p "$PYPY_DIR"
  for deb in "$tmp"/*.deb; do
    dpkg -x "$deb" "$PYPY_DIR"
  done
  rm -rf "$tmp"
  cat >"$PYPY_DIR/run-pypy3" <<'EOF'
#!/bin/sh
# PyPy unpacked from Debian's packages: find its libpypy3.9-c.so here.
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH=$here/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  exec "$here/usr/bin/pypy3" "$@"
EOF
  chmod +x "$PYPY_DIR/run-pypy3"
}

if [ -x "$PYPY_DIR/run-pypy3" ] && "$PYPY_DIR/run-pypy3" -c 'pass' 2>/dev/null; then
  :
elif fetch_pypy && "$PYPY_DIR/run-pypy3" -c 'import math' 2>/dev/null; then
  say "PyPy available: $("$PYPY_DIR/run-pypy3" -c 'import sys; print(sys.version.split()[0], sys.version.split("[")[-1].rstrip("]"))')"
else
  say "warning: PyPy does not run here (the PyPy column will show n/a)"
fi

# ----------------------------------------------------------------- Numba
NUMBA_VENV=.venv-numba
if [ -x "$NUMBA_VENV/bin/python" ] && "$NUMBA_VENV/bin/python" -c 'import numba' 2>/dev/null; then
  :
else
  py=""
  for cand in "$HOME/.pyenv/versions/3.12.1/bin/python" "$(command -v python3.12 || true)"; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then py=$cand; break; fi
  done
  if [ -z "$py" ]; then
    say "warning: no Python 3.12 for $NUMBA_VENV (the Numba column will show n/a)"
  else
    [ -x "$NUMBA_VENV/bin/python" ] || "$py" -m venv "$NUMBA_VENV"
    log=$(mktemp)
    if "$NUMBA_VENV/bin/python" -m pip install -q --disable-pip-version-check numba >"$log" 2>&1 &&
       "$NUMBA_VENV/bin/python" -c 'import numba' 2>>"$log"; then
      say "Numba available: $("$NUMBA_VENV/bin/python" -c 'import numba; print(numba.__version__)')"
    else
      tail -5 "$log" >&2
      say "warning: numba did not install in $NUMBA_VENV (the Numba column will show n/a)"
    fi
    rm -f "$log"
  fi
fi

# ------------------------------------------------------------------- gcc
command -v gcc >/dev/null || command -v cc >/dev/null ||
  say "warning: no C compiler (the C column will show n/a)"
exit 0
