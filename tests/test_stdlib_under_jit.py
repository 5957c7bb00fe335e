"""CPython's own tests pass with the JIT enabled: numeric and list code, and
the modules that watch the interpreter closely (test_genexps the reuse of
tuples, test_descr the objects the collector tracks, test_threading and
test_sys_settrace threads and tracing).

Each module runs in a child process under ``tracejit.enable()`` with a low
threshold; it found two wrong-result bugs no handwritten program had hit.
test_threading is the slow one (about 16 s on 3.12, 19 s on 3.13 here)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

MODULES = ["test_math", "test_statistics", "test_itertools", "test_heapq", "test_sort",
           "test_bisect", "test_list", "test_range", "test_enumerate", "test_long",
           "test_genexps", "test_threading", "test_sys_settrace", "test_descr"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("module", MODULES)
def test_cpython_test_module_passes_under_jit(module):
    if importlib.util.find_spec("test." + module) is None:
        pytest.skip(f"this Python has no test.{module}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]),
               PYTHONFAULTHANDLER="1")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_stdlib_tests.py"),
                        module, "3"], capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["run"] > 0
    assert summary["failures"] == 0 and summary["errors"] == 0, p.stderr[-3000:]
    assert summary["compiled"] >= 1  # the JIT really took part
