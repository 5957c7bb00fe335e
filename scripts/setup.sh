#!/usr/bin/env bash
# Fresh-machine set-up, safe to run again at any time:
#  * one virtual environment per supported Python, .venv-3.12 (CPython 3.12.1)
#    and .venv-3.13 (CPython 3.13.0), with tracejit installed in editable mode
#    plus its dependencies (llvmlite, cffi) and the dev tools (pytest,
#    hypothesis, ruff, matplotlib);
#  * optionally PeachPy (for the x86-64 backend), taken from Debian's
#    python3-peachpy package into .deps/peachpy/ and put on both venvs' path;
#  * optionally, when run as root, Debian's chromium (headless), with which
#    tests/test_viewer.py checks the HTML trace viewer in a real browser.
# Work already done is skipped: a stamp in each venv records the hash of
# pyproject.toml and setup.py and the list of backend packages it was installed from.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { echo "setup: $*" >&2; }

# The interpreter for version $1 (e.g. 3.12.1): pyenv's build, else
# pythonX.Y on the PATH, else `pyenv install` it.
find_python() {
  local full=$1 short=${1%.*} cand pyenv_bin
  for cand in "$HOME/.pyenv/versions/$full/bin/python" "$(command -v "python$short" || true)"; do
    if [ -n "$cand" ] && [ -x "$cand" ] &&
       [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$short" ]; then
      echo "$cand"
      return 0
    fi
  done
  pyenv_bin=$(command -v pyenv || true)
  [ -n "$pyenv_bin" ] || [ ! -x "$HOME/.pyenv/bin/pyenv" ] || pyenv_bin=$HOME/.pyenv/bin/pyenv
  if [ -n "$pyenv_bin" ]; then
    say "installing Python $full with pyenv (takes a few minutes)"
    "$pyenv_bin" install -s "$full" >&2 || return 1
    echo "$HOME/.pyenv/versions/$full/bin/python"
    return 0
  fi
  return 1
}

stamp_key=$( { cat pyproject.toml setup.py; ls -1 backends 2>/dev/null || true; } | sha256sum | cut -c1-16)

for full in 3.12.1 3.13.0; do
  short=${full%.*}
  venv=.venv-$short
  stamp=$venv/.tracejit-stamp
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_key" ]; then
    continue
  fi
  if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python "$full") || { say "Python $short not found (try: pyenv install $full)"; exit 1; }
    say "creating $venv with $py"
    "$py" -m venv "$venv"
  fi
  say "installing tracejit (editable) and its dev dependencies into $venv"
  log=$(mktemp)
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "pip install failed in $venv"
    exit 1
  fi
  rm -f "$log"
  "$venv/bin/python" -c 'import llvmlite, cffi, pytest, hypothesis' ||
    { say "dependencies do not import in $venv"; exit 1; }
  echo "$stamp_key" >"$stamp"
done

# ---------------------------------------------------------------- PeachPy
# Optional: only the x86-64 backend needs it, so any failure here warns and
# set-up carries on.  PyPI's PeachPy is a dead Python 2 release; Debian's
# python3-peachpy is the maintained one (pure Python, needs six).
PEACHPY_DIR=$ROOT/.deps/peachpy
PEACHPY_SITE=$PEACHPY_DIR/usr/lib/python3/dist-packages

fetch_peachpy() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    say "warning: no apt-get/dpkg here, PeachPy (optional) not fetched"
    return 1
  fi
  local tmp deb
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -q python3-peachpy python3-six) >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      say "apt-get download failed; running apt-get update and trying again"
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    if ! (cd "$tmp" && apt-get download -q python3-peachpy python3-six) >/dev/null 2>&1; then
      rm -rf "$tmp"
      say "warning: could not download python3-peachpy (optional; the x86-64 backend needs it)"
      return 1
    fi
  fi
  rm -rf "$PEACHPY_DIR"
  rm -f .venv-*/.peachpy-stamp
  mkdir -p "$PEACHPY_DIR"
  for deb in "$tmp"/*.deb; do
    dpkg -x "$deb" "$PEACHPY_DIR"
  done
  rm -rf "$tmp"
  [ -d "$PEACHPY_SITE/peachpy" ]
}

if [ -d "$PEACHPY_SITE/peachpy" ] || fetch_peachpy; then
  for short in 3.12 3.13; do
    venv=.venv-$short
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    pth=$site/tracejit-peachpy.pth
    if [ -f "$pth" ] && [ "$(cat "$pth")" = "$PEACHPY_SITE" ] &&
       [ -f "$venv/.peachpy-stamp" ]; then
      continue
    fi
    # Precompiled, its import prints no SyntaxWarning (fatal under -W error).
    "$venv/bin/python" -W ignore -m compileall -q "$PEACHPY_SITE" >/dev/null 2>&1 || true
    echo "$PEACHPY_SITE" >"$pth"
    if "$venv/bin/python" -W error -c 'import peachpy.x86_64' 2>/dev/null; then
      touch "$venv/.peachpy-stamp"
      say "PeachPy available in $venv"
    else
      rm -f "$pth" "$venv/.peachpy-stamp"
      say "warning: PeachPy does not import cleanly in $venv (optional; left out)"
    fi
  done
fi

# ---------------------------------------------------------------- Chromium
# Optional: tests/test_viewer.py opens the trace viewer in headless Chromium
# and skips (saying why) without it.  Installing needs root; a failure warns.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium (optional, for the viewer test; takes a minute)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/dev/null 2>&1; then
      say "warning: could not install chromium (optional; tests/test_viewer.py will skip)"
    fi
  else
    say "note: chromium not installed (optional; as root: apt-get install chromium)"
  fi
fi
