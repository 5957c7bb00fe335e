"""Run one of CPython's own test modules with ``tracejit.enable()`` (a low
threshold so that many loops compile); print a one-line JSON summary."""

from __future__ import annotations

import json
import sys
import unittest

import tracejit


def main(name: str, threshold: int) -> int:
    tracejit.set_param(threshold=threshold, bridge_threshold=5)
    tracejit.enable()
    try:
        module = __import__("test." + name, fromlist=["_"])
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        result = unittest.TextTestRunner(verbosity=0, stream=sys.stderr).run(suite)
    finally:
        tracejit.disable()
    st = tracejit.stats()
    print(json.dumps({"module": name, "run": result.testsRun, "failures": len(result.failures),
                      "errors": len(result.errors), "compiled": st["loops_compiled"],
                      "bridges": st["bridges_compiled"], "guard_failures": st["guard_failures"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], int(sys.argv[2])))
